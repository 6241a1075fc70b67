// Dead letters (counted and inspectable, the stream keeps going) and /healthz naming a failed part.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { jetstream } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { afterAll, describe, expect, it } from 'vitest'
import { DEFAULT_PARTITIONS } from '../../app/config.ts'
import { deadLettersAnswer } from '../../ingest/dead-letters-route.ts'
import { eventSubject } from '../../ingest/streams.ts'
import { healthAnswer } from '../../query/health-route.ts'
import {
  ADMIN_TOKEN,
  type App,
  createTenant,
  postEvents,
  readAnswer,
  startApp,
  waitFor,
  waitForKpis,
} from './harness.ts'

let app: App
afterAll(async () => app?.kill())

const natsOf = (app: App) =>
  JSON.parse(readFileSync(join(app.dataDir, 'nats', 'server.json'), 'utf8')) as { pid: number; port: number }
const subject = (tenant: string) => eventSubject(tenant, 'order.created', DEFAULT_PARTITIONS)
const admin = (path: string) => fetch(`${app.url}${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })

describe('operations', () => {
  it('sends messages it cannot use to the dead-letter stream, counts them, and keeps going', async () => {
    app = await startApp()
    const key = await createTenant(app, { id: 'acme' })
    // Messages that bypassed HTTP validation: published straight to the events stream.
    const nc = await connect({ servers: `nats://127.0.0.1:${natsOf(app).port}` })
    const js = jetstream(nc)
    await js.publish(subject('acme'), 'not json')
    await js.publish(subject('acme'), JSON.stringify({ id: 'x', type: 'order.created', source: 'shopify' }))
    await js.publish(
      subject('nobody'),
      JSON.stringify({ id: 'y', type: 'order.cancelled', ts: 0, source: 'shopify', order_id: 'o' }),
    )
    await nc.close()
    const good = {
      id: 'ok-1',
      type: 'order.created',
      ts: '2026-11-20T10:00:00Z',
      source: 'shopify',
      order_id: 'o1',
      total: '5.00',
      subtotal: '5.00',
    }
    expect((await postEvents(app, key, [good])).status).toBe(202)
    await waitForKpis(app, key, 'from=2026-11-20T00:00:00Z&to=2026-11-21T00:00:00Z', (k) => k.gmv === '5.00')

    const res = await admin('/v1/admin/dead-letters')
    expect(res.status).toBe(200)
    const { body } = await readAnswer(res, deadLettersAnswer, 'GET /v1/admin/dead-letters')
    expect(body.count).toBe(3)
    expect(body.messages.map((m) => [m.reason, m.subject, m.stream_seq])).toEqual([
      ['unknown_tenant', subject('nobody'), 3],
      ['invalid_event', subject('acme'), 2],
      ['bad_json', subject('acme'), 1],
    ])
    expect(body.messages[2].body).toBe('not json')
    expect(body.messages[1].detail).toContain('order_id')
    expect((await fetch(`${app.url}/v1/admin/dead-letters`)).status).toBe(401)
  })

  it('answers /healthz with 503 naming NATS while it is down, and 200 once it is back', async () => {
    const ok = await fetch(`${app.url}/healthz`)
    expect(ok.status).toBe(200)
    expect((await readAnswer(ok, healthAnswer, 'GET /healthz')).body).toEqual({
      status: 'ok',
      nats: 'ok',
      clickhouse: 'ok',
      stream: 'ok',
    })
    // Freeze the app’s own nats-server: the app must notice, and recover when it thaws.
    process.kill(natsOf(app).pid, 'SIGSTOP')
    try {
      const down = await waitFor(async () => {
        const res = await fetch(`${app.url}/healthz`)
        // The 503 answer is the health body too, naming the part that is down.
        return res.status === 503 ? (await readAnswer(res, healthAnswer, 'GET /healthz')).body : undefined
      }, '503 from /healthz')
      expect(down.status).toBe('degraded')
      expect(down.nats).toMatch(/^down: /)
      expect(down.clickhouse).toBe('ok')
    } finally {
      process.kill(natsOf(app).pid, 'SIGCONT')
    }
    const back = await waitFor(
      async () => ((await fetch(`${app.url}/healthz`)).status === 200 ? true : undefined),
      '200 from /healthz',
    )
    expect(back).toBe(true)
  })
})
