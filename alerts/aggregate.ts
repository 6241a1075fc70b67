// The alerts' own rolling aggregate: per tenant, minute bins (event time) of just the measures
// the rules read, and ad spend / attributed revenue per (channel, campaign). Fed with the signed
// deltas the stream processor makes for every applied event (live, and replayed at start-up), so
// corrections (order edits, restated statements) land exactly as they do in the rollups, and
// evaluation never reads ClickHouse. Pure and clock-free: time only comes in with the deltas.
//
// Retention: a tenant keeps the minutes at or after its floor = newest minute − horizon (the
// longest window + baseline its rules need). The floor only moves forward, and a delta below it
// is ignored, so every kept bin is the exact sum of all deltas ever made to its minute whatever
// order they came in (replay after a restart rebuilds the same bins).
import {
  type Delta,
  MINUTE,
  type MeasureName,
  type Measures,
  measureIndex,
  minuteOf,
  zeroMeasures,
} from '../stream/index.ts'
import { type StateRecord, chunked } from '../stream/snapshot.ts'

/** The measures rules read (a bin keeps only these). */
export const ALERT_MEASURES = [
  'gmv',
  'orders',
  'subtotal',
  'refund_subtotal',
  'refund_subtotal_od',
  'refunds',
  'refund_count',
  'cogs',
  'shipping_cost',
  'ad_spend',
  'marketing_cost',
  'attributed_revenue',
] as const satisfies readonly MeasureName[]
const SOURCE = ALERT_MEASURES.map((name) => measureIndex[name])
const AD_SPEND = measureIndex.ad_spend
const ATTRIBUTED = measureIndex.attributed_revenue

interface Bin {
  v: Float64Array
  /** `channel \0 campaign_id` → its ad spend and attributed revenue. */
  ads?: Map<string, AdCell>
}

interface AdCell {
  channel: string
  campaign: string
  spend: number
  revenue: number
}

interface TenantBins {
  bins: Map<number, Bin>
  /** Events fed (with any delta): what an evaluation has seen, in a form a client can count. */
  events: number
  newest: number
  floor: number
  /** Floor at the last sweep of old bins (sweeps are batched: once per hour of event time). */
  swept: number
}

export interface AdFigures {
  ad_spend: number
  attributed_revenue: number
}

export interface AdFilter {
  channel?: string
  campaign_id?: string
}

export interface AggregateOptions {
  /** How far back from its newest minute a tenant's rules look (window + baseline). */
  horizonMs: (tenant: string) => number
}

const SEP = '\u0000'

/** The aggregate's records for a snapshot (stream/snapshot.ts): a tenant's head, then its bins in chunks. */
export type AggregateRecord = { tenant: string } & (
  | { part: 'alertTenant'; data: Omit<TenantBins, 'bins'> }
  /** Bins: their minutes, their ALERT_MEASURES (a row of each bin's, one after another), the ad cells of those with any. */
  | { part: 'alertBins'; data: { minutes: Float64Array; values: Float64Array; ads: Map<number, AdCell[]> } }
)

export function createAlertAggregate(options: AggregateOptions) {
  const tenants = new Map<string, TenantBins>()

  function stateOf(tenant: string): TenantBins {
    let t = tenants.get(tenant)
    if (!t)
      tenants.set(tenant, (t = { bins: new Map(), events: 0, newest: -Infinity, floor: -Infinity, swept: -Infinity }))
    return t
  }

  function advance(t: TenantBins, tenant: string, minute: number): void {
    if (minute <= t.newest) return
    t.newest = minute
    t.floor = Math.max(t.floor, minute - options.horizonMs(tenant))
    if (t.floor - t.swept < 60 * MINUTE) return
    for (const m of t.bins.keys()) if (m < t.floor) t.bins.delete(m)
    t.swept = t.floor
  }

  /** Visits the kept bins of [from, to) (minute-aligned), by lookup or by scan, whichever is fewer. */
  function each(tenant: string, from: number, to: number, visit: (bin: Bin) => void): void {
    const t = tenants.get(tenant)
    if (!t) return
    const start = Math.max(minuteOf(from), t.floor)
    if (start >= to) return
    if ((to - start) / MINUTE <= t.bins.size) {
      for (let m = start; m < to; m += MINUTE) {
        const bin = t.bins.get(m)
        if (bin) visit(bin)
      }
    } else {
      for (const [m, bin] of t.bins) if (m >= start && m < to) visit(bin)
    }
  }

  return {
    /** Adds an applied event's deltas (the stream consumer's and the start-up replay's hook). */
    add(tenant: { id: string }, deltas: readonly Delta[]): void {
      if (deltas.length === 0) return
      const t = stateOf(tenant.id)
      t.events++
      for (const d of deltas) advance(t, tenant.id, d.minute)
      for (const d of deltas) {
        if (d.minute < t.floor) continue
        let bin = t.bins.get(d.minute)
        if (!bin) t.bins.set(d.minute, (bin = { v: new Float64Array(SOURCE.length) }))
        for (let i = 0; i < SOURCE.length; i++) bin.v[i] += d.values[SOURCE[i]]
        const spend = d.values[AD_SPEND]
        const revenue = d.values[ATTRIBUTED]
        if (spend === 0 && revenue === 0) continue
        const key = `${d.channel}${SEP}${d.campaign_id ?? ''}`
        const ads = (bin.ads ??= new Map())
        const cell = ads.get(key)
        if (cell) {
          cell.spend += spend
          cell.revenue += revenue
          // A campaign whose figures cancelled (a restatement to zero) leaves no empty subject behind.
          if (cell.spend === 0 && cell.revenue === 0) ads.delete(key)
        } else ads.set(key, { channel: d.channel, campaign: d.campaign_id ?? '', spend, revenue })
      }
    },
    /** The tenant's newest minute with a delta (event time), undefined before any. */
    newest(tenant: string): number | undefined {
      const t = tenants.get(tenant)
      return t && Number.isFinite(t.newest) ? t.newest : undefined
    },
    /** Σ of the kept measures over [from, to), in the stream's measure layout (others 0). */
    sum(tenant: string, from: number, to: number): Measures {
      const acc = new Float64Array(SOURCE.length)
      each(tenant, from, to, (bin) => {
        for (let i = 0; i < acc.length; i++) acc[i] += bin.v[i]
      })
      const out = zeroMeasures()
      for (let i = 0; i < SOURCE.length; i++) out[SOURCE[i]] = acc[i]
      return out
    },
    /** Ad spend over [from, to) of the rows matching the filter (ad spend rows carry the platform as their channel). */
    adSpend(tenant: string, from: number, to: number, filter: AdFilter = {}): number {
      let spend = 0
      each(tenant, from, to, (bin) => {
        for (const cell of bin.ads?.values() ?? []) {
          if (
            (filter.channel === undefined || filter.channel === cell.channel) &&
            (filter.campaign_id === undefined || filter.campaign_id === cell.campaign)
          )
            spend += cell.spend
        }
      })
      return spend
    },
    /** Ad spend and attributed revenue per campaign id over [from, to) ('' = no campaign). */
    byCampaign(tenant: string, from: number, to: number): Map<string, AdFigures> {
      const out = new Map<string, AdFigures>()
      each(tenant, from, to, (bin) => {
        for (const cell of bin.ads?.values() ?? []) {
          const f =
            out.get(cell.campaign) ?? out.set(cell.campaign, { ad_spend: 0, attributed_revenue: 0 }).get(cell.campaign)!
          f.ad_spend += cell.spend
          f.attributed_revenue += cell.revenue
        }
      })
      return out
    },
    /** The state of every tenant `include` accepts, as records of copies. */
    *exportRecords(include: (tenantId: string) => boolean = () => true): Generator<AggregateRecord> {
      for (const [tenant, t] of tenants) {
        if (!include(tenant)) continue
        yield {
          tenant,
          part: 'alertTenant',
          data: { events: t.events, newest: t.newest, floor: t.floor, swept: t.swept },
        }
        for (const chunk of chunked(t.bins, ([, bin]) => 1 + (bin.ads?.size ?? 0))) {
          const values = new Float64Array(chunk.length * SOURCE.length)
          const ads = new Map<number, AdCell[]>()
          chunk.forEach(([minute, bin], i) => {
            values.set(bin.v, i * SOURCE.length)
            if (bin.ads?.size)
              ads.set(
                minute,
                [...bin.ads.values()].map((cell) => ({ ...cell })),
              )
          })
          const minutes = Float64Array.from(chunk, ([minute]) => minute)
          yield { tenant, part: 'alertBins', data: { minutes, values, ads } }
        }
      }
    },
    /** Forgets every tenant `include` accepts (the node no longer owns their partition). */
    dropTenants(include: (tenantId: string) => boolean): void {
      for (const tenant of [...tenants.keys()]) if (include(tenant)) tenants.delete(tenant)
    },
    /** Applies one record of `exportRecords`; records come in the order they were exported. */
    importRecord(stateRecord: StateRecord): void {
      const record = stateRecord as AggregateRecord
      if (record.part === 'alertTenant') {
        tenants.set(record.tenant, { bins: new Map(), ...record.data })
        return
      }
      if (record.part !== 'alertBins') throw new Error(`not a record of the alert aggregate: '${stateRecord.part}'`)
      const t = tenants.get(record.tenant)
      if (!t) throw new Error(`an 'alertBins' record of tenant ${record.tenant} before its 'alertTenant' record`)
      const { minutes, values, ads } = record.data
      minutes.forEach((minute, i) => {
        const bin: Bin = { v: values.slice(i * SOURCE.length, (i + 1) * SOURCE.length) }
        const cells = ads.get(minute)
        if (cells) bin.ads = new Map(cells.map((cell) => [`${cell.channel}${SEP}${cell.campaign}`, { ...cell }]))
        t.bins.set(minute, bin)
      })
    },
    /**
     * The tenant's floor: every kept bin from this minute on is exact; earlier minutes were dropped
     * (or never needed). A rule reaching further back (one added with a longer reach than the
     * rules before it) reads an unknown there, not zeros. −Infinity before any delta.
     */
    keptFrom: (tenant: string): number => tenants.get(tenant)?.floor ?? -Infinity,
    /** How many events (with deltas) the tenant's aggregate has taken in, replayed ones included. */
    events: (tenant: string): number => tenants.get(tenant)?.events ?? 0,
    tenants: (): string[] => [...tenants.keys()],
    /** Kept bins of a tenant (tests, the bench's memory figure). */
    binCount: (tenant: string): number => tenants.get(tenant)?.bins.size ?? 0,
  }
}

export type AlertAggregate = ReturnType<typeof createAlertAggregate>
