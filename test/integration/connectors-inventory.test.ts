// Inventory connectors against the real app. Shopify: a signed products/update records its
// variants' inventory items, and a signed inventory_levels/update then lands as `inventory.level`
// under the SKU (read back with SQL); untracked inventory makes nothing; an item whose product has
// not come in is dead-lettered `unknown_inventory_item`, and reprocessing the archive after its
// products/create recovers it; the recorded items outlive a restart. Amazon: FBA inventory summaries
// polled across two pages (nextToken) with the other SP-API calls, and a second poll of the same
// summaries adds nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { shopifySignature } from '../../ingest/shopify/hmac.ts'
import * as fake from './connectors-fakes.ts'
import { ADMIN_TOKEN, type App, createTenant, sqlRows, waitFor } from './harness.ts'

const SHOP = 'inventory-test.myshopify.com'
const SECRET = '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'
const SUMMARIES = '/fba/inventory/v1/summaries'
const LEVELS = `SELECT event_id, source, JSONExtractString(raw, 'store') AS store, JSONExtractString(raw, 'sku') AS sku,
  JSONExtractString(raw, 'location_id') AS location_id, JSONExtractInt(raw, 'available') AS available,
  toString(ts) AS ts FROM events WHERE type = 'inventory.level' ORDER BY sku, ts`

let app: App
let api: fake.FakeApi
let shopKey: string
let amazonKey: string
let webhookSeq = 0

async function webhook(topic: string, body: string): Promise<number> {
  const res = await fetch(`${app.url}/v1/webhooks/shopify`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-shopify-topic': topic,
      'x-shopify-shop-domain': SHOP,
      'x-shopify-webhook-id': `0c1f7a52-9d3e-4b8a-a6f1-5e2d8c40${String(++webhookSeq).padStart(4, '0')}`,
      'x-shopify-api-version': '2026-01',
      'x-shopify-triggered-at': new Date().toISOString(),
      'x-shopify-hmac-sha256': shopifySignature(body, SECRET),
    },
    body,
  })
  return res.status
}

/** The tenant's inventory.level rows once `ready` holds for them. */
const levels = (key: string, ready: (rows: Record<string, unknown>[]) => boolean, what: string) =>
  waitFor(async () => {
    const rows = await sqlRows(app, key, LEVELS)
    return ready(rows) ? rows : undefined
  }, what)

const pick = (rows: Record<string, unknown>[]) =>
  rows.map((r) => ({
    source: r.source,
    store: r.store,
    sku: r.sku,
    location_id: r.location_id,
    available: Number(r.available),
  }))

beforeAll(async () => {
  api = await fake.startFakeApi()
  api.route('POST', '/auth/o2/token', () => fake.ok(fake.fixture('amazon/lwa-token.json')))
  api.route('GET', '/orders/v0/orders', () => fake.ok({ payload: { Orders: [] } }))
  api.route('GET', '/finances/v0/financialEvents', () => fake.ok({ payload: { FinancialEvents: {} } }))
  api.route('GET', SUMMARIES, (req) =>
    fake.ok(fake.fixture(`amazon/fba-inventory-page${req.query.get('nextToken') ? 2 : 1}.json`), {
      'x-amzn-ratelimit-limit': '2.0',
    }),
  )
  app = await fake.startConnectorApp()
  shopKey = await fake.createShopifyTenant(app, 'inv', { shop_domain: SHOP, webhook_secret: SECRET })
  amazonKey = await createTenant(app, { id: 'fba' })
}, 120_000)
afterAll(async () => {
  await app?.kill()
  await api?.close()
})

describe('Shopify inventory webhooks', () => {
  it('a product, then its inventory level: inventory.level under the SKU; untracked makes nothing', async () => {
    expect(await webhook('products/update', fake.fixture('shopify/products-update-632910392.json'))).toBe(200)
    expect(
      await webhook('inventory_levels/update', fake.fixture('shopify/inventory-levels-update-808950810.json')),
    ).toBe(200)
    expect(
      await webhook('inventory_levels/update', fake.fixture('shopify/inventory-levels-update-untracked.json')),
    ).toBe(200)
    const rows = await levels(shopKey, (r) => r.length >= 1, 'the Shopify inventory level')
    expect(pick(rows)).toEqual([
      { source: 'shopify', store: SHOP, sku: 'IPOD2008PINK', location_id: '905684977', available: 6 },
    ])
    expect(rows[0].ts).toBe('2026-03-10 17:30:00.000') // updated_at, in UTC
    expect(rows[0].event_id).toMatch(/^shopify:inventory:808950810:905684977#/)
  })

  it('an item whose product has not come in is dead-lettered unknown_inventory_item; still 200', async () => {
    const level = fake.fixture('shopify/inventory-levels-update-45678901234567890.json')
    expect(await webhook('inventory_levels/update', level)).toBe(200)
    const letter = await waitFor(async () => {
      const letters = await fake.deadLetters(app)
      return letters.find((l) => l.subject === `connector.shopify.${SHOP}.inventory_levels/update`)
    }, 'the dead letter')
    expect(letter.reason).toBe('unknown_inventory_item')
    expect(letter.detail).toContain('45678901234567890')
    expect(pick(await sqlRows(app, shopKey, LEVELS)).map((r) => r.sku)).toEqual(['IPOD2008PINK'])
  })

  it('after its products/create, reprocessing the archive recovers it; nothing else counts twice', async () => {
    expect(await webhook('products/create', fake.fixture('shopify/products-create-632910393.json'))).toBe(200)
    const res = await fetch(`${app.url}/v1/admin/reprocess`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ tenant: 'inv', from: '2026-01-01T00:00:00Z', to: '2100-01-01T00:00:00Z' }),
    })
    expect(res.status).toBe(200)
    const progress = (await res.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(progress.at(-1)).toMatchObject({ type: 'done', payloads: 5, done: 5, accepted: 1, dead_letters: 0 })
    const rows = await levels(shopKey, (r) => r.length >= 2, 'the recovered level')
    expect(pick(rows)).toEqual([
      { source: 'shopify', store: SHOP, sku: 'CASE-01', location_id: '905684977', available: -2 },
      { source: 'shopify', store: SHOP, sku: 'IPOD2008PINK', location_id: '905684977', available: 6 },
    ])
  })

  it('the recorded inventory items outlive a restart', async () => {
    await app.kill('SIGKILL')
    app = await fake.startConnectorApp(app.dataDir)
    const red = fake
      .fixture('shopify/inventory-levels-update-untracked.json')
      .replace('"available": null', '"available": 20')
    expect(await webhook('inventory_levels/update', red)).toBe(200)
    const rows = await levels(shopKey, (r) => r.some((x) => x.sku === 'IPOD2008RED'), 'the level after a restart')
    expect(pick(rows).find((r) => r.sku === 'IPOD2008RED')).toEqual({
      source: 'shopify',
      store: SHOP,
      sku: 'IPOD2008RED',
      location_id: '905684977',
      available: 20,
    })
  }, 120_000)
})

describe('Amazon FBA inventory', () => {
  it('polls the summaries across two pages: one level per SKU at FBA:<marketplace>; a re-poll adds nothing', async () => {
    const id = await fake.addConnector(app, amazonKey, {
      type: 'amazon_sp',
      config: {
        refresh_token: 'Atzr|secret',
        client_id: 'amzn1.application-oa2-client.x',
        client_secret: 'amzn-secret',
        marketplace_ids: ['ATVPDKIKX0DER'],
        api_base_url: api.url,
      },
      every_seconds: 3600,
    })
    const status = await fake.waitForSyncs(app, amazonKey, id, 1)
    expect(status).toMatchObject({ last_error: null, dead_letters: 0 })
    const calls = api.calls('GET', SUMMARIES)
    expect(calls.map((r) => r.query.get('nextToken'))).toEqual([null, 'seed-2d8f6e1c-0b4a-4f3e-9c1d-7a2b5e8f9c0d'])
    expect(Object.fromEntries([...calls[0].query].filter(([k]) => k !== 'nextToken'))).toEqual({
      details: 'true',
      granularityType: 'Marketplace',
      granularityId: 'ATVPDKIKX0DER',
      marketplaceIds: 'ATVPDKIKX0DER',
    })
    expect(calls[0].headers['x-amz-access-token']).toBe('Atza|IwEBIsecret-lwa-access-token')

    const expected = [
      { sku: 'SKU-COASTER', available: 120 },
      { sku: 'SKU-RED-MUG', available: 42 },
      { sku: 'SKU-SPOON-SET', available: 0 },
      { sku: 'SKU-TEA-TIN', available: 9 },
    ].map((r) => ({ source: 'amazon', store: 'ATVPDKIKX0DER', location_id: 'FBA:ATVPDKIKX0DER', ...r }))
    const rows = await levels(amazonKey, (r) => r.length >= 4, 'the FBA levels')
    expect(pick(rows)).toEqual(expected)
    expect(rows.find((r) => r.sku === 'SKU-RED-MUG')?.ts).toBe('2026-03-10 18:20:00.000')

    // The same summaries again (the undated one keeps the time it was first seen): duplicates only.
    expect(await fake.syncNow(app, amazonKey, id)).toBe(202)
    const after = await fake.waitForSyncs(app, amazonKey, id, 2)
    expect(after).toMatchObject({ last_error: null, events_produced: status.events_produced })
    expect(after.duplicates - status.duplicates).toBe(4)
    expect(pick(await sqlRows(app, amazonKey, LEVELS))).toEqual(expected)
  })
})
