import { test, type TestContext } from 'node:test'
import { NO_WINDOW, SlidingWindow } from '../../src/limit/sliding-window.js'

function fakeClock (start = 1_000_000): { now: () => number, advance: (ms: number) => void } {
  let t = start
  return { now: () => t, advance: (ms) => { t += ms } }
}

/** A start stamped when it is taken (an upstream that answers at once): tryTake, then commit. */
function take (w: SlidingWindow): number {
  const wait = w.tryTake()
  if (wait === 0) w.commit()
  return wait
}

/** Deterministic numbers in [0, 1) (mulberry32), so a failure replays. */
function prng (seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

test('takes up to `requests` units, then says when the oldest frees', (t: TestContext) => {
  const clock = fakeClock()
  const w = new SlidingWindow(3, 1000, clock.now)
  t.assert.strictEqual(w.remaining(), 3)
  t.assert.strictEqual(take(w), 0)
  clock.advance(100)
  t.assert.strictEqual(take(w), 0)
  clock.advance(100)
  t.assert.strictEqual(take(w), 0)
  t.assert.strictEqual(w.remaining(), 0)
  t.assert.strictEqual(take(w), 800, 'the first start frees at +1000')
  t.assert.strictEqual(w.nextFreeAt(), 1_000_000 + 1000)
  clock.advance(799)
  t.assert.strictEqual(take(w), 1)
  clock.advance(1)
  t.assert.strictEqual(w.remaining(), 1, 'a start at t frees its unit at exactly t + window')
  t.assert.strictEqual(take(w), 0)
  t.assert.strictEqual(take(w), 100, 'now the second start is the oldest')
})

test('nextFreeAt is now while a unit is free', (t: TestContext) => {
  const clock = fakeClock()
  const w = new SlidingWindow(2, 500, clock.now)
  t.assert.strictEqual(w.nextFreeAt(), clock.now())
  take(w)
  t.assert.strictEqual(w.nextFreeAt(), clock.now())
  take(w)
  t.assert.strictEqual(w.nextFreeAt(), clock.now() + 500)
})

test('a pending unit is held from its take and frees one window after its commit, not after its take', (t: TestContext) => {
  const clock = fakeClock()
  const T0 = clock.now()
  const w = new SlidingWindow(1, 1000, clock.now)
  t.assert.strictEqual(w.tryTake(), 0)
  t.assert.strictEqual(w.remaining(), 0, 'a pending unit counts as used')
  t.assert.strictEqual(w.tryTake(), 1000, 'every unit pending: a window from now is the lower bound')
  t.assert.strictEqual(w.nextFreeAt(), T0 + 1000)
  clock.advance(1500)
  t.assert.strictEqual(w.remaining(), 0, 'still pending a window after its take')
  t.assert.strictEqual(w.nextFreeAt(), T0 + 2500, 'the lower bound moves with now')
  w.commit()
  t.assert.strictEqual(w.nextFreeAt(), T0 + 2500, 'stamped at the commit')
  clock.advance(999)
  t.assert.strictEqual(w.tryTake(), 1)
  clock.advance(1)
  t.assert.strictEqual(w.remaining(), 1)
  w.commit()
  t.assert.strictEqual(w.remaining(), 1, 'a commit with nothing pending stamps nothing')
})

test('with stamped and pending units, the oldest stamp says when a unit frees', (t: TestContext) => {
  const clock = fakeClock()
  const T0 = clock.now()
  const w = new SlidingWindow(3, 1000, clock.now)
  w.tryTake()
  clock.advance(100)
  take(w)
  clock.advance(100)
  take(w)
  t.assert.strictEqual(w.nextFreeAt(), T0 + 1100, 'the pending unit cannot free before the stamps')
  clock.advance(900)
  t.assert.strictEqual(w.tryTake(), 0, 'the stamp at +100 freed at +1100')
  t.assert.strictEqual(w.nextFreeAt(), T0 + 1200)
  clock.advance(100)
  t.assert.strictEqual(w.tryTake(), 0, 'the stamp at +200 freed at +1200')
  t.assert.strictEqual(w.nextFreeAt(), T0 + 2200, 'three pending: now + window')
  w.commit()
  w.commit()
  w.commit()
  t.assert.strictEqual(w.remaining(), 0)
  t.assert.strictEqual(w.nextFreeAt(), T0 + 2200, 'all three stamped at +1200')
})

test('the ring wraps around and stays exact over many windows', (t: TestContext) => {
  const clock = fakeClock()
  const requests = 4
  const windowMs = 100
  const w = new SlidingWindow(requests, windowMs, clock.now)
  const starts: number[] = []
  // Greedy: take whenever possible, in 7 ms steps, for 50 windows.
  for (let step = 0; step < 50 * windowMs / 7; step++) {
    while (take(w) === 0) starts.push(clock.now())
    clock.advance(7)
  }
  t.assert.ok(starts.length > 150, `only ${starts.length} starts`)
  for (let i = 0; i + requests < starts.length; i++) {
    const gap = (starts[i + requests] as number) - (starts[i] as number)
    t.assert.ok(gap >= windowMs, `starts ${i} and ${i + requests} are ${gap} ms apart`)
    t.assert.ok(gap < windowMs + 7, `start ${i + requests} is late by ${gap - windowMs} ms`)
  }
})

test('whatever the latency, the vendor never sees more than `requests` arrivals in a window', (t: TestContext) => {
  const clock = fakeClock()
  const requests = 5
  const windowMs = 100
  const w = new SlidingWindow(requests, windowMs, clock.now)
  const random = prng(42)
  // Greedy takes in 1 ms steps; each request arrives 0–60 ms after its take
  // and is answered 0–60 ms after it arrives (a commit in arrival order is
  // not assumed: commits happen in answer order).
  const answers: Array<{ at: number, arrival: number }> = []
  const arrivals: number[] = []
  for (let step = 0; step < 100 * windowMs; step++) {
    answers.sort((a, b) => a.at - b.at)
    while (answers.length > 0 && (answers[0] as { at: number }).at <= clock.now()) {
      arrivals.push((answers.shift() as { arrival: number }).arrival)
      w.commit()
    }
    while (w.tryTake() === 0) {
      const arrival = clock.now() + Math.floor(random() * 61)
      answers.push({ arrival, at: arrival + Math.floor(random() * 61) })
    }
    clock.advance(1)
  }
  for (const answer of answers) arrivals.push(answer.arrival)
  arrivals.sort((a, b) => a - b)
  t.assert.ok(arrivals.length > 300, `only ${arrivals.length} arrivals`)
  for (let i = 0; i + requests < arrivals.length; i++) {
    const gap = (arrivals[i + requests] as number) - (arrivals[i] as number)
    t.assert.ok(gap >= windowMs, `arrivals ${i} and ${i + requests} are ${gap} ms apart`)
  }
})

test('phantom starts take units now and age out like real starts', (t: TestContext) => {
  const clock = fakeClock()
  const w = new SlidingWindow(10, 1000, clock.now)
  take(w)
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
  take(w)
  w.addPhantomStarts(100)
  t.assert.strictEqual(w.remaining(), 0)
  t.assert.strictEqual(take(w), 1000)
  w.addPhantomStarts(0)
  w.addPhantomStarts(-3)
  clock.advance(1000)
  t.assert.strictEqual(w.remaining(), 5)
})

test('phantom starts leave the pending units alone', (t: TestContext) => {
  const clock = fakeClock()
  const w = new SlidingWindow(5, 1000, clock.now)
  w.tryTake()
  w.tryTake()
  w.addPhantomStarts(100)
  t.assert.strictEqual(w.remaining(), 0, 'three phantoms: the two pending units are not free')
  clock.advance(1000)
  t.assert.strictEqual(w.remaining(), 3, 'the phantoms aged out; the pending units are still held')
  w.commit()
  w.commit()
  clock.advance(999)
  t.assert.strictEqual(w.remaining(), 3)
  clock.advance(1)
  t.assert.strictEqual(w.remaining(), 5)
})

test('a clock that steps back delays starts, never allows an extra one', (t: TestContext) => {
  const clock = fakeClock()
  const w = new SlidingWindow(2, 1000, clock.now)
  take(w)
  clock.advance(-500)
  take(w)
  t.assert.strictEqual(w.remaining(), 0)
  clock.advance(1000)
  t.assert.strictEqual(w.remaining(), 0, 'both starts are counted at the later time')
  clock.advance(500)
  t.assert.strictEqual(w.remaining(), 2)
})

test('NO_WINDOW allows every start and has nothing to stamp', (t: TestContext) => {
  t.assert.strictEqual(NO_WINDOW.tryTake(), 0)
  NO_WINDOW.commit()
  NO_WINDOW.addPhantomStarts(5)
  t.assert.strictEqual(NO_WINDOW.remaining(), Infinity)
  t.assert.strictEqual(NO_WINDOW.nextFreeAt(), 0)
})

test('rejects a nonsensical size', (t: TestContext) => {
  t.assert.throws(() => new SlidingWindow(0, 1000), TypeError)
  t.assert.throws(() => new SlidingWindow(1.5, 1000), TypeError)
  t.assert.throws(() => new SlidingWindow(5, 0), TypeError)
  t.assert.throws(() => new SlidingWindow(5, Number.NaN), TypeError)
})

/**
 * The ring starts small and grows with the traffic, up to `requests`. Checked
 * against a model that keeps every stamp in a plain array, over random takes,
 * commits, give-backs, phantom starts, clock steps and resizes, so that the
 * ring grows while it wraps, and shrinks and grows again after a resize.
 */
test('a ring that grows with the traffic answers as a plain list of stamps would', (t: TestContext) => {
  const clock = fakeClock()
  const random = prng(7)
  let requests = 300
  let windowMs = 1000
  const w = new SlidingWindow(requests, windowMs, clock.now)
  const model = { stamps: [] as number[], pending: 0 }
  const expire = (): void => { model.stamps = model.stamps.filter((s) => s > clock.now() - windowMs) }
  const push = (): void => {
    const newest = model.stamps.at(-1) ?? -Infinity
    model.stamps.push(Math.max(clock.now(), newest))
    if (model.stamps.length > requests) model.stamps.shift()
  }
  for (let step = 0; step < 20_000; step++) {
    const r = random()
    expire()
    if (r < 0.5) {
      const free = model.stamps.length + model.pending < requests
      const wait = w.tryTake()
      t.assert.strictEqual(wait === 0, free, `step ${step}: take`)
      if (free) model.pending++
      else t.assert.strictEqual(wait, (model.stamps.length > 0 ? model.stamps[0] as number : clock.now()) + windowMs - clock.now(), `step ${step}: wait`)
    } else if (r < 0.8) {
      w.commit()
      if (model.pending > 0) { model.pending--; push() }
    } else if (r < 0.83) {
      w.giveBack()
      if (model.pending > 0) model.pending--
    } else if (r < 0.85) {
      const n = Math.floor(random() * 40)
      w.addPhantomStarts(n)
      for (let i = Math.min(n, requests - model.stamps.length - model.pending); i > 0; i--) push()
    } else if (r < 0.8505) {
      requests = 1 + Math.floor(random() * 400)
      windowMs = 200 + Math.floor(random() * 1500)
      w.resize(requests, windowMs)
      model.stamps = model.stamps.slice(Math.max(0, model.stamps.length - requests))
    } else {
      clock.advance(Math.floor(random() * 12))
    }
    expire()
    t.assert.strictEqual(w.remaining(), Math.max(0, requests - model.stamps.length - model.pending), `step ${step}: remaining`)
  }
  const ages: number[] = []
  w.forEachStampAge((age) => ages.push(age))
  t.assert.deepStrictEqual(ages, model.stamps.map((s) => clock.now() - s))
  t.assert.ok(model.stamps.length > 64, `the ring grew past its first size (${model.stamps.length} stamps)`)
})

test('a large limit costs no memory up front: the ring grows with the stamps, not with `requests`', (t: TestContext) => {
  const before = process.memoryUsage().arrayBuffers
  // A limit of a million a minute held 8 MB per window before the first request.
  const windows = Array.from({ length: 10 }, () => new SlidingWindow(1_000_000, 60_000))
  const grown = process.memoryUsage().arrayBuffers - before
  t.assert.ok(grown < 1024 * 1024, `10 windows of 1,000,000 took ${grown} bytes of ArrayBuffers`)
  for (const w of windows) for (let i = 0; i < 1000; i++) take(w)
  t.assert.strictEqual(windows[0]?.remaining(), 999_000)
})
