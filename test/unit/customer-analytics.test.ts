// The adapter between the processor's customer state and the RFM / intent computations: orders
// and events before as_of, read from the order index and the store, and the cache's two regimes.
import { describe, expect, it, vi } from 'vitest'
import { event } from '../../common/events.ts'
import { createCustomerAnalytics, factsOf } from '../../query/customer-analytics.ts'
import { customerRfm, indexOf } from '../../query/rfm.ts'
import { createProcessor } from '../../stream/processor.ts'
import type { TenantRef } from '../../tenants/index.ts'

const DAY = 86_400_000
const HOUR = 3_600_000
const T0 = Date.parse('2026-01-01T00:00:00Z')
const tenant: TenantRef = { id: 'acme', timezone: 'UTC', currency: 'USD' }

function setup() {
  const processor = createProcessor({ dedupHorizonMs: 7 * DAY, latenessMs: 300_000 })
  let n = 0
  const send = (raw: Record<string, unknown>) =>
    processor.apply(tenant, event.parse({ id: `e${++n}`, source: 'shopify', ...raw }), { receivedAt: T0 + 1000 * DAY })
  const order = (
    id: string,
    customer: string | undefined,
    ts: number,
    total: string,
    fields: Record<string, unknown> = {},
  ) =>
    send({
      type: 'order.created',
      order_id: id,
      ...(customer ? { customer_id: customer } : {}),
      ts,
      total,
      subtotal: total,
      items: [{ sku: 's', quantity: 1, price: total, cost: '1.00' }],
      ...fields,
    })
  return { processor, send, order }
}

describe('facts from the order index', () => {
  it('counts each customer’s orders before as_of and in [from, to), as last edited, without guests', () => {
    const { processor, send, order } = setup()
    order('o1', 'ann', T0, '10.00')
    order('o2', 'ann', T0 + 10 * DAY, '30.00')
    order('o3', 'bob', T0 + 5 * DAY, '5.00')
    order('o4', undefined, T0 + DAY, '99.00')
    // An edit moves o3 to ann; a refund of 2.00 of merchandise lowers o1's gross profit.
    send({
      type: 'order.updated',
      order_id: 'o3',
      customer_id: 'ann',
      ts: T0 + 6 * DAY,
      total: '6.00',
      subtotal: '6.00',
      items: [{ sku: 's', quantity: 2, price: '3.00' }],
    })
    send({
      type: 'refund.created',
      order_id: 'o1',
      refund_id: 'r1',
      ts: T0 + 2 * DAY,
      amount: '2.50',
      subtotal: '2.00',
    })
    const plain = (f: ReturnType<typeof factsOf>) =>
      f.ids.map((id, i) => ({
        id,
        frequency: f.frequency[i],
        monetary: f.monetary[i],
        first: f.firstOrderAt[i],
        last: f.lastOrderAt[i],
        grossProfit: f.grossProfit[i],
        units: f.units[i],
      }))
    const facts = (asOf: number, from?: number, to?: number) =>
      factsOf(processor.orders(tenant.id), processor.customers(tenant.id), asOf, from, to)
    // o3's COGS: 40 % of 6.00 (no cost on the edited item) = 2.40; o1's: 1.00; o2's: 1.00.
    expect(plain(facts(T0 + 20 * DAY))).toEqual([
      {
        id: 'ann',
        frequency: 3,
        monetary: 4600,
        first: T0,
        last: T0 + 10 * DAY,
        grossProfit: 1000 - 200 - 100 + (600 - 240) + (3000 - 100),
        units: 4,
      },
    ])
    // The refund (at day 2) had not happened at day 1.5.
    expect(plain(facts(T0 + 1.5 * DAY))).toEqual([
      { id: 'ann', frequency: 1, monetary: 1000, first: T0, last: T0, grossProfit: 900, units: 1 },
    ])
    expect(plain(facts(T0 + 20 * DAY, T0 + DAY, T0 + 10 * DAY)).map((c) => [c.id, c.frequency])).toEqual([['ann', 1]])
  })
})

describe('intent through the adapter', () => {
  function scenario() {
    const s = setup()
    s.order('o1', 'ann', T0, '10.00')
    s.order('o2', 'ann', T0 + 10 * DAY, '30.00')
    s.order('o3', 'bob', T0 + 10 * DAY, '50.00')
    for (const ts of [T0 + 4 * DAY, T0 + 4 * DAY + HOUR])
      s.send({ type: 'checkout.started', customer_id: 'cat', ts, category: 'beauty' })
    s.send({ type: 'checkout.started', customer_id: 'ann', ts: T0 + 5 * DAY, category: 'shoes' })
    for (let i = 0; i < 3; i++)
      s.send({ type: 'checkout.started', customer_id: 'ann', ts: T0 + 5 * DAY, category: 'shoes' })
    s.send({ type: 'product.viewed', customer_id: 'late', ts: T0 + 9 * DAY })
    return s
  }
  const fallback = async () => 2_500

  it('between a customer’s orders, counts only the orders and events before as_of', async () => {
    const { processor } = scenario()
    const analytics = createCustomerAnalytics({ source: processor, now: () => T0 + 30 * DAY })
    const at = T0 + 5 * DAY
    const { summary, approximate } = await analytics.intent(tenant.id, at, fallback)
    // ann: 4 checkouts at as_of = 20 (high), 1 order of 10.00 before as_of; cat: 2 checkouts a day ago ≈ 5 (medium);
    // bob: his only order is after as_of, late: a view after as_of (neither is tracked yet at as_of).
    expect(summary.usersTracked).toBe(2)
    expect(summary.byLevel).toEqual({ high: 1, medium: 1, low: 0 })
    expect(summary.high).toEqual([
      { customerId: 'ann', score: 20, category: 'shoes', events: 4, location: '', orders: 1, estimatedSpend: 1000 },
    ])
    expect(approximate).toBe(0)
  })

  it('after every order, counts every order and event; a card reads exactly at its as_of', async () => {
    const { processor } = scenario()
    const analytics = createCustomerAnalytics({ source: processor, now: () => T0 + 30 * DAY })
    const { summary } = await analytics.intent(tenant.id, T0 + 11 * DAY, fallback)
    expect(summary.usersTracked).toBe(4)
    expect(summary.byLevel.high).toBe(0)
    const card = analytics.customerIntent(tenant.id, 'ann', T0 + 5 * DAY)
    expect(card).toMatchObject({ score: 20, category: 'shoes', events: 4, exact: true })
    expect(analytics.customerIntent(tenant.id, 'late', T0 + 5 * DAY)).toMatchObject({
      score: 0,
      events: 0,
      exact: true,
    })
    expect(analytics.customerIntent(tenant.id, 'late', T0 + 9 * DAY)).toMatchObject({
      score: 1,
      events: 1,
      exact: true,
    })
  })
})

describe('the cache', () => {
  it('answers an explicit as_of exactly: reused while nothing changed, recomputed after a change', async () => {
    const { processor, order } = setup()
    order('o1', 'ann', T0, '10.00')
    const analytics = createCustomerAnalytics({ source: processor, now: () => T0 + 30 * DAY })
    const first = await analytics.ranking(tenant.id, { asOf: T0 + DAY })
    expect((await analytics.ranking(tenant.id, { asOf: T0 + DAY })).ranking).toBe(first.ranking)
    order('o2', 'bob', T0, '20.00')
    analytics.changed(tenant.id)
    const second = await analytics.ranking(tenant.id, { asOf: T0 + DAY })
    expect(second.ranking.facts.ids).toEqual(['ann', 'bob'])
    expect(customerRfm(second.ranking, indexOf(second.ranking, 'bob')).m).toBe(5)
  })

  it('answers as_of = now at a bounded cadence, and says when a deferred change can be picked up', async () => {
    vi.useFakeTimers()
    try {
      const { processor, order } = setup()
      order('o1', 'ann', T0, '10.00')
      let clock = T0 + 30 * DAY
      const recomputable = vi.fn()
      const analytics = createCustomerAnalytics({ source: processor, now: () => clock, recomputable })
      const first = await analytics.ranking(tenant.id)
      expect(first.asOf).toBe(clock)
      // Unchanged: reused for up to a second, then recomputed for the new now.
      clock += 500
      expect((await analytics.ranking(tenant.id)).asOf).toBe(first.asOf)
      clock += 600
      const second = await analytics.ranking(tenant.id)
      expect(second.asOf).toBe(clock)
      // Changed: a tiny tenant computes in well under a millisecond, so 20 × that has passed already.
      order('o2', 'bob', T0, '20.00')
      analytics.changed(tenant.id)
      clock += 1
      const third = await analytics.ranking(tenant.id)
      expect(third.ranking.facts.ids).toEqual(['ann', 'bob'])
      expect(recomputable).not.toHaveBeenCalled()
    } finally {
      vi.useRealTimers()
    }
  })

  it('a slow computation is not repeated within 20 × its duration; the live topic is told when it may be', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'performance'] })
    try {
      const { processor, order } = setup()
      order('o1', 'ann', T0, '10.00')
      let clock = T0 + 30 * DAY
      const recomputable = vi.fn()
      // Reading the order index "takes" 50 ms: the cadence after a change becomes 1 s.
      const slow = (id: string) => {
        const index = processor.orders(id)
        return {
          ...index,
          windowTs: (slot: number) => (slot === 0 && vi.advanceTimersByTime(50), index.windowTs(slot)),
        } as ReturnType<typeof processor.orders>
      }
      const source = { ...processor, orders: slow }
      const analytics = createCustomerAnalytics({ source, now: () => clock, recomputable })
      const first = await analytics.ranking(tenant.id)
      order('o2', 'bob', T0, '20.00')
      analytics.changed(tenant.id)
      clock += 400
      expect((await analytics.ranking(tenant.id)).ranking).toBe(first.ranking)
      expect(recomputable).not.toHaveBeenCalled()
      vi.advanceTimersByTime(600)
      expect(recomputable).toHaveBeenCalledWith(tenant.id)
      clock += 600
      expect((await analytics.ranking(tenant.id)).ranking.facts.ids).toEqual(['ann', 'bob'])
    } finally {
      vi.useRealTimers()
    }
  })
})
