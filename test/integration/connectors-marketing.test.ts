// The messaging pollers (Klaviyo metric aggregates, Postscript campaigns) against local
// servers answering with the documented bodies. They report sends, not money: cost = sends × the
// tenant's unit cost from its settings. Paging (links.next, page numbers), a 429 honoured, a 500
// retried, a malformed page dead-lettered, exact KPIs, and after a restart a re-poll that restates
// (a grown count replaces the old one, an unchanged one changes nothing).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as fake from './connectors-fakes.ts'
import { type App, createTenant, waitForKpis } from './harness.ts'

let app: App
let api: fake.FakeApi
let round = 1
const keys: Record<string, string> = {}
const ids: Record<string, string> = {}

async function patchSettings(key: string, patch: unknown): Promise<void> {
  const res = await fetch(`${app.url}/v1/settings`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(patch),
  })
  if (res.status !== 200) throw new Error(`settings not saved: ${res.status} ${await res.text()}`)
}

beforeAll(async () => {
  api = await fake.startFakeApi()
  api.route('GET', '/api/metrics', (req) => {
    if (!req.query.get('page[cursor]')) return fake.ok(fake.fixture('klaviyo/metrics-page1.json'))
    const n = api.calls('GET', '/api/metrics').filter((r) => r.query.get('page[cursor]')).length
    return n === 1
      ? { status: 500, body: fake.fixtureJson('klaviyo/error-500.json') }
      : fake.ok(fake.fixture('klaviyo/metrics-page2.json'))
  })
  api.route('POST', '/api/metric-aggregates', (req, n) => {
    if (n === 0) return { ...fake.tooMany(1), body: fake.fixtureJson('klaviyo/error-429.json') }
    const metric = JSON.parse(req.body).data.attributes.metric_id
    if (metric === 'Xt7ZLa') return fake.ok(fake.fixture('klaviyo/aggregate-received-sms-malformed.json'))
    return fake.ok(
      fake.fixture(
        round === 1 ? 'klaviyo/aggregate-received-email.json' : 'klaviyo/aggregate-received-email-restated.json',
      ),
      { 'ratelimit-limit': '350', 'ratelimit-remaining': '349', 'ratelimit-reset': '1' },
    )
  })
  api.route('GET', '/api/v2/campaigns', (req, n) => {
    if (n === 0) return { ...fake.tooMany(1), body: fake.fixtureJson('postscript/error-429.json') }
    const page = req.query.get('page')
    if (page === '1') return fake.ok(fake.fixture('postscript/campaigns-page1.json'))
    if (page === '2')
      return api.calls('GET', '/api/v2/campaigns').filter((r) => r.query.get('page') === '2').length === 1
        ? fake.serverError()
        : fake.ok(fake.fixture('postscript/campaigns-page2-malformed.json'))
    return fake.ok(fake.fixture('postscript/campaigns-page3.json'))
  })
  app = await fake.startConnectorApp()
  for (const id of ['kla', 'pst']) keys[id] = await createTenant(app, { id })
  await patchSettings(keys.kla, { marketing_unit_costs: { klaviyo_email: '0.001', sms: '0.0125' } })
  await patchSettings(keys.pst, { marketing_unit_costs: { postscript_sms: '0.0075', postscript_mms: '0.02' } })
})
afterAll(async () => {
  await app?.kill()
  await api?.close()
})

describe('messaging pollers', () => {
  it('prices Klaviyo sends per day and message with the tenant’s unit cost, exactly', async () => {
    ids.kla = await fake.addConnector(app, keys.kla, {
      type: 'klaviyo',
      config: { api_key: 'pk_secret_klaviyo_key', api_base_url: api.url },
      every_seconds: 3600,
    })
    const status = await fake.waitForSyncs(app, keys.kla, ids.kla, 1)
    // 1500 and 300 on the 10th, 200 on the 9th
    expect(status).toMatchObject({ last_error: null, dead_letters: 1, events_produced: 3 })
    // (1500 + 300) × 0.001
    const k = await waitForKpis(app, keys.kla, fake.FIXTURE_DAY, (k) => k.marketing_cost === '1.80')
    expect(k.by_source.klaviyo.marketing_cost).toBe('1.80')

    const aggregates = api.calls('POST', '/api/metric-aggregates')
    expect(aggregates[1].at - aggregates[0].at).toBeGreaterThanOrEqual(1_000) // Retry-After: 1
    const body = JSON.parse(aggregates[1].body).data.attributes
    expect(body).toMatchObject({ measurements: ['count'], interval: 'day', by: ['$message'], timezone: 'UTC' })
    expect(aggregates[1].headers).toMatchObject({
      authorization: 'Klaviyo-API-Key pk_secret_klaviyo_key',
      revision: '2024-10-15',
    })
    const metrics = api.calls('GET', '/api/metrics')
    // links.next, a 500 retried
    expect(metrics.map((r) => r.query.get('page[cursor]'))).toEqual([null, 'bWV0cmljczoyMA', 'bWV0cmljczoyMA'])
  })

  it('prices Postscript campaign sends by channel, across pages, exactly', async () => {
    ids.pst = await fake.addConnector(app, keys.pst, {
      type: 'postscript',
      config: { api_key: 'sk_secret_postscript', api_base_url: api.url, backfill_days: 365 },
      every_seconds: 3600,
    })
    const status = await fake.waitForSyncs(app, keys.pst, ids.pst, 1)
    expect(status).toMatchObject({ last_error: null, dead_letters: 1, events_produced: 3, pages: 3 })
    // 4000 × 0.0075 + 1000 × 0.0075 + 2500 MMS × 0.02
    const k = await waitForKpis(app, keys.pst, fake.FIXTURE_DAY, (k) => k.marketing_cost === '87.50')
    expect(k.by_source.postscript.marketing_cost).toBe('87.50')
    const calls = api.calls('GET', '/api/v2/campaigns')
    expect(calls.map((r) => r.query.get('page'))).toEqual(['1', '1', '2', '2', '3'])
    expect(calls[1].at - calls[0].at).toBeGreaterThanOrEqual(1_000)
    expect(calls[1].headers.authorization).toBe('Bearer sk_secret_postscript')
  })

  it('dead-letters the malformed aggregate and campaigns page', async () => {
    const letters = (await fake.deadLetters(app)).filter((l) => l.subject.startsWith('connector.'))
    expect(letters.map((l) => [l.reason, l.subject]).sort()).toEqual([
      ['malformed_page', `connector.klaviyo.${ids.kla}.metric-aggregates`],
      ['malformed_page', `connector.postscript.${ids.pst}.campaigns`],
    ])
  })

  it('after a restart, a re-poll restates: a grown count replaces the old one, nothing is added twice', async () => {
    await app.kill('SIGKILL')
    app = await fake.startConnectorApp(app.dataDir)
    round = 2
    for (const id of ['kla', 'pst']) expect(await fake.syncNow(app, keys[id], ids[id])).toBe(202)
    for (const id of ['kla', 'pst']) await fake.waitForSyncs(app, keys[id], ids[id], 2)
    // 1500 → 1800 sends of the first email: (1800 + 300) × 0.001
    expect(await waitForKpis(app, keys.kla, fake.FIXTURE_DAY, (k) => k.marketing_cost === '2.10')).toMatchObject({
      marketing_cost: '2.10',
    })
    expect(await waitForKpis(app, keys.pst, fake.FIXTURE_DAY, () => true)).toMatchObject({ marketing_cost: '87.50' })
    // The incremental window starts at the saved cursor less the restated days.
    const aggregates = api
      .calls('POST', '/api/metric-aggregates')
      .map((r) => JSON.parse(r.body).data.attributes.filter[0] as string)
    const day = (f: string) => /datetime,(\d{4}-\d{2}-\d{2})/.exec(f)![1]
    // 30-day backfill, then 3 restated days
    expect(Date.parse(day(aggregates.at(-1)!)) - Date.parse(day(aggregates[1]))).toBe(26 * 86_400_000)
  })
})
