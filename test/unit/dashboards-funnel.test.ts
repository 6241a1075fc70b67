import { describe, expect, it } from 'vitest'
import { funnelOf, funnelSteps } from '../../query/dashboards/funnel.ts'

describe('funnel', () => {
  it('conversion is each step ÷ the previous, drop-off its complement; null after a zero', () => {
    expect(funnelSteps([100, 40, 10, 0])).toEqual([
      { step: 'product_viewed', count: 100, conversion: null, drop_off: null },
      { step: 'cart_added', count: 40, conversion: 0.4, drop_off: 0.6 },
      { step: 'checkout_started', count: 10, conversion: 0.25, drop_off: 0.75 },
      { step: 'ordered', count: 0, conversion: 0, drop_off: 1 },
    ])
    expect(funnelSteps([0, 0, 3, 3]).map((s) => s.conversion)).toEqual([null, null, null, 1])
  })

  it('lists every day of the range, empty ones included, and adds the days up', () => {
    const days = [
      { key: '2026-01-01', t: '2026-01-01T00:00:00Z' },
      { key: '2026-01-02', t: '2026-01-02T00:00:00Z' },
    ]
    const f = funnelOf([{ day: '2026-01-02', counts: [10, 5, 2, 1] }], days)
    expect(f.days.map((d) => [d.day, d.steps.map((s) => s.count)])).toEqual([
      ['2026-01-01', [0, 0, 0, 0]],
      ['2026-01-02', [10, 5, 2, 1]],
    ])
    expect(f.totals.map((s) => s.count)).toEqual([10, 5, 2, 1])
    expect(f.conversion).toBe(0.1)
    expect(f.steps).toEqual(['product_viewed', 'cart_added', 'checkout_started', 'ordered'])
  })
})
