// Who may open /v1/live, and what they see. Short-lived tokens from POST /v1/live/token
// (the browser's way in), API keys in the header only, forged and expired tokens refused, and
// tenants sealed off from each other over WebSocket, on the app's hub and on a second hub alike.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLiveTokens } from '../../push/index.ts'
import { type App, createTenant, postEvents, startApp } from './harness.ts'
import {
  type Client,
  type HubProcess,
  SECRET_KEY,
  liveOrder,
  liveToken,
  natsUrlOf,
  openLive,
  startHub,
  upgradeStatusOf,
} from './push-harness.ts'

let app: App
let hub2: HubProcess
let acme: string
let globex: string
const clients: Client[] = []

beforeAll(async () => {
  app = await startApp({ env: { SECRET_KEY } })
  hub2 = await startHub(natsUrlOf(app))
  acme = await createTenant(app, { id: 'acme', currency: 'USD' })
  globex = await createTenant(app, { id: 'globex', currency: 'EUR' })
})

afterAll(async () => {
  for (const c of clients) c.ws.terminate()
  await hub2?.kill()
  await app?.kill()
})

describe('POST /v1/live/token', () => {
  it('mints a short-lived token for an API key, and nothing without one', async () => {
    const res = await fetch(`${app.url}/v1/live/token`, {
      method: 'POST',
      headers: { authorization: `Bearer ${acme}` },
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const body = (await res.json()) as { token: string; expires_at: string; url: string }
    const ttl = Date.parse(body.expires_at) - Date.now()
    expect(ttl).toBeGreaterThan(60_000)
    expect(ttl).toBeLessThanOrEqual(5 * 60_000)
    expect(body.url).toBe(`/v1/live?token=${encodeURIComponent(body.token)}`)
    expect(body.token).not.toContain(acme)
    expect((await fetch(`${app.url}/v1/live/token`, { method: 'POST' })).status).toBe(401)
    expect(
      (await fetch(`${app.url}/v1/live/token`, { method: 'POST', headers: { authorization: 'Bearer pk_acme_wrong' } }))
        .status,
    ).toBe(401)
  })

  it.each([['the app'], ['a second hub']])('lets in valid credentials only, on %s', async (which) => {
    const url = which === 'the app' ? app.url : hub2.url
    const { token } = await liveToken(app.url, acme)
    const [, body, sig] = token.split('.')
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString())
    const forged = `lt1.${Buffer.from(JSON.stringify({ ...claims, tenant: 'globex' })).toString('base64url')}.${sig}`
    const expired = createLiveTokens({ secretKey: SECRET_KEY, now: () => Date.now() - 10 * 60_000 }).sign('acme').token
    const otherSecret = createLiveTokens({ secretKey: 'another-secret-key-0123456789-0123456789' }).sign('acme').token
    expect(await upgradeStatusOf(url, { token })).toBe(101)
    expect(await upgradeStatusOf(url, { key: token })).toBe(101) // a token also works as a bearer
    expect(await upgradeStatusOf(url, { key: acme })).toBe(101)
    expect(await upgradeStatusOf(url, { token: forged })).toBe(401)
    expect(await upgradeStatusOf(url, { token: expired })).toBe(401)
    expect(await upgradeStatusOf(url, { token: otherSecret })).toBe(401)
    expect(await upgradeStatusOf(url, { token: acme })).toBe(401) // an API key never goes in a URL
    expect(await upgradeStatusOf(url, { token: 'garbage' })).toBe(401)
    expect(await upgradeStatusOf(url, { key: 'pk_acme_wrong' })).toBe(401)
    expect(await upgradeStatusOf(url, {})).toBe(401)
  })
})

describe('tenant isolation over WebSocket', () => {
  it('never shows one tenant a topic of another, on either hub', async () => {
    const topics = ['kpis', 'timeseries:gmv:1m?last=3', 'alerts']
    const acmeHere = await openLive(app.url, { token: (await liveToken(app.url, acme)).token })
    const acmeThere = await openLive(hub2.url, { key: acme })
    const globexHere = await openLive(app.url, { key: globex })
    const globexThere = await openLive(hub2.url, { token: (await liveToken(app.url, globex)).token })
    const all = [acmeHere, acmeThere, globexHere, globexThere]
    clients.push(...all)
    for (const c of all) c.send({ op: 'subscribe', topics })
    for (const c of all)
      for (const t of topics) await c.find((m) => m.type === 'snapshot' && m.topic === t, `snapshot of ${t}`)

    expect((await postEvents(app, acme, [liveOrder('a1', '700.00')])).status).toBe(202)
    for (const c of [acmeHere, acmeThere])
      await c.find((m) => m.type === 'update' && m.topic === 'kpis' && m.data.gmv === '700.00', 'acme update')
    expect((await postEvents(app, globex, [liveOrder('g1', '3.00')])).status).toBe(202)
    for (const c of [globexHere, globexThere])
      await c.find((m) => m.type === 'update' && m.topic === 'kpis' && m.data.gmv === '3.00', 'globex update')
    // Globex's own update came after acme's; nothing of acme's reached globex before or since.
    for (const c of [globexHere, globexThere]) {
      expect(c.messages.filter((m) => m.topic === 'kpis').every((m) => m.data.currency === 'EUR')).toBe(true)
      expect(JSON.stringify(c.messages)).not.toContain('"700.00"')
    }
    for (const c of [acmeHere, acmeThere]) {
      expect(c.messages.filter((m) => m.topic === 'kpis').every((m) => m.data.currency === 'USD')).toBe(true)
      expect(c.messages.some((m) => m.topic === 'kpis' && m.data.gmv === '3.00')).toBe(false)
    }
  })
})
