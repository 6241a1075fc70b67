// The ads and brands dashboard, pure: ad spend, ad-driven revenue and ROAS overall, per
// channel, per campaign and per brand, and revenue by city and by category, optionally for one brand.
//
// Without a brand, ad-driven revenue is attributed revenue (Σ total of non-organic orders). For one
// brand (and always per brand) it is Σ price × quantity of the brand's items in attributed orders,
// and spend is Σ spend of the statements carrying that brand (docs/metrics.md).
import type { MeasureRow } from '../../stream/index.ts'
import { get } from '../../stream/index.ts'
import { byName, moneyOf, ratio } from './shared.ts'

export interface AdsInput {
  /** Rows grouped by channel, campaign_id, city, brand and category over the range. */
  rows: MeasureRow[]
  brand: string | null
  digits: number
}

interface Acc {
  spend: number
  adRevenue: number
  revenue: number
  units: number
  channels: Set<string>
}

const newAcc = (): Acc => ({ spend: 0, adRevenue: 0, revenue: 0, units: 0, channels: new Set() })

export function adsOf(input: AdsInput) {
  const { brand } = input
  const money = moneyOf(input.digits)
  const rows = brand === null ? input.rows : input.rows.filter((r) => r.brand === brand)
  const attributedItems = (r: MeasureRow) => (r.channel === 'organic' ? 0 : get(r.values, 'item_revenue'))
  const adRevenueOf = (r: MeasureRow) => (brand === null ? get(r.values, 'attributed_revenue') : attributedItems(r))
  // Revenue by city: GMV for the whole tenant, the brand's item revenue for one brand.
  const cityRevenueOf = (r: MeasureRow) => (brand === null ? get(r.values, 'gmv') : get(r.values, 'item_revenue'))

  const total = newAcc()
  const channels = new Map<string, Acc>()
  const campaigns = new Map<string, Acc>()
  const brands = new Map<string, Acc>()
  const cities = new Map<string, Acc>()
  const categories = new Map<string, Acc>()
  const at = (map: Map<string, Acc>, key: string | undefined) => {
    let acc = map.get(key ?? '')
    if (!acc) map.set(key ?? '', (acc = newAcc()))
    return acc
  }
  let cityTotal = 0
  let categoryTotal = 0
  for (const r of rows) {
    const spend = get(r.values, 'ad_spend')
    const adRevenue = adRevenueOf(r)
    const units = get(r.values, 'item_units')
    total.spend += spend
    total.adRevenue += adRevenue
    const channel = at(channels, r.channel)
    channel.spend += spend
    channel.adRevenue += adRevenue
    const campaign = at(campaigns, r.campaign_id)
    campaign.spend += spend
    campaign.adRevenue += adRevenue
    if (spend !== 0 || adRevenue !== 0) campaign.channels.add(r.channel ?? '')
    const b = at(brands, r.brand)
    b.spend += spend
    b.adRevenue += attributedItems(r)
    const city = at(cities, r.city)
    city.revenue += cityRevenueOf(r)
    city.adRevenue += adRevenue
    city.units += units
    cityTotal += cityRevenueOf(r)
    const category = at(categories, r.category)
    category.revenue += get(r.values, 'item_revenue')
    category.adRevenue += attributedItems(r)
    category.units += units
    categoryTotal += get(r.values, 'item_revenue')
  }

  const named = (map: Map<string, Acc>, keep: (a: Acc) => boolean) =>
    [...map].filter(([name, a]) => name !== '' && keep(a)).sort(([a], [b]) => byName(a, b))
  const hasAds = (a: Acc) => a.spend !== 0 || a.adRevenue !== 0
  const hasSales = (a: Acc) => a.revenue !== 0 || a.adRevenue !== 0 || a.units !== 0
  const ads = (a: Acc) => ({
    ad_spend: money(a.spend),
    ad_revenue: money(a.adRevenue),
    roas: ratio(a.adRevenue, a.spend),
  })
  const sales = (a: Acc, whole: number) => ({
    revenue: money(a.revenue),
    ad_revenue: money(a.adRevenue),
    units: a.units,
    share: ratio(a.revenue, whole),
  })
  return {
    brand,
    ...ads(total),
    by_channel: named(channels, hasAds).map(([channel, a]) => ({ channel, ...ads(a) })),
    by_campaign: named(campaigns, hasAds).map(([campaign_id, a]) => ({
      campaign_id,
      channels: [...a.channels].sort(byName),
      ...ads(a),
    })),
    by_brand: named(brands, hasAds).map(([name, a]) => ({ brand: name, ...ads(a) })),
    by_city: named(cities, hasSales).map(([city, a]) => ({ city, ...sales(a, cityTotal) })),
    by_category: named(categories, hasSales).map(([category, a]) => ({ category, ...sales(a, categoryTotal) })),
  }
}
