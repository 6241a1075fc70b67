// The ads and brands dashboard, pure: ad spend, ad-driven revenue and ROAS overall, per
// channel, per campaign and per brand, and revenue by city and by category, optionally for one brand.
//
// Ad-driven revenue is attributed revenue (Σ total of non-organic orders); for one brand (and per
// brand) the brand's share of those totals (docs/brands.md), so a brand's ROAS is one number
// everywhere. Spend per brand is Σ spend of the statements carrying it; spend carrying no brand is
// reported as unassigned, never spread (docs/metrics.md).
//
// The rows are read with `brand=` already applied (the service filters them); `brand` names it.
//
// Beside them, what the platforms report on the same statements (impressions, clicks, conversions,
// conversion value) and the figures made of them: CTR, CPC, CPM, CPA and the platform's ROAS.
import type { MeasureRow, Measures } from '../../stream/index.ts'
import { get } from '../../stream/index.ts'
import { byName, moneyOf, mulDiv, ratio } from './shared.ts'

export interface AdsInput {
  /** Rows grouped by channel, campaign_id, city, brand and category over the range. */
  rows: MeasureRow[]
  brand: string | null
  digits: number
  /** Campaign names by campaign_id where the source gave one (the newest wins). */
  campaignNames?: ReadonlyMap<string, { name: string }>
}

/** Platform-reported sums of some statements: counts, conversions in thousandths, value in minor units. */
export interface Platform {
  impressions: number
  clicks: number
  conversionsMilli: number
  conversionValue: number
}

const newPlatform = (): Platform => ({ impressions: 0, clicks: 0, conversionsMilli: 0, conversionValue: 0 })

function addPlatform(target: Platform, values: Measures): void {
  target.impressions += get(values, 'ad_impressions')
  target.clicks += get(values, 'ad_clicks')
  target.conversionsMilli += get(values, 'ad_conversions_milli')
  target.conversionValue += get(values, 'ad_conversion_value')
}

/**
 * The platform figures of spend (minor units) and its statements' sums (docs/metrics.md, "Ad
 * metrics"): money rounded half away from zero to the minor unit, ratios unrounded, null when the
 * divisor is 0.
 */
export function platformFigures(spend: number, p: Platform, money: (minor: number) => string) {
  const moneyPer = (times: number, divisor: number) => (divisor === 0 ? null : money(mulDiv(spend, times, divisor)))
  return {
    impressions: p.impressions,
    clicks: p.clicks,
    conversions: p.conversionsMilli / 1000,
    conversion_value: money(p.conversionValue),
    ctr: ratio(p.clicks, p.impressions),
    cpc: moneyPer(1, p.clicks),
    cpm: moneyPer(1000, p.impressions),
    cpa: moneyPer(1000, p.conversionsMilli),
    platform_roas: ratio(p.conversionValue, spend),
  }
}

interface Acc {
  spend: number
  adRevenue: number
  revenue: number
  units: number
  channels: Set<string>
  platform: Platform
}

const newAcc = (): Acc => ({
  spend: 0,
  adRevenue: 0,
  revenue: 0,
  units: 0,
  channels: new Set(),
  platform: newPlatform(),
})
const reports = (values: Measures) =>
  get(values, 'ad_impressions') !== 0 ||
  get(values, 'ad_clicks') !== 0 ||
  get(values, 'ad_conversions_milli') !== 0 ||
  get(values, 'ad_conversion_value') !== 0
const hasPlatform = (p: Platform) =>
  p.impressions !== 0 || p.clicks !== 0 || p.conversionsMilli !== 0 || p.conversionValue !== 0

export function adsOf(input: AdsInput) {
  const { brand } = input
  const money = moneyOf(input.digits)
  const rows = brand === null ? input.rows : input.rows.filter((r) => r.brand === brand)
  const attributedItems = (r: MeasureRow) => (r.channel === 'organic' ? 0 : get(r.values, 'item_revenue'))
  const adRevenueOf = (r: MeasureRow) => get(r.values, 'attributed_revenue')
  // Revenue by city: GMV, for one brand its share of it.
  const cityRevenueOf = (r: MeasureRow) => get(r.values, 'gmv')
  let unassignedSpend = 0

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
    addPlatform(total.platform, r.values)
    const channel = at(channels, r.channel)
    channel.spend += spend
    channel.adRevenue += adRevenue
    addPlatform(channel.platform, r.values)
    const campaign = at(campaigns, r.campaign_id)
    campaign.spend += spend
    campaign.adRevenue += adRevenue
    addPlatform(campaign.platform, r.values)
    if (spend !== 0 || adRevenue !== 0 || reports(r.values)) campaign.channels.add(r.channel ?? '')
    const b = at(brands, r.brand)
    b.spend += spend
    b.adRevenue += adRevenue
    if (!r.brand) unassignedSpend += spend
    addPlatform(b.platform, r.values)
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
  const hasAds = (a: Acc) => a.spend !== 0 || a.adRevenue !== 0 || hasPlatform(a.platform)
  const hasSales = (a: Acc) => a.revenue !== 0 || a.adRevenue !== 0 || a.units !== 0
  const ads = (a: Acc) => ({
    ad_spend: money(a.spend),
    ad_revenue: money(a.adRevenue),
    roas: ratio(a.adRevenue, a.spend),
    ...platformFigures(a.spend, a.platform, money),
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
      campaign_name: input.campaignNames?.get(campaign_id)?.name ?? null,
      channels: [...a.channels].sort(byName),
      ...ads(a),
    })),
    by_brand: named(brands, hasAds).map(([name, a]) => ({ brand: name, ...ads(a) })),
    /** Spend of statements carrying no brand: never spread over brands. */
    unassigned_ad_spend: money(unassignedSpend),
    by_city: named(cities, hasSales).map(([city, a]) => ({ city, ...sales(a, cityTotal) })),
    by_category: named(categories, hasSales).map(([category, a]) => ({ category, ...sales(a, categoryTotal) })),
  }
}
