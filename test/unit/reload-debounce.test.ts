/**
 * File events come in bursts (a Kubernetes `..data` swap is several
 * renames, an editor writes then renames): the reload runs once the burst
 * is over. Timers injected: the test moves time by hand.
 */
import { test, type TestContext } from 'node:test'
import { debounce } from '../../src/ops/dir-watch.js'
import { fakeTimers } from '../helpers/fake-timers.js'

test('a burst of events runs the reload once, debounceMs after the last event', (t: TestContext) => {
  const timers = fakeTimers()
  let runs = 0
  const changed = debounce(() => { runs++ }, 250, timers)
  changed()
  timers.advance(200)
  changed()
  timers.advance(200)
  changed()
  timers.advance(249)
  t.assert.strictEqual(runs, 0, 'still within 250 ms of the last event')
  timers.advance(1)
  t.assert.strictEqual(runs, 1)
  t.assert.strictEqual(timers.pending(), 0, 'no timer left behind')
  changed()
  timers.advance(250)
  t.assert.strictEqual(runs, 2, 'a later burst runs it again')
})

test('cancel drops a pending run', (t: TestContext) => {
  const timers = fakeTimers()
  let runs = 0
  const changed = debounce(() => { runs++ }, 250, timers)
  changed()
  changed.cancel()
  timers.advance(1000)
  t.assert.strictEqual(runs, 0)
  t.assert.strictEqual(timers.pending(), 0)
})
