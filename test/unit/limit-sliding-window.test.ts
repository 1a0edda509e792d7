import { test, type TestContext } from 'node:test'
import { SlidingWindow } from '../../src/limit/sliding-window.js'

function fakeClock (start = 1_000_000): { now: () => number, advance: (ms: number) => void } {
  let t = start
  return { now: () => t, advance: (ms) => { t += ms } }
}

test('takes up to `requests` units, then says when the oldest frees', (t: TestContext) => {
  const clock = fakeClock()
  const w = new SlidingWindow(3, 1000, clock.now)
  t.assert.strictEqual(w.remaining(), 3)
  t.assert.strictEqual(w.tryTake(), 0)
  clock.advance(100)
  t.assert.strictEqual(w.tryTake(), 0)
  clock.advance(100)
  t.assert.strictEqual(w.tryTake(), 0)
  t.assert.strictEqual(w.remaining(), 0)
  t.assert.strictEqual(w.tryTake(), 800, 'the first start frees at +1000')
  t.assert.strictEqual(w.nextFreeAt(), 1_000_000 + 1000)
  clock.advance(799)
  t.assert.strictEqual(w.tryTake(), 1)
  clock.advance(1)
  t.assert.strictEqual(w.remaining(), 1, 'a start at t frees its unit at exactly t + window')
  t.assert.strictEqual(w.tryTake(), 0)
  t.assert.strictEqual(w.tryTake(), 100, 'now the second start is the oldest')
})

test('nextFreeAt is now while a unit is free', (t: TestContext) => {
  const clock = fakeClock()
  const w = new SlidingWindow(2, 500, clock.now)
  t.assert.strictEqual(w.nextFreeAt(), clock.now())
  w.tryTake()
  t.assert.strictEqual(w.nextFreeAt(), clock.now())
  w.tryTake()
  t.assert.strictEqual(w.nextFreeAt(), clock.now() + 500)
})

test('the ring wraps around and stays exact over many windows', (t: TestContext) => {
  const clock = fakeClock()
  const requests = 4
  const windowMs = 100
  const w = new SlidingWindow(requests, windowMs, clock.now)
  const starts: number[] = []
  // Greedy: take whenever possible, in 7 ms steps, for 50 windows.
  for (let step = 0; step < 50 * windowMs / 7; step++) {
    while (w.tryTake() === 0) starts.push(clock.now())
    clock.advance(7)
  }
  t.assert.ok(starts.length > 150, `only ${starts.length} starts`)
  for (let i = 0; i + requests < starts.length; i++) {
    const gap = (starts[i + requests] as number) - (starts[i] as number)
    t.assert.ok(gap >= windowMs, `starts ${i} and ${i + requests} are ${gap} ms apart`)
    t.assert.ok(gap < windowMs + 7, `start ${i + requests} is late by ${gap - windowMs} ms`)
  }
})

test('phantom starts take units now and age out like real starts', (t: TestContext) => {
  const clock = fakeClock()
  const w = new SlidingWindow(10, 1000, clock.now)
  w.tryTake()
  clock.advance(400)
  w.addPhantomStarts(6)
  t.assert.strictEqual(w.remaining(), 3)
  clock.advance(600)
  t.assert.strictEqual(w.remaining(), 4, 'the real start aged out first')
  clock.advance(399)
  t.assert.strictEqual(w.remaining(), 4)
  clock.advance(1)
  t.assert.strictEqual(w.remaining(), 10, 'the phantoms aged out one window after they were added')
})

test('phantom starts never take more than the units free', (t: TestContext) => {
  const clock = fakeClock()
  const w = new SlidingWindow(5, 1000, clock.now)
  w.tryTake()
  w.addPhantomStarts(100)
  t.assert.strictEqual(w.remaining(), 0)
  t.assert.strictEqual(w.tryTake(), 1000)
  w.addPhantomStarts(0)
  w.addPhantomStarts(-3)
  clock.advance(1000)
  t.assert.strictEqual(w.remaining(), 5)
})

test('a clock that steps back delays starts, never allows an extra one', (t: TestContext) => {
  const clock = fakeClock()
  const w = new SlidingWindow(2, 1000, clock.now)
  w.tryTake()
  clock.advance(-500)
  w.tryTake()
  t.assert.strictEqual(w.remaining(), 0)
  clock.advance(1000)
  t.assert.strictEqual(w.remaining(), 0, 'both starts are counted at the later time')
  clock.advance(500)
  t.assert.strictEqual(w.remaining(), 2)
})

test('rejects a nonsensical size', (t: TestContext) => {
  t.assert.throws(() => new SlidingWindow(0, 1000), TypeError)
  t.assert.throws(() => new SlidingWindow(1.5, 1000), TypeError)
  t.assert.throws(() => new SlidingWindow(5, 0), TypeError)
  t.assert.throws(() => new SlidingWindow(5, Number.NaN), TypeError)
})
