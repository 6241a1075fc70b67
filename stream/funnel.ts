// Distinct customers per tenant-local day at each funnel step (docs/metrics.md, "Funnel"), by customer
// index. Each day's members sit in a sorted Int32Array (4 bytes each) with a small Set of recent
// additions merged into it now and then: a year of a million shoppers' days would cost ~10× as
// much as Set<string> entries.
import { bytesWeight, chunked } from './snapshot.ts'

export const FUNNEL_STEPS = ['product_viewed', 'cart_added', 'checkout_started', 'ordered'] as const
export type FunnelStep = (typeof FUNNEL_STEPS)[number]

/**
 * Some days of a tenant's funnel in a snapshot: each day's customers per step, sorted, one after
 * another in `members` (sizes: per day, per step). One array, not one per day and step: each typed
 * array costs ~2 µs to serialize, as much as ~20 map entries.
 */
export interface FunnelChunk {
  days: string[]
  sizes: Int32Array
  members: Int32Array
}

class CompactSet {
  private sorted: Int32Array = new Int32Array(0)
  private pending: Set<number> | undefined

  /** A set of these members; it keeps the array, which it never changes in place. */
  static of(sorted: Int32Array): CompactSet {
    const set = new CompactSet()
    set.sorted = sorted
    return set
  }

  /** The members, sorted, in a new array. */
  members(): Int32Array {
    return this.pending ? merged(this.sorted, this.pending) : this.sorted.slice()
  }

  get size(): number {
    return this.sorted.length + (this.pending?.size ?? 0)
  }

  add(value: number): void {
    if (this.pending?.has(value) || this.indexOf(value) >= 0) return
    ;(this.pending ??= new Set()).add(value)
    if (this.pending.size > 64 + this.sorted.length / 8) this.merge()
  }

  delete(value: number): void {
    if (this.pending?.delete(value)) return
    const i = this.indexOf(value)
    if (i >= 0) this.sorted = Int32Array.from([...this.sorted.subarray(0, i), ...this.sorted.subarray(i + 1)])
  }

  private indexOf(value: number): number {
    let lo = 0
    let hi = this.sorted.length - 1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      const v = this.sorted[mid]
      if (v === value) return mid
      if (v < value) lo = mid + 1
      else hi = mid - 1
    }
    return -1
  }

  private merge(): void {
    this.sorted = merged(this.sorted, this.pending!)
    this.pending = undefined
  }
}

function merged(sorted: Int32Array, pending: Set<number>): Int32Array {
  const added = Int32Array.from(pending).sort()
  const out = new Int32Array(sorted.length + added.length)
  let i = 0
  let j = 0
  let k = 0
  while (i < sorted.length || j < added.length)
    out[k++] = j >= added.length || (i < sorted.length && sorted[i] < added[j]) ? sorted[i++] : added[j++]
  return out
}

export function createFunnel() {
  const days = new Map<string, Map<string, CompactSet[]>>()
  const setsOf = (tenant: string, day: string) => days.get(tenant)?.get(day)
  return {
    add(tenant: string, day: string, step: FunnelStep, customer: number): void {
      let byDay = days.get(tenant)
      if (!byDay) days.set(tenant, (byDay = new Map()))
      let sets = byDay.get(day)
      if (!sets) byDay.set(day, (sets = FUNNEL_STEPS.map(() => new CompactSet())))
      sets[FUNNEL_STEPS.indexOf(step)].add(customer)
    },
    /** Takes a customer back from a step (an edit moved their only order of that day). */
    remove(tenant: string, day: string, step: FunnelStep, customer: number): void {
      setsOf(tenant, day)?.[FUNNEL_STEPS.indexOf(step)].delete(customer)
    },
    /** Forgets a tenant's days (its partition moved to another node). */
    drop(tenant: string): void {
      days.delete(tenant)
    },
    /** A tenant's days in chunks for a snapshot. */
    *exportTenant(tenant: string): Generator<FunnelChunk> {
      function* byDay(): Generator<[string, Int32Array[]]> {
        for (const [day, sets] of days.get(tenant) ?? []) yield [day, sets.map((s) => s.members())]
      }
      const weightOf = ([, steps]: [string, Int32Array[]]) =>
        1 + bytesWeight(steps.reduce((n, m) => n + m.byteLength, 0))
      for (const chunk of chunked(byDay(), weightOf)) {
        const steps = chunk.flatMap(([, sets]) => sets)
        const members = new Int32Array(steps.reduce((n, m) => n + m.length, 0))
        let at = 0
        for (const m of steps) {
          members.set(m, at)
          at += m.length
        }
        yield { days: chunk.map(([day]) => day), sizes: Int32Array.from(steps, (m) => m.length), members }
      }
    },
    /** Loads the next chunk of `exportTenant`. */
    importTenant(tenant: string, chunk: FunnelChunk): void {
      let byDay = days.get(tenant)
      if (!byDay) days.set(tenant, (byDay = new Map()))
      let at = 0
      for (const [d, day] of chunk.days.entries()) {
        const sets = FUNNEL_STEPS.map((_, step) => {
          const size = chunk.sizes[d * FUNNEL_STEPS.length + step]
          at += size
          return CompactSet.of(chunk.members.slice(at - size, at))
        })
        byDay.set(day, sets)
      }
    },
    /** Counts per step for each day in [fromDay, toDay] that has any. */
    counts(tenant: string, fromDay: string, toDay: string): { day: string; counts: number[] }[] {
      const out = []
      for (const [day, sets] of days.get(tenant) ?? []) {
        const counts = sets.map((s) => s.size)
        if (day >= fromDay && day <= toDay && counts.some((n) => n > 0)) out.push({ day, counts })
      }
      return out.sort((a, b) => (a.day < b.day ? -1 : 1))
    },
  }
}
