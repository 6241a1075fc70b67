// Calls to outside APIs: a timeout on every call, retries with jittered exponential back-off on
// 5xx, network errors and timeouts, 429 honoured (Retry-After, else the API's own hint, else
// back-off), and pauses asked for by each API's usage headers. Messages never carry URLs' queries
// or headers: they hold credentials.
import type { HttpResponse, RequestSpec } from './types.ts'

export interface HttpOptions {
  /** First back-off step; doubles each attempt, with jitter. */
  retryBaseMs: number
  maxAttempts?: number
  timeoutMs?: number
  /** A 429 asking to wait longer than this fails the sync instead (the next one retries). */
  maxWaitMs?: number
  sleep?: (ms: number) => Promise<void>
}

export interface HttpHooks {
  usage?(res: HttpResponse, operation: string, memo: Map<string, unknown>): number | undefined
  retryDelay?(res: HttpResponse): number | undefined
}

export class ConnectorHttpError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message)
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Retry-After as seconds or an HTTP date → milliseconds from now. */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined
  if (/^\s*\d+(\.\d+)?\s*$/.test(value)) return Math.ceil(Number(value) * 1000)
  const at = Date.parse(value)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

export function backoffMs(base: number, attempt: number, random = Math.random): number {
  return Math.min(60_000, base * 2 ** attempt) * (0.5 + random() / 2)
}

const describe = (spec: RequestSpec) => `${spec.method ?? 'GET'} ${new URL(spec.url).pathname}`

export function createHttp(options: HttpOptions, hooks: HttpHooks = {}) {
  const maxAttempts = options.maxAttempts ?? 5
  const timeoutMs = options.timeoutMs ?? 30_000
  const maxWaitMs = options.maxWaitMs ?? 15 * 60_000
  const wait = options.sleep ?? sleep
  /** Per operation: not before this time (usage headers said to slow down). */
  const notBefore = new Map<string, number>()
  const memo = new Map<string, unknown>()
  let retries = 0

  async function request(spec: RequestSpec): Promise<HttpResponse> {
    const operation = spec.operation ?? new URL(spec.url).pathname
    let lastProblem = ''
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const pause = (notBefore.get(operation) ?? 0) - Date.now()
      if (pause > 0) await wait(pause)
      let res: HttpResponse
      try {
        const response = await fetch(spec.url, {
          method: spec.method ?? 'GET',
          headers: spec.headers,
          body: spec.body,
          signal: AbortSignal.timeout(timeoutMs),
        })
        res = { status: response.status, headers: response.headers, text: await response.text(), url: spec.url }
      } catch (err) {
        lastProblem = (err as Error).name === 'TimeoutError' ? `timed out after ${timeoutMs} ms` : `network error: ${(err as Error).message}`
        retries++
        await wait(backoffMs(options.retryBaseMs, attempt))
        continue
      }
      const hinted = hooks.usage?.(res, operation, memo)
      if (hinted && hinted > 0) notBefore.set(operation, Date.now() + hinted)
      if (res.status === 429) {
        const delay = retryAfterMs(res.headers.get('retry-after')) ?? hooks.retryDelay?.(res) ?? backoffMs(options.retryBaseMs, attempt)
        if (delay > maxWaitMs) throw new ConnectorHttpError(`${describe(spec)}: rate limited for ${Math.round(delay / 1000)} s`, 429)
        lastProblem = 'rate limited (429)'
        retries++
        await wait(delay)
        continue
      }
      if (res.status >= 500) {
        lastProblem = `server error ${res.status}`
        retries++
        await wait(backoffMs(options.retryBaseMs, attempt))
        continue
      }
      if (res.status >= 400) {
        const hint = res.status === 401 || res.status === 403 ? ' (credentials rejected)' : ''
        throw new ConnectorHttpError(`${describe(spec)}: HTTP ${res.status}${hint}: ${res.text.replace(/\s+/g, ' ').slice(0, 300)}`, res.status)
      }
      return res
    }
    throw new ConnectorHttpError(`${describe(spec)}: gave up after ${maxAttempts} attempts: ${lastProblem}`)
  }

  return { request, retries: () => retries }
}

/** IETF RateLimit-* headers (Klaviyo and others): when none remain, wait for the reset. */
export function rateLimitHeaders(res: HttpResponse): number | undefined {
  const remaining = res.headers.get('ratelimit-remaining') ?? res.headers.get('x-ratelimit-remaining')
  const reset = res.headers.get('ratelimit-reset') ?? res.headers.get('x-ratelimit-reset')
  if (remaining === null || reset === null || Number(remaining) > 0) return undefined
  const seconds = Number(reset)
  return Number.isFinite(seconds) ? seconds * 1000 : undefined
}
