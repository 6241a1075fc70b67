// Period comparison (`/metrics/compare`), pure: the KPIs of the current range and of the
// comparison range (by default the previous one: equal length, ending where the current one
// starts; or the same calendar dates a year earlier; or any range given), and each figure's
// change as a fraction, (current − previous) ÷ previous, null when the previous value is 0 or null.
import { DateTime } from 'luxon'
import { badRequest } from '../../common/errors.ts'
import {
  type CustomerGroupSums,
  type CustomerGroups,
  type Kpis,
  type MeasureRow,
  type View,
  customerGroupFigures,
  kpiReport,
  zeroGroupSums,
} from '../../stream/index.ts'
import { byName, change, numberOf } from './shared.ts'

export type Changes<K extends Kpis = Kpis> = Record<keyof K, number | null>

export function changesOf<K extends Kpis>(current: K, previous: K): Changes<K> {
  return Object.fromEntries(
    (Object.keys(current) as (keyof K & string)[]).map((k) => [
      k,
      change(numberOf(current[k] as string | number | null), numberOf(previous[k] as string | number | null)),
    ]),
  ) as Changes<K>
}

/** The range before [from, to) of the same length. */
export const previousRange = (from: number, to: number) => ({ from: from - (to - from), to: from })

/** `compare=` values; `custom` is what `compare_from` and `compare_to` give. */
export const COMPARE_MODES = ['previous_period', 'previous_year'] as const
export type CompareMode = (typeof COMPARE_MODES)[number] | 'custom'

/** Which range the current one is compared with. */
export type Comparison =
  | { mode: 'previous_period' }
  | { mode: 'previous_year' }
  | { mode: 'custom'; from: number; to: number }

/**
 * The same tenant-local wall-clock time one calendar year earlier (luxon's `minus({ years: 1 })`):
 * 29 February → 28 February; a time that does not exist that day (a daylight-saving gap) moves
 * forward by the gap; a time that occurs twice keeps the offset it had when that offset is one of its two.
 */
export function yearEarlier(ms: number, timezone: string): number {
  const earlier = DateTime.fromMillis(ms, { zone: timezone }).minus({ years: 1 }).toMillis()
  if (Number.isNaN(earlier)) throw new Error(`no calendar year before ${new Date(ms).toISOString()} in ${timezone}`)
  return earlier
}

/** A comparison range, with the mode that gave it. */
export interface ComparisonRange {
  mode: CompareMode
  from: number
  to: number
}

/**
 * The comparison range of [from, to) in the tenant's zone. previous_year maps from and to each by
 * `yearEarlier`; when that leaves nothing (28 Feb 10:00 → 29 Feb 10:00 of a leap year: both become
 * 28 Feb 10:00), a 400 says so rather than comparing with an empty range.
 */
export function comparisonRange(
  current: { from: number; to: number },
  comparison: Comparison,
  timezone: string,
): ComparisonRange {
  switch (comparison.mode) {
    case 'previous_period':
      return { mode: 'previous_period', ...previousRange(current.from, current.to) }
    case 'previous_year': {
      const from = yearEarlier(current.from, timezone)
      const to = yearEarlier(current.to, timezone)
      if (to <= from) {
        const message =
          `previous_year: from and to one calendar year earlier (${new Date(from).toISOString()}, ` +
          `${new Date(to).toISOString()}) leave an empty range; give compare_from and compare_to`
        throw badRequest(`invalid query parameters: compare: ${message}`, [{ path: 'compare', message }])
      }
      return { mode: 'previous_year', from, to }
    }
    case 'custom':
      return { mode: 'custom', from: comparison.from, to: comparison.to }
  }
}

/** The comparison parameters as parsed (instants in epoch ms). */
export interface ComparisonParams {
  compare?: (typeof COMPARE_MODES)[number]
  compare_from?: number
  compare_to?: number
}

/**
 * Which comparison the parameters ask for: `compare_from` and `compare_to` together (`custom`), or
 * `compare=` (default `previous_period`), never both. A 400 names the parameter at fault.
 */
export function comparisonOf(p: ComparisonParams): Comparison {
  const fail = (path: string, message: string) => {
    throw badRequest(`invalid query parameters: ${path}: ${message}`, [{ path, message }])
  }
  const hasFrom = p.compare_from !== undefined
  const hasTo = p.compare_to !== undefined
  if (!hasFrom && !hasTo) return { mode: p.compare ?? 'previous_period' }
  if (p.compare !== undefined) fail('compare', 'give either compare= or compare_from and compare_to, not both')
  if (!hasFrom) fail('compare_from', 'compare_to needs compare_from')
  if (!hasTo) fail('compare_to', 'compare_from needs compare_to')
  const from = p.compare_from as number
  const to = p.compare_to as number
  if (to <= from)
    fail(
      'compare_to',
      `compare_to (${new Date(to).toISOString()}) must be after compare_from (${new Date(from).toISOString()})`,
    )
  return { mode: 'custom', from, to }
}

export interface CompareInput {
  /** Rows grouped by source and channel over each range. */
  current: MeasureRow[]
  previous: MeasureRow[]
  /** ISO bounds of both ranges, carried into the answer. */
  ranges: { current: { from: string; to: string }; previous: { from: string; to: string } }
  /** How the previous (comparison) range was chosen; default `previous_period`. */
  mode?: CompareMode
  digits: number
  view: View
  /** New, returning and guest figures of each range; default none. */
  groups?: { current: CustomerGroupSums; previous: CustomerGroupSums }
}

export function compareOf(input: CompareInput) {
  const cur = kpiReport(input.current, input.digits, input.view)
  const prev = kpiReport(input.previous, input.digits, input.view)
  const { by_channel: _c, by_source: curSources, ...curKpis } = cur
  const { by_channel: _p, by_source: prevSources, ...prevKpis } = prev
  const figures = (g: CustomerGroupSums | undefined): CustomerGroups =>
    customerGroupFigures(g ?? zeroGroupSums(), input.digits)
  const current = { ...curKpis, ...figures(input.groups?.current) }
  const previous = { ...prevKpis, ...figures(input.groups?.previous) }
  const empty = kpiReport([], input.digits, input.view)
  const { by_channel: _e, by_source: _s, ...none } = empty
  const sources = [...new Set([...Object.keys(curSources), ...Object.keys(prevSources)])].sort(byName)
  return {
    view: input.view,
    compare: { mode: input.mode ?? 'previous_period', ...input.ranges.previous },
    current: { ...input.ranges.current, ...current },
    previous: { ...input.ranges.previous, ...previous },
    change: changesOf(current, previous),
    by_source: Object.fromEntries(
      sources.map((s) => {
        const { gmv_share: _a, ...c } = curSources[s] ?? { ...none, gmv_share: null }
        const { gmv_share: _b, ...p } = prevSources[s] ?? { ...none, gmv_share: null }
        return [s, { current: c, previous: p, change: changesOf(c, p) }]
      }),
    ),
  }
}
