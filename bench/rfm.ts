// A million customers through the whole processor: the memory their state takes (order index,
// customer store, funnel, dedup memory, everything the processor keeps), then RFM and intent
// over them.
//
//   node --expose-gc --import tsx bench/rfm.ts [--customers 1000000] [--days 1100]
//
// 1. Memory. The events are generated first (seeded): each customer has 1–4 orders (2.5 on
//    average, each in one of two stores, with fees) over `--days` days with 1–2 line items of
//    500 SKUs in 4 brands, 8 % of orders a refund (half of them naming the refunded item) and 3 %
//    a cancellation days later, and 40 % of customers 1–6 shopper events (naming a product and its
//    brand) in the last 30 days in 1–3 categories. They go through `processor.apply` in event-time order, each received at its
//    own time, so the dedup memory holds what a 7-day horizon holds at that rate. Memory =
//    heapUsed + arrayBuffers (typed-array columns live outside the JS heap: counting heapUsed
//    alone would hide them) after a full GC, minus the same reading taken before the processor
//    existed, with the generated schedule alive in both.
// 2. Time: the RFM facts from the order index, the full ranking, dashboard passes, the intent
//    summary, and the same answers from the cache, as the routes run them.
import { PerformanceObserver, performance } from 'node:perf_hooks'
import type { PulseEvent } from '../common/events.ts'
import { createCustomerAnalytics, factsOf } from '../query/customer-analytics.ts'
import { rankRfm, rfmDashboard } from '../query/rfm.ts'
import { createProcessor } from '../stream/index.ts'

const argv = process.argv.slice(2)
const arg = (name: string, fallback: number) => {
  const i = argv.indexOf(name)
  return i >= 0 ? Number(argv[i + 1]) : fallback
}
const N = arg('--customers', 1_000_000)
const DAYS = arg('--days', 1100)
const gc = (globalThis as { gc?: () => void }).gc
if (!gc) throw new Error('run with node --expose-gc --import tsx bench/rfm.ts')

const DAY = 86_400_000
const AS_OF = Date.parse('2026-11-01T00:00:00Z')
const CITIES = ['Mumbai', 'Delhi', 'Pune', 'Chennai', 'Kolkata', 'Bangalore']
const CATEGORIES = ['apparel', 'beauty', 'electronics', 'footwear', 'groceries', 'sports']
const BRANDS = ['lakme', 'nike', 'boat', 'fabindia']
const CHANNELS = ['facebook', 'google', 'instagram', 'organic']
const SHOPPER_TYPES = ['product.viewed', 'search', 'cart.added', 'checkout.started'] as const
const STORES = ['shop-in', 'amazon-in']

let seed = 42
const rand = () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1))
const pick = <T>(xs: readonly T[]) => xs[int(0, xs.length - 1)]

const footprint = () => {
  gc!()
  gc!()
  const m = process.memoryUsage()
  return { heap: m.heapUsed, buffers: m.arrayBuffers, total: m.heapUsed + m.arrayBuffers }
}
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`
const time = <T>(label: string, fn: () => T): T => {
  const started = performance.now()
  const out = fn()
  console.log(`  ${label.padEnd(56)} ${(performance.now() - started).toFixed(0).padStart(6)} ms`)
  return out
}

// ---- The schedule: what happens when, in columns (kind, customer, order, time) ----
const ORDER = 0
const REFUND = 1
const CANCEL = 2
const SHOPPER = 3
const kinds: number[] = []
const customerOf: number[] = []
const orderOf: number[] = []
const times: number[] = []
const push = (kind: number, customer: number, order: number, ts: number) => (
  kinds.push(kind), customerOf.push(customer), orderOf.push(order), times.push(ts)
)
let orders = 0
let shopperEvents = 0
for (let c = 0; c < N; c++) {
  for (let k = int(1, 4); k > 0; k--) {
    const ts = AS_OF - int(1, DAYS) * DAY + int(0, DAY - 1)
    const order = orders++
    push(ORDER, c, order, ts)
    const r = rand()
    if (r < 0.08) push(REFUND, c, order, Math.min(AS_OF - 1, ts + int(1, 30) * DAY))
    else if (r < 0.11) push(CANCEL, c, order, ts + 3_600_000)
  }
  if (rand() < 0.4) {
    const categories = CATEGORIES.slice(int(0, 3)).slice(0, int(1, 3))
    for (let k = int(1, 6); k > 0; k--)
      push(SHOPPER, c, k % categories.length, AS_OF - int(0, 30 * DAY)), shopperEvents++
  }
}
const order = Uint32Array.from(times.keys()).sort((a, b) => times[a] - times[b])

const customerId = (c: number) => `cust-${(c * 7919) % N}-${c.toString(36)}`
function eventAt(k: number): PulseEvent {
  const ts = times[k]
  const c = customerOf[k]
  const id = `evt-${k}`
  switch (kinds[k]) {
    case ORDER: {
      const items = Array.from({ length: int(1, 2) }, (_, j, n = int(0, 499)) => ({
        sku: `sku-${n}`,
        product_id: `prod-${n >> 1}`,
        brand: pick(BRANDS),
        category: pick(CATEGORIES),
        quantity: int(1, 3),
        price: `${int(5, 250)}.${int(10, 99)}`,
        ...(j === 0 ? { cost: `${int(1, 4)}.50` } : {}),
      }))
      const subtotal = items.reduce((sum, i) => sum + Math.round(Number(i.price) * 100) * i.quantity, 0)
      const total = ((subtotal + 1800) / 100).toFixed(2)
      return {
        id,
        type: 'order.created',
        ts,
        source: 'shopify',
        order_id: `${5_000_000_000_000 + orderOf[k]}`,
        customer_id: customerId(c),
        total,
        subtotal: (subtotal / 100).toFixed(2),
        discounts: '0',
        tax: '18.00',
        shipping: '0',
        fees: `${int(1, 9)}.${int(10, 99)}`,
        items,
        store: STORES[c % 2],
        channel: pick(CHANNELS),
        campaign_id: `cmp-${int(1, 40)}`,
        location: { city: pick(CITIES) },
      } as PulseEvent
    }
    case REFUND:
      return {
        id,
        type: 'refund.created',
        ts,
        source: 'shopify',
        order_id: `${5_000_000_000_000 + orderOf[k]}`,
        refund_id: `rf-${k}`,
        amount: '10.00',
        store: STORES[c % 2],
        ...(k % 2 === 0 ? { items: [{ sku: `sku-${k % 500}`, quantity: 1, subtotal: '10.00' }] } : {}),
      } as PulseEvent
    case CANCEL:
      return {
        id,
        type: 'order.cancelled',
        ts,
        source: 'shopify',
        order_id: `${5_000_000_000_000 + orderOf[k]}`,
      } as PulseEvent
    default:
      return {
        id,
        type: SHOPPER_TYPES[int(0, 3)],
        ts,
        source: 'shopify',
        customer_id: customerId(c),
        category: CATEGORIES[orderOf[k]],
        product_id: `prod-${k % 250}`,
        brand: BRANDS[k % BRANDS.length],
        store: STORES[c % 2],
      } as PulseEvent
  }
}

console.log(
  `RFM / intent bench: ${N.toLocaleString('en')} customers, ${orders.toLocaleString('en')} orders, ` +
    `${shopperEvents.toLocaleString('en')} shopper events, ` +
    `${(times.length - orders - shopperEvents).toLocaleString('en')} refunds and cancellations over ${DAYS} days; ` +
    `Node ${process.version}\n`,
)

// ---- 1. Memory ----
const tenant = { id: 't', timezone: 'Asia/Kolkata', currency: 'INR' }
const before = footprint()
const processor = createProcessor({ dedupHorizonMs: 7 * DAY, latenessMs: 300_000 })
const started = performance.now()
// Rollup rows (deltas) each order makes as it is applied: the flush's and ClickHouse's work per order.
let orderDeltas = 0
for (const k of order) {
  const outcome = processor.apply(tenant, eventAt(k), { receivedAt: times[k] })
  if (kinds[k] === ORDER && outcome.kind === 'applied') orderDeltas += outcome.deltas.length
}
const applyMs = performance.now() - started
const after = footprint()
const index = processor.orders(tenant.id)
const store = processor.customers(tenant.id)
if (index.size !== orders || store.size() !== N)
  throw new Error(`state incomplete: ${index.size} orders, ${store.size()} customers`)
const used = after.total - before.total
console.log('Memory of the whole processor (heapUsed + arrayBuffers after full GC, minus before):')
console.log(
  `  total                                                    ${mb(used)} ` +
    `(${Math.round(used / N)} B a customer, ${Math.round(used / orders)} B an order)`,
)
console.log(
  `  of which JS heap ${mb(after.heap - before.heap)}, typed-array buffers ${mb(after.buffers - before.buffers)}`,
)
console.log(
  `  columns: order index ${mb(index.byteSize())} (ids included), ` +
    `customer store ${mb(store.byteSize())} (ids included)`,
)
console.log(`  rollup rows an order.created makes: ${(orderDeltas / orders).toFixed(2)} on average`)
console.log(
  `  apply: ${times.length.toLocaleString('en')} events in ${(applyMs / 1000).toFixed(1)} s = ` +
    `${Math.round(times.length / (applyMs / 1000)).toLocaleString('en')} events/s ` +
    '(objects built by the bench, no JSON or zod)',
)
if (N === 1_000_000)
  console.log(
    `  memory budget: under 450 MB for 1,000,000 customers with brand, store and product — ${used < 450 * 2 ** 20 ? 'met' : 'NOT met'}`,
  )
console.log('')

// ---- 2. Time ----
console.log(`Time (${orders.toLocaleString('en')} orders of ${N.toLocaleString('en')} customers):`)
const facts = time('facts from the order index (factsOf)', () => factsOf(index, store, AS_OF))
const ranking = time('full ranking (rankRfm: id order + R, F, M sorts)', () => rankRfm(facts, AS_OF))
time('dashboard pass, no filter (rfmDashboard)', () => rfmDashboard(ranking, 2))
time('dashboard pass, r=5', () => rfmDashboard(ranking, 2, { r: 5 }))
time('dashboard pass, one customer (binary search)', () => rfmDashboard(ranking, 2, { customerId: facts.ids[12345] }))

let clock = AS_OF
const analytics = createCustomerAnalytics({ source: processor, now: () => clock })
const fallback = async () => 5_000
const timeAsync = async <T>(label: string, fn: () => Promise<T>): Promise<T> => {
  const t0 = performance.now()
  const out = await fn()
  console.log(`  ${label.padEnd(56)} ${(performance.now() - t0).toFixed(0).padStart(6)} ms`)
  return out
}
// The longest the event loop waited while the sliced computations below ran.
let stall = 0
let tick = performance.now()
let gcPause = 0
const gcObserver = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcPause = Math.max(gcPause, entry.duration)
})
gcObserver.observe({ entryTypes: ['gc'] })
const probe = setInterval(() => {
  const t = performance.now()
  stall = Math.max(stall, t - tick - 5)
  tick = t
}, 5)
await timeAsync('request after a change: facts + ranking (cache miss)', () =>
  analytics.ranking(tenant.id, { asOf: AS_OF }),
)
await timeAsync('same request, state unchanged (cache hit)', () => analytics.ranking(tenant.id, { asOf: AS_OF }))
const intent = await timeAsync('intent summary over every customer (orders + intent)', () =>
  analytics.intent(tenant.id, AS_OF, fallback),
)
await timeAsync('intent again (cache hit)', () => analytics.intent(tenant.id, AS_OF, fallback))
console.log(
  `  (high-intent users: ${intent.summary.high.length.toLocaleString('en')}, ` +
    `tracked ${intent.summary.usersTracked.toLocaleString('en')}, approximate ${intent.approximate})`,
)
await timeAsync('as_of=now, first request: facts + ranking (miss)', () => analytics.ranking(tenant.id))
analytics.changed(tenant.id)
clock += 1_000
await timeAsync('as_of=now 1 s after a change (within the cadence)', () => analytics.ranking(tenant.id))
clearInterval(probe)
gcObserver.disconnect()
console.log(
  `  longest event-loop stall during the sliced computations: ${stall.toFixed(0)} ms ` +
    `(longest GC pause meanwhile: ${gcPause.toFixed(0)} ms)`,
)
