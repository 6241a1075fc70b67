// Alerts wait while the stream consumer works off a backlog. The app is stopped while a
// day is published into JetStream the way ingest publishes it (the app's own NATS, so the stream
// outlives the app): the day's ad statement first, then its 5,000 orders. On restart the consumer
// meets the statement with the orders still queued; evaluated then, the campaign's ROAS would be
// under its floor and an alert would fire, only to resolve a moment later. Held until the backlog
// is worked off, the rule sees the day whole and stays quiet; a restatement that takes ROAS a cent
// under the floor afterwards fires.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { alertsAnswer, ruleAnswer } from '../../alerts/routes.ts'
import { DEFAULT_PARTITIONS } from '../../app/config.ts'
import { createPipelinedPublisher, publishEvents, validateEvents } from '../../ingest/index.ts'
import * as h from './harness.ts'

const T = Date.UTC(2026, 2, 2, 0, 0)
const ORDERS = 5_000

let nats: h.TestNats
let app: h.App
let key: string

beforeAll(async () => {
  nats = await h.startNats()
})

afterAll(async () => {
  await app?.kill()
  await nats?.stop()
})

const statement = (id: string, spend: string, reportedAt: number) => ({
  id,
  type: 'ad.spend',
  ts: T,
  source: 'meta_ads',
  platform: 'facebook',
  campaign_id: 'bf',
  spend,
  reported_at: reportedAt,
})
const order = (i: number) => ({
  id: `o-${i}`,
  type: 'order.created',
  ts: T + i * 10_000,
  source: 'shopify',
  order_id: `bf-${i}`,
  total: '1.00',
  subtotal: '1.00',
  channel: 'facebook',
  campaign_id: 'bf',
  items: [{ sku: 'sku-1', quantity: 1, price: '1.00', cost: '0.10' }],
})

describe('alerts and a backlog', () => {
  it('wait for the queued day and stay quiet; a restatement under the floor afterwards fires', async () => {
    const env = { NATS_URL: nats.url }
    const dataDir = h.newDataDir()
    app = await h.startApp({ dataDir, env })
    key = await h.createTenant(app, { id: 'backlog' })
    const rule = {
      id: 'roas',
      kind: 'campaign_roas',
      floor: 1,
      min_spend: '100.00',
      hysteresis: 0.1,
      window_minutes: 1440,
      cooldown_minutes: 0,
    }
    expect((await h.send(app, key, 'POST', '/v1/alerts/rules', ruleAnswer, rule)).status).toBe(201)
    await app.kill()

    // While the app is down: 3000.00 of spend, then 5,000 orders of 1.00: ROAS 1.67 once all are
    // in, under 1 before the 3,000th. Held while over 1,000 messages are queued, the first
    // evaluation sees over 4,000 of them (ROAS over 1.33).
    const day = [statement('st-1', '3000.00', T), ...Array.from({ length: ORDERS }, (_, i) => order(i))]
    const tenant = { id: 'backlog', timezone: 'UTC', currency: 'USD' }
    const { valid, details } = validateEvents(tenant, day, { receivedAt: Date.now() })
    expect(details).toEqual([])
    expect(
      await publishEvents(createPipelinedPublisher(nats.nc), 'backlog', valid, {
        receivedAt: Date.now(),
        partitions: DEFAULT_PARTITIONS,
      }),
    ).toEqual({ accepted: ORDERS + 1, duplicates: 0 })

    app = await h.startApp({ dataDir, env })
    const settled = (events: number) =>
      h.waitFor(async () => {
        const { body } = await h.getJson(app, key, '/v1/alerts', alertsAnswer)
        return body.evaluated.events >= events ? body : undefined
      }, `an evaluation of ${events} events`)
    let body = await settled(ORDERS + 1)
    expect(body.items.filter((i) => i.rule_id === 'roas')).toEqual([])

    // Restated to 5000.01: ROAS 5000.00 / 5000.01, a cent under 1.
    const restated = await h.postEvents(app, key, [statement('st-2', '5000.01', T + 1)])
    expect(restated.status).toBe(202)
    body = await settled(ORDERS + 2)
    expect(
      body.items
        .filter((i) => i.rule_id === 'roas')
        .map((i) => [i.state, i.subject, i.figures.ad_spend, i.figures.attributed_revenue]),
    ).toEqual([['firing', 'bf', '5000.01', '5000.00']])
  })
})
