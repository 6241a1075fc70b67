// Daily metrics per source (`/metrics/daily`), pure: for each tenant-local day of the
// range, the KPIs in total and per source (with its share of the day's GMV).
import {
  type CustomerGroupSums,
  type View,
  customerGroupFigures,
  kpiReport,
  zeroGroupSums,
} from '../../stream/index.ts'
import type { BinRow } from './shared.ts'

export interface DailyInput {
  /** '1d' bins grouped by source and channel. */
  rows: BinRow[]
  days: { key: string; t: string }[]
  digits: number
  view: View
  /** New, returning and guest figures of each day (same order as `days`); default none. */
  groups?: CustomerGroupSums[]
}

export function dailyOf(input: DailyInput) {
  const byDay = new Map<string, BinRow[]>()
  for (const r of input.rows) {
    let list = byDay.get(r.bin)
    if (!list) byDay.set(r.bin, (list = []))
    list.push(r)
  }
  return {
    view: input.view,
    days: input.days.map(({ key, t }, i) => {
      const { by_channel: _, by_source, ...kpis } = kpiReport(byDay.get(key) ?? [], input.digits, input.view)
      const groups = customerGroupFigures(input.groups?.[i] ?? zeroGroupSums(), input.digits)
      return { day: key, t, total: { ...kpis, ...groups }, by_source }
    }),
  }
}
