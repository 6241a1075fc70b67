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
import type { Settings } from '../common/settings.ts'
import { type Customer, type OrderRecord, intentOf, measureIndex } from '../stream/index.ts'
import { type IntentSummary, intentSummarizer } from './intent.ts'
import { type RfmFacts, type RfmRanking, rankSteps } from './rfm.ts'
import { type Meter, type Steps, YIELD_EVERY, runSliced, runSync } from './steps.ts'

const HOUR_MS = 3_600_000

/** What this reads of the stream stage (the processor provides it). */
export interface CustomerSource {
  orders(tenant: string): ReadonlyMap<string, OrderRecord>
  customers(tenant: string): { get(id: string): Customer | undefined; all(): Iterable<Customer> }
  settings(tenant: string): Settings
}

export interface RfmQuery {
  /** Omitted: now, at the bounded cadence. */
  asOf?: number
  /** Only orders with from ≤ ts < to count. */
  from?: number
  to?: number
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
  /** Customers whose newest shopper event is after as_of: their readings include later events. */
  approximate: number
}

const IDLE_REUSE_MS = 1_000
const GMV = measureIndex.gmv
const SUBTOTAL = measureIndex.subtotal
const COGS = measureIndex.cogs
const UNITS = measureIndex.units
const REFUND_SUBTOTAL_OD = measureIndex.refund_subtotal_od

/** Each customer's orders created before as_of (and in [from, to)), guests left out. */
export function factsOf(orders: ReadonlyMap<string, OrderRecord>, asOf: number, from?: number, to?: number): RfmFacts {
  return runSync(factsSteps(orders, asOf, from, to))
}

/**
 * factsOf as steps. Run sliced, events applied between slices are seen or not depending on
 * whether the loop had reached their order: each order counts once, as it stood when visited.
 */
export function* factsSteps(orders: ReadonlyMap<string, OrderRecord>, asOf: number, from = Number.NEGATIVE_INFINITY, to = Number.POSITIVE_INFINITY): Steps<RfmFacts> {
  const index = new Map<string, number>()
  const facts = { ids: [] as string[], frequency: [] as number[], monetary: [] as number[], firstOrderAt: [] as number[], lastOrderAt: [] as number[], grossProfit: [] as number[], units: [] as number[] }
  let visited = 0
  for (const o of orders.values()) {
    if (++visited % YIELD_EVERY === 0) yield
    const ts = o.windowTs
    if (!o.customer || ts >= asOf || ts < from || ts >= to) continue
    let i = index.get(o.customer)
    if (i === undefined) {
      i = facts.ids.length
      index.set(o.customer, i)
      facts.ids.push(o.customer)
      facts.frequency.push(0)
      facts.monetary.push(0)
      facts.firstOrderAt.push(ts)
      facts.lastOrderAt.push(ts)
      facts.grossProfit.push(0)
      facts.units.push(0)
    }
    facts.frequency[i]++
    facts.monetary[i] += o.totals[GMV]
    if (ts < facts.firstOrderAt[i]) facts.firstOrderAt[i] = ts
    if (ts > facts.lastOrderAt[i]) facts.lastOrderAt[i] = ts
    facts.units[i] += o.totals[UNITS]
    // Refunds made by as_of (to the minute) lower the order's gross profit.
    let refunded = 0
    for (const a of o.attachments) if (a.minute < asOf) refunded += a.inOrderWindow[REFUND_SUBTOTAL_OD]
    facts.grossProfit[i] += o.totals[SUBTOTAL] - refunded - o.totals[COGS]
  }
  return facts
}

/**
 * A customer's orders before as_of from the store alone, when its bounds settle it: the store's
 * first/last order times bound every current order's time (an edit re-adds its order with its
 * window, and a window only ever moves earlier). undefined: some orders before, some after.
 */
function ordersBefore(c: Customer, asOf: number): { orders: number; monetary: number } | undefined {
  if (c.orders <= 0 || c.firstOrderAt >= asOf) return { orders: 0, monetary: 0 }
  if (c.lastOrderAt < asOf) return { orders: c.orders, monetary: c.monetary }
  return undefined
}

function* needsFactsSteps(customers: Iterable<Customer>, asOf: number): Steps<boolean> {
  let visited = 0
  for (const c of customers) {
    if (ordersBefore(c, asOf) === undefined) return true
    if (++visited % YIELD_EVERY === 0) yield
  }
  return false
}

/**
 * Every tracked customer (an order before as_of, or a shopper event) read at as_of. Orders before
 * as_of come from the store's counts, or from `facts` when as_of falls between some customer's
 * orders. The store decays from each customer's newest shopper event: for a customer whose newest
 * is after as_of, the reading at that newest event is the best it has (counted in `approximate`).
 */
function* intentSteps(customers: Iterable<Customer>, asOf: number, settings: Settings['intent'], fallback: number | null, facts?: RfmFacts): Steps<{ summary: IntentSummary; approximate: number }> {
  const halfLifeMs = settings.half_life_hours * HOUR_MS
  const withOrders = new Map<string, number>()
  for (let i = 0; facts && i < facts.ids.length; i++) {
    withOrders.set(facts.ids[i], i)
    if (i % YIELD_EVERY === 0) yield
  }
  const fromFacts = (id: string) => {
    const i = withOrders.get(id)
    return i === undefined ? { orders: 0, monetary: 0 } : { orders: facts!.frequency[i], monetary: facts!.monetary[i] }
  }
  const summary = intentSummarizer(settings, fallback)
  let approximate = 0
  let visited = 0
  for (const c of customers) {
    if (++visited % YIELD_EVERY === 0) yield
    const { orders, monetary } = facts ? fromFacts(c.id) : ordersBefore(c, asOf)!
    if (orders === 0 && c.events === 0) continue
    if (c.intentAt > asOf) approximate++
    const reading = c.events === 0 ? { score: 0, category: '' } : intentOf(c, Math.max(asOf, c.intentAt), halfLifeMs)
    summary.add({ customerId: c.id, score: reading.score, category: reading.category, events: c.events, location: c.city, orders, monetary })
  }
  return { summary: summary.finish(), approximate }
}

export function createCustomerAnalytics(options: CustomerAnalyticsOptions) {
  const { source, now } = options
  const maxIntervalMs = options.maxIntervalMs ?? 60_000
  const versions = new Map<string, number>()
  const cache = new LRUCache<string, Entry<FactsValue | IntentValue>>({
    maxSize: options.maxCachedCustomers ?? 2_000_000,
    sizeCalculation: (entry) => Math.max(1, 'facts' in entry.value ? entry.value.facts.ids.length : entry.value.summary.high.length),
  })
  const versionOf = (tenant: string) => versions.get(tenant) ?? 0

  const deferred = new Set<string>()

  function usable(entry: Entry<unknown>, tenant: string, explicit: boolean): boolean {
    const changed = entry.version !== versionOf(tenant) || entry.settings !== source.settings(tenant)
    if (explicit) return !changed
    const minInterval = Math.min(maxIntervalMs, 20 * entry.busy.busyMs)
    const age = now() - entry.computedAt
    if (!changed) return age < Math.max(minInterval, IDLE_REUSE_MS)
    if (age >= minInterval) return false
    if (options.recomputable && !deferred.has(tenant)) {
      deferred.add(tenant)
      setTimeout(() => {
        deferred.delete(tenant)
        options.recomputable?.(tenant)
      }, minInterval - age).unref()
    }
    return true
  }

  // Computations under way, so concurrent requests for the same answer share one.
  const inflight = new Map<string, { version: number; promise: Promise<unknown> }>()

  function cached<T extends FactsValue | IntentValue>(key: string, tenant: string, explicit: boolean, compute: (meter: Meter) => Promise<T>): Promise<T> {
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
    const key = `rfm|${tenant}|${q.asOf ?? 'now'}|${q.from ?? ''}|${q.to ?? ''}`
    return cached(key, tenant, q.asOf !== undefined, async (meter) => {
      const asOf = q.asOf ?? now()
      return { asOf, facts: await runSliced(factsSteps(source.orders(tenant), asOf, q.from, q.to), meter), meter }
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
    intent(tenant: string, asOfParam: number | undefined, fallbackSpend: (asOf: number) => Promise<number | null>): Promise<IntentValue> {
      return cached(`intent|${tenant}|${asOfParam ?? 'now'}`, tenant, asOfParam !== undefined, async (meter) => {
        const asOf = asOfParam ?? now()
        const fallback = await fallbackSpend(asOf)
        const { intent } = source.settings(tenant)
        const store = source.customers(tenant)
        // The order index is read only when the store's counts cannot settle some customer.
        const facts = (await runSliced(needsFactsSteps(store.all(), asOf), meter)) ? (await factsEntry(tenant, { asOf })).facts : undefined
        return { asOf, ...(await runSliced(intentSteps(store.all(), asOf, intent, fallback, facts), meter)) }
      })
    },

    /** One customer's intent reading at as_of, with its level thresholds. */
    customerIntent(tenant: string, id: string, asOf: number) {
      const c = source.customers(tenant).get(id)
      if (!c) return undefined
      const { intent } = source.settings(tenant)
      const reading = intentOf(c, Math.max(asOf, c.intentAt), intent.half_life_hours * HOUR_MS)
      return { ...reading, events: c.events, city: c.city, exact: !(c.intentAt > asOf), thresholds: intent }
    },
  }
}

export type CustomerAnalytics = ReturnType<typeof createCustomerAnalytics>
