// The live protocol's limits, on a real nats-server with the hub and the publisher in this process:
// a topic whose answer cannot travel in one NATS message is dropped with an error (at subscribe,
// and when an update grows past it) instead of being recomputed for nobody; one connection watches
// at most 50 distinct topics, the connection staying up.
import { type Server, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Hub, type LivePublisher, createHub, createLivePublisher } from '../../push/index.ts'
import { type TestNats, startNats, waitFor } from './harness.ts'
import { type Client, openLive } from './push-harness.ts'

const LIMIT = 1_000
let nats: TestNats
let hub: Hub
let publisher: LivePublisher
let server: Server
let url: string
/** Characters of the `big` topic's answer, changed by the tests. */
let size = 10

beforeAll(async () => {
  nats = await startNats()
  publisher = createLivePublisher({
    nc: nats.nc,
    coalesceMs: 10,
    maxDataBytes: LIMIT,
    topics: { big: async () => ({ text: 'x'.repeat(size) }), n: async (_tenant, request) => ({ n: request.args[0] }) },
  })
  hub = createHub({ nc: nats.nc, authenticate: async (key) => (key === 'key-t1' ? 't1' : undefined) })
  server = createServer((_req, res) => res.writeHead(404).end())
  hub.attach(server)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}, 60_000)

afterAll(async () => {
  await hub?.close()
  server?.closeAllConnections()
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()))
  publisher?.stop()
  await nats?.stop()
})

// `{"text":"…"}`: the characters and 11 more.
const tooLarge = (bytes: number) =>
  `the answer of big is ${bytes} bytes; at most ${LIMIT} can be delivered: narrow its range or filters`
const snapshots = (c: Client, n: number) => async () =>
  c.messages.filter((m) => m.type === 'snapshot').length === n ? true : undefined

describe('live limits', () => {
  it('a topic whose answer is too large is refused at subscribe', async () => {
    size = 2_000
    const c = await openLive(url, { key: 'key-t1' })
    c.send({ op: 'subscribe', topics: ['big'] })
    const error = await c.next((m) => m.type === 'error', 'too_large error')
    expect(error).toEqual({ type: 'error', code: 'too_large', topic: 'big', message: tooLarge(2_011) })
    expect(publisher.stats().instances).toBe(0)
    c.close()
  })

  it('a topic growing past the limit is dropped with an error, not recomputed on every change', async () => {
    size = 10
    const c = await openLive(url, { key: 'key-t1' })
    c.send({ op: 'subscribe', topics: ['big'] })
    expect((await c.next((m) => m.type === 'snapshot', 'snapshot')).data).toEqual({ text: 'x'.repeat(10) })
    size = 1_500
    publisher.changed('t1')
    const error = await c.next((m) => m.type === 'error', 'too_large error on update')
    expect(error).toEqual({ type: 'error', code: 'too_large', topic: 'big', message: tooLarge(1_511) })
    await waitFor(async () => (hub.stats().subscriptions === 0 ? true : undefined), 'the hub dropped the subscription')
    expect(publisher.stats().instances).toBe(0)
    // Changes of the tenant no longer compute it: nothing more arrives for big.
    publisher.changed('t1')
    c.send({ op: 'ping' })
    await c.next((m) => m.type === 'pong', 'pong')
    expect(c.messages.filter((m) => m.topic === 'big').map((m) => m.type)).toEqual(['snapshot', 'error'])
    c.close()
  })

  it('the 51st distinct topic of a connection is refused; the connection stays up', async () => {
    const c = await openLive(url, { key: 'key-t1' })
    const topics = Array.from({ length: 51 }, (_, i) => `n:${i + 1}`)
    c.send({ op: 'subscribe', topics })
    const refused = await c.find((m) => m.type === 'error', 'too_many_topics error')
    expect(refused).toEqual({
      type: 'error',
      code: 'too_many_topics',
      topic: 'n:51',
      message: 'at most 50 distinct topics per connection; unsubscribe from one first',
    })
    await waitFor(snapshots(c, 50), '50 snapshots')
    // Subscribing again to a watched topic is no new topic; after an unsubscribe there is room.
    c.send({ op: 'subscribe', topics: ['n:1'] })
    await waitFor(snapshots(c, 51), 'n:1 again')
    c.send({ op: 'unsubscribe', topics: ['n:2'] })
    c.send({ op: 'subscribe', topics: ['n:51'] })
    const n51 = await c.find((m) => m.type === 'snapshot' && m.topic === 'n:51', 'n:51 after an unsubscribe')
    expect(n51.data).toEqual({ n: '51' })
    expect(c.messages.filter((m) => m.type === 'error')).toHaveLength(1)
    c.close()
  })
})
