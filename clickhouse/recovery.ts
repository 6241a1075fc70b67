// Making a partition's history consistent when it is taken, and replaying it. Flush ids are unique across every writer
// (clickhouse/flush-ids.ts), and a flush commits with the atomic insert of its events, so rollup
// rows whose flush id has no events are uncommitted. A partition has one owner at a time (leases,
// docs/cluster.md), so when a node takes one (`removeUncommitted`, from loadPartition) no other
// writer can be between the two inserts of a flush for its tenants: the partition's uncommitted
// rows are a dead writer's, or this node's from before a crash, and go. The flusher removes the
// rows of a flush it gives up (`removeFlush`). Each partition's state is then loaded
// (clickhouse/partition-state.ts), replaying the partition's committed events after its snapshot
// through the same processor (`replay`), which restores the order index, standing statements,
// dedup memory and freshness exactly; JetStream then redelivers what was never acknowledged.
import { randomUUID } from 'node:crypto'
import { setImmediate as nextTurn } from 'node:timers/promises'
import type { ClickHouseClient } from '@clickhouse/client'
import { DIMENSIONS, MEASURES, type StreamState, type TenantDirectory, decodeEvent } from '../stream/index.ts'
import { type Log, silentLog } from '../common/log.ts'
import { rows } from './client.ts'

/** The events of one partition: `CRC32(tenant) % partitions` is `partitionOf` (ingest/streams.ts). */
const OF_PARTITION = 'CRC32(tenant) % {partitions:UInt32} = {partition:UInt32}'

export interface PartitionRange {
  partition: number
  partitions: number
}

/** Every tenant, as a partition range (x % 1 = 0): for the rows of a flush, whatever their partition. */
const EVERY_TENANT: PartitionRange = { partition: 0, partitions: 1 }

/** The rollup rows to remove: of flushes `{flushes}`, of the tenants of one partition. */
const ORPHANS = `flush_id IN {flushes:Array(UInt64)} AND ${OF_PARTITION}`

const keys = ['tenant', 'local_day', ...DIMENSIONS]
/**
 * Sets the hours the orphan rows touch back to what the other minute rows there sum to: the hourly
 * view summed the orphans in but never sees their delete. Computed from the tables' state: run again,
 * after a crash or after the delete, it adds nothing. Every other row in those hours must be
 * committed, as no other writer works on their tenants.
 */
export const reconcileHoursSql = `
  INSERT INTO pulse.rollup_hour (minute, ${keys.join(', ')}, ${MEASURES.join(', ')})
  WITH touched AS (
    SELECT DISTINCT tenant, toStartOfHour(minute) AS hour FROM pulse.rollup_minute WHERE ${ORPHANS}
  )
  SELECT hour, ${keys.join(', ')}, ${MEASURES.map((m) => `sum(${m})`).join(', ')}
  FROM (
    SELECT toStartOfHour(minute) AS hour, ${keys.join(', ')}, ${MEASURES.join(', ')} FROM pulse.rollup_minute
    WHERE NOT (${ORPHANS}) AND (tenant, toStartOfHour(minute)) IN touched
    UNION ALL
    SELECT minute AS hour, ${keys.join(', ')}, ${MEASURES.map((m) => `-${m}`).join(', ')} FROM pulse.rollup_hour
    WHERE (tenant, minute) IN touched)
  GROUP BY hour, ${keys.join(', ')}
  HAVING ${MEASURES.map((m) => `sum(${m}) != 0`).join(' OR ')}`

/** Removes the partition's rollup rows of `flushes`, the hourly rollup reconciled first. Idempotent. */
async function removeRollups(client: ClickHouseClient, flushes: number[], of: PartitionRange): Promise<void> {
  const params = { flushes, ...of }
  // A token of its own, or an equal correction later would be dropped as a repeat; embedded chDB
  // keeps the last token set on its session (clickhouse_settings are SET there), the flusher's.
  const token = { insert_deduplication_token: `reconcile-${randomUUID()}` }
  await client.command({ query: reconcileHoursSql, query_params: params, clickhouse_settings: token })
  await client.command({
    query: `ALTER TABLE pulse.rollup_minute DELETE WHERE ${ORPHANS}`,
    query_params: params,
    clickhouse_settings: { mutations_sync: '2' },
  })
}

/**
 * Removes the partition's uncommitted rollup rows: those whose flush has no events of the
 * partition's tenants. Only its owner may call this, before it lands anything of the partition
 * (a flush's rollup rows are of the tenants of its events).
 */
export async function removeUncommitted(
  client: ClickHouseClient,
  where: PartitionRange,
  log: Log = silentLog,
): Promise<void> {
  const orphans = await rows<{ flush_id: string | number }>(
    client,
    `SELECT DISTINCT flush_id FROM pulse.rollup_minute WHERE ${OF_PARTITION}
      AND flush_id NOT IN (SELECT flush_id FROM pulse.events WHERE ${OF_PARTITION}) ORDER BY flush_id`,
    { ...where },
  )
  const flushes = orphans.map((o) => Number(o.flush_id))
  if (flushes.length === 0) return
  log.warn({ partition: where.partition, flushes }, 'removing rollup rows of flushes that did not commit')
  await removeRollups(client, flushes, where)
}

/** Removes the rollup rows of a flush the flusher gave up (its events never landed), of any partition. */
export async function removeFlush(client: ClickHouseClient, flushId: number, log: Log = silentLog): Promise<void> {
  log.warn({ flush: flushId }, 'removing rollup rows of a flush that did not commit')
  await removeRollups(client, [flushId], EVERY_TENANT)
}

interface ArchivedRow {
  tenant: string
  received_at: string
  fx: string
  seq: string
  raw: string
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

/** Once per start: this ClickHouse's history id. Nothing is removed here (see removeUncommitted). */
export async function prepareHistory(client: ClickHouseClient): Promise<{ history: string }> {
  return { history: await historyId(client) }
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
