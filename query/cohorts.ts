// Cohorts, LTV, CAC and payback (docs/metrics.md, "Cohorts, LTV, CAC and payback"), pure: the
// order index and ad spend rows in, figures out, no I/O. A customer's first order is decided here,
// at read time, from the orders the index holds now (as stream/customer-groups.ts does), so an
// edit that moves an order to another customer moves both customers' cohorts at once.
import { DateTime } from 'luxon'
import { divideMinor, formatMinor } from '../common/money.ts'
import type { OrderIndex } from '../stream/index.ts'
import { byName } from './dashboards/shared.ts'
import { type Steps, YIELD_EVERY } from './steps.ts'

export const COHORT_PERIODS = ['month', 'week'] as const
export type CohortPeriod = (typeof COHORT_PERIODS)[number]
export const COHORT_METRICS = ['customers', 'orders', 'revenue', 'gross_profit'] as const
export type CohortMetric = (typeof COHORT_METRICS)[number]
/** Days after a customer's first order over which LTV is summed (24-hour days from its instant). */
export const LTV_HORIZON_DAYS = [30, 60, 90, 180, 365] as const

const DAY_MS = 86_400_000

/** What of the order index cohorts read. */
export type CohortOrders = Pick<
  OrderIndex,
  'customerBound' | 'ordersOf' | 'windowTs' | 'placeOf' | 'money' | 'rfmFigures' | 'forEachRefund'
>

/**
 * Tenant-local days and periods (calendar months, or weeks from Monday) from the first cohort's
 * start until every instant before max(to, as_of) is covered. The first `cohorts` periods are the
 * cohorts: every period the range [from, to) touches, whole.
 */
export interface CohortCalendar {
  by: CohortPeriod
  /** Start of each day, then the end of the last (length days + 1). */
  dayStarts: Float64Array
  /** YYYY-MM-DD of each day. */
  dayKeys: string[]
  /** Index of the period holding each day. */
  dayPeriod: Int32Array
  /** Index of each period's first day, then the number of days (length periods + 1). */
  periodFirstDay: number[]
  /** `2026-01` for a month, the Monday `2026-01-05` for a week. */
  periodKeys: string[]
  /** Each period's start with the tenant's offset. */
  periodTs: string[]
  cohorts: number
}

export function cohortCalendar(
  timezone: string,
  by: CohortPeriod,
  from: number,
  to: number,
  asOf: number,
): CohortCalendar {
  const periodStart = (ms: number) => DateTime.fromMillis(ms, { zone: timezone }).startOf(by)
  const lastCohort = periodStart(to - 1).toMillis()
  const until = Math.max(to, asOf)
  const dayStarts: number[] = []
  const dayKeys: string[] = []
  const dayPeriod: number[] = []
  const periodFirstDay: number[] = []
  const periodKeys: string[] = []
  const periodTs: string[] = []
  let cohorts = 0
  let end = from
  for (let period = periodStart(from); period.toMillis() < until; period = period.plus({ [by]: 1 })) {
    if (period.toMillis() <= lastCohort) cohorts++
    const next = period.plus({ [by]: 1 }).toMillis()
    end = next
    periodFirstDay.push(dayKeys.length)
    periodKeys.push(by === 'month' ? period.toFormat('yyyy-MM') : period.toISODate()!)
    periodTs.push(period.toISO({ suppressMilliseconds: true })!)
    for (let day = period; day.toMillis() < next; day = day.plus({ days: 1 })) {
      dayStarts.push(day.toMillis())
      dayKeys.push(day.toISODate()!)
      dayPeriod.push(periodKeys.length - 1)
    }
  }
  dayStarts.push(end)
  periodFirstDay.push(dayKeys.length)
  return {
    by,
    dayStarts: Float64Array.from(dayStarts),
    dayKeys,
    dayPeriod: Int32Array.from(dayPeriod),
    periodFirstDay,
    periodKeys,
    periodTs,
    cohorts,
  }
}

/** The calendar day holding `ts`, or −1 outside the calendar. */
export function dayIndexOf(calendar: CohortCalendar, ts: number): number {
  const starts = calendar.dayStarts
  if (ts < starts[0] || ts >= starts[starts.length - 1]) return -1
  let a = 0
  let b = starts.length - 2
  while (a < b) {
    const mid = (a + b + 1) >> 1
    if (starts[mid] <= ts) a = mid
    else b = mid - 1
  }
  return a
}

/** Some of a cohort's customers (all, or those of one channel) and what their orders brought. */
export interface Acquired {
  customers: number
  /** Σ net sales of their orders before each horizon (LTV_HORIZON_DAYS) after their first order, minor units. */
  revenueWithin: number[]
  grossProfitWithin: number[]
  /** Σ gross profit of their orders by calendar day of the order. */
  grossProfitByDay: Map<number, number>
}

/** One cohort's retention matrix: index k is period k after the cohort's (0: its own). */
export interface CohortCells {
  customers: number[]
  orders: number[]
  revenue: number[]
  grossProfit: number[]
}

export interface CohortFacts {
  calendar: CohortCalendar
  asOf: number
  /** Per cohort. */
  cells: CohortCells[]
  all: Acquired[]
  /** Per cohort: by the channel of the customer's first order. */
  byChannel: Map<string, Acquired>[]
}

const acquired = (): Acquired => ({
  customers: 0,
  revenueWithin: LTV_HORIZON_DAYS.map(() => 0),
  grossProfitWithin: LTV_HORIZON_DAYS.map(() => 0),
  grossProfitByDay: new Map(),
})

/**
 * Every customer whose first order (the earliest window of the orders the index holds for them,
 * cancelled or not; a tie: the order seen first) lies before as_of and in a cohort period, with
 * their orders before as_of. An order brings its net sales (subtotal − the merchandise part of its
 * refunds made before as_of, to the minute) and its gross profit (that − COGS) to the period and
 * day of its own window. Guests have no customer and are in no cohort.
 */
export function* cohortFactsSteps(orders: CohortOrders, calendar: CohortCalendar, asOf: number): Steps<CohortFacts> {
  const { dayPeriod, periodFirstDay } = calendar
  const periodsTotal = periodFirstDay.length - 1
  // The last period with data: the one holding the last instant before as_of.
  const lastDay = dayIndexOf(calendar, asOf - 1)
  const lastPeriod = lastDay >= 0 ? dayPeriod[lastDay] : -1
  const cells: CohortCells[] = []
  for (let i = 0; i < calendar.cohorts; i++) {
    const n = Math.max(0, lastPeriod - i + 1)
    const zeros = () => new Array<number>(n).fill(0)
    cells.push({ customers: zeros(), orders: zeros(), revenue: zeros(), grossProfit: zeros() })
  }
  const all = cells.map(acquired)
  const byChannel = cells.map(() => new Map<string, Acquired>())
  const cohortsEnd = calendar.dayStarts[periodFirstDay[calendar.cohorts]]
  // Which period offsets the current customer has been counted in (customer index + 1).
  const countedFor = new Int32Array(Math.max(1, periodsTotal))
  // The merchandise part of an order's refunds made before as_of (to the minute), summed without
  // a closure per order.
  let refunded = 0
  const addRefund = (minute: number, _amount: number, subtotal: number) => {
    if (minute < asOf) refunded += subtotal
  }
  // The current customer's orders (their chain is walked once).
  const slots: number[] = []
  const customers = orders.customerBound()
  for (let c = 0; c < customers; c++) {
    if ((c + 1) % YIELD_EVERY === 0) yield
    let first = Number.POSITIVE_INFINITY
    let firstSlot = -1
    slots.length = 0
    for (const slot of orders.ordersOf(c)) {
      slots.push(slot)
      const ts = orders.windowTs(slot)
      if (ts < first || (ts === first && slot < firstSlot)) {
        first = ts
        firstSlot = slot
      }
    }
    if (first >= asOf || first >= cohortsEnd || first < calendar.dayStarts[0]) continue
    const cohort = dayPeriod[dayIndexOf(calendar, first)]
    const channel = orders.placeOf(firstSlot).channel
    let ofChannel = byChannel[cohort].get(channel)
    if (!ofChannel) byChannel[cohort].set(channel, (ofChannel = acquired()))
    const groups = [all[cohort], ofChannel]
    for (const g of groups) g.customers++
    const row = cells[cohort]
    for (const slot of slots) {
      const ts = orders.windowTs(slot)
      if (ts >= asOf) continue
      const day = dayIndexOf(calendar, ts)
      const k = dayPeriod[day] - cohort
      const subtotal = orders.money(slot)[1]
      const beforeRefunds = orders.rfmFigures(slot)[2]
      refunded = 0
      orders.forEachRefund(slot, addRefund)
      const revenue = subtotal - refunded
      const grossProfit = beforeRefunds - refunded
      row.orders[k]++
      row.revenue[k] += revenue
      row.grossProfit[k] += grossProfit
      if (countedFor[k] !== c + 1) {
        countedFor[k] = c + 1
        row.customers[k]++
      }
      for (const g of groups) {
        for (let h = 0; h < LTV_HORIZON_DAYS.length; h++)
          if (ts - first < LTV_HORIZON_DAYS[h] * DAY_MS) {
            g.revenueWithin[h] += revenue
            g.grossProfitWithin[h] += grossProfit
          }
        g.grossProfitByDay.set(day, (g.grossProfitByDay.get(day) ?? 0) + grossProfit)
      }
    }
  }
  return { calendar, asOf, cells, all, byChannel }
}

/** One cell of the matrix: the metric's value, and the cohort's LTV per customer so far. */
export interface CohortCell {
  period: number
  t: string
  value: number | string
  ltv_revenue: string | null
  ltv_gross_profit: string | null
}

export interface CohortRow {
  cohort: string
  t: string
  size: number
  periods: CohortCell[]
}

/**
 * The retention matrix of `metric`, per period or cumulative (running sums from period 0; not
 * for `customers`, whose distinct counts do not add up), each cell with the cohort's cumulative
 * net sales and gross profit up to and including that period ÷ its size (LTV per customer,
 * rounded half away from zero to the minor unit, as every average of money; null for an empty
 * cohort).
 */
export function cohortMatrix(
  facts: CohortFacts,
  metric: CohortMetric,
  cumulative: boolean,
  digits: number,
): CohortRow[] {
  const { calendar } = facts
  const money = (minor: number) => formatMinor(minor, digits)
  const perCustomer = (minor: number, size: number) => {
    const average = divideMinor(minor, size)
    return average === null ? null : money(average)
  }
  return facts.cells.map((cells, i) => {
    const size = facts.all[i].customers
    const series = {
      customers: cells.customers,
      orders: cells.orders,
      revenue: cells.revenue,
      gross_profit: cells.grossProfit,
    }[metric]
    let value = 0
    let revenue = 0
    let grossProfit = 0
    const periods = series.map((figure, k) => {
      value = cumulative ? value + figure : figure
      revenue += cells.revenue[k]
      grossProfit += cells.grossProfit[k]
      return {
        period: k,
        t: calendar.periodTs[i + k],
        value: metric === 'revenue' || metric === 'gross_profit' ? money(value) : value,
        ltv_revenue: perCustomer(revenue, size),
        ltv_gross_profit: perCustomer(grossProfit, size),
      }
    })
    return { cohort: calendar.periodKeys[i], t: calendar.periodTs[i], size, periods }
  })
}

/** Ad spend and marketing cost of one tenant-local day and channel (the statements' platform), minor units. */
export interface SpendRow {
  day: string
  channel: string
  adSpend: number
  marketingCost: number
}

export interface LtvAt {
  days: number
  revenue: string | null
  gross_profit: string | null
  revenue_to_cac: number | null
  gross_profit_to_cac: number | null
}

export interface AcquisitionFigures {
  new_customers: number
  ad_spend: string
  marketing_cost: string
  cac: string | null
  ltv: LtvAt[]
  payback_day: string | null
  payback_days: number | null
}

export interface CacRow extends AcquisitionFigures {
  cohort: string
  t: string
  by_channel: ({ channel: string } & AcquisitionFigures)[]
}

/**
 * Per cohort, blended and per channel: CAC = (ad spend + marketing cost in the cohort's period) ÷
 * its new customers; LTV at each horizon per customer, null until the horizon has passed for every
 * customer the cohort can hold (its period's end + horizon ≤ as_of); LTV ÷ CAC on the exact sums
 * (Σ LTV ÷ spend); payback: the first day whose cumulative gross profit of the cohort's orders
 * reaches its spend (CAC × size, unrounded), null without spend or until then.
 */
export function acquisitionOf(facts: CohortFacts, spend: readonly SpendRow[], digits: number): CacRow[] {
  const { calendar, asOf } = facts
  const dayOfKey = new Map(calendar.dayKeys.map((key, i) => [key, i]))
  const spent = facts.cells.map(() => new Map<string, { ad: number; marketing: number }>())
  for (const row of spend) {
    // Rows of days and channels with orders but no spend name no channel the cohort paid for.
    if (row.adSpend === 0 && row.marketingCost === 0) continue
    const day = dayOfKey.get(row.day)
    const cohort = day === undefined ? -1 : calendar.dayPeriod[day]
    if (cohort < 0 || cohort >= calendar.cohorts) continue
    const channel = spent[cohort].get(row.channel) ?? { ad: 0, marketing: 0 }
    channel.ad += row.adSpend
    channel.marketing += row.marketingCost
    spent[cohort].set(row.channel, channel)
  }
  const money = (minor: number) => formatMinor(minor, digits)
  const perCustomer = (minor: number, customers: number) => {
    const average = divideMinor(minor, customers)
    return average === null ? null : money(average)
  }
  const ratio = (a: number, b: number) => (b === 0 ? null : a / b)

  function figures(cohort: number, got: Acquired | undefined, ad: number, marketing: number): AcquisitionFigures {
    const customers = got?.customers ?? 0
    const cost = ad + marketing
    const periodEnd = calendar.dayStarts[calendar.periodFirstDay[cohort + 1]]
    const ltv = LTV_HORIZON_DAYS.map((days, h): LtvAt => {
      if (!got || customers === 0 || periodEnd + days * DAY_MS > asOf)
        return { days, revenue: null, gross_profit: null, revenue_to_cac: null, gross_profit_to_cac: null }
      return {
        days,
        revenue: perCustomer(got.revenueWithin[h], customers),
        gross_profit: perCustomer(got.grossProfitWithin[h], customers),
        revenue_to_cac: ratio(got.revenueWithin[h], cost),
        gross_profit_to_cac: ratio(got.grossProfitWithin[h], cost),
      }
    })
    const payback = got && customers > 0 && cost > 0 ? paybackDay(got.grossProfitByDay, cost) : -1
    return {
      new_customers: customers,
      ad_spend: money(ad),
      marketing_cost: money(marketing),
      cac: perCustomer(cost, customers),
      ltv,
      payback_day: payback < 0 ? null : calendar.dayKeys[payback],
      payback_days: payback < 0 ? null : payback - calendar.periodFirstDay[cohort],
    }
  }

  return facts.cells.map((_, i) => {
    let ad = 0
    let marketing = 0
    for (const s of spent[i].values()) {
      ad += s.ad
      marketing += s.marketing
    }
    const channels = [...new Set([...spent[i].keys(), ...facts.byChannel[i].keys()])].sort(byName)
    return {
      cohort: calendar.periodKeys[i],
      t: calendar.periodTs[i],
      ...figures(i, facts.all[i], ad, marketing),
      by_channel: channels.map((channel) => {
        const s = spent[i].get(channel)
        return { channel, ...figures(i, facts.byChannel[i].get(channel), s?.ad ?? 0, s?.marketing ?? 0) }
      }),
    }
  })
}

/** The first day (calendar index) on which the running sum of gross profit reaches `cost`, else −1. */
function paybackDay(grossProfitByDay: Map<number, number>, cost: number): number {
  let sum = 0
  for (const day of [...grossProfitByDay.keys()].sort((a, b) => a - b)) {
    sum += grossProfitByDay.get(day)!
    if (sum >= cost) return day
  }
  return -1
}
