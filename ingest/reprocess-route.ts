// POST /v1/admin/reprocess: the running app re-derives a tenant's events from the raw archive
// (the embedded ClickHouse belongs to this process, so `npm run reprocess` asks here over HTTP).
// The answer is NDJSON progress lines, the last one `{"type":"done",…}`.
import { Hono } from 'hono'
import { streamText } from 'hono/streaming'
import { z } from 'zod'
import { badRequest, messageOf, notFound } from '../common/errors.ts'
import { instant } from '../common/events.ts'
import type { Log } from '../common/log.ts'
import { registerRoute } from '../common/openapi.ts'
import { type TenantRef, type TenantRegistry, requireAdmin } from '../tenants/index.ts'
import type { ReprocessProgress } from './connectors/reprocess.ts'
import type { ArchiveQuery } from './connectors/archive.ts'

const body = z.object({
  tenant: z.string().min(1),
  from: instant,
  to: instant,
  connector: z.string().min(1).optional(),
})

export const REPROCESS_PATH = '/v1/admin/reprocess'

registerRoute({
  method: 'post',
  path: REPROCESS_PATH,
  tags: ['connectors'],
  auth: 'admin',
  summary: "Re-derive a tenant's events from the raw archive (after a mapping fix); idempotent",
  description:
    'NDJSON progress lines {type, payloads, done, accepted, duplicates, dead_letters}; ' +
    'the last has type "done". `npm run reprocess` calls this.',
  body,
  responseTypes: ['application/x-ndjson'],
  errors: { 404: 'No such tenant' },
})

export function reprocessRoute(options: {
  tenants: TenantRegistry
  adminToken: string
  run: (tenant: TenantRef, q: ArchiveQuery) => AsyncGenerator<ReprocessProgress>
  log: Log
}) {
  return new Hono().post(REPROCESS_PATH, requireAdmin(options.adminToken), async (c) => {
    const parsed = body.safeParse(await c.req.json().catch(() => undefined))
    if (!parsed.success)
      throw badRequest(
        'expected {"tenant","from","to","connector"?} with ISO 8601 instants',
        parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
      )
    const { tenant: id, from, to, connector } = parsed.data
    if (to <= from) throw badRequest('"to" must be after "from"')
    const tenant = await options.tenants.get(id)
    if (!tenant) throw notFound(`no tenant ${id}`)
    c.header('content-type', 'application/x-ndjson')
    return streamText(c, async (stream) => {
      try {
        for await (const p of options.run(tenant, { tenant: id, from, to, connector })) {
          await stream.writeln(JSON.stringify(p))
          if (p.type === 'done')
            options.log.info(
              {
                tenant: id,
                payloads: p.done,
                accepted: p.accepted,
                duplicates: p.duplicates,
                dead_letters: p.dead_letters,
              },
              'reprocess done',
            )
        }
      } catch (err) {
        await stream.writeln(JSON.stringify({ type: 'error', message: messageOf(err) }))
      }
    })
  })
}
