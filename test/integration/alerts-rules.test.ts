// Alerts end to end, one rule kind at a time, against the real app (nats-server + chDB), each on
// an event stream built for it and its own tenant: margin floor (a cent on each side, a series
// oscillating around the floor that fires once, resolved after recovery), margin drop against
// the same window of previous days, spend spike against an EWMA baseline on one channel, refund
// surge (pushed over the WebSocket), GMV stall and a failing connector on the timer, webhooks owed
// at a SIGKILL delivered after the restart, figures rebuilt exactly by the replay, and another
// tenant that sees none of it. Waits are on what the app reports (`evaluated.events`: how many of
// the tenant's events the latest evaluation saw), never on time.
import { createHmac } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { z } from 'zod'
import { alertsAnswer, deliveriesAnswer, ruleAnswer } from '../../alerts/routes.ts'
import { type FakeApi, addConnector, ok, serverError, startFakeApi, syncNow, waitForSyncs } from './connectors-fakes.ts'
import {
  type App,
  type HookReceiver,
  type LiveClient,
  connectLive,
  createTenant,
  errorSchema,
  getJson,
  postEvents,
  postSql,
  send as sendAs,
  sqlRows,
  startApp,
  startHookReceiver,
  waitFor,
} from './harness.ts'

const ENV = {
  ALERT_WEBHOOK_ALLOW_PRIVATE: '1', // the receiver is on loopback
  ALERT_TIMER_MS: '200', // absence rules every 200 ms instead of 30 s
  ALERT_WEBHOOK_RETRY_BASE_MS: '300000', // a failed delivery waits minutes: still owed when the app is killed
  CONNECTOR_RETRY_BASE_MS: '10',
  CONNECTOR_ALLOW_PRIVATE: '1', // the fake API is on loopback
}
const T = Date.UTC(2026, 2, 2, 10, 0)
const M = 60_000
const DAY = 86_400_000
const SECRET = 'whsec-rules-0123456789abcdef'

let app: App
let fake: FakeApi
let hooks: HookReceiver
let hookAnswer = 500
/** How many webhook requests had arrived when the app was killed. */
let beforeKill = Infinity
const keys: Record<string, string> = {}
const posted: Record<string, number> = {}
const clients: LiveClient[] = []

beforeAll(async () => {
  hooks = await startHookReceiver(() => hookAnswer)
  fake = await startFakeApi()
  app = await startApp({ env: ENV })
  for (const id of ['margin', 'drop', 'spike', 'refunds', 'stall', 'connector', 'cooldown', 'isolated'])
    keys[id] = await createTenant(app, { id: `rules-${id}` })
})

afterAll(async () => {
  for (const c of clients) c.close()
  await app?.kill()
  await fake?.close()
  await hooks?.close()
})

async function addRule(tenant: string, rule: Record<string, unknown>) {
  const res = await sendAs(app, keys[tenant], 'POST', '/v1/alerts/rules', ruleAnswer, rule)
  expect(res.status, JSON.stringify(res.body)).toBe(201)
}
type Alerts = z.output<typeof alertsAnswer>
/**
 * Posts events, then waits until an evaluation has seen every event posted to the tenant so far; returns GET
 * /v1/alerts.
 */
async function post(tenant: string, events: unknown[]): Promise<Alerts> {
  const res = await postEvents(app, keys[tenant], events)
  expect(res.status, JSON.stringify(res.body)).toBe(202)
  posted[tenant] = (posted[tenant] ?? 0) + events.length
  return settled(tenant)
}
function settled(tenant: string): Promise<Alerts> {
  return waitFor(async () => {
    const { body } = await getJson(app, keys[tenant], '/v1/alerts', alertsAnswer)
    return body.evaluated.events >= (posted[tenant] ?? 0) ? body : undefined
  }, `an evaluation of every event of ${tenant}`)
}
/** Waits for a run of the timer rules that started after now. */
async function timerRun(tenant: string): Promise<Alerts> {
  const after = new Date().toISOString()
  return waitFor(async () => {
    const { body } = await getJson(app, keys[tenant], '/v1/alerts', alertsAnswer)
    return body.evaluated.timer_at !== null && body.evaluated.timer_at > after ? body : undefined
  }, `a timer run for ${tenant}`)
}
const mine = (body: Alerts, rule: string) => ({
  firing: body.firing.filter((f) => f.rule_id === rule),
  items: body.items.filter((i) => i.rule_id === rule),
})
const states = (body: Alerts, rule: string) => mine(body, rule).items.map((i) => i.state)

const order = (id: string, ts: number, subtotal: string, cost: string, extra: Record<string, unknown> = {}) => ({
  id: `o-${id}`,
  type: 'order.created',
  ts,
  source: 'shopify',
  order_id: id,
  total: subtotal,
  subtotal,
  channel: 'facebook',
  campaign_id: 'c1',
  items: [{ sku: 'sku-1', quantity: 1, price: subtotal, cost }],
  ...extra,
})
const statement = (
  id: string,
  ts: number,
  spend: string,
  reportedAt: number,
  platform = 'facebook',
  campaign = 'c1',
) => ({
  id,
  type: 'ad.spend',
  ts,
  source: `${platform === 'google' ? 'google' : 'meta'}_ads`,
  platform,
  campaign_id: campaign,
  spend,
  reported_at: reportedAt,
})

describe('alert rules end to end', () => {
  it('margin floor: quiet at it, a cent under fires with figures, never flaps, resolves past the band', async () => {
    await addRule('margin', {
      id: 'floor',
      kind: 'margin_floor',
      margin: 'contribution',
      floor: 0.1,
      hysteresis: 0.02,
      min_net_sales: '100.00',
      window_minutes: 60,
      cooldown_minutes: 0,
    })
    // Net sales 1000.00, COGS 800.00, spend 100.00: contribution 100.00, margin exactly 10 %.
    let body = await post('margin', [order('m1', T, '1000.00', '800.00'), statement('sp-1', T, '100.00', T)])
    expect(mine(body, 'floor')).toEqual({ firing: [], items: [] })
    // The platform restates the day's spend to 100.01: contribution 99.99, a cent under the floor.
    body = await post('margin', [statement('sp-2', T, '100.01', T + 1000)])
    expect(mine(body, 'floor').firing).toHaveLength(1)
    expect(mine(body, 'floor').firing[0].figures).toEqual({
      window_from: '2026-03-02T09:01:00.000Z',
      window_to: '2026-03-02T10:01:00.000Z',
      net_sales: '1000.00',
      contribution_margin: '99.99',
      ad_spend: '100.01',
      margin: 0.1,
      floor: 0.1,
    })
    // Back and forth across the floor, inside the hysteresis band: no resolve, no second alert.
    for (const [i, spend] of ['100.00', '100.01', '99.00', '100.01', '100.00'].entries())
      body = await post('margin', [statement(`sp-osc-${i}`, T, spend, T + 2000 + i)])
    expect(states(body, 'floor')).toEqual(['firing'])
    // 79.99: contribution 120.01, margin 12.001 % ≥ floor + hysteresis: resolved, same alert.
    body = await post('margin', [statement('sp-ok', T, '79.99', T + 9000)])
    expect(states(body, 'floor')).toEqual(['resolved', 'firing'])
    const [resolved, fired] = mine(body, 'floor').items
    expect(resolved.alert_id).toBe(fired.alert_id)
    expect(resolved.figures).toMatchObject({ contribution_margin: '120.01', ad_spend: '79.99', margin: 0.12 })
    expect(mine(body, 'floor').firing).toEqual([])
  })

  it('margin drop: over X points under the same window of previous days fires; exactly X stays quiet', async () => {
    await addRule('drop', {
      id: 'drop',
      kind: 'margin_floor',
      floor: null,
      max_drop_points: 5,
      baseline_days: 2,
      hysteresis: 0.01,
      min_net_sales: '100.00',
      window_minutes: 60,
      cooldown_minutes: 0,
    })
    // Baseline: 30 % on each of the two previous days in this hour. Now 25 %: exactly 5 points under.
    let body = await post('drop', [
      order('d-1', T - DAY, '1000.00', '700.00'),
      order('d-2', T - 2 * DAY, '1000.00', '700.00'),
      order('d-now', T, '1000.00', '750.00'),
    ])
    expect(mine(body, 'drop')).toEqual({ firing: [], items: [] })
    // One cent of spend: 24.999 %, 5.001 points under.
    body = await post('drop', [statement('dsp-1', T, '0.01', T)])
    expect(mine(body, 'drop').firing.map((f) => f.figures)).toEqual([
      {
        window_from: '2026-03-02T09:01:00.000Z',
        window_to: '2026-03-02T10:01:00.000Z',
        net_sales: '1000.00',
        contribution_margin: '249.99',
        ad_spend: '0.01',
        margin: 0.25,
        floor: null,
        baseline_days: 2,
        baseline_net_sales: '2000.00',
        baseline_margin: 0.3,
        drop_points: 5.001,
        max_drop_points: 5,
      },
    ])
    // A better order a minute later: 569.99 on 2000.00 = 28.4995 %, 1.5 points under: resolved.
    body = await post('drop', [order('d-late', T + M, '1000.00', '680.00')])
    expect(states(body, 'drop')).toEqual(['resolved', 'firing'])
    expect(mine(body, 'drop').items[0].figures).toMatchObject({
      net_sales: '2000.00',
      contribution_margin: '569.99',
      baseline_margin: 0.3,
      drop_points: 1.5005,
    })
  })

  it('spend spike on a channel: quiet at k × EWMA baseline, a cent over fires, other channels ignored', async () => {
    // Previous days (oldest first) 100, 200, 400: EWMA 100 → 150 → 275; threshold 825.00. The
    // history is in before the rule (an evaluation part-way through it would meet a partial
    // baseline), with a fourth day so the rule's first evaluation, of the day before, is quiet too
    // (400.00 against 100, 100, 200: EWMA 150, threshold 450.00).
    const history = [
      [4, '100.00'],
      [3, '100.00'],
      [2, '200.00'],
      [1, '400.00'],
    ].map(([d, s]) => statement(`g-${d}`, T - (d as number) * DAY, s as string, T, 'google', 'g1'))
    await post('spike', history)
    await addRule('spike', {
      id: 'spike',
      kind: 'spend_spike',
      channel: 'google',
      factor: 3,
      baseline_days: 3,
      ewma_alpha: 0.5,
      min_spend: '50.00',
      hysteresis: 0.1,
      window_minutes: 60,
      cooldown_minutes: 0,
    })
    let body = await post('spike', [
      statement('g-now', T, '825.00', T, 'google', 'g1'),
      statement('fb-now', T, '5000.00', T),
    ])
    expect(mine(body, 'spike')).toEqual({ firing: [], items: [] })
    body = await post('spike', [statement('g-now-2', T, '825.01', T + 1000, 'google', 'g1')])
    expect(mine(body, 'spike').firing.map((f) => f.figures)).toEqual([
      {
        window_from: '2026-03-02T09:01:00.000Z',
        window_to: '2026-03-02T10:01:00.000Z',
        ad_spend: '825.01',
        baseline: '275.00',
        threshold: '825.00',
        factor: 3,
        min_spend: '50.00',
        channel: 'google',
      },
    ])
    // 742.50 = (1 − 0.1) × 825.00: resolved.
    body = await post('spike', [statement('g-now-3', T, '742.50', T + 2000, 'google', 'g1')])
    expect(states(body, 'spike')).toEqual(['resolved', 'firing'])
  })

  it('refund surge: quiet at the rate, a cent over fires (live after its event), resolves as GMV grows', async () => {
    const live = await connectLive(app, keys.refunds)
    const other = await connectLive(app, keys.isolated)
    clients.push(live, other)
    live.send({ op: 'subscribe', topics: ['alerts'] })
    other.send({ op: 'subscribe', topics: ['alerts'] })
    await live.next((m) => m.type === 'snapshot' && m.topic === 'alerts', 'the alerts snapshot')
    await other.next((m) => m.type === 'snapshot' && m.topic === 'alerts', 'the other tenant snapshot')
    await addRule('refunds', {
      id: 'surge',
      kind: 'refund_surge',
      max_rate: 0.2,
      min_refunds: 2,
      hysteresis: 0.02,
      window_minutes: 60,
      cooldown_minutes: 0,
      webhook: { url: hooks.url, secret: SECRET },
    })
    const refund = (id: string, order: string, amount: string, minute: number) => ({
      id,
      type: 'refund.created',
      ts: T + minute * M,
      source: 'shopify',
      order_id: order,
      refund_id: id,
      amount,
    })
    // GMV 1000.00, refunds 200.00: exactly 20 %.
    let body = await post('refunds', [
      order('r-1', T, '500.00', '100.00'),
      order('r-2', T, '500.00', '100.00'),
      refund('rf-1', 'r-1', '100.00', 1),
      refund('rf-2', 'r-2', '100.00', 2),
    ])
    expect(mine(body, 'surge')).toEqual({ firing: [], items: [] })
    expect(live.messages.some((m) => m.topic === 'alerts' && m.data.some((a: any) => a.rule_id === 'surge'))).toBe(
      false,
    )
    // One more cent refunded: 200.01 of 1000.00.
    const res = await postEvents(app, keys.refunds, [refund('rf-3', 'r-1', '0.01', 3)])
    expect(res.status).toBe(202)
    posted.refunds += 1
    const pushed = await live.next(
      (m) => m.topic === 'alerts' && m.type === 'update' && m.data.some((a: any) => a.rule_id === 'surge'),
      'the surge pushed live',
    )
    const alert = pushed.data.find((a: any) => a.rule_id === 'surge')
    expect(alert).toMatchObject({ kind: 'refund_surge', state: 'firing', subject: '' })
    expect(alert.figures).toEqual({
      window_from: '2026-03-02T09:04:00.000Z',
      window_to: '2026-03-02T10:04:00.000Z',
      refunds: '200.01',
      refund_count: 3,
      gmv: '1000.00',
      refund_rate: 0.2,
      max_rate: 0.2,
    })
    // The webhook's first attempt is answered 500; its retry waits minutes (see the restart test).
    await waitFor(async () => (hooks.received.length >= 1 ? true : undefined), 'the first webhook attempt')
    expect(hooks.received[0].answered).toBe(500)
    expect(JSON.parse(hooks.received[0].body)).toMatchObject({
      tenant: 'rules-refunds',
      rule: { id: 'surge' },
      alert: { state: 'firing', alert_id: alert.alert_id },
    })
    // GMV up to 1200.00: 16.7 % < 20 % − 2 points.
    body = await post('refunds', [order('r-3', T + 4 * M, '200.00', '50.00')])
    expect(states(body, 'surge')).toEqual(['resolved', 'firing'])
  })

  it('GMV stall on the timer: no order in an hour with 3 each previous day fires; an order resolves it', async () => {
    // Wall-clock rule: the history sits in the same window of the two previous days.
    const now = Date.now()
    await addRule('stall', {
      id: 'stall',
      kind: 'gmv_stall',
      window_minutes: 60,
      baseline_days: 2,
      min_expected_orders: 3,
      cooldown_minutes: 0,
    })
    await addRule('stall', {
      id: 'stall-quiet',
      kind: 'gmv_stall',
      window_minutes: 60,
      baseline_days: 2,
      min_expected_orders: 3.01,
      cooldown_minutes: 0,
    })
    const history = [1, 2].flatMap((d) =>
      [0, 1, 2].map((i) => order(`st-${d}-${i}`, now - d * DAY - (20 + i) * M, '10.00', '1.00')),
    )
    await post('stall', history)
    const body = await waitFor(async () => {
      const b = await timerRun('stall')
      return mine(b, 'stall').items.length > 0 ? b : undefined
    }, 'the stall alert')
    const fired = mine(body, 'stall').items[0]
    expect(fired.state).toBe('firing')
    expect(Date.parse(String(fired.figures.window_to)) - Date.parse(String(fired.figures.window_from))).toBe(60 * M)
    expect(fired.figures).toMatchObject({ orders: 0, expected_orders: 3, min_expected_orders: 3 })
    expect(mine(body, 'stall-quiet').items).toEqual([])
    await post('stall', [order('st-now', Date.now(), '10.00', '1.00')])
    const after = await waitFor(async () => {
      const b = await timerRun('stall')
      return states(b, 'stall')[0] === 'resolved' ? b : undefined
    }, 'the stall resolved')
    expect(states(after, 'stall')).toEqual(['resolved', 'firing'])
    expect(mine(after, 'stall').items[0].figures).toMatchObject({ orders: 1, expected_orders: 3 })
    expect(mine(after, 'stall-quiet').items).toEqual([])
  })

  it('connector failing: a connector whose API answers 500 fires on the timer, a good sync resolves it', async () => {
    let healthy = false
    fake.route('GET', '/v21.0/act_555/insights', () => (healthy ? ok({ data: [] }) : serverError()))
    const id = await addConnector(app, keys.connector, {
      type: 'meta_ads',
      config: { account_id: 'act_555', access_token: 'token-555', api_base_url: fake.url },
      every_seconds: 3600,
    })
    const status = await waitForSyncs(app, keys.connector, id, 1)
    expect(status.last_error).not.toBeNull()
    const body = await waitFor(async () => {
      const b = await timerRun('connector')
      return mine(b, 'default-connector').firing.length > 0 ? b : undefined
    }, 'the connector alert')
    expect(mine(body, 'default-connector').firing[0]).toMatchObject({
      subject: id,
      kind: 'connector_failing',
      figures: {
        connector_id: id,
        type: 'meta_ads',
        last_error: status.last_error,
        last_success_at: null,
        lag_seconds: null,
        max_lag_minutes: 120,
      },
    })
    healthy = true
    expect(await syncNow(app, keys.connector, id)).toBe(202)
    await waitForSyncs(app, keys.connector, id, 2)
    const after = await waitFor(async () => {
      const b = await timerRun('connector')
      return states(b, 'default-connector')[0] === 'resolved' ? b : undefined
    }, 'the connector alert resolved')
    expect(mine(after, 'default-connector').items[0].figures).toMatchObject({ connector_id: id, last_error: null })
  })

  it('killed and restarted: owed webhook goes out signed, aggregate rebuilt exactly, a cooldown goes on', async () => {
    expect(hooks.received.filter((h) => h.answered === 200)).toEqual([])
    // Before the kill: a gross-margin alert fires (5 %) and resolves (27.5 %) at T + 2 min, event time.
    await addRule('cooldown', {
      id: 'cool',
      kind: 'margin_floor',
      margin: 'gross',
      floor: 0.1,
      hysteresis: 0.02,
      min_net_sales: '100.00',
      window_minutes: 60,
      cooldown_minutes: 30,
    })
    expect(states(await post('cooldown', [order('c-1', T, '1000.00', '950.00')]), 'cool')).toEqual(['firing'])
    expect(states(await post('cooldown', [order('c-2', T + M, '1000.00', '500.00')]), 'cool')).toEqual([
      'resolved',
      'firing',
    ])
    // Events the app may not have flushed yet when it dies: JetStream redelivers them once.
    const res = await postEvents(app, keys.refunds, [order('r-4', T + 5 * M, '100.00', '10.00')])
    expect(res.status).toBe(202)
    posted.refunds += 1
    await app.kill('SIGKILL')
    beforeKill = hooks.received.length
    hookAnswer = 200
    app = await startApp({ dataDir: app.dataDir, env: ENV })
    // The delivery owed since the 500 is sent again at start: same id, next attempt, valid signature.
    const delivered = await waitFor(
      async () => hooks.received.find((h, i) => i >= beforeKill && h.answered === 200),
      'the owed webhook after the restart',
    )
    expect(delivered.headers['x-pulse-delivery']).toBe(hooks.received[0].headers['x-pulse-delivery'])
    expect(delivered.headers['x-pulse-attempt']).toBe('2')
    expect(delivered.body).toBe(hooks.received[0].body)
    expect(delivered.headers['x-pulse-signature']).toBe(
      `sha256=${createHmac('sha256', SECRET).update(delivered.body).digest('hex')}`,
    )
    const log = await waitFor(async () => {
      const { body } = await getJson(app, keys.refunds, '/v1/alerts/deliveries', deliveriesAnswer)
      return body.deliveries.some((d) => d.ok) ? body.deliveries : undefined
    }, 'the delivery log')
    const firstDelivery = log
      .filter((d) => d.delivery_id === delivered.headers['x-pulse-delivery'])
      .map((d) => [d.attempt, d.status, d.ok])
    expect(firstDelivery).toEqual([
      [2, 200, true],
      [1, 500, false],
    ])
    // Refunds 200.01 + 20.00 + 20.00 on GMV 1300.00 (history replayed, the unflushed order counted once):
    // 240.01 / 1300.00 = 18.46 %, not over 20 %; 60.00 more makes 300.01 / 1300.00 = 23.08 %: fires again.
    const refund = (id: string, amount: string) => ({
      id,
      type: 'refund.created',
      ts: T + 6 * M,
      source: 'shopify',
      order_id: 'r-2',
      refund_id: id,
      amount,
    })
    let body = await post('refunds', [refund('rf-4', '20.00'), refund('rf-5', '20.00')])
    expect(mine(body, 'surge').firing).toEqual([])
    body = await post('refunds', [refund('rf-6', '60.00')])
    expect(mine(body, 'surge').firing.map((f) => f.figures)).toEqual([
      {
        window_from: '2026-03-02T09:07:00.000Z',
        window_to: '2026-03-02T10:07:00.000Z',
        refunds: '300.01',
        refund_count: 6,
        gmv: '1300.00',
        refund_rate: 0.2308,
        max_rate: 0.2,
      },
    ])
    // The restarted app remembers the resolve: a breach 9 minutes after it (net 3000.00, COGS 3450.00)
    // is inside the 30-minute cooldown and stays quiet; one 30 minutes after it fires.
    body = await post('cooldown', [order('c-3', T + 10 * M, '1000.00', '2000.00')])
    expect(states(body, 'cool')).toEqual(['resolved', 'firing'])
    body = await post('cooldown', [order('c-4', T + 31 * M, '10.00', '10.00')])
    expect(states(body, 'cool')).toEqual(['firing', 'resolved', 'firing'])
    expect(mine(body, 'cool').firing[0]).toMatchObject({
      at: '2026-03-02T10:32:00.000Z',
      figures: { net_sales: '3010.00', gross_profit: '-450.00' },
    })
  })

  it('another tenant never sees any of it, over HTTP, the WebSocket or SQL', async () => {
    const { body } = await getJson(app, keys.isolated, '/v1/alerts', alertsAnswer)
    expect([body.firing, body.items]).toEqual([[], []])
    expect((await getJson(app, keys.isolated, '/v1/alerts/deliveries', deliveriesAnswer)).body).toEqual({
      deliveries: [],
    })
    // SQL: the owner reads its own log, the same as GET /v1/alerts; the other tenant reads nothing,
    // whatever it filters on.
    const log = (await getJson(app, keys.refunds, '/v1/alerts?limit=1000', alertsAnswer)).body
    const mineOverHttp = log.items.map((i) => [i.alert_id, i.state, i.at])
    const mineOverSql = await sqlRows(
      app,
      keys.refunds,
      "SELECT alert_id, state, formatDateTime(at, '%Y-%m-%dT%H:%i:%S.000Z') AS at FROM alerts " +
        'ORDER BY recorded_at DESC, alert_id DESC, state ASC',
    )
    expect(mineOverSql.map((r) => [r.alert_id, r.state, r.at])).toEqual(mineOverHttp)
    expect(mineOverHttp.length).toBeGreaterThan(0)
    expect(Number((await sqlRows(app, keys.refunds, 'SELECT count() AS n FROM alert_deliveries'))[0].n)).toBe(
      (await getJson(app, keys.refunds, '/v1/alerts/deliveries', deliveriesAnswer)).body.deliveries.length,
    )
    for (const q of [
      'SELECT count() AS n FROM alerts',
      "SELECT count() AS n FROM pulse.alerts WHERE rule_id = 'surge'",
      'SELECT count() AS n FROM alert_deliveries',
    ]) {
      expect(await sqlRows(app, keys.isolated, q), q).toEqual([{ n: '0' }])
    }
    const byTenant = await postSql(app, keys.isolated, "SELECT count() AS n FROM alerts WHERE tenant = 'rules-refunds'")
    expect([byTenant.status, byTenant.json(errorSchema).error.code]).toEqual([400, 'sql_not_allowed'])
    const other = clients[1]
    expect(
      other.messages.filter((m) => m.topic === 'alerts').every((m) => Array.isArray(m.data) && m.data.length === 0),
    ).toBe(true)
    for (const h of hooks.received) expect(JSON.parse(h.body).tenant).toBe('rules-refunds')
  })
})
