// Distinct customers per tenant-local day at each funnel step (SPEC §4 funnel).

export const FUNNEL_STEPS = ['product_viewed', 'cart_added', 'checkout_started', 'ordered'] as const
export type FunnelStep = (typeof FUNNEL_STEPS)[number]

export function createFunnel() {
  const days = new Map<string, Map<string, Set<string>[]>>()
  return {
    add(tenant: string, day: string, step: FunnelStep, customer: string): void {
      let byDay = days.get(tenant)
      if (!byDay) days.set(tenant, (byDay = new Map()))
      let sets = byDay.get(day)
      if (!sets) byDay.set(day, (sets = FUNNEL_STEPS.map(() => new Set<string>())))
      sets[FUNNEL_STEPS.indexOf(step)].add(customer)
    },
    /** Counts per step for each day in [fromDay, toDay] that has any. */
    counts(tenant: string, fromDay: string, toDay: string): { day: string; counts: number[] }[] {
      const out = []
      for (const [day, sets] of days.get(tenant) ?? []) if (day >= fromDay && day <= toDay) out.push({ day, counts: sets.map((s) => s.size) })
      return out.sort((a, b) => (a.day < b.day ? -1 : 1))
    },
  }
}
