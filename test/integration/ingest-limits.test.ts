// What ingest accepts can be stored and read: each reproducer of an unstorable or crashing request
// is answered with a 4xx naming what is wrong, bodies over their limit get 413, and bodies larger
// than NATS's default message (a SKU-cost upload, a Shopify webhook) are taken whole. Afterwards
// another tenant's event lands in ClickHouse (read back through SQL) and SIGTERM ends the app.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { shopifySignature } from '../../ingest/shopify/hmac.ts'
import { createShopifyTenant, fixture } from './connectors-fakes.ts'
import { z } from 'zod'
import {
  type Answer,
  type App,
  createTenant,
  errorSchema,
  fieldErrors,
  postEvents,
  readAnswer,
  send,
  sqlRows,
  startApp,
  waitFor,
  waitForKpis,
} from './harness.ts'

const SHOP = 'limits-test.myshopify.com'
const SECRET = 'shpss_limits0123456789abcdef0123456789'
const now = Date.now()
const search = (extra: Record<string, unknown>) => ({
  type: 'search',
  id: `s-${Math.random()}`,
  ts: now,
  source: 'web',
  customer_id: 'c1',
  ...extra,
})
const order = (items: unknown[]) => ({
  type: 'order.created',
  id: `o-${Math.random()}`,
  ts: now,
  source: 'shop',
  order_id: 'o1',
  total: '1.00',
  subtotal: '1.00',
  items,
})

let app: App
let key: string
let other: string

beforeAll(async () => {
  app = await startApp()
  key = await createTenant(app, { id: 'attacker' })
  other = await createTenant(app, { id: 'bystander' })
})
afterAll(async () => app?.kill('SIGKILL'))

/** The raw JSON text of a body: JSON.stringify writes a lone surrogate as the escape "\ud800". */
async function postRaw<S extends z.ZodType>(body: string, schema: S): Promise<Answer<z.output<S>>> {
  const res = await fetch(`${app.url}/v1/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body,
  })
  return readAnswer(res, schema, 'POST /v1/events')
}

/** JSON text of objects nested `depth` deep (JSON.stringify itself would overflow the stack). */
const deepJson = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`
const pathsOf = (answer: Answer<z.output<typeof fieldErrors>>) => answer.body.error.details.map((d) => d.path)
/** POST /v1/settings/sku-costs answers so; the settings routes have no response schema yet. */
const skuCostsUploaded = z.object({ uploaded: z.number().int(), sku_costs: z.record(z.string(), z.string()) })

describe('ingest refuses what could not be stored', () => {
  it('refuses a lone surrogate in any string, known field or not, with its path', async () => {
    const known = await postRaw(JSON.stringify([search({ customer_id: '\ud800' })]), fieldErrors)
    expect(known.status).toBe(400)
    expect(pathsOf(known)).toEqual(['customer_id'])
    expect(known.body.error.details[0].message).toMatch(/lone surrogate/)
    const nested = await postRaw(JSON.stringify([search({ extra: { notes: ['fine', 'bad \udfff'] } })]), fieldErrors)
    expect(pathsOf(nested)).toEqual(['extra.notes.1'])
    const inKey = await postRaw(JSON.stringify([search({ ['k\ud801']: 1 })]), fieldErrors)
    expect(pathsOf(inKey)).toEqual(['k\ud801'])
  })

  it('refuses amounts and quantities beyond the documented bounds', async () => {
    const huge = await postEvents(
      app,
      key,
      [order([{ sku: 'a', quantity: 9007199254740991, price: '9999999999999.99' }])],
      fieldErrors,
    )
    expect(huge.status).toBe(400)
    expect(pathsOf(huge)).toEqual(['items.0.quantity', 'items.0.price'])
    // Each bound alone: a price within bounds whose line is not, and lines that only together are not.
    const line = await postEvents(app, key, [order([{ sku: 'a', quantity: 2, price: '6000000000' }])], fieldErrors)
    expect(pathsOf(line)).toEqual(['items.0.price', 'items'])
    const lines = await postEvents(
      app,
      key,
      [
        order([
          { sku: 'a', quantity: 1, price: '6000000000' },
          { sku: 'b', quantity: 1, price: '6000000000' },
        ]),
      ],
      fieldErrors,
    )
    expect(pathsOf(lines)).toEqual(['items'])
    const total = await postEvents(app, key, [{ ...order([]), total: '10000000000.01' }], fieldErrors)
    expect(pathsOf(total)).toEqual(['total'])
  })

  it('refuses timestamps after 2100-01-01, nesting over 8 levels and events over 256 KiB', async () => {
    for (const ts of [
      8640000000000001,
      Date.UTC(2100, 0, 1) + 1,
      '+275760-09-13T00:00:00Z',
      '2100-01-01T00:00:00.001Z',
    ]) {
      const answer = await postEvents(app, key, [search({ ts })], fieldErrors)
      expect([answer.status, pathsOf(answer)]).toEqual([400, ['ts']])
    }
    const nested = await postRaw(
      `[${JSON.stringify(search({})).slice(0, -1)},"extra":${deepJson(5_000)}}]`,
      fieldErrors,
    )
    expect(nested.status).toBe(400)
    expect(nested.body.error.details[0].message).toBe('nested deeper than 8 levels')
    const wide = await postEvents(app, key, [search({ extra: 'x'.repeat(300_000) })], fieldErrors)
    expect(wide.status).toBe(400)
    expect(wide.body.error.details[0].message).toMatch(/^the event is 300\d{3} bytes of JSON; at most 262144$/)
  })

  it('answers 413 for a body over its limit, reading none of it', async () => {
    const first = JSON.stringify(search({ pad: 'x'.repeat(200_000) }))
    const big = `[${first}${`,${JSON.stringify(search({ pad: 'x'.repeat(200_000) }))}`.repeat(84)}]`
    expect(big.length).toBeGreaterThan(16 * 1024 * 1024)
    const answer = await postRaw(big, errorSchema)
    expect(answer.status).toBe(413)
    expect(answer.body.error.code).toBe('payload_too_large')
  })

  it('refuses a settings patch nested 5,000 deep and SKU costs that are not a list or map', async () => {
    const patch = await fetch(`${app.url}/v1/settings`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: `{"intent":${deepJson(5_000)}}`,
    })
    expect(patch.status).toBe(400)
    expect((await readAnswer(patch, errorSchema, 'PATCH /v1/settings')).body.error.message).toBe(
      'invalid settings: nested deeper than 8 levels',
    )
    const nul = await send(app, key, 'POST', '/v1/settings/sku-costs', errorSchema, null)
    expect(nul.status).toBe(400)
    expect(nul.body.error.message).toMatch(/SKU costs/)
    expect((await send(app, key, 'POST', '/v1/settings/sku-costs', errorSchema, 5)).status).toBe(400)
  })

  it('takes a SKU-cost upload and a Shopify webhook larger than 1 MB whole', async () => {
    const costs = Object.fromEntries(
      Array.from({ length: 40_000 }, (_, i) => [`SKU-${String(i).padStart(8, '0')}-LONG-NAME`, `${i}.25`]),
    )
    expect(JSON.stringify(costs).length).toBeGreaterThan(1024 * 1024)
    const upload = await send(app, key, 'POST', '/v1/settings/sku-costs', skuCostsUploaded, costs)
    expect(upload.status).toBe(200)
    expect(upload.body.uploaded).toBe(40_000)
    expect(upload.body.sku_costs['SKU-00039999-LONG-NAME']).toBe('39999.25')

    const shopKey = await createShopifyTenant(app, 'bigshop', { shop_domain: SHOP, webhook_secret: SECRET })
    const body = fixture('shopify/orders-create-1002.json').replace(
      '"note": null',
      `"note": "${'n'.repeat(1_500_000)}"`,
    )
    expect(body.length).toBeGreaterThan(1_500_000)
    const res = await fetch(`${app.url}/v1/webhooks/shopify`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-shopify-topic': 'orders/create',
        'x-shopify-shop-domain': SHOP,
        'x-shopify-webhook-id': 'b54557e4-bdd9-4b37-8a5f-bf7d70bc9999',
        'x-shopify-hmac-sha256': shopifySignature(body, SECRET),
      },
      body,
    })
    expect(res.status).toBe(200)
    const [{ n }] = await waitFor(async () => {
      const rows = await sqlRows(app, shopKey, "SELECT count() AS n FROM events WHERE type = 'order.created'")
      return Number(rows[0]?.n) === 1 ? rows : undefined
    }, 'the webhook order in ClickHouse')
    expect(Number(n)).toBe(1)
  })

  it("then lands another tenant's event, readable through SQL, and stops on SIGTERM", async () => {
    const good = {
      type: 'order.created',
      id: 'b-1',
      ts: now,
      source: 'shop',
      order_id: 'b1',
      total: '12.34',
      subtotal: '12.34',
    }
    expect((await postEvents(app, other, [good])).status).toBe(202)
    const range = `from=${new Date(now - 60_000).toISOString()}&to=${new Date(now + 60_000).toISOString()}`
    await waitForKpis(app, other, range, (k) => k.gmv === '12.34')
    const rows = await waitFor(async () => {
      const found = await sqlRows(app, other, 'SELECT event_id FROM events')
      return found.length > 0 ? found : undefined
    }, "the bystander's event in ClickHouse")
    expect(rows).toEqual([{ event_id: 'b-1' }])
    await app.kill('SIGTERM')
    expect(app.process.exitCode).toBe(0)
  })
})
