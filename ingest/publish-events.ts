// Validating and publishing a batch of events, shared by POST /v1/events, the Shopify webhook
// and the pollers: one place decides the headers (Nats-Msg-Id, receipt time, rate used), so every
// way in gives the stream stage the same message and a replay the same answer.
import { headers as natsHeaders } from '@nats-io/transport-node'
import { MAX_AMOUNT, type PulseEvent, event } from '../common/events.ts'
import type { ErrorDetail } from '../common/errors.ts'
import { shapeProblem } from '../common/json-shape.ts'
import type { TenantRef } from '../tenants/index.ts'
import type { PipelinedPublisher } from './publisher.ts'
import { HEADERS, eventSubject } from './streams.ts'

export interface ValidEvent {
  raw: unknown
  event: PulseEvent
  /** The raw event as published (JSON), measured against MAX_EVENT_BYTES. */
  body: string
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
/** Nesting of an event's JSON (unknown fields included): an order's line's location is depth 3. */
export const MAX_EVENT_DEPTH = 8
/** One event's JSON, unknown fields included: it is archived as sent, and is one NATS message. */
export const MAX_EVENT_BYTES = 256 * 1024

/** Parses every item; an event in another currency needs a rate. Nothing is published here. */
export function validateEvents(
  tenant: TenantRef,
  items: unknown[],
  options: { receivedAt: number; rateFor?: RateLookup; skuCostOf?: (sku: string) => string | undefined },
): { valid: ValidEvent[]; details: ErrorDetail[] } {
  const details: ErrorDetail[] = []
  const valid: ValidEvent[] = []
  items.forEach((raw, index) => {
    // Shape first: zod and JSON.stringify both recurse, and ClickHouse refuses lone surrogates.
    const shape = shapeProblem(raw, MAX_EVENT_DEPTH)
    if (shape) return details.push({ index, path: shape.path, message: shape.message })
    const body = JSON.stringify(raw)
    const bytes = Buffer.byteLength(body)
    if (bytes > MAX_EVENT_BYTES) {
      return details.push({
        index,
        path: '',
        message: `the event is ${bytes} bytes of JSON; at most ${MAX_EVENT_BYTES}`,
      })
    }
    const parsed = event.safeParse(raw)
    if (!parsed.success) {
      for (const issue of parsed.error.issues)
        details.push({ index, path: issue.path.join('.'), message: issue.message })
      return
    }
    if (parsed.data.ts > options.receivedAt + MAX_AHEAD_MS) {
      const ts = new Date(parsed.data.ts).toISOString()
      const receipt = new Date(options.receivedAt).toISOString()
      details.push({ index, path: 'ts', message: `${ts} is more than 24 h after its receipt (${receipt})` })
      return
    }
    const currency = parsed.data.currency
    let fx: string | undefined
    if (currency && currency !== tenant.currency) {
      fx = options.rateFor?.(currency)
      if (!fx) {
        details.push({
          index,
          path: 'currency',
          message: `no exchange rate from ${currency} to ${tenant.currency} in the tenant's settings`,
        })
        return
      }
    }
    const tooLarge = amountProblems(parsed.data, Number(fx ?? '1'), options.skuCostOf)
    if (tooLarge.length > 0) return details.push(...tooLarge.map((d) => ({ index, ...d })))
    valid.push({ raw, event: parsed.data, body, fx })
  })
  return { valid, details }
}

/** An event's money fields by their path (line items apart). */
function amountsOf(e: PulseEvent): Record<string, string | undefined> {
  switch (e.type) {
    case 'order.created':
    case 'order.updated': {
      const { total, subtotal, discounts, tax, shipping, shipping_cost, fees } = e
      return { total, subtotal, discounts, tax, shipping, shipping_cost, fees }
    }
    case 'refund.created':
      return { amount: e.amount, subtotal: e.subtotal, fees: e.fees }
    case 'fee.charged':
      return { amount: e.amount }
    case 'ad.spend':
      return { spend: e.spend, conversion_value: e.conversion_value }
    case 'marketing.cost':
      return { amount: e.amount }
    default:
      return {}
  }
}

/**
 * Amounts over MAX_AMOUNT once converted to the tenant's currency, and lines whose price, cost or
 * uploaded SKU cost times quantity (alone, or all lines together) exceed it: beyond these bounds
 * products and sums in minor units would no longer be exact.
 */
function amountProblems(e: PulseEvent, rate: number, skuCostOf?: (sku: string) => string | undefined): ErrorDetail[] {
  const problems: ErrorDetail[] = []
  const check = (path: string, major: number) => {
    if (major > MAX_AMOUNT) problems.push({ path, message: `${path} is over ${MAX_AMOUNT} in the tenant's currency` })
  }
  for (const [path, amount] of Object.entries(amountsOf(e)))
    if (amount !== undefined) check(path, Number(amount) * rate)
  if (e.type === 'order.created' || e.type === 'order.updated') {
    let lines = 0
    e.items.forEach((item, i) => {
      const value = Number(item.price) * rate * item.quantity
      lines += value
      check(`items.${i}.price`, value)
      if (item.cost !== undefined) check(`items.${i}.cost`, Number(item.cost) * rate * item.quantity)
      const skuCost = skuCostOf?.(item.sku)
      if (skuCost !== undefined) check(`items.${i}.sku`, Number(skuCost) * item.quantity)
    })
    check('items', lines)
  }
  if (e.type === 'refund.created' && e.items) {
    // Items' subtotals together are held to the bound too: their split stays exact (docs/brands.md).
    let items = 0
    e.items.forEach((item, i) => {
      const value = Number(item.subtotal) * rate
      items += value
      check(`items.${i}.subtotal`, value)
    })
    check('items', items)
  }
  return problems
}

export interface PublishOutcome {
  accepted: number
  duplicates: number
}

/**
 * Publishes valid events to `pulse.events.<partition>.<tenant>.<type>` and resolves once JetStream
 * confirmed each one. A repeat is counted as a duplicate when JetStream says so (its window) or when
 * the stream stage already counted the id (`alreadySeen`, the rest of the dedup horizon).
 * Rejects with PublishError when JetStream refuses or does not answer.
 */
export async function publishEvents(
  publisher: PipelinedPublisher,
  tenantId: string,
  events: ValidEvent[],
  options: {
    receivedAt: number
    /** The deployment's partition count (config.partitions). */
    partitions: number
    alreadySeen?: (tenant: string, id: string) => boolean
  },
): Promise<PublishOutcome> {
  if (events.length === 0) return { accepted: 0, duplicates: 0 }
  const receivedAt = String(options.receivedAt)
  const outgoing = events.map(({ body, event: e, fx }) => {
    const h = natsHeaders()
    h.set('Nats-Msg-Id', `${tenantId}:${e.id}`)
    h.set(HEADERS.receivedAt, receivedAt)
    if (fx) h.set(HEADERS.fx, fx)
    return { subject: eventSubject(tenantId, e.type, options.partitions), data: body, headers: h }
  })
  const seenBefore = events.map(({ event: e }) => options.alreadySeen?.(tenantId, e.id) ?? false)
  const acks = await publisher.publishAll(outgoing)
  const duplicates = acks.filter((ack, i) => ack.duplicate || seenBefore[i]).length
  return { accepted: acks.length - duplicates, duplicates }
}
