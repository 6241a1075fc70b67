// Shared helpers for the processor's unit tests: a processor with a clock, event builders, and
// `net`, which sums deltas per place so a test states what an event changed, not how the
// processor chose to write it (an edit is −old rows and +new rows; only the net effect matters).
import { event } from '../../common/events.ts'
import { DIMENSIONS, MEASURES, type MeasureName, measureIndex } from '../../stream/measures.ts'
import type { ArchivedEvent } from '../../stream/live-state.ts'
import { type Arrival, type Delta, type Outcome, createProcessor } from '../../stream/processor.ts'
import type { TenantRef } from '../../tenants/index.ts'
import { HOUR, MINUTE, minuteOf } from '../../stream/windows.ts'

export const DAY = 24 * HOUR
export const HORIZON = 7 * DAY
export const LATENESS = 5 * MINUTE
export const T = Date.parse('2026-11-22T10:00:00Z')
export const M = minuteOf(T)

export const inr: TenantRef = { id: 't-inr', timezone: 'Asia/Kolkata', currency: 'INR' }
export const jpy: TenantRef = { id: 't-jpy', timezone: 'Asia/Tokyo', currency: 'JPY' }

export type Totals = Record<MeasureName, number>

/** Σ of every delta's values, per measure. */
export function totals(deltas: Delta[]): Totals {
  const sum = Object.fromEntries(MEASURES.map((name) => [name, 0])) as Totals
  for (const d of deltas) for (const name of MEASURES) sum[name] += d.values[measureIndex[name]]
  return sum
}

/** The per-brand counts and the counts they stand beside (docs/brands.md). */
const BRAND_COUNTS = [
  ['brand_orders', 'orders'],
  ['brand_cancelled_orders', 'cancelled_orders'],
  ['brand_cancelled_orders_od', 'cancelled_orders_od'],
  ['brand_refund_count', 'refund_count'],
  ['brand_refund_count_od', 'refund_count_od'],
] as const

/**
 * Only the non-zero measures, to compare exactly and readably. A per-brand count equal to its
 * count is left out too: so it is wherever one brand is involved, which most tests are about
 * (test/unit/processor-brands.test.ts states them with `totals`).
 */
export function nonZero(t: Totals): Partial<Totals> {
  const same = new Set<string>(BRAND_COUNTS.filter(([b, c]) => t[b] === t[c]).map(([b]) => b))
  return Object.fromEntries(Object.entries(t).filter(([k, v]) => v !== 0 && !same.has(k))) as Partial<Totals>
}

export type PlaceKey = 'minute' | (typeof DIMENSIONS)[number]
/** Every dimension a rollup row is keyed by (live state and history key rows the same way). */
export const ALL: PlaceKey[] = ['minute', ...DIMENSIONS]
/** The order-level grain of the old tests: minute, source, channel. */
export const COARSE: PlaceKey[] = ['minute', 'source', 'channel']

export type NetRow = Partial<Record<Exclude<PlaceKey, 'minute'>, string>> & { minute?: number; values: Partial<Totals> }

const keyOf = (row: Record<string, unknown>, by: PlaceKey[]) =>
  JSON.stringify(by.map((k) => row[k] ?? (k === 'minute' ? 0 : '')))

/** Rows in a canonical order, with the dimensions of `by` filled in ('' when absent), others dropped. */
export function placed(rows: NetRow[], by: PlaceKey[] = ALL): NetRow[] {
  const out = rows.map((row) => {
    const r: NetRow = { values: row.values }
    for (const k of by)
      (r as Record<string, unknown>)[k] = (row as Record<string, unknown>)[k] ?? (k === 'minute' ? undefined : '')
    return r
  })
  return out.sort((a, b) => (keyOf(a, by) < keyOf(b, by) ? -1 : keyOf(a, by) > keyOf(b, by) ? 1 : 0))
}

/**
 * The net effect of deltas: Σ per place (the dimensions of `by`; absent dimensions count as '',
 * as the live state keys them), only non-zero measures, places that net to zero left out.
 */
export function net(deltas: Delta[], by: PlaceKey[] = ALL): NetRow[] {
  const groups = new Map<string, Delta[]>()
  for (const d of deltas) {
    const k = keyOf(d as unknown as Record<string, unknown>, by)
    groups.set(k, [...(groups.get(k) ?? []), d])
  }
  const rows: NetRow[] = []
  for (const group of groups.values()) {
    const values = nonZero(totals(group))
    if (Object.keys(values).length === 0) continue
    const row: NetRow = { values }
    for (const k of by)
      (row as Record<string, unknown>)[k] =
        (group[0] as unknown as Record<string, unknown>)[k] ?? (k === 'minute' ? undefined : '')
    rows.push(row)
  }
  return placed(rows, by)
}

/** Non-zero totals of the deltas matching a partial place. */
export function totalsWhere(deltas: Delta[], where: Partial<Record<PlaceKey, string | number>>): Partial<Totals> {
  return nonZero(
    totals(
      deltas.filter((d) =>
        Object.entries(where).every(([k, v]) => ((d as unknown as Record<string, unknown>)[k] ?? '') === v),
      ),
    ),
  )
}

export function setup(tenant: TenantRef = inr, options: Partial<{ dedupHorizonMs: number; latenessMs: number }> = {}) {
  const processor = createProcessor({ dedupHorizonMs: HORIZON, latenessMs: LATENESS, ...options })
  const all: Delta[] = []
  let clock = T
  function send(raw: Record<string, unknown>, arrival: Partial<Arrival> = {}): Outcome {
    clock += 1000
    const outcome = processor.apply(tenant, event.parse(raw), { receivedAt: clock, ...arrival })
    if (outcome.kind === 'applied') all.push(...outcome.deltas)
    return outcome
  }
  function deltasOf(outcome: Outcome): Delta[] {
    if (outcome.kind !== 'applied') throw new Error(`expected applied, got ${outcome.kind}`)
    return outcome.deltas
  }
  return { processor, send, deltasOf, all, tenant }
}

let seq = 0
export const nextId = () => `fx-evt-${++seq}`

/** An event as the live state archives it: tenant t1's order.created from Shopify at T. */
export function archivedEvent(over: Partial<ArchivedEvent> & { event_id: string; seq: number }): ArchivedEvent {
  return { tenant: 't1', type: 'order.created', source: 'shopify', ts: T, received_at: T, fx: '', raw: '{}', ...over }
}

/** 2×400 + 300 − 100 = 1000 subtotal; + 150 tax + 30 shipping = 1180 total. */
export const createdAmounts = {
  total: '1180.00',
  subtotal: '1000.00',
  discounts: '100.00',
  tax: '150.00',
  shipping: '30.00',
}

/** An order.created of the amounts above. */
export function created(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: nextId(),
    type: 'order.created',
    ts: T,
    source: 'shopify',
    order_id: 'o-1',
    customer_id: 'c-1',
    ...createdAmounts,
    items: [
      { sku: 'a', quantity: 2, price: '400.00' },
      { sku: 'b', quantity: 1, price: '300.00' },
    ],
    channel: 'facebook',
    ...over,
  }
}

/** An edit: 500 subtotal + 75 tax + 15 shipping = 590 total, one unit, seller paid 40 for shipping. */
export function updated(over: Record<string, unknown> = {}): Record<string, unknown> {
  return created({
    type: 'order.updated',
    total: '590.00',
    subtotal: '500.00',
    discounts: '0',
    tax: '75.00',
    shipping: '15.00',
    shipping_cost: '40.00',
    items: [{ sku: 'a', quantity: 1, price: '500.00' }],
    ...over,
  })
}

/** The order-level figures of `created()` (its items are in their own rows). */
export const orderLevel = {
  gmv: 118000,
  orders: 1,
  units: 3,
  subtotal: 100000,
  discounts: 10000,
  tax: 15000,
  shipping: 3000,
  shipping_cost: 3000,
  attributed_revenue: 118000,
}
/** The order-level figures of `updated()`. */
export const editLevel = {
  gmv: 59000,
  orders: 1,
  units: 1,
  subtotal: 50000,
  tax: 7500,
  shipping: 1500,
  shipping_cost: 4000,
  attributed_revenue: 59000,
}

export function refund(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: nextId(),
    type: 'refund.created',
    ts: T + DAY,
    source: 'shopify',
    order_id: 'o-1',
    refund_id: 'r-1',
    amount: '118.00',
    subtotal: '100.00',
    ...over,
  }
}

export function cancel(over: Record<string, unknown> = {}): Record<string, unknown> {
  return { id: nextId(), type: 'order.cancelled', ts: T + 2 * HOUR, source: 'shopify', order_id: 'o-1', ...over }
}

export function shopper(
  type: 'product.viewed' | 'search' | 'cart.added' | 'checkout.started',
  over: Record<string, unknown> = {},
): Record<string, unknown> {
  return { id: nextId(), type, ts: T, source: 'shopify', customer_id: 'c-1', ...over }
}
