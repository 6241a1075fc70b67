// The day window of the sources whose figures settle over days (ad spend, campaign statistics):
// each sync reads again the last `restate_days` before where the previous one ended, and each
// row is a statement that replaces the earlier one of its day.
import type { SyncContext } from './types.ts'
import { addDays, dayOf } from './values.ts'

export interface RestateConfig {
  /** Days read on the first sync. */
  backfill_days: number
  /** Days read again on each later sync. */
  restate_days: number
}

/** Tenant-local days `since`..`until` (inclusive) to read; return `{ until }` as the next cursor. */
export function restateWindow(
  ctx: Pick<SyncContext<unknown>, 'cursor' | 'now' | 'tenant'>,
  config: RestateConfig,
): { since: string; until: string } {
  const cursor = ctx.cursor as { until?: string } | undefined
  const until = dayOf(ctx.now(), ctx.tenant.timezone)
  const since = cursor?.until
    ? addDays(cursor.until, -config.restate_days)
    : addDays(until, -(config.backfill_days - 1))
  return { since, until }
}
