// SIGKILL in the middle of a stream of events, twice, then a restart. Clients
// retry what was not confirmed, as real ones do. The final KPIs equal the totals computed here
// plainly from the input: nothing lost, nothing doubled.
import { afterAll, describe, expect, it } from 'vitest'
import { type App, createTenant, figures, postEvents, startApp, waitForKpis } from './harness.ts'

const range = 'from=2026-11-20T00:00:00Z&to=2026-11-21T00:00:00Z'
const BATCHES = 30
const PER_BATCH = 400

/** Batch b: orders, edits of earlier orders, refunds, and a restated ad spend statement. */
function makeBatch(b: number): Record<string, unknown>[] {
  const events: Record<string, unknown>[] = []
  for (let j = 0; j < PER_BATCH - 1; j++) {
    const i = b * PER_BATCH + j
    const ts = orderTs(i)
    if (i % 10 === 9 && i > 20) {
      // An edit, a minute after its order, of an order from earlier (possibly an earlier batch).
      const target = i - 15
      events.push({
        id: `upd-${target}`,
        type: 'order.updated',
        ts: orderTs(target) + 60_000,
        source: 'shopify',
        order_id: `o-${target}`,
        total: cents(orderCents(target) + 50),
        subtotal: cents(orderCents(target) + 50),
        channel: 'google',
        items: items(target + 1),
      })
    } else if (i % 7 === 6) {
      events.push({
        id: `ref-${i}`,
        type: 'refund.created',
        ts,
        source: 'shopify',
        order_id: `o-${i - 3}`,
        refund_id: `r-${i - 3}`,
        amount: '1.00',
      })
    } else {
      events.push({
        id: `ord-${i}`,
        type: 'order.created',
        ts,
        source: 'shopify',
        order_id: `o-${i}`,
        total: cents(orderCents(i)),
        subtotal: cents(orderCents(i)),
        channel: i % 2 ? 'facebook' : 'organic',
        items: items(i),
      })
    }
  }
  events.push({
    id: `spend-${b}`,
    type: 'ad.spend',
    ts: '2026-11-20T00:00:00Z',
    source: 'meta_ads',
    platform: 'facebook',
    campaign_id: 'c1',
    spend: `${(b + 1) * 10}.00`,
    reported_at: Date.UTC(2026, 10, 20, 12, b),
  })
  return events
}
const orderTs = (i: number) => Date.UTC(2026, 10, 20, i % 24, i % 60, 7)
const items = (i: number) => [{ sku: 's', quantity: 1 + (i % 3), price: '1.00' }]
const orderCents = (i: number) => ((i % 97) + 1) * 101
const cents = (n: number) => `${Math.floor(n / 100)}.${String(n % 100).padStart(2, '0')}`

/** The expected totals, computed plainly from the same input. */
function expectedTotals(all: Record<string, any>[]) {
  const orders = new Map<string, { total: number; units: number; channel: string }>()
  const refunds = new Set<string>()
  let spend = { at: -1, cents: 0 }
  // Every edit is a minute after its order, so the edit's figures stand whatever the arrival order.
  for (const e of all) {
    if (e.type === 'order.created' && !orders.has(e.order_id))
      orders.set(e.order_id, { total: toCents(e.total), units: e.items[0].quantity, channel: e.channel })
  }
  for (const e of all) {
    if (e.type === 'order.updated')
      orders.set(e.order_id, { total: toCents(e.total), units: e.items[0].quantity, channel: e.channel })
    if (e.type === 'refund.created') refunds.add(e.refund_id)
    if (e.type === 'ad.spend' && e.reported_at > spend.at) spend = { at: e.reported_at, cents: toCents(e.spend) }
  }
  const gmv = [...orders.values()].reduce((s, o) => s + o.total, 0)
  return {
    orders: orders.size,
    gmv: cents(gmv),
    units: [...orders.values()].reduce((s, o) => s + o.units, 0),
    refunds: cents(refunds.size * 100),
    net_sales: cents(gmv - refunds.size * 100),
    ad_spend: cents(spend.cents),
    attributed_revenue: cents(
      [...orders.values()].filter((o) => o.channel !== 'organic').reduce((s, o) => s + o.total, 0),
    ),
  }
}
const toCents = (s: string) => Math.round(Number(s) * 100)

let app: App
afterAll(async () => app?.kill())

describe('crash safety', () => {
  it('SIGKILL mid-stream, twice, loses nothing and doubles nothing', async () => {
    const batches = Array.from({ length: BATCHES }, (_, b) => makeBatch(b))
    const expected = expectedTotals(batches.flat())
    const env = { FLUSH_INTERVAL_MS: '20' }
    app = await startApp({ env })
    const key = await createTenant(app, { id: 'crashy' })

    const confirmed = new Set<number>()
    const send = async (b: number) => {
      try {
        if ((await postEvents(app, key, batches[b])).status === 202) confirmed.add(b)
      } catch {
        // connection lost mid-request: not confirmed, the client sends it again
      }
    }
    for (const killAfter of [8, 19]) {
      for (let b = 0; b < killAfter; b++) if (!confirmed.has(b)) await send(b)
      // Two more batches in flight while the process dies.
      const inFlight = [send(killAfter), send(killAfter + 1)]
      await new Promise((r) => setTimeout(r, 30))
      await app.kill('SIGKILL')
      await Promise.all(inFlight)
      app = await startApp({ dataDir: app.dataDir, env })
    }
    for (let b = 0; b < BATCHES; b++) if (!confirmed.has(b)) await send(b)
    // Retries of batches already confirmed are harmless: duplicates.
    await send(0)
    expect(confirmed.size).toBe(BATCHES)

    const final = await waitForKpis(
      app,
      key,
      range,
      (k) => k.orders === expected.orders && k.ad_spend === expected.ad_spend,
      60_000,
    )
    expect(final).toMatchObject(expected)

    await app.kill('SIGTERM')
    app = await startApp({ dataDir: app.dataDir, env })
    const again = await waitForKpis(app, key, range, () => true)
    expect(figures(again)).toEqual(figures(final))
  })
})
