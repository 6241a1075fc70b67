import { describe, expect, it } from 'vitest'
import { adsOf, platformFigures } from '../../query/dashboards/ads.ts'
import { formatMinor } from '../../common/money.ts'
import { measuresOf } from '../../stream/measures.ts'
import type { MeasureRow } from '../../stream/kpis.ts'

const r = (dims: Partial<MeasureRow>, values: Parameters<typeof measuresOf>[0]): MeasureRow => ({
  channel: '',
  campaign_id: '',
  city: '',
  brand: '',
  category: '',
  ...dims,
  values: measuresOf(values),
})

/** The platform figures of statements that reported none: zeros, and nulls where they divide. */
const none = (spend: number) => ({
  impressions: 0,
  clicks: 0,
  conversions: 0,
  conversion_value: '0.00',
  ctr: null,
  cpc: null,
  cpm: null,
  cpa: null,
  platform_roas: spend === 0 ? null : 0,
})

// One attributed facebook order (fb1, Pune: a nike shoe and an unbranded bag, its total 120.00
// split 96.00 nike and 24.00 unbranded by their lines, docs/brands.md), one organic order
// (Delhi: a nike shirt), facebook spend on fb1 for nike and on fb2 without a brand.
const rows: MeasureRow[] = [
  r(
    { channel: 'facebook', campaign_id: 'fb1', city: 'Pune', brand: 'nike' },
    { gmv: 9_600, orders: 1, brand_orders: 1, attributed_revenue: 9_600 },
  ),
  r(
    { channel: 'facebook', campaign_id: 'fb1', city: 'Pune' },
    { gmv: 2_400, brand_orders: 1, attributed_revenue: 2_400 },
  ),
  r(
    { channel: 'facebook', campaign_id: 'fb1', city: 'Pune', brand: 'nike', category: 'shoes' },
    { item_revenue: 8_000, item_units: 2 },
  ),
  r(
    { channel: 'facebook', campaign_id: 'fb1', city: 'Pune', category: 'bags' },
    { item_revenue: 2_000, item_units: 1 },
  ),
  r({ channel: 'organic', city: 'Delhi', brand: 'nike' }, { gmv: 5_000, orders: 1, brand_orders: 1 }),
  r({ channel: 'organic', city: 'Delhi', brand: 'nike', category: 'shirts' }, { item_revenue: 4_000, item_units: 1 }),
  r({ channel: 'facebook', campaign_id: 'fb1', city: 'Pune' }, { refunds: 1_000 }),
  r({ channel: 'facebook', campaign_id: 'fb1', brand: 'nike' }, { ad_spend: 3_000 }),
  r({ channel: 'facebook', campaign_id: 'fb2' }, { ad_spend: 1_000 }),
]

describe('ads and brands dashboard', () => {
  it('the whole tenant: attributed revenue against all spend', () => {
    expect(adsOf({ rows, brand: null, digits: 2 })).toEqual({
      brand: null,
      ad_spend: '40.00',
      ad_revenue: '120.00',
      roas: 3,
      ...none(4000),
      by_channel: [{ channel: 'facebook', ad_spend: '40.00', ad_revenue: '120.00', roas: 3, ...none(4000) }],
      by_campaign: [
        {
          campaign_id: 'fb1',
          campaign_name: null,
          channels: ['facebook'],
          ad_spend: '30.00',
          ad_revenue: '120.00',
          roas: 4,
          ...none(3000),
        },
        {
          campaign_id: 'fb2',
          campaign_name: null,
          channels: ['facebook'],
          ad_spend: '10.00',
          ad_revenue: '0.00',
          roas: 0,
          ...none(1000),
        },
      ],
      // A brand's revenue: its share of attributed orders' total (the organic shirt does not count).
      by_brand: [{ brand: 'nike', ad_spend: '30.00', ad_revenue: '96.00', roas: 96 / 30, ...none(3000) }],
      unassigned_ad_spend: '10.00',
      by_city: [
        { city: 'Delhi', revenue: '50.00', ad_revenue: '0.00', units: 1, share: 5_000 / 17_000 },
        { city: 'Pune', revenue: '120.00', ad_revenue: '120.00', units: 3, share: 12_000 / 17_000 },
      ],
      by_category: [
        { category: 'bags', revenue: '20.00', ad_revenue: '20.00', units: 1, share: 2_000 / 14_000 },
        { category: 'shirts', revenue: '40.00', ad_revenue: '0.00', units: 1, share: 4_000 / 14_000 },
        { category: 'shoes', revenue: '80.00', ad_revenue: '80.00', units: 2, share: 8_000 / 14_000 },
      ],
    })
  })

  it('one brand: its share of attributed orders and the statements carrying it, everywhere', () => {
    expect(adsOf({ rows, brand: 'nike', digits: 2 })).toEqual({
      brand: 'nike',
      ad_spend: '30.00',
      ad_revenue: '96.00',
      roas: 96 / 30,
      ...none(3000),
      by_channel: [{ channel: 'facebook', ad_spend: '30.00', ad_revenue: '96.00', roas: 96 / 30, ...none(3000) }],
      by_campaign: [
        {
          campaign_id: 'fb1',
          campaign_name: null,
          channels: ['facebook'],
          ad_spend: '30.00',
          ad_revenue: '96.00',
          roas: 96 / 30,
          ...none(3000),
        },
      ],
      by_brand: [{ brand: 'nike', ad_spend: '30.00', ad_revenue: '96.00', roas: 96 / 30, ...none(3000) }],
      unassigned_ad_spend: '0.00',
      // Revenue by city: the brand's share of its orders' GMV.
      by_city: [
        { city: 'Delhi', revenue: '50.00', ad_revenue: '0.00', units: 1, share: 5_000 / 14_600 },
        { city: 'Pune', revenue: '96.00', ad_revenue: '96.00', units: 2, share: 9_600 / 14_600 },
      ],
      by_category: [
        { category: 'shirts', revenue: '40.00', ad_revenue: '0.00', units: 1, share: 4_000 / 12_000 },
        { category: 'shoes', revenue: '80.00', ad_revenue: '80.00', units: 2, share: 8_000 / 12_000 },
      ],
    })
  })

  it('a brand with nothing is all zeros and nulls', () => {
    expect(adsOf({ rows, brand: 'puma', digits: 2 })).toMatchObject({
      ad_spend: '0.00',
      ad_revenue: '0.00',
      roas: null,
      by_channel: [],
      by_campaign: [],
      by_brand: [],
      by_city: [],
      by_category: [],
    })
  })

  it('platform figures: sums per channel, campaign and brand, ratios and rounded money, names', () => {
    const platformRows: MeasureRow[] = [
      // fb1 on facebook and instagram, fb2 on facebook with no clicks, g1 on google with nothing reported.
      r(
        { channel: 'facebook', campaign_id: 'fb1', brand: 'nike' },
        {
          ad_spend: 1_001,
          ad_impressions: 3_000,
          ad_clicks: 7,
          ad_conversions_milli: 2_500,
          ad_conversion_value: 5_000,
        },
      ),
      r(
        { channel: 'instagram', campaign_id: 'fb1', brand: 'nike' },
        { ad_spend: 500, ad_impressions: 1_000, ad_clicks: 3, ad_conversions_milli: 500, ad_conversion_value: 1_000 },
      ),
      r({ channel: 'facebook', campaign_id: 'fb2' }, { ad_spend: 333, ad_impressions: 90 }),
      r({ channel: 'google', campaign_id: 'g1' }, { ad_spend: 250 }),
      // Impressions without spend still show the campaign.
      r({ channel: 'google', campaign_id: 'g2' }, { ad_impressions: 10 }),
      r(
        { channel: 'facebook', campaign_id: 'fb1', city: 'Pune' },
        { gmv: 9_000, orders: 1, attributed_revenue: 9_000 },
      ),
    ]
    const names = new Map([
      ['fb1', { name: 'Spring sale' }],
      ['g9', { name: 'elsewhere' }],
    ])
    const out = adsOf({ rows: platformRows, brand: null, digits: 2, campaignNames: names })
    expect(out).toMatchObject({
      ad_spend: '20.84',
      impressions: 4_100,
      clicks: 10,
      conversions: 3,
      conversion_value: '60.00',
      ctr: 10 / 4_100,
      cpc: '2.08', // 20.84 / 10 = 2.084
      cpm: '5.08', // 2084 × 1000 / 4100 = 508.29… cents
      cpa: '6.95', // 2084 / 3 = 694.67 cents
      platform_roas: 6_000 / 2_084,
      roas: 9_000 / 2_084,
    })
    expect(out.by_channel).toEqual([
      {
        channel: 'facebook',
        ad_spend: '13.34',
        ad_revenue: '90.00',
        roas: 9_000 / 1_334,
        impressions: 3_090,
        clicks: 7,
        conversions: 2.5,
        conversion_value: '50.00',
        ctr: 7 / 3_090,
        cpc: '1.91', // 1334 / 7 = 190.57
        cpm: '4.32', // 1334000 / 3090 = 431.72
        cpa: '5.34', // 1334 / 2.5 = 533.6
        platform_roas: 5_000 / 1_334,
      },
      {
        channel: 'google',
        ad_spend: '2.50',
        ad_revenue: '0.00',
        roas: 0,
        ...none(250),
        impressions: 10,
        ctr: 0,
        cpm: '250.00',
      },
      {
        channel: 'instagram',
        ad_spend: '5.00',
        ad_revenue: '0.00',
        roas: 0,
        impressions: 1_000,
        clicks: 3,
        conversions: 0.5,
        conversion_value: '10.00',
        ctr: 0.003,
        cpc: '1.67', // 500 / 3 = 166.67
        cpm: '5.00',
        cpa: '10.00',
        platform_roas: 2,
      },
    ])
    expect(out.by_campaign.map((c) => [c.campaign_id, c.campaign_name, c.channels, c.cpc, c.cpm])).toEqual([
      ['fb1', 'Spring sale', ['facebook', 'instagram'], '1.50', '3.75'], // 1501 / 10 = 150.1; 1501000 / 4000 = 375.25
      ['fb2', null, ['facebook'], null, '37.00'], // 333000 / 90 = 3700 cents
      ['g1', null, ['google'], null, null],
      ['g2', null, ['google'], null, '0.00'],
    ])
    expect(out.by_brand).toMatchObject([{ brand: 'nike', ad_spend: '15.01', impressions: 4_000, conversions: 3 }])
    // One brand: the statements carrying it.
    expect(adsOf({ rows: platformRows, brand: 'nike', digits: 2, campaignNames: names })).toMatchObject({
      ad_spend: '15.01',
      impressions: 4_000,
      clicks: 10,
      cpa: '5.00', // 1501 / 3 = 500.33
    })
  })

  it('platformFigures rounds money half away from zero and keeps conversions to the thousandth', () => {
    const money = (minor: number) => formatMinor(minor, 2)
    // 5 cents over 2 clicks: 2.5 → 3; over 2,000 impressions × 1000: 2.5 → 3; over 0.125 conversions: 40.
    expect(
      platformFigures(5, { impressions: 2_000, clicks: 2, conversionsMilli: 125, conversionValue: 7 }, money),
    ).toEqual({
      impressions: 2_000,
      clicks: 2,
      conversions: 0.125,
      conversion_value: '0.07',
      ctr: 0.001,
      cpc: '0.03',
      cpm: '0.03',
      cpa: '0.40',
      platform_roas: 1.4,
    })
    expect(platformFigures(0, { impressions: 0, clicks: 0, conversionsMilli: 0, conversionValue: 0 }, money)).toEqual({
      ...none(0),
    })
    // Zero-digit currencies round to the unit.
    expect(
      platformFigures(10, { impressions: 3, clicks: 4, conversionsMilli: 3_000, conversionValue: 0 }, (m) =>
        formatMinor(m, 0),
      ),
    ).toMatchObject({
      cpc: '3', // 2.5 → 3
      cpm: '3333',
      cpa: '3',
      platform_roas: 0,
    })
  })
})
