// KPIs and timeseries over [from, to): flushed history (rollup_minute) plus live deltas not yet
// flushed, read under the live state's read lock so each event counts exactly once.
import { setImmediate as nextTurn } from 'node:timers/promises'
import type { ClickHouseClient } from '@clickhouse/client'
import { HttpError } from '../common/errors.ts'
import { LRUCache } from 'lru-cache'
import { DateTime } from 'luxon'
import { currencyDigits } from '../common/money.ts'
import {
  DIMENSIONS,
  type Dimension,
  HOUR,
  MINUTE,
  type Kpis,
  type LiveState,
  MEASURES,
  type MeasureRow,
  type Processor,
  type View,
  createLocalDayOf,
  customerGroupFigures,
  customerGroupsOf,
  hourOf,
  kpiReport,
  kpisByStore,
  kpisOf,
  localDayRange,
  minuteOf,
  addMeasures,
  sumRows,
  zeroGroupSums,
  zeroMeasures,
} from '../stream/index.ts'
import type { TenantRef } from '../tenants/index.ts'

/** The fields every metrics and dashboard answer opens with. */
export function answerHeader(tenant: TenantRef, range: { from: number; to: number; asOf: number }) {
  return {
    currency: tenant.currency,
    timezone: tenant.timezone,
    from: new Date(range.from).toISOString(),
    to: new Date(range.to).toISOString(),
    as_of: new Date(range.asOf).toISOString(),
  }
}

export type Interval = '1m' | '1h' | '1d'

/** Only one brand's share, only one store's rows (docs/brands.md); absent: all. */
export interface RollupFilter {
  brand?: string
  store?: string
}

/** The `where` of a filter: the dimensions it names. */
export function filterOf(f: RollupFilter): Partial<Record<Dimension, string>> {
  const where: Partial<Record<Dimension, string>> = {}
  if (f.brand !== undefined) where.brand = f.brand
  if (f.store !== undefined) where.store = f.store
  return where
}

export interface BinnedRow extends MeasureRow {
  bin: string
}

export interface RowQuery {
  from: number
  to: number
  /** Group by time bins as well; omitted: one bin ('') for the whole range. */
  interval?: Interval
  /** Dimensions to group by; the others are summed over. */
  groupBy: readonly Dimension[]
  /** Only rows whose dimensions equal these values. */
  where?: Partial<Record<Dimension, string>>
  /**
   * Called right after the live deltas are read, in the same synchronous stretch: what it reads
   * of the processor's state (the order index) then matches the rows event for event.
   */
  atRead?: () => void
}

export interface Freshness {
  latest_event_at: string
  watermark: string
  late_events: number
}

const sums = MEASURES.map((m) => `sum(${m}) AS ${m}`).join(', ')

/**
 * How rows are put in bins: `sql` is a history row's bin in ClickHouse, `of` a live delta's bin
 * from its minute. The two must name a bin alike, since a bin's history and live deltas are
 * summed under one key, and `binStarts` lists the same keys.
 */
interface Binning {
  sql: string
  of: (minute: number, dayOf: (minute: number) => string) => string
}

const BINS: Record<Interval, Binning> = {
  '1m': { sql: 'toString(toUnixTimestamp(minute))', of: (minute) => String(minute / 1000) },
  '1h': { sql: 'toString(toUnixTimestamp(toStartOfHour(minute)))', of: (minute) => String(hourOf(minute) / 1000) },
  '1d': { sql: 'toString(local_day)', of: (minute, dayOf) => dayOf(minute) },
}

/** No interval: one bin for the whole range. */
const WHOLE_RANGE: Binning = { sql: "''", of: () => '' }

export interface MetricsReaderOptions {
  client: ClickHouseClient
  live: LiveState
  processor: Processor
  /**
   * Whether a tenant has more expensive reads in flight than one: its queries then run at a lower
   * ClickHouse priority, so the engine's threads serve everyone else's first.
   */
  busy?: (tenant: string) => boolean
  /**
   * Why this ClickHouse lacks part of the tenant's history (its partition was landed on another
   * node's embedded engine), or undefined: such a read is refused with 503, never answered short.
   */
  historyMissing?: (tenant: string) => string | undefined
}

// ClickHouse query priorities (1 is the highest; lower ones pause while a higher one runs).
const READ_PRIORITY = 1
const BUSY_READ_PRIORITY = 2
export const ANALYST_PRIORITY = 3

export function createMetricsReader(options: MetricsReaderOptions) {
  const { client, live, processor } = options
  const busy = options.busy ?? (() => false)

  /** Summed measures per (bin, grouped dimensions) over [from, to): history plus live deltas. */
  async function measureRows(tenant: TenantRef, q: RowQuery): Promise<BinnedRow[]> {
    const missing = options.historyMissing?.(tenant.id)
    if (missing) throw new HttpError(503, 'history_unavailable', missing)
    const { interval, groupBy } = q
    const where = Object.entries(q.where ?? {}) as [Dimension, string][]
    const fromMinute = minuteOf(q.from)
    const binning = interval ? BINS[interval] : WHOLE_RANGE
    const dayOf = createLocalDayOf(tenant.timezone)
    // Whole hours come from rollup_hour (up to 60× fewer rows), the minute edges from rollup_minute.
    const toMinute = Math.ceil(q.to / MINUTE) * MINUTE
    const firstHour = Math.ceil(fromMinute / HOUR) * HOUR
    const hoursEnd = interval === '1m' ? firstHour : Math.max(firstHour, Math.floor(toMinute / HOUR) * HOUR)
    const params: Record<string, unknown> = {
      tenant: tenant.id,
      a: fromMinute / 1000,
      b: Math.min(firstHour, toMinute) / 1000,
      c: hoursEnd / 1000,
      d: toMinute / 1000,
    }
    where.forEach(([, value], i) => (params[`w${i}`] = value))
    const filters = where.map(([dim], i) => ` AND ${dim} = {w${i}:String}`).join('')
    const groups = groupBy.map((d) => `, ${d}`).join('')
    const columns = `minute, local_day, ${DIMENSIONS.join(', ')}, ${MEASURES.join(', ')}`
    const between = (lo: string, hi: string) =>
      `minute >= toDateTime({${lo}:Int64}, 'UTC') AND minute < toDateTime({${hi}:Int64}, 'UTC')`
    const sql = `SELECT ${binning.sql} AS bin${groups}, ${sums} FROM (
        SELECT ${columns} FROM pulse.rollup_minute
        WHERE tenant = {tenant:String} AND ((${between('a', 'b')}) OR (${between('c', 'd')}))${filters}
        UNION ALL
        SELECT ${columns} FROM pulse.rollup_hour WHERE tenant = {tenant:String} AND ${between('b', 'c')}${filters})
      GROUP BY bin${groups}
      SETTINGS priority = ${busy(tenant.id) ? BUSY_READ_PRIORITY : READ_PRIORITY},
               output_format_json_quote_64bit_integers = 0`
    return live.read(tenant.id, async (view) => {
      // Arrays of plain numbers, not objects of quoted ones: a 700-day dashboard's few thousand rows
      // decode several times faster, and the event loop is what every tenant shares.
      const result = await client.query({ query: sql, query_params: params, format: 'JSONCompactEachRow' })
      const history = await result.json<(string | number)[]>()
      const dims = groupBy.length
      const out: BinnedRow[] = history.map((r) => {
        const row: BinnedRow = { bin: r[0] as string, values: r.slice(1 + dims) as number[] }
        groupBy.forEach((d, i) => (row[d] = r[1 + i] as string))
        return row
      })
      // The answer so far was one stretch of JavaScript; let other requests in before the rest.
      await nextTurn()
      for (const d of view.deltas(tenant.id, fromMinute, q.to)) {
        if (where.some(([dim, value]) => (d[dim] ?? '') !== value)) continue
        const row: BinnedRow = { bin: binning.of(d.minute, dayOf), values: d.values }
        for (const dim of groupBy) row[dim] = d[dim] ?? ''
        out.push(row)
      }
      q.atRead?.()
      return withoutEmptyGroups(out, groupBy)
    })
  }

  function freshness(tenant: string): Record<string, Freshness> {
    const out: Record<string, Freshness> = {}
    for (const [source, f] of [...processor.freshness(tenant)].sort(([a], [b]) => (a < b ? -1 : 1))) {
      out[source] = {
        latest_event_at: new Date(f.latestEventAt).toISOString(),
        watermark: new Date(f.latestEventAt - processor.settings(tenant).allowed_lateness_seconds * 1000).toISOString(),
        late_events: f.lateEvents,
      }
    }
    return out
  }

  return {
    measureRows,
    freshness,
    /**
     * The KPI answer (docs/metrics.md, "KPIs"), the same object the `kpis` live topic carries. With
     * `brand` or `store` every figure is that brand's share or that store's; the new and returning
     * figures are not split by them yet (null).
     */
    async kpis(tenant: TenantRef, range: { asOf: number; from: number; to: number; view: View } & RollupFilter) {
      let groups = zeroGroupSums()
      const where = filterOf(range)
      const filtered = Object.keys(where).length > 0
      const binned = await measureRows(tenant, {
        from: range.from,
        to: range.to,
        groupBy: ['source', 'channel', 'store'],
        where,
        atRead: () => {
          if (!filtered) groups = customerGroupsOf(processor.orders(tenant.id), [range], range.view)[0]
        },
      })
      const digits = currencyDigits(tenant.currency)
      const forBrand = range.brand !== undefined
      const { by_channel, by_source, ...total } = kpiReport(binned, digits, range.view, forBrand)
      const groupFigures = customerGroupFigures(groups, digits)
      return {
        ...answerHeader(tenant, range),
        view: range.view,
        ...(range.brand === undefined ? {} : { brand: range.brand }),
        ...(range.store === undefined ? {} : { store: range.store }),
        ...total,
        ...(filtered ? Object.fromEntries(Object.keys(groupFigures).map((k) => [k, null])) : groupFigures),
        by_channel,
        by_source,
        by_store: kpisByStore(binned, digits, range.view, forBrand),
        freshness: freshness(tenant.id),
      }
    },

    /** One point per bin of [from, to), empty bins included. */
    async timeseries(
      tenant: TenantRef,
      range: { from: number; to: number; view: View; interval: Interval } & RollupFilter,
    ): Promise<{ t: string; kpis: Kpis }[]> {
      const binned = await measureRows(tenant, {
        from: range.from,
        to: range.to,
        interval: range.interval,
        groupBy: ['channel'],
        where: filterOf(range),
      })
      const forBrand = range.brand !== undefined
      const byBin = sumRows(binned, (r) => r.bin)
      const attributedByBin = sumRows(
        binned.filter((r) => r.channel !== 'organic'),
        (r) => r.bin,
      )
      const digits = currencyDigits(tenant.currency)
      return binStarts(tenant.timezone, range.from, range.to, range.interval).map(({ key, t }) => ({
        t,
        kpis: kpisOf(
          byBin.get(key) ?? zeroMeasures(),
          digits,
          range.view,
          attributedByBin.get(key) ?? zeroMeasures(),
          forBrand,
        ),
      }))
    },
  }
}

export type MetricsReader = ReturnType<typeof createMetricsReader>

/**
 * One row per (bin, group), groups whose measures sum to zero left out: a correction can cancel a
 * group (a refund placed on `unknown` until its order arrived), and whether its zero rows still
 * exist (live state, an unmerged part) or not (a SummingMergeTree merge drops them) must not
 * change the answer.
 */
function withoutEmptyGroups(rows: BinnedRow[], groupBy: readonly Dimension[]): BinnedRow[] {
  const groups = new Map<string, BinnedRow>()
  for (const row of rows) {
    const key = [row.bin, ...groupBy.map((d) => row[d] ?? '')].join('\u0000')
    const group = groups.get(key)
    if (!group) groups.set(key, { ...row, values: [...row.values] })
    else addMeasures(group.values, row.values)
  }
  return [...groups.values()].filter((row) => row.values.some((v) => v !== 0))
}

/** Bin keys (as the SQL names them) and ISO starts of every bin touching [from, to). */
export function binStarts(
  timezone: string,
  from: number,
  to: number,
  interval: Interval,
): { key: string; t: string }[] {
  const out: { key: string; t: string }[] = []
  if (interval === '1d') {
    for (let day = localDayBin(timezone, createLocalDayOf(timezone)(minuteOf(from))); day.start < to; ) {
      out.push({ key: day.key, t: day.t })
      day = localDayBin(timezone, day.next)
    }
    return out
  }
  const step = interval === '1m' ? 60_000 : HOUR
  for (let t = interval === '1m' ? minuteOf(from) : hourOf(from); t < to; t += step)
    out.push({ key: String(t / 1000), t: new Date(t).toISOString() })
  return out
}

interface LocalDayBin {
  key: string
  start: number
  t: string
  next: string
}

// A tenant-local day's bounds take several luxon calls; a 700-day dashboard or topic would make
// them for every day at every recomputation, so each (zone, day) is worked out once.
const localDayBins = new LRUCache<string, LocalDayBin>({ max: 100_000 })

function localDayBin(timezone: string, day: string): LocalDayBin {
  const cacheKey = `${timezone}|${day}`
  let bin = localDayBins.get(cacheKey)
  if (!bin) {
    const [start, end] = localDayRange(day, timezone)
    bin = { key: day, start, t: isoInZone(start, timezone), next: createLocalDayOf(timezone)(end) }
    localDayBins.set(cacheKey, bin)
  }
  return bin
}

function isoInZone(ms: number, timezone: string): string {
  return DateTime.fromMillis(ms, { zone: timezone }).toISO({ suppressMilliseconds: true })!
}
