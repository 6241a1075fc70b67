// KPIs and timeseries over [from, to): flushed history (rollup_minute) plus live deltas not yet
// flushed, read under the live state's read lock so each event counts exactly once.
import type { ClickHouseClient } from '@clickhouse/client'
import { DateTime } from 'luxon'
import { currencyDigits } from '../common/money.ts'
import {
  HOUR,
  type Kpis,
  type LiveState,
  MEASURES,
  type MeasureRow,
  type Processor,
  type View,
  createLocalDayOf,
  hourOf,
  kpiReport,
  kpisOf,
  localDayRange,
  minuteOf,
  sumRows,
} from '../stream/index.ts'
import { rows } from './client.ts'

export interface TenantRef {
  id: string
  timezone: string
  currency: string
}

export type Interval = '1m' | '1h' | '1d'

interface BinnedRow extends MeasureRow {
  bin: string
}

export interface Freshness {
  latest_event_at: string
  watermark: string
  late_events: number
}

const sums = MEASURES.map((m) => `sum(${m}) AS ${m}`).join(', ')

export function createMetricsReader(options: { client: ClickHouseClient; live: LiveState; processor: Processor; latenessMs: number }) {
  const { client, live, processor } = options

  /** Rows of (bin, source, channel) with summed measures; bin is '' when not grouping by time. */
  async function binnedRows(tenant: TenantRef, from: number, to: number, interval?: Interval): Promise<BinnedRow[]> {
    const fromMinute = minuteOf(from)
    const binSql = interval === '1m' ? 'toString(toUnixTimestamp(minute))' : interval === '1h' ? 'toString(toUnixTimestamp(toStartOfHour(minute)))' : interval === '1d' ? 'toString(local_day)' : "''"
    const dayOf = createLocalDayOf(tenant.timezone)
    const binOf = (minute: number) => (interval === '1m' ? String(minute / 1000) : interval === '1h' ? String(hourOf(minute) / 1000) : interval === '1d' ? dayOf(minute) : '')
    return live.read(async (view) => {
      const history = await rows<Record<string, string>>(
        client,
        `SELECT ${binSql} AS bin, source, channel, ${sums} FROM pulse.rollup_minute
         WHERE tenant = {tenant:String} AND minute >= toDateTime({from:Int64}, 'UTC') AND toUnixTimestamp(minute) < {to:Int64}
         GROUP BY bin, source, channel`,
        { tenant: tenant.id, from: fromMinute / 1000, to: Math.ceil(to / 1000) },
      )
      const out: BinnedRow[] = history.map((r) => ({ bin: r.bin, source: r.source, channel: r.channel, values: MEASURES.map((m) => Number(r[m])) }))
      for (const d of view.deltas(tenant.id, fromMinute, to)) out.push({ bin: binOf(d.minute), source: d.source, channel: d.channel, values: d.values })
      return out
    })
  }

  function freshness(tenant: string): Record<string, Freshness> {
    const out: Record<string, Freshness> = {}
    for (const [source, f] of [...processor.freshness(tenant)].sort(([a], [b]) => (a < b ? -1 : 1))) {
      out[source] = { latest_event_at: new Date(f.latestEventAt).toISOString(), watermark: new Date(f.latestEventAt - options.latenessMs).toISOString(), late_events: f.lateEvents }
    }
    return out
  }

  return {
    freshness,
    /** The KPI answer of SPEC §2, the same object the `kpis` live topic carries. */
    async kpis(tenant: TenantRef, range: { asOf: number; from: number; to: number; view: View }) {
      const binned = await binnedRows(tenant, range.from, range.to)
      return {
        currency: tenant.currency,
        timezone: tenant.timezone,
        from: new Date(range.from).toISOString(),
        to: new Date(range.to).toISOString(),
        as_of: new Date(range.asOf).toISOString(),
        view: range.view,
        ...kpiReport(binned, currencyDigits(tenant.currency), range.view),
        freshness: freshness(tenant.id),
      }
    },

    /** One point per bin of [from, to), empty bins included. */
    async timeseries(tenant: TenantRef, range: { from: number; to: number; view: View; interval: Interval }): Promise<{ t: string; kpis: Kpis }[]> {
      const binned = await binnedRows(tenant, range.from, range.to, range.interval)
      const byBin = sumRows(binned, (r) => (r as BinnedRow).bin)
      const digits = currencyDigits(tenant.currency)
      return binStarts(tenant.timezone, range.from, range.to, range.interval).map(({ key, t }) => ({
        t,
        kpis: kpisOf(byBin.get(key) ?? MEASURES.map(() => 0), digits, range.view),
      }))
    },
  }
}

export type MetricsReader = ReturnType<typeof createMetricsReader>

/** Bin keys (as the SQL names them) and ISO starts of every bin touching [from, to). */
export function binStarts(timezone: string, from: number, to: number, interval: Interval): { key: string; t: string }[] {
  const out: { key: string; t: string }[] = []
  if (interval === '1d') {
    const dayOf = createLocalDayOf(timezone)
    for (let day = dayOf(minuteOf(from)); ; ) {
      const [start, end] = localDayRange(day, timezone)
      if (start >= to) break
      out.push({ key: day, t: isoInZone(start, timezone) })
      day = dayOf(end)
    }
    return out
  }
  const step = interval === '1m' ? 60_000 : HOUR
  for (let t = interval === '1m' ? minuteOf(from) : hourOf(from); t < to; t += step) out.push({ key: String(t / 1000), t: new Date(t).toISOString() })
  return out
}

function isoInZone(ms: number, timezone: string): string {
  return DateTime.fromMillis(ms, { zone: timezone }).toISO({ suppressMilliseconds: true })!
}
