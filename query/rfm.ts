// RFM (docs/metrics.md, "RFM"), pure and clock-free: each customer's order facts and a cut-off in, scores by
// rank, segments, KPIs and buckets out. Facts are columns (one array per field) so a ranking of a
// million customers costs tens of bytes each instead of an object apiece.
import { divideMinor, formatMinor } from '../common/money.ts'
import { type FiscalFacts, type FiscalYearEntry, fiscalYearTally } from './fiscal-years.ts'
import { type Steps, runSync, sortSteps } from './steps.ts'

export const DAY_MS = 86_400_000

export const SEGMENTS = ['CHAMPIONS', 'POTENTIAL_LOYALISTS', 'NEW_CUSTOMERS', 'NEED_ATTENTION'] as const
export type Segment = (typeof SEGMENTS)[number]

/** Per customer (same index in every column): the orders counted for RFM. */
export interface RfmFacts {
  ids: readonly string[]
  /** Number of orders. */
  frequency: ArrayLike<number>
  /** Σ order totals, minor units. */
  monetary: ArrayLike<number>
  firstOrderAt: ArrayLike<number>
  lastOrderAt: ArrayLike<number>
  /** Σ (subtotal − refunded subtotal − COGS) of the orders, minor units. */
  grossProfit: ArrayLike<number>
  /** Σ item quantities of the orders. */
  units: ArrayLike<number>
  /** The fiscal years each customer ordered in, when asked for (query/fiscal-years.ts). */
  fiscal?: FiscalFacts
}

export interface RfmRanking {
  asOf: number
  facts: RfmFacts
  recencyDays: Int32Array
  r: Uint8Array
  f: Uint8Array
  m: Uint8Array
  /** Customer indices in customer_id order (code units), for lookups by binary search. */
  byId: Uint32Array
}

export interface RfmFilter {
  /** Restricts the answer to one customer; the ranking stays over all. */
  customerId?: string
  r?: number
  f?: number
  m?: number
  segment?: Segment
  /** Labels of `r_value_bucket_data`, `visits_data` and `value_data`: only customers in that bucket. */
  rValueBucket?: string
  fValueBucket?: string
  mValueBucket?: string
}

export interface Bucket {
  label: string
  count: number
}

/** One customer's facts as a plain row. */
export interface RfmRow {
  id: string
  frequency: number
  monetary: number
  firstOrderAt: number
  lastOrderAt: number
  grossProfit: number
  units: number
}

/** Plain rows → columns (tests and small callers). */
export function rfmFacts(rows: RfmRow[]): RfmFacts {
  const column = (pick: (row: (typeof rows)[number]) => number) => rows.map(pick)
  return {
    ids: rows.map((r) => r.id),
    frequency: column((r) => r.frequency),
    monetary: column((r) => r.monetary),
    firstOrderAt: column((r) => r.firstOrderAt),
    lastOrderAt: column((r) => r.lastOrderAt),
    grossProfit: column((r) => r.grossProfit),
    units: column((r) => r.units),
  }
}

/**
 * Scores 1–5 by rank: customers sorted by the measure, ties by customer_id ascending
 * in code-unit order; position p (1-based) of N scores ⌈5p/N⌉. Recency sorts descending, so the
 * most recent customer ranks last and scores 5.
 */
export function rankRfm(facts: RfmFacts, asOf: number): RfmRanking {
  return runSync(rankSteps(facts, asOf))
}

/** rankRfm as steps, for runSliced (a million customers take seconds). */
export function* rankSteps(facts: RfmFacts, asOf: number): Steps<RfmRanking> {
  const n = facts.ids.length
  const { ids, frequency, monetary } = facts
  const recencyDays = new Int32Array(n)
  for (let i = 0; i < n; i++) recencyDays[i] = Math.floor((asOf - facts.lastOrderAt[i]) / DAY_MS)
  // JS string comparison is code-unit order, which is what the ranking asks for.
  const byId = yield* sortSteps(
    Uint32Array.from({ length: n }, (_, i) => i),
    (a, b) => (ids[a] < ids[b] ? -1 : ids[a] > ids[b] ? 1 : 0),
  )
  const idRank = new Uint32Array(n)
  for (let p = 0; p < n; p++) idRank[byId[p]] = p
  yield
  const r = yield* scoreSteps(byId, idRank, (i) => -recencyDays[i])
  const f = yield* scoreSteps(byId, idRank, (i) => frequency[i])
  const m = yield* scoreSteps(byId, idRank, (i) => monetary[i])
  return { asOf, facts, recencyDays, r, f, m, byId }
}

/**
 * Scores by ascending key, ties by id. Integer keys in a range not much wider than N (recency
 * days, order counts) are placed by counting in O(N): visiting customers in id order gives tied
 * ones consecutive positions in id order. Other keys (money) go through a merge sort.
 */
function* scoreSteps(byId: Uint32Array, idRank: Uint32Array, key: (i: number) => number): Steps<Uint8Array> {
  const n = byId.length
  const scores = new Uint8Array(n)
  const place = (i: number, position: number) => (scores[i] = Math.ceil((5 * (position + 1)) / n))
  let min = Number.POSITIVE_INFINITY
  let max = Number.NEGATIVE_INFINITY
  let integral = true
  for (let i = 0; i < n; i++) {
    const k = key(i)
    if (!Number.isInteger(k)) integral = false
    if (k < min) min = k
    if (k > max) max = k
  }
  if (n > 0 && integral && max - min <= 4 * n + 1024) {
    // starts[k - min] = customers with a smaller key, then the next free position of key k.
    const starts = new Int32Array(max - min + 2)
    for (let i = 0; i < n; i++) starts[key(i) - min + 1]++
    for (let k = 1; k < starts.length; k++) starts[k] += starts[k - 1]
    for (let p = 0; p < n; p++) {
      const i = byId[p]
      place(i, starts[key(i) - min]++)
    }
    return scores
  }
  const order = yield* sortSteps(byId.slice(), (a, b) => key(a) - key(b) || idRank[a] - idRank[b])
  for (let p = 0; p < n; p++) place(order[p], p)
  return scores
}

/** First match wins. */
export function segmentOf(r: number, f: number, m: number): Segment {
  if (r >= 3 && f >= 3 && m >= 3) return 'CHAMPIONS'
  if (r >= 2 && f >= 2) return 'POTENTIAL_LOYALISTS'
  if (r >= 4) return 'NEW_CUSTOMERS'
  return 'NEED_ATTENTION'
}

/** Index of a customer in the ranking, or -1. */
export function indexOf(ranking: RfmRanking, id: string): number {
  const { byId, facts } = ranking
  let lo = 0
  let hi = byId.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    const candidate = facts.ids[byId[mid]]
    if (candidate === id) return byId[mid]
    if (candidate < id) lo = mid + 1
    else hi = mid - 1
  }
  return -1
}

export interface CustomerRfm {
  recencyDays: number
  frequency: number
  monetary: number
  firstOrderAt: number
  lastOrderAt: number
  grossProfit: number
  r: number
  f: number
  m: number
  segment: Segment
}

export function customerRfm(ranking: RfmRanking, i: number): CustomerRfm {
  const { facts } = ranking
  const [r, f, m] = [ranking.r[i], ranking.f[i], ranking.m[i]]
  return {
    recencyDays: ranking.recencyDays[i],
    frequency: facts.frequency[i],
    monetary: facts.monetary[i],
    firstOrderAt: facts.firstOrderAt[i],
    lastOrderAt: facts.lastOrderAt[i],
    grossProfit: facts.grossProfit[i],
    r,
    f,
    m,
    segment: segmentOf(r, f, m),
  }
}

// Bucket lower bounds, each [low, next low), with their labels in order.
const RECENCY = [0, 200, 400, 600, 800, 1000]
const VISITS = [1, 2, 3, 4, 5]
const VALUE = [0, 1000, 2000, 3000, 4000, 5000]
const RETURN_DAYS = [0, 60, 180, 365, 730]
const SCORES = [1, 2, 3, 4, 5]

const labels = (lows: number[], open = true) =>
  lows.map((low, i) => (i === lows.length - 1 ? `${low}${open ? '+' : ''}` : `${low}-${lows[i + 1]}`))
const LABELS = {
  recency: labels(RECENCY),
  visits: [...VISITS.slice(0, -1).map(String), '5+'],
  value: labels(VALUE),
  returnDays: labels(RETURN_DAYS),
  scores: SCORES.map(String),
}

/** Index of the last bound ≤ value (values below the first bound go to the first bucket). */
function bucketOf(value: number, lows: readonly number[]): number {
  let i = lows.length - 1
  while (i > 0 && value < lows[i]) i--
  return i
}

/**
 * The labels the value-bucket filters take: `r_value_bucket` those of `r_value_bucket_data`
 * (recency days), `f_value_bucket` those of `visits_data` (orders), `m_value_bucket` those of
 * `value_data` (monetary, major units).
 */
export const VALUE_BUCKET_LABELS = {
  r_value_bucket: LABELS.recency,
  f_value_bucket: LABELS.visits,
  m_value_bucket: LABELS.value,
} as const

const buckets = (names: string[], counts: number[]): Bucket[] => names.map((label, i) => ({ label, count: counts[i] }))

/**
 * Every figure of the campaign dashboard over the customers the filter keeps. `digits` is the
 * currency's minor digits (money out as decimal strings, value buckets in major units).
 */
export function rfmDashboard(ranking: RfmRanking, digits: number, filter: RfmFilter = {}) {
  const { facts } = ranking
  const valueLows = VALUE.map((low) => low * 10 ** digits)
  const counts = {
    r: [0, 0, 0, 0, 0],
    f: [0, 0, 0, 0, 0],
    m: [0, 0, 0, 0, 0],
    recency: RECENCY.map(() => 0),
    visits: VISITS.map(() => 0),
    value: VALUE.map(() => 0),
    segment: SEGMENTS.map(() => 0),
    returnDays: RETURN_DAYS.map(() => 0),
  }
  let customers = 0
  let orders = 0
  let units = 0
  let spending = 0
  let grossProfit = 0
  let returning = 0
  let meanGapDaysSum = 0
  // A label the dashboard does not emit keeps nobody (the routes refuse it before).
  const bucketFilter = (label: string | undefined, names: readonly string[]) =>
    label === undefined ? -1 : names.indexOf(label) >= 0 ? names.indexOf(label) : names.length
  const rBucket = bucketFilter(filter.rValueBucket, LABELS.recency)
  const fBucket = bucketFilter(filter.fValueBucket, LABELS.visits)
  const mBucket = bucketFilter(filter.mValueBucket, LABELS.value)
  const { fiscal } = facts
  const years = fiscal ? fiscalYearTally(fiscal.from, fiscal.to) : undefined

  const add = (i: number) => {
    const [r, f, m] = [ranking.r[i], ranking.f[i], ranking.m[i]]
    if (
      (filter.r !== undefined && r !== filter.r) ||
      (filter.f !== undefined && f !== filter.f) ||
      (filter.m !== undefined && m !== filter.m)
    )
      return
    const segment = SEGMENTS.indexOf(segmentOf(r, f, m))
    if (filter.segment !== undefined && SEGMENTS[segment] !== filter.segment) return
    const frequency = facts.frequency[i]
    const recencyBucket = bucketOf(ranking.recencyDays[i], RECENCY)
    const visitsBucket = bucketOf(frequency, VISITS)
    const valueBucket = bucketOf(facts.monetary[i], valueLows)
    if (
      (rBucket >= 0 && recencyBucket !== rBucket) ||
      (fBucket >= 0 && visitsBucket !== fBucket) ||
      (mBucket >= 0 && valueBucket !== mBucket)
    )
      return
    customers++
    orders += frequency
    units += facts.units[i]
    spending += facts.monetary[i]
    grossProfit += facts.grossProfit[i]
    counts.r[r - 1]++
    counts.f[f - 1]++
    counts.m[m - 1]++
    counts.segment[segment]++
    counts.recency[recencyBucket]++
    counts.visits[visitsBucket]++
    counts.value[valueBucket]++
    if (fiscal && years)
      years.add(
        fiscal.firstYear[i],
        fiscal.years[i],
        fiscal.laterYears.size === 0 ? undefined : fiscal.laterYears.get(i),
      )
    if (frequency >= 2) {
      const gapMs = facts.lastOrderAt[i] - facts.firstOrderAt[i]
      returning++
      meanGapDaysSum += gapMs / (frequency - 1) / DAY_MS
      // Compared in integer milliseconds, so a gap of exactly 60 days is never 59.999… days.
      let b = RETURN_DAYS.length - 1
      while (b > 0 && gapMs < RETURN_DAYS[b] * DAY_MS * (frequency - 1)) b--
      counts.returnDays[b]++
    }
  }

  if (filter.customerId !== undefined) {
    const i = indexOf(ranking, filter.customerId)
    if (i >= 0) add(i)
  } else {
    for (let i = 0; i < facts.ids.length; i++) add(i)
  }

  const perCustomerProfit = divideMinor(grossProfit, customers)
  return {
    kpi: {
      total_customer: customers,
      unit_per_transaction: orders === 0 ? null : units / orders,
      profit_per_customer: perCustomerProfit === null ? null : formatMinor(perCustomerProfit, digits),
      customer_spending: formatMinor(spending, digits),
      days_to_return: returning === 0 ? null : meanGapDaysSum / returning,
      retention_rate: customers === 0 ? null : (100 * returning) / customers,
    },
    r_score_data: buckets(LABELS.scores, counts.r),
    f_score_data: buckets(LABELS.scores, counts.f),
    m_score_data: buckets(LABELS.scores, counts.m),
    r_value_bucket_data: buckets(LABELS.recency, counts.recency),
    visits_data: buckets(LABELS.visits, counts.visits),
    value_data: buckets(LABELS.value, counts.value),
    segment_data: buckets([...SEGMENTS], counts.segment),
    days_to_return_bucket_data: buckets(LABELS.returnDays, counts.returnDays),
    /** Per fiscal year, new and old customers among those kept; empty without fiscal facts. */
    fiscal_year_data: fiscal && years ? years.entries(fiscal.startMonth) : ([] as FiscalYearEntry[]),
  }
}

export type RfmDashboard = ReturnType<typeof rfmDashboard>
