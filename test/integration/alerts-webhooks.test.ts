// The webhook sender against a local HTTP receiver and its real outbox (NATS KV on a
// nats-server of the test's own): signed bodies retried after a 500 and removed from the outbox
// once delivered, a delivery still owed when the sender stopped is resent by the next start, and
// a target whose name resolves to a private address at send time is refused without a
// connection, also when the answer changes between check and connect. Each test is its own
// tenant, and reads only its tenant's part of the shared outbox.
import { createHmac } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Outbox, openOutbox } from '../../alerts/outbox.ts'
import type { DeliveryRecord } from '../../alerts/store.ts'
import type { Resolver } from '../../alerts/url-guard.ts'
import { createWebhookSender } from '../../alerts/webhooks.ts'
import { type HookReceiver, type TestNats, startHookReceiver, startNats, waitFor } from './harness.ts'

const SECRET = 'whsec-unit-0123456789abcdef'
let nats: TestNats
let outbox: Outbox
let hooks: HookReceiver
let answer: () => number | Promise<number> = () => 200
let port: number

beforeAll(async () => {
  nats = await startNats()
  outbox = await openOutbox(nats.nc)
  hooks = await startHookReceiver(() => answer())
  port = Number(new URL(hooks.url).port)
})
afterAll(async () => {
  await hooks?.close()
  await nats?.stop()
})

function sender(options: { allowPrivate: boolean; resolve?: Resolver; retryBaseMs?: number }) {
  const log: DeliveryRecord[] = []
  const s = createWebhookSender({
    outbox,
    logDelivery: async (_t, d) => void log.push(d),
    allowPrivate: options.allowPrivate,
    resolve: options.resolve,
    retryBaseMs: options.retryBaseMs ?? 10,
  })
  return { s, log }
}
/** What the outbox still owes a tenant. */
const owed = async (tenant: string) => (await outbox.list()).filter((p) => p.tenant === tenant)
const meta = { alert_id: 'a1', rule_id: 'r1', state: 'firing' }

describe('webhook sender', () => {
  it('signs, retries after a 500, and leaves the outbox once delivered', async () => {
    hooks.received.length = 0
    // The first attempt gets a 500; the retry is held until the test has seen it owed (a sender
    // giving up after its last attempt must not race the test's look at the outbox).
    let calls = 0
    let release!: (status: number) => void
    const held = new Promise<number>((r) => (release = r))
    answer = () => (calls++ === 0 ? 500 : held)
    const { s, log } = sender({ allowPrivate: true })
    const id = await s.send(
      't-retry',
      { url: `http://127.0.0.1:${port}/hook`, secret: SECRET },
      { hello: 'world' },
      meta,
    )
    await waitFor(
      async () => ((await owed('t-retry')).find((p) => p.delivery_id === id)?.attempt === 2 ? true : undefined),
      'the failed first attempt queued again',
    )
    release(200)
    await waitFor(
      async () => (log.some((d) => d.ok) && (await owed('t-retry')).length === 0 ? true : undefined),
      'the delivered retry',
    )
    const last = hooks.received.at(-1)!
    expect(last.body).toBe('{"hello":"world"}')
    expect(last.headers['x-pulse-signature']).toBe(
      `sha256=${createHmac('sha256', SECRET).update(last.body).digest('hex')}`,
    )
    expect(last.headers['x-pulse-delivery']).toBe(id)
    expect(log.map((d) => [d.attempt, d.status, d.ok])).toEqual([
      [1, 500, false],
      [2, 200, true],
    ])
    s.stop()
  })

  it('a delivery still owed when the sender stopped is resent by the next start', async () => {
    hooks.received.length = 0
    answer = () => 500
    // A long back-off: the retry is still waiting when the sender stops (as at a crash).
    const first = sender({ allowPrivate: true, retryBaseMs: 600_000 })
    const id = await first.s.send('t-owed', { url: `http://127.0.0.1:${port}/hook`, secret: SECRET }, { n: 1 }, meta)
    await waitFor(
      async () =>
        first.log.length === 1 && (await owed('t-owed')).find((p) => p.delivery_id === id)?.attempt === 2
          ? true
          : undefined,
      'the failed first attempt queued again',
    )
    first.s.stop()
    answer = () => 200
    const second = sender({ allowPrivate: true })
    await second.s.start()
    await waitFor(
      async () => (second.log.length === 1 && (await owed('t-owed')).length === 0 ? true : undefined),
      'the resent delivery',
    )
    expect(second.log.map((d) => [d.delivery_id, d.attempt, d.status, d.ok])).toEqual([[id, 2, 200, true]])
    expect(hooks.received.map((r) => [r.headers['x-pulse-delivery'], r.headers['x-pulse-attempt']])).toEqual([
      [id, '1'],
      [id, '2'],
    ])
  })

  it('refuses at send time a name that resolves to a private address, without connecting', async () => {
    hooks.received.length = 0
    const { s, log } = sender({ allowPrivate: false, resolve: async () => [{ address: '127.0.0.1', family: 4 }] })
    await s.send('t-refused', { url: `http://hooks.example.com:${port}/hook`, secret: SECRET }, {}, meta)
    await waitFor(async () => (log.length === 1 ? true : undefined), 'the refused attempt')
    await s.idle()
    expect(log[0]).toMatchObject({
      attempt: 1,
      status: 0,
      ok: false,
      error: 'refused: hooks.example.com resolves to 127.0.0.1, a loopback, private, link-local or reserved address',
    })
    expect(await owed('t-refused')).toEqual([])
    expect(hooks.received).toEqual([])
  })

  it('connects only to the address it checked (refuses one turning private between check and connect)', async () => {
    hooks.received.length = 0
    let calls = 0
    const rebinding: Resolver = async () =>
      calls++ === 0 ? [{ address: '93.184.216.34', family: 4 }] : [{ address: '127.0.0.1', family: 4 }]
    const { s, log } = sender({ allowPrivate: false, resolve: rebinding })
    await s.send('t-rebind', { url: `http://rebind.example.com:${port}/hook`, secret: SECRET }, {}, meta)
    await waitFor(async () => (log.length === 1 ? true : undefined), 'the refused attempt')
    expect(log[0]).toMatchObject({
      ok: false,
      status: 0,
      error: 'refused: rebind.example.com resolves to 127.0.0.1, a private address',
    })
    expect(hooks.received).toEqual([])
  })

  it('with private targets allowed, a name is connected to the address it resolved to', async () => {
    hooks.received.length = 0
    answer = () => 200
    const { s, log } = sender({ allowPrivate: true, resolve: async () => [{ address: '127.0.0.1', family: 4 }] })
    await s.send('t-named', { url: `http://hooks.internal.test:${port}/hook`, secret: SECRET }, { ok: true }, meta)
    await waitFor(async () => (log.length === 1 ? true : undefined), 'the delivery')
    expect(log[0]).toMatchObject({ ok: true, status: 200 })
    expect(hooks.received[0].headers.host).toBe(`hooks.internal.test:${port}`)
  })
})
