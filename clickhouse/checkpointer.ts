// Takes checkpoints of the stream stage's state, one snapshot per partition the node owns, without
// touching the live state: for each, it builds a second copy of the partition's state from its
// newest snapshot and its events durable since (exactly what a node taking the partition over
// would do: clickhouse/partition-state.ts), and saves that. So a snapshot holds precisely the
// partition's events up to its `last_seq`, never one that is applied but not yet durable, and the
// live consumer never waits for it. One partition's copy is built at a time, and the replay and the
// writing yield to the loop in short turns (stream/checkpoints.ts).
import { type Log, silentLog } from '../common/log.ts'
import { type CheckpointStore, STATE_FORMAT, type SnapshotHeader, type StreamState, scopeOf } from '../stream/index.ts'
import { type PartitionSources, buildPartition } from './partition-state.ts'

export interface CheckpointerOptions extends PartitionSources {
  store: CheckpointStore
  /** A fresh, empty state (processor and the parts kept with it). */
  newState: () => StreamState
  /** The partitions this node owns now: those are checkpointed. */
  owned: () => readonly number[]
  /** How often checkpoints are taken of the partitions with events durable since their last one; 0: only on request. */
  everyMs: number
  now?: () => number
  log?: Log
}

/** One partition's checkpoint. */
export interface PartitionCheckpoint extends SnapshotHeader {
  partition: number
  bytes: number
  /** Events replayed onto the partition's previous snapshot to build this one. */
  replayed: number
}

/** The checkpoints taken in one go: sums over the partitions, and each one. */
export interface CheckpointResult {
  /** The highest `last_seq` among them. */
  last_seq: number
  bytes: number
  replayed: number
  created_at: string
  partitions: PartitionCheckpoint[]
}

export function createCheckpointer(options: CheckpointerOptions) {
  const { store, newState, history } = options
  const now = options.now ?? Date.now
  const log = options.log ?? silentLog
  let running: Promise<CheckpointResult | undefined> | undefined
  let last: CheckpointResult | undefined

  async function takePartition(partition: number): Promise<PartitionCheckpoint | undefined> {
    const state = newState()
    const built = await buildPartition(state, partition, options)
    if (built.replayed === 0) return undefined // nothing durable since the newest snapshot
    const header: SnapshotHeader = {
      format: STATE_FORMAT,
      scope: scopeOf(partition),
      last_seq: built.lastSeq,
      history,
      created_at: new Date(now()).toISOString(),
    }
    const saved = await store.save(header, state.sections)
    log.info(
      { partition, snapshot: saved.name, bytes: saved.bytes, records: saved.records, replayed: built.replayed },
      'checkpoint taken',
    )
    return { ...header, partition, bytes: saved.bytes, replayed: built.replayed }
  }

  /** Every owned partition in turn; one that fails leaves its previous snapshot standing and the others go on. */
  async function take(): Promise<CheckpointResult | undefined> {
    const taken: PartitionCheckpoint[] = []
    const failed: number[] = []
    for (const partition of options.owned()) {
      try {
        const checkpoint = await takePartition(partition)
        if (checkpoint) taken.push(checkpoint)
      } catch (err) {
        failed.push(partition)
        log.error({ partition, err }, 'checkpoint failed; the previous one stands')
      }
    }
    if (failed.length > 0) throw new Error(`checkpoints of partitions ${failed.join(', ')} failed`)
    if (taken.length === 0) return undefined
    return (last = {
      last_seq: Math.max(...taken.map((c) => c.last_seq)),
      bytes: taken.reduce((n, c) => n + c.bytes, 0),
      replayed: taken.reduce((n, c) => n + c.replayed, 0),
      created_at: new Date(now()).toISOString(),
      partitions: taken,
    })
  }

  /** Takes checkpoints now (or joins those under way); undefined when no partition has events durable since its last. */
  function checkpoint(): Promise<CheckpointResult | undefined> {
    running ??= take().finally(() => (running = undefined))
    return running
  }

  const timer =
    options.everyMs > 0
      ? setInterval(() => {
          checkpoint().catch((err) => log.error({ err }, 'checkpoint failed; the previous one stands'))
        }, options.everyMs)
      : undefined
  timer?.unref()

  return {
    checkpoint,
    /** The last checkpoints this process took, for /v1/admin/cluster. */
    last: () => last,
    async stop(): Promise<void> {
      clearInterval(timer)
      await running?.catch(() => {})
    },
  }
}

export type Checkpointer = ReturnType<typeof createCheckpointer>
