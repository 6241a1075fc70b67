// Per-customer state kept incrementally: order count, spend, first and last order, city, and the
// decayed intent score with its per-category weights. Scores are kept at a reference time (the
// newest shopper event) and decayed on read, so an event costs O(1).

export interface Customer {
  id: string
  orders: number
  /** Σ order totals, minor units. */
  monetary: number
  firstOrderAt: number
  lastOrderAt: number
  city: string
  /** Shopper events seen. */
  events: number
  intentAt: number
  score: number
  /** Decayed weight per category; created with the first categorised event (most customers have none). */
  categories?: Map<string, number>
}

export interface IntentReading {
  score: number
  category: string
}

const decay = (ms: number, halfLifeMs: number) => 2 ** (-ms / halfLifeMs)

export function createCustomerStore() {
  const customers = new Map<string, Customer>()

  function get(id: string): Customer {
    let c = customers.get(id)
    if (!c) {
      c = { id, orders: 0, monetary: 0, firstOrderAt: Number.POSITIVE_INFINITY, lastOrderAt: Number.NEGATIVE_INFINITY, city: '', events: 0, intentAt: Number.NEGATIVE_INFINITY, score: 0 }
      customers.set(id, c)
    }
    return c
  }

  return {
    get: (id: string) => customers.get(id),
    all: () => customers.values(),
    size: () => customers.size,
    /** An order counted for a customer (sign −1 takes it back, when an edit moves it). */
    order(id: string, ts: number, total: number, city: string, sign: 1 | -1): void {
      const c = get(id)
      c.orders += sign
      c.monetary += sign * total
      if (sign === 1) {
        c.firstOrderAt = Math.min(c.firstOrderAt, ts)
        c.lastOrderAt = Math.max(c.lastOrderAt, ts)
        if (city) c.city = city
      }
    },
    shopperEvent(id: string, ts: number, weight: number, category: string | undefined, halfLifeMs: number): void {
      const c = get(id)
      c.events++
      let add = weight
      if (ts >= c.intentAt) {
        const factor = c.intentAt === Number.NEGATIVE_INFINITY ? 0 : decay(ts - c.intentAt, halfLifeMs)
        c.score *= factor
        for (const [k, v] of c.categories ?? []) c.categories!.set(k, v * factor)
        c.intentAt = ts
      } else {
        add = weight * decay(c.intentAt - ts, halfLifeMs)
      }
      c.score += add
      if (category) {
        c.categories ??= new Map()
        c.categories.set(category, (c.categories.get(category) ?? 0) + add)
      }
    },
    touch: (id: string) => void get(id),
  }
}

export type CustomerStore = ReturnType<typeof createCustomerStore>

/** Intent at `at` (SPEC §4): score rounded to 6 decimals; category of largest weight, ties by name. */
export function intentOf(c: Customer, at: number, halfLifeMs: number): IntentReading {
  if (c.intentAt === Number.NEGATIVE_INFINITY) return { score: 0, category: '' }
  const factor = decay(at - c.intentAt, halfLifeMs)
  let category = ''
  let best = -1
  for (const [name, weight] of [...(c.categories ?? [])].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (weight > best) {
      best = weight
      category = name
    }
  }
  return { score: Math.round(c.score * factor * 1e6) / 1e6, category }
}
