// The Meta and Google Ads pollers against local servers answering with the APIs'
// documented bodies: a full sync through paging cursors (Meta) and a searchStream (Google), a 429
// honoured (Retry-After; Google's retryDelay), a 500 retried, a malformed page or batch sent to
// the dead-letter stream while the rest completes, an incremental sync from the saved cursor
// after a restart, and re-polled spend restating (never adding), with KPIs exact to the cent.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectorStatus, connectorsAnswer } from '../../ingest/connectors-route.ts'
import * as fake from './connectors-fakes.ts'
import { type App, createTenant, errorSchema, getJson, waitForKpis } from './harness.ts'

const META_TOKEN = 'EAAB-secret-meta-token-never-shown'
const GOOGLE_TOKEN = 'ya29.secret-google-token-never-shown'

let app: App
let api: fake.FakeApi
let key: string
let meta: string
let google: string
let round = 1

const addDays = (date: string, days: number) =>
  new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10)
const timeRange = (q: URLSearchParams) => JSON.parse(q.get('time_range')!) as { since: string; until: string }
const between = (body: string) =>
  /BETWEEN '(\d{4}-\d{2}-\d{2})' AND '(\d{4}-\d{2}-\d{2})'/.exec(JSON.parse(body).query)!.slice(1)

beforeAll(async () => {
  api = await fake.startFakeApi()
  api.route('GET', '/v21.0/act_1234567890/insights', (req, n) => {
    const after = req.query.get('after')
    if (!after)
      return n === 0
        ? { ...fake.tooMany(1), body: fake.fixtureJson('meta/error-80004.json') }
        : fake.ok(fake.fixture(round === 1 ? 'meta/insights-page1.json' : 'meta/insights-page1-restated.json'))
    if (after === 'MjQZD')
      return api.calls('GET', '/v21.0/act_1234567890/insights').filter((r) => r.query.get('after') === 'MjQZD')
        .length === 1
        ? fake.serverError()
        : fake.ok(fake.fixture('meta/insights-page2-malformed.json'))
    return fake.ok(fake.fixture('meta/insights-page3.json'), {
      'x-business-use-case-usage': JSON.stringify({
        '1234567890': [
          { type: 'ads_insights', call_count: 4, total_cputime: 2, total_time: 3, estimated_time_to_regain_access: 0 },
        ],
      }),
    })
  })
  api.route('POST', '/v21/customers/1234567890/googleAds:searchStream', (_req, n) => {
    if (n === 0) return { status: 429, body: fake.fixtureJson('google/error-429.json') }
    if (n === 1) return { status: 500, body: fake.fixtureJson('google/error-500.json') }
    return fake.ok(fake.fixture(round === 1 ? 'google/searchStream.json' : 'google/searchStream-restated.json'))
  })
  app = await fake.startConnectorApp()
  key = await createTenant(app, { id: 'ads' })
})
afterAll(async () => {
  await app?.kill()
  await api?.close()
})

describe('ad platform pollers', () => {
  it('syncs Meta insights through paging cursors and Google Ads through searchStream, exactly', async () => {
    meta = await fake.addConnector(app, key, {
      type: 'meta_ads',
      config: { account_id: 'act_1234567890', access_token: META_TOKEN, api_base_url: api.url },
      every_seconds: 3600,
    })
    google = await fake.addConnector(app, key, {
      type: 'google_ads',
      config: {
        customer_id: '123-456-7890',
        developer_token: 'dev-token-secret',
        access_token: GOOGLE_TOKEN,
        login_customer_id: '9876543210',
        api_base_url: api.url,
      },
      every_seconds: 3600,
    })
    const metaStatus = await fake.waitForSyncs(app, key, meta, 1)
    const googleStatus = await fake.waitForSyncs(app, key, google, 1)
    expect(metaStatus).toMatchObject({
      type: 'meta_ads',
      account: 'act_1234567890',
      last_error: null,
      events_produced: 3,
      dead_letters: 1,
      pages: 3,
      syncs: 1,
    })
    expect(googleStatus).toMatchObject({
      type: 'google_ads',
      account: '1234567890',
      last_error: null,
      events_produced: 2,
      dead_letters: 1,
      pages: 3,
      syncs: 1,
    })
    expect(metaStatus.last_success_at).toEqual(expect.any(String))
    expect(metaStatus.lag_seconds).toEqual(expect.any(Number))

    const k = await waitForKpis(app, key, fake.FIXTURE_DAY, (k) => k.ad_spend === '87.93')
    expect(k.by_channel.facebook.ad_spend).toBe('32.34') // 20.00 + 12.34
    expect(k.by_channel.instagram.ad_spend).toBe('5.50')
    expect(k.by_channel.google.ad_spend).toBe('50.09') // 40100000 + 9990000 micros
    expect(k.by_source.meta_ads.ad_spend).toBe('37.84')
    expect(k.by_source.google_ads.ad_spend).toBe('50.09')
  })

  it('sent the documented requests: paging followed, headers and query as documented', async () => {
    const insights = api.calls('GET', '/v21.0/act_1234567890/insights')
    expect(insights.map((r) => r.query.get('after'))).toEqual([null, null, 'MjQZD', 'MjQZD', 'NDUZD'])
    const first = insights[0].query
    expect(first.get('level')).toBe('campaign')
    expect(first.get('time_increment')).toBe('1')
    expect(first.get('access_token')).toBe(META_TOKEN)
    const { since, until } = timeRange(first)
    expect(since).toBe(addDays(until, -29)) // a full sync reads the backfill window
    const stream = api.calls('POST', '/v21/customers/1234567890/googleAds:searchStream')
    expect(stream).toHaveLength(3)
    expect(stream[2].headers).toMatchObject({
      authorization: `Bearer ${GOOGLE_TOKEN}`,
      'developer-token': 'dev-token-secret',
      'login-customer-id': '9876543210',
    })
    expect(JSON.parse(stream[2].body).query).toMatch(/FROM campaign WHERE segments\.date BETWEEN/)
  })

  it('honours 429 Retry-After (Meta) and retryDelay (Google), and retries a 500', async () => {
    const insights = api.calls('GET', '/v21.0/act_1234567890/insights')
    expect(insights[1].at - insights[0].at).toBeGreaterThanOrEqual(1_000) // Retry-After: 1
    const stream = api.calls('POST', '/v21/customers/1234567890/googleAds:searchStream')
    expect(stream[1].at - stream[0].at).toBeGreaterThanOrEqual(1_000) // retryDelay "1s"
    // The 500s were followed by a retry of the same request, and both syncs succeeded.
    expect(insights[3].query.get('after')).toBe('MjQZD')
    expect(stream.length).toBe(3)
  })

  it('sends the malformed page and batch to the dead-letter stream, with no credentials in them', async () => {
    const letters = (await fake.deadLetters(app)).filter((l) => l.subject.startsWith('connector.'))
    expect(letters.map((l) => [l.reason, l.subject]).sort()).toEqual([
      ['malformed_page', `connector.google_ads.${google}.searchStream`],
      ['malformed_page', `connector.meta_ads.${meta}.insights`],
    ])
    const metaLetter = letters.find((l) => l.subject.includes('meta_ads'))
    expect(metaLetter?.body).toContain('access_token=REDACTED') // paging.next echoes the token
    expect(JSON.stringify(letters)).not.toContain('EAABwzLixnjYBO3ZBtest0token')
  })

  it('never returns credentials', async () => {
    const list = await getJson(app, key, '/v1/connectors', connectorsAnswer)
    expect(list.body.connectors.map((c) => c.id).sort()).toEqual([meta, google].sort())
    const one = await getJson(app, key, `/v1/connectors/${meta}`, connectorStatus)
    // The JSON as answered, fields the schema does not name included (readAnswer keeps them).
    const text = JSON.stringify(list.body) + JSON.stringify(one.body)
    for (const secret of [META_TOKEN, GOOGLE_TOKEN, 'dev-token-secret']) expect(text).not.toContain(secret)
    expect(app.output()).not.toContain(META_TOKEN)
  })

  it('after a restart, syncs incrementally from the saved cursor, and re-polled spend restates', async () => {
    await app.kill('SIGKILL')
    app = await fake.startConnectorApp(app.dataDir)
    round = 2
    const before = api.calls('GET', '/v21.0/act_1234567890/insights').length
    expect(await fake.syncNow(app, key, meta)).toBe(202)
    expect(await fake.syncNow(app, key, google)).toBe(202)
    await fake.waitForSyncs(app, key, meta, 2)
    await fake.waitForSyncs(app, key, google, 2)

    const insights = api.calls('GET', '/v21.0/act_1234567890/insights')
    const firstRange = timeRange(insights[0].query)
    const incremental = timeRange(insights[before].query)
    expect(incremental.since).toBe(addDays(firstRange.until, -3)) // the cursor, less the restated days
    const stream = api.calls('POST', '/v21/customers/1234567890/googleAds:searchStream')
    const [firstSince, firstUntil] = between(stream[2].body)
    expect(firstSince).toBe(addDays(firstUntil, -29))
    expect(between(stream[stream.length - 1].body)[0]).toBe(addDays(firstUntil, -3))

    // facebook campaign 1 restated 20.00 → 35.00; Google 555 restated 40.10 → 45.00: replaced, not added.
    const k = await waitForKpis(app, key, fake.FIXTURE_DAY, (k) => k.ad_spend === '107.83')
    expect(k.by_channel.facebook.ad_spend).toBe('47.34')
    expect(k.by_channel.instagram.ad_spend).toBe('5.50')
    expect(k.by_channel.google.ad_spend).toBe('54.99')
  })

  it('deletes a connector: it disappears and syncs no more', async () => {
    const res = await fetch(`${app.url}/v1/connectors/${google}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${key}` },
    })
    expect(res.status).toBe(204)
    expect((await getJson(app, key, `/v1/connectors/${google}`, errorSchema)).status).toBe(404)
    expect(await fake.syncNow(app, key, google)).toBe(404)
  })
})
