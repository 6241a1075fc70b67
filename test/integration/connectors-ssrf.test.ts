// Connectors' outbound calls: an api_base_url that would reach inside Pulse's network (in any of
// the forms an address can be written), or that carries a query, fragment or credentials, is
// refused at creation with a 400 naming the field, on an app started with the defaults. With
// CONNECTOR_ALLOW_PRIVATE=1 a loopback API is accepted; a failing API's answer never reaches
// last_error nor the log; and DELETE cancels a running sync instead of waiting for it.
import { type ServerResponse, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type FakeApi, addConnector, startFakeApi, waitForSyncs } from './connectors-fakes.ts'
import { connectorsAnswer } from '../../ingest/connectors-route.ts'
import {
  type App,
  createTenant,
  errorSchema,
  fieldErrors,
  getJson,
  noContent,
  send,
  startApp,
  waitFor,
} from './harness.ts'

const CANARY = 'db_password=hunter2'
const meta = (apiBaseUrl: string, account = 'act_1') => ({
  type: 'meta_ads',
  config: { account_id: account, access_token: 'token-1', api_base_url: apiBaseUrl },
  every_seconds: 3600,
})

describe('connector api_base_url guard (defaults)', () => {
  let app: App
  let key: string
  beforeAll(async () => {
    app = await startApp()
    key = await createTenant(app, { id: 'con-ssrf' })
  })
  afterAll(async () => {
    await app?.kill()
  })

  const hint = ' (set CONNECTOR_ALLOW_PRIVATE=1 to allow private targets)'
  const privateAddress = (address: string) =>
    `not an allowed API address: ${address} is a loopback, private, link-local or reserved address${hint}`
  const appended = 'paths and queries are appended to it'
  it.each([
    ['http://127.0.0.1:9000', privateAddress('127.0.0.1')],
    ['http://[::1]:9000', privateAddress('::1')],
    ['http://169.254.169.254/latest/meta-data', privateAddress('169.254.169.254')],
    ['http://10.0.0.7', privateAddress('10.0.0.7')],
    ['http://[fd00:ec2::254]', privateAddress('fd00:ec2::254')],
    ['http://2130706433/', privateAddress('127.0.0.1')],
    ['http://0177.0.0.1/', privateAddress('127.0.0.1')],
    ['http://0x7f.0.0.1/', privateAddress('127.0.0.1')],
    ['http://[::ffff:127.0.0.1]/', privateAddress('::ffff:7f00:1')],
    ['http://[::ffff:0:127.0.0.1]/', privateAddress('::ffff:0:7f00:1')],
    ['http://[2002:7f00:1::]/', privateAddress('2002:7f00:1::')],
    ['http://[2001:0:a00:1::1]/', privateAddress('2001:0:a00:1::1')], // Teredo
    ['http://localhost:9000', `not an allowed API address: localhost names an internal host${hint}`],
    ['file:///etc/passwd', 'not an allowed API address: only http and https URLs'],
    ['gopher://127.0.0.1:6379/_INFO', 'not an allowed API address: only http and https URLs'],
    ['https://graph.example.com/x?', `not an allowed API address: a query (?) is not allowed: ${appended}`],
    ['https://graph.example.com/?path=#', `not an allowed API address: a query (?) is not allowed: ${appended}`],
    ['https://graph.example.com/#', `not an allowed API address: a fragment (#) is not allowed: ${appended}`],
    ['https://user:pw@graph.example.com', 'not an allowed API address: credentials in the URL are not allowed'],
  ])('%s → 400 naming config.api_base_url', async (url, message) => {
    const res = await send(app, key, 'POST', '/v1/connectors', fieldErrors, meta(url))
    expect(res.status).toBe(400)
    expect(res.body.error).toEqual({
      code: 'bad_request',
      message: `invalid meta_ads config: config.api_base_url: ${message}`,
      details: [{ path: 'config.api_base_url', message }],
    })
  })

  it('stores none of the refused connectors', async () => {
    expect(await getJson(app, key, '/v1/connectors', connectorsAnswer)).toEqual({
      status: 200,
      body: { connectors: [] },
    })
  })
})

describe('connectors on a deployment that allows private APIs', () => {
  let app: App
  let key: string
  let api: FakeApi
  const held: ServerResponse[] = []
  const holding = createServer((_req, res) => void held.push(res)) // an API that never answers
  beforeAll(async () => {
    api = await startFakeApi()
    const body = `{"error":"connect failed","dsn":"postgres://app?${CANARY}"}`
    api.route('GET', '/v21.0/act_1/insights', () => ({ status: 500, body }))
    await new Promise<void>((r) => holding.listen(0, '127.0.0.1', () => r()))
    app = await startApp({ env: { CONNECTOR_ALLOW_PRIVATE: '1', CONNECTOR_RETRY_BASE_MS: '10' } })
    key = await createTenant(app, { id: 'con-private' })
  })
  afterAll(async () => {
    for (const res of held) res.end()
    await app?.kill()
    await api?.close()
    await new Promise((r) => holding.close(r))
  })

  it("accepts an API on 127.0.0.1; a failure's last_error and log carry the status, not the answer", async () => {
    const id = await addConnector(app, key, meta(api.url))
    const status = await waitForSyncs(app, key, id, 1)
    expect(status.last_error).toBe('GET /v21.0/act_1/insights: gave up after 5 attempts: answered 500')
    expect(api.calls('GET', '/v21.0/act_1/insights').length).toBe(5)
    const logLines = app
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line))
    const failure = { tenant: 'con-private', connector: 'meta_ads', connector_id: id, error: status.last_error }
    expect(logLines).toContainEqual(expect.objectContaining({ ...failure, msg: 'connector sync failed' }))
    expect(app.output()).not.toContain('hunter2')
  })

  it('DELETE cancels a running sync: it answers without waiting for the held request; the connector goes', async () => {
    const url = `http://127.0.0.1:${(holding.address() as AddressInfo).port}`
    const id = await addConnector(app, key, meta(url, 'act_2'))
    await waitFor(async () => held.length > 0 || undefined, 'the sync to call the API')
    const closed = new Promise((r) => held[0].once('close', r))
    expect((await send(app, key, 'DELETE', `/v1/connectors/${id}`, noContent)).status).toBe(204)
    await closed // the sync's request was cut, not left to time out
    expect(held.length).toBe(1)
    expect((await getJson(app, key, `/v1/connectors/${id}`, errorSchema)).status).toBe(404)
    const listed = (await getJson(app, key, '/v1/connectors', connectorsAnswer)).body.connectors.map((c) => c.id)
    expect(listed).not.toContain(id)
  })
})
