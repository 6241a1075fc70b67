// The stream consumer when its sink keeps failing, against a real nats-server: /healthz names the
// stalled flush, and stop() finishes (leaving what did not land unacknowledged) even when the
// consumer is blocked on its in-memory limit or the sink never answers. The sink here is a stand-in
// that fails as a ClickHouse that cannot be reached would; the real sink is tested with chDB
// (test/integration/flusher-unstorable.test.ts, test/integration/unstorable-events.test.ts).
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { DEFAULT_PARTITIONS } from '../../app/config.ts'
import { EVENTS_STREAM, ensureStreams, eventSubject, partitionOf } from '../../ingest/streams.ts'
import { flushProbe, healthRoute } from '../../query/health-route.ts'
import { type Sink, createStreamConsumer, durableOf } from '../../stream/consumer.ts'
import { type Batch, createLiveState } from '../../stream/live-state.ts'
import { createProcessor } from '../../stream/processor.ts'
import { type TestNats, startNats, waitFor } from '../integration/harness.ts'

const tenant = { id: 't1', timezone: 'UTC', currency: 'USD' }
const T = Date.UTC(2026, 10, 22, 10, 0)
const order = (i: number) => ({
  id: `o-${i}`,
  type: 'order.created',
  ts: T,
  source: 'shopify',
  order_id: `o-${i}`,
  total: '1.00',
  subtotal: '1.00',
  channel: 'organic',
  items: [{ sku: 's', quantity: 1, price: '1.00' }],
})

let nats: TestNats
beforeEach(async () => {
  nats = await startNats()
})
afterEach(async () => nats?.stop())

async function consumerWith(sink: Sink, options: { maxLiveMessages?: number; now?: () => number } = {}) {
  const jsm = await jetstreamManager(nats.nc)
  await ensureStreams(jsm, { duplicateWindowMs: 60_000 })
  const js = jetstream(nats.nc)
  const live = createLiveState()
  const consumer = createStreamConsumer({
    js,
    jsm,
    live,
    sink,
    processor: createProcessor({ dedupHorizonMs: 86_400_000, latenessMs: 3_600_000 }),
    tenants: { get: async (id) => (id === tenant.id ? tenant : undefined) },
    partitionCount: DEFAULT_PARTITIONS,
    partitions: [partitionOf(tenant.id, DEFAULT_PARTITIONS)],
    flushIntervalMs: 20,
    stopGraceMs: 300,
    ...options,
  })
  await consumer.start()
  const publish = async (count: number) => {
    for (let i = 0; i < count; i++) {
      await js.publish(eventSubject(tenant.id, 'order.created', DEFAULT_PARTITIONS), JSON.stringify(order(i)))
    }
  }
  const durable = durableOf(partitionOf(tenant.id, DEFAULT_PARTITIONS))
  const ackFloor = async () => (await jsm.consumers.info(EVENTS_STREAM, durable)).ack_floor.stream_seq
  return { consumer, live, publish, ackFloor }
}

const unreachable = 'connect ECONNREFUSED 127.0.0.1:8123'

describe('stream consumer with a failing sink', () => {
  it('shows a stalled flush in /healthz, naming it, and recovers when the sink does', async () => {
    let failing = true
    const landed: string[] = []
    const sink: Sink = {
      async write(batch: Batch) {
        if (failing) throw new Error(unreachable)
        landed.push(...batch.events.map((e) => e.event_id))
      },
    }
    let clock = T
    const { consumer, publish, ackFloor } = await consumerWith(sink, { now: () => clock })
    const health = healthRoute({
      nats: async () => void (await nats.nc.flush()),
      clickhouse: async () => {},
      stream: flushProbe(consumer.flushHealth, () => clock),
    })
    const healthz = async () => {
      const res = await health.request('/healthz')
      return { status: res.status, body: await res.json() }
    }

    await publish(1)
    await waitFor(async () => consumer.flushHealth().lastError, 'a failed flush')
    expect(await healthz()).toEqual({ status: 200, body: { status: 'ok', nats: 'ok', clickhouse: 'ok', stream: 'ok' } })
    clock += 63_000
    expect(await healthz()).toEqual({
      status: 503,
      body: {
        status: 'degraded',
        nats: 'ok',
        clickhouse: 'ok',
        stream: `down: flush failing for 63 s: ${unreachable}`,
      },
    })

    failing = false
    await waitFor(async () => consumer.flushHealth().lastLandedAt, 'the flush to land')
    expect(await healthz()).toEqual({ status: 200, body: { status: 'ok', nats: 'ok', clickhouse: 'ok', stream: 'ok' } })
    expect(consumer.flushHealth()).toEqual({ lastLandedAt: clock })
    await consumer.stop()
    expect(landed).toEqual(['o-0'])
    expect(await ackFloor()).toBe(1)
  })

  it('stops while blocked on its in-memory limit with every flush failing, acknowledging nothing', async () => {
    const sink: Sink = { write: async () => Promise.reject(new Error(unreachable)) }
    const { consumer, live, publish, ackFloor } = await consumerWith(sink, { maxLiveMessages: 3 })
    await publish(6)
    const blocked = () => live.liveMessages() >= 3 && consumer.flushHealth().lastError !== undefined
    await waitFor(async () => (blocked() ? true : undefined), 'the consumer to block')
    await consumer.stop()
    expect(await ackFloor()).toBe(0)
  })

  it('stops when the sink never answers', async () => {
    let writes = 0
    const sink: Sink = { write: () => (writes++, new Promise<void>(() => {})) }
    const { consumer, publish, ackFloor } = await consumerWith(sink)
    await publish(2)
    await waitFor(async () => (writes > 0 ? true : undefined), 'a write to start')
    await consumer.stop()
    expect(await ackFloor()).toBe(0)
  })
})
