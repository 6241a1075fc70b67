// Start-up: make history consistent (`prepareHistory`, once, before any partition is loaded). The
// events table says which flushes committed; rollup rows of any later flush are removed. Then each
// partition the node owns is loaded (clickhouse/partition-state.ts), replaying the partition's
// committed events after its snapshot through the same processor (`replay`), which restores the
// order index, standing statements, dedup memory and freshness exactly; JetStream then redelivers
// what was never acknowledged.
import { randomUUID } from 'node:crypto'
import { setImmediate as nextTurn } from 'node:timers/promises'
import type { ClickHouseClient } from '@clickhouse/client'
import { DIMENSIONS, MEASURES, type StreamState, type TenantDirectory, decodeEvent } from '../stream/index.ts'
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
  seq: string
  raw: string
}

/** The last flush whose events are in ClickHouse: everything up to it is durable. */
export async function lastCommittedFlush(client: ClickHouseClient): Promise<number> {
  const [{ committed }] = await rows<{ committed: string }>(
    client,
    'SELECT max(flush_id) AS committed FROM pulse.events',
  )
  return Number(committed)
}

/** The id of this ClickHouse history, made at its first use (migration 006). */
export async function historyId(client: ClickHouseClient): Promise<string> {
  const read = async () =>
    (await rows<{ id: string }>(client, "SELECT min(value) AS id FROM pulse.meta WHERE key = 'history_id'"))[0]?.id
  let id = await read()
  if (!id) {
    await client.insert({
      table: 'pulse.meta',
      values: [{ key: 'history_id', value: randomUUID() }],
      format: 'JSONEachRow',
    })
    id = await read() // two nodes starting at once on one server both read the smaller id
  }
  return id as string
}

/**
 * Once per start, before any partition is loaded: the last committed flush (the sink's flush ids go
 * on after it), rollup rows of any later flush removed, and this ClickHouse's history id.
 */
export async function prepareHistory(
  client: ClickHouseClient,
  log: Log = silentLog,
): Promise<{ lastCommitted: number; history: string }> {
  const lastCommitted = await lastCommittedFlush(client)
  await removeUncommitted(client, lastCommitted, log)
  return { lastCommitted, history: await historyId(client) }
}

/** The events of one partition: `CRC32(tenant) % partitions` is `partitionOf` (ingest/streams.ts). */
const OF_PARTITION = 'CRC32(tenant) % {partitions:UInt32} = {partition:UInt32}'

export interface PartitionRange {
  partition: number
  partitions: number
}

/** The highest stream sequence among the partition's events in this ClickHouse (0: none). */
export async function committedSeq(client: ClickHouseClient, where: PartitionRange): Promise<number> {
  const [{ last }] = await rows<{ last: string }>(
    client,
    `SELECT max(seq) AS last FROM pulse.events WHERE ${OF_PARTITION}`,
    { ...where },
  )
  return Number(last)
}

/**
 * Replays the partition's committed events with a stream sequence in (after, upTo] through
 * `state`, in sequence order (within a partition, the order they were applied), yielding to the
 * loop between chunks. Returns how many were replayed and the highest sequence among them (0: none).
 */
export async function replay(
  client: ClickHouseClient,
  tenants: TenantDirectory,
  state: StreamState,
  where: PartitionRange & { after: number; upTo?: number },
): Promise<{ replayed: number; lastSeq: number }> {
  const result = await client.query({
    query:
      'SELECT tenant, toUnixTimestamp64Milli(received_at) AS received_at, fx, seq, raw FROM pulse.events ' +
      `WHERE ${OF_PARTITION} AND seq > {after:UInt64} AND seq <= {upTo:UInt64} ORDER BY seq`,
    query_params: { ...where, upTo: where.upTo ?? Number.MAX_SAFE_INTEGER },
    format: 'JSONEachRow',
  })
  const { processor } = state
  let replayed = 0
  let lastSeq = 0
  // The engine may hand over a large chunk at once: the loop is given back every ~10 ms within
  // it, or a replay during a checkpoint would hold up every timer (lease renewals among them).
  let turn = performance.now()
  for await (const chunk of result.stream<ArchivedRow>()) {
    for (const row of chunk) {
      if (performance.now() - turn > 10) {
        await nextTurn()
        turn = performance.now()
      }
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
        if (outcome.kind === 'applied') state.onApplied?.(tenant, outcome.deltas)
      }
      lastSeq = Math.max(lastSeq, Number(r.seq))
      replayed++
    }
  }
  return { replayed, lastSeq }
}
