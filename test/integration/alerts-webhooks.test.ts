// The webhook sender against a local HTTP receiver (no NATS here: the outbox seam is in memory;
// the KV outbox is exercised end to end in alerts-rules.test.ts): signed bodies retried after a
// 500 and removed from the outbox once delivered, a delivery still owed when the sender stopped
// is resent by the next start, and a target whose name resolves to a private address at send
// time is refused without a connection, also when the answer changes between check and connect.
import { createHmac } from 'node:crypto'
import { type Server, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { memoryOutbox } from '../../alerts/outbox.ts'
import type { DeliveryRecord } from '../../alerts/store.ts'
import type { Resolver } from '../../alerts/url-guard.ts'
import { createWebhookSender } from '../../alerts/webhooks.ts'
import { waitFor } from './harness.ts'

const SECRET = 'whsec-unit-0123456789abcdef'
let server: Server
let port: number
let answer = 200
const received: { headers: Record<string, string | string[] | undefined>; body: string }[] = []

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      received.push({ headers: req.headers, body })
      res.writeHead(answer).end()
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  port = (server.address() as AddressInfo).port
})
afterAll(() => new Promise<void>((r) => server.close(() => r())))

function sender(options: { allowPrivate: boolean; resolve?: Resolver; outbox?: ReturnType<typeof memoryOutbox>; retryBaseMs?: number }) {
  const log: DeliveryRecord[] = []
  const outbox = options.outbox ?? memoryOutbox()
  const s = createWebhookSender({ outbox, logDelivery: async (_t, d) => void log.push(d), allowPrivate: options.allowPrivate, resolve: options.resolve, retryBaseMs: options.retryBaseMs ?? 10 })
  return { s, log, outbox }
}
const meta = { alert_id: 'a1', rule_id: 'r1', state: 'firing' }

describe('webhook sender', () => {
  it('signs, retries after a 500, and leaves the outbox once delivered', async () => {
    received.length = 0
    answer = 500
    const { s, log, outbox } = sender({ allowPrivate: true })
    const id = await s.send('acme', { url: `http://127.0.0.1:${port}/hook`, secret: SECRET }, { hello: 'world' }, meta)
    expect([...outbox.items.values()].map((p) => p.delivery_id)).toEqual([id])
    await waitFor(async () => (received.length >= 1 ? true : undefined), 'the first attempt')
    answer = 200
    await waitFor(async () => (log.some((d) => d.ok) && outbox.items.size === 0 ? true : undefined), 'the delivered retry')
    const last = received.at(-1)!
    expect(last.body).toBe('{"hello":"world"}')
    expect(last.headers['x-pulse-signature']).toBe(`sha256=${createHmac('sha256', SECRET).update(last.body).digest('hex')}`)
    expect(last.headers['x-pulse-delivery']).toBe(id)
    expect(log.map((d) => [d.attempt, d.status, d.ok])).toEqual([...log.slice(0, -1).map((d, i) => [i + 1, 500, false]), [log.length, 200, true]])
    s.stop()
  })

  it('a delivery still owed when the sender stopped is resent by the next start', async () => {
    received.length = 0
    answer = 500
    // A long back-off: the retry is still waiting when the sender stops (as at a crash).
    const first = sender({ allowPrivate: true, retryBaseMs: 600_000 })
    const id = await first.s.send('acme', { url: `http://127.0.0.1:${port}/hook`, secret: SECRET }, { n: 1 }, meta)
    await waitFor(async () => (first.log.length === 1 && first.outbox.items.get(`acme.${id}`)?.attempt === 2 ? true : undefined), 'the failed first attempt queued again')
    first.s.stop()
    answer = 200
    const second = sender({ allowPrivate: true, outbox: first.outbox })
    await second.s.start()
    await waitFor(async () => (second.log.length === 1 && first.outbox.items.size === 0 ? true : undefined), 'the resent delivery')
    expect(second.log.map((d) => [d.delivery_id, d.attempt, d.status, d.ok])).toEqual([[id, 2, 200, true]])
    expect(received.map((r) => [r.headers['x-pulse-delivery'], r.headers['x-pulse-attempt']])).toEqual([[id, '1'], [id, '2']])
  })

  it('refuses at send time a name that resolves to a private address, without connecting', async () => {
    received.length = 0
    const { s, log, outbox } = sender({ allowPrivate: false, resolve: async () => [{ address: '127.0.0.1', family: 4 }] })
    await s.send('acme', { url: `http://hooks.example.com:${port}/hook`, secret: SECRET }, {}, meta)
    await waitFor(async () => (log.length === 1 ? true : undefined), 'the refused attempt')
    await s.idle()
    expect(log[0]).toMatchObject({ attempt: 1, status: 0, ok: false, error: 'refused: hooks.example.com resolves to 127.0.0.1, a loopback, private, link-local or reserved address' })
    expect(outbox.items.size).toBe(0)
    expect(received).toEqual([])
  })

  it('connects only to the address it checked (an answer that turns private between check and connect is refused)', async () => {
    received.length = 0
    let calls = 0
    const rebinding: Resolver = async () => (calls++ === 0 ? [{ address: '93.184.216.34', family: 4 }] : [{ address: '127.0.0.1', family: 4 }])
    const { s, log } = sender({ allowPrivate: false, resolve: rebinding })
    await s.send('acme', { url: `http://rebind.example.com:${port}/hook`, secret: SECRET }, {}, meta)
    await waitFor(async () => (log.length === 1 ? true : undefined), 'the refused attempt')
    expect(log[0]).toMatchObject({ ok: false, status: 0, error: 'refused: rebind.example.com resolves to 127.0.0.1, a private address' })
    expect(received).toEqual([])
  })

  it('with private targets allowed, a name is connected to the address it resolved to', async () => {
    received.length = 0
    answer = 200
    const { s, log } = sender({ allowPrivate: true, resolve: async () => [{ address: '127.0.0.1', family: 4 }] })
    await s.send('acme', { url: `http://hooks.internal.test:${port}/hook`, secret: SECRET }, { ok: true }, meta)
    await waitFor(async () => (log.length === 1 ? true : undefined), 'the delivery')
    expect(log[0]).toMatchObject({ ok: true, status: 200 })
    expect(received[0].headers.host).toBe(`hooks.internal.test:${port}`)
  })
})
