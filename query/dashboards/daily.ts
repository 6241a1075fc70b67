// Daily metrics per source (`/metrics/daily`), pure: for each tenant-local day of the
// range, the KPIs in total and per source (with its share of the day's GMV).
import { type View, kpiReport } from '../../stream/index.ts'
import type { BinRow } from './shared.ts'

export interface DailyInput {
  /** '1d' bins grouped by source and channel. */
  rows: BinRow[]
  days: { key: string; t: string }[]
  digits: number
  view: View
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
    days: input.days.map(({ key, t }) => {
      const { by_channel: _, by_source, ...total } = kpiReport(byDay.get(key) ?? [], input.digits, input.view)
      return { day: key, t, total, by_source }
    }),
  }
}
