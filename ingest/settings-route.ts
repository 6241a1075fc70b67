// /v1/settings: read and change a tenant's settings. A change travels through the event stream
// (so replaying history applies it at the same point) and the answer waits until it is applied.
import { randomUUID } from 'node:crypto'
import { Hono } from 'hono'
import { headers as natsHeaders } from '@nats-io/transport-node'
import { badRequest } from '../common/errors.ts'
import { shapeProblem } from '../common/json-shape.ts'
import { isDecimal } from '../common/money.ts'
import { type Settings, settingsSchema } from '../common/settings.ts'
import { type TenantEnv, type TenantRegistry, requireTenant } from '../tenants/index.ts'
import type { PipelinedPublisher } from './publisher.ts'
import { HEADERS, eventSubject } from './streams.ts'

export const SETTINGS_EVENT_TYPE = 'settings.updated'

export interface SettingsRouteOptions {
  tenants: TenantRegistry
  publisher: PipelinedPublisher
  now: () => number
  /** The deployment's partition count (config.partitions). */
  partitions: number
  settingsOf: (tenant: string) => Settings
  /** Resolves once the stream stage has applied the tenant's message with this sequence. */
  applied: (tenant: string, seq: number) => Promise<void>
}

/** RFC 7396 JSON merge patch: objects merge recursively, null removes a key. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch
  const out: Record<string, unknown> =
    target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {}
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key]
    else out[key] = mergePatch(out[key], value)
  }
  return out
}

/** `sku,cost` lines (a header line is allowed) → { sku: cost }. */
export function parseSkuCostsCsv(text: string): Record<string, string> {
  const costs: Record<string, string> = {}
  const details: { index: number; message: string }[] = []
  text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .forEach((line, index) => {
      if (line === '' || (index === 0 && /^sku\s*,/i.test(line))) return
      const [sku, cost, ...rest] = line.split(',').map((cell) => cell.trim().replace(/^"(.*)"$/, '$1'))
      if (!sku || cost === undefined || rest.length > 0 || !isDecimal(cost))
        details.push({ index, message: `expected "sku,cost" with a decimal cost, got ${JSON.stringify(line)}` })
      else costs[sku] = cost
    })
  if (details.length > 0) throw badRequest('invalid SKU cost lines', details)
  return costs
}

const MAX_SETTINGS_DEPTH = 8

/** A JSON upload of SKU costs: `[{ "sku", "cost" }]` or `{ "<sku>": "<cost>" }`. */
function skuCostsOf(body: unknown): Record<string, string> {
  if (Array.isArray(body)) {
    return Object.fromEntries(
      body.map((row: { sku?: unknown; cost?: unknown } | null) => [String(row?.sku ?? ''), String(row?.cost ?? '')]),
    )
  }
  if (body !== null && typeof body === 'object') return body as Record<string, string>
  throw badRequest('expected SKU costs as [{"sku": "...", "cost": "12.50"}] or {"<sku>": "12.50"}, or text/csv')
}

export function settingsRoute(options: SettingsRouteOptions) {
  const { publisher } = options

  async function save(tenant: string, candidate: unknown): Promise<Settings> {
    const parsed = settingsSchema.safeParse(candidate)
    if (!parsed.success)
      throw badRequest(
        'invalid settings',
        parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
      )
    const id = `settings-${randomUUID()}`
    const h = natsHeaders()
    h.set('Nats-Msg-Id', `${tenant}:${id}`)
    h.set(HEADERS.receivedAt, String(options.now()))
    const body = JSON.stringify({
      id,
      type: SETTINGS_EVENT_TYPE,
      ts: options.now(),
      source: 'pulse',
      settings: parsed.data,
    })
    const [ack] = await publisher.publishAll([
      { subject: eventSubject(tenant, SETTINGS_EVENT_TYPE, options.partitions), data: body, headers: h },
    ])
    await options.applied(tenant, ack.seq)
    return options.settingsOf(tenant)
  }

  // Settings nest three levels; a deeper body is refused before the merge patch recurses into it.
  const json = async (req: { json(): Promise<unknown> }) => {
    const body = await req.json().catch(() => {
      throw badRequest('body is not JSON')
    })
    const shape = shapeProblem(body, MAX_SETTINGS_DEPTH)
    if (shape) throw badRequest(`invalid settings: ${shape.message}`, [shape])
    return body
  }

  return new Hono<TenantEnv>()
    .use('/v1/settings', requireTenant(options.tenants))
    .use('/v1/settings/*', requireTenant(options.tenants))
    .get('/v1/settings', (c) => c.json(options.settingsOf(c.get('tenant').id)))
    .put('/v1/settings', async (c) => c.json(await save(c.get('tenant').id, await json(c.req))))
    .patch('/v1/settings', async (c) => {
      const tenant = c.get('tenant').id
      return c.json(await save(tenant, mergePatch(options.settingsOf(tenant), await json(c.req))))
    })
    .post('/v1/settings/sku-costs', async (c) => {
      const tenant = c.get('tenant').id
      const type = c.req.header('content-type') ?? ''
      let costs: Record<string, string>
      if (/text\/csv/i.test(type)) costs = parseSkuCostsCsv(await c.req.text())
      else costs = skuCostsOf(await json(c.req))
      const current = options.settingsOf(tenant)
      const saved = await save(tenant, { ...current, sku_costs: { ...current.sku_costs, ...costs } })
      return c.json({ uploaded: Object.keys(costs).length, sku_costs: saved.sku_costs })
    })
}
