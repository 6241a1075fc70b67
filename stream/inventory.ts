// Inventory (docs/inventory.md), pure and clock-free like the rest of the processor: per tenant the
// stock of each SKU at each location (the `inventory.level` with the newest `ts` stands; on a tie the
// later arrival), and per SKU the units sold per tenant-local day, kept for a rolling window of
// event time. Units follow the orders: an order's lines count on the local day of its window
// (stream/order-index.ts `windowTs`), an edit replaces its lines (old out, new in), a cancellation
// takes its order's units out for good; refunds change nothing here (a refunded item is not stock
// again until a new level says so). The processor (stream/processor.ts) feeds it and snapshots it.
import { divRoundHalfAway } from '../common/money.ts'
import { chunked } from './snapshot.ts'
import { minuteOf } from './windows.ts'

const DAY = 86_400_000
/** Days of sales days of cover are computed over: the window ending with the tenant's newest event day. */
export const COVER_DAYS = 28
/** Days of sales kept behind the newest sales day: the 28-day window and a week more, whatever day the window ends on. */
export const KEPT_DAYS = 35

export interface StockLevel {
  available: number
  /** Event time of the level that stands. */
  ts: number
}

/** What of an order the inventory reads: its window and its lines (a StoredOrder has both). */
export interface SoldOrder {
  windowTs: number
  lines: readonly { sku: string; units: number }[]
}

interface TenantInventory {
  /** sku → location_id → level. */
  levels: Map<string, Map<string, StockLevel>>
  /** sku → local day (days since 1970-01-01 of the local calendar date) → units sold. */
  sold: Map<string, Map<number, number>>
  /** The newest local day any sale was counted on; −Infinity before any. */
  newestDay: number
  /** Days before this are dropped, and sales on them ignored; it only moves forward. */
  floor: number
}

/** A piece of one tenant's inventory in a snapshot (stream/snapshot.ts), in export order. */
export type InventoryChunk =
  | { head: { newestDay: number; floor: number } }
  | { levels: [sku: string, location: string, available: number, ts: number][] }
  | { sold: [sku: string, day: number, units: number][] }

export interface InventoryLocation {
  location_id: string
  available: number
  /** Event time of the standing level (epoch ms). */
  ts: number
}

/** One SKU with a known level, as of a window of COVER_DAYS local days. */
export interface InventoryRow {
  sku: string
  /** Σ available over its locations (negative: oversold). */
  available: number
  locations: InventoryLocation[]
  /** Units sold on the COVER_DAYS local days of the window. */
  units_28d: number
  /** available ÷ (units_28d ÷ 28), to 1 decimal, half away from zero; null when nothing sold in the window. */
  days_of_cover: number | null
  /** available ≤ 0. */
  stock_out: boolean
}

export interface InventoryView {
  /** First and last local day (YYYY-MM-DD) of the window; null before the tenant's first event. */
  from_day: string | null
  to_day: string | null
  /** SKUs with a known level, in code-unit order of their SKU. */
  skus: InventoryRow[]
}

/** 'YYYY-MM-DD' → days since 1970-01-01 (of that calendar date). */
export const dayNumber = (day: string): number =>
  Date.UTC(Number(day.slice(0, 4)), Number(day.slice(5, 7)) - 1, Number(day.slice(8, 10))) / DAY
export const dayText = (day: number): string => new Date(day * DAY).toISOString().slice(0, 10)

/** available × 28 ÷ units, to tenths, half away from zero (exact: integer arithmetic). */
export function daysOfCover(available: number, units: number): number | null {
  if (units <= 0) return null
  return Number(divRoundHalfAway(BigInt(available) * BigInt(COVER_DAYS * 10), BigInt(units))) / 10
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

export function createInventory() {
  const tenants = new Map<string, TenantInventory>()

  function stateOf(tenant: string): TenantInventory {
    let t = tenants.get(tenant)
    if (!t) tenants.set(tenant, (t = { levels: new Map(), sold: new Map(), newestDay: -Infinity, floor: -Infinity }))
    return t
  }

  function addUnits(t: TenantInventory, sku: string, day: number, units: number): void {
    if (units === 0 || day < t.floor) return
    let days = t.sold.get(sku)
    if (!days) t.sold.set(sku, (days = new Map()))
    const next = (days.get(day) ?? 0) + units
    if (next === 0) days.delete(day)
    else days.set(day, next)
    if (days.size === 0) t.sold.delete(sku)
  }

  function advance(t: TenantInventory, day: number): void {
    if (day <= t.newestDay) return
    t.newestDay = day
    const floor = day - (KEPT_DAYS - 1)
    if (floor <= t.floor) return
    t.floor = floor
    for (const [sku, days] of t.sold) {
      for (const d of days.keys()) if (d < floor) days.delete(d)
      if (days.size === 0) t.sold.delete(sku)
    }
  }

  return {
    /** An `inventory.level`: the newest by `ts` stands, on a tie the later arrival. */
    level(tenant: string, sku: string, location: string, available: number, ts: number): void {
      const t = stateOf(tenant)
      let locations = t.levels.get(sku)
      if (!locations) t.levels.set(sku, (locations = new Map()))
      const old = locations.get(location)
      if (old && ts < old.ts) return
      locations.set(location, { available, ts })
    },

    /**
     * An order's units move from `from` (its lines before, undefined: none) to `to` (after; undefined:
     * none, a cancellation). `localDayOf` takes a minute (stream/windows.ts createLocalDayOf).
     */
    moveOrder(
      tenant: string,
      localDayOf: (minute: number) => string,
      from: SoldOrder | undefined,
      to: SoldOrder | undefined,
    ): void {
      const t = stateOf(tenant)
      const dayOf = (o: SoldOrder) => dayNumber(localDayOf(minuteOf(o.windowTs)))
      if (to) advance(t, dayOf(to))
      if (from) {
        const day = dayOf(from)
        for (const line of from.lines) addUnits(t, line.sku, day, -line.units)
      }
      if (to) {
        const day = dayOf(to)
        for (const line of to.lines) addUnits(t, line.sku, day, line.units)
      }
    },

    /**
     * The SKUs with a known level, with their units and cover over the COVER_DAYS local days ending
     * with `endDay` (YYYY-MM-DD: the tenant's newest event day; undefined: no event yet).
     */
    view(tenant: string, endDay: string | undefined): InventoryView {
      const t = tenants.get(tenant)
      const end = endDay === undefined ? undefined : dayNumber(endDay)
      const start = end === undefined ? undefined : end - (COVER_DAYS - 1)
      const skus: InventoryRow[] = []
      for (const [sku, byLocation] of t?.levels ?? []) {
        const locations: InventoryLocation[] = [...byLocation]
          .map(([location_id, l]) => ({ location_id, available: l.available, ts: l.ts }))
          .sort((a, b) => byText(a.location_id, b.location_id))
        const available = locations.reduce((sum, l) => sum + l.available, 0)
        let units = 0
        if (start !== undefined && end !== undefined)
          for (const [day, n] of t?.sold.get(sku) ?? []) if (day >= start && day <= end) units += n
        skus.push({
          sku,
          available,
          locations,
          units_28d: units,
          days_of_cover: daysOfCover(available, units),
          stock_out: available <= 0,
        })
      }
      skus.sort((a, b) => byText(a.sku, b.sku))
      return {
        from_day: start === undefined ? null : dayText(start),
        to_day: end === undefined ? null : dayText(end),
        skus,
      }
    },

    /** The tenant's inventory as snapshot chunks (copies). */
    *exportTenant(tenant: string): Generator<InventoryChunk> {
      const t = tenants.get(tenant)
      if (!t) return
      yield { head: { newestDay: t.newestDay, floor: t.floor } }
      const levels = [...t.levels].flatMap(([sku, m]) =>
        [...m].map(([location, l]) => [sku, location, l.available, l.ts] as [string, string, number, number]),
      )
      for (const chunk of chunked(levels)) yield { levels: chunk }
      const sold = [...t.sold].flatMap(([sku, m]) =>
        [...m].map(([day, units]) => [sku, day, units] as [string, number, number]),
      )
      for (const chunk of chunked(sold)) yield { sold: chunk }
    },

    importTenant(tenant: string, chunk: InventoryChunk): void {
      if ('head' in chunk) {
        tenants.set(tenant, { levels: new Map(), sold: new Map(), ...chunk.head })
        return
      }
      const t = stateOf(tenant)
      if ('levels' in chunk)
        for (const [sku, location, available, ts] of chunk.levels) {
          let m = t.levels.get(sku)
          if (!m) t.levels.set(sku, (m = new Map()))
          m.set(location, { available, ts })
        }
      else
        for (const [sku, day, units] of chunk.sold) {
          let m = t.sold.get(sku)
          if (!m) t.sold.set(sku, (m = new Map()))
          m.set(day, units)
        }
    },

    drop(tenant: string): void {
      tenants.delete(tenant)
    },

    /** Days with sales kept for a tenant (tests). */
    keptDays(tenant: string): number {
      let n = 0
      for (const m of tenants.get(tenant)?.sold.values() ?? []) n += m.size
      return n
    },
  }
}

export type Inventory = ReturnType<typeof createInventory>

/**
 * Whether a SKU's cover is under `days`: available ÷ (units ÷ 28) < days, compared unrounded as
 * available × 28 < days × units (a relative 1e-9 absorbs the binary error of a decimal `days`).
 * Never when nothing sold (no cover).
 */
export function coverBelow(row: Pick<InventoryRow, 'available' | 'units_28d'>, days: number): boolean {
  if (row.units_28d <= 0) return false
  const bound = days * row.units_28d
  return row.available * COVER_DAYS < bound - 1e-9 * Math.max(1, Math.abs(bound))
}
