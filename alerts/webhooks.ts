// Outbound webhooks of alert rules: the JSON body is signed with HMAC-SHA256 under the rule's
// secret (`X-Pulse-Signature: sha256=<hex of the raw body>`), and the same bytes are retried with
// jittered exponential back-off after a 5xx, a 408/429 or no answer. Every attempt is written to
// the delivery log. A receiver should dedupe on `X-Pulse-Delivery` (an id per alert change): a
// delivery whose answer was lost is sent again.
import { createHmac, randomUUID } from 'node:crypto'
import type { DeliveryRecord } from './store.ts'

export interface WebhookTarget {
  url: string
  secret: string
}

export interface WebhookOptions {
  logDelivery: (tenant: string, record: DeliveryRecord) => Promise<void>
  now?: () => number
  log?: (line: string) => void
  /** First back-off step; doubles per attempt, with jitter, capped at 5 min. */
  retryBaseMs?: number
  maxAttempts?: number
  timeoutMs?: number
}

export const signBody = (secret: string, body: string) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`

const retryable = (status: number) => status === 0 || status === 408 || status === 429 || status >= 500

export function createWebhookSender(options: WebhookOptions) {
  const now = options.now ?? Date.now
  const log = options.log ?? (() => {})
  const base = options.retryBaseMs ?? 1000
  const maxAttempts = options.maxAttempts ?? 6
  const timeoutMs = options.timeoutMs ?? 10_000
  const timers = new Set<NodeJS.Timeout>()
  let stopped = false

  async function attempt(tenant: string, target: WebhookTarget, body: string, meta: Pick<DeliveryRecord, 'delivery_id' | 'alert_id' | 'rule_id' | 'state'>, n: number): Promise<void> {
    let status = 0
    let error = ''
    try {
      const res = await fetch(target.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'Pulse-Alerts/1', 'x-pulse-signature': signBody(target.secret, body), 'x-pulse-delivery': meta.delivery_id, 'x-pulse-attempt': String(n) },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      })
      status = res.status
      await res.body?.cancel()
      if (status < 200 || status >= 300) error = `HTTP ${status}`
    } catch (err) {
      error = (err as Error).name === 'TimeoutError' ? 'timed out' : (err as Error).message
    }
    const ok = error === ''
    await options.logDelivery(tenant, { ...meta, url: target.url, attempt: n, status, ok, error, at: new Date(now()).toISOString() }).catch((err) => log(`alerts: delivery log failed: ${(err as Error).message}`))
    if (ok || stopped) return
    if (n >= maxAttempts || !retryable(status)) {
      log(`alerts: webhook ${meta.delivery_id} to ${new URL(target.url).host} gave up after ${n} attempts (${error})`)
      return
    }
    const delay = Math.min(300_000, base * 2 ** (n - 1)) * (0.5 + Math.random() / 2)
    const timer = setTimeout(() => {
      timers.delete(timer)
      void attempt(tenant, target, body, meta, n + 1)
    }, delay)
    timers.add(timer)
  }

  return {
    /** Sends in the background; returns the delivery id. */
    send(tenant: string, target: WebhookTarget, payload: unknown, meta: { alert_id: string; rule_id: string; state: string }): string {
      const delivery_id = randomUUID()
      void attempt(tenant, target, JSON.stringify(payload), { ...meta, delivery_id }, 1)
      return delivery_id
    },
    stop(): void {
      stopped = true
      for (const t of timers) clearTimeout(t)
      timers.clear()
    },
  }
}

export type WebhookSender = ReturnType<typeof createWebhookSender>
