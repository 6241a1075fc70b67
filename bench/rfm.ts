// RFM and intent over a million customers, and the heap their state takes in the customer store.
//
//   node --expose-gc --import tsx bench/rfm.ts [--customers 1000000] [--orders-per-customer 2.5]
//
// 1. Heap: process.memoryUsage().heapUsed after a full GC, before and after filling a customer
//    store (stream/customers.ts) with N customers through its own API: their ids, 1–4 orders each
//    (city from a short list) and, for 40 % of them, 1–6 shopper events in 1–3 categories. Split
//    into: ids alone, the store with orders only, then with the shopper events.
// 2. Time: building the RFM facts from an order index (query/customer-analytics.ts factsOf), the
//    full ranking (rankRfm: id order + three sorts), one dashboard pass, a filtered pass, and the
//    intent summary over the store; then the same answers from the cache.
import { PerformanceObserver, performance } from 'node:perf_hooks'
import { defaultSettings } from '../common/settings.ts'
import { createCustomerAnalytics, factsOf } from '../query/customer-analytics.ts'
import { rankRfm, rfmDashboard } from '../query/rfm.ts'
import { event } from '../common/events.ts'
import { type OrderRecord, createProcessor, measureIndex, zeroMeasures } from '../stream/index.ts'
import { createCustomerStore } from '../stream/customers.ts'

const argv = process.argv.slice(2)
const arg = (name: string, fallback: number) => {
  const i = argv.indexOf(name)
  return i >= 0 ? Number(argv[i + 1]) : fallback
}
const N = arg('--customers', 1_000_000)
const ORDERS_PER_CUSTOMER = arg('--orders-per-customer', 2.5)
const gc = (globalThis as { gc?: () => void }).gc
if (!gc) throw new Error('run with node --expose-gc --import tsx bench/rfm.ts')

const DAY = 86_400_000
const AS_OF = Date.parse('2026-11-01T00:00:00Z')
const CITIES = ['Mumbai', 'Delhi', 'Pune', 'Chennai', 'Kolkata', 'Bangalore']
const CATEGORIES = ['apparel', 'beauty', 'electronics', 'footwear', 'groceries', 'sports']
const EVENT_WEIGHTS = [1, 1, 3, 5]
const HALF_LIFE = 24 * 3_600_000

let seed = 42
const rand = () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1))

const heap = () => {
  gc!()
  gc!()
  return process.memoryUsage().heapUsed
}
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`
const perCustomer = (bytes: number) => `${Math.round(bytes / N)} B/customer`
const time = <T>(label: string, fn: () => T): T => {
  const started = performance.now()
  const out = fn()
  console.log(`  ${label.padEnd(52)} ${(performance.now() - started).toFixed(0).padStart(6)} ms`)
  return out
}

console.log(`RFM / intent bench: ${N.toLocaleString('en')} customers, Node ${process.version}\n`)
// Measured first, on a clean heap; printed at the end.
const processorLines = processorFootprint()

// ---- 1. Heap of the customer store ----
/** Customer ids as the processor holds them: each parsed out of its own event body. */
const makeIds = () => Array.from({ length: N }, (_, i) => (JSON.parse(`{"customer_id":"cust-${(i * 7919) % N}-${i.toString(36)}"}`) as { customer_id: string }).customer_id)
// Warm-up: the same code paths at full size first, so lazily compiled code and the runtime's own
// first-use growth (string table, new space) are not charged to the customers.
{
  const warm = createCustomerStore()
  for (const id of makeIds()) {
    warm.order(id, AS_OF - DAY, 1000, CITIES[0], 1)
    warm.shopperEvent(id, AS_OF, 1, CATEGORIES[0], HALF_LIFE)
  }
}
const base = heap()
const ids = makeIds()
const withIds = heap()
const store = createCustomerStore()
let orderCount = 0
for (const id of ids) {
  const orders = int(1, 4)
  for (let k = 0; k < orders; k++) store.order(id, AS_OF - int(0, 1100) * DAY - int(0, DAY - 1), int(500, 50_000), CITIES[int(0, CITIES.length - 1)], 1)
  orderCount += orders
}
const withOrders = heap()
let eventCount = 0
for (const id of ids) {
  if (rand() >= 0.4) continue
  const events = int(1, 6)
  const categories = CATEGORIES.slice(int(0, 3)).slice(0, int(1, 3))
  for (let k = 0; k < events; k++) store.shopperEvent(id, AS_OF - int(0, 30 * DAY), EVENT_WEIGHTS[int(0, 3)], categories[k % categories.length], HALF_LIFE)
  eventCount += events
}
const withEvents = heap()
console.log('Heap (heapUsed after full GC):')
console.log(`  ids alone (strings parsed from event bodies + array) ${mb(withIds - base)} (${perCustomer(withIds - base)})`)
console.log(`  + store with ${orderCount.toLocaleString('en')} orders applied              ${mb(withOrders - withIds)} (${perCustomer(withOrders - withIds)})`)
console.log(`  + ${eventCount.toLocaleString('en')} shopper events (40 % of customers)   ${mb(withEvents - withOrders)} (${perCustomer(withEvents - withOrders)})`)
console.log(`  customer store total, ids included                   ${mb(withEvents - base)} (${perCustomer(withEvents - base)})`)

// What dominates: the same per-customer shape as stream/customers.ts, built three ways.
{
  const shape = (withMap: boolean) => ({ id: '', orders: 1, monetary: 12_345, firstOrderAt: AS_OF - 5 * DAY, lastOrderAt: AS_OF - DAY, city: 'Pune', events: 0, intentAt: Number.NEGATIVE_INFINITY, score: 0, categories: withMap ? new Map<string, number>() : undefined })
  const measure = (label: string, make: (i: number) => object) => {
    const before = heap()
    const map = new Map<string, object>()
    for (let i = 0; i < N; i++) map.set(ids[i], make(i))
    const after = heap()
    console.log(`  ${label.padEnd(52)} ${mb(after - before)} (${perCustomer(after - before)})`)
    return map.size
  }
  console.log('What a customer costs (ids excluded; the Map entry keyed by id included):')
  measure('Map entry only (id → a shared object)', () => CITIES)
  measure('+ a Customer object, categories absent', () => shape(false))
  measure('+ an empty categories Map each (as the store does)', () => shape(true))
}
console.log('')

// ---- 2. Time ----
// A minimal order index in the processor's shape, ORDERS_PER_CUSTOMER orders a customer on average.
const orders = new Map<string, OrderRecord>()
const totalOrders = Math.round(N * ORDERS_PER_CUSTOMER)
for (let k = 0; k < totalOrders; k++) {
  const totals = zeroMeasures()
  totals[measureIndex.gmv] = int(500, 50_000)
  totals[measureIndex.subtotal] = Math.round(totals[measureIndex.gmv] * 0.9)
  totals[measureIndex.cogs] = Math.round(totals[measureIndex.gmv] * 0.4)
  totals[measureIndex.units] = int(1, 5)
  const record = { windowTs: AS_OF - int(0, 1100) * DAY - int(0, DAY - 1), customer: k < N ? ids[k] : ids[int(0, N - 1)], totals, attachments: [] }
  orders.set(`o-${k}`, record as unknown as OrderRecord)
}
console.log(`Time (${totalOrders.toLocaleString('en')} orders of ${N.toLocaleString('en')} customers):`)
const facts = time('facts from the order index (factsOf)', () => factsOf(orders, AS_OF))
const ranking = time('full ranking (rankRfm: id order + R, F, M sorts)', () => rankRfm(facts, AS_OF))
time('dashboard pass, no filter (rfmDashboard)', () => rfmDashboard(ranking, 2))
time('dashboard pass, r=5', () => rfmDashboard(ranking, 2, { r: 5 }))
time('dashboard pass, one customer (binary search)', () => rfmDashboard(ranking, 2, { customerId: ids[12345] }))

const settings = defaultSettings()
let clock = AS_OF
const analytics = createCustomerAnalytics({ source: { orders: () => orders, customers: () => store, settings: () => settings }, now: () => clock })
const fallback = async () => 5_000
const timeAsync = async <T>(label: string, fn: () => Promise<T>): Promise<T> => {
  const started = performance.now()
  const out = await fn()
  console.log(`  ${label.padEnd(52)} ${(performance.now() - started).toFixed(0).padStart(6)} ms`)
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
await timeAsync('request after a change: facts + ranking (cache miss)', () => analytics.ranking('t', { asOf: AS_OF }))
await timeAsync('same request, state unchanged (cache hit)', () => analytics.ranking('t', { asOf: AS_OF }))
const intent = await timeAsync('intent summary over the store (store counts, no order pass)', () => analytics.intent('t', AS_OF, fallback))
await timeAsync('intent again (cache hit)', () => analytics.intent('t', AS_OF, fallback))
console.log(`  (high-intent users: ${intent.summary.high.length.toLocaleString('en')}, tracked ${intent.summary.usersTracked.toLocaleString('en')})`)
await timeAsync('as_of=now, first request: facts + ranking (miss)', () => analytics.ranking('t'))
analytics.changed('t')
clock += 1_000
await timeAsync('as_of=now 1 s after a change (within the cadence)', () => analytics.ranking('t'))
clearInterval(probe)
gcObserver.disconnect()
console.log(`  longest event-loop stall during the sliced computations: ${stall.toFixed(0)} ms (longest GC pause meanwhile: ${gcPause.toFixed(0)} ms)`)
console.log(`\nheapUsed at the end ${mb(process.memoryUsage().heapUsed)}`)

for (const line of ['', ...processorLines]) console.log(line)

// ---- 3. For scale: what the whole processor keeps per order (order index, dedup memory, customers) ----
function processorFootprint(): string[] {
  const P = arg('--processor-orders', 200_000)
  const tenant = { id: 'p', timezone: 'UTC', currency: 'USD' }
  const bodies = Array.from({ length: P }, (_, k) =>
    JSON.stringify({ id: `evt-${k}`, type: 'order.created', ts: AS_OF - int(0, 1100) * DAY, source: 'shopify', order_id: `ord-${k}`, customer_id: `cust-${k % Math.ceil(P / 2.5)}`, total: '118.00', subtotal: '100.00', tax: '18.00', channel: 'facebook', campaign_id: 'c1', location: { city: 'Pune' }, items: [{ sku: `sku-${k % 500}`, category: 'beauty', brand: 'lakme', quantity: 2, price: '50.00' }] }),
  )
  const before = heap()
  const processor = createProcessor({ dedupHorizonMs: 7 * DAY, latenessMs: 300_000 })
  for (const body of bodies) processor.apply(tenant, event.parse(JSON.parse(body)), { receivedAt: AS_OF })
  const after = heap()
  bodies.length = 0
  if (processor.orders(tenant.id).size !== P) throw new Error('orders missing')
  return [
    `Whole processor, for scale: ${P.toLocaleString('en')} order.created events of ${Math.ceil(P / 2.5).toLocaleString('en')} customers (one line item each):`,
    `  ${mb(after - before)}, ${Math.round((after - before) / P)} B per order (order index with its rollup rows, dedup ids, customers, funnel, feed);`,
    `  2.5M orders (1M customers at 2.5 each) would take ${mb(((after - before) / P) * 2.5e6)}`,
  ]
}
