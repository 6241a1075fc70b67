// Takes checkpoints of the stream stage's state without touching the live state: it rebuilds a
// second copy from the newest snapshot and the events committed since (exactly what a restart
// would do), and saves that. So a snapshot holds precisely the flushes up to the one it names,
// never an event that is applied but not yet durable, and the live consumer never waits for it.
// The replay and the writing yield to the loop in short turns (stream/checkpoints.ts).
import type { ClickHouseClient } from '@clickhouse/client'
import {
  type CheckpointStore,
  STATE_FORMAT,
  type SnapshotHeader,
  type StreamState,
  type TenantDirectory,
} from '../stream/index.ts'
import { type Log, silentLog } from '../common/log.ts'
import { lastCommittedFlush, loadNewest, replay } from './recovery.ts'

export interface CheckpointerOptions {
  client: ClickHouseClient
  tenants: TenantDirectory
  store: CheckpointStore
  newState: () => StreamState
  history: string
  scope?: string
  /** How often a checkpoint is taken when flushes have landed since the last one; 0: only on request. */
  everyMs: number
  now?: () => number
  log?: Log
}

export interface CheckpointResult extends SnapshotHeader {
  bytes: number
  replayed: number
}

export function createCheckpointer(options: CheckpointerOptions) {
  const { client, tenants, store, newState, history } = options
  const scope = options.scope ?? 'all'
  const now = options.now ?? Date.now
  const log = options.log ?? silentLog
  let running: Promise<CheckpointResult | undefined> | undefined
  let last: CheckpointResult | undefined

  async function take(): Promise<CheckpointResult | undefined> {
    const committed = await lastCommittedFlush(client)
    const { state, snapshot } = await loadNewest(store, newState, { scope, history, committed }, log)
    const from = snapshot?.flush_id ?? 0
    if (committed === 0 || from === committed) return undefined // nothing landed since
    const { replayed, lastSeq } = await replay(client, tenants, state, from, committed)
    const header: SnapshotHeader = {
      format: STATE_FORMAT,
      scope,
      flush_id: committed,
      last_seq: Math.max(lastSeq, snapshot?.last_seq ?? 0),
      history,
      created_at: new Date(now()).toISOString(),
    }
    const saved = await store.save(header, state.sections)
    log.info({ snapshot: saved.name, bytes: saved.bytes, records: saved.records, replayed }, 'checkpoint taken')
    return (last = { ...header, bytes: saved.bytes, replayed })
  }

  /** Takes a checkpoint now (or joins the one under way); undefined when nothing landed since the last. */
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
    /** The last checkpoint this process took, for /v1/admin/cluster. */
    last: () => last,
    async stop(): Promise<void> {
      clearInterval(timer)
      await running?.catch(() => {})
    },
  }
}

export type Checkpointer = ReturnType<typeof createCheckpointer>
