// Turns the stream stage's per-customer state and order index into RFM rankings and intent
// summaries, and caches them so that a million customers do not make every request slow.
//
// Cache (lru-cache, keyed by tenant + as_of + date range; sized by customers held):
// - an explicit `as_of` is answered exactly: an entry serves only while the tenant's state is
//   unchanged since it was computed (every applied event bumps the tenant's version);
// - the default `as_of` (now) is recomputed at a bounded cadence: after a change, not before
//   20 × the event-loop time of the last computation has passed (at most 60 s: ~5 % of a core per
//   tenant and range, ~7 % for a million customers where the cap binds), and without changes
//   after a second. Each answer names the `as_of` it was computed at.
// - Computations run sliced (query/steps.ts): the event loop gets control back every 10 ms, so
//   ingestion and live pushes never wait behind a million-customer ranking; concurrent requests
//   for the same answer share one computation.
import { LRUCache } from 'lru-cache'
import { createCoalescer } from '../common/coalescer.ts'
import { type Log, silentLog } from '../common/log.ts'
import type { Settings } from '../common/settings.ts'
import type { CustomerStore, OrderIndex } from '../stream/index.ts'
import {
  DEFAULT_FISCAL_YEAR_START_MONTH,
  type FiscalCalendar,
  type FiscalFacts,
  fiscalCalendar,
} from './fiscal-years.ts'
import { type IntentSummary, intentSummarizer } from './intent.ts'
import { type RfmFacts, type RfmRanking, rankSteps } from './rfm.ts'
import { type Meter, type Steps, YIELD_EVERY, runSliced, runSync } from './steps.ts'

const HOUR_MS = 3_600_000

/** What this reads of the stream stage (the processor provides it). */
export interface CustomerSource {
  orders(tenant: string): OrderIndex
  customers(tenant: string): CustomerStore
  settings(tenant: string): Settings
}

export interface RfmQuery {
  /** Omitted: now, at the bounded cadence. */
  asOf?: number
  /** Only orders with from ≤ ts < to count. */
  from?: number
  to?: number
  /** The tenant's time zone: with it, the facts carry each customer's fiscal years (settings' start month). */
  timezone?: string
}

export interface CustomerAnalyticsOptions {
  source: CustomerSource
  now: () => number
  /** Customers held across cached rankings (~90 bytes each). */
  maxCachedCustomers?: number
  /** Longest wait before a change shows in an as_of = now answer. */
  maxIntervalMs?: number
  /**
   * Called once the cadence allows recomputing an as_of = now answer that was served stale after
   * a change (the live publisher's `changed`), so live topics catch up without another event.
   */
  recomputable?: (tenant: string) => void
  log?: Log
}

interface Entry<T> {
  value: T
  version: number
  settings: Settings
  computedAt: number
  /** Event-loop time the computation took (its slices; waits for I/O and other work excluded). */
  busy: Meter
}

interface FactsValue {
  asOf: number
  facts: RfmFacts
  ranking?: Promise<RfmRanking>
  meter: Meter
}

export interface IntentValue {
  asOf: number
  summary: IntentSummary
  /** Customers whose reading at as_of is not exact (customers.ts: folded events after as_of). */
  approximate: number
}

const IDLE_REUSE_MS = 1_000

/**
 * Each customer's orders created before as_of (and in [from, to)), guests left out; with a fiscal
 * calendar, also the fiscal years they ordered in (docs/metrics.md, "RFM": fiscal_year_data).
 */
export function factsOf(
  orders: OrderIndex,
  customers: CustomerStore,
  asOf: number,
  from?: number,
  to?: number,
  calendar?: FiscalCalendar,
): RfmFacts {
  return runSync(factsSteps(orders, customers, asOf, from, to, calendar))
}

/**
 * factsOf as steps. Run sliced, events applied between slices are seen or not depending on
 * whether the loop had reached their order: each order counts once, as it stood when visited.
 */
export function* factsSteps(
  orders: OrderIndex,
  customers: CustomerStore,
  asOf: number,
  from = Number.NEGATIVE_INFINITY,
  to = Number.POSITIVE_INFINITY,
  calendar?: FiscalCalendar,
): Steps<RfmFacts> {
  // By customer index: position + 1 in the facts (0: not seen yet).
  const position = new Int32Array(customers.size())
  // By customer index, with a calendar: the first order before as_of, in the range or not.
  const firstEver = calendar ? new Float64Array(position.length).fill(Number.POSITIVE_INFINITY) : undefined
  const facts = {
    ids: [] as string[],
    frequency: [] as number[],
    monetary: [] as number[],
    firstOrderAt: [] as number[],
    lastOrderAt: [] as number[],
    grossProfit: [] as number[],
    units: [] as number[],
  }
  const size = orders.size
  for (let slot = 0; slot < size; slot++) {
    if ((slot + 1) % YIELD_EVERY === 0) yield
    const c = orders.customer(slot)
    const ts = orders.windowTs(slot)
    if (c < 0 || ts >= asOf || c >= position.length) continue
    if (firstEver && ts < firstEver[c]) firstEver[c] = ts
    if (ts < from || ts >= to) continue
    let i = position[c] - 1
    if (i < 0) {
      i = facts.ids.length
      position[c] = i + 1
      facts.ids.push(customers.idAt(c))
      facts.frequency.push(0)
      facts.monetary.push(0)
      facts.firstOrderAt.push(ts)
      facts.lastOrderAt.push(ts)
      facts.grossProfit.push(0)
      facts.units.push(0)
    }
    const [gmv, units, gross] = orders.rfmFigures(slot)
    facts.frequency[i]++
    facts.monetary[i] += gmv
    if (ts < facts.firstOrderAt[i]) facts.firstOrderAt[i] = ts
    if (ts > facts.lastOrderAt[i]) facts.lastOrderAt[i] = ts
    facts.units[i] += units
    // Refunds made by as_of (to the minute) lower the order's gross profit.
    facts.grossProfit[i] += gross - orders.refundedBefore(slot, asOf)
  }
  if (!calendar || !firstEver) return facts
  const fiscal = yield* fiscalSteps(orders, size, position, firstEver, facts, asOf, from, to, calendar)
  return { ...facts, fiscal }
}

/**
 * The fiscal years of each customer in the facts: the year of their first order before as_of
 * (a customer is new in it, whatever the range), then a second pass over the orders counted
 * marking the years they fall in. The years answered run from that of the earliest order counted
 * to that of the last instant covered (before as_of and to). Run sliced, an order edited between
 * the two passes is read as it stands in the second (the next computation sees it settled).
 */
function* fiscalSteps(
  orders: OrderIndex,
  size: number,
  position: Int32Array,
  firstEver: Float64Array,
  facts: RfmFacts,
  asOf: number,
  from: number,
  to: number,
  calendar: FiscalCalendar,
): Steps<FiscalFacts> {
  const n = facts.ids.length
  const firstYear = new Int32Array(n)
  const years = new Int32Array(n)
  const laterYears = new Map<number, number[]>()
  let earliest = Number.POSITIVE_INFINITY
  for (let c = 0; c < position.length; c++) {
    if ((c + 1) % YIELD_EVERY === 0) yield
    const i = position[c] - 1
    if (i < 0) continue
    firstYear[i] = calendar.yearOf(firstEver[c])
    if (facts.firstOrderAt[i] < earliest) earliest = facts.firstOrderAt[i]
  }
  // The slots of the first pass: orders added since are left out as they were there.
  for (let slot = 0; slot < size; slot++) {
    if ((slot + 1) % YIELD_EVERY === 0) yield
    const c = orders.customer(slot)
    const ts = orders.windowTs(slot)
    if (c < 0 || ts >= asOf || ts < from || ts >= to || c >= position.length || position[c] === 0) continue
    const i = position[c] - 1
    const k = calendar.yearOf(ts) - firstYear[i]
    // k < 0 only for an order an edit moved before the customer's first one between two slices.
    if (k < 0) continue
    if (k < 32) years[i] |= 1 << k
    else {
      const list = laterYears.get(i) ?? []
      if (!list.includes(k)) list.push(k)
      laterYears.set(i, list)
    }
  }
  const last = Math.min(asOf, to) - 1
  return n === 0
    ? { startMonth: calendar.startMonth, firstYear, years, laterYears, from: 0, to: -1 }
    : {
        startMonth: calendar.startMonth,
        firstYear,
        years,
        laterYears,
        from: calendar.yearOf(earliest),
        to: calendar.yearOf(last),
      }
}

/**
 * Every tracked customer (an order before as_of, or a shopper event) read at as_of: orders before
 * as_of from the order index's per-customer chain, intent from the store.
 */
function* intentSteps(
  customers: CustomerStore,
  asOf: number,
  settings: Settings['intent'],
  fallback: number | null,
): Steps<{ summary: IntentSummary; approximate: number }> {
  const halfLifeMs = settings.half_life_hours * HOUR_MS
  const summary = intentSummarizer(settings, fallback)
  let approximate = 0
  const size = customers.size()
  for (let i = 0; i < size; i++) {
    if ((i + 1) % YIELD_EVERY === 0) yield
    const { orders, monetary } = customers.ordersBefore(i, asOf)
    const reading = customers.intent(i, asOf, halfLifeMs)
    if (orders === 0 && reading.events === 0) continue
    if (!reading.exact) approximate++
    summary.add({
      customerId: customers.idAt(i),
      score: reading.score,
      category: reading.category,
      events: reading.events,
      location: customers.cityOf(i),
      orders,
      monetary,
    })
  }
  return { summary: summary.finish(), approximate }
}

export function createCustomerAnalytics(options: CustomerAnalyticsOptions) {
  const { source, now } = options
  const maxIntervalMs = options.maxIntervalMs ?? 60_000
  const versions = new Map<string, number>()
  const cache = new LRUCache<string, Entry<FactsValue | IntentValue>>({
    maxSize: options.maxCachedCustomers ?? 2_000_000,
    sizeCalculation: (entry) =>
      Math.max(1, 'facts' in entry.value ? entry.value.facts.ids.length : entry.value.summary.high.length),
  })
  const versionOf = (tenant: string) => versions.get(tenant) ?? 0

  // One pending catch-up call per tenant, however many stale answers were served meanwhile.
  const recomputable = options.recomputable
  const log = options.log ?? silentLog
  const onError = (tenant: string, err: unknown) => log.error({ tenant, err }, 'live catch-up failed')
  const catchUps = recomputable && createCoalescer({ work: recomputable, now, onError })

  function usable(entry: Entry<unknown>, tenant: string, explicit: boolean): boolean {
    const changed = entry.version !== versionOf(tenant) || entry.settings !== source.settings(tenant)
    if (explicit) return !changed
    const minInterval = Math.min(maxIntervalMs, 20 * entry.busy.busyMs)
    const age = now() - entry.computedAt
    if (!changed) return age < Math.max(minInterval, IDLE_REUSE_MS)
    if (age >= minInterval) return false
    catchUps?.request(tenant, minInterval - age)
    return true
  }

  // Computations under way, so concurrent requests for the same answer share one.
  const inflight = new Map<string, { version: number; promise: Promise<unknown> }>()

  function cached<T extends FactsValue | IntentValue>(
    key: string,
    tenant: string,
    explicit: boolean,
    compute: (meter: Meter) => Promise<T>,
  ): Promise<T> {
    const hit = cache.get(key)
    if (hit && usable(hit, tenant, explicit)) return Promise.resolve(hit.value as T)
    const version = versionOf(tenant)
    const running = inflight.get(key)
    if (running && (!explicit || running.version === version)) return running.promise as Promise<T>
    const settings = source.settings(tenant)
    const busy: Meter = { busyMs: 0 }
    const promise = compute(busy).then((value) => {
      cache.set(key, { value, version, settings, computedAt: now(), busy })
      return value
    })
    inflight.set(key, { version, promise })
    const done = () => inflight.get(key)?.promise === promise && inflight.delete(key)
    promise.then(done, done)
    return promise
  }

  function factsEntry(tenant: string, q: RfmQuery): Promise<FactsValue> {
    const key = `rfm|${tenant}|${q.asOf ?? 'now'}|${q.from ?? ''}|${q.to ?? ''}|${q.timezone ?? ''}`
    return cached(key, tenant, q.asOf !== undefined, async (meter) => {
      const asOf = q.asOf ?? now()
      // Settings restored from a checkpoint written before the setting existed may lack it.
      const startMonth = source.settings(tenant).fiscal_year_start_month ?? DEFAULT_FISCAL_YEAR_START_MONTH
      const calendar = q.timezone === undefined ? undefined : fiscalCalendar(q.timezone, startMonth)
      const steps = factsSteps(source.orders(tenant), source.customers(tenant), asOf, q.from, q.to, calendar)
      return { asOf, facts: await runSliced(steps, meter), meter }
    })
  }

  return {
    /** The tenant's state changed (the stream consumer calls this for every applied event). */
    changed(tenant: string): void {
      versions.set(tenant, versionOf(tenant) + 1)
    },

    /** RFM ranked over every customer with orders counted by the query. */
    async ranking(tenant: string, q: RfmQuery = {}): Promise<{ asOf: number; ranking: RfmRanking }> {
      const entry = await factsEntry(tenant, q)
      // Ranked lazily (the intent dashboard needs the facts only), once for concurrent requests.
      // Its time adds to the entry's, so the cadence accounts for it.
      entry.ranking ??= runSliced(rankSteps(entry.facts, entry.asOf), entry.meter)
      return { asOf: entry.asOf, ranking: await entry.ranking }
    },

    /**
     * Intent of every tracked customer at as_of, summarised. `fallbackSpend`: the estimated spend
     * of a customer with no orders (the tenant's AOV over the 90 days before as_of, minor units).
     */
    intent(
      tenant: string,
      asOfParam: number | undefined,
      fallbackSpend: (asOf: number) => Promise<number | null>,
    ): Promise<IntentValue> {
      return cached(`intent|${tenant}|${asOfParam ?? 'now'}`, tenant, asOfParam !== undefined, async (meter) => {
        const asOf = asOfParam ?? now()
        const fallback = await fallbackSpend(asOf)
        const { intent } = source.settings(tenant)
        return { asOf, ...(await runSliced(intentSteps(source.customers(tenant), asOf, intent, fallback), meter)) }
      })
    },

    /** One customer's intent reading at as_of, with its level thresholds. */
    customerIntent(tenant: string, id: string, asOf: number) {
      const store = source.customers(tenant)
      const c = store.get(id)
      if (!c) return undefined
      const { intent } = source.settings(tenant)
      const reading = store.intent(c.index, asOf, intent.half_life_hours * HOUR_MS)
      return { ...reading, city: c.city, thresholds: intent }
    },
  }
}

export type CustomerAnalytics = ReturnType<typeof createCustomerAnalytics>
