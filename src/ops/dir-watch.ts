/**
 * Notices when files change, by watching the folders that hold them
 * (fs.watch, inotify on Linux: no polling, nothing to do while nothing
 * changes). The folder, not the file: a Kubernetes ConfigMap or Secret
 * volume updates by renaming a new `..data` symlink over the old one
 * (kubernetes pkg/volume/util/atomic_writer.go), and an editor saves by
 * renaming a new file over the old; a watch on the old file's inode sees
 * neither. Envoy's `watched_directory` and oauth2-proxy's watcher do the
 * same.
 *
 * Events come in bursts (a swap is several renames; an editor writes, then
 * renames), so they are debounced: `onChange` runs once the folders have
 * been quiet for `debounceMs`.
 *
 * A folder's watch ends with the folder (removed and made again, or a
 * symlink to it pointed elsewhere: the watch stays on the old inode and
 * hears nothing more), and `watchKey` tells a caller when a folder is
 * another one and needs a new watch. A folder's removal is heard on its own
 * watch; while it is missing, and when it is itself a symlink, its parent is
 * watched for it. Not every parent, always: a config in a busy folder's
 * child (/tmp/x, a home directory) would wake the sidecar at every change
 * beside it, and an idle sidecar sleeps (test/cli/idle-wakeups.test.ts).
 */
import { existsSync, lstatSync, realpathSync, statSync, watch, type FSWatcher } from 'node:fs'
import { basename, dirname } from 'node:path'

export interface Timers {
  setTimeout (fn: () => void, ms: number): unknown
  clearTimeout (handle: unknown): void
}

const NODE_TIMERS: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (handle) => { clearTimeout(handle as NodeJS.Timeout) }
}

/** `fn` once calls have stopped for `ms` (trailing edge); `cancel` drops a pending call and says whether there was one. */
export function debounce (fn: () => void, ms: number, timers: Timers = NODE_TIMERS): { (): void, cancel (): boolean } {
  let pending: unknown
  const call = (): void => {
    if (pending !== undefined) timers.clearTimeout(pending)
    pending = timers.setTimeout(() => {
      pending = undefined
      fn()
    }, ms)
  }
  call.cancel = (): boolean => {
    if (pending === undefined) return false
    timers.clearTimeout(pending)
    pending = undefined
    return true
  }
  return call
}

/**
 * The files, and where their symlinks lead when that is elsewhere (a link's
 * target edited in place changes only there): what `watchFiles` watches. A
 * caller compares it to know whether a new watch is needed (a link moved).
 */
export function watchTargets (files: readonly string[]): string[] {
  return [...new Set(files.flatMap(withTarget))].sort()
}

/**
 * `watchTargets`, with the identity (device and inode) of each one's folder
 * now: a folder removed and made again, or a folder symlink pointed at
 * another, gives another key though the paths are the same.
 */
export function watchKey (files: readonly string[]): string {
  return watchTargets(files).map((file) => `${file}\t${folderIdentity(dirname(file))}`).join('\n')
}

function folderIdentity (dir: string): string {
  try {
    const stats = statSync(dir)
    return `${stats.dev}:${stats.ino}`
  } catch {
    return 'missing'
  }
}

function isSymlink (path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink()
  } catch {
    return false
  }
}

function withTarget (file: string): string[] {
  try {
    const target = realpathSync(file)
    return target === file ? [file] : [file, target]
  } catch {
    // Missing for now (a secret not yet mounted): its folder is watched for it to come.
    return [file]
  }
}

export interface DirectoryWatch {
  /** No more events; true when some were heard and `onChange` had yet to run for them. */
  stop (): boolean
  /** As if an event came: `onChange` runs after the quiet time. */
  poke (): void
}

export interface WatchOptions {
  readonly debounceMs: number
  readonly timers?: Timers
  /** A folder that cannot be watched (gone, no permission): said once, the others keep being watched. */
  readonly onError?: (dir: string, err: Error) => void
}

/**
 * Watch the folders of `files` (and, for a file reached through a symlink,
 * its target's folder too), and the parent of a folder that is missing or is
 * a symlink. An event counts when it names one of the files or folders
 * (a folder's own removal names it), or an entry starting with `..`
 * (Kubernetes' `..data`, `..data_tmp`), or no entry at all (the platform did
 * not say).
 */
export function watchFiles (files: readonly string[], onChange: () => void, options: WatchOptions): DirectoryWatch {
  const changed = debounce(onChange, options.debounceMs, options.timers)
  const names = new Map<string, Set<string>>()
  const add = (dir: string, name: string): void => {
    const set = names.get(dir) ?? new Set<string>()
    set.add(name)
    names.set(dir, set)
  }
  // Parents watched for a missing folder: when they are missing too, nothing can be watched (said, as onError).
  const standIns = new Set<string>()
  for (const file of watchTargets(files)) {
    const dir = dirname(file)
    const root = dirname(dir) === dir
    if (!existsSync(dir) && !root) {
      // Gone for now (being replaced): its parent hears it come back, and the caller watches it anew (watchKey).
      add(dirname(dir), basename(dir))
      standIns.add(dirname(dir))
      continue
    }
    add(dir, basename(file))
    // Its own removal: the caller watches anew, through the parent while it is missing.
    add(dir, basename(dir))
    // A link pointed at another folder is heard only where the link lives.
    if (!root && isSymlink(dir)) add(dirname(dir), basename(dir))
  }
  const watchers: FSWatcher[] = []
  for (const [dir, watched] of names) {
    try {
      // Not persistent: a watch never keeps the process alive.
      const watcher = watch(dir, { persistent: false }, (_event, entry) => {
        const name = entry === null ? null : String(entry)
        if (name === null || watched.has(name) || name.startsWith('..')) changed()
      })
      watcher.on('error', (err) => {
        watcher.close()
        options.onError?.(dir, err)
      })
      watchers.push(watcher)
    } catch (err) {
      // Gone since it was looked at: the caller, poked, watches anew (through its parent).
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !standIns.has(dir)) changed()
      else options.onError?.(dir, err as Error)
    }
  }
  return {
    stop () {
      for (const watcher of watchers) watcher.close()
      return changed.cancel()
    },
    poke: changed
  }
}
