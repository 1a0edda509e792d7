import { setTimeout as sleep } from 'node:timers/promises'
import { test, type TestContext } from 'node:test'
import { errors } from 'undici'
import { Attempt, DeadlineList } from '../../src/egress/deadline.js'

interface Tracked { attempt: Attempt, dispatchedAt: number, abortedAt?: number }

/** An attempt as the upstream dispatcher makes it: listed at dispatch, its signal listened to by undici. */
function dispatch (list: DeadlineList, into: Tracked[]): Tracked {
  const tracked: Tracked = { attempt: new Attempt(), dispatchedAt: performance.now() }
  tracked.attempt.once('abort', () => { tracked.abortedAt ??= performance.now() })
  list.add(tracked.attempt)
  into.push(tracked)
  return tracked
}

/** Its response headers arrived (or it failed): the dispatcher unlists it. */
function answer (list: DeadlineList, tracked: Tracked | undefined): void {
  if (tracked !== undefined) list.remove(tracked.attempt)
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
    answer(list, waiting)
    waiting = undefined
    if (i % 3 === 0) unanswered.push(tracked)
    else waiting = tracked
  }
  answer(list, waiting)
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
  answer(list, dispatch(list, all))
  t.assert.strictEqual(list.size, 0)
  await sleep(50)
  const late = dispatch(list, all)
  await sleep(80)
  t.assert.ok(late.abortedAt !== undefined, 'the second request expired although the first timer found nothing')
  t.assert.ok(late.attempt.reason instanceof errors.HeadersTimeoutError, 'aborted with undici\'s HeadersTimeoutError (a 504)')
  t.assert.strictEqual(all[0]?.abortedAt, undefined)
})
