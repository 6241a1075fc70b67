// Outbound webhooks of alert rules: the JSON body is signed with HMAC-SHA256 under the rule's
// secret (`X-Pulse-Signature: sha256=<hex of the raw body>`), and the same bytes are retried with
// jittered exponential back-off after a 5xx, a 408/429 or no answer. Every attempt is written to
// the delivery log. A delivery is queued durably (alerts/outbox.ts) before `send` returns and
// leaves the queue only once delivered or given up, so a restart resends what is still owed
// (at start, without waiting out the back-off). A receiver should dedupe on `X-Pulse-Delivery`
// (an id per alert change): a delivery whose answer was lost, or whose success the crash did
// not let us record, is sent again.
import { createHmac, randomUUID } from 'node:crypto'
import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { messageOf } from '../common/errors.ts'
import { type Log, silentLog } from '../common/log.ts'
import type { Outbox, PendingDelivery } from './outbox.ts'
import type { DeliveryRecord } from './store.ts'
import { type Resolver, UnsafeTargetError, checkTarget, guardedLookup } from './url-guard.ts'

export interface WebhookTarget {
  url: string
  secret: string
}

export interface WebhookOptions {
  outbox: Outbox
  logDelivery: (tenant: string, record: DeliveryRecord) => Promise<void>
  /** Private, loopback and link-local targets are refused unless this is set (alerts/url-guard.ts). */
  allowPrivate: boolean
  resolve?: Resolver
  now?: () => number
  log?: Log
  /** First back-off step; doubles per attempt, with jitter, capped at 5 min. */
  retryBaseMs?: number
  maxAttempts?: number
  timeoutMs?: number
}

export const signBody = (secret: string, body: string) =>
  `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`

const retryable = (status: number) => status === 0 || status === 408 || status === 429 || status >= 500

/** One POST; the status (0 when no answer came) and an error text ('' on a 2xx). */
function post(
  p: PendingDelivery,
  options: { allowPrivate: boolean; resolve?: Resolver; timeoutMs: number },
): Promise<{ status: number; error: string; unsafe?: boolean }> {
  return new Promise((resolve) => {
    const url = new URL(p.url)
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest
    const req = request(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(p.body),
        'user-agent': 'Pulse-Alerts/1',
        'x-pulse-signature': p.signature,
        'x-pulse-delivery': p.delivery_id,
        'x-pulse-attempt': String(p.attempt),
      },
      // The socket connects to the address the guard checked (a literal IP never reaches lookup; checkTarget covers
      // it).
      lookup: guardedLookup(options) as never,
      signal: AbortSignal.timeout(options.timeoutMs),
    })
    req.on('response', (res) => {
      res.resume()
      const status = res.statusCode ?? 0
      resolve({ status, error: status >= 200 && status < 300 ? '' : `HTTP ${status}` })
    })
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EUNSAFE') resolve({ status: 0, error: `refused: ${err.message}`, unsafe: true })
      else
        resolve({
          status: 0,
          error: err.name === 'AbortError' || err.name === 'TimeoutError' ? 'timed out' : err.message,
        })
    })
    req.end(p.body)
  })
}

export function createWebhookSender(options: WebhookOptions) {
  const { outbox } = options
  const now = options.now ?? Date.now
  const log = options.log ?? silentLog
  const base = options.retryBaseMs ?? 1000
  const maxAttempts = options.maxAttempts ?? 6
  const timeoutMs = options.timeoutMs ?? 10_000
  const timers = new Set<NodeJS.Timeout>()
  const inFlight = new Set<Promise<void>>()
  let stopped = false

  async function attempt(p: PendingDelivery): Promise<void> {
    let status = 0
    let error = ''
    let unsafe = false
    try {
      // Checked at every send, not only at rule creation: what a name resolves to can change.
      await checkTarget(p.url, { allowPrivate: options.allowPrivate, resolve: options.resolve, strictDns: true })
      ;({
        status,
        error,
        unsafe = false,
      } = await post(p, { allowPrivate: options.allowPrivate, resolve: options.resolve, timeoutMs }))
    } catch (err) {
      unsafe = err instanceof UnsafeTargetError
      error = `refused: ${messageOf(err)}`
    }
    const ok = error === ''
    await options
      .logDelivery(p.tenant, {
        delivery_id: p.delivery_id,
        alert_id: p.alert_id,
        rule_id: p.rule_id,
        state: p.state,
        url: p.url,
        attempt: p.attempt,
        status,
        ok,
        error,
        at: new Date(now()).toISOString(),
      })
      .catch((err) => log.error({ tenant: p.tenant, err }, 'alerts: delivery log failed'))
    if (stopped) return // still in the outbox: the next start sends it again
    if (ok || unsafe || p.attempt >= maxAttempts || !retryable(status)) {
      if (!ok)
        log.warn(
          { tenant: p.tenant, delivery: p.delivery_id, host: new URL(p.url).host, attempts: p.attempt, error },
          'alerts: webhook delivery gave up',
        )
      await outbox.remove(p).catch((err) => log.error({ tenant: p.tenant, err }, 'alerts: outbox remove failed'))
      return
    }
    const delay = Math.min(300_000, base * 2 ** (p.attempt - 1)) * (0.5 + Math.random() / 2)
    const next = { ...p, attempt: p.attempt + 1 }
    await outbox.put(next).catch((err) => log.error({ tenant: p.tenant, err }, 'alerts: outbox update failed'))
    later(next, delay)
  }

  function later(p: PendingDelivery, delayMs: number): void {
    if (stopped) return
    const timer = setTimeout(() => {
      timers.delete(timer)
      track(attempt(p))
    }, delayMs)
    timers.add(timer)
  }

  function track(work: Promise<void>): void {
    const w = work.catch((err) => log.error({ err }, 'alerts: webhook attempt failed'))
    inFlight.add(w)
    void w.finally(() => inFlight.delete(w))
  }

  return {
    /**
     * Resends every delivery still owed (of the tenants `include` picks: the partitions this
     * process owns), from before a restart or from a node that gave the tenants up.
     */
    async start(include: (tenant: string) => boolean = () => true): Promise<void> {
      const owed = (await outbox.list()).filter((p) => include(p.tenant))
      if (owed.length > 0) log.info({ deliveries: owed.length }, 'alerts: resending pending webhook deliveries')
      for (const p of owed) track(attempt(p))
    },
    /** Queues a delivery durably and sends it in the background; resolves with its id once queued. */
    async send(
      tenant: string,
      target: WebhookTarget,
      payload: unknown,
      meta: { alert_id: string; rule_id: string; state: string },
    ): Promise<string> {
      const body = JSON.stringify(payload)
      const p: PendingDelivery = {
        tenant,
        delivery_id: randomUUID(),
        ...meta,
        url: target.url,
        body,
        signature: signBody(target.secret, body),
        attempt: 1,
      }
      await outbox.put(p)
      if (!stopped) track(attempt(p))
      return p.delivery_id
    },
    /** Waits for attempts in flight (tests). */
    async idle(): Promise<void> {
      await Promise.all(inFlight)
    },
    stop(): void {
      stopped = true
      for (const t of timers) clearTimeout(t)
      timers.clear()
    },
  }
}

export type WebhookSender = ReturnType<typeof createWebhookSender>
