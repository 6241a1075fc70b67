// Small helpers every dashboard shares: exact money by rates, ratios, the answer's header.
import { divRoundHalfAway, formatMinor, toDecimalString } from '../../common/money.ts'
import { answerHeader, binStarts } from '../../clickhouse/index.ts'
import { type MeasureRow, type Measures, type View, get } from '../../stream/index.ts'

/** [from, to) of a dashboard answer, with the instant it stands for. */
export interface Range {
  asOf: number
  from: number
  to: number
}

export interface ViewRange extends Range {
  view: View
}

/** a ÷ b as a JSON number; null when b is 0 (docs/metrics.md). */
export const ratio = (a: number, b: number): number | null => (b === 0 ? null : a / b)

/**
 * Period change (docs/metrics.md, "Compare"): (current − previous) ÷ previous; null when previous is 0 or unknown.
 */
export const change = (current: number | null, previous: number | null): number | null =>
  current === null || previous === null || previous === 0 ? null : (current - previous) / previous

export const moneyOf = (digits: number) => (minor: number) => formatMinor(minor, digits)

/**
 * minor × rate₁ × rate₂ …, multiplied exactly in decimal (a rate like 0.1 is one tenth, not the
 * nearest double) and rounded half away from zero to the minor unit once, at the end.
 */
export function timesRates(minor: number, ...rates: number[]): number {
  let numerator = BigInt(minor)
  let scale = 0
  for (const rate of rates) {
    const [whole, fraction = ''] = toDecimalString(rate).split('.')
    numerator *= BigInt(whole + fraction)
    scale += fraction.length
  }
  return Number(divRoundHalfAway(numerator, 10n ** BigInt(scale)))
}

/** a × b ÷ c rounded half away from zero, exact for any sizes (c ≠ 0). */
export const mulDiv = (a: number, b: number, c: number): number =>
  Number(divRoundHalfAway(BigInt(a) * BigInt(b), BigInt(c)))

/** The fields every dashboard answer opens with. */
export const header = answerHeader

/** Refund subtotal of the chosen view (docs/metrics.md, `view`). */
export const refundSubtotal = (m: Measures, view: View) =>
  get(m, view === 'order_date' ? 'refund_subtotal_od' : 'refund_subtotal')

/** Sorted keys, in code-unit order, for stable answers. */
export const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

/** A money string of an answer ("-12.34") → minor units, for ratios between answers. */
export const minorOf = (money: string): number => Number(money.replace('.', ''))

/** A KPI value (money string, count or ratio) as a number, for changes and shares. */
export const numberOf = (value: string | number | null): number | null =>
  typeof value === 'string' ? minorOf(value) : value

/** A row of `reader.measureRows` (its `BinnedRow`): summed measures of one bin and dimension combination. */
export type BinRow = MeasureRow & { bin: string }

/** Day bins a per-day answer may hold (27 years). */
export const MAX_DAYS = 10_000

/** Whether [from, to) holds more tenant-local days than a dashboard answers for. */
export function tooManyDays(timezone: string, from: number, to: number): boolean {
  // Days are 23 to 25 hours: a range this long is too long without counting its days one by one.
  if (to - from > (MAX_DAYS + 2) * 86_400_000) return true
  return binStarts(timezone, from, to, '1d').length > MAX_DAYS
}
