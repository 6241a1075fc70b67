// A seeded fuzzer: 10,000 malformed requests over every route of the OpenAPI document (methods,
// path parameters, query parameters, headers and bodies), signed Shopify webhooks with mangled
// bodies and WebSocket messages. No answer may be a 5xx, none may hang, the app stays healthy,
// and a valid event sent afterwards lands. A failure prints the seed and the request to replay it.
import WebSocket from 'ws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { shopifySignature } from '../../ingest/shopify/hmac.ts'
import { createShopifyTenant } from './connectors-fakes.ts'
import { ADMIN_TOKEN, type App, createTenant, postEvents, sqlRows, startApp, waitFor } from './harness.ts'

const SEED = Number(process.env.FUZZ_SEED ?? 20261203)
const REQUESTS = 10_000
const SOCKET_MESSAGES = 1_000
const PARALLEL = 8
const SHOP = 'fuzz.myshopify.com'
const SECRET = 'shpss_fuzz0123456789abcdef0123456789ab'

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
function prng(seed: number) {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (n: number) => Math.floor(next() * n)
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]
  return { next, int, pick }
}
type Random = ReturnType<typeof prng>

const nowMs = Date.now()
const STRINGS = [
  '',
  ' ',
  'a',
  '0',
  '-1',
  '1e309',
  'NaN',
  'null',
  'true',
  '[]',
  '{}',
  '\u0000',
  '\ud800',
  '\udfff',
  'é',
  '💥',
  '%00',
  '%',
  '../../etc/passwd',
  "'; DROP TABLE events; --",
  '<script>',
  'x'.repeat(5_000),
  '2026-02-30T00:00:00Z',
  '9999-12-31T23:59:59Z',
  '0000-01-01T00:00:00Z',
  new Date(nowMs).toISOString(),
  String(nowMs),
  '8640000000000001',
  '-8640000000000001',
  '1d',
  '1h',
  '1m',
  '7m',
  'gmv',
  'orders',
  'kpis',
  'ad_spend',
  'shopify',
  'facebook',
  'day',
  'month',
  '__proto__',
  'constructor',
]
const NUMBERS = [0, -1, 1, 0.5, 1e21, -1e21, 2 ** 53, 2 ** 53 + 2, 8640000000000001, Number.MAX_VALUE, 1e-320]

/** A JSON value of random shape: most of the ways a careless client goes wrong. */
function junkValue(r: Random, depth = 0): unknown {
  switch (depth > 3 ? r.int(4) : r.int(8)) {
    case 0:
      return r.pick(STRINGS)
    case 1:
      return r.pick(NUMBERS)
    case 2:
      return r.pick([null, true, false])
    case 3:
      return String(r.pick(NUMBERS))
    case 4:
      return Array.from({ length: r.int(4) }, () => junkValue(r, depth + 1))
    default:
      return Object.fromEntries(
        Array.from({ length: r.int(5) }, () => [
          r.pick([...STRINGS, 'type', 'id', 'ts', 'items', 'topics']),
          junkValue(r, depth + 1),
        ]),
      )
  }
}

const TYPES = [
  'order.created',
  'order.updated',
  'order.cancelled',
  'refund.created',
  'ad.spend',
  'marketing.cost',
  'search',
  'cart.added',
]
const validEvent = (r: Random) => ({
  type: r.pick(TYPES),
  id: `f-${r.int(1e9)}`,
  ts: nowMs - r.int(86_400_000),
  source: 'web',
  order_id: 'o1',
  customer_id: 'c1',
  total: '10.00',
  subtotal: '10.00',
  amount: '1.00',
  platform: 'meta',
  campaign_id: 'c',
  spend: '1.00',
  items: [{ sku: 's', quantity: 1, price: '10.00' }],
})

/** A valid-looking object with one field replaced by junk, or removed. */
function mutate(r: Random, base: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base }
  const keys = Object.keys(out)
  for (let i = 0, n = 1 + r.int(3); i < n; i++) {
    const key = r.next() < 0.8 ? r.pick(keys) : r.pick(STRINGS)
    if (r.next() < 0.2) delete out[key]
    else out[key] = junkValue(r)
  }
  return out
}

/** Body text: malformed JSON, deep nesting, lone surrogates, junk values, mutated valid events. */
function junkBody(r: Random): string {
  switch (r.int(9)) {
    case 0:
      return r.pick([
        '',
        '{',
        '[',
        '[1,',
        '{"a":}',
        'nul',
        '\u0000',
        '"\\ud800"',
        '{"a":1}{',
        '\ufeff[]',
        '[]'.repeat(100),
      ])
    case 1:
      return `${'['.repeat(5_000 + r.int(5_000))}${']'.repeat(r.int(2) === 0 ? 5_000 : 0)}`
    case 2:
      return `${'{"a":'.repeat(2_000 + r.int(4_000))}1${'}'.repeat(6_000)}`
    case 3:
      return JSON.stringify(junkValue(r))
    case 4:
      return JSON.stringify([mutate(r, validEvent(r))])
    case 5:
      return JSON.stringify(Array.from({ length: 1 + r.int(20) }, () => mutate(r, validEvent(r))))
    case 6:
      return JSON.stringify({
        sql: r.pick([
          'SELECT 1',
          'SELECT count() FROM events',
          'SELECT _part FROM events',
          `SELECT '${r.pick(STRINGS)}'`,
          r.pick(STRINGS),
        ]),
      })
    case 7:
      return JSON.stringify(
        mutate(r, {
          id: `r-${r.int(1e6)}`,
          kind: 'margin_floor',
          type: 'shopify',
          config: {},
          webhook: { url: 'http://x' },
        }),
      )
    default:
      return r.pick(STRINGS)
  }
}

interface Operation {
  method: string
  path: string
  query: string[]
}

const CONTENT_TYPES = [
  'application/json',
  'application/x-ndjson',
  'text/csv',
  'text/plain',
  'application/json; charset=utf-16',
  'multipart/form-data',
  '',
]

let app: App
let key: string
let shopKey: string
let operations: Operation[]

beforeAll(async () => {
  app = await startApp()
  key = await createTenant(app, { id: 'fuzzer' })
  shopKey = await createShopifyTenant(app, 'fuzzshop', { shop_domain: SHOP, webhook_secret: SECRET })
  const doc = (await (await fetch(`${app.url}/openapi.json`)).json()) as {
    paths: Record<string, Record<string, { parameters?: { name: string; in: string }[] }>>
  }
  operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({
      method: method.toUpperCase(),
      path,
      query: (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name),
    })),
  )
})
afterAll(async () => app?.kill('SIGKILL'))

/** A path segment; a lone surrogate becomes the bytes of one (%ED%A0%80), not valid UTF-8. */
function encodePart(text: string): string {
  if (text === '') return 'x'
  return text.isWellFormed() ? encodeURIComponent(text) : '%ED%A0%80'
}

/** One junk request against one operation; resolves with its description and status. */
async function junkRequest(r: Random): Promise<{ what: string; status: number }> {
  const op = r.pick(operations)
  const method = r.next() < 0.9 ? op.method : r.pick(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'])
  const path = op.path.replace(/\{[^}]+\}/g, () => encodePart(r.pick(STRINGS)))
  const params = new URLSearchParams()
  for (const name of op.query) if (r.next() < 0.6) params.append(name, r.pick(STRINGS))
  if (r.next() < 0.2) params.append(r.pick(STRINGS), r.pick(STRINGS))
  const headers: Record<string, string> = {}
  const auth = r.int(10)
  if (auth < 6) headers.authorization = `Bearer ${key}`
  else if (auth === 6) headers.authorization = `Bearer ${ADMIN_TOKEN}`
  else if (auth === 7) headers.authorization = r.pick(['Bearer', 'Basic abc', `Bearer ${key}x`, 'Bearer \u00e9'])
  const type = r.pick(CONTENT_TYPES)
  if (type) headers['content-type'] = type
  const body = method === 'GET' || method === 'HEAD' ? undefined : junkBody(r)
  const url = `${app.url}${path}${params.size > 0 ? `?${params}` : ''}`
  const what =
    `${method} ${url.slice(app.url.length, 300)} ` +
    `${JSON.stringify(headers).slice(0, 200)} ${body?.slice(0, 200) ?? ''}`
  const res = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(60_000) })
  await res.arrayBuffer()
  return { what, status: res.status }
}

/** A Shopify webhook, correctly signed, with a mangled body or headers. */
async function junkWebhook(r: Random): Promise<{ what: string; status: number }> {
  const body =
    r.next() < 0.5
      ? junkBody(r)
      : JSON.stringify(
          mutate(r, {
            id: r.int(1e9),
            total_price: '5.00',
            line_items: [],
            created_at: new Date(nowMs).toISOString(),
            currency: 'USD',
          }),
        )
  const topic = r.pick([
    'orders/create',
    'orders/updated',
    'orders/cancelled',
    'refunds/create',
    'products/update',
    '',
    '\u00e9',
  ])
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'x-shopify-topic': topic,
    'x-shopify-shop-domain': r.next() < 0.9 ? SHOP : r.pick(STRINGS).replace(/[^\x20-\x7e]/g, ''),
    'x-shopify-hmac-sha256': r.next() < 0.9 ? shopifySignature(body, SECRET) : 'bad',
  }
  if (r.next() < 0.8) headers['x-shopify-webhook-id'] = `w-${r.int(1e9)}`
  const res = await fetch(`${app.url}/v1/webhooks/shopify`, {
    method: 'POST',
    headers,
    body,
    signal: AbortSignal.timeout(60_000),
  })
  await res.arrayBuffer()
  return { what: `webhook ${topic} ${body.slice(0, 200)}`, status: res.status }
}

describe('a seeded fuzzer', () => {
  it(`answers ${REQUESTS} malformed requests without a 5xx or a hang (seed ${SEED})`, async () => {
    const r = prng(SEED)
    const failures: string[] = []
    let sent = 0
    const lane = async () => {
      while (sent < REQUESTS) {
        sent++
        const { what, status } = r.next() < 0.1 ? await junkWebhook(r) : await junkRequest(r)
        if (status >= 500) failures.push(`${status} ${what}`)
      }
    }
    await Promise.all(Array.from({ length: PARALLEL }, lane))
    expect(failures.slice(0, 20), app.output().slice(-4000)).toEqual([])
  })

  it(`answers ${SOCKET_MESSAGES} malformed WebSocket messages without dropping the app (seed ${SEED})`, async () => {
    const r = prng(SEED + 1)
    const socket = new WebSocket(`${app.url.replace('http', 'ws')}/v1/live`, {
      headers: { authorization: `Bearer ${key}` },
    })
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject))
    let answers = 0
    socket.on('message', () => answers++)
    for (let i = 0; i < SOCKET_MESSAGES && socket.readyState === WebSocket.OPEN; i++) {
      const op = r.pick(['subscribe', 'unsubscribe', 'ping', '', 'SUBSCRIBE'])
      const topics = Array.from({ length: r.int(4) }, () =>
        r.pick([...STRINGS, 'kpis', 'timeseries:gmv:1h', 'dashboard:profit', 'activity']),
      )
      const message = r.next() < 0.5 ? JSON.stringify(mutate(r, { op, topics })) : junkBody(r)
      socket.send(r.next() < 0.1 ? Buffer.from(message) : message)
    }
    // The hub may close a connection that misbehaves; either way it must have answered and stay up.
    await waitFor(
      async () => (answers > 0 || socket.readyState !== WebSocket.OPEN ? true : undefined),
      'an answer on the socket',
    )
    socket.close()
    expect((await fetch(`${app.url}/healthz`)).status).toBe(200)
  })

  it('is healthy afterwards and lands a valid event', async () => {
    const health = await fetch(`${app.url}/healthz`)
    expect(health.status).toBe(200)
    const good = {
      type: 'order.created',
      id: 'after-fuzz',
      ts: nowMs,
      source: 'shop',
      order_id: 'af1',
      total: '7.00',
      subtotal: '7.00',
    }
    expect((await postEvents(app, shopKey, [good])).status).toBe(202)
    const rows = await waitFor(async () => {
      const found = await sqlRows(app, shopKey, "SELECT event_id FROM events WHERE event_id = 'after-fuzz'")
      return found.length === 1 ? found : undefined
    }, 'the event after the fuzzing in ClickHouse')
    expect(rows).toEqual([{ event_id: 'after-fuzz' }])
  })
})
