// Period comparison (`/metrics/compare`), pure: the KPIs of the current range and
// of the previous one (equal length, ending where the current one starts), and each figure's
// change as a fraction, (current − previous) ÷ previous, null when the previous value is 0 or null.
import { type Kpis, type MeasureRow, type View, kpiReport } from '../../stream/index.ts'
import { byName, change, numberOf } from './shared.ts'

export type Changes = Record<keyof Kpis, number | null>

export function changesOf(current: Kpis, previous: Kpis): Changes {
  return Object.fromEntries(
    (Object.keys(current) as (keyof Kpis)[]).map((k) => [k, change(numberOf(current[k]), numberOf(previous[k]))]),
  ) as Changes
}

/** The range before [from, to) of the same length. */
export const previousRange = (from: number, to: number) => ({ from: from - (to - from), to: from })

export interface CompareInput {
  /** Rows grouped by source and channel over each range. */
  current: MeasureRow[]
  previous: MeasureRow[]
  /** ISO bounds of both ranges, carried into the answer. */
  ranges: { current: { from: string; to: string }; previous: { from: string; to: string } }
  digits: number
  view: View
}

export function compareOf(input: CompareInput) {
  const cur = kpiReport(input.current, input.digits, input.view)
  const prev = kpiReport(input.previous, input.digits, input.view)
  const { by_channel: _c, by_source: curSources, ...current } = cur
  const { by_channel: _p, by_source: prevSources, ...previous } = prev
  const empty = kpiReport([], input.digits, input.view)
  const { by_channel: _e, by_source: _s, ...none } = empty
  const sources = [...new Set([...Object.keys(curSources), ...Object.keys(prevSources)])].sort(byName)
  return {
    view: input.view,
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
