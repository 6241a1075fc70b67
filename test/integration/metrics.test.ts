// GET /metrics (docs/observability.md): Prometheus text behind the admin token, with exact per-tenant
// counts of events accepted, applied and dead-lettered, SQL refusals by code and HTTP answers by route.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { jetstream } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { afterAll, describe, expect, it } from 'vitest'
import { DEFAULT_PARTITIONS } from '../../app/config.ts'
import { eventSubject } from '../../ingest/streams.ts'
import { type App, createTenant, postEvents, postSql, scrape, startApp, waitFor } from './harness.ts'

let app: App
afterAll(async () => app?.kill())

const order = (id: string) => ({
  id: `evt-${id}`,
  type: 'order.created',
  ts: '2026-11-20T08:00:00Z',
  source: 'shopify',
  order_id: id,
  total: '10.00',
  subtotal: '10.00',
})

describe('GET /metrics', () => {
  it('counts each tenant’s events in, applied and dead-lettered, exactly', async () => {
    app = await startApp()
    const shopA = await createTenant(app, { id: 'shop-a' })
    const shopB = await createTenant(app, { id: 'shop-b' })
    expect(await postEvents(app, shopA, [order('a1'), order('a2'), order('a3')])).toMatchObject({ status: 202 })
    // A repeated id is answered as a duplicate, not counted as accepted.
    expect(await postEvents(app, shopB, [order('b1'), order('b2'), order('b1')])).toEqual({
      status: 202,
      body: { accepted: 2, duplicates: 1 },
    })
    // A message that bypassed HTTP validation goes to the dead-letter stream (reason bad_json).
    const { port } = JSON.parse(readFileSync(join(app.dataDir, 'nats', 'server.json'), 'utf8')) as { port: number }
    const nc = await connect({ servers: `nats://127.0.0.1:${port}` })
    await jetstream(nc).publish(eventSubject('shop-a', 'order.created', DEFAULT_PARTITIONS), 'not json')
    await nc.close()
    expect((await postSql(app, shopA, 'DROP TABLE pulse.events')).status).toBe(400)

    const samples = await waitFor(async () => {
      const s = await scrape(app)
      const applied = (tenant: string) => s.get(`pulse_events_applied_total{tenant="${tenant}"}`)
      const deadLetters = s.get('pulse_dead_letters_total{tenant="shop-a",reason="bad_json"}')
      // Events are applied at once and land in ClickHouse at the next flush: wait for that too.
      const flushed = (s.get('pulse_flush_duration_seconds_count') ?? 0) > 0
      const caughtUp = s.get('pulse_consumer_pending_messages') === 0
      const counted = applied('shop-a') === 3 && applied('shop-b') === 2 && deadLetters === 1
      return counted && flushed && caughtUp ? s : undefined
    }, 'both tenants’ events applied and flushed, and the dead letter counted')

    expect(samples.get('pulse_events_accepted_total{tenant="shop-a"}')).toBe(3)
    expect(samples.get('pulse_events_accepted_total{tenant="shop-b"}')).toBe(2)
    expect(samples.get('pulse_dead_letters_total{tenant="shop-b",reason="bad_json"}')).toBeUndefined()
    expect(samples.get('pulse_consumer_pending_messages')).toBe(0)
    expect(samples.get('pulse_sql_queries_total{tenant="shop-a"}')).toBe(1)
    expect(samples.get('pulse_sql_refusals_total{code="sql_not_allowed"}')).toBe(1)
    expect(samples.get('pulse_http_requests_total{method="POST",route="/v1/events",status="202"}')).toBe(2)
    expect(samples.get('pulse_http_requests_total{method="POST",route="/v1/admin/tenants",status="201"}')).toBe(2)
    expect(samples.get('pulse_live_clients')).toBe(0)
    expect(samples.get('pulse_flush_failures_total')).toBe(0)
    expect(samples.get('pulse_unhandled_rejections_total')).toBe(0)
    expect(samples.get('pulse_flush_duration_seconds_count')).toBeGreaterThan(0)
    // prom-client's default process metrics are there too.
    expect(samples.get('process_resident_memory_bytes')).toBeGreaterThan(0)
  })

  it('answers 401 without the admin token, and to a tenant’s key', async () => {
    const tenantKey = await createTenant(app, { id: 'shop-c' })
    expect((await fetch(`${app.url}/metrics`)).status).toBe(401)
    const asTenant = await fetch(`${app.url}/metrics`, { headers: { authorization: `Bearer ${tenantKey}` } })
    expect(asTenant.status).toBe(401)
  })
})
