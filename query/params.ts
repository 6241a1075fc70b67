// Query parameters shared by the metric routes, validated once with zod.
import { z } from 'zod'
import { badRequest } from '../common/errors.ts'
import { instant } from '../common/events.ts'
import { startOfLocalDay } from '../stream/index.ts'

export const view = z.enum(['transaction_date', 'order_date']).default('transaction_date')

export const rangeParams = z.object({
  as_of: instant.optional(),
  from: instant.optional(),
  to: instant.optional(),
  view,
})

export function parseQuery<S extends z.ZodType>(schema: S, query: Record<string, string>): z.infer<S> {
  const parsed = schema.safeParse(query)
  if (!parsed.success) {
    const details = parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }))
    throw badRequest(`invalid query parameters: ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}`, details)
  }
  return parsed.data
}

/** [from, to) with SPEC §2 defaults: the tenant-local day holding as_of, up to as_of. */
export function resolveRange(p: { as_of?: number; from?: number; to?: number }, timezone: string, now: number) {
  const asOf = p.as_of ?? now
  const from = p.from ?? startOfLocalDay(asOf, timezone)
  const to = p.to ?? asOf
  if (from >= to)
    throw badRequest(`from (${new Date(from).toISOString()}) must be before to (${new Date(to).toISOString()})`)
  return { asOf, from, to }
}

const DAY_MS = 86_400_000

/**
 * The widest [from, to) one read may cover, by the finest bins it is computed from: the cost of an
 * answer grows with its range (rows read, bins built, bytes sent), and one wide read holds the
 * engine and the event loop for every tenant. Day-level answers cover two years (a year-over-year
 * comparison, a 15-month report); minute series two days (2,880 points), hour series three months
 * (2,208 points). Beyond: SQL (POST /v1/sql) or a coarser interval.
 */
export const MAX_RANGE_DAYS = { '1m': 2, '1h': 92, '1d': 732 } as const

/** The message naming the limit, or undefined when [from, to) is within maxDays. */
export function rangeTooWide(from: number, to: number, maxDays: number, what = 'to - from'): string | undefined {
  // An hour of slack: a range of whole tenant-local days may hold a daylight-saving hour more.
  if (to - from <= maxDays * DAY_MS + 3_600_000) return undefined
  return `${what} spans ${Math.ceil((to - from) / DAY_MS)} days; at most ${maxDays} days`
}

/** A 400 for a range wider than maxDays, naming the parameters and the maximum. */
export function checkRange(from: number, to: number, maxDays: number, what?: string): void {
  const message = rangeTooWide(from, to, maxDays, what)
  if (message) throw badRequest(message)
}
