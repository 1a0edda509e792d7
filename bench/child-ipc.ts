/**
 * The child side of the harness's IPC: answer the parent's calls, announce
 * readiness, and never outlive the parent (its IPC channel closing ends the
 * child, so a crashed or killed harness leaves nothing running).
 */

export type Handler = (payload: Record<string, unknown>) => unknown

interface Call {
  readonly id: number
  readonly type: string
  readonly payload?: Record<string, unknown>
}

export function serveParent (handlers: Readonly<Record<string, Handler>>, onExit: () => Promise<void> | void = () => {}): void {
  if (process.send === undefined) throw new Error('a bench child must be started with an IPC channel (bench/proc.ts)')
  let exiting = false
  const exit = (code: number): void => {
    if (exiting) return
    exiting = true
    // Bounded: a close that hangs must not keep the process alive.
    setTimeout(() => process.exit(code), 5000).unref()
    Promise.resolve(onExit()).finally(() => process.exit(code))
  }
  process.on('disconnect', () => exit(0))
  process.on('message', (message: Call) => {
    if (message.type === 'exit') {
      process.send?.({ id: message.id, ok: true })
      exit(0)
      return
    }
    const handler = handlers[message.type]
    Promise.resolve().then(() => {
      if (handler === undefined) throw new Error(`unknown call ${message.type}`)
      return handler(message.payload ?? {})
    }).then(
      (data) => process.send?.({ id: message.id, ok: true, data }),
      (err: unknown) => process.send?.({ id: message.id, ok: false, error: String((err as Error).stack ?? err) })
    )
  })
}

export function announce (data: Record<string, unknown>): void {
  process.send?.({ ready: true, data })
}

/** Epoch ms with sub-ms resolution, comparable across processes on one host. */
export function epochNow (): number {
  return performance.timeOrigin + performance.now()
}

/** The JSON argument a child was started with (bench/proc.ts passes it as argv[2]). */
export function childArgument<T> (): T {
  const raw = process.argv[2]
  if (raw === undefined) throw new Error('missing JSON argument')
  return JSON.parse(raw) as T
}
