// /v1/connectors: a tenant configures pollers of outside APIs. Credentials go in once and are
// never returned by any route (nor logged); status says how current each source is.
import { Hono } from 'hono'
import { z } from 'zod'
import { badRequest, notFound } from '../common/errors.ts'
import { registerRoute } from '../common/openapi.ts'
import { type TenantEnv, type TenantRegistry, requireTenant } from '../tenants/index.ts'
import { ConnectorConfigError, type ConnectorService } from './connectors/poller.ts'
import { CONNECTOR_TYPES } from './connectors/types.ts'

const newConnector = z.object({
  type: z.enum(CONNECTOR_TYPES),
  config: z.record(z.string(), z.unknown()),
  every_seconds: z.number().int().min(60).max(86_400).optional(),
})

export const connectorStatus = z.object({
  id: z.string(),
  type: z.enum(CONNECTOR_TYPES),
  account: z.string(),
  every_seconds: z.number().int(),
  created_at: z.string(),
  running: z.boolean(),
  last_attempt_at: z.string().nullable(),
  last_success_at: z.string().nullable(),
  last_error: z.string().nullable(),
  events_produced: z.number().int(),
  duplicates: z.number().int(),
  dead_letters: z.number().int(),
  pages: z.number().int(),
  syncs: z.number().int(),
  lag_seconds: z.number().int().nullable(),
  next_sync_at: z.string().nullable(),
})
export const connectorCreated = z.object({ id: z.string() })
export const connectorsAnswer = z.object({ connectors: z.array(connectorStatus) })
export const syncStarted = z.object({ id: z.string(), sync: z.literal('started') })
const idParam = z.object({ id: z.string() })
const tags = ['connectors']
registerRoute({
  method: 'post',
  path: '/v1/connectors',
  tags,
  summary: 'Configure a poller of an outside API for this tenant; credentials are sealed and never returned',
  description:
    "config holds the API's own account ids and credentials under its documented names, " +
    'plus api_base_url? (docs/connectors.md).',
  body: newConnector,
  status: 201,
  response: connectorCreated,
})
registerRoute({
  method: 'get',
  path: '/v1/connectors',
  tags,
  summary: "This tenant's connectors and their status",
  response: connectorsAnswer,
})
registerRoute({
  method: 'get',
  path: '/v1/connectors/:id',
  tags,
  summary: "A connector's status: last success, last error, events produced, lag, whether a sync runs",
  params: idParam,
  response: connectorStatus,
  errors: { 404: 'No such connector' },
})
registerRoute({
  method: 'post',
  path: '/v1/connectors/:id/sync',
  tags,
  summary: 'Start a sync now (answers at once)',
  params: idParam,
  status: 202,
  response: syncStarted,
  errors: { 404: 'No such connector' },
})
registerRoute({
  method: 'delete',
  path: '/v1/connectors/:id',
  tags,
  summary: 'Remove a connector, its credentials and cursor',
  params: idParam,
  status: 204,
  errors: { 404: 'No such connector' },
})

export function connectorsRoute(options: { tenants: TenantRegistry; connectors: ConnectorService }) {
  const { connectors } = options
  return new Hono<TenantEnv>()
    .use('/v1/connectors', requireTenant(options.tenants))
    .use('/v1/connectors/*', requireTenant(options.tenants))
    .post('/v1/connectors', async (c) => {
      const body = await c.req.json().catch(() => {
        throw badRequest('body is not JSON')
      })
      const parsed = newConnector.safeParse(body)
      if (!parsed.success)
        throw badRequest(
          'invalid connector',
          parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
        )
      try {
        const record = await connectors.create(c.get('tenant').id, parsed.data)
        return c.json({ id: record.id }, 201)
      } catch (err) {
        if (err instanceof ConnectorConfigError) throw badRequest(err.message, err.details)
        throw err
      }
    })
    .get('/v1/connectors', async (c) => c.json({ connectors: await connectors.list(c.get('tenant').id) }))
    .get('/v1/connectors/:id', async (c) => {
      const status = await connectors.status(c.get('tenant').id, c.req.param('id'))
      if (!status) throw notFound(`no connector ${c.req.param('id')}`)
      return c.json(status)
    })
    .post('/v1/connectors/:id/sync', (c) => {
      if (!connectors.syncNow(c.get('tenant').id, c.req.param('id')))
        throw notFound(`no connector ${c.req.param('id')}`)
      return c.json({ id: c.req.param('id'), sync: 'started' }, 202)
    })
    .delete('/v1/connectors/:id', async (c) => {
      if (!(await connectors.remove(c.get('tenant').id, c.req.param('id'))))
        throw notFound(`no connector ${c.req.param('id')}`)
      return c.body(null, 204)
    })
}
