// The cohorts and CAC dashboards (docs/metrics.md, "Cohorts, LTV, CAC and payback"): the order
// index scanned once per tenant, range and as_of through the pure query/cohorts.ts, cached the way
// query/customer-analytics.ts caches RFM, since a scan walks every customer's orders:
// - an explicit `as_of` is answered exactly: an entry serves only while the tenant's state is
//   unchanged since it was computed (every applied event bumps the tenant's version);
// - the default `as_of` (now) is recomputed at a bounded cadence: after a change, not before 20 ×
//   the event-loop time of the last computation has passed (at most 60 s), and without changes
//   after a second; the answer names the `as_of` it was computed at;
// - scans run sliced (query/steps.ts), and concurrent requests for one answer share one scan.
// Ad spend and marketing cost come from the rollups (history + live) on each CAC request: one
// small read, grouped by day and channel.
import { LRUCache } from 'lru-cache'
import { DateTime } from 'luxon'
import type { MetricsReader } from '../clickhouse/index.ts'
import { badRequest } from '../common/errors.ts'
import { currencyDigits } from '../common/money.ts'
import { type OrderIndex, measureIndex } from '../stream/index.ts'
import type { TenantRef } from '../tenants/index.ts'
import {
  type CohortFacts,
  type CohortMetric,
  type CohortPeriod,
  acquisitionOf,
  cohortCalendar,
  cohortFactsSteps,
  cohortMatrix,
} from './cohorts.ts'
import { MAX_RANGE_DAYS, checkRange } from './params.ts'
import { type Meter, runSliced } from './steps.ts'

/** Cohorts answered when `from` is not given: the period holding the range's end and the 11 before it. */
export const DEFAULT_COHORTS = 12

export interface CohortViewsOptions {
  source: { orders(tenant: string): OrderIndex }
  reader: Pick<MetricsReader, 'measureRows'>
  now: () => number
  /** Figures (cells, and days of gross profit per cohort and channel) kept in cached answers over all tenants. */
  maxCachedFigures?: number
  /** Longest wait before a change shows in an as_of = now answer. */
  maxIntervalMs?: number
}

export interface CohortRangeParams {
  by: CohortPeriod
  from?: number
  to?: number
  as_of?: number
}

interface Entry {
  facts: CohortFacts
  from: number
  to: number
  version: number
  computedAt: number
  busy: Meter
}

const IDLE_REUSE_MS = 1_000

/**
 * [from, to) and as_of: as_of default now, to default as_of, from default the start of the
 * tenant-local period DEFAULT_COHORTS − 1 periods before the one holding to's last instant.
 */
export function cohortRange(p: CohortRangeParams, timezone: string, now: number) {
  const asOf = p.as_of ?? now
  const to = p.to ?? asOf
  const from =
    p.from ??
    DateTime.fromMillis(to - 1, { zone: timezone })
      .startOf(p.by)
      .minus({ [p.by]: DEFAULT_COHORTS - 1 })
      .toMillis()
  if (from >= to)
    throw badRequest(`from (${new Date(from).toISOString()}) must be before to (${new Date(to).toISOString()})`, [
      { path: p.to === undefined ? 'from' : 'to', message: 'from must be before to' },
    ])
  checkRange(from, to, MAX_RANGE_DAYS['1d'])
  return { asOf, from, to }
}

export function createCohortViews(options: CohortViewsOptions) {
  const { source, reader, now } = options
  const maxIntervalMs = options.maxIntervalMs ?? 60_000
  const versions = new Map<string, number>()
  const versionOf = (tenant: string) => versions.get(tenant) ?? 0
  // Sized by what an entry holds: its cells and its days of gross profit per cohort and channel.
  const cache = new LRUCache<string, Entry>({
    maxSize: options.maxCachedFigures ?? 2_000_000,
    sizeCalculation: ({ facts }) =>
      facts.cells.reduce(
        (sum, cells, i) =>
          sum +
          cells.orders.length +
          facts.all[i].grossProfitByDay.size +
          [...facts.byChannel[i].values()].reduce((n, a) => n + a.grossProfitByDay.size, 0),
        1,
      ),
  })
  const inflight = new Map<string, { version: number; promise: Promise<Entry> }>()

  function usable(entry: Entry, tenant: string, explicit: boolean): boolean {
    const changed = entry.version !== versionOf(tenant)
    if (explicit) return !changed
    const minInterval = Math.min(maxIntervalMs, 20 * entry.busy.busyMs)
    const age = now() - entry.computedAt
    return changed ? age < minInterval : age < Math.max(minInterval, IDLE_REUSE_MS)
  }

  function factsOf(tenant: TenantRef, p: CohortRangeParams): Promise<Entry> {
    // Validated at the request's time (a 400 is never cached); recomputed below at the scan's.
    cohortRange(p, tenant.timezone, now())
    const explicit = p.as_of !== undefined
    const key = [tenant.id, tenant.timezone, p.by, p.from ?? '', p.to ?? '', p.as_of ?? 'now'].join('|')
    const hit = cache.get(key)
    if (hit && usable(hit, tenant.id, explicit)) return Promise.resolve(hit)
    const version = versionOf(tenant.id)
    const running = inflight.get(key)
    if (running && (!explicit || running.version === version)) return running.promise
    const busy: Meter = { busyMs: 0 }
    const { asOf, from, to } = cohortRange(p, tenant.timezone, now())
    const calendar = cohortCalendar(tenant.timezone, p.by, from, to, asOf)
    const promise = runSliced(cohortFactsSteps(source.orders(tenant.id), calendar, asOf), busy).then((facts) => {
      const entry = { facts, from, to, version, computedAt: now(), busy }
      cache.set(key, entry)
      return entry
    })
    inflight.set(key, { version, promise })
    const done = () => inflight.get(key)?.promise === promise && inflight.delete(key)
    promise.then(done, done)
    return promise
  }

  const header = (tenant: TenantRef, entry: Entry, by: CohortPeriod) => ({
    currency: tenant.currency,
    timezone: tenant.timezone,
    from: new Date(entry.from).toISOString(),
    to: new Date(entry.to).toISOString(),
    as_of: new Date(entry.facts.asOf).toISOString(),
    by,
  })

  /** Ad spend and marketing cost per tenant-local day and channel over the cohorts' periods, before as_of. */
  async function spendOf(tenant: TenantRef, facts: CohortFacts) {
    const { calendar } = facts
    const from = calendar.dayStarts[0]
    const to = Math.min(calendar.dayStarts[calendar.periodFirstDay[calendar.cohorts]], facts.asOf)
    if (from >= to) return []
    const rows = await reader.measureRows(tenant, { from, to, interval: '1d', groupBy: ['channel'] })
    return rows.map((row) => ({
      day: row.bin,
      channel: row.channel ?? '',
      adSpend: row.values[measureIndex.ad_spend],
      marketingCost: row.values[measureIndex.marketing_cost],
    }))
  }

  return {
    /** Call for every applied event of the tenant (the stream consumer's change signal). */
    changed(tenant: string): void {
      versions.set(tenant, versionOf(tenant) + 1)
    },

    async cohorts(tenant: TenantRef, p: CohortRangeParams & { metric: CohortMetric; cumulative: boolean }) {
      const entry = await factsOf(tenant, p)
      return {
        ...header(tenant, entry, p.by),
        metric: p.metric,
        cumulative: p.cumulative,
        cohorts: cohortMatrix(entry.facts, p.metric, p.cumulative, currencyDigits(tenant.currency)),
      }
    },

    async cac(tenant: TenantRef, p: CohortRangeParams) {
      const entry = await factsOf(tenant, p)
      const spend = await spendOf(tenant, entry.facts)
      return {
        ...header(tenant, entry, p.by),
        cohorts: acquisitionOf(entry.facts, spend, currencyDigits(tenant.currency)),
      }
    },
  }
}

export type CohortViews = ReturnType<typeof createCohortViews>
