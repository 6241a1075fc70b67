// Ad metrics in the processor (docs/metrics.md, "Ad metrics"): impressions, clicks, conversions
// and conversion value ride on the ad spend rows and are restated with the spend; campaign names
// come from the newest named statement; the event schema refuses what it cannot sum.
import { describe, expect, it } from 'vitest'
import { event } from '../../common/events.ts'
import { HOUR } from '../../stream/windows.ts'
import { inr, jpy, nextId, setup, T, totals, totalsWhere } from './processor-fixtures.ts'

const statement = (over: Record<string, unknown> = {}) => ({
  id: nextId(),
  type: 'ad.spend',
  ts: T,
  source: 'google_ads',
  platform: 'google',
  campaign_id: 'g-1',
  spend: '100.00',
  ...over,
})

const adFigures = (t: ReturnType<typeof totals> | Partial<ReturnType<typeof totals>>) => ({
  ad_spend: t.ad_spend,
  ad_impressions: t.ad_impressions,
  ad_clicks: t.ad_clicks,
  ad_conversions_milli: t.ad_conversions_milli,
  ad_conversion_value: t.ad_conversion_value,
})

describe('processor: ad metrics', () => {
  it('sums the platform figures on the spend row, conversions in thousandths, value in minor units', () => {
    const { send, all } = setup()
    send(statement({ impressions: 1_000, clicks: 25, conversions: 2.5, conversion_value: '499.995', brand: 'nike' }))
    send(statement({ campaign_id: 'g-2', spend: '50.00', impressions: 10, conversions: 1 / 3 }))
    send(statement({ campaign_id: 'g-3', spend: '5.00' })) // nothing reported beside spend
    expect(adFigures(totals(all))).toEqual({
      ad_spend: 15_500,
      ad_impressions: 1_010,
      ad_clicks: 25,
      ad_conversions_milli: 2_500 + 333,
      ad_conversion_value: 50_000, // 499.995 → 500.00, half away from zero
    })
    expect(totalsWhere(all, { campaign_id: 'g-1', brand: 'nike', channel: 'google' })).toMatchObject({
      ad_impressions: 1_000,
      ad_clicks: 25,
    })
  })

  it('a restated statement replaces every figure of the one before; an older report changes nothing', () => {
    const { send, all } = setup()
    send(statement({ impressions: 1_000, clicks: 25, conversions: 3, conversion_value: '300.00', reported_at: T }))
    send(statement({ spend: '120.00', impressions: 1_200, clicks: 0, reported_at: T + HOUR }))
    send(statement({ spend: '999.00', impressions: 9, clicks: 9, conversions: 9, reported_at: T + 30 * 60_000 }))
    // Another day of the same campaign stands beside it.
    send(statement({ ts: T + 24 * HOUR, spend: '1.00', clicks: 1, conversion_value: '2.00' }))
    expect(adFigures(totals(all))).toEqual({
      ad_spend: 12_100,
      ad_impressions: 1_200,
      ad_clicks: 1,
      ad_conversions_milli: 0,
      ad_conversion_value: 200,
    })
  })

  it('converts conversion value at the stamped rate; zero-digit currencies round to the unit', () => {
    const { send, all } = setup(jpy)
    send(statement({ spend: '1000', conversion_value: '12.34', currency: 'USD' }), { fx: '150.5' })
    // 12.34 × 150.5 = 1857.17 → 1857
    expect(totals(all)).toMatchObject({ ad_conversion_value: 1857 })
  })

  it('names campaigns by their newest named statement (ts, then reported_at, then arrival)', () => {
    const { send, processor } = setup()
    const names = () => Object.fromEntries([...processor.campaignNames(inr.id)].map(([id, n]) => [id, n.name]))
    send(statement({ campaign_name: 'Spring', reported_at: T }))
    send(statement({ campaign_name: 'Spring sale', reported_at: T + HOUR }))
    send(statement({ campaign_name: 'stale', reported_at: T + 1 })) // an older report: dropped
    send(statement({ ts: T - 24 * HOUR, campaign_name: 'older day', reported_at: T + 2 * HOUR }))
    send(statement({ campaign_id: 'g-2', campaign_name: '' })) // empty: no name
    send(statement({ campaign_id: 'g-3', campaign_name: 'Brand' }))
    send(statement({ campaign_id: 'g-3', campaign_name: 'Brand 2' })) // same ts, same receipt default: later arrival wins
    send(statement({ campaign_id: 'g-3', ts: T + HOUR })) // unnamed: keeps the name
    expect(names()).toEqual({ 'g-1': 'Spring sale', 'g-3': 'Brand 2' })
  })

  it('a tie on ts and reported_at goes to the later arrival', () => {
    const { send, processor } = setup()
    send(statement({ campaign_name: 'A', reported_at: T }))
    send(statement({ campaign_name: 'B', reported_at: T }))
    expect(processor.campaignNames(inr.id).get('g-1')?.name).toBe('B')
  })
})

describe('ad.spend schema', () => {
  const parse = (over: Record<string, unknown>) => event.safeParse(statement(over))
  it('takes the platform figures and a campaign name', () => {
    const ok = parse({ impressions: 5, clicks: 1, conversions: 0.5, conversion_value: '3.10', campaign_name: 'X' })
    expect(ok.success).toBe(true)
    expect(ok.data).toMatchObject({ conversion_value: '3.10', campaign_name: 'X' })
  })
  it.each([
    [{ impressions: -1 }, 'impressions'],
    [{ impressions: 1.5 }, 'impressions'],
    [{ clicks: 'many' }, 'clicks'],
    [{ conversions: -0.5 }, 'conversions'],
    [{ conversion_value: '-1.00' }, 'conversion_value'],
    [{ conversion_value: 'ten' }, 'conversion_value'],
    [{ campaign_name: 'x'.repeat(501) }, 'campaign_name'],
    [{ campaign_name: 7 }, 'campaign_name'],
  ])('refuses %j, naming the field', (over, field) => {
    const result = parse(over)
    expect(result.success).toBe(false)
    expect(result.error?.issues.map((i) => i.path.join('.'))).toContain(field)
  })
})
