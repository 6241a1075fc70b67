import { describe, it, expect } from 'vitest'
import {
  event,
  eventCurrency,
  eventTypes,
  instant,
  MAX_AMOUNT,
  MAX_QUANTITY,
  money,
  type PulseEvent,
} from '../../common/events.ts'
import { shapeProblem } from '../../common/json-shape.ts'
import { MAX_AHEAD_MS, MAX_EVENT_BYTES, validateEvents } from '../../ingest/publish-events.ts'
import { createdAmounts } from './processor-fixtures.ts'

const TS_ISO = '2026-11-22T10:00:00+05:30'
const TS_MS = Date.parse('2026-11-22T04:30:00Z')

const examples: Record<string, Record<string, unknown>> = {
  'order.created': {
    id: 'evt-1',
    type: 'order.created',
    ts: TS_ISO,
    source: 'shopify',
    order_id: 'o-1',
    customer_id: 'c-1',
    ...createdAmounts,
    shipping_cost: '45.00',
    items: [
      {
        sku: 'tee-m',
        product_id: 'p-1',
        brand: 'nike',
        category: 'apparel',
        quantity: 2,
        price: '400.00',
        cost: '150.00',
      },
      { sku: 'cap', quantity: 1, price: 300 },
    ],
    channel: 'facebook',
    campaign_id: 'cmp-1',
    location: { city: 'Mumbai', pin: '400001' },
  },
  'order.updated': {
    id: 'evt-2',
    type: 'order.updated',
    ts: TS_MS,
    source: 'shopify',
    order_id: 'o-1',
    total: 590,
    subtotal: '500',
    items: [{ sku: 'tee-m', quantity: 1, price: '500' }],
    location: 'Pune',
  },
  'order.cancelled': { id: 'evt-3', type: 'order.cancelled', ts: TS_ISO, source: 'shopify', order_id: 'o-1' },
  'fee.charged': {
    id: 'evt-fee',
    type: 'fee.charged',
    ts: TS_ISO,
    source: 'stripe',
    amount: '2.90',
    kind: 'payment_processing',
    order_id: 'o-1',
  },
  'refund.created': {
    id: 'evt-4',
    type: 'refund.created',
    ts: TS_ISO,
    source: 'shopify',
    order_id: 'o-1',
    refund_id: 'r-1',
    amount: '118.00',
    subtotal: '100.00',
  },
  'ad.spend': {
    id: 'evt-5',
    type: 'ad.spend',
    ts: '2026-11-22T00:00:00+05:30',
    source: 'meta_ads',
    platform: 'facebook',
    campaign_id: 'cmp-1',
    brand: 'nike',
    spend: '1234.567891',
    impressions: 10000,
    clicks: 250,
    conversions: 12.5,
    conversion_value: '5000.00',
    period: 'hour',
    reported_at: '2026-11-22T10:05:00+05:30',
  },
  'marketing.cost': {
    id: 'evt-6',
    type: 'marketing.cost',
    ts: '2026-11-22T00:00:00+05:30',
    source: 'klaviyo',
    platform: 'klaviyo',
    amount: '250.00',
    campaign_id: 'flow-1',
    period: 'day',
    reported_at: TS_MS,
  },
  'product.viewed': {
    id: 'evt-7',
    type: 'product.viewed',
    ts: TS_ISO,
    source: 'shopify',
    customer_id: 'c-1',
    category: 'apparel',
    product_id: 'p-1',
  },
  search: { id: 'evt-8', type: 'search', ts: TS_ISO, source: 'custom', customer_id: 'c-1', query: 'red shoes' },
  'cart.added': {
    id: 'evt-9',
    type: 'cart.added',
    ts: TS_ISO,
    source: 'shopify',
    customer_id: 'c-1',
    product_id: 'p-1',
  },
  'checkout.started': {
    id: 'evt-10',
    type: 'checkout.started',
    ts: TS_ISO,
    source: 'shopify',
    customer_id: 'c-1',
    currency: 'INR',
  },
  'inventory.level': {
    id: 'evt-12',
    type: 'inventory.level',
    ts: TS_ISO,
    source: 'shopify',
    sku: 'SKU-1',
    location_id: 'gid://shopify/Location/1',
    available: -3,
  },
}

function issuesOf(raw: unknown) {
  const result = event.safeParse(raw)
  expect(result.success).toBe(false)
  return result.error!.issues
}

function parsed(raw: unknown): PulseEvent {
  const result = event.safeParse(raw)
  expect(result.error).toBeUndefined()
  return result.data!
}

const orderBase = examples['order.created']

describe('event schema: valid examples', () => {
  it('has an example for every event type', () => {
    expect(Object.keys(examples).sort()).toEqual([...eventTypes].sort())
    expect(eventTypes).toHaveLength(12)
  })

  it.each(Object.entries(examples))('parses a valid %s', (type, raw) => {
    const e = parsed(raw)
    expect(e.type).toBe(type)
    expect(e.id).toBe(raw.id)
  })

  it('turns money into canonical decimal strings', () => {
    const e = parsed(orderBase)
    if (e.type !== 'order.created') throw new Error('wrong type')
    expect(e.total).toBe('1180.00')
    expect(e.items[1].price).toBe('300')
    expect(e.items[0].cost).toBe('150.00')
    expect(e.shipping_cost).toBe('45.00')
  })

  it('keeps micros-like precision for later rounding', () => {
    const e = parsed(examples['ad.spend'])
    if (e.type !== 'ad.spend') throw new Error('wrong type')
    expect(e.spend).toBe('1234.567891')
    expect(e.period).toBe('hour')
    expect(e.reported_at).toBe(Date.parse('2026-11-22T04:35:00Z'))
  })
})

describe('event schema: ts', () => {
  it.each<[string | number, number]>([
    ['2026-11-22T10:00:00+05:30', Date.parse('2026-11-22T04:30:00Z')],
    ['2026-11-22T10:00:00+0530', Date.parse('2026-11-22T04:30:00Z')],
    ['2026-11-22T04:30:00Z', Date.parse('2026-11-22T04:30:00Z')],
    ['2026-11-22T04:30Z', Date.parse('2026-11-22T04:30:00Z')],
    ['2026-11-21T23:30:00.250-05:00', Date.parse('2026-11-22T04:30:00.250Z')],
    [TS_MS, TS_MS],
    [0, 0],
  ])('accepts %j as epoch ms %i', (ts, expected) => {
    expect(instant.parse(ts)).toBe(expected)
    expect(parsed({ ...orderBase, ts }).ts).toBe(expected)
  })

  it.each<[string, unknown]>([
    ['ISO without an offset', '2026-11-22T10:00:00'],
    ['a date only', '2026-11-22'],
    ['an hour-only offset', '2026-11-22T10:00:00+05'],
    ['a space instead of T', '2026-11-22 10:00:00Z'],
    ['minute 60', '2026-11-22T23:60:00Z'],
    ['epoch ms as a string', String(TS_MS)],
    ['negative epoch ms', -1],
    ['fractional epoch ms', 1.5],
    ['null', null],
  ])('refuses %s on path ts', (_label, ts) => {
    const issues = issuesOf({ ...orderBase, ts })
    expect(issues.map((i) => i.path)).toEqual([['ts']])
  })

  // BUG (reported): a non-existent calendar date passes the regex and Date.parse rolls it over,
  // so "2026-02-30" is silently counted on 2026-03-02 instead of being refused.
  it('refuses an impossible calendar date (2026-02-30)', () => {
    const result = event.safeParse({ ...orderBase, ts: '2026-02-30T10:00:00Z' })
    expect(result.success).toBe(false)
  })
})

describe('event schema: money', () => {
  it.each<[string, unknown]>([
    ['a negative string', '-1.00'],
    ['a negative number', -1],
    ['negative zero as a string', '-0'],
    ['an exponent string', '1e3'],
    ['a string with a comma', '1,000.00'],
    ['an empty string', ''],
    ['Infinity', Infinity],
    ['NaN', NaN],
    ['a number ≥ 1e13', 1e13],
    ['a boolean', true],
  ])('refuses %s as total on path total', (_label, total) => {
    const issues = issuesOf({ ...orderBase, total })
    expect(issues.map((i) => i.path)).toEqual([['total']])
  })

  it('refuses a negative refund amount and a negative ad spend', () => {
    expect(issuesOf({ ...examples['refund.created'], amount: '-5' }).map((i) => i.path)).toEqual([['amount']])
    expect(issuesOf({ ...examples['ad.spend'], spend: -0.01 }).map((i) => i.path)).toEqual([['spend']])
  })

  it('refuses a negative line-item price with the item path', () => {
    const items = [
      { sku: 'a', quantity: 1, price: '10' },
      { sku: 'b', quantity: 1, price: '-10' },
    ]
    expect(issuesOf({ ...orderBase, items }).map((i) => i.path)).toEqual([['items', 1, 'price']])
  })

  it.each<[unknown, string]>([
    ['299.99', '299.99'],
    [299.99, '299.99'],
    [0, '0'],
    [1e-7, '0.0000001'],
  ])('money.parse(%j) = %j', (value, expected) => {
    expect(money.parse(value)).toBe(expected)
  })
})

describe('event schema: refusals', () => {
  it('refuses an unknown type on path type', () => {
    const issues = issuesOf({ ...orderBase, type: 'order.exploded' })
    expect(issues).toHaveLength(1)
    expect(issues[0].path).toEqual(['type'])
  })

  it('refuses a missing type on path type', () => {
    const { type: _type, ...rest } = orderBase
    expect(issuesOf(rest).map((i) => i.path)).toEqual([['type']])
  })

  it.each([
    ['id', { id: '' }],
    ['id', { id: ' leading-space' }],
    ['source', { source: 'Shopify' }],
    ['currency', { currency: 'XYZ' }],
    ['order_id', { order_id: '' }],
    ['channel', { channel: 'Face Book' }],
  ])('refuses a bad %s with that path', (field, patch) => {
    const paths = new Set(issuesOf({ ...orderBase, ...patch }).map((i) => i.path.join('.')))
    expect([...paths]).toEqual([field])
  })

  it.each([['total'], ['subtotal'], ['order_id']])('refuses an order without %s', (field) => {
    const raw: Record<string, unknown> = { ...orderBase }
    delete raw[field]
    expect(issuesOf(raw).map((i) => i.path)).toEqual([[field]])
  })

  it('refuses a shopper event without customer_id', () => {
    const { customer_id: _c, ...rest } = examples['product.viewed']
    expect(issuesOf(rest).map((i) => i.path)).toEqual([['customer_id']])
  })

  it('refuses an ad.spend period other than hour or day', () => {
    expect(issuesOf({ ...examples['ad.spend'], period: 'week' }).map((i) => i.path)).toEqual([['period']])
  })

  it('refuses a fractional quantity', () => {
    const items = [{ sku: 'a', quantity: 1.5, price: '10' }]
    expect(issuesOf({ ...orderBase, items }).map((i) => i.path)).toEqual([['items', 0, 'quantity']])
  })
})

describe('event schema: defaults', () => {
  const minimalOrder = {
    id: 'm-1',
    type: 'order.created',
    ts: TS_MS,
    source: 'shopify',
    order_id: 'o-9',
    total: '10',
    subtotal: '10',
  }

  it('defaults discounts, tax and shipping to "0", items to [] and channel to organic', () => {
    const e = parsed(minimalOrder)
    if (e.type !== 'order.created') throw new Error('wrong type')
    expect(e.discounts).toBe('0')
    expect(e.tax).toBe('0')
    expect(e.shipping).toBe('0')
    expect(e.items).toEqual([])
    expect(e.channel).toBe('organic')
    expect(e.shipping_cost).toBeUndefined()
    expect(e.customer_id).toBeUndefined()
  })

  it('applies the same defaults to order.updated', () => {
    const e = parsed({ ...minimalOrder, type: 'order.updated' })
    if (e.type !== 'order.updated') throw new Error('wrong type')
    expect([e.discounts, e.tax, e.shipping, e.channel]).toEqual(['0', '0', '0', 'organic'])
  })

  it('defaults the period of ad.spend and marketing.cost to day and leaves reported_at absent', () => {
    const spend = parsed({
      id: 's',
      type: 'ad.spend',
      ts: TS_MS,
      source: 'google_ads',
      platform: 'google',
      campaign_id: 'c',
      spend: '5',
    })
    const cost = parsed({
      id: 'm',
      type: 'marketing.cost',
      ts: TS_MS,
      source: 'klaviyo',
      platform: 'klaviyo',
      amount: '5',
    })
    if (spend.type !== 'ad.spend' || cost.type !== 'marketing.cost') throw new Error('wrong type')
    expect(spend.period).toBe('day')
    expect(cost.period).toBe('day')
    expect(spend.reported_at).toBeUndefined()
    expect(cost.reported_at).toBeUndefined()
  })

  it('leaves currency absent and eventCurrency falls back to the tenant currency', () => {
    const e = parsed(minimalOrder)
    expect(e.currency).toBeUndefined()
    expect(eventCurrency(e, 'INR')).toBe('INR')
    expect(eventCurrency(parsed({ ...minimalOrder, currency: 'USD' }), 'INR')).toBe('USD')
  })
})

describe('validating a batch: ts ahead of its receipt', () => {
  const receivedAt = Date.parse('2026-11-22T04:30:00Z')
  const at = (ts: number) => ({ ...examples['order.created'], ts })
  it('accepts exactly 24 h ahead and refuses a millisecond more, naming ts', () => {
    const { valid, details } = validateEvents(
      { id: 'acme', timezone: 'Asia/Kolkata', currency: 'INR' },
      [at(receivedAt + MAX_AHEAD_MS), at(receivedAt + MAX_AHEAD_MS + 1)],
      { receivedAt },
    )
    expect(valid.map((v) => v.event.ts)).toEqual([receivedAt + MAX_AHEAD_MS])
    expect(details).toEqual([
      {
        index: 1,
        path: 'ts',
        message: '2026-11-23T04:30:00.001Z is more than 24 h after its receipt (2026-11-22T04:30:00.000Z)',
      },
    ])
    expect(MAX_AHEAD_MS).toBe(86_400_000)
  })
})

describe('shape and bounds of what ingest accepts', () => {
  const receivedAt = Date.UTC(2026, 10, 22, 12)
  const tenant = { id: 'acme', timezone: 'UTC', currency: 'USD' }
  const paths = (
    items: unknown[],
    options: { rateFor?: (c: string) => string; skuCostOf?: (s: string) => string } = {},
  ) => validateEvents(tenant, items, { receivedAt, ...options }).details.map((d) => d.path)

  it('finds lone surrogates in values and keys, and nesting over the limit, without recursion', () => {
    expect(shapeProblem({ a: ['ok', { b: 'x\ud800y' }] }, 8)).toEqual({
      path: 'a.1.b',
      message: 'text is not well-formed Unicode (a lone surrogate)',
    })
    expect(shapeProblem({ ['\udc00']: 1 }, 8)?.path).toBe('\udc00')
    expect(shapeProblem('\ud83d\ude00 a well-formed pair', 8)).toBeUndefined()
    let deep: unknown = 1
    for (let i = 0; i < 100_000; i++) deep = [deep]
    expect(shapeProblem(deep, 8)?.message).toBe('nested deeper than 8 levels')
    expect(shapeProblem([[[[[[[[1]]]]]]]], 8)).toBeUndefined()
    expect(shapeProblem([[[[[[[[[1]]]]]]]]], 8)?.path).toBe('0.0.0.0.0.0.0.0')
  })

  it('holds amounts to MAX_AMOUNT in the tenant currency, lines and sku costs included', () => {
    const order = (extra: Record<string, unknown>) => ({ ...orderBase, ts: receivedAt, ...extra })
    expect(paths([order({ total: String(MAX_AMOUNT) })])).toEqual([])
    expect(paths([order({ total: '10000000000.001' })])).toEqual(['total'])
    // 6e9 EUR at 2 USD each is over the bound once converted.
    expect(paths([order({ currency: 'EUR', total: '6000000000' })], { rateFor: () => '2' })).toEqual(['total'])
    expect(paths([order({ items: [{ sku: 'a', quantity: MAX_QUANTITY + 1, price: '0' }] })])).toEqual([
      'items.0.quantity',
    ])
    expect(paths([order({ items: [{ sku: 'a', quantity: 1000, price: '1', cost: '20000000' }] })])).toEqual([
      'items.0.cost',
    ])
    expect(
      paths([order({ items: [{ sku: 'a', quantity: 1000, price: '1' }] })], { skuCostOf: () => '20000000' }),
    ).toEqual(['items.0.sku'])
  })

  it('refuses instants outside 1970 to 2100 and events over MAX_EVENT_BYTES', () => {
    expect(paths([{ ...orderBase, ts: 8640000000000001 }])).toEqual(['ts'])
    expect(paths([{ ...orderBase, ts: '2100-01-01T00:00:00.001Z' }])).toEqual(['ts'])
    const { details } = validateEvents(tenant, [{ ...orderBase, ts: receivedAt, pad: 'x'.repeat(MAX_EVENT_BYTES) }], {
      receivedAt,
    })
    expect(details).toEqual([
      {
        index: 0,
        path: '',
        message:
          `the event is ${MAX_EVENT_BYTES + JSON.stringify({ ...orderBase, ts: receivedAt, pad: '' }).length} bytes ` +
          `of JSON; at most ${MAX_EVENT_BYTES}`,
      },
    ])
  })
})
