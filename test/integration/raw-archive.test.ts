// The raw archive against a real nats-server and chDB: a payload ClickHouse can never store (a
// foreign API's string with a lone surrogate) is skipped with a log line naming it, and every other
// payload of its batch and after it lands; each partition's payloads are archived by the node
// holding it, and a partition handed over goes on where the last owner stopped; the upgrade from
// subjects without a partition archives exactly what the old archiver had not.
import type { ClickHouseClient } from '@clickhouse/client'
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { openClickHouse } from '../../clickhouse/client.ts'
import { isPermanent, migrate } from '../../clickhouse/index.ts'
import { silentLog } from '../../common/log.ts'
import {
  RAW_STREAM,
  type RawRecord,
  archiveRaw,
  createArchiver,
  ensureRawStream,
  rawSubject,
} from '../../ingest/connectors/archive.ts'
import { moveOldRawLayout } from '../../ingest/connectors/raw-layout.ts'
import { createPipelinedPublisher } from '../../ingest/publisher.ts'
import { partitionOf } from '../../ingest/streams.ts'
import { logLines } from '../unit/log-lines.ts'
import { type TestNats, newDataDir, startNats } from './harness.ts'

const PARTITIONS = 4
// Tenants in two different partitions.
const ACME = 'acme'
const OTHER = ['globex', 'initech', 'umbrella', 'hooli'].find(
  (t) => partitionOf(t, PARTITIONS) !== partitionOf(ACME, PARTITIONS),
)!

const record = (payloadId: string, body: string, tenant = ACME): RawRecord => ({
  tenant,
  connector: 'meta-ads',
  connectorId: 'c1',
  kind: 'page',
  meta: {},
  body,
  receivedAt: Date.UTC(2026, 0, 1),
  payloadId,
})

describe('the raw archive', () => {
  let nats: TestNats
  let js: JetStreamClient
  let jsm: JetStreamManager
  const clickhouse = openClickHouse({ path: newDataDir() })
  beforeAll(async () => {
    nats = await startNats()
    js = jetstream(nats.nc)
    jsm = await jetstreamManager(nats.nc)
    await migrate(clickhouse)
  })
  afterEach(async () => {
    await jsm.streams.delete(RAW_STREAM).catch(() => {})
    await clickhouse.command({ query: 'TRUNCATE TABLE pulse.raw_archive' })
  })
  afterAll(async () => {
    await clickhouse.close()
    await nats?.stop()
  })

  const archived = async () => {
    const result = await clickhouse.query({
      query: 'SELECT tenant, payload_id, body FROM pulse.raw_archive ORDER BY tenant, payload_id',
      format: 'JSONEachRow',
    })
    return result.json()
  }

  it('skips a payload ClickHouse cannot store and archives the rest', async () => {
    await ensureRawStream(jsm)
    const subject = rawSubject(ACME, PARTITIONS)
    const records = [record('p1', '{"a":1}'), record('p2', '{"name":"\ud800"}'), record('p3', '{"a":3}')]
    for (const r of records) await js.publish(subject, JSON.stringify(r))
    const { log, lines } = logLines()
    const archiver = createArchiver({ js, jsm, client: clickhouse, log, partitions: PARTITIONS, isPermanent })
    await archiver.addPartition(partitionOf(ACME, PARTITIONS))
    await archiver.caughtUp(ACME)
    await js.publish(subject, JSON.stringify(record('p4', '{"a":4}')))
    await archiver.caughtUp(ACME)
    await archiver.stop()

    expect(await archived()).toEqual([
      { tenant: ACME, payload_id: 'p1', body: '{"a":1}' },
      { tenant: ACME, payload_id: 'p3', body: '{"a":3}' },
      { tenant: ACME, payload_id: 'p4', body: '{"a":4}' },
    ])
    const skipped = lines.filter((l) => l.msg === 'raw payload not archivable; skipped')
    expect(skipped.map((l) => [l.tenant, l.connector, l.payload_id, l.seq])).toEqual([[ACME, 'meta-ads', 'p2', 2]])
  })

  it("archives each partition's payloads on the node holding it, and a handed-over partition goes on there", async () => {
    await ensureRawStream(jsm)
    const publisher = createPipelinedPublisher(nats.nc)
    // Which node inserted what: the same chDB (one per process), each node's inserts recorded.
    const insertedBy = { a: [] as string[], b: [] as string[] }
    const recording = (into: string[]): ClickHouseClient =>
      new Proxy(clickhouse, {
        get(target, key) {
          if (key !== 'insert') return Reflect.get(target, key)
          return (params: { values: { payload_id: string }[] }) => {
            into.push(...params.values.map((v) => v.payload_id))
            return target.insert(params as never)
          }
        },
      })
    const nodeA = createArchiver({ js, jsm, client: recording(insertedBy.a), log: silentLog, partitions: PARTITIONS })
    const nodeB = createArchiver({ js, jsm, client: recording(insertedBy.b), log: silentLog, partitions: PARTITIONS })
    await nodeA.addPartition(partitionOf(ACME, PARTITIONS))
    await nodeB.addPartition(partitionOf(OTHER, PARTITIONS))
    await archiveRaw(publisher, [record('a1', '1'), record('o1', '2', OTHER), record('a2', '3')], PARTITIONS)
    await nodeA.caughtUp(ACME)
    await nodeB.caughtUp(OTHER)
    expect(insertedBy).toEqual({ a: ['a1', 'a2'], b: ['o1'] })
    await expect(nodeA.caughtUp(OTHER)).rejects.toThrow(/not kept here/)

    // acme's partition moves to B: what comes after is archived there, nothing twice.
    await nodeA.removePartition(partitionOf(ACME, PARTITIONS))
    await archiveRaw(publisher, [record('a3', '4'), record('o2', '5', OTHER)], PARTITIONS)
    await nodeB.addPartition(partitionOf(ACME, PARTITIONS))
    await nodeB.caughtUp(ACME)
    await nodeB.caughtUp(OTHER)
    expect({ a: insertedBy.a, b: insertedBy.b.toSorted() }).toEqual({ a: ['a1', 'a2'], b: ['a3', 'o1', 'o2'] })
    await nodeA.stop()
    await nodeB.stop()
    expect((await archived()).map((r) => (r as { payload_id: string }).payload_id)).toEqual([
      'a1',
      'a2',
      'a3',
      ...['o1', 'o2'],
    ])
  })

  it('moves what the archiver before partitions had not archived, once, also when run again', async () => {
    // The earlier layout: `pulse.raw.<tenant>`, one durable; it archived (acknowledged) the first two.
    await jsm.streams.add({ name: RAW_STREAM, subjects: ['pulse.raw.>'] })
    const old = [record('x1', '1'), record('x2', '2'), record('x3', '3'), record('y1', '4', OTHER)]
    for (const r of old) await js.publish(`pulse.raw.${r.tenant}`, JSON.stringify(r))
    await jsm.consumers.add(RAW_STREAM, { durable_name: 'pulse-archiver', ack_policy: 'all' as never })
    const consumer = await js.consumers.get(RAW_STREAM, 'pulse-archiver')
    const firstTwo = await consumer.fetch({ max_messages: 2, expires: 1_000 })
    let last
    for await (const m of firstTwo) last = m
    await last!.ackAck()

    const { log, lines } = logLines()
    await moveOldRawLayout({ nc: nats.nc, jsm, partitions: PARTITIONS, log })
    await moveOldRawLayout({ nc: nats.nc, jsm, partitions: PARTITIONS, log }) // nothing left to move
    const { state } = await jsm.streams.info(RAW_STREAM, { subjects_filter: '>' })
    expect(state.subjects).toEqual({
      [rawSubject(ACME, PARTITIONS)]: 1,
      [rawSubject(OTHER, PARTITIONS)]: 1,
    })
    await expect(jsm.consumers.info(RAW_STREAM, 'pulse-archiver')).rejects.toThrow(/consumer not found/)
    expect(lines.filter((l) => l.moved !== undefined).map((l) => [l.moved, l.archived_before])).toEqual([[2, 2]])

    const archiver = createArchiver({ js, jsm, client: clickhouse, log: silentLog, partitions: PARTITIONS })
    for (let p = 0; p < PARTITIONS; p++) await archiver.addPartition(p)
    await archiver.caughtUp(ACME)
    await archiver.caughtUp(OTHER)
    await archiver.stop()
    expect(await archived()).toEqual([
      { tenant: ACME, payload_id: 'x3', body: '3' },
      { tenant: OTHER, payload_id: 'y1', body: '4' },
    ])
  })
})
