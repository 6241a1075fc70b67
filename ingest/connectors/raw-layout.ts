// The upgrade of the raw archive stream from subjects without a partition (`pulse.raw.<tenant>`,
// archived by one durable, `pulse-archiver`) to `pulse.raw.<partition>.<tenant>` (a durable per
// partition, archive.ts). The two layouts differ in their token count, so `pulse.raw.*` matches
// exactly the old one. The old messages the old durable never acknowledged (not yet in ClickHouse)
// are republished under the new subjects, then every old-layout message is purged and the old
// durable deleted. A crash or a second node doing the same at once only republishes some payloads
// twice: the archive is read by payload id, each once (archive.ts), so a repeat is harmless.
import type { JetStreamManager, StoredMsg } from '@nats-io/jetstream'
import { type NatsConnection, headers as natsHeaders } from '@nats-io/transport-node'
import type { Log } from '../../common/log.ts'
import { isConsumerNotFound } from '../../common/nats-errors.ts'
import { type Outgoing, createPipelinedPublisher } from '../publisher.ts'
import { ackFloorOf } from '../streams.ts'
import { RAW_STREAM, rawSubject } from './archive.ts'

const OLD_LAYOUT = 'pulse.raw.*'
const OLD_DURABLE = 'pulse-archiver'
/** Messages read, and republished, at a time. */
const BATCH = 1_000

export async function moveOldRawLayout(options: {
  nc: NatsConnection
  jsm: JetStreamManager
  partitions: number
  log: Log
}): Promise<void> {
  const { jsm, log, partitions } = options
  const { state } = await jsm.streams.info(RAW_STREAM, { subjects_filter: OLD_LAYOUT })
  const subjects = Object.keys(state.subjects ?? {})
  if (subjects.length > 0) {
    const floor = (await ackFloorOf(jsm, RAW_STREAM, OLD_DURABLE)) ?? 0
    const lasts = await Promise.all(subjects.map((s) => jsm.streams.getMessage(RAW_STREAM, { last_by_subj: s })))
    const last = Math.max(...lasts.map((m) => m?.seq ?? 0))
    const first = Math.max(floor + 1, state.first_seq)
    const publisher = createPipelinedPublisher(options.nc)
    let moved = 0
    for (let from = first; from <= last; from += BATCH) {
      const seqs = Array.from({ length: Math.min(BATCH, last - from + 1) }, (_, i) => from + i)
      const found = await Promise.all(seqs.map((seq) => jsm.streams.getMessage(RAW_STREAM, { seq })))
      const old = found.filter((m): m is StoredMsg => m !== null && m.subject.split('.').length === 3)
      await publisher.publishAll(old.map((m) => movedMessage(m, partitions)))
      moved += old.length
    }
    await jsm.streams.purge(RAW_STREAM, { filter: OLD_LAYOUT })
    log.info({ moved, archived_before: floor }, 'raw archive: old-layout messages moved to partition subjects')
  }
  try {
    await jsm.consumers.delete(RAW_STREAM, OLD_DURABLE)
  } catch (err) {
    if (!isConsumerNotFound(err)) throw err
  }
}

/**
 * The same body and headers under the partition subject, with a Nats-Msg-Id of its own: JetStream
 * would drop a repeat of the original's id within its duplicate window.
 */
function movedMessage(m: StoredMsg, partitions: number): Outgoing {
  const tenant = m.subject.split('.')[2]
  const h = natsHeaders()
  for (const key of m.header?.keys() ?? []) {
    if (key.toLowerCase() === 'nats-msg-id') continue
    for (const value of m.header.values(key)) h.append(key, value)
  }
  h.set('Nats-Msg-Id', `raw-moved:${m.seq}`)
  return { subject: rawSubject(tenant, partitions), data: m.data, headers: h }
}
