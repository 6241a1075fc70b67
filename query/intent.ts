// The intent dashboard (docs/metrics.md, "Intent"), pure: each tracked customer's intent reading at the query time
// in; users by level, the high-intent list and revenue opportunity by category out.
import { divideMinor, formatMinor } from '../common/money.ts'

export const LEVELS = ['high', 'medium', 'low'] as const
export type IntentLevel = (typeof LEVELS)[number]

export interface IntentThresholds {
  high: number
  medium: number
}

/** One tracked customer (any event before the query time) at the query time. */
export interface IntentRow {
  customerId: string
  /** Decayed score, already rounded to 6 decimals. */
  score: number
  /** Category of largest decayed weight; '' when no shopper event had one. */
  category: string
  /** Shopper events counted. */
  events: number
  /** City of the customer's orders; '' when unknown. */
  location: string
  /** Orders before the query time and Σ their totals (minor units). */
  orders: number
  monetary: number
}

export interface HighIntentUser extends Omit<IntentRow, 'monetary'> {
  /** Mean order total, else the tenant's recent AOV; null when neither exists. Minor units. */
  estimatedSpend: number | null
}

export interface IntentSummary {
  usersTracked: number
  byLevel: Record<IntentLevel, number>
  /** Score descending, then customer_id ascending. */
  high: HighIntentUser[]
  /** Estimated spend descending, then category ascending. */
  opportunity: { category: string; users: number; estimatedSpend: number }[]
}

export function levelOf(score: number, t: IntentThresholds): IntentLevel {
  return score >= t.high ? 'high' : score >= t.medium ? 'medium' : 'low'
}

/** `fallbackSpend`: the estimated spend of a customer with no orders (the tenant's AOV over the last 90 days). */
export function summarizeIntent(
  rows: Iterable<IntentRow>,
  thresholds: IntentThresholds,
  fallbackSpend: number | null,
): IntentSummary {
  const summary = intentSummarizer(thresholds, fallbackSpend)
  for (const row of rows) summary.add(row)
  return summary.finish()
}

/** summarizeIntent one row at a time, for loops that yield between rows. */
export function intentSummarizer(thresholds: IntentThresholds, fallbackSpend: number | null) {
  const byLevel: Record<IntentLevel, number> = { high: 0, medium: 0, low: 0 }
  const high: HighIntentUser[] = []
  let usersTracked = 0
  return {
    add(row: IntentRow): void {
      usersTracked++
      const level = levelOf(row.score, thresholds)
      byLevel[level]++
      if (level !== 'high') return
      const estimatedSpend = row.orders > 0 ? divideMinor(row.monetary, row.orders) : fallbackSpend
      high.push({
        customerId: row.customerId,
        score: row.score,
        category: row.category,
        events: row.events,
        location: row.location,
        orders: row.orders,
        estimatedSpend,
      })
    },
    finish(): IntentSummary {
      high.sort((a, b) => b.score - a.score || (a.customerId < b.customerId ? -1 : a.customerId > b.customerId ? 1 : 0))
      const byCategory = new Map<string, { category: string; users: number; estimatedSpend: number }>()
      for (const user of high) {
        let entry = byCategory.get(user.category)
        if (!entry) byCategory.set(user.category, (entry = { category: user.category, users: 0, estimatedSpend: 0 }))
        entry.users++
        entry.estimatedSpend += user.estimatedSpend ?? 0
      }
      const opportunity = [...byCategory.values()].sort(
        (a, b) =>
          b.estimatedSpend - a.estimatedSpend || (a.category < b.category ? -1 : a.category > b.category ? 1 : 0),
      )
      return { usersTracked, byLevel, high, opportunity }
    },
  }
}

export interface IntentPage {
  /** Only high-intent users of this category ('' or absent: all). */
  category?: string
  page: number
  pageSize: number
}

const money = (minor: number | null, digits: number) => (minor === null ? null : formatMinor(minor, digits))

/** The dashboard's JSON: counts by level, one page of the high-intent list, opportunity by category. */
export function intentDashboard(summary: IntentSummary, digits: number, page: IntentPage) {
  const listed = page.category ? summary.high.filter((u) => u.category === page.category) : summary.high
  const start = (page.page - 1) * page.pageSize
  return {
    users_tracked: summary.usersTracked,
    users_by_level: summary.byLevel,
    high_intent_users: {
      category: page.category || null,
      page: page.page,
      page_size: page.pageSize,
      total: listed.length,
      users: listed.slice(start, start + page.pageSize).map((u) => ({
        customer_id: u.customerId,
        category: u.category || null,
        score: u.score,
        events: u.events,
        location: u.location || null,
        orders: u.orders,
        estimated_spend: money(u.estimatedSpend, digits),
      })),
    },
    revenue_opportunity: summary.opportunity.map((o) => ({
      category: o.category || null,
      users: o.users,
      estimated_spend: formatMinor(o.estimatedSpend, digits),
    })),
  }
}
