// The hourly rollup (migration 004) on a real embedded ClickHouse: it keeps the minute
// rollup's key, it sums to exactly the minute rollup's figures through corrections and local
// days, whole hours + minute edges give any range's figures, and the reconciliation that
// recovery runs before deleting an uncommitted flush (clickhouse/recovery.ts) keeps it exact.
import { reconcileHoursSql } from '../../clickhouse/recovery.ts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ClickHouseClient } from '@clickhouse/client'
import { migrate, openClickHouse, rows } from '../../clickhouse/index.ts'
import { DIMENSIONS, MEASURES } from '../../stream/index.ts'
import { newDataDir } from './harness.ts'

let client: ClickHouseClient
const _keys = ['tenant', 'local_day', ...DIMENSIONS]
const sums = MEASURES.map((m) => `sum(${m}) AS ${m}`).join(', ')
// Groups that sum to zero everywhere are no figure (SummingMergeTree drops them when parts merge).
const nonZero = `HAVING ${MEASURES.map((m) => `${m} != 0`).join(' OR ')}`
const H = Date.parse('2026-06-01T17:00:00Z') / 1000

beforeAll(async () => {
  client = openClickHouse({ path: `${newDataDir()}/clickhouse` })
  await migrate(client)
  // Three hours of minute rows in Asia/Kolkata (local midnight at 18:30 UTC), with corrections.
  const values = []
  for (let i = 0; i < 180; i++) {
    const minute = H + i * 60
    const localDay = minute < Date.parse('2026-06-01T18:30:00Z') / 1000 ? '2026-06-01' : '2026-06-02'
    const row: Record<string, unknown> = {
      tenant: 'kol',
      minute,
      local_day: localDay,
      source: ['shopify', 'amazon'][i % 2],
      channel: ['facebook', 'organic', 'google'][i % 3],
      brand: i % 5 === 0 ? 'nike' : '',
      flush_id: 1 + (i % 7),
    }
    MEASURES.forEach((m, j) => (row[m] = ((i * 31 + j * 17) % 97) - (i % 4 === 0 ? 120 : 0)))
    values.push(row)
  }
  await client.insert({ table: 'pulse.rollup_minute', values, format: 'JSONEachRow' })
  await client.insert({
    table: 'pulse.events',
    values: [
      {
        tenant: 'kol',
        event_id: 'e',
        type: 'order.created',
        source: 'shopify',
        ts: '2026-06-01 17:00:00',
        received_at: '2026-06-01 17:00:00',
        seq: 1,
        flush_id: 7,
        fx: '',
        raw: '{}',
      },
    ],
    format: 'JSONEachRow',
  })
})
afterAll(async () => client?.close())

async function minuteFigures(where: string) {
  return rows(
    client,
    `SELECT toStartOfHour(minute) AS hour, local_day, source, channel, brand, ${sums} FROM pulse.rollup_minute ` +
      `WHERE tenant = 'kol' AND ${where} GROUP BY ALL ${nonZero} ORDER BY ALL`,
  )
}
async function hourFigures(where: string) {
  return rows(
    client,
    `SELECT minute AS hour, local_day, source, channel, brand, ${sums} FROM pulse.rollup_hour ` +
      `WHERE tenant = 'kol' AND ${where} GROUP BY ALL ${nonZero} ORDER BY ALL`,
  )
}

describe('rollup_hour', () => {
  it('has the minute rollup’s key, without flush_id and with local_day', async () => {
    const keys = await rows<{ name: string; sorting_key: string }>(
      client,
      'SELECT name, sorting_key FROM system.tables ' +
        "WHERE database = 'pulse' AND name IN ('rollup_minute', 'rollup_hour')",
    )
    const key = (name: string) => new Set(keys.find((k) => k.name === name)!.sorting_key.split(', '))
    const minute = key('rollup_minute')
    minute.delete('flush_id')
    minute.add('local_day')
    expect(key('rollup_hour')).toEqual(minute)
    const columns = await rows<{ table: string; names: string[] }>(
      client,
      'SELECT table, groupArray(name) AS names FROM (SELECT table, name FROM system.columns ' +
        "WHERE database = 'pulse' AND table IN ('rollup_minute', 'rollup_hour') ORDER BY position) GROUP BY table",
    )
    expect(columns.find((c) => c.table === 'rollup_hour')!.names).toEqual(
      columns.find((c) => c.table === 'rollup_minute')!.names,
    )
  })

  it('sums to the minute rollup per hour, local day and dimension, corrections included', async () => {
    const expected = await minuteFigures('1')
    expect(expected.length).toBeGreaterThan(20)
    expect(await hourFigures('1')).toEqual(expected)
  })

  it('gives any range from whole hours plus minute edges', async () => {
    const from = H + 17 * 60 // 17:17
    const to = H + 2 * 3600 + 41 * 60 // 19:41
    const direct = await rows(
      client,
      `SELECT ${sums} FROM pulse.rollup_minute WHERE tenant = 'kol' AND minute >= ${from} AND minute < ${to}`,
    )
    const h0 = Math.ceil(from / 3600) * 3600
    const h1 = Math.floor(to / 3600) * 3600
    const split = await rows(
      client,
      `SELECT ${sums} FROM (
         SELECT ${MEASURES.join(', ')} FROM pulse.rollup_hour
         WHERE tenant = 'kol' AND minute >= ${h0} AND minute < ${h1}
         UNION ALL
         SELECT ${MEASURES.join(', ')} FROM pulse.rollup_minute
         WHERE tenant = 'kol' AND ((minute >= ${from} AND minute < ${h0}) OR (minute >= ${h1} AND minute < ${to})))`,
    )
    expect(split).toEqual(direct)
  })

  it('stays exact when recovery reconciles the hours of an orphan flush, however often it runs', async () => {
    const orphan: Record<string, unknown> = {
      tenant: 'kol',
      minute: H + 600,
      local_day: '2026-06-01',
      source: 'shopify',
      channel: 'facebook',
      brand: 'adidas',
      flush_id: 8,
    }
    MEASURES.forEach((m) => (orphan[m] = 1000))
    await client.insert({ table: 'pulse.rollup_minute', values: [orphan], format: 'JSONEachRow' })
    // The change proposed for clickhouse/recovery.ts, before it deletes the orphans: set the hours
    // they touch to what the committed minute rows sum to. Computed from the tables' state, so a
    // crash anywhere and a second run change nothing more.
    // The orphans: flush 8's rows, of every tenant (a partition range of 1).
    const orphans = { flushes: [8], partitions: 1, partition: 0 }
    await client.command({ query: reconcileHoursSql, query_params: orphans })
    await client.command({ query: reconcileHoursSql, query_params: orphans })
    await client.command({
      query: 'ALTER TABLE pulse.rollup_minute DELETE WHERE flush_id IN {flushes:Array(UInt64)}',
      query_params: orphans,
      clickhouse_settings: { mutations_sync: '2' },
    })
    await client.command({ query: reconcileHoursSql, query_params: orphans })
    expect(await hourFigures('1')).toEqual(await minuteFigures('1'))
  })
})
