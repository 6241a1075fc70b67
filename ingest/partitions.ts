// The deployment's partition count. Event subjects carry a tenant's partition
// (`pulse.events.<partition>.<tenant>.<type>`), so the count must stay the one the stream's messages
// were published with: another count would put a tenant's new events in another partition than its
// earlier ones, read by another consumer. The first start records it in NATS KV (`kv.create`, so two
// first starts cannot both record one); a start with another PARTITIONS is refused.
//
// The upgrade from subjects without a partition (`pulse.events.<tenant>.<type>`): tenant ids may be
// all digits, so a subject's tokens cannot tell the two layouts apart; the record does. While no
// count is recorded, whatever the stream holds is old-layout. The messages after the durable
// consumer's ack floor (those up to it are in ClickHouse already) are republished under the new
// subjects with their headers, everything up to the last old one is purged, then the count is
// recorded. A marker recorded first (the sequence range and the count) makes a rerun after a crash
// finish the same move: each moved message carries its old sequence (HEADERS.movedFrom), so a rerun
// moves none twice and skips none. Nothing else may publish to the stream meanwhile: stop every
// node of the old version before the first node of this one starts.
import type { JetStreamManager, StoredMsg } from '@nats-io/jetstream'
import type { KV } from '@nats-io/kv'
import { type NatsConnection, headers as natsHeaders } from '@nats-io/transport-node'
import type { Log } from '../common/log.ts'
import { openKv } from '../common/jetstream-replicas.ts'
import { isConsumerNotFound, isWrongLastSequence } from '../common/nats-errors.ts'
import { type Outgoing, createPipelinedPublisher } from './publisher.ts'
import { EVENTS_STREAM, HEADERS, partitionOf } from './streams.ts'

export const CLUSTER_BUCKET = 'pulse_cluster'
export const PARTITIONS_KEY = 'partitions'
export const MIGRATION_KEY = 'migration'
/** Messages read, and republished, at a time. */
const BATCH = 1_000
const PREFIX = 'pulse.events.'

export class PartitionsMismatchError extends Error {
  override name = 'PartitionsMismatchError'
  constructor(
    readonly recorded: number,
    readonly configured: number,
  ) {
    super(
      `PARTITIONS is ${configured}, but this deployment's partition count is ${recorded}: ` +
        `it is fixed at the first start (start with PARTITIONS=${recorded})`,
    )
  }
}

/** A move of old-layout messages: stream sequences `first` to `last`, to the subjects of `partitions`. */
export interface Migration {
  first: number
  last: number
  partitions: number
}

export interface PartitionsOptions {
  nc: NatsConnection
  jsm: JetStreamManager
  /** PARTITIONS (config.partitions). */
  partitions: number
  /** The stream stage's durable consumer: the messages up to its ack floor are in ClickHouse. */
  durable: string
  log: Log
  /** JETSTREAM_REPLICAS (common/jetstream-replicas.ts). */
  replicas?: number
}

/**
 * Records the partition count at the first start (moving old-layout messages first, see above), or
 * checks it against the recorded one. Call once the streams exist and before anything publishes
 * events. Rejects with PartitionsMismatchError when PARTITIONS differs from the recorded count.
 */
export async function ensurePartitions(options: PartitionsOptions): Promise<void> {
  const kv = await openKv(options.nc, CLUSTER_BUCKET, { history: 1 }, options.replicas)
  const entry = await kv.get(PARTITIONS_KEY)
  let recorded = entry ? Number(entry.string()) : undefined
  if (recorded === undefined) {
    const migration = await migrationOf(kv, options)
    if (migration) {
      if (migration.partitions !== options.partitions)
        throw new PartitionsMismatchError(migration.partitions, options.partitions)
      await move(options, migration)
    }
    recorded = Number(await record(kv, PARTITIONS_KEY, String(options.partitions)))
    options.log.info({ partitions: recorded }, 'partition count recorded')
  }
  if (recorded !== options.partitions) throw new PartitionsMismatchError(recorded, options.partitions)
}

/** The move a crashed run marked, else a new one if the stream holds (old-layout) messages. */
async function migrationOf(kv: KV, options: PartitionsOptions): Promise<Migration | undefined> {
  const marked = await kv.get(MIGRATION_KEY)
  if (marked) return marked.json<Migration>()
  const { state } = await options.jsm.streams.info(EVENTS_STREAM)
  if (state.messages === 0) return undefined
  const first = Math.max(state.first_seq, (await ackFloor(options.jsm, options.durable)) + 1)
  const planned: Migration = { first, last: state.last_seq, partitions: options.partitions }
  return JSON.parse(await record(kv, MIGRATION_KEY, JSON.stringify(planned)))
}

async function move(options: PartitionsOptions, migration: Migration): Promise<void> {
  const { jsm, log } = options
  const { first, last, partitions } = migration
  log.info({ first, last, partitions }, 'moving old-layout messages to partition subjects')
  const movedEarlier = await movedAlready(jsm, last)
  const publisher = createPipelinedPublisher(options.nc)
  let moved = 0
  for (let from = first; from <= last; from += BATCH) {
    const seqs = range(from, Math.min(from + BATCH - 1, last)).filter((seq) => !movedEarlier.has(seq))
    const messages = await storedMessages(jsm, seqs)
    await publisher.publishAll(messages.map((m) => movedMessage(m, partitions)))
    moved += messages.length
    log.info({ through: Math.min(from + BATCH - 1, last), moved }, 'moving old-layout messages')
  }
  log.info({ first, last, moved, moved_earlier: movedEarlier.size }, 'old-layout messages moved')
  // Everything up to `last` is old-layout: either moved now or already in ClickHouse.
  await jsm.streams.purge(EVENTS_STREAM, { seq: last + 1 })
  log.info({ through: last }, 'old-layout messages purged')
}

/** The old sequences of the messages an earlier run moved: every message after `last` is one. */
async function movedAlready(jsm: JetStreamManager, last: number): Promise<Set<number>> {
  const { state } = await jsm.streams.info(EVENTS_STREAM)
  const moved = new Set<number>()
  for (let from = last + 1; from <= state.last_seq; from += BATCH) {
    for (const m of await storedMessages(jsm, range(from, Math.min(from + BATCH - 1, state.last_seq))))
      moved.add(Number(m.header.get(HEADERS.movedFrom)))
  }
  return moved
}

/**
 * `pulse.events.<tenant>.<type>` → `pulse.events.<partition>.<tenant>.<type>`, with the same body
 * and headers but Nats-Msg-Id: JetStream would drop a repeat of the original's id within its
 * duplicate window (the processor's dedup by event id recognises repeats).
 */
function movedMessage(m: StoredMsg, partitions: number): Outgoing {
  const rest = m.subject.slice(PREFIX.length)
  const h = natsHeaders()
  for (const key of m.header.keys()) {
    if (key.toLowerCase() === 'nats-msg-id') continue
    for (const value of m.header.values(key)) h.append(key, value)
  }
  h.set(HEADERS.movedFrom, String(m.seq))
  return { subject: `${PREFIX}${partitionOf(rest.split('.')[0], partitions)}.${rest}`, data: m.data, headers: h }
}

/** The messages at these sequences that are still stored (a gap was deleted, purged or aged out). */
async function storedMessages(jsm: JetStreamManager, seqs: number[]): Promise<StoredMsg[]> {
  const found = await Promise.all(seqs.map((seq) => jsm.streams.getMessage(EVENTS_STREAM, { seq })))
  return found.filter((m) => m !== null)
}

async function ackFloor(jsm: JetStreamManager, durable: string): Promise<number> {
  try {
    return (await jsm.consumers.info(EVENTS_STREAM, durable)).ack_floor.stream_seq
  } catch (err) {
    if (isConsumerNotFound(err)) return 0
    throw err
  }
}

/** Writes `value` unless the key has one already; returns the key's value. */
async function record(kv: KV, key: string, value: string): Promise<string> {
  try {
    await kv.create(key, value)
    return value
  } catch (err) {
    if (!isWrongLastSequence(err)) throw err
    return (await kv.get(key))!.string()
  }
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i)
