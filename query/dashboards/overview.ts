// The master (overview) dashboard, pure: GMV, attributed revenue and its share, users
// tracked, high-intent users, and the platform's own revenue from the tenant (retainer, ad
// commission, high-intent premium).
import { DateTime } from 'luxon'
import type { Settings } from '../../common/settings.ts'
import { toMinor } from '../../common/money.ts'
import { type CustomerStore, get, sumRows, zeroMeasures } from '../../stream/index.ts'
import { type BinRow, moneyOf, mulDiv, ratio, timesRates } from './shared.ts'

interface Split {
  highIntent: number
  attributed: number
  spend: number
}

/**
 * Ad spend on high-intent purchases over tenant-local days. Each attributed order of a high-intent
 * customer takes its share of its campaign's attributed revenue that day times the campaign's ad
 * spend that day; an order without a campaign takes its share of its channel's attributed revenue
 * (all of the channel's attributed orders that day) times the channel's ad spend that day (every
 * statement of that platform). Summed per (day, campaign) and (day, channel), each term rounded
 * half away from zero to the minor unit.
 *
 * `rows`: bins of one tenant-local day ('1d'), grouped by channel and campaign_id.
 */
export function highIntentAdSpend(rows: Iterable<BinRow>): number {
  const campaigns = new Map<string, Split>()
  const channels = new Map<string, Split>()
  const at = (map: Map<string, Split>, key: string) => {
    let s = map.get(key)
    if (!s) map.set(key, (s = { highIntent: 0, attributed: 0, spend: 0 }))
    return s
  }
  for (const row of rows) {
    const highIntent = get(row.values, 'high_intent_revenue')
    const attributed = get(row.values, 'attributed_revenue')
    const spend = get(row.values, 'ad_spend')
    const channel = at(channels, `${row.bin}|${row.channel ?? ''}`)
    channel.attributed += attributed
    channel.spend += spend
    if (row.campaign_id) {
      const campaign = at(campaigns, `${row.bin}|${row.campaign_id}`)
      campaign.highIntent += highIntent
      campaign.attributed += attributed
      campaign.spend += spend
    } else {
      channel.highIntent += highIntent
    }
  }
  let total = 0
  for (const s of [...campaigns.values(), ...channels.values()])
    if (s.highIntent !== 0 && s.attributed !== 0) total += mulDiv(s.highIntent, s.spend, s.attributed)
  return total
}

/** The tenant-local calendar months (YYYY-MM) that [from, to) touches. */
export function monthsTouched(from: number, to: number, timezone: string): string[] {
  const months: string[] = []
  const last = DateTime.fromMillis(to - 1, { zone: timezone }).startOf('month')
  for (let m = DateTime.fromMillis(from, { zone: timezone }).startOf('month'); m <= last; m = m.plus({ months: 1 }))
    months.push(m.toFormat('yyyy-MM'))
  return months
}

export interface PlatformRevenueInput {
  fees: Settings['fees']
  months: string[]
  adSpend: number
  highIntentAdSpend: number
  digits: number
}

/** Retainer once per month touched + commission on ad spend + premium on high-intent ad spend. */
export function platformRevenue(p: PlatformRevenueInput) {
  const money = moneyOf(p.digits)
  const retainer = toMinor(p.fees.monthly_retainer, p.digits) * p.months.length
  const commission = timesRates(p.adSpend, p.fees.ad_commission_rate)
  const premium = timesRates(p.highIntentAdSpend, p.fees.high_intent_premium_rate, p.fees.high_intent_spend_share)
  return {
    total: money(retainer + commission + premium),
    monthly_retainer: {
      per_month: money(toMinor(p.fees.monthly_retainer, p.digits)),
      months: p.months,
      amount: money(retainer),
    },
    ad_commission: { rate: p.fees.ad_commission_rate, ad_spend: money(p.adSpend), amount: money(commission) },
    high_intent_premium: {
      premium_rate: p.fees.high_intent_premium_rate,
      spend_share: p.fees.high_intent_spend_share,
      high_intent_ad_spend: money(p.highIntentAdSpend),
      amount: money(premium),
    },
  }
}

export interface OverviewInput {
  /** '1d' bins grouped by channel and campaign_id. */
  rows: BinRow[]
  fees: Settings['fees']
  months: string[]
  usersTracked: number
  highIntentUsers: number
  digits: number
}

export function overviewOf(input: OverviewInput) {
  const money = moneyOf(input.digits)
  const total = sumRows(input.rows).get('') ?? zeroMeasures()
  const gmv = get(total, 'gmv')
  const attributed = get(total, 'attributed_revenue')
  const adSpend = get(total, 'ad_spend')
  const hiSpend = highIntentAdSpend(input.rows)
  return {
    gmv: money(gmv),
    orders: get(total, 'orders'),
    attributed_revenue: money(attributed),
    attributed_share: ratio(attributed, gmv),
    high_intent_revenue: money(get(total, 'high_intent_revenue')),
    ad_spend: money(adSpend),
    users_tracked: input.usersTracked,
    high_intent_users: input.highIntentUsers,
    platform_revenue: platformRevenue({
      fees: input.fees,
      months: input.months,
      adSpend,
      highIntentAdSpend: hiSpend,
      digits: input.digits,
    }),
  }
}

/** Customers whose intent score at `at` reaches the tenant's `high` threshold (docs/metrics.md, "Intent"). */
export function countHighIntent(customers: CustomerStore, at: number, intent: Settings['intent']): number {
  const halfLifeMs = intent.half_life_hours * 3_600_000
  let n = 0
  for (let i = 0; i < customers.size(); i++) if (customers.intent(i, at, halfLifeMs).score >= intent.high) n++
  return n
}
