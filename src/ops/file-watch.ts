/**
 * Notices when any of a set of files changes, by polling their stat every
 * few seconds. Polling, not fs.watch: a Kubernetes Secret volume updates by
 * swapping a `..data` symlink, which fs.watch on the file misses and stat
 * (which follows links) sees as a new inode.
 */
import { stat } from 'node:fs/promises'

export interface FileWatch {
  stop (): void
}

export function watchFiles (files: readonly string[], intervalMs: number, onChange: (changed: string[]) => void): FileWatch {
  if (files.length === 0) return { stop () {} }
  const seen = new Map<string, string>()
  let stopped = false
  let timer: NodeJS.Timeout | undefined

  const fingerprint = async (file: string): Promise<string> => {
    try {
      const info = await stat(file)
      return `${info.ino}:${info.size}:${info.mtimeMs}`
    } catch (err) {
      return `missing:${(err as NodeJS.ErrnoException).code ?? ''}`
    }
  }

  const poll = async (): Promise<void> => {
    const changed: string[] = []
    for (const file of files) {
      const now = await fingerprint(file)
      const before = seen.get(file)
      seen.set(file, now)
      if (before !== undefined && before !== now) changed.push(file)
    }
    if (changed.length > 0 && !stopped) onChange(changed)
  }

  const loop = (): void => {
    timer = setTimeout(() => { poll().finally(() => { if (!stopped) loop() }) }, intervalMs)
    timer.unref()
  }
  poll().finally(loop)
  return {
    stop () {
      stopped = true
      clearTimeout(timer)
    }
  }
}
