// Several writers on one ClickHouse (worker threads on one chDB path, nodes on one server): flush
// ids from NATS KV epochs never collide, and uncommitted rollup rows are removed per partition by
// the partition's new owner only (clickhouse/flush-ids.ts, clickhouse/recovery.ts). Two sinks with
// different epochs land interleaved into one real chDB; then one writer dies between the rollup
// insert and the events insert of a flush while the other is between them too (it is alive).
import { join } from 'node:path'
import type { ClickHouseClient } from '@clickhouse/client'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type ClickHouseSink,
  createClickHouseSink,
  firstFlushId,
  flushEpoch,
  loadPartition,
  migrate,
  openClickHouse,
  prepareHistory,
  rows,
} from '../../clickhouse/index.ts'
import { eventSubject, partitionOf } from '../../ingest/streams.ts'
import {
  type Batch,
  type Delta,
  type StreamState,
  createLiveState,
  createProcessor,
  openPartitionHistories,
} from '../../stream/index.ts'
import type { TenantDirectory } from '../../stream/consumer.ts'
import { MEASURES, measuresOf } from '../../stream/measures.ts'
import { HORIZON, LATENESS, archivedEvent } from '../unit/processor-fixtures.ts'
import { type TestNats, newDataDir, startNats } from './harness.ts'

const P = 16
/** Tenants of the live writer (`alpha`) and of the writer that dies (`bravo`). */
const pA = partitionOf('alpha', P)
const pB = partitionOf('bravo', P)
const H = Date.UTC(2026, 10, 22, 10, 0)
const HOUR = 3_600_000
const directory: TenantDirectory = {
  get: async (id) => ({ id, timezone: 'UTC', currency: 'USD' }),
}

let nats: TestNats
let client: ClickHouseClient
let seq = 0

beforeAll(async () => {
  nats = await startNats()
  client = openClickHouse({ path: join(newDataDir(), 'clickhouse') })
  await migrate(client)
})
afterAll(async () => {
  await client?.close()
  await nats?.stop()
})

const gmv = (minute: number, cents: number, channel = 'organic'): Delta => ({
  minute,
  source: 'shopify',
  channel,
  values: measuresOf({ gmv: cents, orders: 1 }),
})

/** One event of the tenant carrying these deltas, as the consumer seals it. */
function batchOf(tenant: string, deltas: Delta[]): Batch {
  const live = createLiveState()
  const id = `e${++seq}`
  live.addEvent(archivedEvent({ tenant, event_id: id, seq, raw: '{}' }), deltas, [], eventSubject(tenant, 'x', P))
  live.noteMessage(() => {})
  return live.seal()!
}

/** A flush that put in its rollup rows and not (or not yet) its events. */
async function rollupsOnly(tenant: string, flushId: number, deltas: Delta[]): Promise<void> {
  const values = deltas.map((d) => {
    const row: Record<string, unknown> = {
      tenant,
      minute: d.minute / 1000,
      local_day: new Date(d.minute).toISOString().slice(0, 10),
      source: d.source,
      channel: d.channel,
      flush_id: flushId,
    }
    MEASURES.forEach((m, i) => (row[m] = d.values[i]))
    return row
  })
  // A token as the flusher's: embedded chDB would otherwise reuse the session's last one.
  const clickhouse_settings = { insert_deduplication_token: `orphan-${tenant}-${flushId}` }
  await client.insert({ table: 'pulse.rollup_minute', values, format: 'JSONEachRow', clickhouse_settings })
}

const flushesOf = async (tenant: string) =>
  (
    await rows<{ flush_id: number | string }>(
      client,
      'SELECT DISTINCT flush_id FROM pulse.rollup_minute WHERE tenant = {tenant:String} ORDER BY flush_id',
      { tenant },
    )
  ).map((r) => Number(r.flush_id))

const sums = MEASURES.map((m) => `sum(${m}) AS ${m}`).join(', ')
const nonZero = `HAVING ${MEASURES.map((m) => `${m} != 0`).join(' OR ')}`
/** The tenant's figures per hour and dimension, from the minute rows (`where`) or from rollup_hour. */
async function hourly(table: 'rollup_minute' | 'rollup_hour', tenant: string, where = '1') {
  return rows(
    client,
    `SELECT toStartOfHour(minute) AS hour, local_day, source, channel, ${sums} FROM pulse.${table} ` +
      `WHERE tenant = {tenant:String} AND ${where} GROUP BY ALL ${nonZero} ORDER BY ALL`,
    { tenant },
  )
}

async function load(partition: number): Promise<void> {
  const processor = createProcessor({ dedupHorizonMs: HORIZON, latenessMs: LATENESS })
  const state: StreamState = { processor, sections: { processor } }
  await loadPartition({
    partition,
    partitions: P,
    state,
    client,
    history: (await prepareHistory(client)).history,
    histories: await openPartitionHistories(nats.nc),
    jsm: await jetstreamManager(nats.nc),
    js: jetstream(nats.nc),
    tenants: directory,
  })
}

describe('flush ids and uncommitted rows with several writers on one ClickHouse', () => {
  let a: ClickHouseSink
  let b: ClickHouseSink
  let epochA: number
  let epochB: number

  it('numbers each writer’s flushes from an epoch of its own, above every older flush id', async () => {
    expect(pA).not.toBe(pB)
    epochA = await flushEpoch(nats.nc)
    epochB = await flushEpoch(nats.nc)
    expect(epochB).toBeGreaterThan(epochA)
    const timezoneOf = async () => 'UTC'
    a = createClickHouseSink({ client, timezoneOf, firstFlushId: firstFlushId(epochA) })
    b = createClickHouseSink({ client, timezoneOf, firstFlushId: firstFlushId(epochB) })
    // Interleaved, as two threads would land.
    await a.write(batchOf('alpha', [gmv(H, 100)]))
    await b.write(batchOf('bravo', [gmv(H, 200), gmv(H + HOUR, 300)]))
    await a.write(batchOf('alpha', [gmv(H + 60_000, 10)]))
    await b.write(batchOf('bravo', [gmv(H + 120_000, 20, 'facebook')]))
    const a1 = epochA * 2 ** 32 + 1
    const b1 = epochB * 2 ** 32 + 1
    expect(a1).toBeGreaterThan(2 ** 32) // above the ids of history from before epochs (1, 2, …)
    expect(await flushesOf('alpha')).toEqual([a1, a1 + 1])
    expect(await flushesOf('bravo')).toEqual([b1, b1 + 1])
    const events = await rows(client, 'SELECT tenant, flush_id FROM pulse.events ORDER BY flush_id')
    expect(events).toEqual([
      { tenant: 'alpha', flush_id: a1 },
      { tenant: 'alpha', flush_id: a1 + 1 },
      { tenant: 'bravo', flush_id: b1 },
      { tenant: 'bravo', flush_id: b1 + 1 },
    ])
  })

  it('removes, on taking a partition, exactly the dead writer’s uncommitted rows of it; the hours stay exact', async () => {
    const a1 = epochA * 2 ** 32 + 1
    const b1 = epochB * 2 ** 32 + 1
    // bravo's writer dies after the rollup insert of its third flush: in an hour with committed
    // rows of the same dimensions (H) and in one with none (H + 2h).
    await rollupsOnly('bravo', b1 + 2, [gmv(H, 7000), gmv(H + 2 * HOUR, 9000)])
    // alpha's writer is alive, between the two inserts of its third flush, in committed hours too.
    const inFlight = [gmv(H, 500), gmv(H + 3 * HOUR, 40)]
    await rollupsOnly('alpha', a1 + 2, inFlight)
    const alphaBefore = await hourly('rollup_minute', 'alpha')
    expect(await hourly('rollup_hour', 'alpha')).toEqual(alphaBefore)

    // Every other partition is taken (by a third node, say): nothing of either writer is removed.
    for (let p = 0; p < P; p++) if (p !== pA && p !== pB) await load(p)
    expect(await flushesOf('alpha')).toEqual([a1, a1 + 1, a1 + 2])
    expect(await flushesOf('bravo')).toEqual([b1, b1 + 1, b1 + 2])

    // bravo's partition is taken: its orphan flush goes, and the hourly rollup is what bravo's
    // committed minute rows sum to (the view had summed the orphans in). Twice: the same.
    const committed = await hourly('rollup_minute', 'bravo', `flush_id <= ${b1 + 1}`)
    expect(committed).toEqual([
      { hour: '2026-11-22 10:00:00', local_day: '2026-11-22', source: 'shopify', channel: 'facebook', ...figures(20) },
      { hour: '2026-11-22 10:00:00', local_day: '2026-11-22', source: 'shopify', channel: 'organic', ...figures(200) },
      { hour: '2026-11-22 11:00:00', local_day: '2026-11-22', source: 'shopify', channel: 'organic', ...figures(300) },
    ])
    for (let round = 0; round < 2; round++) {
      await load(pB)
      expect(await flushesOf('bravo')).toEqual([b1, b1 + 1])
      expect(await hourly('rollup_minute', 'bravo')).toEqual(committed)
      expect(await hourly('rollup_hour', 'bravo')).toEqual(committed)
    }
    // alpha's flush in flight is untouched, in both tables.
    expect(await flushesOf('alpha')).toEqual([a1, a1 + 1, a1 + 2])
    expect(await hourly('rollup_minute', 'alpha')).toEqual(alphaBefore)
    expect(await hourly('rollup_hour', 'alpha')).toEqual(alphaBefore)
  })

  it('numbers flushes from a new epoch after startFlushIds, and removes only a given-up flush’s own rows', async () => {
    const epochC = await flushEpoch(nats.nc)
    expect(epochC).toBeGreaterThan(epochB)
    a.startFlushIds(firstFlushId(epochC))
    await a.write(batchOf('alpha', [gmv(H + 4 * HOUR, 1)]))
    const c1 = epochC * 2 ** 32 + 1
    expect((await flushesOf('alpha')).at(-1)).toBe(c1)
    // A flush whose events ClickHouse refuses (a lone surrogate in the event id) after its rollup
    // rows went in: given up, and before the next flush only its rows go (alpha's other writer's
    // flush in flight, a1 + 2, stays).
    const live = createLiveState()
    live.addEvent(archivedEvent({ tenant: 'alpha', event_id: 'bad-\ud800', seq: ++seq }), [gmv(H + 5 * HOUR, 3)])
    live.noteMessage(() => {})
    await expect(a.write(live.seal()!)).rejects.toThrow()
    expect((await flushesOf('alpha')).at(-1)).toBe(c1 + 1)
    await a.write(batchOf('alpha', [gmv(H + 6 * HOUR, 2)]))
    const a1 = epochA * 2 ** 32 + 1
    expect(await flushesOf('alpha')).toEqual([a1, a1 + 1, a1 + 2, c1, c1 + 2])
    expect(await hourly('rollup_hour', 'alpha')).toEqual(await hourly('rollup_minute', 'alpha'))
  })
})

/** The row figures of one order of `cents` per group, as `hourly` reads them (orders counted once per delta). */
function figures(cents: number): Record<string, number> {
  const out: Record<string, number> = {}
  for (const m of MEASURES) out[m] = 0
  out.gmv = cents
  out.orders = 1
  return out
}
