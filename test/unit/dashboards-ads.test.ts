import { describe, expect, it } from 'vitest'
import { adsOf } from '../../query/dashboards/ads.ts'
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

// One attributed facebook order (fb1, Pune: a nike shoe and an unbranded bag), one organic order
// (Delhi: a nike shirt), facebook spend on fb1 for nike and on fb2 without a brand.
const rows: MeasureRow[] = [
  r({ channel: 'facebook', campaign_id: 'fb1', city: 'Pune' }, { gmv: 12_000, orders: 1, attributed_revenue: 12_000 }),
  r(
    { channel: 'facebook', campaign_id: 'fb1', city: 'Pune', brand: 'nike', category: 'shoes' },
    { item_revenue: 8_000, item_units: 2 },
  ),
  r(
    { channel: 'facebook', campaign_id: 'fb1', city: 'Pune', category: 'bags' },
    { item_revenue: 2_000, item_units: 1 },
  ),
  r({ channel: 'organic', city: 'Delhi' }, { gmv: 5_000, orders: 1 }),
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
      by_channel: [{ channel: 'facebook', ad_spend: '40.00', ad_revenue: '120.00', roas: 3 }],
      by_campaign: [
        { campaign_id: 'fb1', channels: ['facebook'], ad_spend: '30.00', ad_revenue: '120.00', roas: 4 },
        { campaign_id: 'fb2', channels: ['facebook'], ad_spend: '10.00', ad_revenue: '0.00', roas: 0 },
      ],
      // A brand's revenue: its items in attributed orders only (the organic shirt does not count).
      by_brand: [{ brand: 'nike', ad_spend: '30.00', ad_revenue: '80.00', roas: 80 / 30 }],
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

  it('one brand: its items and the statements carrying it, everywhere', () => {
    expect(adsOf({ rows, brand: 'nike', digits: 2 })).toEqual({
      brand: 'nike',
      ad_spend: '30.00',
      ad_revenue: '80.00',
      roas: 80 / 30,
      by_channel: [{ channel: 'facebook', ad_spend: '30.00', ad_revenue: '80.00', roas: 80 / 30 }],
      by_campaign: [
        { campaign_id: 'fb1', channels: ['facebook'], ad_spend: '30.00', ad_revenue: '80.00', roas: 80 / 30 },
      ],
      by_brand: [{ brand: 'nike', ad_spend: '30.00', ad_revenue: '80.00', roas: 80 / 30 }],
      by_city: [
        { city: 'Delhi', revenue: '40.00', ad_revenue: '0.00', units: 1, share: 4_000 / 12_000 },
        { city: 'Pune', revenue: '80.00', ad_revenue: '80.00', units: 2, share: 8_000 / 12_000 },
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
})
