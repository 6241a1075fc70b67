// Partitions in the event subject (ingest/partitions.ts, ingest/streams.ts): a tenant's partition is
// the one ClickHouse computes, every publisher puts it in the subject, the count is fixed per
// deployment, and the upgrade moves exactly the unacknowledged old-layout messages, also when a
// run is cut short at any step and started again. Against a real nats-server, and chDB.
import { AckPolicy, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream'
import { Kvm } from '@nats-io/kv'
import { type NatsConnection, headers as natsHeaders } from '@nats-io/transport-node'
import { afterEach, describe, expect, it } from 'vitest'
import { openClickHouse, rows } from '../../clickhouse/index.ts'
import type { Log, LogFields } from '../../common/log.ts'
import { defaultSettings } from '../../common/settings.ts'
import { eventsRoute } from '../../ingest/events-route.ts'
import {
  CLUSTER_BUCKET,
  MIGRATION_KEY,
  PARTITIONS_KEY,
  PartitionsMismatchError,
  ensurePartitions,
} from '../../ingest/partitions.ts'
import { createPipelinedPublisher } from '../../ingest/publisher.ts'
import { settingsRoute } from '../../ingest/settings-route.ts'
import {
  EVENTS_STREAM,
  HEADERS,
  ensureStreams,
  eventSubject,
  partitionOf,
  tenantOfSubject,
} from '../../ingest/streams.ts'
import { LEGACY_DURABLE as DURABLE } from '../../stream/consumer.ts'
import { openTenantRegistry } from '../../tenants/index.ts'
import { type TestNats, newDataDir, startApp, startNats } from './harness.ts'

const silent: Log = { info() {}, warn() {}, error() {} }
// All-digit ids too: an old `pulse.events.123.order.created` reads as well as partition 123 of tenant `order`.
const TENANTS = ['shop-a', '123', '0', `z${'9-'.repeat(31)}`]

let nats: TestNats | undefined
afterEach(async () => {
  await nats?.stop()
  nats = undefined
})

async function natsWithStreams(): Promise<{ nc: NatsConnection; jsm: JetStreamManager }> {
  nats = await startNats()
  const jsm = await jetstreamManager(nats.nc)
  await ensureStreams(jsm, { duplicateWindowMs: 60_000 })
  return { nc: nats.nc, jsm }
}

const ensure = (nc: NatsConnection, jsm: JetStreamManager, partitions: number, log: Log = silent) =>
  ensurePartitions({ nc, jsm, partitions, durable: DURABLE, log })

describe('partitionOf', () => {
  it("is ClickHouse's CRC32(tenant) % N for ids the tenant id rule allows", async () => {
    const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789-'
    let x = 7
    const random = () => (x = (x * 1_103_515_245 + 12_345) % 2 ** 31)
    const generated = Array.from({ length: 500 }, () => {
      const rest = Array.from({ length: random() % 63 }, () => alphabet[random() % alphabet.length])
      return alphabet[random() % (alphabet.length - 1)] + rest.join('')
    })
    const ids = [
      'a',
      '0',
      '9',
      '00',
      '123456789',
      '0-0',
      'a-',
      'z'.repeat(63),
      '9'.repeat(63),
      ...TENANTS,
      ...generated,
    ]
    const client = openClickHouse({ path: `${newDataDir()}/clickhouse` })
    try {
      for (const n of [1, 2, 7, 16, 1000, 1024]) {
        const answer = await rows<{ id: string; p: number }>(
          client,
          'SELECT id, CRC32(id) % {n:UInt32} AS p FROM (SELECT arrayJoin({ids:Array(String)}) AS id)',
          { ids, n },
        )
        expect(answer).toEqual(ids.map((id) => ({ id, p: partitionOf(id, n) })))
      }
    } finally {
      await client.close()
    }
  })
})

describe('publishers', () => {
  it('put the partition in the subject, and the tenant stays readable from it', async () => {
    const { nc, jsm } = await natsWithStreams()
    const tenants = await openTenantRegistry(nc)
    const { apiKey } = await tenants.create({ id: '42', name: 'digits', timezone: 'UTC', currency: 'USD' })
    const publisher = createPipelinedPublisher(nc)
    const partitions = 7
    const events = eventsRoute({ tenants, publisher, partitions, now: Date.now })
    const settings = settingsRoute({
      tenants,
      publisher,
      partitions,
      now: Date.now,
      settingsOf: defaultSettings,
      applied: async () => {},
    })
    const auth = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }
    const order = {
      id: 'o-1',
      type: 'order.created',
      ts: Date.now(),
      source: 'shop',
      order_id: '1',
      total: '1.00',
      subtotal: '1.00',
    }
    expect(
      (await events.request('/v1/events', { method: 'POST', headers: auth, body: `[${JSON.stringify(order)}]` }))
        .status,
    ).toBe(202)
    expect((await settings.request('/v1/settings', { method: 'PUT', headers: auth, body: '{}' })).status).toBe(200)

    const subjects = await Promise.all(
      [1, 2].map(async (seq) => (await jsm.streams.getMessage(EVENTS_STREAM, { seq }))!.subject),
    )
    const partition = partitionOf('42', partitions)
    expect(subjects).toEqual([
      `pulse.events.${partition}.42.order.created`,
      `pulse.events.${partition}.42.settings.updated`,
    ])
    expect(subjects.map(tenantOfSubject)).toEqual(['42', '42'])
  })
})

describe('the partition count', () => {
  it('is recorded at the first start, and a start with another is refused naming PARTITIONS', async () => {
    const { nc, jsm } = await natsWithStreams()
    await ensure(nc, jsm, 16)
    await ensure(nc, jsm, 16)
    const refusal = ensure(nc, jsm, 8)
    await expect(refusal).rejects.toBeInstanceOf(PartitionsMismatchError)
    await expect(refusal).rejects.toThrow(/PARTITIONS is 8, but this deployment's partition count is 16/)
    const kv = await new Kvm(nc).open(CLUSTER_BUCKET)
    expect((await kv.get(PARTITIONS_KEY))?.string()).toBe('16')
  })

  it('refuses the app a start with another count, saying so plainly', async () => {
    const { nc, jsm } = await natsWithStreams()
    await ensure(nc, jsm, 16)
    await expect(startApp({ env: { NATS_URL: nats!.url, PARTITIONS: '8' } })).rejects.toThrow(
      /app exited with 1:\nPARTITIONS is 8, but this deployment's partition count is 16/,
    )
  })
})

interface Seeded {
  seq: number
  tenant: string
  type: string
  receivedAt: string
  fx: string
  data: string
}

/** `count` messages under the old subjects as ingest published them; the durable acked the first `acked`. */
async function seedOldLayout(
  nc: NatsConnection,
  jsm: JetStreamManager,
  count: number,
  acked: number,
): Promise<Seeded[]> {
  const seeded = Array.from({ length: count }, (_, i) => ({
    seq: i + 1,
    tenant: TENANTS[i % TENANTS.length],
    type: i % 10 === 0 ? 'settings.updated' : 'order.created',
    receivedAt: String(1_790_000_000_000 + i),
    fx: i % 3 === 0 ? '1.25' : '',
    data: JSON.stringify({ id: `e-${i}` }),
  }))
  const acks = await createPipelinedPublisher(nc).publishAll(
    seeded.map((s) => {
      const h = natsHeaders()
      h.set('Nats-Msg-Id', `${s.tenant}:e-${s.seq}`)
      h.set(HEADERS.receivedAt, s.receivedAt)
      if (s.fx) h.set(HEADERS.fx, s.fx)
      return { subject: `pulse.events.${s.tenant}.${s.type}`, data: s.data, headers: h }
    }),
  )
  expect(acks.map((a) => a.seq)).toEqual(seeded.map((s) => s.seq))
  if (acked > 0) {
    await jsm.consumers.add(EVENTS_STREAM, { durable_name: DURABLE, ack_policy: AckPolicy.All })
    const consumer = await jetstream(nc).consumers.get(EVENTS_STREAM, DURABLE)
    for await (const m of await consumer.fetch({ max_messages: acked })) if (m.seq === acked) await m.ackAck()
    expect((await jsm.consumers.info(EVENTS_STREAM, DURABLE)).ack_floor.stream_seq).toBe(acked)
  }
  return seeded
}

/** The stream's messages as the consumer will see them. */
async function contents(jsm: JetStreamManager) {
  const { state } = await jsm.streams.info(EVENTS_STREAM)
  const seqs = Array.from({ length: state.last_seq - state.first_seq + 1 }, (_, i) => state.first_seq + i)
  const stored = await Promise.all(seqs.map((seq) => jsm.streams.getMessage(EVENTS_STREAM, { seq })))
  return stored
    .filter((m) => m !== null)
    .map((m) => ({
      subject: m.subject,
      movedFrom: m.header.get(HEADERS.movedFrom),
      receivedAt: m.header.get(HEADERS.receivedAt),
      fx: m.header.get(HEADERS.fx),
      msgId: m.header.get('Nats-Msg-Id'),
      data: m.string(),
    }))
}

/** What the upgrade must leave: the unacked messages, in order, under their partition's subject. */
const moved = (seeded: Seeded[], acked: number, partitions: number) =>
  seeded
    .filter((s) => s.seq > acked)
    .map((s) => ({
      subject: eventSubject(s.tenant, s.type, partitions),
      movedFrom: String(s.seq),
      receivedAt: s.receivedAt,
      fx: s.fx,
      msgId: '',
      data: s.data,
    }))

class Crash extends Error {}

/** A log that throws at its first line `message`: the run stops right there, as a crash would. */
function crashingAt(message: string): Log {
  return {
    info(_fields: LogFields, line: string) {
      if (line === message) throw new Crash(`crash after "${message}"`)
    },
    warn() {},
    error() {},
  }
}

describe('the upgrade from subjects without a partition', () => {
  // Over 1,000 (a batch) unacked, so a run can stop between batches.
  const COUNT = 1_300
  const ACKED = 200

  it('moves exactly the unacked messages with their headers, purges the rest and records the count', async () => {
    const { nc, jsm } = await natsWithStreams()
    const seeded = await seedOldLayout(nc, jsm, COUNT, ACKED)
    const lines: [LogFields, string][] = []
    await ensure(nc, jsm, 16, { info: (f, m) => lines.push([f, m]), warn() {}, error() {} })

    expect(await contents(jsm)).toEqual(moved(seeded, ACKED, 16))
    const { state } = await jsm.streams.info(EVENTS_STREAM)
    expect([state.messages, state.first_seq]).toEqual([COUNT - ACKED, COUNT + 1])
    expect(lines).toContainEqual([
      { first: ACKED + 1, last: COUNT, moved: COUNT - ACKED, moved_earlier: 0 },
      'old-layout messages moved',
    ])
    const kv = await new Kvm(nc).open(CLUSTER_BUCKET)
    expect((await kv.get(PARTITIONS_KEY))?.string()).toBe('16')
    expect((await kv.get(MIGRATION_KEY))?.json()).toEqual({ first: ACKED + 1, last: COUNT, partitions: 16 })

    // A later start finds the count and moves nothing again.
    await ensure(nc, jsm, 16)
    expect(await contents(jsm)).toEqual(moved(seeded, ACKED, 16))
  })

  it('moves every message when there is no durable consumer yet', async () => {
    const { nc, jsm } = await natsWithStreams()
    const seeded = await seedOldLayout(nc, jsm, 12, 0)
    await ensure(nc, jsm, 4)
    expect(await contents(jsm)).toEqual(moved(seeded, 0, 4))
  })

  it('moves nothing and purges everything when every message was acked', async () => {
    const { nc, jsm } = await natsWithStreams()
    await seedOldLayout(nc, jsm, 12, 12)
    await ensure(nc, jsm, 4)
    expect(await contents(jsm)).toEqual([])
  })

  it.each([
    ['the marker is recorded', 'moving old-layout messages to partition subjects'],
    ['the first batch is moved', 'moving old-layout messages'],
    ['every batch is moved', 'old-layout messages moved'],
    ['the old messages are purged', 'old-layout messages purged'],
    ['the count is recorded', 'partition count recorded'],
  ])('leaves the same stream when a run stops after %s and starts again', async (_step, message) => {
    const { nc, jsm } = await natsWithStreams()
    const seeded = await seedOldLayout(nc, jsm, COUNT, ACKED)
    await expect(ensure(nc, jsm, 16, crashingAt(message))).rejects.toBeInstanceOf(Crash)
    await ensure(nc, jsm, 16)
    expect(await contents(jsm)).toEqual(moved(seeded, ACKED, 16))
    expect((await jsm.streams.info(EVENTS_STREAM)).state.messages).toBe(COUNT - ACKED)
  })

  it('refuses to finish a stopped move with another count', async () => {
    const { nc, jsm } = await natsWithStreams()
    const seeded = await seedOldLayout(nc, jsm, 30, 10)
    await expect(ensure(nc, jsm, 8, crashingAt('old-layout messages moved'))).rejects.toBeInstanceOf(Crash)
    await expect(ensure(nc, jsm, 16)).rejects.toThrow(/PARTITIONS is 16, but this deployment's partition count is 8/)
    await ensure(nc, jsm, 8)
    expect(await contents(jsm)).toEqual(moved(seeded, 10, 8))
  })
})
