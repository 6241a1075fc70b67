// Pure alerting: each rule at its threshold ± one cent, noise under the minimums, and the state
// machine (hysteresis, cooldown) over series that oscillate and recover.
import { describe, expect, it } from 'vitest'
import {
  campaignRoas,
  connectorFailing,
  ewma,
  gmvStall,
  marginFloor,
  refundSurge,
  spendSpike,
} from '../../alerts/evaluate.ts'
import { type Rule, type RuleOf, defaultRules, publicRule, ruleInput } from '../../alerts/rules.ts'
import { type AlertState, step } from '../../alerts/state.ts'
import { type Measures, measuresOf } from '../../stream/measures.ts'
import { defaultRuleKinds } from '../fixtures/alert-rules.ts'

const w = { from: Date.UTC(2026, 0, 1, 11), to: Date.UTC(2026, 0, 1, 12), digits: 2 }
const rule = <K extends Rule['kind']>(input: { kind: K } & Record<string, unknown>) =>
  ({ id: 'r', ...ruleInput.parse(input) }) as RuleOf<K>
let ids = 0
const newId = () => `a${++ids}`

describe('margin floor', () => {
  const r = rule({ kind: 'margin_floor', floor: 0.1, min_net_sales: '500.00' })
  // Net sales 1000.00; contribution = subtotal − cogs − ad spend: 1000.00 − 800.00 − spend.
  const m = (adSpend: number, subtotal = 100_000): Measures => measuresOf({ subtotal, cogs: 80_000, ad_spend: adSpend })
  it.each([
    ['one cent under the floor (99.99 on 1000.00)', 10_001, true],
    ['at the floor (100.00 on 1000.00)', 10_000, false],
    ['one cent over the floor', 9_999, false],
  ])('%s', (_, adSpend, breached) => {
    const obs = marginFloor(r, m(adSpend), w)
    expect(obs.breached).toBe(breached)
  })
  it('carries the figures that triggered it', () => {
    expect(marginFloor(r, m(10_001), w).figures).toEqual({
      window_from: '2026-01-01T11:00:00.000Z',
      window_to: '2026-01-01T12:00:00.000Z',
      net_sales: '1000.00',
      contribution_margin: '99.99',
      ad_spend: '100.01',
      margin: 0.1,
      floor: 0.1,
    })
  })
  it('is quiet (and holds) under the minimum net sales', () => {
    const obs = marginFloor(r, measuresOf({ subtotal: 49_999, ad_spend: 1_000_000 }), w)
    expect([obs.breached, obs.cleared]).toEqual([false, false])
  })
  it('gross margin ignores ad spend', () => {
    const g = rule({ kind: 'margin_floor', margin: 'gross', floor: 0.1, min_net_sales: '0' })
    expect(marginFloor(g, m(90_000), w).breached).toBe(false)
    expect(marginFloor(g, measuresOf({ subtotal: 100_000, cogs: 90_001 }), w).breached).toBe(true)
  })
})

describe('margin floor by order date', () => {
  // The hour's orders: 1000.00 at a cost of 600.00, 100.00 of them refunded since. Refunds paid in
  // the hour: 500.00, mostly of earlier orders.
  const m = measuresOf({ subtotal: 100_000, cogs: 60_000, refund_subtotal: 50_000, refund_subtotal_od: 10_000 })
  it("counts refunds when they happen by default: the earlier orders' refunds sink the hour", () => {
    const r = rule({ kind: 'margin_floor', margin: 'gross', floor: 0, min_net_sales: '100.00' })
    const obs = marginFloor(r, m, w)
    expect([obs.breached, obs.figures.net_sales, obs.figures.gross_profit, obs.figures.margin]).toEqual([
      true,
      '500.00',
      '-100.00',
      -0.2,
    ])
  })
  it('by order date the hour is judged on its own orders and their refunds', () => {
    const r = rule({ kind: 'margin_floor', margin: 'gross', view: 'order_date', floor: 0, min_net_sales: '100.00' })
    const obs = marginFloor(r, m, w)
    expect([obs.breached, obs.figures.net_sales, obs.figures.gross_profit, obs.figures.margin]).toEqual([
      false,
      '900.00',
      '300.00',
      0.3333,
    ])
  })
  it("is the default selling-below-cost rule's view", () => {
    expect(defaultRules().find((x) => x.id === 'default-margin')).toMatchObject({
      kind: 'margin_floor',
      margin: 'gross',
      view: 'order_date',
      floor: 0,
    })
  })
})

describe('margin drop against a baseline', () => {
  // Baseline: 7 days of the same window together, net 7000.00, contribution 2100.00: 30 %.
  const r = rule({
    kind: 'margin_floor',
    floor: null,
    max_drop_points: 5,
    baseline_days: 7,
    min_net_sales: '100.00',
    hysteresis: 0.01,
  })
  const baseline = measuresOf({ subtotal: 700_000, cogs: 490_000 })
  // Now: net 1000.00, cogs 750.00 − ad spend: 25 % is exactly 5 points under.
  const now = (adSpend: number) => measuresOf({ subtotal: 100_000, cogs: 75_000, ad_spend: adSpend })
  it.each([
    ['a drop of exactly 5 points (250.00 on 1000.00)', 0, false],
    ['one cent more: 5.001 points', 1, true],
  ])('%s', (_, adSpend, breached) => {
    expect(marginFloor(r, now(adSpend), w, baseline).breached).toBe(breached)
  })
  it('carries the baseline figures', () => {
    expect(marginFloor(r, now(1), w, baseline).figures).toEqual({
      window_from: '2026-01-01T11:00:00.000Z',
      window_to: '2026-01-01T12:00:00.000Z',
      net_sales: '1000.00',
      contribution_margin: '249.99',
      ad_spend: '0.01',
      margin: 0.25,
      floor: null,
      baseline_days: 7,
      baseline_net_sales: '7000.00',
      baseline_margin: 0.3,
      drop_points: 5.001,
      max_drop_points: 5,
    })
  })
  it('resolves only once the drop is back under max_drop_points − hysteresis points', () => {
    expect(marginFloor(r, now(0), w, baseline).cleared).toBe(false) // 5 points: inside the band
    expect(marginFloor(r, measuresOf({ subtotal: 100_000, cogs: 74_000 }), w, baseline).cleared).toBe(true) // 4 points
    expect(marginFloor(r, measuresOf({ subtotal: 100_000, cogs: 74_001 }), w, baseline).cleared).toBe(false) // 4.001
  })
  it('exact for sums past 2^53 when cross-multiplied (bigint)', () => {
    const big = measuresOf({ subtotal: 9_000_000_000_00, cogs: 6_300_000_000_00 }) // 9 billion, 30 %
    const cur = measuresOf({ subtotal: 1_000_000_000_00, cogs: 750_000_000_00 }) // 25 %
    expect(marginFloor(r, cur, w, big).breached).toBe(false)
    expect(marginFloor(r, measuresOf({ subtotal: 1_000_000_000_00, cogs: 750_000_000_01 }), w, big).breached).toBe(true)
  })
  it('no baseline (under the minimum net sales): only the floor counts', () => {
    const both = rule({ kind: 'margin_floor', floor: 0, max_drop_points: 5 })
    const obs = marginFloor(both, now(0), w, measuresOf({ subtotal: 9_999 }))
    expect([obs.breached, obs.cleared, obs.figures.baseline_margin, obs.figures.drop_points]).toEqual([
      false,
      true,
      null,
      null,
    ])
    expect(marginFloor(both, now(25_001), w, undefined).breached).toBe(true) // under the floor of 0
  })
})

describe('spend spike', () => {
  const r = rule({ kind: 'spend_spike', factor: 2, min_spend: '50.00', baseline_days: 7 })
  const flat = new Array(7).fill(10_000) // 100.00 each previous day: EWMA 100.00, threshold 200.00
  it.each([
    ['one cent over 2 × baseline', 20_001, true],
    ['at 2 × baseline', 20_000, false],
    ['one cent under', 19_999, false],
  ])('%s', (_, spend, breached) => {
    expect(spendSpike(r, spend, flat, w).breached).toBe(breached)
  })
  it('noise under the minimum spend stays quiet, however large the ratio', () => {
    const tiny = new Array(7).fill(100) // 1.00 a day
    expect(spendSpike(r, 4_999, tiny, w).breached).toBe(false) // 49.99: 50× the baseline, under 50.00
    expect(spendSpike(r, 5_000, tiny, w).breached).toBe(true)
  })
  it('without spend on previous days there is no baseline: quiet', () => {
    const obs = spendSpike(r, 1_000_000, new Array(7).fill(0), w)
    expect(obs.breached).toBe(false)
    expect(obs.figures.baseline).toBeNull()
  })
  it('EWMA weights recent days', () => {
    expect(ewma([100, 100, 400], 0.5)).toBe(250)
    expect(spendSpike(r, 40_000, [10_000, 10_000, 10_000, 10_000, 10_000, 10_000, 30_000], w).figures).toMatchObject({
      ad_spend: '400.00',
      baseline: '160.00',
      threshold: '320.00',
    })
  })
  it('resolves only below (1 − hysteresis) × threshold', () => {
    expect(spendSpike(r, 18_001, flat, w).cleared).toBe(false) // 180.01 > 0.9 × 200.00
    expect(spendSpike(r, 18_000, flat, w).cleared).toBe(true)
  })
})

describe('costly campaign (ROAS floor after a spend threshold)', () => {
  const r = rule({ kind: 'campaign_roas', floor: 1, min_spend: '100.00' })
  const campaigns = (entries: [string, number, number][]) =>
    new Map(entries.map(([c, spend, revenue]) => [c, measuresOf({ ad_spend: spend, attributed_revenue: revenue })]))
  it('fires per campaign once spend reaches the threshold, by one cent', () => {
    const obs = campaignRoas(
      r,
      campaigns([
        ['c-under', 9_999, 0],
        ['c-low', 10_000, 9_999],
        ['c-ok', 10_000, 10_000],
        ['', 50_000, 0],
      ]),
      w,
    )
    expect(obs.map((o) => [o.subject, o.breached])).toEqual([
      ['c-low', true],
      ['c-ok', false],
      ['c-under', false],
    ])
    expect(obs[0].figures).toMatchObject({
      campaign_id: 'c-low',
      ad_spend: '100.00',
      attributed_revenue: '99.99',
      roas: 0.9999,
    })
  })
})

describe('refund surge', () => {
  const r = rule({ kind: 'refund_surge', max_rate: 0.2, min_refunds: 3 })
  const m = (refunds: number, count = 3) => measuresOf({ gmv: 100_000, refunds, refund_count: count })
  it.each([
    ['one cent over 20 % of GMV', m(20_001), true],
    ['at 20 %', m(20_000), false],
    ['over, but too few refunds', m(90_000, 2), false],
  ])('%s', (_, measures, breached) => expect(refundSurge(r, measures, w).breached).toBe(breached))
})

describe('GMV stall (an absence, on the timer)', () => {
  const r = rule({ kind: 'gmv_stall', min_expected_orders: 3, baseline_days: 3 })
  it('fires with no orders in a window that usually has them', () => {
    expect(gmvStall(r, 0, [3, 3, 3], w).breached).toBe(true)
    expect(gmvStall(r, 0, [3, 3, 2], w).breached).toBe(false) // expected 2.67 < 3
    expect(gmvStall(r, 1, [9, 9, 9], w)).toMatchObject({ breached: false, cleared: true })
  })
})

describe('connector failing', () => {
  const r = rule({ kind: 'connector_failing', max_lag_minutes: 60 })
  it('fires for a failed sync or a lag beyond the limit, per connector', () => {
    const obs = connectorFailing(r, [
      { id: 'a', type: 'meta_ads', last_error: 'HTTP 500', last_success_at: null, lag_seconds: null },
      { id: 'b', type: 'walmart', last_error: null, last_success_at: 'x', lag_seconds: 3601 },
      { id: 'c', type: 'klaviyo', last_error: null, last_success_at: 'x', lag_seconds: 3600 },
    ])
    expect(obs.map((o) => [o.subject, o.breached])).toEqual([
      ['a', true],
      ['b', true],
      ['c', false],
    ])
  })
})

describe('state machine: hysteresis and cooldown', () => {
  const r = rule({ kind: 'margin_floor', floor: 0.1, hysteresis: 0.02, cooldown_minutes: 30, min_net_sales: '0' })
  /** Margins (‰ of 1000.00 net sales), one evaluation a minute; the changes that came out. */
  function run(margins: number[], rr: RuleOf<'margin_floor'> = r) {
    let state: AlertState | undefined
    const changes: string[] = []
    margins.forEach((permille, i) => {
      const obs = marginFloor(rr, measuresOf({ subtotal: 100_000, cogs: 100_000 - permille * 100 }), w)
      const s = step(state, obs, w.to + i * 60_000, rr.cooldown_minutes * 60_000, newId)
      state = s.next
      if (s.change) changes.push(`${i}:${s.change}`)
    })
    return changes
  }
  it('no flapping on a series that oscillates around the floor', () => {
    const series = Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? 99 : 101)) // 9.9 %, 10.1 %, …
    expect(run(series)).toEqual(['0:firing'])
  })
  it('resolved after recovery past the hysteresis band', () => {
    expect(run([99, 110, 119, 120, 125])).toEqual(['0:firing', '3:resolved'])
  })
  it('the cooldown holds a new firing after a resolve, then lets it through', () => {
    const series = [90, 130, ...new Array(40).fill(90)]
    expect(run(series)).toEqual(['0:firing', '1:resolved', '31:firing'])
  })
  it('without hysteresis the cooldown alone bounds the flapping', () => {
    const bare = rule({ kind: 'margin_floor', floor: 0.1, hysteresis: 0, cooldown_minutes: 30, min_net_sales: '0' })
    const series = Array.from({ length: 120 }, (_, i) => (i % 2 === 0 ? 99 : 101))
    expect(run(series, bare)).toEqual([
      '0:firing',
      '1:resolved',
      '32:firing',
      '33:resolved',
      '64:firing',
      '65:resolved',
      '96:firing',
      '97:resolved',
    ])
  })
})

describe('rules', () => {
  it('defaults for a new tenant are valid, distinct and quiet-leaning', () => {
    const rules = defaultRules()
    expect(new Set(rules.map((r) => r.id)).size).toBe(rules.length)
    expect(rules.map((r) => r.kind).sort()).toEqual(defaultRuleKinds)
  })
  it('rejects bad input and never shows a webhook secret', () => {
    expect(ruleInput.safeParse({ kind: 'spend_spike', factor: 0.5 }).success).toBe(false)
    expect(ruleInput.safeParse({ kind: 'nope' }).success).toBe(false)
    expect(ruleInput.safeParse({ kind: 'margin_floor', min_net_sales: '-1' }).success).toBe(false)
    const r = {
      id: 'x',
      ...ruleInput.parse({ kind: 'margin_floor', webhook: { url: 'http://127.0.0.1:9/hook', secret: 's'.repeat(16) } }),
    } as Rule
    expect(JSON.stringify(publicRule(r))).not.toContain('ssss')
  })
})
