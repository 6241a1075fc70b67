// Alerts against the real app (NATS, ClickHouse): a costly-campaign rule with a webhook fires
// with exact figures on the event stream built for it (one campaign a cent under the minimum
// spend stays quiet, one at it with ROAS a cent under the floor fires), its webhook reaches a
// local HTTP server signed and is retried after a 500, the alert is pushed on the `alerts` topic,
// a restart restores the firing alert without firing it again, it resolves after recovery, and
// another tenant never sees any of it.
import { createHmac } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { z } from 'zod'
import { alertsAnswer, deliveriesAnswer, ruleAnswer, rulesAnswer } from '../../alerts/routes.ts'
import * as h from './harness.ts'
import { defaultRuleKinds } from '../fixtures/alert-rules.ts'

const SECRET = 'whsec-test-0123456789abcdef'
const T = Date.UTC(2026, 2, 2, 10, 0)
// The webhook receiver is on loopback: allowed only by this setting (SSRF guard).
const ENV = { ALERT_WEBHOOK_ALLOW_PRIVATE: '1' }

let app: h.App
let keyA: string
let keyB: string
let hooks: h.HookReceiver
const clients: h.LiveClient[] = []

beforeAll(async () => {
  // The first delivery fails, so the sender has to retry.
  hooks = await h.startHookReceiver(() => (hooks.received.length === 0 ? 500 : 200))
  app = await h.startApp({ env: ENV })
  keyA = await h.createTenant(app, { id: 'alert-a' })
  keyB = await h.createTenant(app, { id: 'alert-b' })
})

afterAll(async () => {
  for (const c of clients) c.close()
  await app?.kill()
  await hooks?.close()
})

const send = <S extends z.ZodType>(key: string, method: string, path: string, schema: S, body?: unknown) =>
  h.send(app, key, method, path, schema, body)

const spend = (campaign: string, amount: string) => ({
  id: `s-${campaign}`,
  type: 'ad.spend',
  ts: T,
  source: 'meta_ads',
  platform: 'facebook',
  campaign_id: campaign,
  spend: amount,
})
const order = (id: string, campaign: string, total: string, minutes = 0) => ({
  id: `o-${id}`,
  type: 'order.created',
  ts: T + minutes * 60_000,
  source: 'shopify',
  order_id: id,
  total,
  subtotal: total,
  channel: 'facebook',
  campaign_id: campaign,
})
const costly = (m: { rule_id: string }) => m.rule_id === 'costly'

describe('alerting', () => {
  it('rules: defaults for a new tenant, validation, secrets never shown', async () => {
    const defaults = await h.getJson(app, keyA, '/v1/alerts/rules', rulesAnswer)
    expect(defaults.status).toBe(200)
    expect(defaults.body.rules.map((r) => r.kind).sort()).toEqual(defaultRuleKinds)

    const bad = await send(keyA, 'POST', '/v1/alerts/rules', h.fieldErrors, {
      kind: 'campaign_roas',
      floor: -1,
      min_spend: 'lots',
    })
    expect(bad.status).toBe(400)
    expect(bad.body.error.details.map((d) => d.path).sort()).toEqual(['floor', 'min_spend'])

    const created = await send(keyA, 'POST', '/v1/alerts/rules', ruleAnswer, {
      id: 'costly',
      kind: 'campaign_roas',
      name: 'Costly campaign',
      floor: 1,
      hysteresis: 0.1,
      min_spend: '100.00',
      window_minutes: 1440,
      webhook: { url: hooks.url, secret: SECRET },
    })
    expect(created.status).toBe(201)
    expect(created.body.rule).toMatchObject({
      id: 'costly',
      kind: 'campaign_roas',
      floor: 1,
      min_spend: '100.00',
      cooldown_minutes: 30,
      webhook: { url: hooks.url, secret_set: true },
    })
    const again = await send(keyA, 'POST', '/v1/alerts/rules', h.errorSchema, { id: 'costly', kind: 'refund_surge' })
    expect(again.status).toBe(409)
    const listed = await h.getJson(app, keyA, '/v1/alerts/rules/costly', ruleAnswer)
    expect(JSON.stringify(listed.body)).not.toContain(SECRET)
    // Another tenant's rules are its own.
    expect((await h.getJson(app, keyB, '/v1/alerts/rules/costly', h.errorSchema)).status).toBe(404)
  })

  it('fires with its figures, pushed live, signed webhook retried after a 500; quiet under the min spend', async () => {
    const a = await h.connectLive(app, keyA)
    const b = await h.connectLive(app, keyB)
    clients.push(a, b)
    a.send({ op: 'subscribe', topics: ['alerts'] })
    b.send({ op: 'subscribe', topics: ['alerts'] })
    expect((await a.next((m) => m.type === 'snapshot' && m.topic === 'alerts', 'A snapshot')).data).toEqual([])
    expect((await b.next((m) => m.type === 'snapshot' && m.topic === 'alerts', 'B snapshot')).data).toEqual([])

    // c-under: 99.99 spent, nothing earned: a cent under the minimum spend, quiet.
    // c-low: 99.99 earned, then 100.00 spent: ROAS a cent under the floor once spend is at the
    // minimum. (The order goes first: an evaluation between the events sees a prefix of the batch,
    // and spend before its revenue would be ROAS 0.)
    expect(
      (
        await h.postEvents(app, keyA, [
          order('1', 'c-low', '99.99'),
          spend('c-under', '99.99'),
          spend('c-low', '100.00'),
        ])
      ).status,
    ).toBe(202)

    const update = await a.next(
      (m) => m.topic === 'alerts' && m.data.some(costly),
      'the costly alert on the live topic',
    )
    const alert = update.data.find(costly)
    expect(alert).toMatchObject({
      rule_id: 'costly',
      kind: 'campaign_roas',
      subject: 'c-low',
      state: 'firing',
      severity: 'warning',
      name: 'Costly campaign',
    })
    expect(alert.figures).toEqual({
      window_from: '2026-03-01T10:01:00.000Z',
      window_to: '2026-03-02T10:01:00.000Z',
      campaign_id: 'c-low',
      ad_spend: '100.00',
      attributed_revenue: '99.99',
      roas: 0.9999,
      floor: 1,
      min_spend: '100.00',
    })
    expect(update.data.some((m: any) => m.subject === 'c-under')).toBe(false)

    const log = await h.waitFor(async () => {
      const { body } = await h.getJson(app, keyA, '/v1/alerts?rule_id=costly', alertsAnswer)
      return body.items.length > 0 ? body : undefined
    }, 'the alert in GET /v1/alerts')
    expect(log.items).toHaveLength(1)
    expect(log.items[0]).toMatchObject({
      alert_id: alert.alert_id,
      state: 'firing',
      subject: 'c-low',
      at: '2026-03-02T10:01:00.000Z',
      figures: alert.figures,
    })
    expect(log.firing.filter(costly).map((f) => f.alert_id)).toEqual([alert.alert_id])

    // The webhook: a 500 first, then the same signed bytes again.
    await h.waitFor(async () => (hooks.received.length >= 2 ? true : undefined), 'the retried webhook')
    const [first, second] = hooks.received
    expect([first.answered, second.answered]).toEqual([500, 200])
    expect(second.body).toBe(first.body)
    expect(second.headers['x-pulse-delivery']).toBe(first.headers['x-pulse-delivery'])
    expect(second.headers['x-pulse-signature']).toBe(
      `sha256=${createHmac('sha256', SECRET).update(second.body).digest('hex')}`,
    )
    expect(JSON.parse(second.body)).toMatchObject({
      tenant: 'alert-a',
      rule: { id: 'costly', kind: 'campaign_roas' },
      alert: { alert_id: alert.alert_id, state: 'firing', figures: alert.figures },
    })
    const deliveries = await h.waitFor(async () => {
      const { body } = await h.getJson(app, keyA, '/v1/alerts/deliveries', deliveriesAnswer)
      return body.deliveries.length >= 2 ? body.deliveries : undefined
    }, 'the delivery log')
    expect(deliveries.map((d) => [d.attempt, d.status, d.ok])).toEqual([
      [2, 200, true],
      [1, 500, false],
    ])
  })

  it('a firing alert survives a restart and is not fired again', async () => {
    const before = (await h.getJson(app, keyA, '/v1/alerts?rule_id=costly', alertsAnswer)).body
    await app.kill()
    app = await h.startApp({ dataDir: app.dataDir, env: ENV })
    const after = (await h.getJson(app, keyA, '/v1/alerts?rule_id=costly', alertsAnswer)).body
    expect(after.firing.filter(costly)).toEqual(before.firing.filter(costly))
    expect(after.items).toEqual(before.items)
    expect((await h.getJson(app, keyA, '/v1/alerts/rules/costly', ruleAnswer)).body.rule).toMatchObject({
      id: 'costly',
      webhook: { url: hooks.url, secret_set: true },
    })
  })

  it('resolves after recovery past the hysteresis band', async () => {
    // 99.99 + 20.01 = 120.00 earned on 100.00: ROAS 1.2 ≥ floor + hysteresis.
    expect((await h.postEvents(app, keyA, [order('2', 'c-low', '20.01', 1)])).status).toBe(202)
    const log = await h.waitFor(async () => {
      const { body } = await h.getJson(app, keyA, '/v1/alerts?rule_id=costly', alertsAnswer)
      return body.items.length >= 2 ? body : undefined
    }, 'the resolved alert')
    expect(log.items.map((i) => i.state)).toEqual(['resolved', 'firing'])
    expect(log.items[0].alert_id).toBe(log.items[1].alert_id)
    expect(log.items[0].fired_at).toBe(log.items[1].fired_at)
    expect(log.items[0].figures).toMatchObject({ ad_spend: '100.00', attributed_revenue: '120.00', roas: 1.2 })
    expect(log.firing.filter(costly)).toEqual([])
    await h.waitFor(
      async () => (hooks.received.some((r) => JSON.parse(r.body).alert.state === 'resolved') ? true : undefined),
      'the resolved webhook',
    )
  })

  it('another tenant never sees them', async () => {
    const { body } = await h.getJson(app, keyB, '/v1/alerts', alertsAnswer)
    expect(body).toMatchObject({ firing: [], items: [] })
    expect((await h.getJson(app, keyB, '/v1/alerts/deliveries', deliveriesAnswer)).body).toEqual({ deliveries: [] })
    const [, b] = clients
    expect(
      b.messages.filter((m) => m.topic === 'alerts').every((m) => Array.isArray(m.data) && m.data.length === 0),
    ).toBe(true)
    for (const r of hooks.received) expect(JSON.parse(r.body).tenant).toBe('alert-a')
  })

  it('spend spike: a cent over factor × baseline fires; at it, or noise under the min spend, stays quiet', async () => {
    const keyC = await h.createTenant(app, { id: 'alert-c' })
    const DAY = 86_400_000
    const at = T + 10 * 60_000
    // Baseline: 100.00 a day in this hour for k-under and k-over, 1.00 for k-tiny, on each of three
    // previous days, in before the rules: windows end at the newest event, so the rules' first
    // evaluation is of the day before, against the two before it (quiet: 100.00 on a baseline of 100.00).
    const statement = (campaign: string, ts: number, amount: string) => ({
      id: `s-${campaign}-${ts}`,
      type: 'ad.spend',
      ts,
      source: 'google_ads',
      platform: 'google',
      campaign_id: campaign,
      spend: amount,
    })
    const baseline = [3, 2, 1].flatMap((d) => [
      statement('k-under', at - d * DAY, '100.00'),
      statement('k-over', at - d * DAY, '100.00'),
      statement('k-tiny', at - d * DAY, '1.00'),
    ])
    expect((await h.postEvents(app, keyC, baseline)).status).toBe(202)
    await h.waitForKpis(
      app,
      keyC,
      new URLSearchParams({ from: new Date(at - 4 * DAY).toISOString(), to: new Date(at).toISOString() }).toString(),
      (k) => k.ad_spend === '603.00',
    )
    for (const [campaign, rule] of [
      ['k-under', 'spike-under'],
      ['k-over', 'spike-over'],
      ['k-tiny', 'spike-tiny'],
    ]) {
      const res = await send(keyC, 'POST', '/v1/alerts/rules', ruleAnswer, {
        id: rule,
        kind: 'spend_spike',
        campaign_id: campaign,
        factor: 3,
        min_spend: '50.00',
        baseline_days: 2,
        window_minutes: 60,
      })
      expect(res.status).toBe(201)
    }
    // Now: 300.00 (= 3 × 100.00), 300.01, and 49.99 (≈ 50 × its baseline, under the minimum spend).
    expect(
      (
        await h.postEvents(app, keyC, [
          statement('k-under', at, '300.00'),
          statement('k-tiny', at, '49.99'),
          statement('k-over', at, '300.01'),
        ])
      ).status,
    ).toBe(202)
    const fired = await h.waitFor(async () => {
      const { body } = await h.getJson(app, keyC, '/v1/alerts', alertsAnswer)
      return body.firing.some((f) => f.rule_id === 'spike-over') ? body : undefined
    }, 'the spend spike alert')
    const spike = fired.firing.find((f) => f.rule_id === 'spike-over')
    expect(spike?.figures).toEqual({
      window_from: '2026-03-02T09:11:00.000Z',
      window_to: '2026-03-02T10:11:00.000Z',
      ad_spend: '300.01',
      baseline: '100.00',
      threshold: '300.00',
      factor: 3,
      min_spend: '50.00',
      campaign_id: 'k-over',
    })
    expect(fired.firing.map((f) => f.rule_id).filter((r) => r.startsWith('spike'))).toEqual(['spike-over'])
    const otherTenant = (await h.getJson(app, keyA, '/v1/alerts', alertsAnswer)).body
    expect(otherTenant.items.some((i) => i.rule_id.startsWith('spike'))).toBe(false)
  })
})
