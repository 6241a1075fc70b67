// POST /v1/events: validate the whole batch, publish every event to JetStream, answer 202 only
// once JetStream has confirmed each publish. Nothing is published unless everything is valid.
import { Hono } from 'hono'
import { type ErrorDetail, HttpError, badRequest, messageOf } from '../common/errors.ts'
import { z } from 'zod'
import { event } from '../common/events.ts'
import { registerRoute } from '../common/openapi.ts'
import { type Tenant, type TenantEnv, type TenantRegistry, requireTenant } from '../tenants/index.ts'
import { type PipelinedPublisher, PublishError } from './publisher.ts'
import { publishEvents, validateEvents } from './publish-events.ts'

export const MAX_BATCH = 10_000
export const eventsAnswer = z.object({ accepted: z.number().int(), duplicates: z.number().int() })

registerRoute({
  method: 'post',
  path: '/v1/events',
  summary: 'Ingest a batch of events: all validated first, 202 once JetStream confirmed each',
  body: z.array(event).max(MAX_BATCH),
  bodyTypes: ['application/json', 'application/x-ndjson'],
  status: 202,
  response: eventsAnswer,
  errors: { 413: `More than ${MAX_BATCH} events`, 503: 'JetStream did not confirm' },
})

export interface EventsRouteOptions {
  tenants: TenantRegistry
  publisher: PipelinedPublisher
  now: () => number
  /** The deployment's partition count (config.partitions). */
  partitions: number
  /** Rate from a currency to the tenant's, when the tenant has one (tenant settings). */
  rateFor?: (tenant: Tenant, currency: string) => string | undefined
  /** The tenant's uploaded cost of a SKU, if any (to bound a line's COGS). */
  skuCostOf?: (tenant: Tenant, sku: string) => string | undefined
  /** Whether the stream stage already counted this id (duplicates beyond JetStream's window). */
  alreadySeen?: (tenant: string, id: string) => boolean
  /** Told how many events of a tenant JetStream confirmed (for /metrics). */
  onAccepted?: (tenant: string, count: number) => void
}

/** The body as a list of raw items: a JSON array, or NDJSON. */
function readItems(body: string, contentType: string): unknown[] {
  if (/application\/x-ndjson/i.test(contentType)) {
    const details: ErrorDetail[] = []
    const items = body
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '')
      .map((line, index) => {
        try {
          return JSON.parse(line)
        } catch (err) {
          details.push({ index, path: '', message: `not JSON: ${messageOf(err)}` })
        }
      })
    if (details.length > 0) throw badRequest('some lines are not JSON', details)
    return items
  }
  let json: unknown
  try {
    json = JSON.parse(body)
  } catch (err) {
    throw badRequest(`body is not JSON: ${messageOf(err)}`)
  }
  if (!Array.isArray(json))
    throw badRequest('expected a JSON array of events (or NDJSON with Content-Type: application/x-ndjson)')
  return json
}

export function eventsRoute(options: EventsRouteOptions) {
  const { publisher } = options
  return new Hono<TenantEnv>().post('/v1/events', requireTenant(options.tenants), async (c) => {
    const tenant = c.get('tenant')
    const items = readItems(await c.req.text(), c.req.header('content-type') ?? '')
    if (items.length === 0) throw badRequest('the batch is empty')
    if (items.length > MAX_BATCH)
      throw new HttpError(413, 'batch_too_large', `at most ${MAX_BATCH} events a request, got ${items.length}`)

    const receivedAt = options.now()
    const { rateFor, skuCostOf } = options
    const { valid, details } = validateEvents(tenant, items, {
      receivedAt,
      rateFor: rateFor && ((currency) => rateFor(tenant, currency)),
      skuCostOf: skuCostOf && ((sku) => skuCostOf(tenant, sku)),
    })
    if (details.length > 0)
      throw badRequest(
        `${new Set(details.map((d) => d.index)).size} of ${items.length} events are invalid; nothing was accepted`,
        details,
      )

    let outcome
    try {
      outcome = await publishEvents(publisher, tenant.id, valid, {
        receivedAt,
        partitions: options.partitions,
        alreadySeen: options.alreadySeen,
      })
    } catch (err) {
      if (err instanceof PublishError) throw new HttpError(503, 'unavailable', `events not accepted: ${err.message}`)
      throw err
    }
    options.onAccepted?.(tenant.id, outcome.accepted)
    return c.json(outcome, 202)
  })
}
