// Amazon SP-API FBA inventory (part of the amazon_sp source): getInventorySummaries per marketplace
// (`GET /fba/inventory/v1/summaries?details=true&granularityType=Marketplace&granularityId=<m>&marketplaceIds=<m>`,
// following `pagination.nextToken`), every summary → `inventory.level` at location `FBA:<m>`.
// Each poll reads the whole list (no startDateTime: its changes miss inbound quantities, and a
// full read needs no cursor); an unchanged summary maps to the same id, so it counts once.
import { z } from 'zod'
import type { ArchivedPage, HttpResponse, SyncContext } from '../types.ts'
import { MalformedPage } from '../types.ts'
import { iso, parseJson, shapeOf, withId } from '../values.ts'

export const INVENTORY_KIND = 'inventorySummaries'
export const INVENTORY_OPERATION = 'getInventorySummaries'
/** Documented usage plan of getInventorySummaries: 2 requests per second, burst 2. */
export const INVENTORY_BURST = { burst: 2, rate: 2 }
/** Undated summaries remembered between polls (see `Undated`); beyond this they take the poll time each time. */
const MAX_UNDATED = 5_000

const summary = z.looseObject({
  sellerSku: z.string().optional(),
  inventoryDetails: z.looseObject({ fulfillableQuantity: z.number().int().optional() }).optional(),
  lastUpdatedTime: z.string().optional(),
  totalQuantity: z.number().int().optional(),
})
const summariesPage = z.object({
  payload: z.looseObject({
    granularity: z.looseObject({ granularityId: z.string().optional() }).optional(),
    inventorySummaries: z.array(summary),
  }),
  pagination: z.looseObject({ nextToken: z.string().optional() }).optional(),
})
type Summary = z.infer<typeof summary>

/** Fulfillable units; `totalQuantity` only when the summary has no details. */
const availableOf = (s: Summary): number | undefined =>
  s.inventoryDetails ? s.inventoryDetails.fulfillableQuantity : s.totalQuantity

/**
 * Summaries without `lastUpdatedTime` (the API leaves it empty for some) take as `ts` the poll that
 * first saw their current quantity: remembered in the cursor by `<marketplace>|<sku>`, so a summary
 * polled again unchanged gets the same ts and id (a duplicate), and a changed one a new ts.
 */
export type Undated = Record<string, { available: number; since: string }>

export async function syncFbaInventory(
  ctx: SyncContext<unknown>,
  base: string,
  headers: Record<string, string>,
  marketplaceIds: string[],
  previous: Undated,
): Promise<Undated> {
  const polledAt = iso(ctx.now())
  const next: Undated = {}
  for (const m of marketplaceIds) {
    let token: string | undefined
    do {
      const query = new URLSearchParams({
        details: 'true',
        granularityType: 'Marketplace',
        granularityId: m,
        marketplaceIds: m,
      })
      if (token) query.set('nextToken', token)
      const res: HttpResponse = await ctx.request({
        url: `${base}/fba/inventory/v1/summaries?${query}`,
        operation: INVENTORY_OPERATION,
        headers,
      })
      let json: { payload?: { inventorySummaries?: unknown }; pagination?: { nextToken?: unknown } } | undefined
      try {
        json = JSON.parse(res.text)
      } catch {
        json = undefined
      }
      const since: Record<string, string> = {}
      const list = Array.isArray(json?.payload?.inventorySummaries) ? json.payload.inventorySummaries : []
      for (const raw of list) {
        const s = summary.safeParse(raw)
        if (!s.success || !s.data.sellerSku || s.data.lastUpdatedTime) continue
        const available = availableOf(s.data)
        if (available === undefined) continue
        const key = `${m}|${s.data.sellerSku}`
        const seen = previous[key]
        since[s.data.sellerSku] = seen && seen.available === available ? seen.since : polledAt
        if (Object.keys(next).length < MAX_UNDATED) next[key] = { available, since: since[s.data.sellerSku] }
      }
      await ctx.page(INVENTORY_KIND, { marketplace_id: m, undated_since: since }, res.text)
      const nextToken = json?.pagination?.nextToken
      token = typeof nextToken === 'string' && nextToken !== '' ? nextToken : undefined
    } while (token)
  }
  return next
}

/** A getInventorySummaries page → one `inventory.level` per summary with a seller SKU and a quantity. */
export function mapInventorySummaries(p: ArchivedPage): Record<string, unknown>[] {
  const page = shapeOf(summariesPage, parseJson(p.body), 'getInventorySummaries page')
  const marketplace =
    typeof p.meta.marketplace_id === 'string' ? p.meta.marketplace_id : page.payload.granularity?.granularityId
  if (!marketplace) throw new MalformedPage('getInventorySummaries page without its marketplace')
  const since = (p.meta.undated_since ?? {}) as Record<string, unknown>
  const out: Record<string, unknown>[] = []
  for (const s of page.payload.inventorySummaries) {
    const available = availableOf(s)
    if (!s.sellerSku || available === undefined) continue // nothing to key or report
    const remembered = since[s.sellerSku]
    const ts = s.lastUpdatedTime || (typeof remembered === 'string' ? remembered : iso(p.receivedAt))
    out.push(
      withId(`amazon:inventory:${marketplace}:${s.sellerSku}`, {
        type: 'inventory.level',
        ts,
        source: 'amazon',
        store: marketplace,
        sku: s.sellerSku,
        location_id: `FBA:${marketplace}`,
        available,
      }),
    )
  }
  return out
}
