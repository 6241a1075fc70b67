// Loading one partition's state into a node's running state, once the partition's uncommitted
// rollup rows are removed (recovery.ts; only its owner may, and the loader is it): the newest
// usable snapshot of the partition (stream/checkpoints.ts, scope `p<N>`), then the partition's
// events after its `last_seq`:
// - from this ClickHouse when the partition's whole history is here (stream/partition-state.ts:
//   no other ClickHouse history ever landed any of it; always so on a shared ClickHouse server);
// - else from JetStream, up to the ack floor of the partition's durable (everything up to it has
//   landed somewhere); the consumer then goes on from the ack floor + 1.
// The checkpointer builds its copy of a partition the same way (`buildPartition`), so a snapshot
// holds exactly what a load would.
import type { ClickHouseClient } from '@clickhouse/client'
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream'
import { type Log, silentLog } from '../common/log.ts'
import { EVENTS_STREAM, ackFloorOf } from '../ingest/streams.ts'
import {
  type CheckpointStore,
  STATE_FORMAT,
  SnapshotError,
  type SnapshotHeader,
  type Snapshottable,
  type StateRecord,
  type StreamState,
  type TenantDirectory,
  loadSnapshot,
  scopeOf,
} from '../stream/index.ts'
import { durableOf } from '../stream/consumer.ts'
import { type PartitionHistories, dropPartition, inPartition, replayJetStream } from '../stream/partition-state.ts'
import { committedSeq, removeUncommitted, replay } from './recovery.ts'

/** Where a partition's state comes from. */
export interface PartitionSources {
  /** The deployment's partition count (PARTITIONS). */
  partitions: number
  /** Where snapshots are; without one, the partition's whole history is replayed. */
  store?: CheckpointStore
  client: ClickHouseClient
  /** This ClickHouse's history id (`prepareHistory`). */
  history: string
  histories: PartitionHistories
  jsm: JetStreamManager
  js: JetStreamClient
  tenants: TenantDirectory
  log?: Log
}

export interface LoadPartitionOptions extends PartitionSources {
  partition: number
  /** The node's state, shared by every partition it owns. */
  state: StreamState
}

export interface LoadedPartition {
  /** The snapshot loaded, if any. */
  snapshot?: SnapshotHeader
  /** Events (and settings) replayed after it. */
  replayed: number
  /** Whether the tail came from this ClickHouse (else from JetStream). */
  historyHere: boolean
  /** The highest stream sequence of the partition the state now holds (0: none). */
  lastSeq: number
}

/**
 * Loads the partition's tenants into the node's state: its newest usable snapshot, then the events
 * after it. Other partitions' tenants are untouched; the partition's are dropped first, and again
 * when the load fails, so its state is never half-loaded. Call only as the partition's owner, before
 * anything of it lands here: the partition's rollup rows of flushes that never committed go first.
 */
export async function loadPartition(options: LoadPartitionOptions): Promise<LoadedPartition> {
  const { state, partition, partitions } = options
  dropPartition(state, partition, partitions)
  try {
    await removeUncommitted(options.client, { partition, partitions }, options.log)
    return await buildPartition(state, partition, options)
  } catch (err) {
    dropPartition(state, partition, partitions)
    throw err
  }
}

/** The newest usable snapshot of the partition loaded into `state`, then the tail after it. */
export async function buildPartition(
  state: StreamState,
  partition: number,
  sources: PartitionSources,
): Promise<LoadedPartition> {
  const { client, tenants, partitions, store, history } = sources
  const log = sources.log ?? silentLog
  const historyHere = await sources.histories.historyHere(partition, history)
  // How far the tail reaches: what is committed here, or what the partition's durable has acked.
  const upTo = historyHere
    ? await committedSeq(client, { partition, partitions })
    : ((await ackFloorOf(sources.jsm, EVENTS_STREAM, durableOf(partition))) ?? 0)
  const snapshot = store
    ? await loadNewest(state, partition, { store, partitions, historyHere, committed: upTo, log })
    : undefined
  const after = snapshot?.last_seq ?? 0
  const tail = historyHere
    ? await replay(client, tenants, state, { partition, partitions, after, upTo })
    : await replayJetStream({ js: sources.js, jsm: sources.jsm, tenants, state, partition, after, upTo, log })
  return { snapshot, replayed: tail.replayed, historyHere, lastSeq: Math.max(after, tail.lastSeq) }
}

/**
 * Loads into `state` the newest snapshot of the partition that can be used, skipping (and logging)
 * any that cannot: of another state format, torn or corrupt, or (when the tail comes from this
 * ClickHouse) reaching past the partition's last event in it, as after a restore of an older backup.
 */
async function loadNewest(
  state: StreamState,
  partition: number,
  where: { store: CheckpointStore; partitions: number; historyHere: boolean; committed: number; log: Log },
): Promise<SnapshotHeader | undefined> {
  const { store, partitions, log } = where
  const rebuildFrom = where.historyHere ? 'pulse.events' : 'JetStream'
  for (const entry of await store.list(scopeOf(partition))) {
    const why =
      entry.format !== STATE_FORMAT
        ? `it is of state format ${entry.format}; this build reads ${STATE_FORMAT}: rebuilding from ${rebuildFrom}`
        : where.historyHere && entry.last_seq > where.committed
          ? `it reaches sequence ${entry.last_seq}, past the partition's last one in ClickHouse (${where.committed})`
          : undefined
    if (why) {
      log.warn({ partition, snapshot: entry.name }, `snapshot skipped: ${why}`)
      continue
    }
    try {
      return await loadSnapshot(await store.fetch(entry), ofPartitionOnly(state, partition, partitions))
    } catch (err) {
      // Records may have gone in before the failure (a torn file never gets that far: it is checked whole first).
      dropPartition(state, partition, partitions)
      if (!(err instanceof SnapshotError)) throw err
      log.warn({ partition, snapshot: entry.name, err }, 'snapshot skipped for an older one')
    }
  }
  return undefined
}

/** The state's sections, refusing a record of another partition's tenant before it is applied. */
function ofPartitionOnly(state: StreamState, partition: number, partitions: number): Record<string, Snapshottable> {
  const include = inPartition(partition, partitions)
  const sections: Record<string, Snapshottable> = {}
  for (const [name, section] of Object.entries(state.sections)) {
    sections[name] = {
      exportRecords: () => section.exportRecords(),
      importRecord(record: StateRecord) {
        if (!include(record.tenant))
          throw new SnapshotError(
            `snapshot of ${scopeOf(partition)} holds tenant ${record.tenant} of another partition`,
          )
        section.importRecord(record)
      },
    }
  }
  return sections
}
