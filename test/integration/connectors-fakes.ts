// Local stand-ins for the outside APIs the connectors call: a node:http server answering from
// the documented response bodies in test/fixtures/, with scripted faults (429 + Retry-After,
// 500, a malformed page) and a log of every request, so tests can check what was asked.
import { readFileSync } from 'node:fs'
import { type IncomingMessage, type Server, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join, resolve } from 'node:path'
import { z } from 'zod'
import { newTenantAnswer } from '../../ingest/admin-route.ts'
import { connectorCreated, connectorStatus, syncStarted } from '../../ingest/connectors-route.ts'
import { deadLettersAnswer } from '../../ingest/dead-letters-route.ts'
import { ADMIN_TOKEN, type App, errorSchema, getJson, readAnswer, startApp, waitFor } from './harness.ts'

const fixtures = resolve(import.meta.dirname, '../fixtures')

/** The day the fixtures' figures fall on, as a KPI query. */
export const FIXTURE_DAY = 'from=2026-03-10T00:00:00Z&to=2026-03-11T00:00:00Z'

/** Pulse with fast connector retries, allowed to call the fake APIs on 127.0.0.1; `dataDir` restarts one. */
export const startConnectorApp = (dataDir?: string): Promise<App> =>
  startApp({ dataDir, env: { CONNECTOR_RETRY_BASE_MS: '50', CONNECTOR_ALLOW_PRIVATE: '1' } })

/** A fixture file's text; `{{BASE}}` (paging links) is filled in when served. */
export const fixture = (path: string): string => readFileSync(join(fixtures, path), 'utf8')
export const fixtureJson = (path: string): any => JSON.parse(fixture(path))

export interface FakeRequest {
  method: string
  path: string
  query: URLSearchParams
  headers: IncomingMessage['headers']
  body: string
  at: number
}

export interface FakeResponse {
  status?: number
  headers?: Record<string, string>
  body: string | object
}

/** Answers for the n-th call (0-based) of a route. */
export type Handler = (req: FakeRequest, n: number) => FakeResponse

export interface FakeApi {
  url: string
  requests: FakeRequest[]
  route(method: string, path: string | RegExp, handler: Handler): void
  /** The requests a route got, in order. */
  calls(method: string, path: string | RegExp): FakeRequest[]
  close(): Promise<void>
}

/** Serves the responses in order; the last one repeats. */
export const script =
  (...responses: FakeResponse[]): Handler =>
  (_req, n) =>
    responses[Math.min(n, responses.length - 1)]

export const ok = (body: string | object, headers?: Record<string, string>): FakeResponse => ({
  status: 200,
  body,
  headers,
})
export const tooMany = (retryAfterSeconds: number, body: object = { error: 'rate limited' }): FakeResponse => ({
  status: 429,
  headers: { 'retry-after': String(retryAfterSeconds) },
  body,
})
export const serverError = (body: object = { error: 'internal' }): FakeResponse => ({ status: 500, body })

const matches = (pattern: string | RegExp, path: string) =>
  typeof pattern === 'string' ? pattern === path : pattern.test(path)

export async function startFakeApi(): Promise<FakeApi> {
  const routes: { method: string; path: string | RegExp; handler: Handler; count: number }[] = []
  const requests: FakeRequest[] = []
  let base = ''
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      const url = new URL(req.url ?? '/', base)
      const r: FakeRequest = {
        method: req.method ?? 'GET',
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
      }
      requests.push(r)
      const route = routes.find((x) => x.method === r.method && matches(x.path, r.path))
      const out: FakeResponse = route
        ? route.handler(r, route.count++)
        : { status: 404, body: { error: `no fake route ${r.method} ${r.path}` } }
      const text = (typeof out.body === 'string' ? out.body : JSON.stringify(out.body)).replaceAll('{{BASE}}', base)
      res.writeHead(out.status ?? 200, { 'content-type': 'application/json', ...out.headers })
      res.end(text)
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    url: base,
    requests,
    route(method, path, handler) {
      routes.push({ method, path, handler, count: 0 })
    },
    calls: (method, path) => requests.filter((r) => r.method === method && matches(path, r.path)),
    close: () => new Promise<void>((r) => server.close(() => r())),
  }
}

export async function createShopifyTenant(
  app: App,
  id: string,
  shopify: { shop_domain: string; webhook_secret: string },
): Promise<string> {
  const res = await fetch(`${app.url}/v1/admin/tenants`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ id, name: id, timezone: 'UTC', currency: 'USD', shopify }),
  })
  if (res.status !== 201) throw new Error(`tenant not created: ${res.status} ${await res.text()}`)
  return (await readAnswer(res, newTenantAnswer, 'POST /v1/admin/tenants')).body.api_key
}

export async function addConnector(
  app: App,
  key: string,
  body: { type: string; config: Record<string, unknown>; every_seconds?: number },
): Promise<string> {
  const res = await fetch(`${app.url}/v1/connectors`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  if (res.status !== 201) throw new Error(`connector not created: ${res.status} ${await res.text()}`)
  return (await readAnswer(res, connectorCreated, 'POST /v1/connectors')).body.id
}

/** Waits until the connector has finished `syncs` syncs, and returns its status. */
export function waitForSyncs(
  app: App,
  key: string,
  id: string,
  syncs: number,
): Promise<z.output<typeof connectorStatus>> {
  return waitFor(async () => {
    const { body } = await getJson(app, key, `/v1/connectors/${id}`, connectorStatus)
    return body.syncs >= syncs && !body.running ? body : undefined
  }, `connector ${id} to finish ${syncs} syncs`)
}

/** POST /v1/connectors/:id/sync; the answer's status (202 started, 404 no such connector). */
export async function syncNow(app: App, key: string, id: string): Promise<number> {
  const res = await fetch(`${app.url}/v1/connectors/${id}/sync`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}` },
  })
  return (await readAnswer(res, z.union([syncStarted, errorSchema]), 'POST /v1/connectors/:id/sync')).status
}

export async function deadLetters(app: App) {
  const res = await fetch(`${app.url}/v1/admin/dead-letters?limit=500`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  })
  return (await readAnswer(res, deadLettersAnswer, 'GET /v1/admin/dead-letters')).body.messages
}
