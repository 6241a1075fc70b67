// Event-time bins. Minute and hour bins are UTC-aligned; day bins are the tenant's local days.
import { DateTime } from 'luxon'

export const MINUTE = 60_000
export const HOUR = 3_600_000

export const minuteOf = (ts: number): number => ts - (((ts % MINUTE) + MINUTE) % MINUTE)
export const hourOf = (ts: number): number => ts - (((ts % HOUR) + HOUR) % HOUR)

/** The tenant-local calendar day (YYYY-MM-DD) that holds an instant. */
export function localDay(ts: number, timezone: string): string {
  return DateTime.fromMillis(ts, { zone: timezone }).toISODate()!
}

/** Start of the tenant-local day holding `ts`, as epoch ms. */
export function startOfLocalDay(ts: number, timezone: string): number {
  return DateTime.fromMillis(ts, { zone: timezone }).startOf('day').toMillis()
}

/** Local day (YYYY-MM-DD) → its start and the start of the next day, as epoch ms. */
export function localDayRange(day: string, timezone: string): [number, number] {
  const start = DateTime.fromISO(day, { zone: timezone }).startOf('day')
  return [start.toMillis(), start.plus({ days: 1 }).toMillis()]
}

/**
 * Local day of a minute bin, cached per hour: every real timezone offset is a whole number of
 * minutes, so a UTC minute lies inside one local day, and within an hour only the quarter-hour
 * offsets can cross midnight, which the per-minute fallback handles.
 */
export function createLocalDayOf(timezone: string): (minute: number) => string {
  const cache = new Map<number, string>()
  return (minute) => {
    const hour = hourOf(minute)
    let day = cache.get(hour)
    if (day === undefined) {
      day = localDay(hour, timezone)
      if (localDay(hour + HOUR - 1, timezone) !== day) return localDay(minute, timezone)
      if (cache.size > 50_000) cache.clear()
      cache.set(hour, day)
    }
    return day
  }
}
