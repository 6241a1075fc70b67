// Shopify webhooks against the real app. A signed webhook becomes events; a bad or
// missing signature is refused (401) and publishes nothing; a replay counts once; a refund seen on
// its own topic and again inside its order counts once; the KPIs are exact to the cent; the raw
// bodies are archived and `npm run reprocess` re-derives the same figures (idempotent).
import { spawn } from 'node:child_process'
import { resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { shopifySignature } from '../../ingest/shopify/hmac.ts'
import { kpisAnswer } from '../../query/metrics-routes.ts'
import { createShopifyTenant, deadLetters, fixture } from './connectors-fakes.ts'
import { ADMIN_TOKEN, type App, getJson, startApp, waitForKpis } from './harness.ts'

const SHOP = 'pulse-test.myshopify.com'
const SECRET = 'shpss_0123456789abcdef0123456789abcdef'
const DAY = 'from=2026-03-10T00:00:00Z&to=2026-03-11T00:00:00Z'

let app: App
let key: string
let webhookSeq = 0

async function webhook(
  topic: string,
  body: string,
  options: { secret?: string; signature?: string | null; shop?: string; id?: string } = {},
) {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'x-shopify-topic': topic,
    'x-shopify-shop-domain': options.shop ?? SHOP,
    'x-shopify-webhook-id': options.id ?? `b54557e4-bdd9-4b37-8a5f-bf7d70bc${String(++webhookSeq).padStart(4, '0')}`,
    'x-shopify-api-version': '2026-01',
    'x-shopify-triggered-at': new Date().toISOString(),
  }
  const signature =
    options.signature === undefined ? shopifySignature(body, options.secret ?? SECRET) : options.signature
  if (signature !== null) headers['x-shopify-hmac-sha256'] = signature
  const res = await fetch(`${app.url}/v1/webhooks/shopify`, { method: 'POST', headers, body })
  return res.status
}

beforeAll(async () => {
  app = await startApp()
  key = await createShopifyTenant(app, 'shop', { shop_domain: SHOP, webhook_secret: SECRET })
})
afterAll(async () => app?.kill())

describe('Shopify webhooks', () => {
  it('refuses a wrong, missing or foreign signature with 401 and publishes nothing', async () => {
    const forged = fixture('shopify/orders-create-1002.json').replace('"54.00"', '"5400.00"')
    expect(await webhook('orders/create', forged, { secret: 'not-the-secret' })).toBe(401)
    expect(await webhook('orders/create', forged, { signature: null })).toBe(401)
    expect(await webhook('orders/create', forged, { signature: 'AAAA' })).toBe(401)
    expect(await webhook('orders/create', forged, { shop: 'someone-else.myshopify.com' })).toBe(401)
    // A body signed for another body: the signature covers the raw bytes.
    expect(
      await webhook('orders/create', forged, {
        signature: shopifySignature(fixture('shopify/orders-create-1002.json'), SECRET),
      }),
    ).toBe(401)
  })

  it('turns orders, edits, refunds and cancellations into exact KPIs, each counted once', async () => {
    const create1 = fixture('shopify/orders-create-1001.json')
    expect(await webhook('orders/create', create1, { id: 'replayed-webhook-1' })).toBe(200)
    // Shopify retries with the same X-Shopify-Webhook-Id; a replay by hand gets a new one.
    expect(await webhook('orders/create', create1, { id: 'replayed-webhook-1' })).toBe(200)
    expect(await webhook('orders/create', create1)).toBe(200)
    expect(await webhook('orders/create', fixture('shopify/orders-create-1002.json'))).toBe(200)
    expect(await webhook('orders/create', fixture('shopify/orders-create-1003.json'))).toBe(200)
    expect(await webhook('orders/updated', fixture('shopify/orders-updated-1001.json'))).toBe(200)
    expect(await webhook('refunds/create', fixture('shopify/refunds-create-1001.json'))).toBe(200)
    expect(await webhook('orders/updated', fixture('shopify/orders-updated-1001-refunded.json'))).toBe(200)
    expect(await webhook('orders/cancelled', fixture('shopify/orders-cancelled-1002.json'))).toBe(200)
    expect(await webhook('orders/cancelled', fixture('shopify/orders-cancelled-1002.json'))).toBe(200)
    expect(await webhook('customers/create', '{"id": 706405506930370084}')).toBe(200) // a topic we do not use

    const k = await waitForKpis(
      app,
      key,
      DAY,
      (k) => k.orders === 3 && k.gmv === '383.78' && k.refunds === '24.30' && k.cancelled_orders === 1,
    )
    expect(k).toMatchObject({
      gmv: '383.78', // 229.78 (1001 as edited) + 54.00 + 100.00
      orders: 3,
      units: 6, // 1001: 1 + 1 after the edit; 1002: 2; 1003: 2
      refunds: '24.30',
      cancelled_orders: 1,
      net_sales: '323.00', // 203.50 + 50.00 + 92.00 − 22.50
      attributed_revenue: '329.78', // facebook (utm_source) 229.78 + google (gclid) 100.00
    })
    expect(k.by_channel.facebook).toMatchObject({ gmv: '229.78', orders: 1 })
    expect(k.by_channel.google).toMatchObject({ gmv: '100.00', orders: 1 })
    expect(k.by_channel.organic).toMatchObject({ gmv: '54.00', orders: 1 })
    expect(k.by_source.shopify).toMatchObject({ gmv: '383.78', orders: 3 })
  })

  it('sends a signed body that is not an order to the dead-letter stream, and still answers 200', async () => {
    expect(await webhook('orders/create', fixture('shopify/orders-create-malformed.json'))).toBe(200)
    const letters = await deadLetters(app)
    const mine = letters.filter((l) => l.subject.startsWith(`connector.shopify.${SHOP}`))
    expect(mine).toHaveLength(1)
    expect(mine[0]).toMatchObject({ reason: 'malformed_page', subject: `connector.shopify.${SHOP}.orders/create` })
    expect(mine[0].detail).toContain('does not have the documented shape')
  })

  it('reprocesses the archive idempotently, showing progress, with the same KPIs after', async () => {
    const before = (await getJson(app, key, `/v1/metrics/kpis?${DAY}`, kpisAnswer)).body
    const cli = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'app/reprocess.ts',
        '--url',
        app.url,
        '--tenant',
        'shop',
        '--from',
        '2026-01-01T00:00:00Z',
        '--to',
        '2100-01-01T00:00:00Z',
      ],
      {
        cwd: resolve(import.meta.dirname, '../..'),
        env: { ...process.env, ADMIN_TOKEN },
      },
    )
    let out = ''
    cli.stdout.on('data', (d) => (out += d))
    cli.stderr.on('data', (d) => (out += d))
    const code = await new Promise((r) => cli.on('exit', r))
    expect(code, out).toBe(0)
    // Eleven signed webhooks were archived (the two with the same webhook id once), the refused ones never.
    expect(out).toMatch(/11\/11 payloads/)
    expect(out).toMatch(/0 new events/)
    const after = await waitForKpis(app, key, DAY, () => true)
    const { freshness: _a, as_of: _b, ...figuresAfter } = after
    const { freshness: _c, as_of: _d, ...figuresBefore } = before
    expect(figuresAfter).toEqual(figuresBefore)
  })
})
