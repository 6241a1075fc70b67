// An event the stream stage accepts but ClickHouse cannot store must not hold back everyone
// else's: tenant A's unstorable events go to the dead-letter stream with the reason, A's other
// events and tenant B's land, and a SIGTERM still ends the app. Ingest refuses such events at the
// door, so they are published straight into JetStream here, with the headers ingest stamps: one
// with a receipt time no date can hold (its row cannot be encoded), and one with a lone surrogate
// in a line's brand (ClickHouse refuses the rollup row: "missing second part of surrogate pair").
import { jetstream } from '@nats-io/jetstream'
import { headers as natsHeaders } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEFAULT_PARTITIONS } from '../../app/config.ts'
import { deadLettersAnswer } from '../../ingest/dead-letters-route.ts'
import { HEADERS, eventSubject } from '../../ingest/streams.ts'
import { kpisAnswer } from '../../query/metrics-routes.ts'
import { decodeEvent } from '../../stream/decode.ts'
import {
  ADMIN_TOKEN,
  type App,
  type TestNats,
  createTenant,
  getJson,
  newDataDir,
  postEvents,
  readAnswer,
  sqlRows,
  startApp,
  startNats,
  waitFor,
} from './harness.ts'

const T = Date.UTC(2026, 10, 20, 10, 0)
const range = 'from=2026-11-20T00:00:00Z&to=2026-11-21T00:00:00Z'
const order = (id: string, brand = 'acme') => ({
  id,
  type: 'order.created',
  ts: T,
  source: 'shopify',
  order_id: id,
  total: '10.00',
  subtotal: '10.00',
  channel: 'organic',
  items: [{ sku: 's', quantity: 1, price: '10.00', brand }],
})

let nats: TestNats
let app: App | undefined
beforeAll(async () => {
  nats = await startNats()
})
afterAll(async () => {
  await app?.kill()
  await nats?.stop()
})

async function publish(tenant: string, body: { id: string; type: string }, receivedAt: string): Promise<number> {
  const h = natsHeaders()
  h.set('Nats-Msg-Id', `${tenant}:${body.id}`)
  h.set(HEADERS.receivedAt, receivedAt)
  const subject = eventSubject(tenant, body.type, DEFAULT_PARTITIONS)
  const ack = await jetstream(nats.nc).publish(subject, JSON.stringify(body), { headers: h })
  return ack.seq
}

async function deadLetters(target: App) {
  const headers = { authorization: `Bearer ${ADMIN_TOKEN}` }
  const res = await fetch(`${target.url}/v1/admin/dead-letters`, { headers })
  return (await readAnswer(res, deadLettersAnswer, 'GET /v1/admin/dead-letters')).body
}

async function eventIds(target: App, key: string): Promise<string[]> {
  return (await sqlRows(target, key, 'SELECT event_id FROM events ORDER BY event_id')).map((r) => String(r.event_id))
}

describe('an event ClickHouse cannot store', () => {
  it('is dead-lettered while everything else lands, and SIGTERM still ends the app', async () => {
    const dataDir = newDataDir()
    const env = { NATS_URL: nats.url }
    app = await startApp({ dataDir, env })
    const keyA = await createTenant(app, { id: 'shop-a' })
    const keyB = await createTenant(app, { id: 'shop-b' })

    const now = String(Date.now())
    const badDate = order('a-bad-date')
    const badBrand = order('a-bad-brand', 'x\ud800')
    await publish('shop-a', order('a-1'), now)
    const badDateSeq = await publish('shop-a', badDate, '10000000000000000')
    const badBrandSeq = await publish('shop-a', badBrand, now)
    await publish('shop-a', order('a-2'), now)
    expect((await postEvents(app, keyB, [order('b-1'), order('b-2')])).status).toBe(202)

    const landed = (key: string) =>
      waitFor(async () => ((await eventIds(app!, key)).length === 2 ? true : undefined), 'two events in ClickHouse')
    await landed(keyB)
    expect(await eventIds(app, keyB)).toEqual(['b-1', 'b-2'])
    await landed(keyA)
    expect(await eventIds(app, keyA)).toEqual(['a-1', 'a-2'])

    // Should ingest's schema come to refuse the lone surrogate too, the stream stage refuses it first.
    const brandReason = decodeEvent(JSON.stringify(badBrand)).ok ? 'unstorable' : 'invalid_event'
    const dead = await waitFor(async () => {
      const body = await deadLetters(app!)
      return body.count === 2 ? body : undefined
    }, 'two dead letters')
    const bySeq = [...dead.messages].sort((a, b) => a.stream_seq - b.stream_seq)
    expect(bySeq.map((m) => [m.reason, m.subject, m.stream_seq, m.body])).toEqual([
      ['unstorable', eventSubject('shop-a', 'order.created', DEFAULT_PARTITIONS), badDateSeq, JSON.stringify(badDate)],
      [brandReason, eventSubject('shop-a', 'order.created', DEFAULT_PARTITIONS), badBrandSeq, JSON.stringify(badBrand)],
    ])
    expect(bySeq[0].detail).toBe('cannot encode a row: Invalid time value')
    if (brandReason === 'unstorable') expect(bySeq[1].detail).toMatch(/missing second part of surrogate pair/)

    // The dead-lettered orders count nowhere, live or in history.
    const kpisA = (await getJson(app, keyA, `/v1/metrics/kpis?${range}`, kpisAnswer)).body
    expect([kpisA.orders, kpisA.gmv]).toEqual([2, '20.00'])
    const kpisB = (await getJson(app, keyB, `/v1/metrics/kpis?${range}`, kpisAnswer)).body
    expect([kpisB.orders, kpisB.gmv]).toEqual([2, '20.00'])

    await app.kill('SIGTERM')
    expect(app.process.exitCode).toBe(0)

    // A restart does not meet the unstorable events again: their messages were acknowledged.
    app = await startApp({ dataDir, env })
    expect(await eventIds(app, keyA)).toEqual(['a-1', 'a-2'])
    expect((await deadLetters(app)).count).toBe(2)
    const again = (await getJson(app, keyA, `/v1/metrics/kpis?${range}`, kpisAnswer)).body
    expect([again.orders, again.gmv]).toEqual([2, '20.00'])
    await app.kill('SIGTERM')
    expect(app.process.exitCode).toBe(0)
  })
})
