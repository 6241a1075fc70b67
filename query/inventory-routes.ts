// GET /v1/inventory and GET /v1/inventory/:sku (docs/inventory.md): stock per SKU and location,
// units sold over the 28 tenant-local days ending with the tenant's newest event day, days of
// cover and stock-outs, read from the stream stage's in-memory inventory (stream/inventory.ts).
// Like every tenant route, a node that does not own the tenant's partition passes the request to
// the one that does (app/forward.ts), so the answer comes from the state that holds the inventory.
import { Hono } from 'hono'
import { z } from 'zod'
import { notFound } from '../common/errors.ts'
import { registerRoute } from '../common/openapi.ts'
import { type InventoryRow, type InventoryView, coverBelow } from '../stream/index.ts'
import { type TenantEnv, type TenantRegistry, requireTenant } from '../tenants/index.ts'
import { parseQuery } from './params.ts'

/** What the routes read of the processor (stream/processor.ts). */
export interface InventorySource {
  inventory(tenant: string): InventoryView
}

const name = z.string().min(1).max(200)
export const inventoryQuery = z.object({
  sku: name.optional().describe('Only this SKU'),
  location_id: name.optional().describe('Only SKUs with a level at this location (their figures stay whole)'),
  stock_out: z
    .enum(['true', 'false'])
    .transform((v) => v === 'true')
    .optional()
    .describe('true: only SKUs with available ≤ 0; false: only the others'),
  below_days: z.coerce
    .number()
    .min(0)
    .max(100_000)
    .optional()
    .describe('Only SKUs whose days of cover (unrounded) is under this; SKUs without sales in 28 days are left out'),
  page: z.coerce.number().int().min(1).max(1_000_000).default(1),
  page_size: z.coerce.number().int().min(1).max(500).default(50),
})

const instantText = z.string().describe('ISO 8601, UTC')
const skuAnswer = z.object({
  sku: z.string(),
  available: z.number().int().describe('Σ available over its locations (negative: oversold)'),
  locations: z.array(
    z.object({
      location_id: z.string(),
      available: z.number().int(),
      updated_at: instantText.describe('Event time of the standing inventory.level'),
    }),
  ),
  units_28d: z.number().int().describe('Units sold on the 28 local days of the window (cancelled orders left out)'),
  days_of_cover: z
    .number()
    .nullable()
    .describe('available ÷ (units_28d ÷ 28), 1 decimal, half away from zero; null: nothing sold in the window'),
  stock_out: z.boolean().describe('available ≤ 0'),
})
const window = {
  from_day: z.string().nullable().describe('First tenant-local day of the 28-day window (null: no event yet)'),
  to_day: z.string().nullable().describe('Last: the local day of the tenant’s newest event'),
}
export const inventoryResponse = z.object({
  ...window,
  page: z.number().int(),
  page_size: z.number().int(),
  total: z.number().int().describe('SKUs matching the filters, over all pages'),
  skus: z.array(skuAnswer),
})
export const inventorySkuResponse = z.object({ ...window, ...skuAnswer.shape })

registerRoute({
  method: 'get',
  path: '/v1/inventory',
  summary: 'Stock per SKU and location, units sold in 28 days, days of cover and stock-outs',
  query: inventoryQuery,
  response: inventoryResponse,
  tags: ['inventory'],
})
registerRoute({
  method: 'get',
  path: '/v1/inventory/:sku',
  summary: 'One SKU’s stock per location, units sold in 28 days and days of cover',
  response: inventorySkuResponse,
  errors: { 404: 'No inventory level known for this SKU' },
  tags: ['inventory'],
})

const skuOf = (row: InventoryRow) => ({
  sku: row.sku,
  available: row.available,
  locations: row.locations.map((l) => ({
    location_id: l.location_id,
    available: l.available,
    updated_at: new Date(l.ts).toISOString(),
  })),
  units_28d: row.units_28d,
  days_of_cover: row.days_of_cover,
  stock_out: row.stock_out,
})

export function inventoryRoutes(options: { tenants: TenantRegistry; source: InventorySource }) {
  const { source } = options
  return (
    new Hono<TenantEnv>()
      // The pattern matches /v1/inventory itself too.
      .use('/v1/inventory/*', requireTenant(options.tenants))
      .get('/v1/inventory', (c) => {
        const q = parseQuery(inventoryQuery, c.req.query())
        const view = source.inventory(c.get('tenant').id)
        const rows = view.skus.filter(
          (r) =>
            (q.sku === undefined || r.sku === q.sku) &&
            (q.location_id === undefined || r.locations.some((l) => l.location_id === q.location_id)) &&
            (q.stock_out === undefined || r.stock_out === q.stock_out) &&
            (q.below_days === undefined || coverBelow(r, q.below_days)),
        )
        const start = (q.page - 1) * q.page_size
        return c.json({
          from_day: view.from_day,
          to_day: view.to_day,
          page: q.page,
          page_size: q.page_size,
          total: rows.length,
          skus: rows.slice(start, start + q.page_size).map(skuOf),
        })
      })
      .get('/v1/inventory/:sku', (c) => {
        const sku = c.req.param('sku')
        const view = source.inventory(c.get('tenant').id)
        const row = view.skus.find((r) => r.sku === sku)
        if (!row) throw notFound(`no inventory level known for sku ${sku}`)
        return c.json({ from_day: view.from_day, to_day: view.to_day, ...skuOf(row) })
      })
  )
}
