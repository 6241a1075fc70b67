// The `low_stock` alert kind (docs/alerts.md, docs/inventory.md): pure evaluation at its threshold.
import { describe, expect, it } from 'vitest'
import { lowStock } from '../../alerts/evaluate.ts'
import { type RuleOf, ruleInput } from '../../alerts/rules.ts'
import { type InventoryRow, daysOfCover } from '../../stream/index.ts'

const rule = (input: Record<string, unknown> = {}) =>
  ({ id: 'low', ...ruleInput.parse({ kind: 'low_stock', ...input }) }) as RuleOf<'low_stock'>
const row = (sku: string, available: number, units: number): InventoryRow => ({
  sku,
  available,
  locations: [],
  units_28d: units,
  days_of_cover: daysOfCover(available, units),
  stock_out: available <= 0,
})
const window = { from_day: '2026-10-26', to_day: '2026-11-22' }

describe('low_stock', () => {
  it('defaults to 7 days', () => {
    expect(rule().days).toBe(7)
    expect(ruleInput.safeParse({ kind: 'low_stock', days: 0 }).success).toBe(false)
  })

  it('fires when a SKU that sold has cover under the threshold, naming the SKUs lowest cover first; quiet at it', () => {
    // 7 × 4 ÷ 28 = 1 unit a day: 7 available is exactly 7 days (quiet), 6 is 6 days (fires).
    expect(lowStock(rule(), [row('tee', 7, 28)], window)).toMatchObject({ breached: false, cleared: true })
    const obs = lowStock(rule(), [row('tee', 6, 28), row('mug', 0, 3), row('cap', 0, 0), row('hat', 100, 28)], window)
    expect(obs.breached).toBe(true)
    expect(obs.cleared).toBe(false)
    expect(obs.subject).toBe('')
    expect(obs.figures).toEqual({
      window_from_day: '2026-10-26',
      window_to_day: '2026-11-22',
      days: 7,
      sku_count: 2,
      skus: 'mug, tee',
      days_of_cover: 'mug=0, tee=6',
      available: 'mug=0, tee=6',
      units_28d: 'mug=3, tee=28',
    })
    expect(obs.message).toBe('2 SKUs under 7 days of cover: mug 0 days (0 available), tee 6 days (6 available)')
  })

  it('a SKU without sales in 28 days never counts, even out of stock', () => {
    expect(lowStock(rule({ days: 30 }), [row('cap', -5, 0)], window).breached).toBe(false)
  })
})
