// The exact split of an order's money across its brands (the rule and
// the decisions where the contract is silent are in docs/brands.md). Pure: lines and amounts in,
// per-brand shares out, no state, so the processor can recompute the split of an order or refund
// as it stood (to subtract it) instead of storing it.
//
// Money is integer minor units as everywhere in Pulse. Weights are bigint: a line of 10^10 major
// units (10^13 minor in a three-decimal currency) × 10^6 units weighs 10^19, past 2^53, and the
// products amount × weight reach 10^35.

/** An order line as the split needs it. */
export interface BrandLine {
  sku: string
  /** Absent (or ''): an unbranded line, of brand ''. */
  brand?: string
  /** Unit price in minor units. */
  price: number
  quantity: number
}

/** Weight per brand; maps built here are in code-unit order of brand. */
export type Weights = ReadonlyMap<string, bigint>

/** Plain code-unit order (what `<` does on strings), never the locale's. */
const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

function sortedByBrand<V>(entries: Iterable<[string, V]>): Map<string, V> {
  return new Map([...entries].sort(([a], [b]) => byCodeUnit(a, b)))
}

function minor(value: number, what: string): bigint {
  if (!Number.isSafeInteger(value)) throw new RangeError(`${what} is not an integer of minor units: ${value}`)
  return BigInt(value)
}

function count(value: number, what: string): bigint {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${what} is not a count: ${value}`)
  return BigInt(value)
}

/** Math.min for bigints. */
const smaller = (a: bigint, b: bigint): bigint => (a < b ? a : b)

/** Back to a number; a share never exceeds its amount, so this only fails on absurd refund items. */
function toNumber(value: bigint, what: string): number {
  const n = Number(value)
  if (!Number.isSafeInteger(n)) throw new RangeError(`${what} is past 2^53 minor units: ${value}`)
  return n
}

function lineWeight(line: BrandLine): bigint {
  const price = minor(line.price, `price of ${line.sku}`)
  if (price < 0n) throw new RangeError(`price of ${line.sku} is negative: ${line.price}`)
  return price * count(line.quantity, `quantity of ${line.sku}`)
}

/** Per brand ('' for brandless lines), Σ price × quantity of its lines, exact. */
export function brandWeights(lines: readonly BrandLine[]): Map<string, bigint> {
  const sums = new Map<string, bigint>()
  for (const line of lines) {
    const brand = line.brand ?? ''
    sums.set(brand, (sums.get(brand) ?? 0n) + lineWeight(line))
  }
  return sortedByBrand(sums)
}

/**
 * The brands an order holds, with their weights: those whose lines weigh something; when none
 * does (free items, quantities 0), every brand with a line, to split equally; an order without
 * lines holds the unbranded brand '' alone, so its money is still counted somewhere.
 */
export function orderWeights(lines: readonly BrandLine[]): Map<string, bigint> {
  const all = brandWeights(lines)
  if (all.size === 0) return new Map([['', 0n]])
  const weighing = [...all].filter(([, w]) => w > 0n)
  return weighing.length > 0 ? new Map(weighing) : all
}

/**
 * Weights made ready to split many amounts by (an order's seven amounts share them): brands in
 * code-unit order, all-zero weights replaced by 1 each (an equal split).
 */
interface Splitter {
  brands: string[]
  weights: bigint[]
  total: bigint
  /** The weights as numbers, used while magnitude × total ≤ 2^53 keeps every product exact. */
  small: number[]
  smallTotal: number
  /** The largest magnitude the number path takes (0: none, the total itself is too large). */
  smallUpTo: number
}

function splitter(weights: Weights): Splitter {
  const entries = sortedByBrand(weights)
  for (const [brand, w] of entries) if (w < 0n) throw new RangeError(`weight of brand '${brand}' is negative: ${w}`)
  const brands = [...entries.keys()]
  let w = [...entries.values()]
  let total = w.reduce((sum, x) => sum + x, 0n)
  if (total === 0n) {
    w = w.map(() => 1n)
    total = BigInt(w.length)
  }
  const safe = total <= BigInt(Number.MAX_SAFE_INTEGER)
  return {
    brands,
    weights: w,
    total,
    small: w.map(Number),
    smallTotal: Number(total),
    smallUpTo: safe && total > 0n ? Math.floor(Number.MAX_SAFE_INTEGER / Number(total)) : 0,
  }
}

/**
 * Which brands get one of the `left` units that rounding down left over (fewer than the brands
 * with a remainder): the largest remainders, ties to the brand first in code-unit order.
 * Remainders share one denominator, so comparing them as integers compares the fractions exactly.
 */
function extraUnits(remainders: readonly number[] | readonly bigint[], left: number, brands: readonly string[]) {
  return brands
    .map((_, i) => i)
    .sort((a, b) =>
      remainders[a] === remainders[b] ? byCodeUnit(brands[a], brands[b]) : remainders[a] > remainders[b] ? -1 : 1,
    )
    .slice(0, left)
}

/**
 * The shares of `amount`, in the splitter's brand order: its absolute value split, each share
 * rounded down, the left-over units by largest remainder, then the sign restored, so −x splits
 * into exactly the negatives of the shares of x.
 */
function shareOut(s: Splitter, amount: bigint): bigint[] {
  if (s.brands.length === 0) {
    if (amount !== 0n) throw new RangeError(`no brand to split ${amount} across`)
    return []
  }
  if (s.brands.length === 1) return [amount]
  const magnitude = amount < 0n ? -amount : amount
  let shares: bigint[]
  if (magnitude <= BigInt(s.smallUpTo)) {
    // The common case, in doubles: every product m × w ≤ m × total ≤ 2^53 is exact, so are % and
    // the division of the product less its remainder.
    const m = Number(magnitude)
    const remainders = s.small.map((w) => (m * w) % s.smallTotal)
    const floors = s.small.map((w, i) => (m * w - remainders[i]) / s.smallTotal)
    const extra = extraUnits(remainders, m - floors.reduce((sum, f) => sum + f, 0), s.brands)
    for (const i of extra) floors[i] += 1
    shares = floors.map(BigInt)
  } else {
    const remainders = s.weights.map((w) => (magnitude * w) % s.total)
    shares = s.weights.map((w) => (magnitude * w) / s.total)
    const extra = extraUnits(remainders, Number(magnitude - shares.reduce((sum, f) => sum + f, 0n)), s.brands)
    for (const i of extra) shares[i] += 1n
  }
  return amount < 0n ? shares.map((x) => -x) : shares
}

/**
 * `amount` split across the brands in proportion to their weights (all zero: equally), to the
 * minor unit by largest remainder, ties to the brand first in code-unit order. The shares sum to
 * the amount exactly. A negative amount splits as its absolute value, signs restored, so the
 * shares of −x are the negatives of the shares of x (a correction undoes its original exactly).
 * Brands come out in code-unit order. Only an amount of 0 may split across no brands.
 */
export function splitAmount(amount: number, weights: Weights): Map<string, number>
export function splitAmount(amount: bigint, weights: Weights): Map<string, bigint>
export function splitAmount(amount: number | bigint, weights: Weights): Map<string, number> | Map<string, bigint> {
  const s = splitter(weights)
  const shares = shareOut(s, typeof amount === 'bigint' ? amount : minor(amount, 'amount'))
  if (typeof amount === 'bigint') return new Map(s.brands.map((brand, i) => [brand, shares[i]]))
  // Every share lies between 0 and the amount, so it is as exact a number as the amount.
  return new Map(s.brands.map((brand, i) => [brand, Number(shares[i])]))
}

/** The order-level amounts, each split on its own with the same weights. */
export const ORDER_AMOUNTS = ['total', 'subtotal', 'discounts', 'tax', 'shipping', 'shipping_cost', 'fees'] as const
export type OrderAmount = (typeof ORDER_AMOUNTS)[number]

export interface BrandOrder {
  lines: readonly BrandLine[]
  total: number
  subtotal: number
  discounts: number
  tax: number
  shipping: number
  /** Default: `shipping` (as the event contract says). */
  shipping_cost?: number
  /** Default: 0. */
  fees?: number
}

/** One brand's part of an order: its share of every amount, and the order counted once. */
export type OrderShare = { brand: string; orders: 1 } & Record<OrderAmount, number>

function amountsOf(order: BrandOrder): Record<OrderAmount, number> {
  const { total, subtotal, discounts, tax, shipping } = order
  return {
    total,
    subtotal,
    discounts,
    tax,
    shipping,
    shipping_cost: order.shipping_cost ?? shipping,
    fees: order.fees ?? 0,
  }
}

/** An order's money per brand it holds, in code-unit order of brand. */
export function splitOrder(order: BrandOrder): OrderShare[] {
  const s = splitter(orderWeights(order.lines))
  const shares = s.brands.map((brand) => ({ brand, orders: 1 }) as OrderShare)
  const amounts = amountsOf(order)
  for (const name of ORDER_AMOUNTS) {
    const split = shareOut(s, minor(amounts[name], name))
    shares.forEach((share, i) => {
      share[name] = Number(split[i])
    })
  }
  return shares
}

export interface RefundItem {
  sku: string
  quantity: number
  /** The merchandise refunded for these units, in minor units. */
  subtotal: number
}

export interface BrandRefund {
  amount: number
  /** Default: `amount` (as the event contract says). */
  subtotal?: number
  /** Default: 0. */
  fees?: number
  items?: readonly RefundItem[]
}

/**
 * One brand's part of a refund. `refund_count` is 1 for the brands the refund is about (its
 * matched items' brands, else every brand the order holds) and 0 for a brand that only takes a
 * share of what is left over.
 */
export interface RefundShare {
  brand: string
  refund_count: 0 | 1
  amount: number
  subtotal: number
  fees: number
}

/**
 * Each item matched to the order's lines by SKU in line order, consuming the lines' quantities
 * within this refund: the weights (unit price × units taken) of the lines it took, per brand, or
 * undefined when it cannot be matched whole (no line has its SKU, more units than those lines
 * have left, or quantity 0); an unmatched item consumes nothing.
 */
export function matchItems(items: readonly RefundItem[], lines: readonly BrandLine[]): (Weights | undefined)[] {
  const left = lines.map((line) => count(line.quantity, `quantity of ${line.sku}`))
  return items.map((item) => {
    const wanted = count(item.quantity, `quantity of refunded ${item.sku}`)
    let available = 0n
    lines.forEach((line, i) => {
      if (line.sku === item.sku) available += left[i]
    })
    if (wanted === 0n || available < wanted) return undefined
    const taken = new Map<string, bigint>()
    let still = wanted
    for (let i = 0; i < lines.length && still > 0n; i++) {
      if (lines[i].sku !== item.sku || left[i] === 0n) continue
      const units = smaller(left[i], still)
      left[i] -= units
      still -= units
      const brand = lines[i].brand ?? ''
      const price = minor(lines[i].price, `price of ${lines[i].sku}`)
      taken.set(brand, (taken.get(brand) ?? 0n) + price * units)
    }
    return sortedByBrand(taken)
  })
}

/**
 * A refund's money per brand. Matched items' subtotals go to the brands of the lines they took
 * (split by those lines' unit price × units taken when they span brands); what the amount and the
 * subtotal hold beyond them (may be negative), the fees, and unmatched items split like the order.
 * Without items, the whole refund splits like the order. Brands in code-unit order: those the
 * refund is about, and any other with a non-zero share.
 */
export function splitRefund(refund: BrandRefund, orderLines: readonly BrandLine[]): RefundShare[] {
  const weights = orderWeights(orderLines)
  const amount = minor(refund.amount, 'refund amount')
  const subtotal = refund.subtotal === undefined ? amount : minor(refund.subtotal, 'refund subtotal')
  const items = refund.items ?? []
  const matched = matchItems(items, orderLines)

  const merchandise = new Map<string, bigint>()
  let matchedSum = 0n
  items.forEach((item, i) => {
    const taken = matched[i]
    if (!taken) return
    const itemSubtotal = minor(item.subtotal, `subtotal of refunded ${item.sku}`)
    matchedSum += itemSubtotal
    for (const [brand, share] of splitAmount(itemSubtotal, taken))
      merchandise.set(brand, (merchandise.get(brand) ?? 0n) + share)
  })
  const about = merchandise.size > 0 ? [...merchandise.keys()] : [...weights.keys()]

  const s = splitter(weights)
  const rest = (value: bigint) => shareOut(s, value)
  const restOfAmount = rest(amount - matchedSum)
  const restOfSubtotal = rest(subtotal - matchedSum)
  const fees = rest(minor(refund.fees ?? 0, 'refund fees'))
  // The brands the order holds, and any only a matched item reaches (a line that weighs nothing).
  const brands = [...new Set([...s.brands, ...about])].sort(byCodeUnit)
  const shares: RefundShare[] = []
  for (const brand of brands) {
    const item = merchandise.get(brand) ?? 0n
    const k = s.brands.indexOf(brand)
    const share: RefundShare = {
      brand,
      refund_count: about.includes(brand) ? 1 : 0,
      amount: toNumber(item + (k < 0 ? 0n : restOfAmount[k]), `refund amount of brand '${brand}'`),
      subtotal: toNumber(item + (k < 0 ? 0n : restOfSubtotal[k]), `refund subtotal of brand '${brand}'`),
      fees: k < 0 ? 0 : Number(fees[k]),
    }
    if (share.refund_count === 1 || share.amount !== 0 || share.subtotal !== 0 || share.fees !== 0) shares.push(share)
  }
  return shares
}
