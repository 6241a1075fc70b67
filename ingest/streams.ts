// The JetStream streams everything flows through. Event subjects carry the tenant's partition, so
// each partition can be consumed by its own durable consumer (one filter subject each; streams on
// nats-server 2.9 cannot transform subjects), and the tenant, so hubs serve clients by subject.
import { crc32 } from 'node:zlib'
import {
  AckPolicy,
  type Consumer,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamInfo,
} from '@nats-io/jetstream'
import { nanos } from '@nats-io/transport-node'
import { addStream, matchReplicas } from '../common/jetstream-replicas.ts'
import { isConsumerNotFound, isStreamNotFound } from '../common/nats-errors.ts'

export const EVENTS_STREAM = 'PULSE_EVENTS'
export const DLQ_STREAM = 'PULSE_DLQ'

/**
 * A tenant's partition: CRC32 of its id's UTF-8 bytes modulo the partition count. ClickHouse's
 * `CRC32(tenant) % N` gives the same number, so SQL can select a partition's tenants
 * (test/integration/partitions.test.ts checks it against chDB).
 */
export const partitionOf = (tenantId: string, partitions: number): number => crc32(tenantId) % partitions

/** `pulse.events.<partition>.<tenant>.<type>`; `partitions` is the deployment's (ingest/partitions.ts). */
export const eventSubject = (tenant: string, type: string, partitions: number) =>
  `pulse.events.${partitionOf(tenant, partitions)}.${tenant}.${type}`
/** The subjects of one partition: what its durable consumer filters on. */
export const partitionSubjects = (partition: number) => `pulse.events.${partition}.>`
export const tenantOfSubject = (subject: string) => subject.split('.')[3] ?? ''
export const dlqSubject = (tenant: string) => `pulse.dlq.${tenant || '_'}`

/** Headers stamped at ingest, so replaying history gives the same answer as the live path. */
export const HEADERS = {
  receivedAt: 'Pulse-Received-At',
  fx: 'Pulse-Fx',
  dlqReason: 'Pulse-Dlq-Reason',
  dlqDetail: 'Pulse-Dlq-Detail',
  dlqSubject: 'Pulse-Dlq-Subject',
  dlqSeq: 'Pulse-Dlq-Seq',
  /** On a message moved to its partition's subject by the upgrade: its sequence before (ingest/partitions.ts). */
  movedFrom: 'Pulse-Moved-From',
} as const

const DAY_NS = nanos(86_400_000)

export async function ensureStreams(
  jsm: JetStreamManager,
  /** `replicas`: JETSTREAM_REPLICAS (common/jetstream-replicas.ts); when not given an existing stream keeps its own. */
  options: { duplicateWindowMs: number; replicas?: number },
): Promise<void> {
  await upsert(jsm, options.replicas, {
    name: EVENTS_STREAM,
    subjects: ['pulse.events.>'],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    // JetStream is the buffer while ClickHouse is away; history proper lives in ClickHouse.
    max_age: 14 * DAY_NS,
    duplicate_window: nanos(options.duplicateWindowMs),
  })
  await upsert(jsm, options.replicas, {
    name: DLQ_STREAM,
    subjects: ['pulse.dlq.>'],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    max_age: 30 * DAY_NS,
  })
}

type StreamSpec = Parameters<JetStreamManager['streams']['add']>[0] & { name: string }

async function upsert(jsm: JetStreamManager, replicas: number | undefined, spec: StreamSpec): Promise<void> {
  let info: StreamInfo
  try {
    info = await jsm.streams.info(spec.name)
  } catch (err) {
    if (!isStreamNotFound(err)) throw err
    return addStream(jsm, spec, replicas)
  }
  await jsm.streams.update(spec.name, { ...info.config, ...spec })
  if (replicas !== undefined) await matchReplicas(jsm, spec.name, replicas)
}

/**
 * Creates a worker's durable consumer afresh at its ack floor and returns the first sequence it
 * will deliver. Messages delivered to a process that died stay unacknowledged until ack_wait runs
 * out; recreating the durable delivers them again at once instead. Everything up to the floor is
 * durable (acks follow the effect), and what comes again is recognised by the worker's dedup.
 * Assumes one worker per durable.
 */
export async function durableAtAckFloor(
  jsm: JetStreamManager,
  stream: string,
  durable: string,
  options: { filter?: string; startIfNew?: number } = {},
): Promise<number> {
  let startSeq = options.startIfNew ?? 1
  try {
    startSeq = (await jsm.consumers.info(stream, durable)).ack_floor.stream_seq + 1
    await jsm.consumers.delete(stream, durable)
  } catch (err) {
    if (!isConsumerNotFound(err)) throw err
  }
  await jsm.consumers.add(stream, {
    durable_name: durable,
    ...(options.filter ? { filter_subject: options.filter } : {}),
    ack_policy: AckPolicy.All,
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: startSeq,
    // Long enough that a slow flush is not redelivered; redeliveries are recognised anyway.
    ack_wait: nanos(120_000),
    max_ack_pending: -1,
  })
  return startSeq
}

/** The ack floor of a durable, or undefined when it does not exist. */
export async function ackFloorOf(jsm: JetStreamManager, stream: string, durable: string): Promise<number | undefined> {
  try {
    return (await jsm.consumers.info(stream, durable)).ack_floor.stream_seq
  } catch (err) {
    if (isConsumerNotFound(err)) return undefined
    throw err
  }
}

/**
 * Runs `consume` on the durable consumer until `stopped()`: after an error (the server went away,
 * the consumer was deleted) it starts over a second later, and when `consume` returns (its
 * iterator ended) at once, so a consumer keeps consuming whatever happens to its connection.
 */
export async function consumeUntilStopped(options: {
  js: JetStreamClient
  stream: string
  durable: string
  stopped: () => boolean
  consume: (consumer: Consumer) => Promise<void>
  /** Told why the loop starts over. */
  onRestart: (err: unknown) => void
}): Promise<void> {
  while (!options.stopped()) {
    try {
      await options.consume(await options.js.consumers.get(options.stream, options.durable))
    } catch (err) {
      if (options.stopped()) break
      options.onRestart(err)
      await new Promise((r) => setTimeout(r, 1_000))
    }
  }
}
