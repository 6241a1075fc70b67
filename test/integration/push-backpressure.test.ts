// A client that stops reading while 10,000 updates flow. The others receive every one of
// their updates, in order; the slow one is held at the soft limit with only the newest update
// (coalesced) waiting for it, and gets that newest one when it reads again; the hub process's
// memory stays bounded although 200 MB were addressed to the slow client.
//
// The updates are published straight onto the tenant's live NATS subject, in the publisher's wire
// format: the hub's input. (The real publisher coalesces to one update per 250 ms; 10,000 of them
// would take 40 minutes.) The hub is a second hub process (app/hub.ts), so its memory is the hub's
// alone, with heartbeats slowed down so the silent client is not dropped for not answering pings.
import { connect, type NatsConnection } from '@nats-io/transport-node'
import WebSocket from 'ws'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { liveMessage, liveSubject } from '../../push/index.ts'
import { type App, createTenant, startApp } from './harness.ts'
import { type HubProcess, hubStats, natsUrlOf, rssOf, startHub } from './push-harness.ts'

const UPDATES = 10_000
const DATA_BYTES = 20_000
const SOFT_LIMIT = 256 * 1024 // the hub's default
// Bursts stay under the soft limit, so a client that does read is never coalesced.
const BURST = 8

let app: App
let hub: HubProcess
let nc: NatsConnection
const sockets: WebSocket[] = []

beforeAll(async () => {
  app = await startApp()
  hub = await startHub(natsUrlOf(app), { LIVE_HEARTBEAT_MS: '600000' })
  nc = await connect({ servers: natsUrlOf(app) })
})

afterAll(async () => {
  for (const ws of sockets) ws.terminate()
  await nc?.close()
  await hub?.kill()
  await app?.kill()
})

/** A client that keeps only sequence numbers (10,000 × 20 KB is too much to keep whole). */
async function seqClient(key: string) {
  const ws = new WebSocket(`${hub.url.replace('http', 'ws')}/v1/live`, { headers: { authorization: `Bearer ${key}` } })
  sockets.push(ws)
  const seqs: number[] = []
  let last = -1
  let waiter: { seq: number; resolve: () => void } | undefined
  ws.on('message', (data) => {
    const m = /^\{"type":"(?:update|snapshot)","topic":"kpis","seq":(\d+),/.exec(data.toString('utf8', 0, 100))
    if (!m) return
    last = Number(m[1])
    seqs.push(last)
    if (waiter && last >= waiter.seq) waiter.resolve()
  })
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
  ws.send(JSON.stringify({ op: 'subscribe', topics: ['kpis'] }))
  const until = (seq: number, what: string) =>
    last >= seq
      ? Promise.resolve()
      : new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`timed out waiting for ${what}: seq ${seq}, last ${last}`)),
            30_000,
          )
          waiter = { seq, resolve: () => (clearTimeout(timer), (waiter = undefined), resolve()) }
        })
  return { ws, seqs, until, last: () => last }
}

it('a client that stops reading never slows the others nor grows the hub without bound', async () => {
  const key = await createTenant(app, { id: 'shop' })
  const fast = [await seqClient(key), await seqClient(key), await seqClient(key)]
  const slow = await seqClient(key)
  for (const c of [...fast, slow]) await c.until(0, 'snapshot')
  const first = Math.max(...[...fast, slow].map((c) => c.last())) + 1
  ;(slow.ws as any)._socket.pause() // stops reading: TCP back-pressure reaches the hub

  const rssBefore = rssOf(hub.process.pid!)
  let peakRss = rssBefore
  let peakBuffered = 0
  const pad = 'x'.repeat(DATA_BYTES)
  for (let seq = first; seq < first + UPDATES; seq += BURST) {
    const end = Math.min(seq + BURST, first + UPDATES)
    for (let s = seq; s < end; s++)
      nc.publish(liveSubject('shop', 'kpis'), liveMessage('update', 'kpis', s, `{"n":${s},"pad":"${pad}"}`))
    for (const c of fast) await c.until(end - 1, 'a reading client')
    if ((seq - first) % 1000 < BURST) {
      peakRss = Math.max(peakRss, rssOf(hub.process.pid!))
      peakBuffered = Math.max(peakBuffered, (await hubStats(hub.url)).max_client_buffered_bytes)
    }
  }
  const last = first + UPDATES - 1

  // Every reading client got every update, in order.
  for (const c of fast) expect(c.seqs.slice(1)).toEqual(Array.from({ length: UPDATES }, (_, i) => first + i))

  // The silent client: held at the soft limit with one coalesced update waiting, not 200 MB.
  const stats = await hubStats(hub.url)
  expect(stats).toMatchObject({ clients: 4, slow_clients: 1, held_messages: 1, cut_off: 0 })
  expect(stats.coalesced).toBeGreaterThan(UPDATES / 2)
  expect(Math.max(peakBuffered, stats.max_client_buffered_bytes)).toBeLessThan(SOFT_LIMIT + 2 * DATA_BYTES)
  const grown = Math.max(peakRss, rssOf(hub.process.pid!)) - rssBefore
  console.log(
    `hub RSS ${(rssBefore / 2 ** 20).toFixed(0)} MB before, grew at most ${(grown / 2 ** 20).toFixed(1)} MB ` +
      `while ${((UPDATES * DATA_BYTES) / 2 ** 20).toFixed(0)} MB went to each client; ` +
      `slow client's buffer peaked at ${(peakBuffered / 1024).toFixed(0)} KB`,
  )
  expect(grown).toBeLessThan(96 * 2 ** 20)

  // Reading again, it gets what the kernel had buffered, then the newest update: never a backlog.
  ;(slow.ws as any)._socket.resume()
  await slow.until(last, 'the slow client catching up')
  expect(slow.seqs.at(-1)).toBe(last)
  expect(slow.seqs.length).toBeLessThan(UPDATES / 2)
  expect([...slow.seqs].sort((a, b) => a - b)).toEqual(slow.seqs)
  expect((await hubStats(hub.url)).held_messages).toBe(0)
})
