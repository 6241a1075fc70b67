// How wide a read may be, one rule for HTTP routes and live topics alike.

const DAY_MS = 86_400_000

/**
 * The widest [from, to) one read may cover, by the finest bins it is computed from: the cost of an
 * answer grows with its range (rows read, bins built, bytes sent), and one wide read holds the
 * engine and the event loop for every tenant. Day-level answers cover two years (a year-over-year
 * comparison, a 15-month report); minute series two days (2,880 points), hour series three months
 * (2,208 points). Beyond: SQL (POST /v1/sql) or a coarser interval. A live topic is recomputed on
 * every change of its tenant while watched, so the same bound is checked at subscribe.
 */
export const MAX_RANGE_DAYS = { '1m': 2, '1h': 92, '1d': 732 } as const

/** The message naming the limit, or undefined when [from, to) is within maxDays. */
export function rangeTooWide(from: number, to: number, maxDays: number, what = 'to - from'): string | undefined {
  // An hour of slack: a range of whole tenant-local days may hold a daylight-saving hour more.
  if (to - from <= maxDays * DAY_MS + 3_600_000) return undefined
  return `${what} spans ${Math.ceil((to - from) / DAY_MS)} days; at most ${maxDays} days`
}
