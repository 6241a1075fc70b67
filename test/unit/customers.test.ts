// Per-customer state (RFM inputs and intent, docs/metrics.md): orders, monetary, first and last order,
// city, and the decayed intent score with its category, through the processor and directly.
import { describe, it, expect } from 'vitest'
import { settingsSchema } from '../../common/settings.ts'
import { createCustomerStore } from '../../stream/customers.ts'
import { createOrderIndex } from '../../stream/order-index.ts'
import { HOUR } from '../../stream/windows.ts'
import { DAY, T, created, jpy, setup, shopper, updated } from './processor-fixtures.ts'

const HALF_LIFE = 24 * HOUR

describe('customers: orders', () => {
  it('counts orders, monetary (Σ total, minor units), first and last order and city', () => {
    const { processor, send } = setup()
    send(created({ order_id: 'o-1', ts: T, location: 'Mumbai' }))
    send(created({ order_id: 'o-2', ts: T + DAY, total: '590.00', location: { city: 'Pune' } }))
    expect(processor.customers('t-inr').get('c-1')).toMatchObject({
      id: 'c-1',
      orders: 2,
      monetary: 177000,
      firstOrderAt: T,
      lastOrderAt: T + DAY,
      city: 'Pune',
    })
    expect(processor.customers('t-inr').size()).toBe(1)
  })

  it('takes first and last order by event time, whatever the arrival order', () => {
    const { processor, send } = setup()
    send(created({ order_id: 'o-2', ts: T + 3 * DAY }))
    send(created({ order_id: 'o-1', ts: T }))
    send(created({ order_id: 'o-3', ts: T + DAY }))
    expect(processor.customers('t-inr').get('c-1')).toMatchObject({
      orders: 3,
      monetary: 354000,
      firstOrderAt: T,
      lastOrderAt: T + 3 * DAY,
    })
  })

  it('keeps the city when an order has none', () => {
    const { processor, send } = setup()
    send(created({ order_id: 'o-1', location: 'Mumbai' }))
    send(created({ order_id: 'o-2', ts: T + HOUR }))
    expect(processor.customers('t-inr').get('c-1')?.city).toBe('Mumbai')
  })

  it('an edit adjusts monetary and counts the order once', () => {
    const { processor, send } = setup()
    send(created())
    send(updated({ ts: T + HOUR }))
    send(updated({ ts: T + 2 * HOUR, total: '600.00' }))
    send(updated({ ts: T + HOUR, total: '1.00' })) // older than the standing edit: ignored
    expect(processor.customers('t-inr').get('c-1')).toMatchObject({
      orders: 1,
      monetary: 60000,
      firstOrderAt: T,
      lastOrderAt: T,
    })
  })

  it('an edit that changes the customer moves the order between them', () => {
    const { processor, send } = setup()
    send(created())
    send(created({ order_id: 'o-2', total: '10.00' }))
    send(updated({ ts: T + HOUR, customer_id: 'c-2' }))
    const customers = processor.customers('t-inr')
    expect(customers.get('c-1')).toMatchObject({ orders: 1, monetary: 1000 })
    expect(customers.get('c-2')).toMatchObject({ orders: 1, monetary: 59000, firstOrderAt: T, lastOrderAt: T })
  })

  it('leaves guest orders out (no customer_id), and counts a guest order once an edit names the customer', () => {
    const { processor, send } = setup()
    send(created({ customer_id: undefined }))
    send(created({ order_id: 'o-2', customer_id: undefined, ts: T + HOUR }))
    expect(processor.customers('t-inr').size()).toBe(0)
    expect(processor.customers('t-inr').get('')).toBeUndefined()
    send(updated({ order_id: 'o-2', ts: T + 2 * HOUR, customer_id: 'c-9' }))
    expect(processor.customers('t-inr').get('c-9')).toMatchObject({
      orders: 1,
      monetary: 59000,
      firstOrderAt: T + HOUR,
      lastOrderAt: T + HOUR,
    })
    expect(processor.customers('t-inr').size()).toBe(1)
  })

  it('an edit that turns an order into a guest order takes it back from its customer', () => {
    const { processor, send } = setup()
    send(created())
    send(updated({ ts: T + HOUR, customer_id: undefined }))
    expect(processor.customers('t-inr').get('c-1')).toMatchObject({ orders: 0, monetary: 0 })
  })

  it('does not count a duplicate event twice', () => {
    const { processor, send } = setup()
    const e = created({ id: 'same-order-event' })
    send(e)
    send(e)
    expect(processor.customers('t-inr').get('c-1')).toMatchObject({ orders: 1, monetary: 118000 })
  })

  it('keeps monetary in the tenant currency (whole yen; converted through Arrival.fx)', () => {
    const { processor, send } = setup(jpy)
    send(created({ total: '1180.5' }))
    send(created({ order_id: 'o-2', currency: 'USD', total: '10.00' }), { fx: '150.555' })
    expect(processor.customers(jpy.id).get('c-1')?.monetary).toBe(1181 + 1506)
  })

  it('keeps tenants apart', () => {
    const { processor, send } = setup()
    send(created())
    expect(processor.customers(jpy.id).get('c-1')).toBeUndefined()
  })

  // BUG: an order.updated seen before its order.created counts the order at the edit's time; when
  // the create moves the order to its window, the customer's take-back (sign −1) does not undo
  // lastOrderAt, so the last order stays at the edit's time. docs/metrics.md: recency is from the last
  // order (created) — expected lastOrderAt T, actual T + 2 h (written to pulse.customers).
  it('the last order is the order’s creation time when an edit arrived first', () => {
    const { processor, send } = setup()
    send(updated({ ts: T + 2 * HOUR }))
    send(created())
    expect(processor.customers('t-inr').get('c-1')).toMatchObject({
      orders: 1,
      monetary: 59000,
      firstOrderAt: T,
      lastOrderAt: T,
    })
  })
})

describe('customers: intent (Σ weight · 2^(−age/24 h), 6 decimals)', () => {
  const intent = (processor: ReturnType<typeof setup>['processor'], at: number, id = 'c-1', halfLife = HALF_LIFE) => {
    const store = processor.customers('t-inr')
    const { score, category } = store.intent(store.find(id), at, halfLife)
    return { score, category }
  }

  it('a cart.added 24 h before the query time scores 1.5', () => {
    const { processor, send } = setup()
    send(shopper('cart.added', { ts: T - DAY }))
    expect(intent(processor, T)).toEqual({ score: 1.5, category: '' })
  })

  it('weights: viewed 1, search 1, cart 3, checkout 5, at age 0', () => {
    const { processor, send } = setup()
    send(shopper('product.viewed', { customer_id: 'v' }))
    send(shopper('search', { customer_id: 's' }))
    send(shopper('cart.added', { customer_id: 'c' }))
    send(shopper('checkout.started', { customer_id: 'k' }))
    expect(['v', 's', 'c', 'k'].map((id) => intent(processor, T, id).score)).toEqual([1, 1, 3, 5])
  })

  it('halves every 24 h: a checkout 48 h before scores 1.25', () => {
    const { processor, send } = setup()
    send(shopper('checkout.started', { ts: T - 2 * DAY }))
    expect(intent(processor, T).score).toBe(1.25)
    expect(intent(processor, T + DAY).score).toBe(0.625)
  })

  it('rounds to 6 decimals: a view 1 h before scores 2^(−1/24) = 0.971532 (0.97153194…)', () => {
    const { processor, send } = setup()
    send(shopper('product.viewed', { ts: T - HOUR }))
    expect(intent(processor, T).score).toBe(0.971532)
  })

  it('sums decayed weights: checkout 10 h + search 3 h + cart 0 h before = 7.662772 (7.66277173…)', () => {
    const { processor, send } = setup()
    send(shopper('checkout.started', { ts: T - 10 * HOUR }))
    send(shopper('search', { ts: T - 3 * HOUR }))
    send(shopper('cart.added', { ts: T }))
    expect(intent(processor, T).score).toBe(7.662772)
  })

  it('gives the same score whatever the arrival order of the events', () => {
    const a = setup()
    const b = setup()
    const events = [
      shopper('checkout.started', { ts: T - 10 * HOUR, category: 'shoes' }),
      shopper('search', { ts: T - 3 * HOUR, category: 'bags' }),
      shopper('cart.added', { ts: T - 30 * HOUR, category: 'shoes' }),
    ]
    for (const e of events) a.send(e)
    for (const e of [...events].reverse()) b.send(e)
    expect(intent(a.processor, T)).toEqual(intent(b.processor, T))
    // 5·2^(−10/24) + 1·2^(−3/24) + 3·2^(−30/24) = 5.92411635…
    expect(intent(a.processor, T).score).toBe(5.924116)
  })

  it('the category is the one with the largest decayed weight, not the largest raw weight', () => {
    const { processor, send } = setup()
    send(shopper('cart.added', { ts: T - 2 * DAY, category: 'shoes' })) // 3 · 1/4 = 0.75 at T
    send(shopper('product.viewed', { ts: T, category: 'bags' })) // 1
    expect(intent(processor, T)).toEqual({ score: 1.75, category: 'bags' })
  })

  it('breaks a tie of decayed weights by category name', () => {
    const { processor, send } = setup()
    send(shopper('search', { ts: T - DAY, category: 'shoes' }))
    send(shopper('search', { ts: T - DAY, category: 'shoes' })) // 2 · 1/2 = 1 at T
    send(shopper('product.viewed', { ts: T, category: 'apparel' })) // 1
    expect(intent(processor, T)).toEqual({ score: 2, category: 'apparel' })
  })

  it('events without a category count in the score but name no category', () => {
    const { processor, send } = setup()
    send(shopper('checkout.started', { ts: T }))
    send(shopper('product.viewed', { ts: T, category: 'bags' }))
    expect(intent(processor, T)).toEqual({ score: 6, category: 'bags' })
  })

  it('a customer with orders only scores 0', () => {
    const { processor, send } = setup()
    send(created())
    expect(intent(processor, T)).toEqual({ score: 0, category: '' })
  })

  it('uses the tenant half-life and weights from settings', () => {
    const { processor, send, tenant } = setup()
    processor.applySettings(
      tenant,
      settingsSchema.parse({ intent: { half_life_hours: 12, weights: { 'cart.added': 4 } } }),
    )
    send(shopper('cart.added', { ts: T - DAY }))
    expect(intent(processor, T, 'c-1', 12 * HOUR).score).toBe(1) // 4 · 2^(−24/12)
  })

  it('counts the events a customer made', () => {
    const { processor, send } = setup()
    send(shopper('product.viewed'))
    send(shopper('search'))
    send(shopper('product.viewed', { customer_id: 'c-2' }))
    expect(processor.customers('t-inr').get('c-1')?.events).toBe(2)
    expect(processor.customers('t-inr').size()).toBe(2)
  })

  // BUG: intentOf decays from the newest event seen; for a query time before it the factor is
  // 2^(+age/24 h), so later events count (grown) instead of being ignored (docs/metrics.md, "ignoring events
  // later than the query time"). cart.added at T, checkout.started at T + 2 h, query at T + 1 h:
  // expected 3 · 2^(−1/24) = 2.914596, actual 8.061107.
  it('ignores events later than the query time', () => {
    const { processor, send } = setup()
    send(shopper('cart.added', { ts: T }))
    send(shopper('checkout.started', { ts: T + 2 * HOUR, category: 'shoes' }))
    expect(intent(processor, T + HOUR)).toEqual({ score: 2.914596, category: '' })
  })

  // Same bug, simplest form: a query before every event should score 0 (actual 3 · 2^(1/24) = 3.087907).
  it('scores 0 before the first event', () => {
    const { processor, send } = setup()
    send(shopper('cart.added', { ts: T }))
    expect(intent(processor, T - HOUR).score).toBe(0)
  })
})

describe('customers: the store directly', () => {
  const store = () => createCustomerStore(createOrderIndex())

  it('an event older than the newest adds its weight decayed to the reading time', () => {
    const s = store()
    const c = s.intern('c')
    s.shopperEvent(c, T, 1, 'x', HALF_LIFE)
    s.shopperEvent(c, T - DAY, 4, 'y', HALF_LIFE)
    expect(s.get('c')).toMatchObject({ intentAt: T, score: 3, category: 'y' }) // 1 + 4 · 1/2
    expect(s.intent(c, T, HALF_LIFE)).toEqual({ score: 3, category: 'y', events: 2, exact: true })
    // An hour earlier, the event at T is not counted: 4 · 2^(−23/24) = 2.0586037…
    expect(s.intent(c, T - HOUR, HALF_LIFE)).toEqual({ score: 2.058604, category: 'y', events: 1, exact: true })
  })

  it('keeps the 8 newest events one by one: exact at any time after the newest folded one', () => {
    const s = store()
    const c = s.intern('c')
    // Ten checkouts an hour apart (T … T + 9 h): the two oldest are folded at T + 1 h.
    for (let k = 0; k < 10; k++) s.shopperEvent(c, T + k * HOUR, 5, undefined, HALF_LIFE)
    const events = (at: number) => [...Array(10).keys()].filter((k) => T + k * HOUR <= at).length
    const plain = (at: number) =>
      Math.round(
        [...Array(10).keys()]
          .filter((k) => T + k * HOUR <= at)
          .reduce((sum, k) => sum + 5 * 2 ** (-(at - T - k * HOUR) / HALF_LIFE), 0) * 1e6,
      ) / 1e6
    for (const at of [T + HOUR, T + 4.5 * HOUR, T + 9 * HOUR, T + 3 * DAY])
      expect(s.intent(c, at, HALF_LIFE)).toEqual({ score: plain(at), category: '', events: events(at), exact: true })
    // Before the newest folded event the folded part cannot be split: flagged.
    expect(s.intent(c, T + HOUR / 2, HALF_LIFE).exact).toBe(false)
  })

  it('an interned customer is empty; get does not create one', () => {
    const s = store()
    expect(s.get('c')).toBeUndefined()
    s.intern('c')
    expect(s.get('c')).toMatchObject({
      orders: 0,
      monetary: 0,
      events: 0,
      firstOrderAt: Infinity,
      lastOrderAt: -Infinity,
    })
    expect([s.size(), s.idAt(0)]).toEqual([1, 'c'])
  })
})
