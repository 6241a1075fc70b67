// Ad metrics on the ads dashboard (docs/metrics.md, "Ad metrics"): impressions, clicks, platform
// conversions and conversion value summed as spend is (a restated statement replaces, a stale one
// changes nothing), CTR, CPC, CPM, CPA and platform ROAS beside Pulse's ROAS per channel and
// campaign, with campaign names. Every figure against a plain computation over the standing
// statements written out below: live, after a checkpoint and more events, and after a restart.
import { afterAll, describe, expect, it } from 'vitest'
import { checkpointAnswer } from '../../query/checkpoint-route.ts'
import { adsAnswer } from '../../query/dashboards/schemas.ts'
import {
  ADMIN_TOKEN,
  type App,
  createTenant,
  fieldErrors,
  getJson,
  postEvents,
  send,
  startApp,
  waitFor,
} from './harness.ts'

const HOUR = 3_600_000
const DAY = 24 * HOUR
const D = Date.parse('2026-03-10T00:00:00Z')
const RANGE = `from=${new Date(D).toISOString()}&to=${new Date(D + 3 * DAY).toISOString()}`

let n = 0
const spend = (over: Record<string, unknown>) => ({
  id: `s-${++n}`,
  type: 'ad.spend',
  ts: D,
  source: 'ads',
  period: 'day',
  ...over,
})

/** Posted in this order; the comments say which stand. */
const phaseA = [
  // fb-1 on facebook: reported, restated (every figure replaced), then a stale report (ignored).
  spend({
    platform: 'facebook',
    campaign_id: 'fb-1',
    spend: '100.00',
    impressions: 10_000,
    clicks: 250,
    conversions: 4,
    conversion_value: '400.00',
    reported_at: D + HOUR,
    campaign_name: 'Spring',
  }),
  spend({
    platform: 'facebook',
    campaign_id: 'fb-1',
    spend: '120.50',
    impressions: 12_000,
    clicks: 301,
    conversions: 5.5,
    conversion_value: '480.255',
    reported_at: D + 2 * HOUR,
    campaign_name: 'Spring sale',
  }),
  spend({
    platform: 'facebook',
    campaign_id: 'fb-1',
    spend: '999.00',
    impressions: 1,
    clicks: 1,
    conversions: 1,
    conversion_value: '1.00',
    reported_at: D + 90 * 60_000,
    campaign_name: 'stale',
  }),
  // fb-1 on instagram: no clicks.
  spend({
    platform: 'instagram',
    campaign_id: 'fb-1',
    spend: 30,
    impressions: 3_000,
    clicks: 0,
    conversions: 1,
    conversion_value: 50,
  }),
  // g-1: nothing but zeros beside its spend.
  spend({
    platform: 'google',
    campaign_id: 'g-1',
    spend: '40.10',
    impressions: 0,
    clicks: 0,
    conversions: 0,
    conversion_value: '0',
    campaign_name: 'Search',
  }),
  // g-2 the next day, restated without impressions (they count 0 now).
  spend({
    ts: D + DAY,
    platform: 'google',
    campaign_id: 'g-2',
    spend: '10.00',
    impressions: 999,
    clicks: 7,
    conversions: 0.3334,
    conversion_value: '3.333',
    reported_at: D + DAY + HOUR,
  }),
  spend({
    ts: D + DAY,
    platform: 'google',
    campaign_id: 'g-2',
    spend: '12.00',
    clicks: 8,
    conversions: 0.3334,
    conversion_value: '3.333',
    reported_at: D + DAY + 2 * HOUR,
  }),
  // pin-1: spend alone.
  spend({ platform: 'pinterest', campaign_id: 'pin-1', spend: '5.00' }),
  // Orders: an attributed one on fb-1 (facebook), an organic one.
  {
    id: 'o-1',
    type: 'order.created',
    ts: D + 3 * HOUR,
    source: 'shop',
    order_id: 'o-1',
    total: '250.00',
    subtotal: '250.00',
    channel: 'facebook',
    campaign_id: 'fb-1',
  },
  {
    id: 'o-2',
    type: 'order.created',
    ts: D + 4 * HOUR,
    source: 'shop',
    order_id: 'o-2',
    total: '80.00',
    subtotal: '80.00',
  },
]

/** After a checkpoint: g-1 restated (reported now, after its receipt) with a new name and figures, a new day of fb-1. */
const phaseB = () => [
  spend({
    platform: 'google',
    campaign_id: 'g-1',
    spend: '41.00',
    impressions: 2_000,
    clicks: 0,
    conversions: 2,
    conversion_value: '90.00',
    reported_at: Date.now(),
    campaign_name: 'Search (brand)',
  }),
  spend({
    ts: D + 2 * DAY,
    platform: 'facebook',
    campaign_id: 'fb-1',
    spend: '7.77',
    impressions: 777,
    clicks: 3,
    conversion_value: '7.00',
  }),
]

// ── the plain computation: the standing statements, in cents and thousandths ──────────────
interface Standing {
  channel: string
  campaign: string
  spend: number
  impressions: number
  clicks: number
  conversionsMilli: number
  value: number
}
const standingA: Standing[] = [
  {
    channel: 'facebook',
    campaign: 'fb-1',
    spend: 12_050,
    impressions: 12_000,
    clicks: 301,
    conversionsMilli: 5_500,
    value: 48_026,
  },
  {
    channel: 'instagram',
    campaign: 'fb-1',
    spend: 3_000,
    impressions: 3_000,
    clicks: 0,
    conversionsMilli: 1_000,
    value: 5_000,
  },
  { channel: 'google', campaign: 'g-1', spend: 4_010, impressions: 0, clicks: 0, conversionsMilli: 0, value: 0 },
  { channel: 'google', campaign: 'g-2', spend: 1_200, impressions: 0, clicks: 8, conversionsMilli: 333, value: 333 },
  { channel: 'pinterest', campaign: 'pin-1', spend: 500, impressions: 0, clicks: 0, conversionsMilli: 0, value: 0 },
]
const standingB: Standing[] = [
  ...standingA.filter((s) => s.campaign !== 'g-1'),
  {
    channel: 'google',
    campaign: 'g-1',
    spend: 4_100,
    impressions: 2_000,
    clicks: 0,
    conversionsMilli: 2_000,
    value: 9_000,
  },
  { channel: 'facebook', campaign: 'fb-1', spend: 777, impressions: 777, clicks: 3, conversionsMilli: 0, value: 700 },
]
/** Attributed revenue by channel and campaign: o-1 only. */
const revenue = (s: { channel?: string; campaign?: string }) =>
  (s.channel ?? 'facebook') === 'facebook' && (s.campaign ?? 'fb-1') === 'fb-1' ? 25_000 : 0

const money = (c: number) => `${Math.floor(c / 100)}.${String(c % 100).padStart(2, '0')}`
/** n ÷ d rounded half away from zero (both non-negative), or null when d is 0. */
const perUnit = (n: number, d: number) => (d === 0 ? null : money(Math.floor((2 * n + d) / (2 * d))))
const ratio = (a: number, b: number) => (b === 0 ? null : a / b)

function figures(xs: Standing[], adRevenue: number) {
  const total = (f: (s: Standing) => number) => xs.reduce((sum, s) => sum + f(s), 0)
  const spent = total((s) => s.spend)
  const impressions = total((s) => s.impressions)
  const clicks = total((s) => s.clicks)
  const milli = total((s) => s.conversionsMilli)
  const value = total((s) => s.value)
  return {
    ad_spend: money(spent),
    ad_revenue: money(adRevenue),
    roas: ratio(adRevenue, spent),
    impressions,
    clicks,
    conversions: milli / 1000,
    conversion_value: money(value),
    ctr: ratio(clicks, impressions),
    cpc: perUnit(spent, clicks),
    cpm: perUnit(spent * 1000, impressions),
    cpa: perUnit(spent * 1000, milli),
    platform_roas: ratio(value, spent),
  }
}

function expected(standing: Standing[], names: Record<string, string | null>) {
  const keys = (f: (s: Standing) => string) => [...new Set(standing.map(f))].sort()
  return {
    ...figures(standing, revenue({})),
    by_channel: keys((s) => s.channel).map((channel) => ({
      channel,
      ...figures(
        standing.filter((s) => s.channel === channel),
        revenue({ channel }),
      ),
    })),
    by_campaign: keys((s) => s.campaign).map((campaign) => ({
      campaign_id: campaign,
      campaign_name: names[campaign] ?? null,
      channels: keys((s) => (s.campaign === campaign ? s.channel : '')).filter((c) => c !== ''),
      ...figures(
        standing.filter((s) => s.campaign === campaign),
        revenue({ campaign }),
      ),
    })),
  }
}

const expectedA = expected(standingA, { 'fb-1': 'Spring sale', 'g-1': 'Search' })
const expectedB = expected(standingB, { 'fb-1': 'Spring sale', 'g-1': 'Search (brand)' })

let app: App | undefined
let key = ''
afterAll(async () => app?.kill('SIGTERM'))

const adsNow = async () => {
  const { status, body } = await getJson(app!, key, `/v1/dashboards/ads?${RANGE}`, adsAnswer)
  expect(status).toBe(200)
  const { ad_spend, ad_revenue, roas, impressions, clicks, conversions, conversion_value } = body
  const { ctr, cpc, cpm, cpa, platform_roas, by_channel, by_campaign } = body
  return {
    ...{ ad_spend, ad_revenue, roas, impressions, clicks, conversions, conversion_value },
    ...{ ctr, cpc, cpm, cpa, platform_roas, by_channel, by_campaign },
  }
}
const settled = (want: { ad_spend: string; impressions: number }) =>
  waitFor(async () => {
    const got = await adsNow()
    return got.ad_spend === want.ad_spend && got.impressions === want.impressions ? got : undefined
  }, 'the ads dashboard to count every statement')

describe('ad metrics', () => {
  it('refuses platform figures it cannot sum, naming the field', async () => {
    app = await startApp()
    key = await createTenant(app, { id: 'adm' })
    for (const [field, value] of [
      ['clicks', 1.5],
      ['impressions', -3],
      ['conversions', 'many'],
      ['conversion_value', '-2.00'],
      ['campaign_name', 'x'.repeat(501)],
    ] as const) {
      const { status, body } = await postEvents(
        app,
        key,
        [spend({ platform: 'google', campaign_id: 'bad', spend: '1.00', [field]: value })],
        fieldErrors,
      )
      expect(status).toBe(400)
      expect(body.error.details.map((d) => d.path ?? '').join(' ')).toContain(field)
    }
  })

  it('sums them live as spend is: restatements replace, stale reports do not count', async () => {
    expect((await postEvents(app!, key, phaseA)).status).toBe(202)
    expect(await settled(expectedA)).toEqual(expectedA)
  })

  it('after a checkpoint, more statements and a restart: the same figures and names', async () => {
    const { status } = await send(app!, ADMIN_TOKEN, 'POST', '/v1/admin/checkpoints', checkpointAnswer)
    expect(status).toBe(200)
    expect((await postEvents(app!, key, phaseB())).status).toBe(202)
    expect(await settled(expectedB)).toEqual(expectedB)
    const dataDir = app!.dataDir
    await app!.kill('SIGTERM')
    app = await startApp({ dataDir })
    expect(await settled(expectedB)).toEqual(expectedB)
    // The names came back from the snapshot (then the replayed tail), not from a full replay.
    const loaded = app
      .output()
      .split('\n')
      .filter((l) => l.includes('"msg":"state loaded: snapshots and later history replayed"'))
      .map((l) => JSON.parse(l) as { snapshots: number })
    expect(loaded.at(-1)?.snapshots).toBeGreaterThanOrEqual(1)
  })
})
