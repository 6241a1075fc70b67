// GET /openapi.json is a valid OpenAPI 3.1 document and names every route the Hono app serves.
// The app runs in this process (the real composition root, startPulse) so the test can read the
// Hono app's own route list: a route added without registerRoute() beside it fails here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../app/config.ts'
import { type Pulse, startPulse } from '../../app/main.ts'
import { createLogger } from '../../common/log.ts'
import { openApiPath } from '../../common/openapi.ts'
import { ADMIN_TOKEN, newDataDir } from './harness.ts'

// Routes that were served before the registry existed and live in files whose owners register
// them (push/, web/, ingest connectors, dashboards). Remove a line once it is registered — the
// last test fails while a registered route is still listed. Add nothing here: register instead.
const PENDING = new Set([
  'GET /',
  'GET /index.html',
  'GET /assets/:file',
  'POST /v1/live/token',
  'GET /v1/admin/live',
  'GET /v1/settings',
  'PUT /v1/settings',
  'PATCH /v1/settings',
  'POST /v1/settings/sku-costs',
])

let pulse: Pulse
let doc: any

beforeAll(async () => {
  const config = loadConfig({ DATA_DIR: newDataDir(), PORT: '0', DEMO: '0', ADMIN_TOKEN, STREAM_WORKERS: '0' })
  pulse = await startPulse(config, { log: createLogger('silent') })
  const res = await fetch(`${pulse.url}/openapi.json`)
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toContain('application/json')
  doc = await res.json()
})
afterAll(async () => pulse?.stop())

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options']

/** Every route the app serves, as `METHOD /path` (middleware entries are not routes). */
function served(): string[] {
  return [...new Set(pulse.app.routes.filter((r) => r.method !== 'ALL').map((r) => `${r.method} ${r.path}`))]
}
const documented = () =>
  new Set(
    Object.entries(doc.paths).flatMap(([path, ops]: [string, any]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    ),
  )

describe('/openapi.json', () => {
  it('is a well-formed OpenAPI 3.1 document', () => {
    expect(doc.openapi).toBe('3.1.0')
    expect(doc.info).toMatchObject({ title: expect.any(String), version: expect.any(String) })
    const operationIds = new Set<string>()
    for (const [path, ops] of Object.entries<any>(doc.paths)) {
      expect(path).toMatch(/^\/[^:]*$/) // templated as {id}, never :id
      const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort()
      for (const [method, op] of Object.entries<any>(ops)) {
        expect(METHODS).toContain(method)
        expect(op.summary, `${method} ${path}`).toEqual(expect.any(String))
        expect(operationIds.has(op.operationId), `operationId ${op.operationId} is unique`).toBe(false)
        operationIds.add(op.operationId)
        expect(
          op.parameters
            .filter((p: any) => p.in === 'path')
            .map((p: any) => p.name)
            .sort(),
        ).toEqual(templated)
        for (const p of op.parameters) {
          expect(['query', 'path', 'header', 'cookie']).toContain(p.in)
          expect(typeof p.schema).toBe('object')
        }
        expect(
          Object.keys(op.responses).some((s) => /^(2\d\d|101)$/.test(s)),
          `${method} ${path} has a success response`,
        ).toBe(true)
        for (const [status, r] of Object.entries<any>(op.responses)) {
          expect(status).toMatch(/^[1-5]\d\d$/)
          expect(r.description).toEqual(expect.any(String))
        }
        for (const s of op.security)
          for (const scheme of Object.keys(s)) expect(doc.components.securitySchemes[scheme]).toBeDefined()
      }
    }
    // Every $ref points at something in the document.
    const refs = JSON.stringify(doc).match(/"\$ref":"[^"]+"/g) ?? []
    for (const ref of refs) {
      const pointer = ref.slice(9, -1)
      if (!pointer.startsWith('#/')) continue
      const target = pointer
        .slice(2)
        .split('/')
        .reduce((node: any, key) => node?.[key.replace(/~1/g, '/').replace(/~0/g, '~')], doc)
      expect(target, pointer).toBeDefined()
    }
  })

  it('names every route the app serves', () => {
    const docs = documented()
    const missing = served().filter((route) => {
      const [method, path] = route.split(' ')
      return !docs.has(`${method} ${openApiPath(path)}`) && !PENDING.has(route)
    })
    expect(missing, 'register these beside their routes with registerRoute() (common/openapi.ts)').toEqual([])
  })

  it('describes the registered routes from their zod schemas', () => {
    for (const route of [
      'GET /healthz',
      'POST /v1/admin/tenants',
      'GET /v1/admin/dead-letters',
      'POST /v1/events',
      'GET /v1/metrics/kpis',
      'GET /v1/metrics/timeseries',
      'GET /v1/live',
      'POST /v1/sql',
      'GET /v1/sql/tables',
      'GET /openapi.json',
    ]) {
      expect(documented().has(route), route).toBe(true)
    }
    const sql = doc.paths['/v1/sql'].post
    expect(sql.requestBody.content['application/json'].schema).toMatchObject({
      type: 'object',
      required: ['query'],
      properties: { query: { type: 'string' } },
    })
    expect(Object.keys(sql.responses['200'].content)).toEqual(
      expect.arrayContaining(['application/json', 'text/csv', 'application/x-ndjson', 'text/plain']),
    )
    expect(doc.paths['/v1/admin/tenants'].post.requestBody.content['application/json'].schema.required).toEqual(
      expect.arrayContaining(['id', 'name', 'timezone', 'currency']),
    )
    const timeseries = doc.paths['/v1/metrics/timeseries'].get.parameters.find((p: any) => p.name === 'interval')
    expect(timeseries.schema.enum).toEqual(['1m', '1h', '1d'])
  })

  it('keeps the pending list honest: a registered route leaves it', () => {
    const docs = documented()
    const registered = [...PENDING].filter((route) => {
      const [method, path] = route.split(' ')
      return docs.has(`${method} ${openApiPath(path)}`)
    })
    expect(registered, 'registered now: remove from PENDING in this test').toEqual([])
  })
})
