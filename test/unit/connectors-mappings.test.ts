// Each source's mapping from its documented response bodies (test/fixtures/) to events (`common/events.ts`):
// pure functions, with settings passed in (unit costs), checked against figures worked by hand.
import { describe, expect, it } from 'vitest'
import { event } from '../../common/events.ts'
import { defaultSettings } from '../../common/settings.ts'
import { amazonSp } from '../../ingest/connectors/sources/amazon-sp.ts'
import { googleAds } from '../../ingest/connectors/sources/google-ads.ts'
import { klaviyo } from '../../ingest/connectors/sources/klaviyo.ts'
import { metaAds } from '../../ingest/connectors/sources/meta-ads.ts'
import { postscript } from '../../ingest/connectors/sources/postscript.ts'
import { quickbooks } from '../../ingest/connectors/sources/quickbooks.ts'
import { walmart } from '../../ingest/connectors/sources/walmart.ts'
import type { ArchivedPage, MapContext, PageMapper } from '../../ingest/connectors/types.ts'
import { attribution } from '../../ingest/shopify/channel.ts'
import { shopifySignature, validShopifySignature } from '../../ingest/shopify/hmac.ts'
import { mapShopify } from '../../ingest/shopify/map.ts'
import { fixture, fixtureJson } from '../integration/connectors-fakes.ts'

const POLLED_AT = Date.parse('2026-03-11T06:00:00Z')
const ctx = (timezone = 'UTC', unitCosts: Record<string, string> = {}): MapContext => ({
  tenant: { id: 't', timezone, currency: 'USD' },
  settings: { ...defaultSettings(), marketing_unit_costs: unitCosts },
})
const page = (connector: string, kind: string, body: string, meta: Record<string, unknown> = {}): ArchivedPage => ({
  connector,
  connectorId: 'c',
  kind,
  meta,
  body,
  receivedAt: POLLED_AT,
})
/** Maps and checks every event against the event schema (`common/events.ts`). */
function mapped(map: PageMapper, p: ArchivedPage, c = ctx()): any[] {
  const out = map(p, c)
  for (const e of out) expect(event.safeParse(e).success, JSON.stringify(e)).toBe(true)
  return out
}

describe('Shopify', () => {
  it('maps an order: figures, items, customer, city, channel and campaign from UTM', () => {
    const [created] = mapped(mapShopify, page('shopify', 'orders/create', fixture('shopify/orders-create-1001.json')))
    expect(created).toMatchObject({
      type: 'order.created',
      ts: '2026-03-10T10:15:00-05:00',
      source: 'shopify',
      currency: 'USD',
      order_id: '820982911946154508', // 64-bit id, exact
      customer_id: '115310627314723954',
      total: '256.24',
      subtotal: '228.00',
      discounts: '20.00',
      tax: '18.24',
      shipping: '10',
      channel: 'facebook',
      campaign_id: 'spring_sale',
      location: { city: 'Ottawa' },
    })
    expect(created.items).toEqual([
      {
        sku: 'IPOD2008PINK',
        product_id: '632910392',
        brand: 'Apple',
        category: 'electronics',
        quantity: 1,
        price: '199.00',
      },
      {
        sku: 'CASE-01',
        product_id: '632910393',
        brand: 'Otterbox',
        category: 'accessories',
        quantity: 2,
        price: '24.50',
      },
    ])
  })

  it('an edited order yields its creation and an edit at updated_at; a refund gets the same id on both topics', () => {
    const fromOrder = mapped(
      mapShopify,
      page('shopify', 'orders/updated', fixture('shopify/orders-updated-1001-refunded.json')),
    )
    expect(fromOrder.map((e) => e.type)).toEqual(['order.created', 'order.updated', 'refund.created'])
    expect(fromOrder[1]).toMatchObject({ ts: '2026-03-10T15:05:00-05:00', total: '229.78' })
    const [onItsOwn] = mapped(
      mapShopify,
      page('shopify', 'refunds/create', fixture('shopify/refunds-create-1001.json')),
    )
    expect(onItsOwn).toEqual(fromOrder[2])
    expect(onItsOwn).toMatchObject({
      order_id: '820982911946154508',
      refund_id: '509562969',
      amount: '24.3',
      subtotal: '22.5',
    })
  })

  it('a cancelled order yields its cancellation', () => {
    const events = mapped(
      mapShopify,
      page('shopify', 'orders/cancelled', fixture('shopify/orders-cancelled-1002.json')),
    )
    expect(events.at(-1)).toMatchObject({ type: 'order.cancelled', order_id: '450789469', ts: '2026-03-10T18:00:00Z' })
  })

  it.each([
    [{ landing_site: '/?utm_source=facebook&utm_campaign=c1' }, 'facebook', 'c1'],
    [{ landing_site: '/?utm_source=IG' }, 'instagram', undefined],
    [{ landing_site: '/?utm_source=Google&utm_medium=cpc' }, 'google', undefined],
    [{ landing_site: '/p?gclid=abc' }, 'google', undefined],
    [{ landing_site: '/p?fbclid=abc' }, 'facebook', undefined],
    [{ landing_site: '/?utm_source=Partner Blog' }, 'partner_blog', undefined],
    [{ source_name: 'instagram' }, 'instagram', undefined],
    [{ referring_site: 'https://l.facebook.com/l.php?u=x' }, 'facebook', undefined],
    [{ referring_site: 'https://www.google.com/' }, 'organic', undefined], // organic search
    [{ source_name: 'web' }, 'organic', undefined],
  ])('attributes %j to %s', (order, channel, campaign) =>
    expect(attribution(order)).toEqual({ channel, campaign_id: campaign }),
  )

  it('verifies signatures on the raw bytes, in constant time', () => {
    const body = fixture('shopify/orders-create-1001.json')
    const signature = shopifySignature(body, 'secret')
    expect(validShopifySignature(Buffer.from(body), signature, 'secret')).toBe(true)
    expect(validShopifySignature(Buffer.from(body), signature, 'other')).toBe(false)
    expect(validShopifySignature(Buffer.from(`${body} `), signature, 'secret')).toBe(false)
    expect(validShopifySignature(Buffer.from(body), undefined, 'secret')).toBe(false)
    expect(validShopifySignature(Buffer.from(body), 'short', 'secret')).toBe(false)
  })
})

describe('Meta Marketing API insights', () => {
  it('one statement per campaign, day and platform, with purchases and reported_at = the poll', () => {
    const events = mapped(
      metaAds.map,
      page('meta_ads', 'insights', fixture('meta/insights-page1.json'), { brand: 'acme' }),
      ctx('America/New_York'),
    )
    expect(events).toHaveLength(2)
    expect(events[0]).toMatchObject({
      type: 'ad.spend',
      ts: '2026-03-10T00:00:00-04:00', // the account's day in the tenant's timezone
      platform: 'facebook',
      campaign_id: '120210000000001',
      brand: 'acme',
      spend: '20.00',
      impressions: 4210,
      clicks: 133,
      conversions: 3,
      conversion_value: '229.78',
      period: 'day',
      reported_at: '2026-03-11T06:00:00.000Z',
    })
    expect(events[1]).toMatchObject({ platform: 'instagram', spend: '5.50' })
  })

  it('a page without the documented shape is malformed', () => {
    expect(() =>
      metaAds.map(page('meta_ads', 'insights', fixture('meta/insights-page2-malformed.json')), ctx()),
    ).toThrow(/documented shape/)
    expect(() => metaAds.map(page('meta_ads', 'insights', '<html>'), ctx())).toThrow(/not JSON/)
  })
})

describe('Google Ads searchStream', () => {
  it('micros to money, one statement per campaign and day', () => {
    const [batch] = fixtureJson('google/searchStream.json')
    const [e] = mapped(googleAds.map, page('google_ads', 'searchStream', JSON.stringify(batch)))
    expect(e).toMatchObject({
      type: 'ad.spend',
      platform: 'google',
      campaign_id: '555',
      spend: '40.1',
      impressions: 1200,
      clicks: 88,
      conversions: 2,
      conversion_value: '100',
      ts: '2026-03-10T00:00:00Z',
    })
  })
})

describe('Amazon SP-API', () => {
  const order = fixtureJson('amazon/orders-page1.json').payload.Orders[0]
  it('an order and its items: totals, discounts, unit prices', () => {
    const events = mapped(
      amazonSp.map,
      page('amazon_sp', 'orderItems', fixture('amazon/order-items-113-5940362-1380216.json'), { order }),
    )
    expect(events.map((e) => e.type)).toEqual(['order.created', 'order.updated'])
    expect(events[0]).toMatchObject({
      order_id: '113-5940362-1380216',
      total: '62.76',
      subtotal: '52.97',
      discounts: '2',
      tax: '4.8',
      shipping: '4.99',
      ts: '2026-03-10T09:00:00Z',
      location: { city: 'SEATTLE' },
    })
    expect(events[0].items).toEqual([
      { sku: 'SKU-RED-MUG', product_id: 'B00X4WHP5E', quantity: 2, price: '19.99' },
      { sku: 'SKU-COASTER', product_id: 'B07FZ8S74R', quantity: 1, price: '14.99' },
    ])
  })
  it('cancelled orders and refunds', () => {
    expect(mapped(amazonSp.map, page('amazon_sp', 'orders', fixture('amazon/orders-page1.json')))).toEqual([
      expect.objectContaining({ type: 'order.cancelled', order_id: '113-2279311-0470611' }),
    ])
    expect(mapped(amazonSp.map, page('amazon_sp', 'financialEvents', fixture('amazon/financial-events.json')))).toEqual(
      [
        expect.objectContaining({
          type: 'refund.created',
          order_id: '113-5940362-1380216',
          amount: '21.59',
          subtotal: '19.99',
          ts: '2026-03-10T20:00:00Z',
        }),
      ],
    )
  })
})

describe('Walmart', () => {
  it('orders, a refund with its tax, and an order whose every line is cancelled', () => {
    const events = mapped(walmart.map, page('walmart', 'orders', fixture('walmart/orders-page3.json')))
    expect(events.map((e) => [e.type, e.order_id])).toEqual([
      ['order.created', '1796277084001'],
      ['order.updated', '1796277084001'],
      ['refund.created', '1796277084001'],
      ['order.created', '1796277084002'],
      ['order.updated', '1796277084002'],
      ['order.cancelled', '1796277084002'],
    ])
    expect(events[0]).toMatchObject({
      total: '43.2',
      subtotal: '40',
      tax: '3.2',
      items: [{ sku: 'WM-RUG-5X7', quantity: 2, price: '20' }],
    })
    expect(events[2]).toMatchObject({
      amount: '10.8',
      subtotal: '10',
      refund_id: 'c3b4ab3a-e6c1-4f4b-8bc4-0b7ad5b2b5f1:1',
    })
  })
})

describe('QuickBooks Online', () => {
  it('an invoice is an order; shipping and tax are split out of TotalAmt', () => {
    const [e] = mapped(
      quickbooks.map,
      page('quickbooks', 'query', fixture('quickbooks/query-invoice.json'), { entity: 'Invoice' }),
    )
    expect(e).toMatchObject({
      type: 'order.created',
      order_id: 'inv-130',
      total: '344',
      subtotal: '300',
      tax: '24',
      shipping: '20',
      customer_id: '24',
      ts: '2026-03-10T00:00:00Z',
    })
  })
  it('only expenses on marketing accounts are marketing costs, restated by LastUpdatedTime', () => {
    const events = mapped(
      quickbooks.map,
      page('quickbooks', 'query', fixture('quickbooks/query-purchase.json'), {
        entity: 'Purchase',
        marketing_accounts: 'advertis|marketing',
      }),
    )
    expect(events).toEqual([
      expect.objectContaining({
        type: 'marketing.cost',
        amount: '150',
        campaign_id: 'purchase:252',
        reported_at: '2026-03-10T11:00:00-08:00',
      }),
    ])
  })
})

describe('Klaviyo and Postscript: sends priced with the tenant’s unit costs', () => {
  it('Klaviyo: per message and day; the most specific unit cost wins', () => {
    const p = page('klaviyo', 'metric-aggregates', fixture('klaviyo/aggregate-received-email.json'), {
      channel: 'email',
    })
    const events = mapped(klaviyo.map, p, ctx('UTC', { klaviyo_email: '0.001', email: '0.5' }))
    expect(events.map((e) => [e.campaign_id, e.ts, e.sends, e.amount])).toEqual([
      ['email:01J8Q2EMAILMSG0001', '2026-03-10T00:00:00+00:00', 1500, '1.5'],
      ['email:01J8Q2EMAILMSG0002', '2026-03-09T00:00:00+00:00', 200, '0.2'],
      ['email:01J8Q2EMAILMSG0002', '2026-03-10T00:00:00+00:00', 300, '0.3'],
    ])
    expect(mapped(klaviyo.map, p, ctx('UTC', {}))[0].amount).toBe('0') // no unit cost yet: 0 until one is set
  })

  it('Postscript: sent campaigns only, SMS and MMS priced apart', () => {
    const costs = { postscript_sms: '0.0075', postscript_mms: '0.02' }
    const first = mapped(
      postscript.map,
      page('postscript', 'campaigns', fixture('postscript/campaigns-page1.json'), { since: '2026-01-01' }),
      ctx('UTC', costs),
    )
    expect(first.map((e) => [e.campaign_id, e.amount, e.ts])).toEqual([
      ['cmp_000099', '30', '2026-03-10T00:00:00Z'],
      ['cmp_000100', '7.5', '2026-03-10T00:00:00Z'],
    ])
    const mms = mapped(
      postscript.map,
      page('postscript', 'campaigns', fixture('postscript/campaigns-page3.json'), { since: '2026-01-01' }),
      ctx('UTC', costs),
    )
    expect(mms).toEqual([expect.objectContaining({ campaign_id: 'cmp_000201', channel: 'mms', amount: '50' })])
  })
})
