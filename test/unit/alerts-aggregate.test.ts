// The alerts' rolling aggregate, fed by the real processor's deltas: sums equal the processor's
// own rows over any window (corrections and restated statements included), ad figures per
// channel and campaign, retention to the horizon, and the same bins whatever the order the
// deltas of a replay came in.
import { describe, expect, it } from 'vitest'
import { createAlertAggregate } from '../../alerts/aggregate.ts'
import { horizonMs, ruleInput, type Rule } from '../../alerts/rules.ts'
import { type Delta, createProcessor, get } from '../../stream/index.ts'
import { measuresOf } from '../../stream/measures.ts'

const T = Date.UTC(2026, 2, 2, 10, 0)
const M = 60_000
const DAY = 86_400_000
const tenant = { id: 'acme', timezone: 'UTC', currency: 'USD' }
const HOUR = 3_600_000

const order = (id: string, ts: number, total: string, extra: Record<string, unknown> = {}) => ({
  id: `o-${id}-${ts}`,
  type: 'order.created',
  ts,
  source: 'shopify',
  order_id: id,
  total,
  subtotal: total,
  channel: 'facebook',
  campaign_id: 'c1',
  items: [{ sku: 'a', quantity: 1, price: total, cost: '1.00' }],
  ...extra,
})
const spend = (id: string, ts: number, amount: string, reportedAt: number, campaign = 'c1', platform = 'facebook') => ({
  id,
  type: 'ad.spend',
  ts,
  source: 'meta_ads',
  platform,
  campaign_id: campaign,
  spend: amount,
  reported_at: reportedAt,
})

function feed(events: any[]) {
  const processor = createProcessor({ dedupHorizonMs: 7 * DAY, latenessMs: 300_000 })
  const all: Delta[][] = []
  for (const e of events) {
    const out = processor.apply(
      tenant,
      { currency: undefined, discounts: '0', tax: '0', shipping: '0', period: 'day', ...e } as never,
      { receivedAt: T },
    )
    if (out.kind === 'applied') all.push(out.deltas)
  }
  return all
}

describe('alert aggregate', () => {
  const events = [
    order('1', T, '100.00'),
    order('2', T + 5 * M, '50.00', { channel: 'google', campaign_id: 'g1' }),
    // An edit moves order 1's figures: 100.00 → 80.00, in the window of its creation.
    { ...order('1', T + 20 * M, '80.00'), id: 'edit-1', type: 'order.updated' },
    spend('s1', T, '30.00', T),
    spend('s1b', T, '45.50', T + 1), // restates s1: 45.50 stands, not 75.50
    spend('s2', T + 2 * M, '12.00', T, 'g1', 'google'),
    { id: 'r1', type: 'refund.created', ts: T + 30 * M, source: 'shopify', order_id: '2', amount: '10.00' },
  ]

  it('sums what the processor says, corrections included', () => {
    const agg = createAlertAggregate({ horizonMs: () => DAY })
    for (const d of feed(events)) agg.add(tenant, d)
    const m = agg.sum('acme', T, T + HOUR)
    expect([
      get(m, 'gmv'),
      get(m, 'orders'),
      get(m, 'subtotal'),
      get(m, 'cogs'),
      get(m, 'ad_spend'),
      get(m, 'refunds'),
      get(m, 'refund_count'),
      get(m, 'attributed_revenue'),
    ]).toEqual([13_000, 2, 13_000, 200, 5_750, 1_000, 1, 13_000])
    expect(agg.adSpend('acme', T, T + HOUR, { channel: 'facebook' })).toBe(4_550)
    expect(agg.adSpend('acme', T, T + HOUR, { campaign_id: 'g1' })).toBe(1_200)
    expect(agg.adSpend('acme', T, T + HOUR, { channel: 'facebook', campaign_id: 'g1' })).toBe(0)
    expect(Object.fromEntries(agg.byCampaign('acme', T, T + HOUR))).toEqual({
      c1: { ad_spend: 4_550, attributed_revenue: 8_000 },
      g1: { ad_spend: 1_200, attributed_revenue: 5_000 },
    })
    // Windows are [from, to) by minute: the refund's minute is outside [T, T + 30 min).
    expect(get(agg.sum('acme', T, T + 30 * M), 'refunds')).toBe(0)
    expect(agg.newest('acme')).toBe(T + 30 * M)
    expect(agg.newest('other')).toBeUndefined()
    expect(agg.byCampaign('other', T, T + HOUR).size).toBe(0)
  })

  it("keeps a refund's order-date part at its order's minute, its own part at its own", () => {
    const agg = createAlertAggregate({ horizonMs: () => DAY })
    for (const d of feed(events)) agg.add(tenant, d)
    // r1 (10.00, at T + 30 min) returns order 2, placed at T + 5 min.
    expect(
      [5, 30].map((min) => [
        get(agg.sum('acme', T + min * M, T + (min + 1) * M), 'refund_subtotal'),
        get(agg.sum('acme', T + min * M, T + (min + 1) * M), 'refund_subtotal_od'),
      ]),
    ).toEqual([
      [0, 1_000],
      [1_000, 0],
    ])
  })

  it('rebuilds the same bins from deltas in any order (a replay after a restart)', () => {
    const batches = feed(events)
    const a = createAlertAggregate({ horizonMs: () => DAY })
    const b = createAlertAggregate({ horizonMs: () => DAY })
    for (const d of batches) a.add(tenant, d)
    for (const d of [...batches].reverse()) b.add(tenant, d)
    for (let t = T; t < T + HOUR; t += M) expect(b.sum('acme', t, t + M)).toEqual(a.sum('acme', t, t + M))
  })

  it('keeps only the horizon back from the newest minute, and ignores deltas older than that', () => {
    let horizon = 2 * HOUR
    const agg = createAlertAggregate({ horizonMs: () => horizon })
    const at = (ts: number, gmv: number): Delta => ({
      minute: ts,
      source: 's',
      channel: 'organic',
      values: measuresOf({ gmv }),
    })
    expect(agg.keptFrom('acme')).toBe(-Infinity)
    agg.add(tenant, [at(T, 100)])
    agg.add(tenant, [at(T + 3 * HOUR, 1)])
    expect(agg.keptFrom('acme')).toBe(T + HOUR)
    // A longer horizon later does not bring back what was dropped: the floor stays until it is overtaken.
    horizon = 4 * HOUR
    agg.add(tenant, [at(T + 4 * HOUR, 0)])
    expect(agg.keptFrom('acme')).toBe(T + HOUR)
    horizon = 2 * HOUR
    expect(get(agg.sum('acme', T - DAY, T + DAY), 'gmv')).toBe(1)
    // A late delta before the floor would make a partial bin: it is ignored.
    agg.add(tenant, [at(T, 5)])
    expect(get(agg.sum('acme', T - DAY, T + DAY), 'gmv')).toBe(1)
    agg.add(tenant, [at(T + 2 * HOUR, 7)])
    expect(get(agg.sum('acme', T - DAY, T + DAY), 'gmv')).toBe(8)
    // Old bins are swept once the floor has moved an hour.
    agg.add(tenant, [at(T + 10 * HOUR, 1)])
    expect(agg.binCount('acme')).toBe(1)
  })

  it('the horizon is the furthest an enabled rule reads: window plus baseline days', () => {
    const r = (input: Record<string, unknown>) => ({ id: 'r', ...ruleInput.parse(input) }) as Rule
    expect(horizonMs([r({ kind: 'refund_surge', window_minutes: 30 })])).toBe(HOUR)
    expect(
      horizonMs([r({ kind: 'spend_spike', window_minutes: 60, baseline_days: 7 }), r({ kind: 'campaign_roas' })]),
    ).toBe(7 * DAY + HOUR)
    expect(horizonMs([r({ kind: 'margin_floor', window_minutes: 120 })])).toBe(2 * HOUR)
    expect(horizonMs([r({ kind: 'margin_floor', window_minutes: 120, max_drop_points: 5, baseline_days: 3 })])).toBe(
      3 * DAY + 2 * HOUR,
    )
    expect(horizonMs([r({ kind: 'gmv_stall', baseline_days: 28, enabled: false })])).toBe(HOUR)
  })
})
