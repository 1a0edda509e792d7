import { setTimeout as sleep } from 'node:timers/promises'
import { test, type TestContext } from 'node:test'
import type { Dispatcher } from 'undici'
import { DeadlineHandler, DeadlineList } from '../../src/egress/deadline.js'

interface Tracked { handler: DeadlineHandler, dispatchedAt: number, abortedAt?: number }

function controller (abort: (reason: Error) => void): Dispatcher.DispatchController {
  return { abort, pause () {}, resume () {}, aborted: false, paused: false, reason: null } as unknown as Dispatcher.DispatchController
}
const ANY = controller(() => {})

/** A handler as undici drives it: started at once, aborted through its controller. */
function dispatch (list: DeadlineList, into: Tracked[]): Tracked {
  const tracked: Tracked = { handler: undefined as unknown as DeadlineHandler, dispatchedAt: performance.now() }
  tracked.handler = new DeadlineHandler(list, { onResponseStart: () => {}, onResponseError: () => {} })
  tracked.handler.onRequestStart(controller(() => { tracked.abortedAt ??= performance.now() }), undefined)
  into.push(tracked)
  return tracked
}

test('one timer for many: answered requests never expire, the others expire at their own deadline, in order', async (t: TestContext) => {
  const list = new DeadlineList(200)
  const all: Tracked[] = []
  const unanswered: Tracked[] = []
  // 60 requests dispatched over ~60 ms; two in three get their headers a moment later, while others wait in the list.
  let waiting: Tracked | undefined
  for (let i = 0; i < 60; i++) {
    const tracked = dispatch(list, all)
    await sleep(1)
    waiting?.handler.onResponseStart(ANY, 200, {}, 'OK')
    waiting = undefined
    if (i % 3 === 0) unanswered.push(tracked)
    else waiting = tracked
  }
  waiting?.handler.onResponseStart(ANY, 200, {}, 'OK')
  // On a slow machine the oldest may already be due: those have left the list too.
  t.assert.strictEqual(list.size, unanswered.filter((tracked) => tracked.abortedAt === undefined).length)

  await sleep(500)
  t.assert.strictEqual(list.size, 0, 'every unanswered request has left the list')
  for (const tracked of all) {
    if (!unanswered.includes(tracked)) t.assert.strictEqual(tracked.abortedAt, undefined, 'an answered request is never aborted')
  }
  for (const tracked of unanswered) {
    const after = (tracked.abortedAt ?? Number.NaN) - tracked.dispatchedAt
    t.assert.ok(after >= 199 && after < 200 + 250, `aborted ${after.toFixed(1)} ms after dispatch, the timeout is 200 ms`)
  }
  const order = unanswered.map((tracked) => tracked.abortedAt as number)
  t.assert.deepStrictEqual(order, [...order].sort((a, b) => a - b), 'expired oldest first')
})

test('a request answered with an error leaves the list; a list emptied and refilled still times out', async (t: TestContext) => {
  const list = new DeadlineList(30)
  const all: Tracked[] = []
  dispatch(list, all).handler.onResponseError(ANY, new Error('reset'))
  t.assert.strictEqual(list.size, 0)
  await sleep(50)
  const late = dispatch(list, all)
  await sleep(80)
  t.assert.ok(late.abortedAt !== undefined, 'the second request expired although the first timer found nothing')
  t.assert.strictEqual(all[0]?.abortedAt, undefined)
})
