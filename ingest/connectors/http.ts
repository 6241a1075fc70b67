// Calls to outside APIs: a timeout on every call, retries with jittered exponential back-off on
// 5xx, network errors and timeouts, 429 honoured (Retry-After, else the API's own hint, else
// back-off), and pauses asked for by each API's usage headers. Messages never carry URLs' queries
// or headers (they hold credentials), nor what the API answered (it may echo secrets): only the
// status. Every call goes through the SSRF guard (common/url-guard.ts) and connects to the address
// it checked; a redirect is not followed (it could lead anywhere) and fails the call.
import { type IncomingHttpHeaders, request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { setTimeout as sleepFor } from 'node:timers/promises'
import { messageOf } from '../../common/errors.ts'
import { type Resolver, UnsafeTargetError, checkTarget, guardedLookup } from '../../common/url-guard.ts'
import type { HttpResponse, RequestSpec } from './types.ts'

export interface HttpOptions {
  /** First back-off step; doubles each attempt, with jitter. */
  retryBaseMs: number
  /** Loopback, private and link-local addresses are refused unless this is set (CONNECTOR_ALLOW_PRIVATE). */
  allowPrivate: boolean
  resolve?: Resolver
  /** Cancels the call in flight and any wait (the connector was removed). */
  signal?: AbortSignal
  maxAttempts?: number
  timeoutMs?: number
  /** A 429 asking to wait longer than this fails the sync instead (the next one retries). */
  maxWaitMs?: number
  sleep?: (ms: number) => Promise<void>
  now?: () => number
  /** A larger answer is cut off and fails the call (a broken or hostile API must not fill memory). */
  maxResponseBytes?: number
}

export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 ** 2

/** The answer grew past maxResponseBytes; the connection was closed. */
class ResponseTooLargeError extends Error {
  override name = 'ResponseTooLargeError'
}

export interface HttpHooks {
  usage?(res: HttpResponse, operation: string, memo: Map<string, unknown>, now: number): number | undefined
  retryDelay?(res: HttpResponse): number | undefined
}

export class ConnectorHttpError extends Error {
  override name = 'ConnectorHttpError'
  constructor(
    message: string,
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(message, options)
  }
}

/** Retry-After as seconds or an HTTP date → milliseconds from now. */
export function retryAfterMs(value: string | null, now: number): number | undefined {
  if (!value) return undefined
  if (/^\s*\d+(\.\d+)?\s*$/.test(value)) return Math.ceil(Number(value) * 1000)
  const at = Date.parse(value)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

export function backoffMs(base: number, attempt: number, random = Math.random): number {
  return Math.min(60_000, base * 2 ** attempt) * (0.5 + random() / 2)
}

const describe = (spec: RequestSpec) => `${spec.method ?? 'GET'} ${new URL(spec.url).pathname}`

function toHeaders(raw: IncomingHttpHeaders): Headers {
  const headers = new Headers()
  for (const [name, value] of Object.entries(raw)) for (const v of [value ?? []].flat()) headers.append(name, v)
  return headers
}

/** One request, connected to the address the guard checked (node:http follows no redirect). */
function send(
  spec: RequestSpec,
  options: { allowPrivate: boolean; resolve?: Resolver; signal: AbortSignal; maxResponseBytes: number },
) {
  return new Promise<HttpResponse>((resolve, reject) => {
    const url = new URL(spec.url)
    const headers: Record<string, string | number> = { 'user-agent': 'Pulse-Connectors/1', ...spec.headers }
    if (spec.body !== undefined) headers['content-length'] = Buffer.byteLength(spec.body)
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest
    const lookup = guardedLookup(options) as never
    const req = request(url, { method: spec.method ?? 'GET', headers, lookup, signal: options.signal })
    req.on('response', (res) => {
      const chunks: Buffer[] = []
      let bytes = 0
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length
        if (bytes <= options.maxResponseBytes) return void chunks.push(chunk)
        reject(new ResponseTooLargeError(`the answer is larger than ${options.maxResponseBytes} bytes`))
        req.destroy()
      })
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        resolve({ status: res.statusCode ?? 0, headers: toHeaders(res.headers), text, url: spec.url })
      })
      res.on('error', reject)
      // After `end` this is a no-op; before, the answer was cut short.
      res.on('close', () => reject(new Error('the connection closed before the answer ended')))
    })
    req.on('error', reject)
    req.end(spec.body)
  })
}

export function createHttp(options: HttpOptions, hooks: HttpHooks = {}) {
  const maxAttempts = options.maxAttempts ?? 5
  const timeoutMs = options.timeoutMs ?? 30_000
  const maxWaitMs = options.maxWaitMs ?? 15 * 60_000
  const signal = options.signal
  const wait = options.sleep ?? ((ms: number) => sleepFor(ms, undefined, { signal }))
  const now = options.now ?? Date.now
  const maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES
  /** Per operation: not before this time (usage headers said to slow down). */
  const notBefore = new Map<string, number>()
  const memo = new Map<string, unknown>()
  let retries = 0

  async function request(spec: RequestSpec): Promise<HttpResponse> {
    const operation = spec.operation ?? new URL(spec.url).pathname
    try {
      // Checked at every call, not only at creation: what a name resolves to can change.
      await checkTarget(spec.url, { allowPrivate: options.allowPrivate, resolve: options.resolve, strictDns: true })
    } catch (err) {
      if (err instanceof UnsafeTargetError) throw new ConnectorHttpError(`${describe(spec)}: refused: ${err.message}`)
      throw err
    }
    let lastProblem = ''
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const pause = (notBefore.get(operation) ?? 0) - now()
      if (pause > 0) await wait(pause)
      let res: HttpResponse
      const timeout = AbortSignal.timeout(timeoutMs)
      try {
        const either = signal ? AbortSignal.any([signal, timeout]) : timeout
        res = await send(spec, { ...options, maxResponseBytes, signal: either })
      } catch (err) {
        signal?.throwIfAborted()
        // Asking again would fetch the same answer: the sync fails, with our message only.
        if (err instanceof ResponseTooLargeError) {
          throw new ConnectorHttpError(`${describe(spec)}: ${err.message}`, undefined, { cause: err })
        }
        // The guarded lookup refused what the name resolves to now.
        if (err instanceof UnsafeTargetError) {
          throw new ConnectorHttpError(`${describe(spec)}: refused: ${err.message}`, undefined, { cause: err })
        }
        lastProblem = timeout.aborted ? `timed out after ${timeoutMs} ms` : `network error: ${messageOf(err)}`
        retries++
        await wait(backoffMs(options.retryBaseMs, attempt))
        continue
      }
      const answeredAt = now()
      const hinted = hooks.usage?.(res, operation, memo, answeredAt)
      if (hinted && hinted > 0) notBefore.set(operation, answeredAt + hinted)
      if (res.status === 429) {
        const delay =
          retryAfterMs(res.headers.get('retry-after'), answeredAt) ??
          hooks.retryDelay?.(res) ??
          backoffMs(options.retryBaseMs, attempt)
        if (delay > maxWaitMs)
          throw new ConnectorHttpError(`${describe(spec)}: rate limited for ${Math.round(delay / 1000)} s`, 429)
        lastProblem = 'rate limited (429)'
        retries++
        await wait(delay)
        continue
      }
      if (res.status >= 500) {
        lastProblem = `answered ${res.status}`
        retries++
        await wait(backoffMs(options.retryBaseMs, attempt))
        continue
      }
      if (res.status >= 300 && res.status < 400) {
        throw new ConnectorHttpError(`${describe(spec)} answered ${res.status} (a redirect, not followed)`, res.status)
      }
      if (res.status >= 400) {
        const hint = res.status === 401 || res.status === 403 ? ' (credentials rejected)' : ''
        throw new ConnectorHttpError(`${describe(spec)} answered ${res.status}${hint}`, res.status)
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
