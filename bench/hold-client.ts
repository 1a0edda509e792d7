/**
 * Holds many requests open against the sidecar, for the queued-memory
 * scenario: `open` sends them (in batches, so the listen backlog is never
 * overrun), `abort` destroys them all, as an app that gives up would. Each
 * request has its own socket (an agent allowing `count` sockets).
 */
import { Agent, request, type ClientRequest } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { announce, serveParent } from './child-ipc.js'

const BATCH = 500

let agent: Agent | undefined
const open = new Set<ClientRequest>()
const statuses: Record<string, number> = {}
let errors = 0
let sent = 0

serveParent({
  open: async ({ url, count }) => {
    const total = Number(count)
    agent = new Agent({ keepAlive: false, maxSockets: total, maxTotalSockets: total })
    for (let i = 0; i < total; i += BATCH) {
      for (let j = i; j < Math.min(total, i + BATCH); j++) {
        const req = request(String(url), { agent }, (res) => {
          statuses[res.statusCode ?? 0] = (statuses[res.statusCode ?? 0] ?? 0) + 1
          res.resume()
          open.delete(req)
        })
        // Errors after `abort` are ours; earlier ones are counted.
        req.on('error', () => { if (open.delete(req)) errors++ })
        open.add(req)
        req.end()
        sent++
      }
      await sleep(10)
    }
    return { sent }
  },
  progress: () => ({ sent, open: open.size, statuses, errors }),
  abort: () => {
    const pending = [...open]
    open.clear()
    for (const req of pending) req.destroy()
    agent?.destroy()
    return { aborted: pending.length, statuses, errors }
  }
}, () => {
  for (const req of open) req.destroy()
})

announce({})
