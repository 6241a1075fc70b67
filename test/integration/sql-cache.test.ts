// Hot KPI answers are cached (query/cache.ts) and the stream stage's change signal
// invalidates them, so through the real app a cached figure changes within one update after a
// new event: as soon as the live update carrying an event arrives, HTTP shows it too.
import { afterAll, describe, expect, it } from 'vitest'
import { kpisAnswer } from '../../query/metrics-routes.ts'
import { type App, connectLive, createTenant, figures, getJson, postEvents, startApp } from './harness.ts'

let app: App
afterAll(async () => app?.kill())

const order = (n: number) => ({
  id: `cache-o${n}`,
  type: 'order.created',
  ts: new Date().toISOString(),
  source: 'shopify',
  order_id: `cache-o${n}`,
  total: `${n}.00`,
  subtotal: `${n}.00`,
  items: [{ sku: 's', quantity: 1, price: `${n}.00` }],
  channel: 'organic',
})

describe('the KPI cache', () => {
  it('never answers with a figure older than the latest update', async () => {
    app = await startApp()
    const key = await createTenant(app, { id: 'cached' })
    const start = Date.now() - 3_600_000
    const fixed = `from=${new Date(start).toISOString()}&to=${new Date(start + 86_400_000).toISOString()}`
    const live = await connectLive(app, key)
    live.send({ op: 'subscribe', topics: ['kpis'] })
    await live.next((m) => m.type === 'snapshot' && m.topic === 'kpis', 'snapshot')

    for (let n = 1; n <= 4; n++) {
      // Warm the cache: the same answers twice (the second from the cache).
      for (let i = 0; i < 2; i++) {
        expect((await getJson(app, key, '/v1/metrics/kpis', kpisAnswer)).body.orders).toBe(n - 1)
        expect((await getJson(app, key, `/v1/metrics/kpis?${fixed}`, kpisAnswer)).body.orders).toBe(n - 1)
      }
      expect((await postEvents(app, key, [order(n)])).status).toBe(202)
      const update = await live.next(
        (m) => m.type === 'update' && m.topic === 'kpis' && m.data.orders === n,
        `update with ${n} orders`,
      )
      const today = (await getJson(app, key, '/v1/metrics/kpis', kpisAnswer)).body
      expect(figures(today)).toMatchObject({ ...figures(update.data), to: expect.any(String) })
      expect((await getJson(app, key, `/v1/metrics/kpis?${fixed}`, kpisAnswer)).body).toMatchObject({
        orders: n,
        gmv: update.data.gmv,
      })
    }
    live.close()
  })
})
