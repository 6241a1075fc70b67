// The connectors' HTTP client against a local stand-in for an outside API: what an error carries
// (our message and the status, never the foreign body), redirects, the SSRF guard at every call,
// cancellation; and the checks of a connector's configured URLs.
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Resolver } from '../../common/url-guard.ts'
import { createHttp } from '../../ingest/connectors/http.ts'
import { urlProblems } from '../../ingest/connectors/targets.ts'

const CANARY = 'db_password=hunter2'
const held: ServerResponse[] = []
const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  if (req.url === '/boom') return res.writeHead(500).end(`internal error, ${CANARY}`)
  if (req.url === '/denied') return res.writeHead(403).end(`forbidden, ${CANARY}`)
  if (req.url === '/moved') return res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end()
  if (req.url === '/hold') return void held.push(res) // never answers
  if (req.url === '/huge') return res.writeHead(200).end('x'.repeat(100_000))
  res.writeHead(200, { 'x-answer': 'yes' }).end('{"ok":true}')
})
let base = ''
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  for (const res of held) res.end()
  await new Promise((r) => server.close(r))
})

const http = (options: { allowPrivate?: boolean; resolve?: Resolver; signal?: AbortSignal } = {}) =>
  createHttp({ retryBaseMs: 1, allowPrivate: true, sleep: async () => {}, ...options })
const failure = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: Error) => `${e.name}: ${e.message}`,
  )

describe('connector HTTP client', () => {
  it('answers with status, headers and body', async () => {
    const res = await http().request({ url: `${base}/ok?token=secret` })
    const got = { status: res.status, header: res.headers.get('x-answer'), text: res.text }
    expect(got).toEqual({ status: 200, header: 'yes', text: '{"ok":true}' })
  })

  it("errors carry the status and our message, never the API's body", async () => {
    const boom = await failure(http().request({ url: `${base}/boom` }))
    expect(boom).toBe('ConnectorHttpError: GET /boom: gave up after 5 attempts: answered 500')
    const denied = await failure(http().request({ url: `${base}/denied` }))
    expect(denied).toBe('ConnectorHttpError: GET /denied answered 403 (credentials rejected)')
  })

  it('cuts off an answer larger than the bound, once, with our message only', async () => {
    const small = createHttp({ retryBaseMs: 1, allowPrivate: true, sleep: async () => {}, maxResponseBytes: 1_000 })
    const huge = await failure(small.request({ url: `${base}/huge` }))
    expect(huge).toBe('ConnectorHttpError: GET /huge: the answer is larger than 1000 bytes')
    expect(small.retries()).toBe(0)
    expect((await small.request({ url: `${base}/ok` })).text).toBe('{"ok":true}')
  })

  it('does not follow a redirect', async () => {
    const moved = await failure(http().request({ url: `${base}/moved` }))
    expect(moved).toBe('ConnectorHttpError: GET /moved answered 302 (a redirect, not followed)')
  })

  it('refuses private addresses at every call unless allowed, literal or resolved', async () => {
    const reserved = 'a loopback, private, link-local or reserved address'
    expect(await failure(http({ allowPrivate: false }).request({ url: `${base}/ok` }))).toBe(
      `ConnectorHttpError: GET /ok: refused: 127.0.0.1 is ${reserved}`,
    )
    const port = new URL(base).port
    const url = `http://api.example.com:${port}/ok`
    const privateName: Resolver = async () => [{ address: '127.0.0.1', family: 4 }]
    expect(await failure(http({ allowPrivate: false, resolve: privateName }).request({ url }))).toBe(
      `ConnectorHttpError: GET /ok: refused: api.example.com resolves to 127.0.0.1, ${reserved}`,
    )
    // A name answering public to the check and private to the connection: the connection is refused.
    let answers = 0
    const rebinding: Resolver = async () => [{ address: answers++ === 0 ? '93.184.216.34' : '127.0.0.1', family: 4 }]
    expect(await failure(http({ allowPrivate: false, resolve: rebinding }).request({ url }))).toBe(
      'ConnectorHttpError: GET /ok: refused: api.example.com resolves to 127.0.0.1, a private address',
    )
  })

  it('a cancelled call ends at once, its request closed', async () => {
    const cancel = new AbortController()
    const call = failure(http({ signal: cancel.signal }).request({ url: `${base}/hold` }))
    while (held.length === 0) await new Promise((r) => setTimeout(r, 10))
    const closed = new Promise((r) => held[0].once('close', r))
    cancel.abort(new Error('removed'))
    expect(await call).toBe('Error: removed')
    await closed
  })
})

describe("a connector's configured URLs", () => {
  const dns: Resolver = async (host) => {
    if (host === 'internal.example.com') return [{ address: '10.0.0.5', family: 4 }]
    throw new Error(`ENOTFOUND ${host}`)
  }
  const problems = (api_base_url: string, allowPrivate = false) =>
    urlProblems({ api_base_url }, { allowPrivate, resolve: dns })
  const refused = (why: string) => `not an allowed API address: ${why}`
  const hint = '(set CONNECTOR_ALLOW_PRIVATE=1 to allow private targets)'
  const reserved = `a loopback, private, link-local or reserved address ${hint}`
  const appended = 'paths and queries are appended to it'

  it.each([
    ['https://graph.facebook.com', []],
    ['http://127.0.0.1:9000', [refused(`127.0.0.1 is ${reserved}`)]],
    ['https://internal.example.com', [refused(`internal.example.com resolves to 10.0.0.5, ${reserved}`)]],
    ['https://api.example.com/x?', [refused(`a query (?) is not allowed: ${appended}`)]],
    ['https://api.example.com/?a=b#', [refused(`a query (?) is not allowed: ${appended}`)]],
    ['https://api.example.com/#', [refused(`a fragment (#) is not allowed: ${appended}`)]],
    ['https://user:pw@api.example.com', [refused('credentials in the URL are not allowed')]],
    ['file:///etc/passwd', [refused('only http and https URLs')]],
  ])('%s', async (url, messages) => {
    expect(await problems(url)).toEqual(messages.map((message) => ({ path: 'config.api_base_url', message })))
  })

  it('private addresses pass when the deployment allows them; a query never does', async () => {
    expect(await problems('http://127.0.0.1:9000', true)).toEqual([])
    expect((await problems('http://127.0.0.1:9000/?', true)).length).toBe(1)
  })

  it('checks the token endpoints too', async () => {
    const config = { api_base_url: 'https://ads.example.com', token_url: 'http://169.254.169.254/token' }
    const found = await urlProblems(config, { allowPrivate: false, resolve: dns })
    expect(found).toEqual([{ path: 'config.token_url', message: refused(`169.254.169.254 is ${reserved}`) }])
  })
})
