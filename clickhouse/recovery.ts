// Start-up: make history consistent, then rebuild live state. The events table says which flushes
// committed; rollup rows of any later flush are removed. The newest usable snapshot
// (stream/checkpoints.ts) is loaded and the events committed after it are replayed through the
// same processor, which restores the order index, standing statements, dedup memory and freshness
// exactly; JetStream then redelivers what was never acknowledged.
import { randomUUID } from 'node:crypto'
import { setImmediate as nextTurn } from 'node:timers/promises'
import type { ClickHouseClient } from '@clickhouse/client'
import {
  type CheckpointStore,
  DIMENSIONS,
  MEASURES,
  STATE_FORMAT,
  SnapshotError,
  type SnapshotHeader,
  type StreamState,
  type TenantDirectory,
  decodeEvent,
  loadSnapshot,
} from '../stream/index.ts'
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
 * Replays the committed events of flushes after `after` (up to `upTo`, when given) through
 * `state`, in the order they were applied, yielding to the loop between chunks. Returns how many
 * were replayed and the last JetStream sequence among them.
 */
export async function replay(
  client: ClickHouseClient,
  tenants: TenantDirectory,
  state: StreamState,
  after: number,
  upTo = Number.MAX_SAFE_INTEGER,
): Promise<{ replayed: number; lastSeq: number }> {
  const result = await client.query({
    query:
      'SELECT tenant, toUnixTimestamp64Milli(received_at) AS received_at, fx, seq, raw FROM pulse.events ' +
      'WHERE flush_id > {after:UInt64} AND flush_id <= {upTo:UInt64} ORDER BY flush_id, seq',
    query_params: { after, upTo },
    format: 'JSONEachRow',
  })
  const { processor } = state
  let replayed = 0
  let lastSeq = 0
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
        if (outcome.kind === 'applied') state.onApplied?.(tenant, outcome.deltas)
      }
      lastSeq = Math.max(lastSeq, Number(r.seq))
      replayed++
    }
    await nextTurn()
  }
  return { replayed, lastSeq }
}

/**
 * Loads into a fresh state the newest snapshot of `scope` that fits this history and reaches no
 * further than `committed`, skipping (and logging) any that cannot be used. Returns the state and
 * the flush it holds (0 and an empty state when there is none).
 */
export async function loadNewest<S extends StreamState>(
  store: CheckpointStore,
  newState: () => S,
  where: { scope: string; history: string; committed: number },
  log: Log = silentLog,
): Promise<{ state: S; snapshot?: SnapshotHeader }> {
  for (const entry of await store.list(where.scope)) {
    const why =
      entry.history !== where.history
        ? 'it was taken from another ClickHouse history'
        : entry.flush_id > where.committed
          ? `it reaches flush ${entry.flush_id}, past the last one in ClickHouse (${where.committed})`
          : entry.format !== STATE_FORMAT
            ? `it is of state format ${entry.format}; this build reads ${STATE_FORMAT}: rebuilding from pulse.events`
            : undefined
    if (why) {
      log.warn({ snapshot: entry.name }, `snapshot skipped: ${why}`)
      continue
    }
    const state = newState()
    try {
      const snapshot = await loadSnapshot(await store.fetch(entry), state.sections)
      return { state, snapshot }
    } catch (err) {
      if (!(err instanceof SnapshotError)) throw err
      log.warn({ snapshot: entry.name, err }, 'snapshot skipped for an older one')
    }
  }
  return { state: newState() }
}

export interface RecoverOptions<S extends StreamState> {
  client: ClickHouseClient
  tenants: TenantDirectory
  /** A fresh, empty state (processor and the parts kept with it). */
  newState: () => S
  /** Where snapshots are; without one, all of history is replayed. */
  checkpoints?: CheckpointStore
  scope?: string
  log?: Log
}

/**
 * Start-up: history made consistent, then the state rebuilt from the newest usable snapshot and
 * the events committed after it (all of history when there is none).
 */
export async function recover<S extends StreamState>(options: RecoverOptions<S>) {
  const { client, tenants, newState, checkpoints } = options
  const log = options.log ?? silentLog
  const lastCommitted = await lastCommittedFlush(client)
  await removeUncommitted(client, lastCommitted, log)
  const history = await historyId(client)
  const { state, snapshot } = checkpoints
    ? await loadNewest(checkpoints, newState, { scope: options.scope ?? 'all', history, committed: lastCommitted }, log)
    : { state: newState(), snapshot: undefined }
  const { replayed } = await replay(client, tenants, state, snapshot?.flush_id ?? 0)
  return { state, lastCommitted, replayed, snapshot, history }
}
