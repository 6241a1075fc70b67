// A node loads one partition's state into the state it already keeps for other partitions, and
// drops it again (stream/partition-state.ts, clickhouse/partition-state.ts): from the partition's
// snapshot and its later events in this ClickHouse, or from JetStream when its history is
// elsewhere; a failed load leaves nothing of the partition behind. Against a real nats-server and
// chDB, with events consumed and landed by the real consumer and sink (the reference state).
import { join } from 'node:path'
import type { ClickHouseClient } from '@clickhouse/client'
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream'
import { headers as natsHeaders } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAlertAggregate } from '../../alerts/aggregate.ts'
import {
  createCheckpointer,
  createClickHouseSink,
  firstFlushId,
  flushEpoch,
  loadPartition,
  migrate,
  openClickHouse,
  prepareHistory,
} from '../../clickhouse/index.ts'
import { silentLog } from '../../common/log.ts'
import { defaultSettings } from '../../common/settings.ts'
import { ensurePartitions } from '../../ingest/partitions.ts'
import { EVENTS_STREAM, HEADERS, ackFloorOf, ensureStreams, eventSubject, partitionOf } from '../../ingest/streams.ts'
import {
  type CheckpointStore,
  type PartitionHistories,
  SETTINGS_TYPE,
  createLiveState,
  createProcessor,
  createStreamConsumer,
  openCheckpointStore,
  openPartitionHistories,
  withLandingNoted,
} from '../../stream/index.ts'
import { LEGACY_DURABLE, type TenantDirectory, durableOf } from '../../stream/consumer.ts'
import type { TenantRef } from '../../tenants/index.ts'
import { DAY, HORIZON, LATENESS, T, created, refund, shopper, updated } from '../unit/processor-fixtures.ts'
import { type TestNats, newDataDir, startNats } from './harness.ts'

const P = 16
const alpha: TenantRef = { id: 'alpha', timezone: 'Europe/Berlin', currency: 'USD' }
const bravo: TenantRef = { id: 'bravo', timezone: 'UTC', currency: 'USD' }
const pA = partitionOf(alpha.id, P)
const pB = partitionOf(bravo.id, P)
const directory: TenantDirectory = { get: async (id) => [alpha, bravo].find((t) => t.id === id) }

function newState() {
  const processor = createProcessor({ dedupHorizonMs: HORIZON, latenessMs: LATENESS })
  const alerts = createAlertAggregate({ horizonMs: () => 30 * DAY })
  return { processor, alerts, sections: { processor, alerts }, onApplied: alerts.add }
}
type State = ReturnType<typeof newState>

/** Everything a state holds of one tenant, as its records. */
const recordsOf = (state: State, tenant: string) => [
  ...state.processor.exportRecords((t) => t === tenant),
  ...state.alerts.exportRecords((t) => t === tenant),
]

let nats: TestNats
let js: JetStreamClient
let jsm: JetStreamManager
let client: ClickHouseClient
let store: CheckpointStore
let histories: PartitionHistories
let history: string
/** The state of the node that consumed and landed everything: what a load must rebuild. */
const reference = newState()
/** Events (and settings) of alpha applied after its snapshot. */
let alphaTail = 0

let published = 0
async function publish(tenant: TenantRef, body: Record<string, unknown> | string, type = 'order.created') {
  const h = natsHeaders()
  h.set(HEADERS.receivedAt, String(T + 3 * DAY + ++published * 1000))
  const data = typeof body === 'string' ? body : JSON.stringify(body)
  const ack = await js.publish(eventSubject(tenant.id, type, P), data, { headers: h, msgID: `m-${published}` })
  return ack.seq
}

/** A day of a tenant's shop: orders, edits, refunds, cancellation, shoppers; `n` names them apart. */
function shopDay(n: number): [Record<string, unknown>, string][] {
  const out: [Record<string, unknown>, string][] = []
  for (let i = 0; i < 20; i++) {
    const order = `o-${n}-${i}`
    const customer_id = `c-${i % 7}`
    out.push([created({ order_id: order, customer_id, ts: T + n * DAY + i * 60_000 }), 'order.created'])
    out.push([shopper('cart.added', { customer_id, ts: T + n * DAY + i * 60_000 - 1000 }), 'cart.added'])
    if (i % 3 === 0)
      out.push([updated({ order_id: order, customer_id, ts: T + n * DAY + i * 60_000 }), 'order.updated'])
    if (i % 4 === 1)
      out.push([
        refund({ order_id: order, refund_id: `r-${order}`, ts: T + n * DAY + HORIZON / 100 }),
        'refund.created',
      ])
  }
  // A refund of an order not seen yet: it waits for it.
  out.push([refund({ order_id: `o-${n + 1}-0`, refund_id: `early-${n}`, ts: T + n * DAY }), 'refund.created'])
  return out
}

const settings = () => ({
  id: `settings-${published}`,
  type: SETTINGS_TYPE,
  ts: T + 2 * DAY,
  source: 'pulse',
  settings: { ...defaultSettings(), default_cogs_rate: 0.42, sku_costs: { a: '12.50' } },
})

beforeAll(async () => {
  nats = await startNats()
  jsm = await jetstreamManager(nats.nc)
  js = jetstream(nats.nc)
  await ensureStreams(jsm, { duplicateWindowMs: 60_000 })
  await ensurePartitions({ nc: nats.nc, jsm, partitions: P, durable: LEGACY_DURABLE, log: silentLog })
  client = openClickHouse({ path: join(newDataDir(), 'clickhouse') })
  await migrate(client)
  history = (await prepareHistory(client)).history
  histories = await openPartitionHistories(nats.nc)
  store = await openCheckpointStore({ nc: nats.nc, dir: join(newDataDir(), 'checkpoints') })

  const consumer = createStreamConsumer({
    js,
    jsm,
    processor: reference.processor,
    live: createLiveState(),
    sink: withLandingNoted(
      createClickHouseSink({
        client,
        customer: (tenant, id) => reference.processor.customers(tenant).get(id),
        timezoneOf: async (id) => (await directory.get(id))!.timezone,
        firstFlushId: firstFlushId(await flushEpoch(nats.nc)),
      }),
      { histories, history, partitions: P },
    ),
    tenants: directory,
    partitionCount: P,
    partitions: [pA, pB],
    onApplied: reference.alerts.add,
    flushIntervalMs: 50,
  })
  await consumer.start()
  /** Publishes, then waits until all of it is applied, landed and acknowledged. */
  const land = async (messages: [TenantRef, Record<string, unknown> | string, string?][]) => {
    const last = new Map<TenantRef, number>()
    for (const [tenant, body, type] of messages) last.set(tenant, await publish(tenant, body, type))
    for (const [tenant, seq] of last) await consumer.applied(tenant.id, seq)
    await consumer.flush()
    for (const [tenant, seq] of last) {
      const durable = durableOf(partitionOf(tenant.id, P))
      while (((await ackFloorOf(jsm, EVENTS_STREAM, durable)) ?? 0) < seq) await new Promise((r) => setTimeout(r, 20))
    }
  }

  const day1 = shopDay(1)
  await land([
    ...day1.map(([e, type]): [TenantRef, Record<string, unknown>, string] => [alpha, e, type]),
    ...shopDay(1).map(([e, type]): [TenantRef, Record<string, unknown>, string] => [bravo, e, type]),
  ])
  const checkpointer = createCheckpointer({
    partitions: P,
    store,
    client,
    history,
    histories,
    jsm,
    js,
    tenants: directory,
    newState,
    owned: () => [pA, pB],
    everyMs: 0,
  })
  const first = await checkpointer.checkpoint()
  expect(first?.partitions.map((c) => c.scope).sort()).toEqual([`p${pA}`, `p${pB}`].sort())
  expect(await checkpointer.checkpoint()).toBeUndefined() // nothing landed since

  // The tail after the snapshot: settings, more days, a repeat of an event (a duplicate), and what
  // the consumer dead-letters (not JSON, another currency without a rate).
  const tail: [TenantRef, Record<string, unknown> | string, string?][] = [
    [alpha, settings(), SETTINGS_TYPE],
    ...shopDay(2).map(([e, type]): [TenantRef, Record<string, unknown>, string] => [alpha, e, type]),
    [alpha, day1[3][0], String(day1[3][1])],
    [alpha, 'not json'],
    [alpha, created({ order_id: 'eur', currency: 'EUR' })],
    ...shopDay(2).map(([e, type]): [TenantRef, Record<string, unknown>, string] => [bravo, e, type]),
  ]
  alphaTail = 1 + shopDay(2).length
  await land(tail)
  await consumer.stop()
  await checkpointer.stop()
}, 120_000)

afterAll(async () => {
  await client?.close()
  await nats?.stop()
})

const sources = () => ({ partitions: P, store, client, history, histories, jsm, js, tenants: directory })

describe('loading and dropping a partition', () => {
  it('records where a partition landed: here, until another history lands some of it', async () => {
    expect(await histories.of(pA)).toEqual([history])
    expect(await histories.historyHere(pA, history)).toBe(true)
    expect(await histories.historyHere(pA, 'another-history')).toBe(false)
    // A partition nobody landed is here wherever one looks.
    const other = [0, 1, 2].find((p) => p !== pA && p !== pB)!
    expect(await histories.historyHere(other, 'any')).toBe(true)
  })

  it('loads from the snapshot and the ClickHouse tail beside another partition, which is untouched', async () => {
    const node = newState()
    const b = await loadPartition({ ...sources(), partition: pB, state: node })
    expect(b.historyHere).toBe(true)
    const bravoBefore = recordsOf(node, bravo.id)
    expect(bravoBefore).toEqual(recordsOf(reference, bravo.id))

    const a = await loadPartition({ ...sources(), partition: pA, state: node })
    expect(a).toMatchObject({ historyHere: true, replayed: alphaTail })
    expect(a.snapshot?.scope).toBe(`p${pA}`)
    expect(recordsOf(node, alpha.id)).toEqual(recordsOf(reference, alpha.id))
    expect(node.processor.settings(alpha.id).default_cogs_rate).toBe(0.42)
    expect(recordsOf(node, bravo.id)).toEqual(bravoBefore)
  })

  it('loads from the snapshot and the JetStream tail when the history is elsewhere: the same state', async () => {
    const node = newState()
    const here = 'a-node-whose-clickhouse-holds-none-of-it'
    const a = await loadPartition({ ...sources(), history: here, partition: pA, state: node })
    expect(a).toMatchObject({ historyHere: false, replayed: alphaTail })
    expect(a.snapshot?.scope).toBe(`p${pA}`)
    expect(recordsOf(node, alpha.id)).toEqual(recordsOf(reference, alpha.id))
    // The figures a reader sees.
    const customers = (s: State) => [...s.processor.customers(alpha.id).exportChunks()]
    expect(customers(node)).toEqual(customers(reference))
    expect(node.processor.settings(alpha.id)).toEqual(reference.processor.settings(alpha.id))
    expect(node.processor.activity.latest(alpha.id, 50)).toEqual(reference.processor.activity.latest(alpha.id, 50))
    expect(node.alerts.sum(alpha.id, 0, T + 10 * DAY)).toEqual(reference.alerts.sum(alpha.id, 0, T + 10 * DAY))
    expect(node.processor.settings(alpha.id).sku_costs).toEqual({ a: '12.50' })
  })

  it('drops a partition: its tenants are forgotten, the others intact', async () => {
    const node = newState()
    await loadPartition({ ...sources(), partition: pB, state: node })
    await loadPartition({ ...sources(), partition: pA, state: node })
    const bravoBefore = recordsOf(node, bravo.id)
    node.processor.dropTenants((t) => partitionOf(t, P) === pA)
    node.alerts.dropTenants((t) => partitionOf(t, P) === pA)
    expect(recordsOf(node, alpha.id)).toEqual([])
    expect(node.processor.activity.latest(alpha.id, 10)).toEqual([])
    expect(node.processor.funnel.counts(alpha.id, '0000', '9999')).toEqual([])
    expect(node.alerts.tenants()).toEqual([bravo.id])
    expect(recordsOf(node, bravo.id)).toEqual(bravoBefore)
  })

  it('a load that fails leaves nothing of the partition behind', async () => {
    const node = newState()
    await loadPartition({ ...sources(), partition: pB, state: node })
    const bravoBefore = recordsOf(node, bravo.id)
    // The snapshot goes in; the tail's first lookup of a tenant fails.
    const failing: TenantDirectory = {
      get: async (id) => {
        if (id === alpha.id) throw new Error('registry unreachable')
        return directory.get(id)
      },
    }
    for (const history_ of [history, 'elsewhere']) {
      await expect(
        loadPartition({ ...sources(), history: history_, tenants: failing, partition: pA, state: node }),
      ).rejects.toThrow('registry unreachable')
      expect(recordsOf(node, alpha.id)).toEqual([])
      expect(node.processor.activity.latest(alpha.id, 10)).toEqual([])
      expect(node.processor.funnel.counts(alpha.id, '0000', '9999')).toEqual([])
      expect(node.alerts.tenants()).toEqual([bravo.id])
      expect(recordsOf(node, bravo.id)).toEqual(bravoBefore)
    }
  })

  it('checkpoints a partition whose history is elsewhere from JetStream, and the snapshot loads here', async () => {
    const elsewhere = 'another-clickhouse'
    const checkpointer = createCheckpointer({
      ...sources(),
      history: elsewhere,
      newState,
      owned: () => [pA],
      everyMs: 0,
    })
    const taken = await checkpointer.checkpoint()
    expect(taken).toMatchObject({ replayed: alphaTail, partitions: [{ scope: `p${pA}`, history: elsewhere }] })
    const node = newState()
    expect(await loadPartition({ ...sources(), partition: pA, state: node })).toMatchObject({
      historyHere: true,
      replayed: 0,
      snapshot: { last_seq: taken!.last_seq },
    })
    expect(recordsOf(node, alpha.id)).toEqual(recordsOf(reference, alpha.id))
  })
})
