// GET /v1/metrics/compare with each way of choosing the comparison range (previous_period, the
// default; previous_year; compare_from and compare_to), against a plain computation over the
// posted events, to the cent. A New York tenant with orders, refunds and ad spend over 2027 and
// 2028, 29 February 2028 and 28 February 2027 included. The app runs in this process on a clock
// set to June 2028, so that 2028's events are not refused as being ahead of their receipt.
import { DateTime } from 'luxon'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../app/config.ts'
import { type Pulse, startPulse } from '../../app/main.ts'
import { createLogger } from '../../common/log.ts'
import { compareAnswer } from '../../query/dashboards/schemas.ts'
import { kpisAnswer } from '../../query/metrics-routes.ts'
import {
  ADMIN_TOKEN,
  type App,
  createTenant,
  errorSchema,
  getJson,
  newDataDir,
  postEvents,
  waitFor,
} from './harness.ts'

const TZ = 'America/New_York'
const NOW = Date.parse('2028-06-01T16:00:00Z')
const local = (text: string) => DateTime.fromISO(text, { zone: TZ }).toMillis()
const iso = (ms: number) => new Date(ms).toISOString()
const MIN = 60_000
const floorMinute = (ms: number) => ms - (ms % MIN)
const dollars = (c: number) =>
  `${c < 0 ? '-' : ''}${Math.floor(Math.abs(c) / 100)}.${String(Math.abs(c) % 100).padStart(2, '0')}`
/** n ÷ d rounded half away from zero (n, d ≥ 0 here). */
const roundDiv = (n: number, d: number) => Math.floor((2 * n + d) / (2 * d))

function mulberry32(seed: number) {
  let a = seed
  return () => {
    a |= 0
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

// ── the data: plain records, then the events that carry them ──────────────────
interface Order {
  id: string
  ts: number
  source: string
  channel: string
  total: number
  subtotal: number
}
interface Refund {
  ts: number
  source: string
  amount: number
  subtotal: number
}
interface Spend {
  ts: number
  spend: number
}

const orders: Order[] = []
const refunds: Refund[] = []
const spends: Spend[] = []
const events: Record<string, unknown>[] = []
{
  const rnd = mulberry32(20280229)
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1))
  const first = local('2027-01-01')
  const last = local('2028-05-31')
  const order = (ts: number) => {
    const subtotal = int(500, 40_000)
    const o: Order = {
      id: `o-${orders.length + 1}`,
      ts,
      source: rnd() < 0.7 ? 'shopify' : 'amazon',
      channel: ['organic', 'facebook', 'google'][int(0, 2)],
      subtotal,
      total: subtotal + int(0, 1_500),
    }
    orders.push(o)
    events.push({
      type: 'order.created',
      id: `e-${o.id}`,
      ts: iso(o.ts),
      source: o.source,
      order_id: o.id,
      total: dollars(o.total),
      subtotal: dollars(o.subtotal),
      channel: o.channel,
    })
    if (rnd() < 0.15) {
      const amount = int(100, o.total)
      const r: Refund = {
        ts: Math.min(last, ts + int(1, 20 * 24 * 60) * MIN),
        source: o.source,
        amount,
        subtotal: Math.min(amount, o.subtotal),
      }
      refunds.push(r)
      events.push({
        type: 'refund.created',
        id: `e-r-${o.id}`,
        ts: iso(r.ts),
        source: r.source,
        order_id: o.id,
        refund_id: `r-${o.id}`,
        amount: dollars(r.amount),
        subtotal: dollars(r.subtotal),
      })
    }
  }
  for (let i = 0; i < 1_500; i++) order(first + Math.floor(rnd() * (last - first)))
  // The leap-day edges, in tenant-local time: each instant sits on one side of a range bound.
  for (const text of [
    '2027-02-27T23:59',
    '2027-02-28T00:00',
    '2027-02-28T09:15',
    '2027-02-28T13:30',
    '2027-02-28T23:59',
    '2027-03-01T00:00',
    '2028-02-28T00:00',
    '2028-02-28T22:10',
    '2028-02-29T00:00',
    '2028-02-29T08:45',
    '2028-02-29T12:00',
    '2028-02-29T19:20',
    '2028-02-29T23:59',
    '2028-03-01T00:00',
    '2028-03-12T01:59', // the night daylight saving starts (2 a.m.)
    '2028-03-12T03:00',
    '2027-03-14T03:00',
  ])
    order(local(text))
  // Ad spend: one facebook statement per tenant-local day at noon.
  for (let d = DateTime.fromMillis(first, { zone: TZ }); d.toMillis() < last; d = d.plus({ days: 1 })) {
    const s: Spend = { ts: d.set({ hour: 12 }).toMillis(), spend: int(1_000, 9_000) }
    spends.push(s)
    events.push({
      type: 'ad.spend',
      id: `e-ad-${d.toISODate()}`,
      ts: iso(s.ts),
      source: 'meta_ads',
      platform: 'facebook',
      campaign_id: 'fb-1',
      spend: dollars(s.spend),
    })
  }
}

// ── the plain computation ───────────────────────────────────
interface Range {
  from: number
  to: number
}
/** A minute counts when its start lies in [floor_to_minute(from), to) (docs/metrics.md). */
const inRange = (ts: number, r: Range) => floorMinute(ts) >= floorMinute(r.from) && floorMinute(ts) < r.to
const sum = <T>(xs: T[], f: (x: T) => number) => xs.reduce((s, x) => s + f(x), 0)

function figuresOf(r: Range, source?: string) {
  const os = orders.filter((o) => inRange(o.ts, r) && (source === undefined || o.source === source))
  const rs = refunds.filter((x) => inRange(x.ts, r) && (source === undefined || x.source === source))
  const ss = source === undefined || source === 'meta_ads' ? spends.filter((s) => inRange(s.ts, r)) : []
  const net = sum(os, (o) => o.subtotal) - sum(rs, (x) => x.subtotal)
  return {
    gmv: sum(os, (o) => o.total),
    orders: os.length,
    refunds: sum(rs, (x) => x.amount),
    net_sales: net,
    aov: os.length === 0 ? null : net < 0 ? -roundDiv(-net, os.length) : roundDiv(net, os.length),
    ad_spend: sum(ss, (s) => s.spend),
    attributed_revenue: sum(
      os.filter((o) => o.channel !== 'organic'),
      (o) => o.total,
    ),
  }
}
type Figures = ReturnType<typeof figuresOf>
const asMoney = (f: Figures) => ({
  gmv: dollars(f.gmv),
  orders: f.orders,
  refunds: dollars(f.refunds),
  net_sales: dollars(f.net_sales),
  aov: f.aov === null ? null : dollars(f.aov),
  ad_spend: dollars(f.ad_spend),
  attributed_revenue: dollars(f.attributed_revenue),
})
const change = (c: number, p: number) => (p === 0 ? null : (c - p) / p)

/** What the compare answer must say for the range against the comparison range, in the given mode. */
function expected(current: Range, previous: Range, mode: string) {
  const c = figuresOf(current)
  const p = figuresOf(previous)
  const sources = ['amazon', 'meta_ads', 'shopify']
  return {
    from: iso(current.from),
    to: iso(current.to),
    compare: { mode, from: iso(previous.from), to: iso(previous.to) },
    current: { from: iso(current.from), to: iso(current.to), ...asMoney(c) },
    previous: { from: iso(previous.from), to: iso(previous.to), ...asMoney(p) },
    change: {
      gmv: change(c.gmv, p.gmv),
      orders: change(c.orders, p.orders),
      net_sales: change(c.net_sales, p.net_sales),
      ad_spend: change(c.ad_spend, p.ad_spend),
    },
    by_source: Object.fromEntries(
      sources.map((s) => {
        const cs = figuresOf(current, s)
        const ps = figuresOf(previous, s)
        return [s, { current: dollars(cs.gmv), previous: dollars(ps.gmv), change: change(cs.gmv, ps.gmv) }]
      }),
    ),
  }
}

/** The same projection of an answer. */
function picked(body: any) {
  const fig = (k: any) => ({
    gmv: k.gmv,
    orders: k.orders,
    refunds: k.refunds,
    net_sales: k.net_sales,
    aov: k.aov,
    ad_spend: k.ad_spend,
    attributed_revenue: k.attributed_revenue,
  })
  return {
    from: body.from,
    to: body.to,
    compare: body.compare,
    current: { from: body.current.from, to: body.current.to, ...fig(body.current) },
    previous: { from: body.previous.from, to: body.previous.to, ...fig(body.previous) },
    change: {
      gmv: body.change.gmv,
      orders: body.change.orders,
      net_sales: body.change.net_sales,
      ad_spend: body.change.ad_spend,
    },
    by_source: Object.fromEntries(
      ['amazon', 'meta_ads', 'shopify'].map((s) => {
        const x = body.by_source[s]
        return [s, { current: x.current.gmv, previous: x.previous.gmv, change: x.change.gmv }]
      }),
    ),
  }
}

const query = (r: Range, extra: Record<string, string> = {}) =>
  `/v1/metrics/compare?${new URLSearchParams({ from: iso(r.from), to: iso(r.to), ...extra })}`

let pulse: Pulse
let app: App
let key = ''

beforeAll(async () => {
  const offset = NOW - Date.now()
  const config = loadConfig({ DATA_DIR: newDataDir(), PORT: '0', DEMO: '0', ADMIN_TOKEN, STREAM_WORKERS: '0' })
  pulse = await startPulse(config, { log: createLogger('silent'), now: () => Date.now() + offset })
  // The harness's helpers only need the URL.
  app = { url: pulse.url } as App
  key = await createTenant(app, { id: 'cmp', timezone: TZ, currency: 'USD' })
  for (let i = 0; i < events.length; i += 5_000) {
    const res = await postEvents(app, key, events.slice(i, i + 5_000))
    expect(res.status).toBe(202)
  }
  const all = { from: local('2026-12-01'), to: local('2028-06-01') }
  const want = asMoney(figuresOf(all))
  await waitFor(
    async () => {
      const { body } = await getJson(app, key, `/v1/metrics/kpis?from=${iso(all.from)}&to=${iso(all.to)}`, kpisAnswer)
      return body.gmv === want.gmv && body.refunds === want.refunds && body.ad_spend === want.ad_spend
        ? body
        : undefined
    },
    'every event applied',
    60_000,
  )
})
afterAll(async () => pulse?.stop())

describe('GET /v1/metrics/compare: each comparison mode equals a plain computation, to the cent', () => {
  const FEB_2028 = { from: local('2028-02-01'), to: local('2028-03-01') }
  const LEAP_DAY = { from: local('2028-02-29'), to: local('2028-03-01') }

  it('has the leap-day edges in the data', () => {
    expect(figuresOf(LEAP_DAY).orders).toBeGreaterThanOrEqual(5)
    expect(figuresOf({ from: local('2027-02-28'), to: local('2027-03-01') }).orders).toBeGreaterThanOrEqual(4)
  })

  it('by default (and with compare=previous_period) against the range of equal length before', async () => {
    const previous = { from: FEB_2028.from - (FEB_2028.to - FEB_2028.from), to: FEB_2028.from }
    for (const path of [query(FEB_2028), query(FEB_2028, { compare: 'previous_period' })]) {
      const { status, body } = await getJson(app, key, path, compareAnswer)
      expect(status, path).toBe(200)
      expect(picked(body), path).toEqual(expected(FEB_2028, previous, 'previous_period'))
    }
  })

  it.each([
    // 29 February 2028 → 28 February 2027 (the whole day: to, 1 March, stays 1 March).
    ['2028-02-29', '2028-03-01', '2027-02-28', '2027-03-01'],
    // 1–29 February 2028 → 1–28 February 2027: to, 29 February, becomes 28 February.
    ['2028-02-01', '2028-02-29', '2027-02-01', '2027-02-28'],
    ['2028-02-01', '2028-03-01', '2027-02-01', '2027-03-01'],
    // Across daylight saving (12 March 2028, 14 March 2027) and a month end.
    ['2028-03-01', '2028-04-01', '2027-03-01', '2027-04-01'],
    // A year boundary, and times of day kept.
    ['2027-12-20T06:30', '2028-01-10T18:45', '2026-12-20T06:30', '2027-01-10T18:45'],
  ])('compare=previous_year: [%s, %s) against [%s, %s)', async (from, to, pFrom, pTo) => {
    const current = { from: local(from), to: local(to) }
    const previous = { from: local(pFrom), to: local(pTo) }
    const { status, body } = await getJson(app, key, query(current, { compare: 'previous_year' }), compareAnswer)
    expect(status).toBe(200)
    expect(picked(body)).toEqual(expected(current, previous, 'previous_year'))
  })

  it('compare_from and compare_to: any range, even of another length and at odd instants', async () => {
    const previous = { from: Date.parse('2027-07-04T13:37:00-04:00'), to: Date.parse('2027-09-30T08:00:00-04:00') }
    const path = query(FEB_2028, { compare_from: iso(previous.from), compare_to: '2027-09-30T08:00:00-04:00' })
    const { status, body } = await getJson(app, key, path, compareAnswer)
    expect(status).toBe(200)
    expect(picked(body)).toEqual(expected(FEB_2028, previous, 'custom'))
    // Overlapping the current range is allowed too.
    const overlap = { from: local('2028-02-15'), to: local('2028-03-15') }
    const again = await getJson(
      app,
      key,
      query(FEB_2028, { compare_from: iso(overlap.from), compare_to: iso(overlap.to) }),
      compareAnswer,
    )
    expect(again.status).toBe(200)
    expect(picked(again.body)).toEqual(expected(FEB_2028, overlap, 'custom'))
  })

  it('a comparison range reaching before 1970 answers (read from 1970: nothing lies earlier)', async () => {
    const r = { from: Date.parse('1970-01-02T00:00:00Z'), to: Date.parse('1970-01-05T00:00:00Z') }
    for (const [compare, from, to] of [
      ['previous_period', '1969-12-30T00:00:00.000Z', '1970-01-02T00:00:00.000Z'],
      ['previous_year', '1969-01-02T00:00:00.000Z', '1969-01-05T00:00:00.000Z'],
    ]) {
      const { status, body } = await getJson(app, key, query(r, { compare }), compareAnswer)
      expect(status, compare).toBe(200)
      expect(body.compare).toEqual({ mode: compare, from, to })
      expect(body.previous).toMatchObject({ from, to, gmv: '0.00', orders: 0 })
      expect(body.change.gmv).toBeNull()
    }
  })

  it.each<[string, Record<string, string>, string]>([
    ['compare_from alone', { compare_from: '2027-02-01T00:00:00-05:00' }, 'compare_to'],
    ['compare_to alone', { compare_to: '2027-03-01T00:00:00-05:00' }, 'compare_from'],
    [
      'compare_to before compare_from',
      { compare_from: '2027-03-01T00:00:00-05:00', compare_to: '2027-02-01T00:00:00-05:00' },
      'compare_to',
    ],
    [
      'compare_to equal to compare_from',
      { compare_from: '2027-03-01T00:00:00-05:00', compare_to: '2027-03-01T05:00:00Z' },
      'compare_to',
    ],
    [
      'compare= with compare_from and compare_to',
      { compare: 'previous_year', compare_from: '2027-02-01T00:00:00-05:00', compare_to: '2027-03-01T00:00:00-05:00' },
      'compare',
    ],
    ['compare= with compare_to', { compare: 'previous_period', compare_to: '2027-03-01T00:00:00-05:00' }, 'compare'],
    ['an unknown compare=', { compare: 'last_year' }, 'compare'],
    [
      'compare_from that is no instant',
      { compare_from: '2027-02-30T00:00:00Z', compare_to: '2027-03-01T00:00:00Z' },
      'compare_from',
    ],
    [
      'compare_to without an offset',
      { compare_from: '2027-02-01T00:00:00Z', compare_to: '2027-03-01T00:00:00' },
      'compare_to',
    ],
    [
      'a comparison range wider than 732 days',
      { compare_from: '2024-01-01T00:00:00Z', compare_to: '2026-06-01T00:00:00Z' },
      'compare_to - compare_from',
    ],
  ])('%s → a 400 naming the parameter at fault', async (_what, extra, name) => {
    const { status, body } = await getJson(app, key, query(FEB_2028, extra), errorSchema)
    expect(status).toBe(400)
    expect(body.error.code).toBe('bad_request')
    expect(body.error.message).toContain(name)
  })

  it.each([
    ['2028-02-28T10:00', '2028-02-29T10:00'], // both become 28 February 2027 10:00
    ['2028-02-28T22:00', '2028-02-29T09:00'], // 22:00 and 09:00 on 28 February 2027: reversed
  ])(
    'compare=previous_year of [%s, %s), which leaves nothing a year earlier → 400 naming compare',
    async (from, to) => {
      const r = { from: local(from), to: local(to) }
      const { status, body } = await getJson(app, key, query(r, { compare: 'previous_year' }), errorSchema)
      expect(status).toBe(400)
      expect(body.error.message).toContain('compare: previous_year')
    },
  )
})
