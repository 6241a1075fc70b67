// Start-up: make history consistent, then rebuild live state by replaying it. The events table
// says which flushes committed; rollup rows of any later flush are removed. Replaying every
// committed event through the same processor restores the order index, standing statements,
// dedup memory and freshness exactly; JetStream then redelivers what was never acknowledged.
import type { ClickHouseClient } from '@clickhouse/client'
import { DIMENSIONS, type Delta, MEASURES, type Processor, type TenantDirectory, decodeEvent } from '../stream/index.ts'
import type { TenantRef } from '../tenants/index.ts'
import { type Log, silentLog } from '../common/log.ts'
import { rows } from './client.ts'

const keys = ['tenant', 'local_day', ...DIMENSIONS]
export const reconcileHoursSql = `
  INSERT INTO pulse.rollup_hour (minute, ${keys.join(', ')}, ${MEASURES.join(', ')})
  WITH touched AS (
    SELECT DISTINCT tenant, toStartOfHour(minute) AS hour FROM pulse.rollup_minute WHERE flush_id > {last:UInt64}
  )
  SELECT hour, ${keys.join(', ')}, ${MEASURES.map((m) => `sum(${m})`).join(', ')}
  FROM (
    SELECT toStartOfHour(minute) AS hour, ${keys.join(', ')}, ${MEASURES.join(', ')} FROM pulse.rollup_minute
    WHERE flush_id <= {last:UInt64} AND (tenant, toStartOfHour(minute)) IN touched
    UNION ALL
    SELECT minute AS hour, ${keys.join(', ')}, ${MEASURES.map((m) => `-${m}`).join(', ')} FROM pulse.rollup_hour
    WHERE (tenant, minute) IN touched)
  GROUP BY hour, ${keys.join(', ')}
  HAVING ${MEASURES.map((m) => `sum(${m}) != 0`).join(' OR ')}`

/**
 * Removes rollup rows of flushes after `lastCommitted`: at start, and when the flusher gives up a
 * flush whose events ClickHouse refused (no flush runs meanwhile, as flushes are serial).
 */
export async function removeUncommitted(
  client: ClickHouseClient,
  lastCommitted: number,
  log: Log = silentLog,
): Promise<void> {
  const count = 'SELECT count() AS orphans FROM pulse.rollup_minute WHERE flush_id > {last:UInt64}'
  const [{ orphans }] = await rows<{ orphans: string }>(client, count, { last: lastCommitted })
  if (Number(orphans) === 0) return
  log.warn({ rows: Number(orphans) }, 'removing rollup rows of a flush that did not commit')
  // The hourly view saw those rows but never sees a delete: first set its touched hours back
  // to the committed minute rows (idempotent, so a crash during recovery is harmless).
  await client.command({ query: reconcileHoursSql, query_params: { last: lastCommitted } })
  await client.command({
    query: 'ALTER TABLE pulse.rollup_minute DELETE WHERE flush_id > {last:UInt64}',
    query_params: { last: lastCommitted },
    clickhouse_settings: { mutations_sync: '2' },
  })
}

interface ArchivedRow {
  tenant: string
  received_at: string
  fx: string
  raw: string
}

/** `onApplied` is told the deltas of every replayed event, as the stream consumer's hook is (alerts' aggregate). */
export async function recover(
  client: ClickHouseClient,
  processor: Processor,
  tenants: TenantDirectory,
  log: Log = silentLog,
  onApplied?: (tenant: TenantRef, deltas: Delta[]) => void,
) {
  const [{ committed }] = await rows<{ committed: string }>(
    client,
    'SELECT max(flush_id) AS committed FROM pulse.events',
  )
  const lastCommitted = Number(committed)
  await removeUncommitted(client, lastCommitted, log)

  const result = await client.query({
    query:
      'SELECT tenant, toUnixTimestamp64Milli(received_at) AS received_at, fx, raw ' +
      'FROM pulse.events ORDER BY flush_id, seq',
    format: 'JSONEachRow',
  })
  let replayed = 0
  for await (const chunk of result.stream<ArchivedRow>()) {
    for (const row of chunk) {
      const r = row.json()
      const tenant = await tenants.get(r.tenant)
      const decoded = decodeEvent(r.raw)
      if (!tenant || !decoded.ok) continue // only validated events are ever archived
      if (decoded.kind === 'settings') processor.applySettings(tenant, decoded.settings)
      else {
        const outcome = processor.apply(tenant, decoded.event, {
          receivedAt: Number(r.received_at),
          fx: r.fx || undefined,
        })
        if (outcome.kind === 'applied') onApplied?.(tenant, outcome.deltas)
      }
      replayed++
    }
  }
  return { lastCommitted, replayed }
}
