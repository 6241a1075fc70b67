// The raw archive against a real nats-server and chDB: a payload ClickHouse can never store (a
// foreign API's string with a lone surrogate) is skipped with a log line naming it, and every other
// payload of its batch and after it lands; the archive does not stall on it.
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openClickHouse } from '../../clickhouse/client.ts'
import { isPermanent, migrate } from '../../clickhouse/index.ts'
import { type RawRecord, createArchiver, ensureRawStream } from '../../ingest/connectors/archive.ts'
import { logLines } from '../unit/log-lines.ts'
import { type TestNats, newDataDir, startNats } from './harness.ts'

const record = (payloadId: string, body: string): RawRecord => ({
  tenant: 'acme',
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
  const clickhouse = openClickHouse({ path: newDataDir() })
  beforeAll(async () => {
    nats = await startNats()
    await migrate(clickhouse)
  })
  afterAll(async () => {
    await clickhouse.close()
    await nats?.stop()
  })

  it('skips a payload ClickHouse cannot store and archives the rest', async () => {
    const jsm = await jetstreamManager(nats.nc)
    const js = jetstream(nats.nc)
    await ensureRawStream(jsm)
    const records = [record('p1', '{"a":1}'), record('p2', '{"name":"\ud800"}'), record('p3', '{"a":3}')]
    for (const r of records) await js.publish('pulse.raw.acme', JSON.stringify(r))
    const { log, lines } = logLines()
    const archiver = createArchiver({ js, jsm, client: clickhouse, log, isPermanent })
    await archiver.start()
    await archiver.caughtUp()
    await js.publish('pulse.raw.acme', JSON.stringify(record('p4', '{"a":4}')))
    await archiver.caughtUp()
    await archiver.stop()

    const result = await clickhouse.query({
      query: 'SELECT payload_id, body FROM pulse.raw_archive ORDER BY payload_id',
      format: 'JSONEachRow',
    })
    expect(await result.json()).toEqual([
      { payload_id: 'p1', body: '{"a":1}' },
      { payload_id: 'p3', body: '{"a":3}' },
      { payload_id: 'p4', body: '{"a":4}' },
    ])
    const skipped = lines.filter((l) => l.msg === 'raw payload not archivable; skipped')
    expect(skipped.map((l) => [l.tenant, l.connector, l.payload_id, l.seq])).toEqual([['acme', 'meta-ads', 'p2', 2]])
  })
})
