/**
 * What one upstream runs on, in one config generation: plain references, no
 * behaviour. A reload makes a new one per upstream; the credential source,
 * the limiter and the dispatcher in it may be the previous generation's
 * (src/proxy/upstream-runtimes.ts).
 */
import type { Dispatcher } from 'undici'
import type { CredentialSource } from '../auth/source.js'
import type { UpstreamConfig } from '../config/types.js'
import type { Limiter } from '../limit/limiter.js'
import type { UpstreamMeter } from '../ops/metrics.js'

export interface UpstreamRuntime {
  readonly config: UpstreamConfig
  credentials: CredentialSource
  readonly limiter: Limiter
  readonly dispatcher: Dispatcher
  readonly meter: UpstreamMeter
  /** Requests of this generation still under way here: a retired generation is closed when none is. */
  readonly activity: Activity
}

/**
 * A count of the exchanges under way (exchange.ts enters in its constructor
 * and leaves on the response's 'close'), and a promise for when it is zero.
 * Two integer steps per request: the hot path pays nothing more.
 */
export class Activity {
  #count = 0
  #idle: (() => void) | undefined = undefined

  get count (): number {
    return this.#count
  }

  enter (): void {
    this.#count++
  }

  leave (): void {
    if (--this.#count === 0 && this.#idle !== undefined) {
      this.#idle()
      this.#idle = undefined
    }
  }

  /** Resolves once no exchange is under way (at once when none is). */
  whenIdle (): Promise<void> {
    if (this.#count === 0) return Promise.resolve()
    return new Promise((resolve) => {
      const earlier = this.#idle
      this.#idle = earlier === undefined ? resolve : () => { earlier(); resolve() }
    })
  }
}
