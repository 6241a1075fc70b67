// The compact stores under the processor: interned ids, the order index's columns and records,
// per-customer chains, attachments, and the funnel's compact day sets.
import { describe, expect, it } from 'vitest'
import { createFunnel } from '../../stream/funnel.ts'
import { IdTable } from '../../stream/id-table.ts'
import { type StoredOrder, createOrderIndex } from '../../stream/order-index.ts'

const T = Date.parse('2026-11-22T10:00:00Z')

function order(fields: Partial<StoredOrder> = {}): StoredOrder {
  return {
    windowTs: T,
    figuresTs: T,
    created: true,
    highIntent: false,
    customer: 0,
    revisions: 1,
    place: { source: 'shopify', channel: 'facebook', campaign_id: 'c1', city: 'Pune', store: '' },
    figures: { gmv: 11800, subtotal: 10000, discounts: 0, tax: 1800, shipping: 0, shippingCost: 0, fees: 350 },
    lines: [{ sku: 'kajal', brand: 'lakme', category: 'beauty', revenue: 10000, units: 2, cogs: 4000 }],
    ...fields,
  }
}

describe('IdTable', () => {
  it('interns 100,000 ids to dense indices and finds each again, through every rehash', () => {
    const table = new IdTable()
    const ids = Array.from({ length: 100_000 }, (_, i) =>
      i % 3 === 0 ? `ord-${i}` : i % 3 === 1 ? `${5_000_000_000_000 + i * 7}` : `客户-${i}-ü`,
    )
    ids.forEach((id, i) => expect(table.intern(id)).toBe(i))
    expect(table.size).toBe(100_000)
    expect(ids.every((id, i) => table.find(id) === i && table.intern(id) === i && table.idAt(i) === id)).toBe(true)
    expect(table.find('ord-1')).toBe(-1)
    expect(table.find('')).toBe(-1)
    expect(table.intern('')).toBe(100_000)
    expect(table.idAt(100_000)).toBe('')
  })
})

describe('order index', () => {
  it('gives back every field of what it stored, and replaces it on an edit', () => {
    const index = createOrderIndex()
    const a = index.add('o-1', order())
    const b = index.add('o-2', order({ customer: -1, created: false, highIntent: true, lines: [] }))
    expect(index.size).toBe(2)
    expect(index.find('o-2')).toBe(b)
    expect(index.find('o-3')).toBe(-1)
    expect(index.get(a)).toEqual(order())
    expect(index.get(b)).toEqual(order({ customer: -1, created: false, highIntent: true, lines: [] }))
    // An edit with more lines (appended) then fewer (in place), newer figures, another place.
    const more = order({
      figuresTs: T + 5,
      revisions: 2,
      lines: [...order().lines, { sku: 'x', brand: '', category: '', revenue: 1, units: 1, cogs: 0 }],
    })
    index.set(a, more)
    expect(index.get(a)).toEqual(more)
    const fewer = order({
      figuresTs: T + 9,
      place: { source: 'amazon', channel: 'organic', campaign_id: '', city: '', store: '' },
      figures: { ...order().figures, gmv: 1 },
    })
    index.set(a, fewer)
    expect(index.get(a)).toEqual(fewer)
    expect(index.get(b)).toEqual(order({ customer: -1, created: false, highIntent: true, lines: [] }))
  })

  it('keeps money of any size and sign exactly (beyond 32 bits), and many lines', () => {
    const index = createOrderIndex()
    const huge = order({
      figures: {
        gmv: 2 ** 53 - 1,
        subtotal: 3_000_000_000_00,
        discounts: -12_345_678_901,
        tax: 0,
        shipping: 2 ** 31,
        shippingCost: -(2 ** 31) - 1,
        fees: 2 ** 40 + 1,
      },
      lines: Array.from({ length: 300 }, (_, k) => ({
        sku: `s${k % 11}`,
        brand: `b${k % 7}`,
        category: `c${k % 5}`,
        revenue: k * 1_000_000_007,
        units: k + 1,
        cogs: -k - 1,
      })),
    })
    const slot = index.add('big', huge)
    expect(index.get(slot)).toEqual(huge)
    const [gmv, units, gross] = index.rfmFigures(slot)
    expect([gmv, units, gross]).toEqual([2 ** 53 - 1, (300 * 301) / 2, 3_000_000_000_00 + (300 * 301) / 2])
  })

  it('chains each customer’s orders, moving an order when an edit changes its customer', () => {
    const index = createOrderIndex()
    index.add('o-1', order({ customer: 0 }))
    index.add('o-2', order({ customer: 1 }))
    index.add('o-3', order({ customer: 0 }))
    index.add('o-4', order({ customer: -1 }))
    const slots = (c: number) => [...index.ordersOf(c)].sort()
    expect([slots(0), slots(1), slots(2)]).toEqual([[0, 2], [1], []])
    index.set(2, order({ customer: 1 }))
    index.set(3, order({ customer: 0 }))
    index.set(0, order({ customer: -1 }))
    expect([slots(0), slots(1)]).toEqual([[3], [1, 2]])
    expect(index.customer(0)).toBe(-1)
  })

  it('keeps refunds and cancellations in the order they were attached; refunds before a time', () => {
    const index = createOrderIndex()
    const slot = index.add('o-1', order())
    index.attach(slot, [
      {
        kind: 'refund',
        source: 'shopify',
        minute: T + 60_000,
        amount: 500,
        subtotal: 400,
        fees: 0,
        feeKind: '',
        store: '',
      },
    ])
    index.attach(slot, [
      {
        kind: 'cancel',
        source: 'amazon',
        minute: T + 120_000,
        amount: 0,
        subtotal: 0,
        fees: 0,
        feeKind: '',
        store: '',
      },
      {
        kind: 'refund',
        source: 'shopify',
        minute: T + 180_000,
        amount: 2 ** 40,
        subtotal: 2 ** 40,
        fees: 0,
        feeKind: '',
        store: 'north',
        items: [{ sku: 'kajal', quantity: 1, subtotal: 2 ** 40 }],
      },
    ])
    expect(index.attachments(slot)).toEqual([
      {
        kind: 'refund',
        source: 'shopify',
        minute: T + 60_000,
        amount: 500,
        subtotal: 400,
        fees: 0,
        feeKind: '',
        store: '',
      },
      {
        kind: 'cancel',
        source: 'amazon',
        minute: T + 120_000,
        amount: 0,
        subtotal: 0,
        fees: 0,
        feeKind: '',
        store: '',
      },
      {
        kind: 'refund',
        source: 'shopify',
        minute: T + 180_000,
        amount: 2 ** 40,
        subtotal: 2 ** 40,
        fees: 0,
        feeKind: '',
        store: 'north',
        items: [{ sku: 'kajal', quantity: 1, subtotal: 2 ** 40 }],
      },
    ])
    expect([
      index.refundedBefore(slot, T + 60_000),
      index.refundedBefore(slot, T + 60_001),
      index.refundedBefore(slot, T + 999_999),
    ]).toEqual([0, 400, 400 + 2 ** 40])
    expect(index.attachments(index.add('o-2', order()))).toEqual([])
  })
})

describe('funnel day sets', () => {
  it('counts distinct customers through merges, and takes one back', () => {
    const funnel = createFunnel()
    // 5,000 customers, each added three times, in an order that is not sorted.
    for (let round = 0; round < 3; round++)
      for (let k = 0; k < 5_000; k++) funnel.add('t', '2026-11-22', 'product_viewed', (k * 7919) % 5_000)
    funnel.add('t', '2026-11-22', 'ordered', 42)
    expect(funnel.counts('t', '2026-11-22', '2026-11-22')).toEqual([{ day: '2026-11-22', counts: [5_000, 0, 0, 1] }])
    funnel.remove('t', '2026-11-22', 'product_viewed', 4_999)
    funnel.remove('t', '2026-11-22', 'product_viewed', 4_999)
    funnel.remove('t', '2026-11-22', 'ordered', 42)
    expect(funnel.counts('t', '2026-11-01', '2026-11-30')).toEqual([{ day: '2026-11-22', counts: [4_999, 0, 0, 0] }])
    funnel.add('t', '2026-11-22', 'product_viewed', 4_999)
    expect(funnel.counts('t', '2026-11-22', '2026-11-22')[0].counts[0]).toBe(5_000)
    expect(funnel.counts('other', '2026-11-01', '2026-11-30')).toEqual([])
  })
})
