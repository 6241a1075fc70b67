// The raw archive: every webhook body and every polled page, as received, with its connector,
// tenant and receipt time. It goes through JetStream first (PULSE_RAW), so a webhook is answered
// once JetStream has it even while ClickHouse is down; the archiver moves it into ClickHouse
// (`pulse.raw_archive`) in batches and acknowledges only after the insert. A payload ClickHouse can
// never store (a foreign API's string with a lone surrogate) is found by inserting the batch's rows
// one by one and skipped with a log line, so one bad page cannot stop the archive for everyone.
//
// Partitioned like the events (`pulse.raw.<partition>.<tenant>`, a durable per partition): a
// partition's payloads are archived by the node that owns it, into the ClickHouse its events land
// in, so reprocessing a tenant (which runs on its owner) finds all of its archive there even when
// every node has its own embedded engine.
import type { ClickHouseClient } from '@clickhouse/client'
import { type JetStreamClient, type JetStreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream'
import { headers as natsHeaders, nanos } from '@nats-io/transport-node'
import type { Log } from '../../common/log.ts'
import { addStream, matchReplicas } from '../../common/jetstream-replicas.ts'
import { isStreamNotFound } from '../../common/nats-errors.ts'
import type { PipelinedPublisher } from '../publisher.ts'
import { consumeUntilStopped, durableAtAckFloor, partitionOf } from '../streams.ts'
import type { ArchivedPage } from './types.ts'

export const RAW_STREAM = 'PULSE_RAW'
const durableOf = (partition: number) => `pulse-archiver-${partition}`
export const rawSubject = (tenant: string, partitions: number) =>
  `pulse.raw.${partitionOf(tenant, partitions)}.${tenant}`
const rawPartitionSubjects = (partition: number) => `pulse.raw.${partition}.>`

export interface RawRecord extends ArchivedPage {
  tenant: string
  /** Unique per payload (a webhook id, or a hash of the page): repeats are archived once. */
  payloadId: string
}

/** `replicas`: JETSTREAM_REPLICAS (common/jetstream-replicas.ts); when not given an existing stream keeps its own. */
export async function ensureRawStream(jsm: JetStreamManager, replicas?: number): Promise<void> {
  const spec = {
    name: RAW_STREAM,
    subjects: ['pulse.raw.>'],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    // A buffer while ClickHouse is away; the archive proper is the ClickHouse table.
    max_age: nanos(14 * 86_400_000),
  }
  try {
    await jsm.streams.info(RAW_STREAM)
  } catch (err) {
    if (!isStreamNotFound(err)) throw err
    return addStream(jsm, spec, replicas)
  }
  if (replicas !== undefined) await matchReplicas(jsm, RAW_STREAM, replicas)
}

/** Puts raw payloads on the archive stream; resolves once JetStream has them. */
export async function archiveRaw(
  publisher: PipelinedPublisher,
  records: RawRecord[],
  partitions: number,
): Promise<void> {
  if (records.length === 0) return
  await publisher.publishAll(
    records.map((r) => {
      const h = natsHeaders()
      h.set('Nats-Msg-Id', `raw:${r.tenant}:${r.payloadId}`)
      return { subject: rawSubject(r.tenant, partitions), data: JSON.stringify(r), headers: h }
    }),
  )
}

const utc = (ms: number) => new Date(ms).toISOString().slice(0, 23).replace('T', ' ')

type Row = { record: RawRecord; seq: number }

/**
 * The archivers of the partitions this node owns: `addPartition` when it takes one on,
 * `removePartition` when it hands it over (after which the next owner's durable goes on from the
 * ack floor: nothing is archived twice but a batch a crash left unacknowledged, a no-op insert).
 */
export function createArchiver(options: {
  js: JetStreamClient
  jsm: JetStreamManager
  client: ClickHouseClient
  log: Log
  /** The deployment's partition count (config.partitions). */
  partitions: number
  /** Whether an insert failed for a reason retrying cannot cure (the ClickHouse stage knows the codes). */
  isPermanent?: (err: unknown) => boolean
  batchSize?: number
  /** How often caughtUp() looks again. */
  pollMs?: number
}) {
  const { js, jsm, client, log } = options
  const isPermanent = options.isPermanent ?? (() => false)
  const batchSize = options.batchSize ?? 500
  const pollMs = options.pollMs ?? 50
  const feeds = new Map<number, { stopped: boolean; loop: Promise<void> }>()

  /** Whether the rows are in (or skipped for good); false when stopped before they could land. */
  async function insert(rows: Row[], stopped: () => boolean): Promise<boolean> {
    const first = rows[0].seq
    const last = rows[rows.length - 1].seq
    for (let attempt = 0; !stopped() || attempt === 0; attempt++) {
      try {
        await insertOnce(rows, `raw-${first}-${last}`)
        return true
      } catch (err) {
        if (isPermanent(err)) {
          await insertOneByOne(rows)
          return true
        }
        log.warn({ attempt: attempt + 1, err }, 'raw archive insert failed, retrying')
        await new Promise((r) => setTimeout(r, Math.min(5_000, 100 * 2 ** attempt)))
      }
    }
    return false
  }

  /** Each row on its own: those ClickHouse refuses for good are skipped, the others retried as usual. */
  async function insertOneByOne(rows: Row[]): Promise<void> {
    for (const row of rows) {
      try {
        await insertOnce([row], `raw-${row.seq}-${row.seq}`)
      } catch (err) {
        if (!isPermanent(err)) throw err
        const { tenant, connector, payloadId } = row.record
        log.error(
          { tenant, connector, payload_id: payloadId, seq: row.seq, err },
          'raw payload not archivable; skipped',
        )
      }
    }
  }

  async function insertOnce(rows: Row[], token: string): Promise<void> {
    await client.insert({
      table: 'pulse.raw_archive',
      values: rows.map(({ record: r, seq }) => ({
        tenant: r.tenant,
        connector: r.connector,
        connector_id: r.connectorId,
        kind: r.kind,
        payload_id: r.payloadId,
        received_at: utc(r.receivedAt),
        meta: JSON.stringify(r.meta),
        body: r.body,
        stream_seq: seq,
      })),
      format: 'JSONEachRow',
      // A retried insert of the same messages is a no-op (stream sequences are the stream's, not the partition's).
      clickhouse_settings: { insert_deduplication_token: token },
    })
  }

  function run(partition: number, feed: { stopped: boolean }): Promise<void> {
    const stopped = () => feed.stopped
    return consumeUntilStopped({
      js,
      stream: RAW_STREAM,
      durable: durableOf(partition),
      stopped,
      onRestart: (err) => log.error({ err, partition }, 'raw archiver restarting'),
      consume: async (consumer) => {
        while (!stopped()) {
          const batch = await consumer.fetch({ max_messages: batchSize, expires: 1_000 })
          const rows: Row[] = []
          let lastMsg
          for await (const m of batch) {
            lastMsg = m
            try {
              rows.push({ record: m.json<RawRecord>(), seq: m.seq })
            } catch {
              log.warn({ seq: m.seq }, 'raw archive: not a record; skipped')
            }
          }
          if (!lastMsg) continue
          // Acknowledged only after the insert returned: a crash before this re-inserts, a no-op;
          // a batch still failing when the partition is handed over is left to the next owner.
          if (rows.length > 0 && !(await insert(rows, stopped))) return
          lastMsg.ack()
        }
      },
    })
  }

  async function removePartition(partition: number): Promise<void> {
    const feed = feeds.get(partition)
    if (!feed) return
    feed.stopped = true
    await feed.loop
    feeds.delete(partition)
  }

  return {
    /** Starts archiving a partition's payloads here, from its durable's ack floor. */
    async addPartition(partition: number): Promise<void> {
      if (feeds.has(partition)) return
      await durableAtAckFloor(jsm, RAW_STREAM, durableOf(partition), { filter: rawPartitionSubjects(partition) })
      const feed = { stopped: false, loop: Promise.resolve() }
      feed.loop = run(partition, feed)
      feeds.set(partition, feed)
    },
    /** Stops archiving a partition here; resolves once its last batch is in and acknowledged. */
    removePartition,
    /**
     * Resolves once everything on the archive stream now for the tenant's partition is in
     * ClickHouse: nothing left to deliver and nothing delivered unacknowledged (acks follow inserts).
     * Rejects when the partition is not archived here.
     */
    async caughtUp(tenant: string): Promise<void> {
      const partition = partitionOf(tenant, options.partitions)
      if (!feeds.has(partition)) throw new Error(`the raw archive of partition ${partition} is not kept here`)
      for (;;) {
        const info = await jsm.consumers.info(RAW_STREAM, durableOf(partition))
        if (info.num_pending === 0 && info.num_ack_pending === 0) return
        await new Promise((r) => setTimeout(r, pollMs))
      }
    },
    async stop(): Promise<void> {
      await Promise.all([...feeds.keys()].map(removePartition))
    },
  }
}

export type Archiver = ReturnType<typeof createArchiver>

export interface ArchiveQuery {
  tenant: string
  from: number
  to: number
  connector?: string
}

const where = `tenant = {tenant:String}
  AND received_at >= fromUnixTimestamp64Milli({from:Int64}) AND received_at < fromUnixTimestamp64Milli({to:Int64})
  AND ({connector:String} = '' OR connector = {connector:String})`

/** How many distinct payloads the archive holds for a query (for progress). */
export async function countArchived(client: ClickHouseClient, q: ArchiveQuery): Promise<number> {
  const result = await client.query({
    query: `SELECT uniqExact(payload_id) AS n FROM pulse.raw_archive WHERE ${where}`,
    query_params: params(q),
    format: 'JSONEachRow',
  })
  const [row] = await result.json<{ n: string }>()
  return Number(row?.n ?? 0)
}

/** The archived payloads of a query in receipt order, each once. */
export async function* readArchived(
  client: ClickHouseClient,
  q: ArchiveQuery,
): AsyncGenerator<ArchivedPage & { payloadId: string }> {
  const result = await client.query({
    query: `SELECT connector, connector_id, kind, payload_id, toUnixTimestamp64Milli(received_at) AS received_ms,
                   meta, body
            FROM pulse.raw_archive WHERE ${where} ORDER BY received_at, payload_id LIMIT 1 BY payload_id`,
    query_params: params(q),
    format: 'JSONEachRow',
  })
  for await (const chunk of result.stream<Record<string, string>>()) {
    for (const row of chunk) {
      const r = row.json()
      yield {
        connector: r.connector,
        connectorId: r.connector_id,
        kind: r.kind,
        payloadId: r.payload_id,
        receivedAt: Number(r.received_ms),
        meta: JSON.parse(r.meta || '{}'),
        body: r.body,
      }
    }
  }
}

const params = (q: ArchiveQuery) => ({ tenant: q.tenant, from: q.from, to: q.to, connector: q.connector ?? '' })
