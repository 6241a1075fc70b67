// The marketplace and accounting pollers (Amazon SP-API, Walmart Marketplace,
// QuickBooks Online) against local servers answering with the documented bodies: orders,
// cancellations and refunds (and a marketing expense) with exact KPIs; NextToken / nextCursor /
// STARTPOSITION paging; 429s honoured and 500s retried; a malformed page dead-lettered while the
// rest completes; and after a restart, an incremental sync from the saved cursor.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as fake from './connectors-fakes.ts'
import { type App, createTenant, waitForKpis } from './harness.ts'

const ORDERS = '/orders/v0/orders'
const QBO = '/v3/company/4620816365172148340/query'

let app: App
let api: fake.FakeApi
const keys: Record<string, string> = {}
const ids: Record<string, string> = {}

beforeAll(async () => {
  api = await fake.startFakeApi()
  // Amazon: LWA, getOrders (429 first, NextToken), getOrderItems (one malformed), Finances.
  api.route('POST', '/auth/o2/token', () => fake.ok(fake.fixture('amazon/lwa-token.json')))
  api.route('GET', ORDERS, (req, n) => {
    if (n === 0) return { status: 429, body: fake.fixtureJson('amazon/error-429.json') }
    const rate = { 'x-amzn-ratelimit-limit': '50.0' }
    if (req.query.get('NextToken'))
      return api.calls('GET', ORDERS).filter((r) => r.query.get('NextToken')).length === 1
        ? { status: 500, body: fake.fixtureJson('amazon/error-500.json') }
        : fake.ok(fake.fixture('amazon/orders-page2.json'), rate)
    return fake.ok(fake.fixture('amazon/orders-page1.json'), rate)
  })
  api.route('GET', '/orders/v0/orders/113-5940362-1380216/orderItems', () =>
    fake.ok(fake.fixture('amazon/order-items-113-5940362-1380216.json')),
  )
  api.route('GET', '/orders/v0/orders/113-7736451-9035424/orderItems', () => ({
    status: 200,
    headers: { 'content-type': 'text/html' },
    body: fake.fixture('amazon/order-items-malformed.html'),
  }))
  api.route('GET', '/finances/v0/financialEvents', () => fake.ok(fake.fixture('amazon/financial-events.json')))
  // FBA inventory (connectors-inventory.test.ts): none here.
  api.route('GET', '/fba/inventory/v1/summaries', () => fake.ok(fake.fixture('amazon/fba-inventory-empty.json')))
  // Walmart: token, orders (429 first, nextCursor, a 500 then a malformed page).
  api.route('POST', '/v3/token', () => fake.ok(fake.fixture('walmart/token.json')))
  api.route('GET', '/v3/orders', (req, n) => {
    if (n === 0) return { ...fake.tooMany(1), body: fake.fixtureJson('walmart/error-429.json') }
    const usage = { 'x-current-token-count': '19', 'x-next-replenish-time': String(Date.now() + 60_000) }
    const so = req.query.get('soIndex')
    if (so === '2')
      return api.calls('GET', '/v3/orders').filter((r) => r.query.get('soIndex') === '2').length === 1
        ? { status: 500, body: fake.fixtureJson('walmart/error-500.json') }
        : fake.ok(fake.fixture('walmart/orders-page2-malformed.json'), usage)
    if (so === '3') return fake.ok(fake.fixture('walmart/orders-page3.json'), usage)
    return fake.ok(fake.fixture('walmart/orders-page1.json'), usage)
  })
  // QuickBooks: one query endpoint; the entity is in the query text.
  api.route('GET', QBO, (req) => {
    const query = req.query.get('query')!
    const calls = api
      .calls('GET', QBO)
      .filter((r) => r.query.get('query')!.split(' ')[3] === query.split(' ')[3]).length
    if (query.includes('from Invoice'))
      return calls === 1
        ? { status: 429, body: fake.fixtureJson('quickbooks/error-429.json') }
        : fake.ok(fake.fixture('quickbooks/query-invoice.json'))
    if (query.includes('from SalesReceipt'))
      return calls === 1
        ? { status: 500, body: fake.fixtureJson('quickbooks/error-500.json') }
        : fake.ok(fake.fixture('quickbooks/query-salesreceipt-malformed.json'))
    return fake.ok(fake.fixture('quickbooks/query-purchase.json'))
  })
  app = await fake.startConnectorApp()
  for (const id of ['amz', 'wmt', 'qbo']) keys[id] = await createTenant(app, { id })
})
afterAll(async () => {
  await app?.kill()
  await api?.close()
})

describe('marketplace and accounting pollers', () => {
  it('syncs Amazon orders, items and refunds; the malformed items page is dead-lettered, the rest counts', async () => {
    ids.amz = await fake.addConnector(app, keys.amz, {
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
    const status = await fake.waitForSyncs(app, keys.amz, ids.amz, 1)
    expect(status).toMatchObject({ last_error: null, dead_letters: 1 })
    // 62.76 shipped order; the cancelled one counts as a cancellation; the refund of one mug.
    const k = await waitForKpis(
      app,
      keys.amz,
      fake.FIXTURE_DAY,
      (k) => k.gmv === '62.76' && k.refunds === '21.59' && k.cancelled_orders === 1,
    )
    expect(k).toMatchObject({ orders: 1, units: 3, net_sales: '32.98', attributed_revenue: '0.00' }) // 52.97 − 19.99
    expect(k.by_source.amazon).toMatchObject({ gmv: '62.76' })
    const orders = api.calls('GET', ORDERS)
    expect(orders.map((r) => r.query.get('NextToken'))).toEqual([
      null,
      null,
      '2YgYW55IGNhcm5hbCBwbGVhc3VyZS4',
      '2YgYW55IGNhcm5hbCBwbGVhc3VyZS4',
    ])
    expect(orders[1].headers['x-amz-access-token']).toBe('Atza|IwEBIsecret-lwa-access-token')
    expect(orders[1].query.get('MarketplaceIds')).toBe('ATVPDKIKX0DER')
    expect(orders[1].query.get('LastUpdatedAfter')).toMatch(/^\d{4}-\d{2}-\d{2}T/)
    // Pending orders have no price yet: their items are not asked for.
    expect(
      api
        .calls('GET', /\/orders\/v0\/orders\/.+\/orderItems$/)
        .map((r) => r.path.split('/')[4])
        .sort(),
    ).toEqual(['113-5940362-1380216', '113-7736451-9035424'])
  })

  it('syncs Walmart orders through nextCursor: orders, a refund and a cancelled order, exactly', async () => {
    ids.wmt = await fake.addConnector(app, keys.wmt, {
      type: 'walmart',
      config: { client_id: 'wm-client-id', client_secret: 'wm-secret', api_base_url: api.url },
      every_seconds: 3600,
    })
    const status = await fake.waitForSyncs(app, keys.wmt, ids.wmt, 1)
    expect(status).toMatchObject({ last_error: null, dead_letters: 1, pages: 3 })
    const k = await waitForKpis(app, keys.wmt, fake.FIXTURE_DAY, (k) => k.orders === 3 && k.refunds === '10.80')
    // 55.06 + 43.20 + 12.96; 44.99 + 40 + 12 − 10
    expect(k).toMatchObject({ gmv: '111.22', cancelled_orders: 1, units: 5, net_sales: '86.99' })
    const calls = api.calls('GET', '/v3/orders')
    expect(calls[1].at - calls[0].at).toBeGreaterThanOrEqual(1_000) // Retry-After: 1
    expect(calls.map((r) => r.query.get('soIndex'))).toEqual([null, null, '2', '2', '3'])
    expect(calls[1].headers['wm_sec.access_token']).toBe('eyJraWQiOiI1MWY3MjM0Ny0secret-walmart-token')
    expect(calls[1].headers['wm_svc.name']).toBe('Walmart Marketplace')
    const token = api.calls('POST', '/v3/token')[0]
    expect(token.headers.authorization).toBe(`Basic ${Buffer.from('wm-client-id:wm-secret').toString('base64')}`)
  })

  it('syncs QuickBooks invoices and marketing expenses; the malformed receipt page is dead-lettered', async () => {
    ids.qbo = await fake.addConnector(app, keys.qbo, {
      type: 'quickbooks',
      config: { realm_id: '4620816365172148340', access_token: 'qbo-secret-token', api_base_url: api.url },
      every_seconds: 3600,
    })
    const status = await fake.waitForSyncs(app, keys.qbo, ids.qbo, 1)
    expect(status).toMatchObject({ last_error: null, dead_letters: 1 })
    const k = await waitForKpis(app, keys.qbo, fake.FIXTURE_DAY, (k) => k.orders === 1 && k.marketing_cost === '150.00')
    expect(k).toMatchObject({ gmv: '344.00', net_sales: '300.00', units: 2 }) // rent is not a marketing cost
    const queries = api.calls('GET', QBO).map((r) => r.query.get('query')!)
    expect(queries.filter((q) => q.includes('from Invoice'))).toHaveLength(2) // 429, then the page
    expect(queries.filter((q) => q.includes('from SalesReceipt'))).toHaveLength(2) // 500, then the page
    expect(queries[0]).toMatch(
      new RegExp(
        "^select \\* from Invoice where Metadata\\.LastUpdatedTime >= '.+' " +
          'orderby Metadata\\.LastUpdatedTime startposition 1 maxresults 100$',
      ),
    )
  })

  it('lists the dead letters of each source with the reason', async () => {
    const letters = (await fake.deadLetters(app)).filter((l) => l.subject.startsWith('connector.'))
    expect(letters.map((l) => l.subject).sort()).toEqual(
      [
        `connector.amazon_sp.${ids.amz}.orderItems`,
        `connector.quickbooks.${ids.qbo}.query`,
        `connector.walmart.${ids.wmt}.orders`,
      ].sort(),
    )
    expect(letters.every((l) => l.reason === 'malformed_page')).toBe(true)
    expect(letters.find((l) => l.subject.includes('amazon'))?.detail).toMatch(/not JSON/)
  })

  it('after a restart, each syncs incrementally from its saved cursor, and nothing counts twice', async () => {
    await app.kill('SIGKILL')
    app = await fake.startConnectorApp(app.dataDir)
    const before = {
      amz: api.calls('GET', ORDERS).length,
      wmt: api.calls('GET', '/v3/orders').length,
      qbo: api.calls('GET', QBO).length,
    }
    for (const id of ['amz', 'wmt', 'qbo']) expect(await fake.syncNow(app, keys[id], ids[id])).toBe(202)
    for (const id of ['amz', 'wmt', 'qbo']) await fake.waitForSyncs(app, keys[id], ids[id], 2)

    const amazon = api.calls('GET', ORDERS)[before.amz]
    expect(amazon.query.get('LastUpdatedAfter')).toBe('2026-03-11T08:00:00Z') // the newest LastUpdateDate seen
    expect(api.calls('GET', '/finances/v0/financialEvents').at(-1)!.query.get('PostedAfter')).toBe(
      '2026-03-10T20:00:00Z',
    )
    const walmart = api.calls('GET', '/v3/orders')
    const firstSince = Date.parse(walmart[0].query.get('lastModifiedStartDate')!)
    const nextSince = Date.parse(walmart[before.wmt].query.get('lastModifiedStartDate')!)
    expect(nextSince).toBeGreaterThan(firstSince) // from the last sync (less 10 minutes' overlap), not the backfill
    const invoice = api
      .calls('GET', QBO)
      .slice(before.qbo)
      .map((r) => r.query.get('query')!)
      .find((q) => q.includes('from Invoice'))!
    expect(invoice).toContain(">= '2026-03-10T09:10:00-08:00'")
    const purchase = api
      .calls('GET', QBO)
      .slice(before.qbo)
      .map((r) => r.query.get('query')!)
      .find((q) => q.includes('from Purchase'))!
    expect(purchase).toContain(">= '2026-03-10T11:05:00-08:00'")

    // The same pages read again: the same event ids, so the figures stay exact.
    expect(await waitForKpis(app, keys.amz, fake.FIXTURE_DAY, () => true)).toMatchObject({
      gmv: '62.76',
      orders: 1,
      refunds: '21.59',
      cancelled_orders: 1,
    })
    expect(await waitForKpis(app, keys.wmt, fake.FIXTURE_DAY, () => true)).toMatchObject({
      gmv: '111.22',
      orders: 3,
      refunds: '10.80',
      cancelled_orders: 1,
    })
    expect(await waitForKpis(app, keys.qbo, fake.FIXTURE_DAY, () => true)).toMatchObject({
      gmv: '344.00',
      orders: 1,
      marketing_cost: '150.00',
    })
  })
})
