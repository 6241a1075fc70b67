// Distinct customers per tenant-local day at each funnel step (docs/metrics.md, "Funnel"), by customer
// index. Each day's members sit in a sorted Int32Array (4 bytes each) with a small Set of recent
// additions merged into it now and then: a year of a million shoppers' days would cost ~10× as
// much as Set<string> entries.

export const FUNNEL_STEPS = ['product_viewed', 'cart_added', 'checkout_started', 'ordered'] as const
export type FunnelStep = (typeof FUNNEL_STEPS)[number]

class CompactSet {
  private sorted = new Int32Array(0)
  private pending: Set<number> | undefined

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
    const added = Int32Array.from(this.pending!).sort()
    const out = new Int32Array(this.sorted.length + added.length)
    let i = 0
    let j = 0
    let k = 0
    while (i < this.sorted.length || j < added.length)
      out[k++] =
        j >= added.length || (i < this.sorted.length && this.sorted[i] < added[j]) ? this.sorted[i++] : added[j++]
    this.sorted = out
    this.pending = undefined
  }
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
