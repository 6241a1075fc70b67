// The ClickHouse sink against the real embedded engine, with rows ClickHouse refuses: a lone
// surrogate in a rollup dimension (refused in the rollup insert), one in an event id (refused in
// the events insert, after that flush's rollup rows went in), and one in a customer id (refused
// in the customers snapshot, after the commit). Batches are built here directly, as ingest would
// refuse such events at the door.
import type { ClickHouseClient } from '@clickhouse/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createClickHouseSink, migrate, openClickHouse, rows } from '../../clickhouse/index.ts'
import { eventSubject } from '../../ingest/streams.ts'
import {
  type ArchivedEvent,
  type Batch,
  type Customer,
  type Delta,
  UnstorableError,
  createLiveState,
  subBatch,
} from '../../stream/index.ts'
import { measuresOf } from '../../stream/measures.ts'
import { archivedEvent } from '../unit/processor-fixtures.ts'
import { newDataDir } from './harness.ts'

const M = Date.UTC(2026, 10, 22, 10, 0)
let client: ClickHouseClient

beforeAll(async () => {
  client = openClickHouse({ path: `${newDataDir()}/clickhouse` })
  await migrate(client)
})
afterAll(async () => client?.close())

const archived = (id: string, seq: number) => archivedEvent({ event_id: id, seq, raw: `{"id":"x${seq}"}` })
const gmv = (cents: number, brand = ''): Delta => ({
  minute: M,
  source: 'shopify',
  channel: 'organic',
  brand,
  values: measuresOf({ gmv: cents }),
})

function batchOf(events: [ArchivedEvent, Delta[]][], customers: string[] = []): Batch {
  const live = createLiveState()
  for (const [e, deltas] of events) {
    live.addEvent(e, deltas, customers, eventSubject('t1', 'order.created', 16))
    live.noteMessage(() => {})
  }
  return live.seal()!
}

const customer = (id: string): Customer => ({
  index: 0,
  id,
  orders: 1,
  monetary: 100,
  firstOrderAt: M,
  lastOrderAt: M,
  city: '',
  events: 0,
  intentAt: -Infinity,
  score: 0,
  category: '',
})

/** The events at fault, one by one, as the consumer finds them. */
async function faulty(check: (b: Batch) => Promise<void>, batch: Batch): Promise<string[]> {
  const out: string[] = []
  for (let i = 0; i < batch.events.length; i++) {
    await check(subBatch(batch, [i])).catch((err) => {
      expect(err).toBeInstanceOf(UnstorableError)
      out.push(batch.events[i].event_id)
    })
  }
  return out
}

describe('ClickHouse sink and unstorable rows', () => {
  it('gives up a refused flush whole, removes its rollup rows, and lands the rest as a new flush', async () => {
    const timezoneOf = async () => 'UTC'
    const sink = createClickHouseSink({ client, timezoneOf, firstFlushId: 1, customer: (_, id) => customer(id) })
    const good = archived('e1', 1)
    const badBrand = archived('e2', 2)
    const badId = archived('bad-\ud800', 3)
    const batch = batchOf([
      [good, [gmv(100)]],
      [badBrand, [gmv(7, '\ud800')]],
      [badId, [gmv(5)]],
    ])

    // The rollup insert is refused: nothing of flush 1 is stored.
    const first = await sink.write(batch).catch((err) => err)
    expect(first).toBeInstanceOf(UnstorableError)
    expect(first.message).toContain('surrogate')
    expect(await faulty(sink.check!, batch)).toEqual(['e2', 'bad-\ud800'])

    // Without the bad brand, flush 2's rollup rows go in and its events insert is refused.
    const second = await sink.write(subBatch(batch, [0, 2])).catch((err) => err)
    expect(second).toBeInstanceOf(UnstorableError)
    const rollups = () => rows(client, 'SELECT flush_id, gmv FROM pulse.rollup_minute ORDER BY flush_id')
    expect(await rollups()).toEqual([{ flush_id: 2, gmv: 105 }])

    // The good event alone lands as flush 3; flush 2's rollup rows are gone, in the hourly table too.
    const rest = subBatch(batch, [0])
    rest.customers = new Map([['t1', new Set(['c1', 'c\ud800'])]])
    await sink.write(rest)
    expect(await rows(client, 'SELECT event_id, flush_id FROM pulse.events')).toEqual([{ event_id: 'e1', flush_id: 3 }])
    expect(await rollups()).toEqual([{ flush_id: 3, gmv: 100 }])
    expect(await rows(client, 'SELECT sum(gmv) AS gmv FROM pulse.rollup_hour')).toEqual([{ gmv: 100 }])
    // The customer snapshot ClickHouse refuses is skipped; the other one is stored.
    expect(await rows(client, 'SELECT customer_id FROM pulse.customers')).toEqual([{ customer_id: 'c1' }])
  })
})
