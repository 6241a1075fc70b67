// The stream consumer's durables per partition, against a real nats-server: one flush acks every
// partition it holds messages of, and a deployment upgraded from the one durable over every
// subject starts each partition's durable after that durable's ack floor (nothing landed is
// applied again, nothing unlanded is skipped), then deletes it.
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { EVENTS_STREAM, ensureStreams, eventSubject, partitionOf } from '../../ingest/streams.ts'
import { LEGACY_DURABLE, type Sink, createStreamConsumer, durableOf } from '../../stream/consumer.ts'
import { type Batch, createLiveState } from '../../stream/live-state.ts'
import { createProcessor } from '../../stream/processor.ts'
import { type TestNats, startNats, waitFor } from '../integration/harness.ts'

const PARTITIONS = 4
// Two tenants in different partitions (CRC32 % 4: 0 and 2).
const tenants = ['shop-a', 'shop-b'].map((id) => ({ id, timezone: 'UTC', currency: 'USD' }))
const order = (i: number) => ({
  id: `o-${i}`,
  type: 'order.created',
  ts: Date.UTC(2026, 10, 22, 10, 0),
  source: 'shopify',
  order_id: `o-${i}`,
  total: '1.00',
  subtotal: '1.00',
  items: [{ sku: 's', quantity: 1, price: '1.00' }],
})

let nats: TestNats
beforeEach(async () => {
  nats = await startNats()
})
afterEach(async () => nats?.stop())

async function setUp() {
  const jsm = await jetstreamManager(nats.nc)
  await ensureStreams(jsm, { duplicateWindowMs: 60_000 })
  const js = jetstream(nats.nc)
  const publish = async (tenant: string, from: number, count: number) => {
    for (let i = from; i < from + count; i++)
      await js.publish(eventSubject(tenant, 'order.created', PARTITIONS), JSON.stringify(order(i)))
  }
  const landed: string[] = []
  const sink: Sink = {
    write: async (batch: Batch) => void landed.push(...batch.events.map((e) => `${e.tenant}:${e.event_id}`)),
  }
  const start = async () => {
    const consumer = createStreamConsumer({
      js,
      jsm,
      live: createLiveState(),
      sink,
      processor: createProcessor({ dedupHorizonMs: 86_400_000, latenessMs: 3_600_000 }),
      tenants: { get: async (id) => tenants.find((t) => t.id === id) },
      partitionCount: PARTITIONS,
      partitions: [0, 1, 2, 3],
      flushIntervalMs: 20,
    })
    await consumer.start()
    return consumer
  }
  const floor = async (durable: string) => (await jsm.consumers.info(EVENTS_STREAM, durable)).ack_floor.stream_seq
  return { jsm, js, publish, landed, start, floor }
}

describe('stream consumer per partition', () => {
  it('holds the two tenants in two partitions', () => {
    expect(new Set(tenants.map((t) => partitionOf(t.id, PARTITIONS))).size).toBe(2)
  })

  it('acks every partition a landed batch holds messages of', async () => {
    const { publish, landed, start, floor } = await setUp()
    const consumer = await start()
    await publish('shop-a', 0, 3)
    await publish('shop-b', 3, 2)
    await waitFor(async () => (landed.length === 5 ? true : undefined), 'five events landed')
    const [a, c] = tenants.map((t) => durableOf(partitionOf(t.id, PARTITIONS)))
    await waitFor(async () => ((await floor(a)) === 3 && (await floor(c)) === 5 ? true : undefined), 'both acked')
    await consumer.stop()
  })

  it('starts after the ack floor of the durable before partitions, and deletes it', async () => {
    const { jsm, js, publish, landed, start } = await setUp()
    await publish('shop-a', 0, 4)
    await publish('shop-b', 4, 4)
    // The one durable of before: it landed and acked the first 5 messages.
    await jsm.consumers.add(EVENTS_STREAM, {
      durable_name: LEGACY_DURABLE,
      ack_policy: AckPolicy.All,
      deliver_policy: DeliverPolicy.All,
    })
    const legacy = await (await js.consumers.get(EVENTS_STREAM, LEGACY_DURABLE)).fetch({ max_messages: 5 })
    let last: { ack(): void } | undefined
    for await (const m of legacy) last = m
    last?.ack()
    await waitFor(
      async () =>
        (await jsm.consumers.info(EVENTS_STREAM, LEGACY_DURABLE)).ack_floor.stream_seq === 5 ? true : undefined,
      'the legacy ack floor at 5',
    )

    const consumer = await start()
    await waitFor(async () => (landed.length === 3 ? true : undefined), 'the three unlanded events')
    expect(landed.sort()).toEqual(['shop-b:o-5', 'shop-b:o-6', 'shop-b:o-7'])
    const names: string[] = []
    for await (const info of jsm.consumers.list(EVENTS_STREAM)) names.push(info.name)
    expect(names.sort()).toEqual([0, 1, 2, 3].map(durableOf))
    await consumer.stop()
  })
})
