import { describe, expect, it } from 'vitest'
import {
  type BrandLine,
  type BrandOrder,
  type BrandRefund,
  ORDER_AMOUNTS,
  brandWeights,
  matchItems,
  orderWeights,
  splitAmount,
  splitOrder,
  splitRefund,
} from '../../stream/brand-split.ts'

const weights = (entries: Record<string, bigint>) => new Map(Object.entries(entries))
const plain = <V>(map: ReadonlyMap<string, V>) => Object.fromEntries(map)
const line = (sku: string, brand: string | undefined, price: number, quantity: number): BrandLine => ({
  sku,
  brand,
  price,
  quantity,
})

describe('brandWeights', () => {
  it('sums price × quantity per brand, brandless lines under "", brands in code-unit order', () => {
    const w = brandWeights([
      line('a', 'b', 250, 2),
      line('c', undefined, 100, 3),
      line('d', 'B', 1, 1),
      line('e', 'b', 5, 0),
    ])
    expect([...w]).toEqual([
      ['', 300n],
      ['B', 1n],
      ['b', 500n],
    ])
  })

  it('is exact past 2^53: 10^13 minor units × 10^6', () => {
    const w = brandWeights([line('a', 'x', 10 ** 13, 10 ** 6), line('b', 'x', 10 ** 13 - 1, 10 ** 6)])
    expect(w.get('x')).toBe(19_999_999_999_999_000_000n)
  })

  it('refuses what is not money or a count', () => {
    expect(() => brandWeights([line('a', 'x', 1.5, 1)])).toThrow(RangeError)
    expect(() => brandWeights([line('a', 'x', -1, 1)])).toThrow(RangeError)
    expect(() => brandWeights([line('a', 'x', 1, -1)])).toThrow(RangeError)
    expect(() => brandWeights([line('a', 'x', 2 ** 53, 1)])).toThrow(RangeError)
  })
})

describe('splitAmount', () => {
  it('gives the left-over unit to the largest remainder', () => {
    // 10 × 1/7 = 1 r 3/7, 10 × 2/7 = 2 r 6/7, 10 × 4/7 = 5 r 5/7: two units left, to B then C.
    expect(plain(splitAmount(10, weights({ A: 1n, B: 2n, C: 4n })))).toEqual({ A: 1, B: 3, C: 6 })
  })

  it('breaks ties by code unit, not by locale or by the order weights came in', () => {
    expect(plain(splitAmount(100, weights({ C: 1n, B: 1n, A: 1n })))).toEqual({ A: 34, B: 33, C: 33 })
    // 'Z' (0x5A) is before 'a' (0x61) in code units; localeCompare puts 'a' first.
    expect(plain(splitAmount(1, weights({ a: 1n, Z: 1n })))).toEqual({ Z: 1, a: 0 })
    // A surrogate pair (0xD83D …) is before U+FF5E in code units, after it in code points.
    expect(plain(splitAmount(1, weights({ '\uff5e': 1n, '😀': 1n })))).toEqual({ '😀': 1, '\uff5e': 0 })
    expect([...splitAmount(3, weights({ b: 1n, '': 1n, a: 1n })).keys()]).toEqual(['', 'a', 'b'])
  })

  it('splits −x into exactly the negatives of the shares of x', () => {
    expect(plain(splitAmount(-100, weights({ A: 1n, B: 1n, C: 1n })))).toEqual({ A: -34, B: -33, C: -33 })
    expect(plain(splitAmount(-10, weights({ A: 1n, B: 2n, C: 4n })))).toEqual({ A: -1, B: -3, C: -6 })
  })

  it('splits equally when every weight is zero', () => {
    expect(plain(splitAmount(5, weights({ b: 0n, a: 0n })))).toEqual({ a: 3, b: 2 })
    expect(plain(splitAmount(-5, weights({ b: 0n, a: 0n })))).toEqual({ a: -3, b: -2 })
  })

  it('gives a zero-weight brand nothing when others weigh something', () => {
    // 7 × 3/6 = 3 r 1/2 for B and C: the one unit left goes to B.
    expect(plain(splitAmount(7, weights({ A: 0n, B: 3n, C: 3n })))).toEqual({ A: 0, B: 4, C: 3 })
  })

  it('splits zero into zeros, one brand takes everything', () => {
    expect(plain(splitAmount(0, weights({ A: 2n, B: 1n })))).toEqual({ A: 0, B: 0 })
    expect(plain(splitAmount(-12345, weights({ solo: 7n })))).toEqual({ solo: -12345 })
    expect(plain(splitAmount(0, new Map()))).toEqual({})
  })

  it('splits across many brands', () => {
    const many = new Map(Array.from({ length: 26 }, (_, i) => [String.fromCharCode(97 + i), 1n]))
    const shares = splitAmount(1000, many)
    // 1000 = 26 × 38 + 12: a to l take 39, m to z 38.
    expect([...shares.values()]).toEqual([...Array(12).fill(39), ...Array(14).fill(38)])
  })

  it('is exact when weights are past 2^53', () => {
    // A: 10^19, B: 5 × 10^18. (10^13 + 1) × 2/3 = 6666666666667 r 1/3, × 1/3 = 3333333333333 r 2/3.
    const w = brandWeights([line('a', 'A', 10 ** 13, 10 ** 6), line('b', 'B', 5 * 10 ** 12, 10 ** 6)])
    expect(plain(splitAmount(10 ** 13 + 1, w))).toEqual({ A: 6666666666667, B: 3333333333334 })
    // b weighs 10^19 + 1, a 10^19: as doubles they tie (and a would win); exactly, b's remainder is larger.
    const close = brandWeights([
      line('x', 'b', 10 ** 13, 10 ** 6),
      line('y', 'b', 1, 1),
      line('z', 'a', 10 ** 13, 10 ** 6),
    ])
    expect(plain(splitAmount(1, close))).toEqual({ a: 0, b: 1 })
  })

  it('splits bigint amounts past 2^53 as bigints', () => {
    expect(plain(splitAmount(2n ** 60n + 1n, weights({ a: 1n, b: 1n })))).toEqual({ a: 2n ** 59n + 1n, b: 2n ** 59n })
    expect(plain(splitAmount(-(2n ** 60n) - 1n, weights({ a: 1n, b: 1n })))).toEqual({
      a: -(2n ** 59n) - 1n,
      b: -(2n ** 59n),
    })
  })

  it('refuses inexact amounts, negative weights and money with nowhere to go', () => {
    expect(() => splitAmount(2 ** 53, weights({ a: 1n }))).toThrow(RangeError)
    expect(() => splitAmount(0.5, weights({ a: 1n }))).toThrow(RangeError)
    expect(() => splitAmount(1, weights({ a: -1n, b: 2n }))).toThrow(RangeError)
    expect(() => splitAmount(1, new Map())).toThrow(RangeError)
  })
})

describe('splitOrder', () => {
  // USD: brand A two at $10.00, brand B one at $5.00, an unbranded one at $5.00 (docs/brands.md).
  const worked: BrandOrder = {
    lines: [line('a1', 'A', 1000, 2), line('b1', 'B', 500, 1), line('x', undefined, 500, 1)],
    total: 3333,
    subtotal: 3000,
    discounts: 0,
    tax: 233,
    shipping: 100,
  }

  it('splits every amount on its own with the same weights (the worked example)', () => {
    // Weights '' 500, A 2000, B 500 of 3000. total: 555 r 1/2, 2222, 555 r 1/2 → the unit to ''.
    // tax: 38 r 5/6, 155 r 1/3, 38 r 5/6 → '' and B. shipping: 16⅔, 66⅔, 16⅔ → '' and A.
    expect(splitOrder(worked)).toEqual([
      {
        brand: '',
        orders: 1,
        total: 556,
        subtotal: 500,
        discounts: 0,
        tax: 39,
        shipping: 17,
        shipping_cost: 17,
        fees: 0,
      },
      {
        brand: 'A',
        orders: 1,
        total: 2222,
        subtotal: 2000,
        discounts: 0,
        tax: 155,
        shipping: 67,
        shipping_cost: 67,
        fees: 0,
      },
      {
        brand: 'B',
        orders: 1,
        total: 555,
        subtotal: 500,
        discounts: 0,
        tax: 39,
        shipping: 16,
        shipping_cost: 16,
        fees: 0,
      },
    ])
  })

  it('splits shipping cost and fees when given', () => {
    const shares = splitOrder({ ...worked, shipping_cost: 700, fees: 31 })
    // 700: 116⅔, 466⅔, 116⅔ → '' and A. 31: 5 r 1/6, 20 r 2/3, 5 r 1/6 → A.
    expect(shares.map((s) => [s.brand, s.shipping_cost, s.fees])).toEqual([
      ['', 117, 5],
      ['A', 467, 21],
      ['B', 116, 5],
    ])
  })

  it('holds one brand: everything to it, counted once', () => {
    const shares = splitOrder({ ...worked, lines: [line('a', 'A', 1, 1), line('b', 'A', 7, 3)] })
    expect(shares).toEqual([
      {
        brand: 'A',
        orders: 1,
        total: 3333,
        subtotal: 3000,
        discounts: 0,
        tax: 233,
        shipping: 100,
        shipping_cost: 100,
        fees: 0,
      },
    ])
  })

  it('holds only brands whose lines weigh something, unless none does', () => {
    const zeroQuantity = splitOrder({ ...worked, lines: [line('a', 'A', 1000, 1), line('b', 'B', 500, 0)] })
    expect(zeroQuantity.map((s) => s.brand)).toEqual(['A'])
    const free = splitOrder({ ...worked, total: 5, lines: [line('a', 'b', 0, 1), line('b', 'a', 500, 0)] })
    expect(free.map((s) => [s.brand, s.orders, s.total])).toEqual([
      ['a', 1, 3],
      ['b', 1, 2],
    ])
  })

  it('puts an order without lines under the unbranded brand', () => {
    expect(splitOrder({ ...worked, lines: [] })).toEqual([
      {
        brand: '',
        orders: 1,
        total: 3333,
        subtotal: 3000,
        discounts: 0,
        tax: 233,
        shipping: 100,
        shipping_cost: 100,
        fees: 0,
      },
    ])
    expect([...orderWeights([])]).toEqual([['', 0n]])
  })
})

describe('splitRefund', () => {
  // 'tee' appears twice, under brands A and C; weights A 1000, B 1600, C 2400 of 5000.
  const lines = [line('tee', 'A', 1000, 1), line('mug', 'B', 800, 2), line('tee', 'C', 1200, 2)]

  it('without items, splits like its order and is about every brand it holds', () => {
    // Fees 7: 1.4, 2.24, 3.36 → 1, 2, 3 and the unit left to A (remainder 0.4).
    expect(splitRefund({ amount: 5000, fees: 7 }, lines)).toEqual([
      { brand: 'A', refund_count: 1, amount: 1000, subtotal: 1000, fees: 2 },
      { brand: 'B', refund_count: 1, amount: 1600, subtotal: 1600, fees: 2 },
      { brand: 'C', refund_count: 1, amount: 2400, subtotal: 2400, fees: 3 },
    ])
  })

  it('matches items by SKU in line order, an item spanning two brands split by unit price × units', () => {
    // 2 tees: A's one at 1000 and one of C's at 1200. 2000 × 1000/2200 = 909 r 1/11, × 1200/2200 =
    // 1090 r 10/11 → the unit to C. The 200 beyond the merchandise splits like the order: 40, 64, 96.
    const refund: BrandRefund = { amount: 2200, subtotal: 2000, items: [{ sku: 'tee', quantity: 2, subtotal: 2000 }] }
    expect(matchItems(refund.items!, lines).map((w) => w && plain(w))).toEqual([{ A: 1000n, C: 1200n }])
    expect(splitRefund(refund, lines)).toEqual([
      { brand: 'A', refund_count: 1, amount: 949, subtotal: 909, fees: 0 },
      { brand: 'B', refund_count: 0, amount: 64, subtotal: 0, fees: 0 },
      { brand: 'C', refund_count: 1, amount: 1187, subtotal: 1091, fees: 0 },
    ])
  })

  it('consumes line quantities item by item; an item past them splits like the order', () => {
    const items = [
      { sku: 'tee', quantity: 1, subtotal: 900 }, // A's only tee
      { sku: 'tee', quantity: 2, subtotal: 2400 }, // C's two
      { sku: 'tee', quantity: 1, subtotal: 1000 }, // none left: like the order
      { sku: 'hat', quantity: 1, subtotal: 50 }, // no such line: like the order
      { sku: 'mug', quantity: 0, subtotal: 0 }, // no units: like the order
    ]
    expect(matchItems(items, lines).map((w) => w && plain(w))).toEqual([
      { A: 1000n },
      { C: 2400n },
      undefined,
      undefined,
      undefined,
    ])
    // Matched 3300; the other 1050 splits 210, 336, 504.
    expect(splitRefund({ amount: 4350, items }, lines)).toEqual([
      { brand: 'A', refund_count: 1, amount: 1110, subtotal: 1110, fees: 0 },
      { brand: 'B', refund_count: 0, amount: 336, subtotal: 336, fees: 0 },
      { brand: 'C', refund_count: 1, amount: 2904, subtotal: 2904, fees: 0 },
    ])
  })

  it('matches each refund against the whole order: refunds do not consume each other', () => {
    const one = { amount: 900, items: [{ sku: 'tee', quantity: 1, subtotal: 900 }] }
    expect(splitRefund(one, lines)).toEqual(splitRefund(one, lines))
    expect(splitRefund(one, lines)).toEqual([{ brand: 'A', refund_count: 1, amount: 900, subtotal: 900, fees: 0 }])
  })

  it('splits a negative rest (items worth more than the amount) like the order', () => {
    // A takes 1200; the rest, −200, splits −40, −64, −96.
    expect(splitRefund({ amount: 1000, items: [{ sku: 'tee', quantity: 1, subtotal: 1200 }] }, lines)).toEqual([
      { brand: 'A', refund_count: 1, amount: 1160, subtotal: 1160, fees: 0 },
      { brand: 'B', refund_count: 0, amount: -64, subtotal: -64, fees: 0 },
      { brand: 'C', refund_count: 0, amount: -96, subtotal: -96, fees: 0 },
    ])
  })

  it('with no item matched, is about every brand the order holds', () => {
    const shares = splitRefund({ amount: 0, items: [{ sku: 'hat', quantity: 1, subtotal: 0 }] }, lines)
    expect(shares.map((s) => [s.brand, s.refund_count, s.amount])).toEqual([
      ['A', 1, 0],
      ['B', 1, 0],
      ['C', 1, 0],
    ])
  })

  it('splits an item over free lines equally among their brands', () => {
    const free = [line('gift', 'y', 0, 1), line('gift', 'x', 0, 1), line('tee', 'z', 100, 1)]
    expect(splitRefund({ amount: 5, items: [{ sku: 'gift', quantity: 2, subtotal: 5 }] }, free)).toEqual([
      { brand: 'x', refund_count: 1, amount: 3, subtotal: 3, fees: 0 },
      { brand: 'y', refund_count: 1, amount: 2, subtotal: 2, fees: 0 },
    ])
  })

  it('re-splits when the order is edited (a pure function of the order as it stands)', () => {
    const refund = { amount: 1000 }
    const before = splitRefund(refund, lines)
    const after = splitRefund(refund, [line('tee', 'A', 1000, 1), line('mug', 'B', 800, 5)])
    expect(before.map((s) => [s.brand, s.amount])).toEqual([
      ['A', 200],
      ['B', 320],
      ['C', 480],
    ])
    expect(after.map((s) => [s.brand, s.amount])).toEqual([
      ['A', 200],
      ['B', 800],
    ])
  })
})

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

const BRANDS = [undefined, 'A', 'B', 'a', 'Zeta', 'ä', '😀', '\uff5e']
const SKUS = ['s1', 's2', 's3', 's4']

function money(r: Random): number {
  switch (r.int(4)) {
    case 0:
      return r.int(3) // 0, 1, 2: ties and zero weights
    case 1:
      return r.int(10_000)
    case 2:
      return r.int(10_000_000)
    default:
      return r.int(10 ** 13 + 1) // up to 10^10 major units in a three-decimal currency
  }
}

function randomLines(r: Random): BrandLine[] {
  return Array.from({ length: r.int(7) }, () =>
    line(r.pick(SKUS), r.pick(BRANDS), money(r), r.pick([0, 1, 1, 2, 3, 7, 1_000_000])),
  )
}

function shuffled<T>(r: Random, items: readonly T[]): T[] {
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = r.int(i + 1)
    ;[out[i], out[j]] = [out[j], out[i]]
  }
  return out
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0)

/**
 * The rule as the contract states it, written plainly in bigints (no number path, no splitter):
 * floor of |amount| × w ÷ W, then one unit each to the largest remainders, ties by code unit.
 */
function referenceSplit(amount: bigint, byBrand: Map<string, bigint>): Map<string, bigint> {
  const brands = [...byBrand.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  const allZero = brands.every((b) => byBrand.get(b) === 0n)
  const w = brands.map((b) => (allZero ? 1n : byBrand.get(b)!))
  const W = w.reduce((a, b) => a + b, 0n)
  const m = amount < 0n ? -amount : amount
  const rows = brands.map((brand, i) => ({ brand, share: (m * w[i]) / W, remainder: (m * w[i]) % W }))
  let left = m - rows.reduce((a, r) => a + r.share, 0n)
  const ranked = [...rows].sort((a, b) =>
    a.remainder !== b.remainder ? (a.remainder > b.remainder ? -1 : 1) : a.brand < b.brand ? -1 : 1,
  )
  for (const r of ranked) if (left-- > 0n) r.share += 1n
  return new Map(rows.map((r) => [r.brand, amount < 0n ? -r.share : r.share]))
}

describe('properties over 10,000 seeded random orders', () => {
  const r = prng(20_260_515)
  const cases = Array.from({ length: 10_000 }, () => {
    const order: BrandOrder = {
      lines: randomLines(r),
      total: money(r),
      subtotal: money(r),
      discounts: money(r),
      tax: money(r),
      shipping: money(r),
      shipping_cost: money(r),
      fees: money(r),
    }
    const items = Array.from({ length: r.int(4) }, () => ({
      sku: r.pick([...SKUS, 'unknown']),
      quantity: r.pick([0, 1, 2, 3, 1_000_000]),
      subtotal: money(r),
    }))
    const refund: BrandRefund = { amount: money(r), subtotal: money(r), fees: money(r), items }
    return { order, refund }
  })

  it('order shares sum exactly to each amount, each within one unit of its exact proportion', () => {
    const wrong: unknown[] = []
    for (const { order } of cases) {
      const shares = splitOrder(order)
      const w = orderWeights(order.lines)
      const total = [...w.values()].reduce((a, b) => a + b, 0n)
      // With all-zero weights, each brand weighs 1.
      const denominator = total === 0n ? BigInt(w.size) : total
      for (const name of ORDER_AMOUNTS) {
        const amount = order[name]!
        if (sum(shares.map((s) => s[name])) !== amount) wrong.push({ order, name, shares })
        for (const s of shares) {
          // |share × W − amount × w| < W: off the exact proportion by less than one unit.
          const error = BigInt(s[name]) * denominator - BigInt(amount) * (total === 0n ? 1n : w.get(s.brand)!)
          if (error >= denominator || -error >= denominator) wrong.push({ order, name, brand: s.brand })
        }
      }
      if (shares.some((s) => s.orders !== 1)) wrong.push({ order, shares })
      if (shares.map((s) => s.brand).join('\u0000') !== [...w.keys()].sort().join('\u0000'))
        wrong.push({ order, shares })
    }
    expect(wrong).toEqual([])
  })

  it('agrees with the rule written plainly, for amounts and weights small and past 2^53', () => {
    let checked = 0
    for (const { order, refund } of cases) {
      const w = brandWeights(order.lines)
      if (w.size === 0) continue
      for (const amount of [order.total, -order.tax, refund.amount]) {
        const expected = referenceSplit(BigInt(amount), w)
        const got = splitAmount(amount, w)
        if (![...expected].every(([brand, share]) => BigInt(got.get(brand)!) === share))
          expect({ amount, weights: w, got }).toEqual(expected)
        checked++
      }
      const big = BigInt(order.total) * 1_000_003n
      expect(splitAmount(big, w)).toEqual(referenceSplit(big, w))
    }
    expect(checked).toBeGreaterThan(20_000)
  })

  // 0 − x, not −x: the split never answers −0, and toEqual tells −0 from 0.
  it('shares of −x are −(shares of x), for orders and refunds', () => {
    for (const { order, refund } of cases) {
      const negated = { ...order }
      for (const name of ORDER_AMOUNTS) negated[name] = 0 - order[name]!
      const expected = splitOrder(order).map((s) => {
        const out = { ...s }
        for (const name of ORDER_AMOUNTS) out[name] = 0 - s[name]
        return out
      })
      expect(splitOrder(negated)).toEqual(expected)

      const negatedRefund: BrandRefund = {
        amount: 0 - refund.amount,
        subtotal: 0 - refund.subtotal!,
        fees: 0 - refund.fees!,
        items: refund.items!.map((item) => ({ ...item, subtotal: 0 - item.subtotal })),
      }
      expect(splitRefund(negatedRefund, order.lines)).toEqual(
        splitRefund(refund, order.lines).map((s) => ({
          ...s,
          amount: 0 - s.amount,
          subtotal: 0 - s.subtotal,
          fees: 0 - s.fees,
        })),
      )
    }
  })

  it('refund shares sum exactly to the refund, and a refund without items splits like its order', () => {
    for (const { order, refund } of cases) {
      const shares = splitRefund(refund, order.lines)
      expect(sum(shares.map((s) => s.amount))).toBe(refund.amount)
      expect(sum(shares.map((s) => s.subtotal))).toBe(refund.subtotal)
      expect(sum(shares.map((s) => s.fees))).toBe(refund.fees)
      expect(shares.some((s) => s.refund_count === 1)).toBe(true)

      const plainRefund = splitRefund({ amount: refund.amount }, order.lines)
      const like = splitOrder({ ...order, total: refund.amount })
      expect(plainRefund.map((s) => [s.brand, s.amount])).toEqual(like.map((s) => [s.brand, s.total]))
      expect(plainRefund.every((s) => s.refund_count === 1)).toBe(true)
    }
  })

  it('does not depend on line order, except through SKU matching', () => {
    for (const { order, refund } of cases) {
      const lines = shuffled(r, order.lines)
      expect(splitOrder({ ...order, lines })).toEqual(splitOrder(order))
      expect(splitRefund({ ...refund, items: [] }, lines)).toEqual(splitRefund({ ...refund, items: [] }, order.lines))
      // Lines of distinct SKUs keep their relative order: items match the same units.
      const bySku = SKUS.flatMap((sku) => order.lines.filter((l) => l.sku === sku))
      expect(splitRefund(refund, bySku)).toEqual(splitRefund(refund, order.lines))
    }
  })
})
