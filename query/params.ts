// Query parameters shared by the metric routes, validated once with zod.
import { z } from 'zod'
import { badRequest } from '../common/errors.ts'
import { instant } from '../common/events.ts'
import { startOfLocalDay } from '../stream/index.ts'
import { MAX_RANGE_DAYS, rangeTooWide } from '../common/ranges.ts'

export const view = z.enum(['transaction_date', 'order_date']).default('transaction_date')

export const rangeParams = z.object({
  as_of: instant.optional(),
  from: instant.optional(),
  to: instant.optional(),
  view,
})

/** `brand` and `store`: only that brand's share of every figure, only that store's rows (docs/brands.md). */
export const filterParams = {
  brand: z
    .string()
    .min(1)
    .max(200)
    .optional()
    .describe("Only this brand: its share of every order's and refund's figures, and ad spend carrying it"),
  store: z.string().min(1).max(200).optional().describe('Only this store'),
}

/** The rollup filter of `brand` and `store` (absent: all). */
export function rollupFilter(p: { brand?: string; store?: string }): { brand?: string; store?: string } {
  return {
    ...(p.brand === undefined ? {} : { brand: p.brand }),
    ...(p.store === undefined ? {} : { store: p.store }),
  }
}

export function parseQuery<S extends z.ZodType>(schema: S, query: Record<string, string>): z.infer<S> {
  const parsed = schema.safeParse(query)
  if (!parsed.success) {
    const details = parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }))
    throw badRequest(`invalid query parameters: ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}`, details)
  }
  return parsed.data
}

/**
 * [from, to) with its defaults (docs/metrics.md, "Ranges and time"): the tenant-local day holding as_of, up to as_of.
 */
export function resolveRange(p: { as_of?: number; from?: number; to?: number }, timezone: string, now: number) {
  const asOf = p.as_of ?? now
  const from = p.from ?? startOfLocalDay(asOf, timezone)
  const to = p.to ?? asOf
  if (from >= to)
    throw badRequest(`from (${new Date(from).toISOString()}) must be before to (${new Date(to).toISOString()})`)
  return { asOf, from, to }
}

export { MAX_RANGE_DAYS, rangeTooWide }

/** A 400 for a range wider than maxDays, naming the parameters and the maximum. */
export function checkRange(from: number, to: number, maxDays: number, what?: string): void {
  const message = rangeTooWide(from, to, maxDays, what)
  if (message) throw badRequest(message)
}
