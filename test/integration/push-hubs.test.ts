// Several hubs serve clients from the same NATS subjects. The app (with its own hub) and a
// second hub process (app/hub.ts) against the app's NATS: clients of both get the same snapshots
// and the very same updates (same seq, same bytes). Also topics with filters, errors that leave the
// connection open, a fresh snapshot after reconnecting, and heartbeats that drop a dead connection.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { kpisAnswer } from '../../query/metrics-routes.ts'
import { type App, createTenant, getJson, postEvents, startApp, waitFor } from './harness.ts'
import {
  type Client,
  type HubProcess,
  SECRET_KEY,
  hubStats,
  liveOrder,
  liveToken,
  natsUrlOf,
  openLive,
  startHub,
} from './push-harness.ts'

let app: App
let hub2: HubProcess
let key: string
const clients: Client[] = []

/** A KPI answer without what moves with the clock (as_of, to, freshness). */
function figures(kpis: any): any {
  const { freshness, as_of, to, ...rest } = kpis
  return rest
}

const order = (id: string, total: string) =>
  liveOrder(id, total, {
    customer_id: `c-${id}`,
    items: [{ sku: 'sku-1', quantity: 1, price: total }],
    channel: 'facebook',
  })

async function open(url: string, auth: { key?: string; token?: string }): Promise<Client> {
  const client = await openLive(url, auth)
  clients.push(client)
  return client
}

beforeAll(async () => {
  app = await startApp({ env: { SECRET_KEY } })
  // Heartbeat every second on the second hub, so the dead-connection case below is quick.
  hub2 = await startHub(natsUrlOf(app), { LIVE_HEARTBEAT_MS: '1000' })
  key = await createTenant(app, { id: 'acme' })
})

afterAll(async () => {
  for (const c of clients) c.ws.terminate()
  await hub2?.kill()
  await app?.kill()
})

describe('two hubs on the same NATS subjects', () => {
  let a: Client
  let b: Client
  const topics = ['kpis', 'timeseries:gmv:1h', 'alerts']

  it('give their clients the same snapshots', async () => {
    a = await open(app.url, { key }) // API key in the header, on the app's own hub
    // a token minted by the app, on the other hub
    b = await open(hub2.url, { token: (await liveToken(app.url, key)).token })
    a.send({ op: 'subscribe', topics })
    b.send({ op: 'subscribe', topics })
    for (const topic of topics) {
      const sa = await a.find((m) => m.type === 'snapshot' && m.topic === topic, `snapshot ${topic} on hub 1`)
      const sb = await b.find((m) => m.type === 'snapshot' && m.topic === topic, `snapshot ${topic} on hub 2`)
      expect(sb.seq).toBe(sa.seq)
      if (topic === 'kpis') expect(figures(sb.data)).toEqual(figures(sa.data))
      else expect(sb.data).toEqual(sa.data)
    }
    const http = await getJson(app, key, '/v1/metrics/kpis', kpisAnswer)
    expect(figures(a.messages.find((m) => m.topic === 'kpis').data)).toEqual(figures(http.body))
    expect(a.messages.find((m) => m.topic === 'alerts').data).toEqual([])
  })

  it('relay the very same update, with the same sequence number, to clients of both', async () => {
    const before = a.messages.find((m) => m.topic === 'kpis').seq
    expect((await postEvents(app, key, [order('o1', '12.34')])).status).toBe(202)
    const ua = await a.next(
      (m) => m.type === 'update' && m.topic === 'kpis' && m.data.orders === 1,
      'kpis update on hub 1',
    )
    const ub = await b.next(
      (m) => m.type === 'update' && m.topic === 'kpis' && m.data.orders === 1,
      'kpis update on hub 2',
    )
    expect(ua.seq).toBeGreaterThan(before)
    expect(ub).toEqual(ua) // one publication, relayed byte for byte by both hubs
    expect(ua.data.gmv).toBe('12.34')
    expect(figures(ua.data)).toEqual(figures((await getJson(app, key, '/v1/metrics/kpis', kpisAnswer)).body))

    const hour = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000).toISOString()
    const sa = await a.next(
      (m) => m.type === 'update' && m.topic === 'timeseries:gmv:1h' && m.data.some((p: any) => p.value === '12.34'),
      'timeseries update on hub 1',
    )
    const sb = await b.next(
      (m) => m.type === 'update' && m.topic === 'timeseries:gmv:1h' && m.seq === sa.seq,
      'timeseries update on hub 2',
    )
    expect(sb).toEqual(sa)
    expect(sa.data.find((p: any) => p.value === '12.34').t).toBe(hour)

    // Sequence numbers only go up, per topic, on both hubs alike.
    for (const client of [a, b]) {
      const seqs = client.messages.filter((m) => m.topic === 'kpis').map((m) => m.seq)
      expect([...seqs].sort((x, y) => x - y)).toEqual(seqs)
      expect(new Set(seqs).size).toBe(seqs.length)
    }
  })

  it('a client that reconnects and subscribes again gets a fresh snapshot', async () => {
    const lastSeq = b.messages.filter((m) => m.topic === 'kpis').at(-1).seq
    b.close()
    expect((await postEvents(app, key, [order('o2', '7.66')])).status).toBe(202)
    await waitFor(
      async () => ((await getJson(app, key, '/v1/metrics/kpis', kpisAnswer)).body.orders === 2 ? true : undefined),
      'second order counted',
    )
    const again = await open(hub2.url, { token: (await liveToken(app.url, key)).token })
    again.send({ op: 'subscribe', topics: ['kpis'] })
    const snapshot = await again.next((m) => m.type === 'snapshot', 'fresh snapshot')
    expect(snapshot.data).toMatchObject({ orders: 2, gmv: '20.00' })
    expect(snapshot.seq).toBeGreaterThan(lastSeq)
    // Subscribing again on the same connection also answers with a snapshot.
    again.send({ op: 'subscribe', topics: ['kpis'] })
    expect((await again.next((m) => m.type === 'snapshot', 'second snapshot')).data.orders).toBe(2)
  })
})

describe('topics and filters', () => {
  it('computes filtered topics, echoes the topic as written, and reports bad ones without closing', async () => {
    const c = await open(hub2.url, { key })
    c.send({
      op: 'subscribe',
      topics: [
        'kpis?view=order_date',
        'timeseries:orders:1m?view=order_date&last=5',
        'kpis?view=nope',
        'kpis?colour=red',
        'nope',
        'timeseries:nope:1m',
        'kpis?view',
      ],
    })
    const od = await c.find((m) => m.type === 'snapshot' && m.topic === 'kpis?view=order_date', 'order_date kpis')
    expect(od.data).toMatchObject({ view: 'order_date', orders: 2 })
    // Written with the filters out of canonical order: echoed as written.
    const series = await c.find(
      (m) => m.type === 'snapshot' && m.topic === 'timeseries:orders:1m?view=order_date&last=5',
      'last 5 minutes',
    )
    expect(series.data).toHaveLength(5)
    const total = (points: any[]) => points.reduce((n: number, p: any) => n + p.value, 0)
    expect(total(series.data)).toBe(2) // both orders of this test file, minutes ago at most
    const errors = await waitFor(async () => {
      const found = c.messages.filter((m) => m.type === 'error')
      return found.length >= 5 ? found : undefined
    }, 'five errors')
    const byTopic = Object.fromEntries(errors.map((e: any) => [e.topic, e.code]))
    expect(byTopic).toEqual({
      'kpis?view=nope': 'bad_topic',
      'kpis?colour=red': 'bad_topic',
      nope: 'unknown_topic',
      'timeseries:nope:1m': 'bad_topic',
      'kpis?view': 'bad_topic',
    })
    c.send({ op: 'ping' })
    await c.find((m) => m.type === 'pong', 'pong after errors')
    c.send({ op: 'subscribe' })
    await c.find((m) => m.code === 'bad_message' && /topics/.test(m.message), 'bad message')
    c.ws.send('not json')
    await c.find((m) => m.code === 'bad_message' && m.message === 'not JSON', 'not JSON')

    // Unsubscribed topics get no more updates; the others still do.
    c.send({ op: 'unsubscribe', topics: ['kpis?view=order_date'] })
    await c.find((m) => m.type === 'unsubscribed', 'unsubscribed')
    const mark = c.messages.length
    expect((await postEvents(app, key, [order('o3', '1.00')])).status).toBe(202)
    await c.find(
      (m) => m.type === 'update' && m.topic.startsWith('timeseries:orders:1m') && total(m.data) === 3,
      'series update',
    )
    expect(c.messages.slice(mark).some((m) => m.topic === 'kpis?view=order_date')).toBe(false)
  })
})

describe('heartbeats', () => {
  it('drop a connection that stopped answering pings, and keep the ones that answer', async () => {
    const alive = await open(hub2.url, { key })
    const dead = await open(hub2.url, { key })
    const before = await hubStats(hub2.url)
    dead.pause() // a vanished peer: pings are never read, so never answered
    await waitFor(
      async () => ((await hubStats(hub2.url)).dead_dropped > before.dead_dropped ? true : undefined),
      'the silent client dropped',
    )
    const after = await hubStats(hub2.url)
    expect(after.clients).toBe(before.clients - 1)
    alive.send({ op: 'ping' })
    await alive.next((m) => m.type === 'pong', 'the answering client is still served')
  })
})
