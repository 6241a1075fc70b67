// Duplicates counted once across the whole dedup horizon (same batch, a second
// later, after JetStream's own window, across a restart); bad batches and keys refused; tenants
// sealed off from each other.
import { afterAll, describe, expect, it } from 'vitest'
import { eventsAnswer } from '../../ingest/events-route.ts'
import { kpisAnswer } from '../../query/metrics-routes.ts'
import {
  type App,
  connectLive,
  createTenant,
  errorSchema,
  fieldErrors,
  getJson,
  postEvents,
  readAnswer,
  startApp,
  waitForKpis,
} from './harness.ts'
import { upgradeStatusOf } from './push-harness.ts'

const range = 'from=2026-11-20T00:00:00Z&to=2026-11-21T00:00:00Z'
const order = (id: string, total: string, extra: Record<string, unknown> = {}) => ({
  id: `evt-${id}`,
  type: 'order.created',
  ts: '2026-11-20T08:00:00Z',
  source: 'shopify',
  order_id: id,
  total,
  subtotal: total,
  channel: 'organic',
  ...extra,
})

let app: App
afterAll(async () => app?.kill())

describe('dedup, validation and isolation', () => {
  let acme: string
  let globex: string

  it('counts a repeated event id once, in the same batch and a second later', async () => {
    // JetStream's own duplicate window shortened to 1 s, so later repeats reach our dedup.
    app = await startApp({ env: { JETSTREAM_DUPLICATE_WINDOW_SECONDS: '1' } })
    acme = await createTenant(app, { id: 'acme' })
    globex = await createTenant(app, { id: 'globex', currency: 'EUR', timezone: 'Europe/Berlin' })

    expect(await postEvents(app, acme, [order('o1', '10.00'), order('o1', '10.00')])).toEqual({
      status: 202,
      body: { accepted: 1, duplicates: 1 },
    })
    await waitForKpis(app, acme, range, (k) => k.orders === 1)
    expect(await postEvents(app, acme, [order('o1', '10.00')])).toEqual({
      status: 202,
      body: { accepted: 0, duplicates: 1 },
    })
  })

  it('counts a repeat once after JetStream’s own window has passed', async () => {
    await new Promise((r) => setTimeout(r, 2_500))
    // Same event id, and a different body: still the same event.
    expect(await postEvents(app, acme, [order('o1', '99.00'), order('o2', '5.00')])).toEqual({
      status: 202,
      body: { accepted: 1, duplicates: 1 },
    })
    const k = await waitForKpis(app, acme, range, (k) => k.orders === 2)
    expect(k.gmv).toBe('15.00')
  })

  it('counts a repeat once across a restart', async () => {
    await app.kill('SIGKILL')
    app = await startApp({ dataDir: app.dataDir, env: { JETSTREAM_DUPLICATE_WINDOW_SECONDS: '1' } })
    expect(await postEvents(app, acme, [order('o1', '10.00'), order('o2', '5.00'), order('o3', '1.00')])).toEqual({
      status: 202,
      body: { accepted: 1, duplicates: 2 },
    })
    const k = await waitForKpis(app, acme, range, (k) => k.orders === 3)
    expect(k.gmv).toBe('16.00')
  })

  it('refuses an invalid batch with per-item details and publishes nothing of it', async () => {
    const bad = [
      order('o10', '1.00'),
      { ...order('o11', '2.00'), total: '-2.00' },
      { id: 'x', type: 'order.exploded', ts: 0, source: 'shopify' },
      { ...order('o12', '3.00'), ts: '2026-11-20T08:00:00' },
      { ...order('o14', '5.00'), ts: Date.now() + 25 * 3_600_000 },
    ]
    const res = await postEvents(app, acme, bad, fieldErrors)
    expect(res.status).toBe(400)
    expect(res.body.error.code).toBe('bad_request')
    expect(res.body.error.details.map((d) => [d.index, d.path])).toEqual([
      [1, 'total'],
      [2, 'type'],
      [3, 'ts'],
      [4, 'ts'],
    ])
    expect(res.body.error.details[3].message).toMatch(
      /^\d{4}-\d\d-\d\dT[\d:.]+Z is more than 24 h after its receipt \(\d{4}-/,
    )
    // The valid first item was not published: a later good batch shows only its own order.
    expect((await postEvents(app, acme, [order('o13', '4.00')])).status).toBe(202)
    const k = await waitForKpis(app, acme, range, (k) => k.orders === 4)
    expect(k.gmv).toBe('20.00')
  })

  it.each([
    ['a body that is not JSON', 'not json', 'application/json'],
    ['a JSON object instead of an array', '{"id":"x"}', 'application/json'],
    ['an empty batch', '[]', 'application/json'],
    ['an NDJSON line that is not JSON', '{"id":"a"}\n{oops', 'application/x-ndjson'],
  ])('answers 400 for %s', async (_, body, contentType) => {
    const res = await fetch(`${app.url}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${acme}`, 'content-type': contentType },
      body,
    })
    expect(res.status).toBe(400)
    expect((await readAnswer(res, errorSchema, 'POST /v1/events')).body.error.code).toBe('bad_request')
  })

  it('accepts NDJSON', async () => {
    const body = [order('o20', '1.00'), order('o21', '2.00')].map((e) => JSON.stringify(e)).join('\n')
    const res = await fetch(`${app.url}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${acme}`, 'content-type': 'application/x-ndjson' },
      body,
    })
    expect(res.status).toBe(202)
    expect((await readAnswer(res, eventsAnswer, 'POST /v1/events')).body).toEqual({ accepted: 2, duplicates: 0 })
    await waitForKpis(app, acme, range, (k) => k.orders === 6)
  })

  it('refuses a wrong or missing API key with 401', async () => {
    expect((await postEvents(app, 'pk_acme_wrong', [order('o30', '1.00')], errorSchema)).status).toBe(401)
    expect((await getJson(app, 'pk_acme_wrong', `/v1/metrics/kpis?${range}`, errorSchema)).status).toBe(401)
    const res = await fetch(`${app.url}/v1/metrics/kpis`)
    expect(res.status).toBe(401)
    expect((await readAnswer(res, errorSchema, 'GET /v1/metrics/kpis')).body.error.code).toBe('unauthorized')
  })

  it('never shows one tenant’s figures to another, over HTTP or WebSocket', async () => {
    const globexView = await getJson(app, globex, `/v1/metrics/kpis?${range}`, kpisAnswer)
    expect(globexView.body).toMatchObject({
      gmv: '0.00',
      orders: 0,
      currency: 'EUR',
      by_channel: {},
      by_source: {},
      freshness: {},
    })

    const watcher = await connectLive(app, globex)
    watcher.send({ op: 'subscribe', topics: ['kpis'] })
    const snapshot = await watcher.next((m) => m.type === 'snapshot', 'globex snapshot')
    expect(snapshot.data).toMatchObject({ orders: 0, currency: 'EUR' })
    const acmeClient = await connectLive(app, acme)
    acmeClient.send({ op: 'subscribe', topics: ['kpis'] })
    await acmeClient.next((m) => m.type === 'snapshot', 'acme snapshot')
    expect((await postEvents(app, acme, [{ ...order('o40', '7.00'), ts: Date.now() }])).status).toBe(202)
    await acmeClient.next((m) => m.type === 'update' && m.data.gmv === '7.00', 'acme update')
    // Globex then gets an update of its own; nothing of acme's ever arrived before it.
    expect((await postEvents(app, globex, [{ ...order('g1', '3.00'), ts: Date.now() }])).status).toBe(202)
    await watcher.next((m) => m.type === 'update' && m.data.gmv === '3.00', 'globex update')
    expect(watcher.messages.every((m) => m.data?.currency === 'EUR' && !JSON.stringify(m).includes('7.00'))).toBe(true)
    watcher.close()
    acmeClient.close()

    expect(await upgradeStatusOf(app.url, { key: 'pk_nope' })).toBe(401)
  })
})
