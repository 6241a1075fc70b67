// The processor's state as records (stream/snapshot.ts): a state rebuilt from its records through
// v8.serialize behaves exactly as the one it was exported from (same outcomes for any further
// event, same reads), exports the same records again, and `include` picks tenants exactly.
import { isDeepStrictEqual } from 'node:util'
import v8 from 'node:v8'
import { describe, expect, it } from 'vitest'
import { event } from '../../common/events.ts'
import { settingsSchema } from '../../common/settings.ts'
import { type Processor, createProcessor } from '../../stream/processor.ts'
import { RECORD_BYTES, type StateRecord } from '../../stream/snapshot.ts'
import type { TenantRef } from '../../tenants/index.ts'
import { HOUR, MINUTE } from '../../stream/windows.ts'
import { DAY, HORIZON, LATENESS, T, cancel, created, inr, jpy, refund, shopper, updated } from './processor-fixtures.ts'

const usd: TenantRef = { id: 't-usd', timezone: 'America/New_York', currency: 'USD' }
/** Nepal's offset is +05:45: a local midnight falls inside a UTC hour. */
const npr: TenantRef = { id: 't-npr', timezone: 'Asia/Kathmandu', currency: 'NPR' }
const TENANTS = [inr, jpy, usd, npr]
/** Past the 10,000 map entries of one record. */
const BULK = 10_100

const newProcessor = () => createProcessor({ dedupHorizonMs: HORIZON, latenessMs: LATENESS })

type Step = { tenant: TenantRef; raw: Record<string, unknown>; receivedAt: number; fx?: string }

function spend(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: `spend-${over.spend}-${over.reported_at}`,
    type: 'ad.spend',
    ts: T - 10 * HOUR,
    source: 'meta_ads',
    platform: 'facebook',
    campaign_id: 'cmp-1',
    spend: '1000.00',
    ...over,
  }
}

/** A tenant's history: every kind of event, corrections in every order, duplicates, late events. */
function history(tenant: TenantRef, start: number): Step[] {
  let clock = start
  const at = (raw: Record<string, unknown>, fx?: string): Step => ({ tenant, raw, receivedAt: (clock += 1000), fx })
  const steps = [
    at(created({ id: 'e-o1', order_id: 'o-1', location: { city: 'Pune' } })),
    at(created({ id: 'e-o2', order_id: 'o-2', customer_id: undefined, channel: 'organic' })),
    at(
      created({
        id: 'e-o3',
        order_id: 'o-3',
        customer_id: 'c-2',
        ts: T + HOUR,
        campaign_id: 'cmp-1',
        items: [{ sku: 'a', quantity: 2, price: '500.00', brand: 'acme', category: 'shoes' }],
      }),
    ),
    // Another currency, at the rate ingest stamped.
    at(created({ id: 'e-o4', order_id: 'o-4', customer_id: 'c-3', currency: 'USD', ts: T + 2 * HOUR }), '83.10'),
    at(updated({ id: 'e-u1', order_id: 'o-1', ts: T + 3 * HOUR })),
    // An edit that moves the order to another customer and day.
    at(updated({ id: 'e-u3', order_id: 'o-3', customer_id: 'c-1', ts: T + DAY })),
    // An edit before its creation, and a refund and a cancellation before their orders.
    at(updated({ id: 'e-u5', order_id: 'o-5', customer_id: 'c-4', ts: T - DAY })),
    at(refund({ id: 'e-r6', order_id: 'o-6', refund_id: 'r-6' })),
    at(cancel({ id: 'e-x8', order_id: 'o-8' })),
    at(created({ id: 'e-o5', order_id: 'o-5', customer_id: 'c-4', ts: T - 2 * DAY })),
    at(created({ id: 'e-o6', order_id: 'o-6', customer_id: 'c-2', ts: T + 4 * HOUR })),
    at(refund({ id: 'e-r1', refund_id: 'r-1' })),
    at(refund({ id: 'e-r1b', refund_id: undefined, amount: '10.00', subtotal: undefined })),
    at(refund({ id: 'e-r7', order_id: 'o-7', refund_id: 'r-7' })),
    at(cancel({ id: 'e-x2', order_id: 'o-2' })),
    at(spend({ reported_at: T })),
    at(spend({ spend: '1200.00', reported_at: T + HOUR, campaign_name: 'Spring', clicks: 40, impressions: 900 })),
    at(spend({ spend: '900.00', reported_at: T - HOUR })),
    at({ id: 'e-mc', type: 'marketing.cost', ts: T, source: 'klaviyo', platform: 'klaviyo', amount: '250.00' }),
    // Stock levels (docs/inventory.md): two locations, an older level arriving late.
    at({ id: 'e-l1', type: 'inventory.level', ts: T, source: 'shopify', sku: 'a', location_id: 'wh-1', available: 40 }),
    at({ id: 'e-l2', type: 'inventory.level', ts: T, source: 'shopify', sku: 'a', location_id: 'wh-2', available: -2 }),
    at({
      id: 'e-l3',
      type: 'inventory.level',
      ts: T - HOUR,
      source: 'shopify',
      sku: 'a',
      location_id: 'wh-1',
      available: 9,
    }),
    at(shopper('product.viewed', { id: 'e-s1', category: 'shoes' })),
    at(shopper('cart.added', { id: 'e-s2', category: 'shoes', product_id: 'p-1' })),
    at(shopper('checkout.started', { id: 'e-s3' })),
    at(shopper('search', { id: 'e-s4', customer_id: 'c-9' })),
    // Duplicates, and an event later than the lateness allows.
    at(created({ id: 'e-o1', order_id: 'o-1' })),
    at(shopper('cart.added', { id: 'e-s2' })),
    at(created({ id: 'e-late', order_id: 'o-late', ts: T - 5 * HOUR })),
  ]
  // A shopper with more events than are kept apart: the older ones are folded.
  for (let k = 0; k < 12; k++)
    steps.push(
      at(shopper(k % 2 ? 'product.viewed' : 'cart.added', { id: `e-f${k}`, customer_id: 'c-5', ts: T + k * MINUTE })),
    )
  steps.push(at(shopper('product.viewed', { id: 'e-f-old', customer_id: 'c-5', ts: T - DAY, category: 'hats' })))
  return steps
}

/** Many customers with one order each: dedup memory spans several records. */
const bulk: Step[] = Array.from({ length: BULK }, (_, i) => ({
  tenant: inr,
  receivedAt: T + DAY + i,
  raw: created({ id: `b-${i}`, order_id: `bo-${i}`, customer_id: `bc-${i}`, ts: T + i * MINUTE }),
}))
const bulkEvents = bulk.map((s) => event.parse(s.raw))

/** Further events, after the snapshot: duplicates, corrections of orders from before, new ones. */
function tail(tenant: TenantRef, start: number): Step[] {
  let clock = start
  const at = (raw: Record<string, unknown>): Step => ({ tenant, raw, receivedAt: (clock += 1000) })
  return [
    at(created({ id: 'e-o1', order_id: 'o-1' })),
    at(refund({ id: 'e-r1' })),
    at(updated({ id: 'e-u1-2', order_id: 'o-1', ts: T + 5 * HOUR, customer_id: 'c-2' })),
    at(updated({ id: 'e-u3-2', order_id: 'o-3', ts: T + HOUR, customer_id: 'c-5' })),
    at(refund({ id: 'e-r3', order_id: 'o-3', refund_id: 'r-3' })),
    at(refund({ id: 'e-r6', order_id: 'o-6', refund_id: 'r-6' })),
    at(cancel({ id: 'e-x5', order_id: 'o-5' })),
    at(created({ id: 'e-o7', order_id: 'o-7', customer_id: 'c-7', ts: T + 6 * HOUR })),
    at(created({ id: 'e-o8', order_id: 'o-8', customer_id: 'c-5', ts: T + 7 * HOUR })),
    at(spend({ spend: '1500.00', reported_at: T + 2 * HOUR })),
    at(spend({ spend: '1.00', reported_at: T + 30 * MINUTE })),
    at(shopper('checkout.started', { id: 'e-f-new', customer_id: 'c-5', ts: T + HOUR, category: 'hats' })),
    at(shopper('product.viewed', { id: 'e-f-older', customer_id: 'c-5', ts: T - 2 * DAY })),
    at(shopper('cart.added', { id: 'e-s9', customer_id: 'c-9', ts: T + DAY })),
    at(created({ id: 'b-7', order_id: 'bo-7', customer_id: 'bc-7' })),
    at(updated({ id: 'b-edit', order_id: 'bo-9', customer_id: 'bc-10', ts: T + 2 * DAY })),
    at(created({ id: 'e-late2', order_id: 'o-late2', ts: T - 6 * HOUR })),
    at({ id: 'e-l4', type: 'inventory.level', ts: T, source: 'shopify', sku: 'a', location_id: 'wh-1', available: 35 }),
  ]
}

const settings = settingsSchema.parse({
  sku_costs: Object.fromEntries(
    Array.from({ length: 25_000 }, (_, i) => [`sku-${i}`, '1.25']).concat([['a', '120.00']]),
  ),
  currency_rates: { USD: '83.10' },
  intent: { half_life_hours: 12, high: 4 },
  allowed_lateness_seconds: 600,
  default_cogs_rate: 0.35,
})

function apply(p: Processor, steps: Step[]) {
  return steps.map((s) => p.apply(s.tenant, event.parse(s.raw), { receivedAt: s.receivedAt, fx: s.fx }))
}

/** A varied state over four tenants in different timezones and currencies. */
function build(): Processor {
  const p = newProcessor()
  for (const [k, tenant] of TENANTS.entries()) {
    if (k % 2 === 0) p.applySettings(tenant, settings)
    apply(p, history(tenant, T + k * HOUR))
  }
  bulk.forEach((s, i) => p.apply(inr, bulkEvents[i], { receivedAt: s.receivedAt }))
  return p
}

function roundTrip(records: Iterable<StateRecord>): Processor {
  const p = newProcessor()
  for (const record of records) p.importRecord(v8.deserialize(v8.serialize(record)))
  return p
}

/** Every read the processor offers, for one tenant, as plain values. */
function reads(p: Processor, tenant: string, ids: string[], now: number) {
  const orders = p.orders(tenant)
  const customers = p.customers(tenant)
  const slots = Array.from({ length: orders.size }, (_, slot) => slot)
  const indices = Array.from({ length: customers.size() }, (_, i) => i)
  return {
    settings: p.settings(tenant),
    freshness: [...p.freshness(tenant)],
    seen: ids.map((id) => [p.hasSeen(tenant, id, now), p.hasSeen(tenant, id, now + HORIZON)]),
    orders: slots.map((slot) => ({
      order: orders.get(slot),
      attachments: orders.attachments(slot),
      refunded: orders.refundedBefore(slot, T + DAY + HOUR),
      rfm: [...orders.rfmFigures(slot)],
    })),
    orderIds: ['o-1', 'o-5', 'o-7', 'bo-9', 'nope'].map((id) => orders.find(id)),
    customers: indices.map((i) => ({
      customer: customers.at(i),
      city: customers.cityOf(i),
      orders: [...orders.ordersOf(i)],
      before: customers.ordersBefore(i, T + HOUR),
      intent: [T - DAY, T + 5 * MINUTE, T + DAY].map((at) => customers.intent(i, at, 6 * HOUR)),
    })),
    customerIds: ['c-1', 'c-5', 'bc-3', 'nope'].map((id) => [customers.find(id), customers.get(id)]),
    funnel: p.funnel.counts(tenant, '0000-01-01', '9999-12-31'),
    activity: p.activity.latest(tenant, 10_000),
    campaignNames: [...p.campaignNames(tenant)],
    inventory: p.inventory(tenant),
  }
}

/** Deep equality, checked fast (typed arrays compared as bytes); vitest's diff only when they differ. */
function expectSame(actual: unknown, expected: unknown): void {
  if (!isDeepStrictEqual(actual, expected)) expect(actual).toEqual(expected)
}

const idsOf = (steps: Step[]) => steps.map((s) => s.raw.id as string)

describe('processor state as records', () => {
  const original = build()
  const records = [...original.exportRecords()]
  const copy = roundTrip(records)
  const sent = TENANTS.map((t) => idsOf([...history(t, T), ...tail(t, T), ...(t === inr ? bulk : [])]))
  const NOW = T + 2 * DAY

  it('rebuilds a state that reads exactly the same', () => {
    for (const [k, tenant] of TENANTS.entries())
      expectSame(reads(copy, tenant.id, sent[k], NOW), reads(original, tenant.id, sent[k], NOW))
    expect(copy.settings(inr.id).sku_costs).toEqual(settings.sku_costs)
    expect(reads(copy, inr.id, [], NOW).orders).toHaveLength(BULK + 7)
  })

  it('then handles every further event as the original does, and ends in the same state', () => {
    const a = build()
    const b = roundTrip(a.exportRecords())
    for (const [k, tenant] of TENANTS.entries()) {
      const steps = tail(tenant, NOW + k * HOUR)
      expectSame(apply(b, steps), apply(a, steps))
      expectSame(reads(b, tenant.id, sent[k], NOW + DAY), reads(a, tenant.id, sent[k], NOW + DAY))
    }
    // Settings after the snapshot take effect in both alike.
    for (const p of [a, b]) p.applySettings(jpy, settingsSchema.parse({ default_cogs_rate: 0.5 }))
    const steps = [{ tenant: jpy, raw: updated({ id: 'e-u1-3', order_id: 'o-1', ts: T + 6 * HOUR }), receivedAt: NOW }]
    expectSame(apply(b, steps), apply(a, steps))
    expectSame([...b.exportRecords()], [...a.exportRecords()])
  })

  it('exports an imported state as the same records', () => {
    const again = [...copy.exportRecords()]
    expect(again.map((r) => [r.tenant, r.part])).toEqual(records.map((r) => [r.tenant, r.part]))
    expectSame(again, records)
  })

  it('keeps every record small and holds every part of the state', () => {
    expect(Math.max(...records.map((r) => v8.serialize(r).length))).toBeLessThan(RECORD_BYTES + 1024)
    const parts = new Set(records.filter((r) => r.tenant === inr.id).map((r) => r.part))
    expect([...parts].sort()).toEqual(
      [
        'tenant',
        'skuCosts',
        'seen',
        'statements',
        'campaignNames',
        'waiting',
        'refunds',
        'cancelled',
        'orders',
        'customers',
        'funnel',
        'activity',
        'inventory',
      ].sort(),
    )
    // Dedup memory and SKU costs of the bulk tenant span several records.
    expect(records.filter((r) => r.tenant === inr.id && r.part === 'seen').length).toBeGreaterThan(1)
    expect(records.filter((r) => r.tenant === inr.id && r.part === 'skuCosts').length).toBeGreaterThan(1)
  })

  it('selects tenants exactly with include', () => {
    const only = (ids: string[]) => (id: string) => ids.includes(id)
    const picked = [...original.exportRecords(only([jpy.id, usd.id]))]
    expectSame(
      picked,
      records.filter((r) => r.tenant === jpy.id || r.tenant === usd.id),
    )
    const p = roundTrip(picked)
    expect([...new Set([...p.exportRecords()].map((r) => r.tenant))]).toEqual([jpy.id, usd.id])
    expectSame(reads(p, jpy.id, sent[1], NOW), reads(original, jpy.id, sent[1], NOW))
    // An excluded tenant reads as one never seen.
    expectSame(reads(p, inr.id, sent[0], NOW), reads(newProcessor(), inr.id, sent[0], NOW))
    expect([...original.exportRecords(() => false)]).toEqual([])
  })

  it('refuses a record before its tenant record, and a record of another kind', () => {
    const p = newProcessor()
    const seen = records.find((r) => r.part === 'seen')!
    expect(() => p.importRecord(seen)).toThrow(/before its 'tenant' record/)
    p.importRecord(records[0])
    expect(() => p.importRecord({ tenant: records[0].tenant, part: 'alertBins', data: {} })).toThrow(
      /not a record of the processor/,
    )
  })
})
