// Validating and publishing a batch of events, shared by POST /v1/events, the Shopify webhook
// and the pollers: one place decides the headers (Nats-Msg-Id, receipt time, rate used), so every
// way in gives the stream stage the same message and a replay the same answer.
import { headers as natsHeaders } from '@nats-io/transport-node'
import { type PulseEvent, event } from '../common/events.ts'
import type { ErrorDetail } from '../common/errors.ts'
import type { PipelinedPublisher } from './publisher.ts'
import { HEADERS, eventSubject } from './streams.ts'

export interface TenantRef {
  id: string
  currency: string
}

export interface ValidEvent {
  raw: unknown
  event: PulseEvent
  /** Rate from the event's currency to the tenant's, when it has another currency. */
  fx?: string
}

export type RateLookup = (currency: string) => string | undefined

/**
 * How far ahead of its receipt an event's `ts` may lie. Further is a broken clock or a unit mistake
 * (microseconds for milliseconds): such an event would sit in the future of every window and move
 * the alerts' "newest event" there, so it is refused.
 */
export const MAX_AHEAD_MS = 86_400_000

/** Parses every item; an event in another currency needs a rate. Nothing is published here. */
export function validateEvents(tenant: TenantRef, items: unknown[], options: { receivedAt: number; rateFor?: RateLookup }): { valid: ValidEvent[]; details: ErrorDetail[] } {
  const details: ErrorDetail[] = []
  const valid: ValidEvent[] = []
  items.forEach((raw, index) => {
    const parsed = event.safeParse(raw)
    if (!parsed.success) {
      for (const issue of parsed.error.issues) details.push({ index, path: issue.path.join('.'), message: issue.message })
      return
    }
    if (parsed.data.ts > options.receivedAt + MAX_AHEAD_MS) {
      details.push({ index, path: 'ts', message: `${new Date(parsed.data.ts).toISOString()} is more than 24 h after its receipt (${new Date(options.receivedAt).toISOString()})` })
      return
    }
    const currency = parsed.data.currency
    let fx: string | undefined
    if (currency && currency !== tenant.currency) {
      fx = options.rateFor?.(currency)
      if (!fx) {
        details.push({ index, path: 'currency', message: `no exchange rate from ${currency} to ${tenant.currency} in the tenant's settings` })
        return
      }
    }
    valid.push({ raw, event: parsed.data, fx })
  })
  return { valid, details }
}

export interface PublishOutcome {
  accepted: number
  duplicates: number
}

/**
 * Publishes valid events to `pulse.events.<tenant>.<type>` and resolves once JetStream confirmed
 * each one. A repeat is counted as a duplicate when JetStream says so (its window) or when the
 * stream stage already counted the id (`alreadySeen`, the rest of the dedup horizon).
 * Rejects with PublishError when JetStream refuses or does not answer.
 */
export async function publishEvents(
  publisher: PipelinedPublisher,
  tenantId: string,
  events: ValidEvent[],
  options: { receivedAt: number; alreadySeen?: (tenant: string, id: string) => boolean },
): Promise<PublishOutcome> {
  if (events.length === 0) return { accepted: 0, duplicates: 0 }
  const receivedAt = String(options.receivedAt)
  const outgoing = events.map(({ raw, event: e, fx }) => {
    const h = natsHeaders()
    h.set('Nats-Msg-Id', `${tenantId}:${e.id}`)
    h.set(HEADERS.receivedAt, receivedAt)
    if (fx) h.set(HEADERS.fx, fx)
    return { subject: eventSubject(tenantId, e.type), data: JSON.stringify(raw), headers: h }
  })
  const seenBefore = events.map(({ event: e }) => options.alreadySeen?.(tenantId, e.id) ?? false)
  const acks = await publisher.publishAll(outgoing)
  const duplicates = acks.filter((ack, i) => ack.duplicate || seenBefore[i]).length
  return { accepted: acks.length - duplicates, duplicates }
}
