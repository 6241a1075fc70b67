// Webhook URLs that would reach inside Pulse's network are refused at rule creation with a 400
// naming the field, on an app started with the defaults (ALERT_WEBHOOK_ALLOW_PRIVATE unset).
// The send-time check (DNS answers, rebinding) is in alerts-webhooks.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ruleAnswer } from '../../alerts/routes.ts'
import { type App, createTenant, fieldErrors, getJson, send, startApp } from './harness.ts'

let app: App
let key: string
beforeAll(async () => {
  app = await startApp()
  key = await createTenant(app, { id: 'ssrf' })
})
afterAll(async () => {
  await app?.kill()
})

const rule = (url: string) => ({ kind: 'refund_surge', webhook: { url, secret: 'whsec-ssrf-0123456789' } })

describe('webhook SSRF guard', () => {
  it.each([
    'http://127.0.0.1:8080/hook',
    'http://localhost/hook',
    'http://10.0.0.7/hook',
    'http://192.168.1.20/hook',
    'http://172.20.0.1/hook',
    'http://169.254.169.254/latest/meta-data/',
    'http://[::1]:9000/hook',
    'http://[fd00:ec2::254]/',
    'http://[::ffff:127.0.0.1]/',
    'http://2130706433/',
    'http://metadata.google.internal/computeMetadata/v1/',
  ])('%s → 400 naming webhook.url', async (url) => {
    const res = await send(app, key, 'POST', '/v1/alerts/rules', fieldErrors, rule(url))
    expect(res.status).toBe(400)
    expect(res.body.error.details).toEqual([
      {
        path: 'webhook.url',
        message: expect.stringMatching(/^not an allowed webhook target: .*ALERT_WEBHOOK_ALLOW_PRIVATE=1/),
      },
    ])
    expect(res.body.error.message).toMatch(/^invalid rule: webhook\.url: /)
  })

  it('a public address is accepted; a PUT to a private one is refused and changes nothing', async () => {
    const publicRule = { id: 'pub', ...rule('https://93.184.216.34/hook') }
    expect((await send(app, key, 'POST', '/v1/alerts/rules', ruleAnswer, publicRule)).status).toBe(201)
    const put = await send(app, key, 'PUT', '/v1/alerts/rules/pub', fieldErrors, rule('http://10.1.1.1/hook'))
    expect(put.status).toBe(400)
    expect(put.body.error.details[0].path).toBe('webhook.url')
    const res = await getJson(app, key, '/v1/alerts/rules/pub', ruleAnswer)
    expect(res.body.rule.webhook?.url).toBe('https://93.184.216.34/hook')
  })
})
