// Fiscal years of the campaign (RFM) dashboard's `fiscal_year_data` (docs/metrics.md, "RFM"),
// pure and clock-free. A fiscal year starts on the 1st of the tenant's `fiscal_year_start_month`
// at midnight in the tenant's time zone and is named by the calendar year it starts in (2025 for
// April 2025 – March 2026, labelled `FY2025-26`; a year starting in January is labelled `FY2026`).
// A customer is new in the fiscal year of their first order and old in every later fiscal year
// they order in.
import { DateTime } from 'luxon'

export const DEFAULT_FISCAL_YEAR_START_MONTH = 4

/** The fiscal year (the calendar year it starts in) holding a tenant-local date. */
export function fiscalYearOfDate(year: number, month: number, startMonth: number): number {
  return month >= startMonth ? year : year - 1
}

/** The fiscal year holding an instant, read in `zone`. */
export function fiscalYearOf(ts: number, zone: string, startMonth: number): number {
  const local = DateTime.fromMillis(ts, { zone })
  return fiscalYearOfDate(local.year, local.month, startMonth)
}

/** The instant fiscal year `year` starts: the 1st of the start month, 00:00 in `zone`. */
export function fiscalYearStart(year: number, zone: string, startMonth: number): number {
  return DateTime.fromObject({ year, month: startMonth, day: 1 }, { zone }).startOf('day').toMillis()
}

/** `FY2025-26` (April 2025 – March 2026), or `FY2026` for a year starting in January. */
export function fiscalYearLabel(year: number, startMonth: number): string {
  if (startMonth === 1) return `FY${year}`
  return `FY${year}-${String((year + 1) % 100).padStart(2, '0')}`
}

/** A share of a year's customers as a percentage (as the RFM `retention_rate`); null when none. */
export function percentOf(part: number, total: number): number | null {
  return total === 0 ? null : (100 * part) / total
}

// Instants lie from 1970 to 2100 (common/events.ts); the table covers every fiscal year they touch.
const FIRST_TABLE_YEAR = 1968
const LAST_TABLE_YEAR = 2101

export interface FiscalCalendar {
  zone: string
  startMonth: number
  /** The fiscal year holding `ts` (fiscalYearOf, by binary search over precomputed starts). */
  yearOf(ts: number): number
}

const calendars = new Map<string, FiscalCalendar>()

/** The tenant's fiscal calendar; years are found by binary search, not by a date per order. */
export function fiscalCalendar(zone: string, startMonth: number): FiscalCalendar {
  const key = `${zone}\u0000${startMonth}`
  const known = calendars.get(key)
  if (known) return known
  const starts = new Float64Array(LAST_TABLE_YEAR - FIRST_TABLE_YEAR + 2)
  for (let k = 0; k < starts.length; k++) starts[k] = fiscalYearStart(FIRST_TABLE_YEAR + k, zone, startMonth)
  let last = 0
  const calendar: FiscalCalendar = {
    zone,
    startMonth,
    yearOf(ts: number): number {
      // Orders come roughly in time order: the year of the previous call is the likely answer.
      if (ts >= starts[last] && ts < starts[last + 1]) return FIRST_TABLE_YEAR + last
      if (!(ts >= starts[0] && ts < starts[starts.length - 1])) return fiscalYearOf(ts, zone, startMonth)
      let lo = 0
      let hi = starts.length - 2
      while (lo < hi) {
        const mid = (lo + hi + 1) >>> 1
        if (starts[mid] <= ts) lo = mid
        else hi = mid - 1
      }
      last = lo
      return FIRST_TABLE_YEAR + lo
    },
  }
  if (calendars.size >= 256) calendars.clear()
  calendars.set(key, calendar)
  return calendar
}

/**
 * Per customer (same index as the RFM facts): the fiscal years they ordered in, relative to the
 * year of their first order. Bit k of `years` is set when an order counted falls in fiscal year
 * `firstYear + k` (k < 32); offsets of 32 and more (orders 32 fiscal years apart) go to
 * `laterYears`. 8 bytes a customer.
 */
export interface FiscalFacts {
  startMonth: number
  /** Fiscal year of the customer's first order before as_of, whatever the date range. */
  firstYear: Int32Array
  years: Int32Array
  laterYears: Map<number, number[]>
  /** The years answered, `from` to `to` inclusive (none when to < from). */
  from: number
  to: number
}

export interface FiscalYearEntry {
  label: string
  new_customers: number
  old_customers: number
  new_pct: number | null
  old_pct: number | null
}

/** Counts new and old customers per fiscal year over the customers added. */
export function fiscalYearTally(from: number, to: number) {
  const n = Math.max(0, to - from + 1)
  const fresh = new Int32Array(n)
  const old = new Int32Array(n)
  return {
    /** A customer: the fiscal year of their first order, the years bit set, the offsets ≥ 32. */
    add(firstYear: number, years: number, laterYears?: readonly number[]): void {
      const base = firstYear - from
      if ((years & 1) !== 0 && base >= 0 && base < n) fresh[base]++
      for (let bits = years & ~1; bits !== 0; bits &= bits - 1) {
        const k = base + 31 - Math.clz32(bits & -bits)
        if (k >= 0 && k < n) old[k]++
      }
      if (laterYears) for (const offset of laterYears) if (base + offset >= 0 && base + offset < n) old[base + offset]++
    },
    entries(startMonth: number): FiscalYearEntry[] {
      return Array.from(fresh, (newCustomers, k) => fiscalYearEntry(from + k, startMonth, newCustomers, old[k]))
    },
  }
}

/** One year's entry: new % = new ÷ (new + old) × 100, old % = old ÷ (new + old) × 100. */
export function fiscalYearEntry(year: number, startMonth: number, fresh: number, old: number): FiscalYearEntry {
  return {
    label: fiscalYearLabel(year, startMonth),
    new_customers: fresh,
    old_customers: old,
    new_pct: percentOf(fresh, fresh + old),
    old_pct: percentOf(old, fresh + old),
  }
}
