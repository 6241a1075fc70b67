// POST /v1/sql (docs/sql.md): one read-only SELECT over the tenant's own history. GET /v1/sql/tables:
// the tables it may read, with their columns. GET /v1/sql/credentials: the tenant's own
// ClickHouse login for clickhouse-client, on a ClickHouse server deployment.
import { Hono } from 'hono'
import { z } from 'zod'
import { HttpError, badRequest, notFound } from '../common/errors.ts'
import { registerRoute } from '../common/openapi.ts'
import { type TenantEnv, type TenantRegistry, requireTenant } from '../tenants/index.ts'
import { SQL_MEDIA_TYPES, SQL_TABLES, type SqlEngine, type SqlService, negotiateFormat } from './sql/index.ts'

const MAX_BODY = 200_000

export const sqlBody = z.object({
  query: z
    .string()
    .min(1)
    .max(100_000)
    .describe('One SELECT (WITH, joins, subqueries, window functions allowed) over the tables of GET /v1/sql/tables'),
  timeout_seconds: z
    .number()
    .positive()
    .optional()
    .describe("A shorter time limit than the service's (10 s by default)"),
})

export const sqlTables = z.array(
  z.object({
    name: z.string(),
    table: z.string(),
    description: z.string(),
    columns: z.array(z.object({ name: z.string(), type: z.string(), description: z.string().optional() })),
  }),
)

export const sqlJsonResult = z.object({
  meta: z.array(z.object({ name: z.string(), type: z.string() })),
  data: z.array(z.record(z.string(), z.unknown())),
  rows: z.number().int(),
  statistics: z.object({ elapsed: z.number(), rows_read: z.number(), bytes_read: z.number() }).optional(),
})

export const sqlCredentials = z.object({
  user: z.string(),
  password: z.string(),
  database: z.string(),
  clickhouse_url: z.string(),
})

registerRoute({
  method: 'post',
  path: '/v1/sql',
  summary: "Run one read-only SELECT over the tenant's own history",
  description:
    'Tables: GET /v1/sql/tables. Output by Accept: application/json (default; ClickHouse JSON), ' +
    'application/x-ndjson, text/csv, text/tab-separated-values, text/plain (a table as clickhouse-client prints it). ' +
    'A body with Content-Type text/plain is the query itself. ' +
    'Anything but a single SELECT over the allowed tables is refused with 400 sql_not_allowed; ' +
    'a bound hit (time, memory, result size) is 422 sql_limit; too many queries at once is 429.',
  body: sqlBody,
  bodyTypes: ['application/json', 'text/plain'],
  response: sqlJsonResult,
  responseTypes: SQL_MEDIA_TYPES.filter((t) => t !== 'application/json'),
  errors: {
    413: 'The body is larger than 200,000 bytes',
    422: 'A limit was hit: time, memory or result size',
    429: 'Too many queries of this tenant at once',
  },
})
registerRoute({
  method: 'get',
  path: '/v1/sql/tables',
  summary: 'The tables POST /v1/sql may read, with their columns',
  response: sqlTables,
})
registerRoute({
  method: 'get',
  path: '/v1/sql/credentials',
  summary: "The tenant's read-only ClickHouse login for clickhouse-client (ClickHouse server deployments only)",
  response: sqlCredentials,
  errors: { 404: 'Embedded engine: no logins; use POST /v1/sql or npm run sql' },
})

export interface SqlRouteOptions {
  tenants: TenantRegistry
  sql: SqlService
  engine: SqlEngine
  /** CLICKHOUSE_URL, shown with the credentials. */
  clickhouseUrl?: string
}

export function sqlRoute(options: SqlRouteOptions) {
  const { sql, engine } = options
  return new Hono<TenantEnv>()
    .use('/v1/sql', requireTenant(options.tenants))
    .use('/v1/sql/*', requireTenant(options.tenants))
    .post('/v1/sql', async (c) => {
      const tenant = c.get('tenant')
      if (Number(c.req.header('content-length') ?? 0) > MAX_BODY)
        throw new HttpError(413, 'too_large', `the body is larger than ${MAX_BODY} bytes`)
      const text = await c.req.text()
      if (text.length > MAX_BODY) throw new HttpError(413, 'too_large', `the body is larger than ${MAX_BODY} bytes`)
      let body: z.infer<typeof sqlBody>
      if (/^text\/plain|^application\/sql/i.test(c.req.header('content-type') ?? '')) {
        body = { query: text }
      } else {
        let json: unknown
        try {
          json = JSON.parse(text)
        } catch {
          throw badRequest(
            'expected a JSON body {"query": "SELECT …"} (or the query itself with Content-Type: text/plain)',
          )
        }
        const parsed = sqlBody.safeParse(json)
        if (!parsed.success)
          throw badRequest(
            'invalid body',
            parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
          )
        body = parsed.data
      }
      const format = negotiateFormat(c.req.header('accept'))
      const result = await sql.run(tenant.id, body.query, { format, timeoutSeconds: body.timeout_seconds })
      return c.body(result.body, 200, { 'content-type': result.contentType })
    })
    .get('/v1/sql/tables', async (c) => {
      const columns = await engine.analyse(async (client) => {
        const result = await client.query({
          query:
            'SELECT database, table, name, type FROM system.columns ' +
            "WHERE concat(database, '.', table) IN {tables:Array(String)} ORDER BY database, table, position",
          query_params: { tables: SQL_TABLES.map((t) => t.table) },
          format: 'JSONEachRow',
        })
        return result.json<{ database: string; table: string; name: string; type: string }>()
      })
      return c.json(
        SQL_TABLES.map((t) => ({
          name: t.name,
          table: t.table,
          description: t.description,
          columns: columns
            .filter((col) => `${col.database}.${col.table}` === t.table && !t.hiddenColumns?.[col.name])
            .map((col) => {
              const description = t.columns?.[col.name]
              return { name: col.name, type: col.type, ...(description ? { description } : {}) }
            }),
        })),
      )
    })
    .get('/v1/sql/credentials', async (c) => {
      if (!engine.credentials) throw notFound('the embedded engine has no logins: use POST /v1/sql or `npm run sql`')
      if (!options.clickhouseUrl) throw new HttpError(503, 'unavailable', 'CLICKHOUSE_URL is not set')
      // Provisions the user, its grants, row policies and quota on first use.
      return c.json({ ...(await engine.credentials(c.get('tenant').id)), clickhouse_url: options.clickhouseUrl })
    })
}
