// Per-customer state, in columns by customer index (ids interned in an IdTable): city, shopper
// events and the decayed intent score with its per-category weights. Orders, spend and first and
// last order are not counted here but read from the order index's per-customer chain, so an edit
// that moves an order (in time, or to another customer) leaves nothing stale behind.
//
// Intent (docs/metrics.md, events later than the query time ignored): each customer's RECENT_EVENTS
// newest shopper events are kept exactly; older ones are folded into one decayed score (and
// weight per category) at the newest folded event's time. A reading at or after that time is
// exact; an earlier one (a query far in the past of a very active customer) is flagged `exact:
// false`. Memory is bounded by RECENT_EVENTS per customer, whatever their traffic.
import { type IdChunk, IdTable, grown, put } from './id-table.ts'
import type { OrderIndex } from './order-index.ts'
import { chunked, rowRanges } from './snapshot.ts'

export const RECENT_EVENTS = 8

export interface Customer {
  index: number
  id: string
  /** Orders, Σ their totals (minor units), first and last order time: from the order index. */
  orders: number
  monetary: number
  firstOrderAt: number
  lastOrderAt: number
  city: string
  /** Shopper events seen. */
  events: number
  /** Newest shopper event time (−∞: none). */
  intentAt: number
  /** Intent score and category at intentAt (score to 6 decimals). */
  score: number
  category: string
}

export interface IntentReading {
  score: number
  category: string
  /** Shopper events at or before the reading time. */
  events: number
  /** False when some folded event may be later than the reading time (see above). */
  exact: boolean
}

/** A piece of a customer store in a snapshot: ids, names, counts, or a range of rows of its columns. */
export type CustomerChunk =
  | { ids: IdChunk }
  | { cities: string[] }
  | { categories: string[] }
  | {
      head: {
        shoppers: number
        recentUsed: number
        recentFree: number
        weightsUsed: number
        halfLifeMs: number
        eventWeights: Float64Array
      }
    }
  | { customers: { at: number; city: Int32Array; shopperSlot: Int32Array } }
  | {
      shoppers: {
        at: number
        events: Int32Array
        firstEventAt: Float64Array
        foldedCount: Int32Array
        foldedAt: Float64Array
        folded: Float64Array
        foldedCategories: Int32Array
        newest: Float64Array
        recentHead: Int32Array
      }
    }
  | { recent: { at: number; ts: Float64Array; weight: Uint16Array; category: Int32Array; next: Int32Array } }
  | { weights: { at: number; category: Int32Array; value: Float64Array; next: Int32Array } }

const NONE = Number.NEGATIVE_INFINITY
const decay = (ms: number, halfLifeMs: number) => 2 ** (-ms / halfLifeMs)
const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

export function createCustomerStore(orders: OrderIndex) {
  const ids = new IdTable()
  const cityNames: string[] = ['']
  const cityIds = new Map<string, number>([['', 0]])
  const categoryNames: string[] = []
  const categoryIds = new Map<string, number>()
  let city = new Int32Array(0)
  /** Slot + 1 in the columns below (0: no shopper event yet): most customers never make one. */
  let shopperSlot = new Int32Array(0)
  let shoppers = 0
  let events = new Int32Array(0)
  let firstEventAt = new Float64Array(0)
  /** Folded part: its events, its score at foldedAt, and the head (entry + 1) of its category weights. */
  let foldedCount = new Int32Array(0)
  let foldedAt = new Float64Array(0)
  let folded = new Float64Array(0)
  let foldedCategories = new Int32Array(0)
  /** Newest shopper event time, and the head (entry + 1) of the recent events, newest first. */
  let newest = new Float64Array(0)
  let recentHead = new Int32Array(0)
  // Recent events: time, weight, category (−1: none), next (entry + 1). Freed entries are reused.
  let recentTs = new Float64Array(0)
  /** Index into `eventWeights`: an event's weight is one of the tenant's few configured weights. */
  let recentWeight = new Uint16Array(0)
  const eventWeights: number[] = []
  const weightIds = new Map<number, number>()
  let recentCategory = new Int32Array(0)
  let recentNext = new Int32Array(0)
  let recentUsed = 0
  let recentFree = 0
  // Folded category weights: category, weight, next (entry + 1).
  let weightCategory = new Int32Array(0)
  let weightValue = new Float64Array(0)
  let weightNext = new Int32Array(0)
  let weightsUsed = 0
  /** The tenant's half-life as the latest shopper event was applied with: the `score` of a Customer record. */
  let tenantHalfLifeMs = 24 * 3_600_000

  function intern(id: string): number {
    const before = ids.size
    const i = ids.intern(id)
    if (ids.size === before) return i
    const n = i + 1
    city = grown(city, n)
    shopperSlot = grown(shopperSlot, n)
    return i
  }

  /** The customer's slot in the shopper columns, made on their first shopper event. */
  function slotOf(i: number): number {
    if (shopperSlot[i] !== 0) return shopperSlot[i] - 1
    const s = shoppers++
    events = grown(events, shoppers)
    firstEventAt = grown(firstEventAt, shoppers)
    foldedCount = grown(foldedCount, shoppers)
    foldedAt = grown(foldedAt, shoppers)
    folded = grown(folded, shoppers)
    foldedCategories = grown(foldedCategories, shoppers)
    newest = grown(newest, shoppers)
    recentHead = grown(recentHead, shoppers)
    foldedAt[s] = NONE
    newest[s] = NONE
    firstEventAt[s] = Number.POSITIVE_INFINITY
    shopperSlot[i] = s + 1
    return s
  }

  function categoryId(name: string | undefined): number {
    if (!name) return -1
    let id = categoryIds.get(name)
    if (id === undefined) categoryIds.set(name, (id = categoryNames.push(name) - 1))
    return id
  }

  function addFolded(s: number, ts: number, weight: number, category: number, halfLifeMs: number): void {
    foldedCount[s]++
    let add = weight
    if (ts >= foldedAt[s]) {
      const factor = foldedAt[s] === NONE ? 0 : decay(ts - foldedAt[s], halfLifeMs)
      folded[s] *= factor
      for (let e = foldedCategories[s]; e !== 0; e = weightNext[e - 1]) weightValue[e - 1] *= factor
      foldedAt[s] = ts
    } else {
      add = weight * decay(foldedAt[s] - ts, halfLifeMs)
    }
    folded[s] += add
    if (category < 0) return
    let e = foldedCategories[s]
    while (e !== 0 && weightCategory[e - 1] !== category) e = weightNext[e - 1]
    if (e === 0) {
      const entry = weightsUsed++
      weightCategory = grown(weightCategory, weightsUsed)
      weightValue = grown(weightValue, weightsUsed)
      weightNext = grown(weightNext, weightsUsed)
      weightCategory[entry] = category
      weightValue[entry] = 0
      weightNext[entry] = foldedCategories[s]
      foldedCategories[s] = e = entry + 1
    }
    weightValue[e - 1] += add
  }

  function newRecentEntry(): number {
    if (recentFree !== 0) {
      const entry = recentFree - 1
      recentFree = recentNext[entry]
      return entry
    }
    const entry = recentUsed++
    recentTs = grown(recentTs, recentUsed)
    recentWeight = grown(recentWeight, recentUsed)
    recentCategory = grown(recentCategory, recentUsed)
    recentNext = grown(recentNext, recentUsed)
    return entry
  }

  function shopperEvent(i: number, ts: number, weight: number, category: string | undefined, halfLifeMs: number): void {
    tenantHalfLifeMs = halfLifeMs
    const s = slotOf(i)
    events[s]++
    if (ts > newest[s]) newest[s] = ts
    if (ts < firstEventAt[s]) firstEventAt[s] = ts
    const cat = categoryId(category)
    let weightId = weightIds.get(weight)
    if (weightId === undefined && eventWeights.length <= 0xffff)
      weightIds.set(weight, (weightId = eventWeights.push(weight) - 1))
    // Older than what was folded already, it joins the folded part (all folded ≤ all recent); so
    // does an event whose weight no longer fits the table (65,536 distinct weights: never in practice).
    if (ts < foldedAt[s] || weightId === undefined) return addFolded(s, ts, weight, cat, halfLifeMs)
    const entry = newRecentEntry()
    recentTs[entry] = ts
    recentWeight[entry] = weightId
    recentCategory[entry] = cat
    // Newest first; among equal times, the earlier arrival first.
    let prev = 0
    let at = recentHead[s]
    let count = 0
    while (at !== 0 && recentTs[at - 1] >= ts) {
      prev = at
      at = recentNext[at - 1]
      count++
    }
    recentNext[entry] = at
    if (prev === 0) recentHead[s] = entry + 1
    else recentNext[prev - 1] = entry + 1
    // Past the limit, the oldest recent event is folded and its entry freed.
    for (count++; at !== 0; at = recentNext[at - 1]) {
      prev = at
      count++
    }
    if (count <= RECENT_EVENTS) return
    let beforeOldest = 0
    let oldest = recentHead[s]
    while (recentNext[oldest - 1] !== 0) {
      beforeOldest = oldest
      oldest = recentNext[oldest - 1]
    }
    addFolded(s, recentTs[oldest - 1], eventWeights[recentWeight[oldest - 1]], recentCategory[oldest - 1], halfLifeMs)
    recentNext[beforeOldest - 1] = 0
    recentNext[oldest - 1] = recentFree
    recentFree = oldest
  }

  function intent(i: number, at: number, halfLifeMs: number): IntentReading {
    const s = shopperSlot[i] - 1
    if (s < 0 || at < firstEventAt[s]) return { score: 0, category: '', events: 0, exact: true }
    const exact = foldedAt[s] === NONE || at >= foldedAt[s]
    const weights = new Map<number, number>()
    let score = 0
    let count = foldedCount[s]
    if (foldedAt[s] !== NONE) {
      // Too early to tell which folded events count: the folded part as it stood when folded.
      const factor = exact ? decay(at - foldedAt[s], halfLifeMs) : 1
      score = folded[s] * factor
      for (let e = foldedCategories[s]; e !== 0; e = weightNext[e - 1])
        weights.set(weightCategory[e - 1], weightValue[e - 1] * factor)
    }
    for (let e = recentHead[s]; e !== 0; e = recentNext[e - 1]) {
      const ts = recentTs[e - 1]
      if (ts > at) continue
      count++
      const add = eventWeights[recentWeight[e - 1]] * decay(at - ts, halfLifeMs)
      score += add
      const cat = recentCategory[e - 1]
      if (cat >= 0) weights.set(cat, (weights.get(cat) ?? 0) + add)
    }
    let category = ''
    let best = -1
    for (const [name, weight] of [...weights]
      .map(([id, w]) => [categoryNames[id], w] as const)
      .sort(([a], [b]) => byName(a, b))) {
      if (weight > best) {
        best = weight
        category = name
      }
    }
    return { score: Math.round(score * 1e6) / 1e6, category, events: count, exact }
  }

  /** Orders of the customer created before `before`, Σ their totals, first and last order time. */
  function ordersBefore(i: number, before = Number.POSITIVE_INFINITY) {
    let count = 0
    let monetary = 0
    let first = Number.POSITIVE_INFINITY
    let last = Number.NEGATIVE_INFINITY
    for (const slot of orders.ordersOf(i)) {
      const ts = orders.windowTs(slot)
      if (ts >= before) continue
      count++
      monetary += orders.gmv(slot)
      if (ts < first) first = ts
      if (ts > last) last = ts
    }
    return { orders: count, monetary, firstOrderAt: first, lastOrderAt: last }
  }

  function at(i: number, halfLifeMs = tenantHalfLifeMs): Customer {
    const s = shopperSlot[i] - 1
    const intentAt = s < 0 ? NONE : newest[s]
    const { score, category } = intent(i, intentAt, halfLifeMs)
    return {
      index: i,
      id: ids.idAt(i),
      ...ordersBefore(i),
      city: cityNames[city[i]],
      events: s < 0 ? 0 : events[s],
      intentAt,
      score,
      category,
    }
  }

  return {
    size: () => ids.size,
    /** The customer's index, or −1. */
    find: (id: string) => ids.find(id),
    /** The customer's index, created empty when new. */
    intern,
    idAt: (i: number) => ids.idAt(i),
    /** The city of the customer's latest processed order that named one ('' when none did). */
    cityOf: (i: number) => cityNames[city[i]],
    get(id: string): Customer | undefined {
      const i = id === '' ? -1 : ids.find(id)
      return i < 0 ? undefined : at(i)
    },
    at,
    /** The city of the customer's latest processed order that named one. */
    noteCity(i: number, name: string): void {
      if (!name) return
      let id = cityIds.get(name)
      if (id === undefined) cityIds.set(name, (id = cityNames.push(name) - 1))
      city[i] = id
    },
    shopperEvent,
    intent,
    ordersBefore,
    /** The whole store in chunks for a snapshot; copies, so later changes leave them as they were. */
    *exportChunks(): Generator<CustomerChunk> {
      for (const chunk of ids.exportChunks()) yield { ids: chunk }
      // City 0 is '', there from the start.
      for (const chunk of chunked(cityNames.slice(1))) yield { cities: chunk }
      for (const chunk of chunked(categoryNames)) yield { categories: chunk }
      yield {
        head: {
          shoppers,
          recentUsed,
          recentFree,
          weightsUsed,
          halfLifeMs: tenantHalfLifeMs,
          eventWeights: Float64Array.from(eventWeights),
        },
      }
      for (const [from, to] of rowRanges(ids.size, 8))
        yield { customers: { at: from, city: city.slice(from, to), shopperSlot: shopperSlot.slice(from, to) } }
      for (const [from, to] of rowRanges(shoppers, 48))
        yield {
          shoppers: {
            at: from,
            events: events.slice(from, to),
            firstEventAt: firstEventAt.slice(from, to),
            foldedCount: foldedCount.slice(from, to),
            foldedAt: foldedAt.slice(from, to),
            folded: folded.slice(from, to),
            foldedCategories: foldedCategories.slice(from, to),
            newest: newest.slice(from, to),
            recentHead: recentHead.slice(from, to),
          },
        }
      for (const [from, to] of rowRanges(recentUsed, 18))
        yield {
          recent: {
            at: from,
            ts: recentTs.slice(from, to),
            weight: recentWeight.slice(from, to),
            category: recentCategory.slice(from, to),
            next: recentNext.slice(from, to),
          },
        }
      for (const [from, to] of rowRanges(weightsUsed, 16))
        yield {
          weights: {
            at: from,
            category: weightCategory.slice(from, to),
            value: weightValue.slice(from, to),
            next: weightNext.slice(from, to),
          },
        }
    },
    /** Loads the next chunk of `exportChunks` (into an empty store first). */
    importChunk(chunk: CustomerChunk): void {
      if ('ids' in chunk) ids.importChunk(chunk.ids)
      else if ('cities' in chunk) for (const name of chunk.cities) cityIds.set(name, cityNames.push(name) - 1)
      else if ('categories' in chunk)
        for (const name of chunk.categories) categoryIds.set(name, categoryNames.push(name) - 1)
      else if ('head' in chunk) {
        const h = chunk.head
        ;({ shoppers, recentUsed, recentFree, weightsUsed } = h)
        tenantHalfLifeMs = h.halfLifeMs
        for (const weight of h.eventWeights) weightIds.set(weight, eventWeights.push(weight) - 1)
      } else if ('customers' in chunk) {
        const c = chunk.customers
        city = put(city, c.at, c.city)
        shopperSlot = put(shopperSlot, c.at, c.shopperSlot)
      } else if ('shoppers' in chunk) {
        const c = chunk.shoppers
        events = put(events, c.at, c.events)
        firstEventAt = put(firstEventAt, c.at, c.firstEventAt)
        foldedCount = put(foldedCount, c.at, c.foldedCount)
        foldedAt = put(foldedAt, c.at, c.foldedAt)
        folded = put(folded, c.at, c.folded)
        foldedCategories = put(foldedCategories, c.at, c.foldedCategories)
        newest = put(newest, c.at, c.newest)
        recentHead = put(recentHead, c.at, c.recentHead)
      } else if ('recent' in chunk) {
        const c = chunk.recent
        recentTs = put(recentTs, c.at, c.ts)
        recentWeight = put(recentWeight, c.at, c.weight)
        recentCategory = put(recentCategory, c.at, c.category)
        recentNext = put(recentNext, c.at, c.next)
      } else {
        const c = chunk.weights
        weightCategory = put(weightCategory, c.at, c.category)
        weightValue = put(weightValue, c.at, c.value)
        weightNext = put(weightNext, c.at, c.next)
      }
    },
    /** Bytes held in columns, for memory accounting. */
    byteSize(): number {
      const columns = [
        city,
        shopperSlot,
        events,
        firstEventAt,
        foldedCount,
        foldedAt,
        folded,
        foldedCategories,
        newest,
        recentHead,
        recentTs,
        recentWeight,
        recentCategory,
        recentNext,
        weightCategory,
        weightValue,
        weightNext,
      ]
      return ids.byteSize() + columns.reduce((sum, a) => sum + a.byteLength, 0)
    },
  }
}

export type CustomerStore = ReturnType<typeof createCustomerStore>
