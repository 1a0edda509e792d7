/**
 * src/store/store-health.ts on a hand-driven clock: when the shared store is
 * declared lost and when it is back (issue 14, "slow is not down").
 */
import { test, type TestContext } from 'node:test'
import { StoreHealth } from '../../src/store/store-health.js'

function health (): { health: StoreHealth, at: (ms: number) => void } {
  let now = 0
  const h = new StoreHealth({ unavailableAfterMs: 3000, recoverAfterMs: 1000, now: () => now })
  return { health: h, at: (ms) => { now = ms } }
}

test('down until the first connection, which is up at once', (t: TestContext) => {
  t.plan(4)
  const { health: h } = health()
  t.assert.strictEqual(h.up, false)
  t.assert.strictEqual(h.succeeded(), undefined, 'an answer before the first connection does not make it up')
  t.assert.strictEqual(h.connected(), 'back')
  t.assert.strictEqual(h.connected(), undefined, 'once')
})

test('failures shorter than unavailableAfter, then a success: no flip', (t: TestContext) => {
  t.plan(4)
  const { health: h, at } = health()
  h.connected()
  const flips = []
  for (let ms = 1000; ms <= 3900; ms += 250) {
    at(ms)
    flips.push(h.failed())
  }
  t.assert.deepStrictEqual(flips.filter((flip) => flip !== undefined), [], '2.9 s of failures')
  t.assert.strictEqual(h.settled, false, 'in doubt while failing')
  at(4000)
  t.assert.strictEqual(h.succeeded(), undefined)
  t.assert.strictEqual(h.settled, true, 'a success ends the row of failures')
})

test('a success restarts the count: failures on both sides of it are not added up', (t: TestContext) => {
  t.plan(2)
  const { health: h, at } = health()
  h.connected()
  at(0)
  h.failed()
  at(2500)
  h.failed()
  h.succeeded()
  at(2600)
  t.assert.strictEqual(h.failed(), undefined)
  at(5000)
  t.assert.strictEqual(h.failed(), undefined, '2.4 s since the row began, not 5')
})

test('failures for unavailableAfter without a success: lost once', (t: TestContext) => {
  t.plan(4)
  const { health: h, at } = health()
  h.connected()
  at(1000)
  t.assert.strictEqual(h.failed(), undefined)
  at(3999)
  t.assert.strictEqual(h.failed(), undefined)
  at(4000)
  t.assert.strictEqual(h.failed(), 'lost')
  at(4250)
  t.assert.deepStrictEqual([h.failed(), h.dropped(), h.up], [undefined, undefined, false], 'once')
})

test('a dropped connection is lost at once', (t: TestContext) => {
  t.plan(2)
  const { health: h } = health()
  h.connected()
  t.assert.strictEqual(h.dropped(), 'lost')
  t.assert.strictEqual(h.up, false)
})

test('back after 1 s of successes; a failure among them restarts the second', (t: TestContext) => {
  t.plan(5)
  const { health: h, at } = health()
  h.connected()
  h.dropped()
  at(10_000)
  t.assert.strictEqual(h.succeeded(), undefined)
  at(10_750)
  h.failed()
  at(11_000)
  t.assert.strictEqual(h.succeeded(), undefined, 'the row of successes begins again here')
  at(11_999)
  t.assert.strictEqual(h.succeeded(), undefined)
  at(12_000)
  t.assert.strictEqual(h.succeeded(), 'back')
  t.assert.deepStrictEqual([h.up, h.settled, h.succeeded()], [true, true, undefined])
})

test('unavailableAfter 0: lost at the first failed command', (t: TestContext) => {
  t.plan(1)
  const h = new StoreHealth({ unavailableAfterMs: 0, recoverAfterMs: 1000, now: () => 5 })
  h.connected()
  t.assert.strictEqual(h.failed(), 'lost')
})
