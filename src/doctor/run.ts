/**
 * `tollgate doctor`: for each upstream, in config order, its target's
 * origin and (when it lives elsewhere) its token endpoint's, then a real
 * token, the clock against the token endpoint, and the probe. One line per
 * step, written as soon as the step is done; every line passes the
 * redactor first (the config's secrets, and each token fetched).
 *
 * Nothing here touches the shared store or the token cache: the doctor can
 * run next to a live sidecar without disturbing it.
 */
import type { LookupFunction } from 'node:net'
import type { Config, UpstreamConfig } from '../config/types.js'
import { connectOptions, createUpstreamDispatchers, type UpstreamDispatchers } from '../egress/dispatcher.js'
import { checkClock } from './clock.js'
import { defaultLookup } from './dns.js'
import { checkEndpoint } from './endpoint.js'
import { probeStep } from './probe.js'
import { createRedactor, fail, formatStep, ok, skip, summarize, type StepName, type StepOutcome, type StepResult } from './step.js'
import { fetchTokenStep } from './token.js'

export interface DoctorOptions {
  /** Only this upstream. @throws TypeError when the config has no such upstream (the CLI checks first). */
  readonly upstream?: string
  /** HTTPS_PROXY, HTTP_PROXY, NO_PROXY, NODE_EXTRA_CA_CERTS; process.env by default. */
  readonly env?: NodeJS.ProcessEnv
  /** Name resolution for the dns step and every connection the doctor makes; node:dns lookup by default. */
  readonly lookup?: LookupFunction
  /** Wall clock, epoch ms (Date.now by default): the clock step and the assertion's `iat`. */
  readonly now?: () => number
  /** Each line as it is ready (no newline), e.g. to stdout. */
  readonly write?: (line: string) => void
}

export interface DoctorReport {
  readonly steps: readonly StepResult[]
  /** Every line written, the summary last. */
  readonly lines: readonly string[]
  /** Some step failed: exit 1. */
  readonly failed: boolean
}

export async function runDoctor (config: Config, options: DoctorOptions = {}): Promise<DoctorReport> {
  const upstreams = options.upstream === undefined ? config.upstreams : config.upstreams.filter((u) => u.name === options.upstream)
  if (upstreams.length === 0) throw new TypeError(`"upstream": no upstream is named ${options.upstream ?? ''}`)
  const redactor = createRedactor(config.secrets)
  const width = Math.max(...upstreams.map((u) => u.name.length))
  const steps: StepResult[] = []
  const lines: string[] = []
  const write = (line: string): void => {
    lines.push(line)
    options.write?.(line)
  }
  for (const upstream of upstreams) {
    await checkUpstream(upstream, {
      env: options.env ?? process.env,
      lookup: options.lookup ?? defaultLookup,
      now: options.now ?? Date.now,
      onToken: (token) => { redactor.add(token) },
      emit: (step, outcome) => {
        const result: StepResult = { upstream: upstream.name, step, status: outcome.status, detail: redactor.redact(outcome.detail) }
        steps.push(result)
        write(formatStep(result, width))
      }
    })
  }
  write(summarize(steps, upstreams.length))
  return { steps, lines, failed: steps.some((step) => step.status === 'fail') }
}

interface UpstreamContext {
  readonly env: NodeJS.ProcessEnv
  readonly lookup: LookupFunction
  readonly now: () => number
  readonly onToken: (token: string) => void
  readonly emit: (step: StepName, outcome: StepOutcome) => void
}

async function checkUpstream (upstream: UpstreamConfig, ctx: UpstreamContext): Promise<void> {
  const { auth, probe } = upstream
  const { emit } = ctx
  const target = new URL(upstream.target)
  const endpoint = { upstream, connect: connectOptions(upstream, ctx.env, ctx.lookup), env: ctx.env, lookup: ctx.lookup, emit }
  const targetReached = await checkEndpoint(target, endpoint)
  let tokenReached = targetReached
  if (auth.type === 'oauth2_client_credentials') {
    const tokenUrl = new URL(auth.tokenUrl)
    // Another origin (scheme, host or port) is another connection: check it too.
    if (tokenUrl.origin !== target.origin) tokenReached = await checkEndpoint(tokenUrl, endpoint)
  }

  let dispatchers: UpstreamDispatchers
  try {
    dispatchers = createUpstreamDispatchers(upstream, { env: ctx.env, lookup: ctx.lookup })
  } catch (err) {
    // A proxy variable that is no URL; the endpoint steps have said so already.
    for (const step of remainingSteps(upstream)) emit(step, skip(`no dispatcher: ${(err as Error).message}`))
    return
  }
  try {
    let authorization: string | undefined
    let tokenOk = true
    switch (auth.type) {
      case 'none':
        break
      case 'static_bearer':
        authorization = `Bearer ${auth.token}`
        emit('token', ok('static_bearer: a fixed token from the config, not fetched (the probe uses it)'))
        break
      case 'oauth2_client_credentials': {
        if (!tokenReached) {
          tokenOk = false
          emit('token', skip('the token endpoint cannot be reached'))
          emit('clock', skip('the token endpoint cannot be reached'))
          break
        }
        const token = await fetchTokenStep(auth, { headers: upstream.headers, dispatcher: dispatchers.token, now: ctx.now, onToken: ctx.onToken })
        emit('token', token.outcome)
        // A refusal is an answer too: its Date still tells the clock (often the reason for the refusal).
        emit('clock', token.answer === undefined ? skip('no answer from the token endpoint') : checkClock(token.answer))
        tokenOk = token.accessToken !== undefined
        if (token.accessToken !== undefined) authorization = `Bearer ${token.accessToken}`
        break
      }
    }
    if (probe === undefined) {
      emit('probe', skip(`not configured (set upstreams.${upstream.name}.probe, e.g. /Patient?_count=1)`))
    } else if (!targetReached) {
      emit('probe', skip('the target cannot be reached'))
    } else if (!tokenOk) {
      emit('probe', skip('no token'))
    } else {
      emit('probe', await probeStep(upstream, probe, dispatchers.api, authorization))
    }
  } catch (err) {
    // A bug, not a finding: still one line, and still no secret (the redactor sees it).
    emit('probe', fail(`doctor error: ${(err as Error).message}`))
  } finally {
    await dispatchers.api.destroy()
  }
}

function remainingSteps (upstream: UpstreamConfig): StepName[] {
  return [...(upstream.auth.type === 'oauth2_client_credentials' ? ['token', 'clock'] as const : upstream.auth.type === 'static_bearer' ? ['token'] as const : []), 'probe']
}
