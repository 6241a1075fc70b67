// New, returning and guest orders (docs/metrics.md, "New and returning customers"), pure: read
// from the order index at read time, so an import or an edit that moves an order to another
// customer (or another window) changes every answer at once. Nothing is kept per order or customer.
import { formatMinor } from '../common/money.ts'
import type { View } from './kpis.ts'
import type { OrderIndex } from './order-index.ts'
import { MINUTE, minuteOf } from './windows.ts'

/** What of the order index the groups read. */
export type GroupedOrders = Pick<
  OrderIndex,
  | 'windowTs'
  | 'customer'
  | 'money'
  | 'forEachRefund'
  | 'forEachOrderIn'
  | 'forEachRefundIn'
  | 'firstWindowTs'
  | 'customerBound'
>

export interface GroupSums {
  /** Distinct customers (0 for guests). */
  customers: number
  orders: number
  /** Minor units. */
  gmv: number
  /** Σ order subtotal − Σ refund subtotal (refunds placed by the view), minor units. */
  netSales: number
}

export interface CustomerGroupSums {
  new: GroupSums
  returning: GroupSums
  guest: GroupSums
}

export interface CustomerGroups {
  new_customers: number
  returning_customers: number
  new_orders: number
  new_gmv: string
  new_net_sales: string
  returning_orders: number
  returning_gmv: string
  returning_net_sales: string
  guest_orders: number
  guest_gmv: string
  guest_net_sales: string
}

export const CUSTOMER_GROUP_FIELDS = [
  'new_customers',
  'returning_customers',
  'new_orders',
  'new_gmv',
  'new_net_sales',
  'returning_orders',
  'returning_gmv',
  'returning_net_sales',
  'guest_orders',
  'guest_gmv',
  'guest_net_sales',
] as const satisfies readonly (keyof CustomerGroups)[]

/** Orders in the ranges above which per-customer columns replace maps (see below). */
const MANY = 20_000

const zeroSums = (): GroupSums => ({ customers: 0, orders: 0, gmv: 0, netSales: 0 })
export const zeroGroupSums = (): CustomerGroupSums => ({ new: zeroSums(), returning: zeroSums(), guest: zeroSums() })

/**
 * The groups of each range, in one pass over the index. `ranges` ascending and not sharing a
 * minute (the days of a range, or one range); like the rollups, a minute counts in a range when
 * its start lies in [floor_to_minute(from), to).
 *
 * An order of the range is a guest's (no customer), else new when its customer's first order ever
 * (the earliest window of the orders the index holds for them now, cancelled or not) is not before
 * the range's first minute, else returning. A refund counts where the view places it (its own
 * minute, or its order's window with `order_date`) and in its order's group by the same rule.
 */
export function customerGroupsOf(
  orders: GroupedOrders,
  ranges: readonly { from: number; to: number }[],
  view: View,
  /** Orders in the ranges above which columns replace maps (tests lower it). */
  manyAbove = MANY,
): CustomerGroupSums[] {
  const out = ranges.map(zeroGroupSums)
  if (ranges.length === 0) return out
  const starts = ranges.map((r) => minuteOf(r.from))
  const lo = starts[0]
  const hi = ranges[ranges.length - 1].to
  const rangeOf = (minute: number): number => {
    if (minute < lo || minute >= hi) return -1
    let a = 0
    let b = starts.length - 1
    while (a < b) {
      const mid = (a + b + 1) >> 1
      if (starts[mid] <= minute) a = mid
      else b = mid - 1
    }
    return minute < ranges[a].to ? a : -1
  }
  // A window time lies in a minute before `hi` when it is before `hi` rounded up to the minute.
  const end = Math.ceil(hi / MINUTE) * MINUTE
  const slots: number[] = []
  orders.forEachOrderIn(lo, end, (slot) => {
    slots.push(slot)
  })
  // Per customer: the minute of their first order (from their chain of orders, once), and whether
  // counted (one range). Few orders: maps; many: columns over every customer.
  const many = slots.length > manyAbove
  const customers = many ? orders.customerBound() : 0
  let firstMinuteOf: (c: number) => number
  if (many) {
    const firsts = new Float64Array(customers).fill(Number.NaN)
    firstMinuteOf = (c) => {
      let first = firsts[c]
      if (Number.isNaN(first)) firsts[c] = first = minuteOf(orders.firstWindowTs(c))
      return first
    }
  } else {
    const firsts = new Map<number, number>()
    firstMinuteOf = (c) => {
      let first = firsts.get(c)
      if (first === undefined) firsts.set(c, (first = minuteOf(orders.firstWindowTs(c))))
      return first
    }
  }
  /** Whether a customer is counted in a range yet: a column for one range, else customer × ranges + range. */
  const countedOnce = many && ranges.length === 1 ? new Uint8Array(customers) : undefined
  const counted = new Set<number>()
  const firstCount = (c: number, range: number): boolean => {
    if (countedOnce) {
      if (countedOnce[c]) return false
      countedOnce[c] = 1
      return true
    }
    const key = c * ranges.length + range
    if (counted.has(key)) return false
    counted.add(key)
    return true
  }
  const groupOf = (c: number, range: number): GroupSums => {
    const sums = out[range]
    if (c < 0) return sums.guest
    return firstMinuteOf(c) >= starts[range] ? sums.new : sums.returning
  }
  for (const slot of slots) {
    const range = rangeOf(minuteOf(orders.windowTs(slot)))
    if (range < 0) continue
    const c = orders.customer(slot)
    const group = groupOf(c, range)
    const [gmv, subtotal] = orders.money(slot)
    group.orders++
    group.gmv += gmv
    group.netSales += subtotal
    if (c >= 0 && firstCount(c, range)) group.customers++
    if (view === 'order_date')
      orders.forEachRefund(slot, (_minute, _amount, refunded) => {
        group.netSales -= refunded
      })
  }
  if (view === 'transaction_date')
    orders.forEachRefundIn(lo, end, (slot, minute, _amount, refunded) => {
      const range = rangeOf(minute)
      if (range >= 0) groupOf(orders.customer(slot), range).netSales -= refunded
    })
  return out
}

/** The answer's fields (money with the currency's digits). */
export function customerGroupFigures(s: CustomerGroupSums, digits: number): CustomerGroups {
  const money = (minor: number) => formatMinor(minor, digits)
  return {
    new_customers: s.new.customers,
    returning_customers: s.returning.customers,
    new_orders: s.new.orders,
    new_gmv: money(s.new.gmv),
    new_net_sales: money(s.new.netSales),
    returning_orders: s.returning.orders,
    returning_gmv: money(s.returning.gmv),
    returning_net_sales: money(s.returning.netSales),
    guest_orders: s.guest.orders,
    guest_gmv: money(s.guest.gmv),
    guest_net_sales: money(s.guest.netSales),
  }
}
