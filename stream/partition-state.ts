// One partition's share of a node's stream state. A node keeps one processor and one alert
// aggregate for every partition it owns (their state is per tenant, and tenants of different
// partitions never meet), so taking a partition over loads its tenants into that shared state and
// giving it up drops them (`dropPartition`).
//
// Also here, because they need NATS but not ClickHouse:
// - `replayJetStream`: a partition's messages in a sequence range, through the consumer's own
//   decode/apply path, for a node whose ClickHouse does not hold the partition's whole history;
// - `openPartitionHistories`: which ClickHouse histories hold landed events of each partition (NATS
//   KV `pulse_cluster`, key `history.p<N>`). An embedded chDB per node holds only what that node
//   landed, so a partition's history is "here" only when no other history ever landed any of it.
import { setImmediate as nextTurn } from 'node:timers/promises'
import type { JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream'
import type { KV } from '@nats-io/kv'
import type { NatsConnection } from '@nats-io/transport-node'
import { openKv, type ReplicasOption } from '../common/jetstream-replicas.ts'
import { type Log, silentLog } from '../common/log.ts'
import { isWrongLastSequence } from '../common/nats-errors.ts'
import { CLUSTER_BUCKET } from '../ingest/partitions.ts'
import { EVENTS_STREAM, partitionOf, partitionSubjects, tenantOfSubject } from '../ingest/streams.ts'
import type { StreamState } from './checkpoints.ts'
import { type Sink, type TenantDirectory, arrivalOf, lacksRate } from './consumer.ts'
import { decodeEvent } from './decode.ts'
import type { Batch } from './live-state.ts'

/** Whether a tenant is one of the partition's. */
export const inPartition =
  (partition: number, partitions: number) =>
  (tenantId: string): boolean =>
    partitionOf(tenantId, partitions) === partition

/** Forgets the partition's tenants in every part of the state; other partitions' tenants are untouched. */
export function dropPartition(state: StreamState, partition: number, partitions: number): void {
  const include = inPartition(partition, partitions)
  for (const section of Object.values(state.sections)) section.dropTenants(include)
}

// Messages are applied in turns of this long at most, so a load never holds the loop.
const TURN_MS = 10

export interface JetStreamReplay {
  js: JetStreamClient
  jsm: JetStreamManager
  tenants: TenantDirectory
  state: StreamState
  partition: number
  /** Replays the messages with a sequence in (after, upTo]. */
  after: number
  upTo: number
  log?: Log
}

/**
 * Applies the partition's messages with a stream sequence in (after, upTo] to `state` as the
 * consumer does (settings too; what the consumer dead-letters is skipped), in stream order, on an
 * ordered consumer (it starts over at the right place when a message goes missing on the way).
 * Returns how many were applied (duplicates are not counted) and the highest sequence among them (0: none).
 */
export async function replayJetStream(options: JetStreamReplay): Promise<{ replayed: number; lastSeq: number }> {
  const { js, jsm, state, tenants, partition, after, upTo } = options
  const log = options.log ?? silentLog
  let replayed = 0
  let lastSeq = 0
  if (upTo <= after) return { replayed, lastSeq }
  const { first_seq } = (await jsm.streams.info(EVENTS_STREAM)).state
  // Messages older than the stream's max_age are gone; whether any of them was this partition's
  // cannot be told. A checkpoint every few minutes keeps a snapshot far younger than that.
  if (first_seq > after + 1)
    log.warn(
      { partition, after, first_seq },
      'messages of the partition after its snapshot may have aged out of JetStream',
    )
  const consumer = await js.consumers.get(EVENTS_STREAM, {
    filter_subjects: partitionSubjects(partition),
    opt_start_seq: after + 1,
  })
  try {
    if ((await consumer.info(true)).num_pending === 0) return { replayed, lastSeq }
    const messages = await consumer.consume({ max_messages: 1_000 })
    try {
      let turn = performance.now()
      for await (const m of messages) {
        if (m.seq > upTo) break
        if (await applyMessage(state, tenants, m)) {
          replayed++
          lastSeq = m.seq
        }
        // Every message up to `upTo` is stored already: the last one has nothing after it, or a later one.
        if (m.seq >= upTo || m.info.pending === 0) break
        if (performance.now() - turn > TURN_MS) {
          await nextTurn()
          turn = performance.now()
        }
      }
    } finally {
      await messages.close()
    }
  } finally {
    await consumer.delete().catch(() => {}) // an ordered consumer is ephemeral: it goes away on its own too
  }
  return { replayed, lastSeq }
}

/**
 * One message as stream/consumer.ts `handle` applies it: false for what the consumer dead-letters
 * (unknown tenant, undecodable, another currency without a rate) and for a duplicate.
 */
async function applyMessage(state: StreamState, tenants: TenantDirectory, m: JsMsg): Promise<boolean> {
  const tenant = await tenants.get(tenantOfSubject(m.subject))
  const decoded = decodeEvent(m.string())
  if (!tenant || !decoded.ok) return false
  if (decoded.kind === 'settings') {
    state.processor.applySettings(tenant, decoded.settings)
    return true
  }
  const arrival = arrivalOf(m)
  if (lacksRate(decoded.event, tenant, arrival.fx)) return false
  const outcome = state.processor.apply(tenant, decoded.event, arrival)
  if (outcome.kind !== 'applied') return false
  state.onApplied?.(tenant, outcome.deltas)
  return true
}

/** The KV key listing the ClickHouse histories that hold landed events of a partition. */
export const historyKey = (partition: number) => `history.p${partition}`

export interface PartitionHistories {
  /** The ClickHouse history ids recorded for the partition, sorted ([] before any landing). */
  of(partition: number): Promise<string[]>
  /** Every landed event of the partition is in `history` (or none landed anywhere yet). */
  historyHere(partition: number, history: string): Promise<boolean>
  /**
   * Records that `history` holds (or is about to hold) landed events of the partition: call before
   * a node's first landing of it. Idempotent; a revision-checked update, so concurrent notes of
   * other histories are kept.
   */
  noteLanding(partition: number, history: string): Promise<void>
}

export async function openPartitionHistories(
  nc: NatsConnection,
  options: ReplicasOption = {},
): Promise<PartitionHistories> {
  // Made by ingest/partitions.ts at every start, with these options; created here too for tests.
  const kv: KV = await openKv(nc, CLUSTER_BUCKET, { history: 1 }, options.replicas)
  // Histories recorded already: a set only grows, so once seen it needs no read again.
  const noted = new Set<string>()

  async function read(partition: number) {
    const entry = await kv.get(historyKey(partition))
    const live = entry && entry.operation === 'PUT' && entry.length > 0
    return { histories: live ? (entry.json<string[]>() ?? []) : [], entry }
  }

  return {
    of: async (partition) => (await read(partition)).histories,
    async historyHere(partition, history) {
      return (await read(partition)).histories.every((h) => h === history)
    },
    async noteLanding(partition, history) {
      const key = `${partition}/${history}`
      if (noted.has(key)) return
      for (;;) {
        const { histories, entry } = await read(partition)
        if (!histories.includes(history)) {
          const value = JSON.stringify([...histories, history].sort())
          try {
            if (entry) await kv.update(historyKey(partition), value, entry.revision)
            else await kv.create(historyKey(partition), value)
          } catch (err) {
            if (isWrongLastSequence(err)) continue // someone wrote meanwhile: read again
            throw err
          }
        }
        noted.add(key)
        return
      }
    },
  }
}

/** The partitions of the tenants whose events a batch lands. */
export function partitionsOf(batch: Batch, partitions: number): Set<number> {
  const out = new Set<number>()
  for (const e of batch.events) out.add(partitionOf(e.tenant, partitions))
  return out
}

/**
 * The sink, with the landing of each partition in a batch noted in `history` before the batch is
 * written (once per partition and process: later calls read nothing).
 */
export function withLandingNoted<S extends Sink>(
  sink: S,
  options: { histories: PartitionHistories; history: string; partitions: number },
): S {
  return {
    ...sink,
    async write(batch: Batch): Promise<void> {
      for (const p of partitionsOf(batch, options.partitions)) await options.histories.noteLanding(p, options.history)
      await sink.write(batch)
    },
  }
}
