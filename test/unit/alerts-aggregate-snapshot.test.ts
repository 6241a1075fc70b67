// The alerts' aggregate as records (stream/snapshot.ts): rebuilt through v8.serialize, it answers
// every evaluation read as the original, before and after further deltas, exports the same records
// again, and `include` picks tenants exactly.
import { isDeepStrictEqual } from 'node:util'
import v8 from 'node:v8'
import { describe, expect, it } from 'vitest'
import { type AlertAggregate, createAlertAggregate } from '../../alerts/aggregate.ts'
import { type Delta, MINUTE } from '../../stream/index.ts'
import { measuresOf } from '../../stream/measures.ts'
import type { StateRecord } from '../../stream/snapshot.ts'

const T = Date.UTC(2026, 2, 2, 10, 0)
const HOUR = 3_600_000
const TENANTS = ['acme', 'globex', 'initech']
const horizonMs = (tenant: string) => (tenant === 'globex' ? 2 * HOUR : 6 * HOUR)
const newAggregate = (horizon = horizonMs) => createAlertAggregate({ horizonMs: horizon })

const delta = (minute: number, over: Partial<Delta> & { values: number[] }): Delta => ({
  minute,
  source: 'shopify',
  channel: 'facebook',
  ...over,
})

/** Orders, refunds, ad spend per campaign and its restatements, over ~12 hours a minute apart. */
function history(k: number, from: number, count: number): Delta[][] {
  return Array.from({ length: count }, (_, i) => {
    const minute = T + (from + i) * MINUTE
    const campaign = `cmp-${(i + k) % 7}`
    const spend = 100 + ((i * 37) % 500)
    const batch = [
      delta(minute, {
        campaign_id: campaign,
        values: measuresOf({ gmv: 1000 + i, orders: 1, attributed_revenue: 1000 }),
      }),
      delta(minute, { source: 'meta_ads', campaign_id: campaign, values: measuresOf({ ad_spend: spend }) }),
    ]
    if (i % 5 === 0) batch.push(delta(minute - 30 * MINUTE, { values: measuresOf({ refunds: 50, refund_count: 1 }) }))
    // A restatement to zero of a campaign's spend earlier on.
    if (i % 11 === 0 && i > 0)
      batch.push(
        delta(minute - MINUTE, {
          source: 'meta_ads',
          campaign_id: `cmp-${(i - 1 + k) % 7}`,
          values: measuresOf({ ad_spend: -(100 + (((i - 1) * 37) % 500)) }),
        }),
      )
    return batch
  })
}

function feed(aggregate: AlertAggregate, from: number, count: number): void {
  for (const [k, tenant] of TENANTS.entries()) for (const d of history(k, from, count)) aggregate.add({ id: tenant }, d)
}

function roundTrip(records: Iterable<StateRecord>, horizon = horizonMs): AlertAggregate {
  const aggregate = newAggregate(horizon)
  for (const record of records) aggregate.importRecord(v8.deserialize(v8.serialize(record)))
  return aggregate
}

/** What evaluation reads, over windows across the whole history. */
function reads(a: AlertAggregate, tenant: string) {
  const windows = [0, 1, 5, 60, 240, 720].flatMap((minutes) =>
    [T, T + 3 * HOUR, T + 11 * HOUR].map((from) => [from, from + minutes * MINUTE] as const),
  )
  return {
    newest: a.newest(tenant),
    keptFrom: a.keptFrom(tenant),
    events: a.events(tenant),
    bins: a.binCount(tenant),
    sums: windows.map(([from, to]) => a.sum(tenant, from, to)),
    spend: windows.map(([from, to]) => [
      a.adSpend(tenant, from, to),
      a.adSpend(tenant, from, to, { channel: 'facebook', campaign_id: 'cmp-3' }),
      [...a.byCampaign(tenant, from, to)],
    ]),
  }
}

function expectSame(actual: unknown, expected: unknown): void {
  if (!isDeepStrictEqual(actual, expected)) expect(actual).toEqual(expected)
}

describe('alert aggregate as records', () => {
  it('rebuilds an aggregate that evaluates the same, before and after further deltas', () => {
    const original = newAggregate()
    feed(original, 0, 720)
    const copy = roundTrip(original.exportRecords())
    expect(copy.tenants()).toEqual(original.tenants())
    for (const tenant of TENANTS) expectSame(reads(copy, tenant), reads(original, tenant))
    // Further deltas move the floor on, sweep old bins and correct kept ones in both alike.
    for (const a of [original, copy]) feed(a, 600, 200)
    for (const tenant of TENANTS) expectSame(reads(copy, tenant), reads(original, tenant))
    expectSame([...copy.exportRecords()], [...original.exportRecords()])
  })

  it('exports an imported aggregate as the same records, bins in chunks', () => {
    // A horizon of 30 days keeps every minute: more bins than one record holds.
    const month = () => 30 * 24 * HOUR
    const original = newAggregate(month)
    feed(original, 0, 12_000)
    const records = [...original.exportRecords()]
    expect(records.filter((r) => r.tenant === 'acme' && r.part === 'alertBins').length).toBeGreaterThan(1)
    expectSame([...roundTrip(records, month).exportRecords()], records)
  })

  it('selects tenants exactly with include', () => {
    const original = newAggregate()
    feed(original, 0, 300)
    const copy = roundTrip(original.exportRecords((tenant) => tenant === 'globex'))
    expect(copy.tenants()).toEqual(['globex'])
    expectSame(reads(copy, 'globex'), reads(original, 'globex'))
    expectSame(reads(copy, 'acme'), reads(newAggregate(), 'acme'))
  })

  it('refuses records out of order or of another kind', () => {
    const [head, bins] = [...newAggregateWithBins().exportRecords()]
    expect(() => newAggregate().importRecord(bins)).toThrow(/before its 'alertTenant' record/)
    expect(() => newAggregate().importRecord({ ...head, part: 'seen' })).toThrow(/not a record of the alert aggregate/)
  })
})

function newAggregateWithBins(): AlertAggregate {
  const a = newAggregate()
  feed(a, 0, 1)
  return a
}
