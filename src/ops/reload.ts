/**
 * What makes `tollgate --config FILE` read its config again: SIGHUP, a
 * change of the config file, and a change of a `${file:}` secret. All three
 * run the same reload: the file is read, interpolated and validated whole,
 * the flags and TOLLGATE_* variables are applied over it again (they keep
 * winning; a file change they hide is reported as `overridden`), and the
 * sidecar takes it up (ops/reload-apply.ts) or rejects it, every problem
 * logged with its field path, the running config still serving.
 *
 * Files are watched through their folders (dir-watch.ts), debounced. A
 * burst of events that leaves every watched file as it was (an editor's
 * swap file, a `touch`) reloads nothing: the files' contents are compared.
 * SIGHUP always reloads. So does a change made between the file's load and
 * the start of the watch (the sidecar starting): the file is read once more
 * then and compared with what was loaded.
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { applyOverrides, type FlagOverrides } from '../cli/config-source.js'
import { overriddenChanges, same } from '../config/changes.js'
import { loadConfigFile } from '../config/load.js'
import type { Config } from '../config/types.js'
import type { ReloadReport, Sidecar } from '../server.js'
import { watchFiles, watchKey, type DirectoryWatch, type Timers } from './dir-watch.js'

/** Quiet time after the last file event before reloading: a Kubernetes swap or an editor's save is one burst. */
export const DEFAULT_RELOAD_DEBOUNCE_MS = 250

export interface ReloaderOptions {
  readonly sidecar: Pick<Sidecar, 'reload' | 'reject' | 'logger'>
  readonly file: string
  /** The file's config as it was loaded, before flags and TOLLGATE_* variables: what `overridden` compares with. */
  readonly fileConfig: Config
  /** The `${file:}` files it read (LoadResult.files). */
  readonly files: readonly string[]
  readonly flags: FlagOverrides
  readonly env: NodeJS.ProcessEnv
  readonly debounceMs?: number
  readonly timers?: Timers
}

export interface Reloader {
  /** Read the file again and apply it, after any reload under way (SIGHUP calls this). */
  reload (reason: string): Promise<ReloadReport>
  stop (): void
}

export function startReloader (options: ReloaderOptions): Reloader {
  const { sidecar, flags, env } = options
  const file = resolve(options.file)
  let fileConfig = options.fileConfig
  let watched: readonly string[] = []
  /** What the current watch covers: symlink targets included, and which folders they are (dir-watch.ts watchKey). */
  let covered = ''
  let seen = fingerprints([file, ...options.files])
  let watch: DirectoryWatch | undefined
  let stopped = false
  let running: Promise<unknown> = Promise.resolve()
  /** A reload asked for while one runs: one more runs after it, however many were asked for. */
  let queued: Promise<ReloadReport> | undefined

  const rewatch = (files: readonly string[]): void => {
    const next = [...new Set([file, ...files])].sort()
    // A link that now leads elsewhere, or a folder made anew, needs a new watch too (the old one hears nothing more).
    const targets = watchKey(next)
    if (stopped || (watch !== undefined && targets === covered)) return
    // The new watch first, then the old one goes: no moment with neither.
    const previous = watch
    watched = next
    covered = targets
    watch = watchFiles(next, onFiles, {
      debounceMs: options.debounceMs ?? DEFAULT_RELOAD_DEBOUNCE_MS,
      ...(options.timers === undefined ? {} : { timers: options.timers }),
      onError: (dir, err) => { sidecar.logger.warn({ dir, code: (err as NodeJS.ErrnoException).code }, 'cannot watch a config folder: changes there need a SIGHUP') }
    })
    // Events the old watch heard and had not handed on yet (another volume's swap during this reload) are not lost.
    if (previous?.stop() === true) watch.poke()
  }

  const once = async (reason: string): Promise<ReloadReport> => {
    // Taken before reading: a change made while we read is seen as a change next time.
    const before = fingerprints(watched.length === 0 ? [file] : watched)
    const loaded = loadConfigFile(file, env)
    if (loaded.issues !== undefined) {
      seen = before
      if (loaded.files !== undefined) rewatch([...new Set([...watched.filter((path) => path !== file), ...loaded.files])])
      return sidecar.reject(loaded.issues, { reason })
    }
    const overridden = applyOverrides(loaded.config, flags, env)
    if (overridden.usage !== undefined || overridden.issues.length > 0) {
      seen = before
      return sidecar.reject(overridden.usage === undefined ? overridden.issues : [{ path: '--port', message: overridden.usage }], { reason })
    }
    const report = await sidecar.reload(overridden.config, {
      interpolated: loaded.interpolated,
      overridden: overriddenChanges(fileConfig, loaded.config, overridden.applied),
      reason
    })
    // A secret file new to this config has no print yet: its first event reloads once, finding nothing to change.
    seen = before
    if (report.result !== 'rejected') fileConfig = loaded.config
    rewatch(loaded.files)
    return report
  }

  const reload = (reason: string): Promise<ReloadReport> => {
    queued ??= running.then(async () => {
      queued = undefined
      return await once(reason)
    })
    const mine = queued
    running = mine.catch(() => {})
    return mine
  }

  function onFiles (): void {
    // First: a folder replaced under the same path is watched anew even when its file is not there yet.
    rewatch(watched)
    const now = fingerprints(watched)
    const changed = Object.keys(now).filter((path) => now[path] !== seen[path])
    if (changed.length === 0) return
    const reason = changed.includes(file) ? 'config file changed' : 'secret file changed'
    reload(reason).catch((err: unknown) => { sidecar.logger.error({ err }, 'config reload failed') })
  }

  // Nothing watched the files while the sidecar started (a volume swapped while the store connected): read them again,
  // then, once watching, compare their bytes with `seen` for what changed between that read and the watch.
  const now = loadConfigFile(file, env)
  rewatch(options.files)
  watch?.poke()
  if (now.issues !== undefined || !same(now.config, fileConfig)) reload('config changed while starting').catch((err: unknown) => { sidecar.logger.error({ err }, 'config reload failed') })
  return {
    reload,
    stop () {
      stopped = true
      watch?.stop()
    }
  }
}

/** Each file's SHA-256 (or why it cannot be read): what tells a real change from a touch. Kept in memory only. */
function fingerprints (files: readonly string[]): Record<string, string> {
  const prints: Record<string, string> = {}
  for (const path of files) {
    try {
      prints[path] = createHash('sha256').update(readFileSync(path)).digest('base64')
    } catch (err) {
      prints[path] = `unreadable:${(err as NodeJS.ErrnoException).code ?? ''}`
    }
  }
  return prints
}
