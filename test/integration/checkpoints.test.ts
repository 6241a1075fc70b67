// Checkpoints of the stream state (stream/checkpoints.ts, clickhouse/checkpointer.ts), one per
// partition: a restart after a checkpoint loads each partition's and replays only the events
// committed after it (counted from the start-up log lines), and answers exactly as before; a corrupt
// newest snapshot is skipped for the partition's previous one, and a snapshot of another state
// format for a rebuild from pulse.events.
//
// History: 100,000 events over two tenants: the RFM/intent data set (orders over three years,
// edits, refunds, cancellations, guests, shoppers) and a busy shop's orders, edits, refunds,
// restated ad spend and page views.
import { readdirSync, rmSync } from 'node:fs'
import { connect } from '@nats-io/transport-node'
import { Objm } from '@nats-io/obj'
import { afterAll, describe, expect, it } from 'vitest'
import { startEmbeddedNats } from '../../app/nats-server.ts'
import { silentLog } from '../../common/log.ts'
import type { z } from 'zod'
import { customerResponse, intentResponse, rfmResponse } from '../../query/customer-routes.ts'
import { checkpointAnswer } from '../../query/checkpoint-route.ts'
import { kpisAnswer, timeseriesAnswer } from '../../query/metrics-routes.ts'
import { partitionOf } from '../../ingest/streams.ts'
import { CHECKPOINT_BUCKET, STATE_FORMAT } from '../../stream/index.ts'
import * as h from './harness.ts'
import { AS_OF, DAY, type Ev, generate } from './rfm-intent-data.ts'

const data = generate()
const shopper = data.events
/** The busy shop's events, enough to bring history to 100,000 events. */
const busy = busyShop(100_000 - shopper.length)
const HISTORY = shopper.length + busy.length

function busyShop(count: number): Ev[] {
  const events: Ev[] = []
  const at = (i: number) => new Date(Date.UTC(2026, 10, 1) + (i % 20) * DAY + (i % 1440) * 60_000).toISOString()
  // Edits and refunds are of orders created before them.
  const created: number[] = []
  const earlier = (back: number) => created[Math.max(0, created.length - back)]
  for (let i = 0; events.length < count + 20; i++) {
    if (i % 11 === 10 && created.length > 0)
      events.push({
        id: `upd-${i}`,
        type: 'order.updated',
        ts: at(earlier(3)),
        source: 'shopify',
        order_id: `o-${earlier(3)}`,
        customer_id: `c-${earlier(3) % 3000}`,
        total: '20.00',
        subtotal: '20.00',
        items: [{ sku: 's2', quantity: 2, price: '10.00' }],
      })
    else if (i % 7 === 6 && created.length > 0)
      events.push({
        id: `ref-${i}`,
        type: 'refund.created',
        ts: at(i),
        source: 'shopify',
        order_id: `o-${earlier(2)}`,
        refund_id: `r-${i}`,
        amount: '1.50',
      })
    else if (i % 5 === 4)
      events.push({
        id: `pv-${i}`,
        type: 'product.viewed',
        ts: at(i),
        source: 'web',
        customer_id: `c-${i % 3000}`,
        product_id: `p${i % 40}`,
      })
    else if (i % 1000 === 998)
      events.push({
        id: `spend-${i}`,
        type: 'ad.spend',
        ts: '2026-11-01T00:00:00Z',
        source: 'meta_ads',
        platform: 'facebook',
        campaign_id: 'c1',
        spend: `${i}.00`,
        reported_at: new Date(Date.UTC(2026, 10, 2) + i).toISOString(),
      })
    else
      events.push({
        id: `ord-${i}`,
        type: 'order.created',
        ts: at(i),
        source: 'shopify',
        order_id: `o-${i}`,
        customer_id: `c-${i % 3000}`,
        total: `${(i % 90) + 10}.25`,
        subtotal: `${(i % 90) + 10}.00`,
        channel: i % 2 ? 'facebook' : 'organic',
        items: [{ sku: `s${i % 4}`, quantity: 1 + (i % 3), price: `${(i % 90) + 10}.00` }],
      })
    if (events.at(-1)?.type === 'order.created') created.push(i)
  }
  // The last one is an order: once the KPIs count it, everything before it was applied.
  while (events.at(-1)?.type !== 'order.created') events.pop()
  return events
}

/** A tail posted after a checkpoint: an edit and a refund of history orders, a repeat, new orders (last). */
const tail = (n: number): Ev[] => [
  {
    id: `tail-upd-${n}`,
    type: 'order.updated',
    ts: busy[0].ts,
    source: 'shopify',
    order_id: 'o-0',
    customer_id: 'c-0',
    total: `${30 + n}.00`,
    subtotal: `${30 + n}.00`,
    items: [{ sku: 's1', quantity: 3, price: `${10 + n}.00` }],
  },
  {
    id: `tail-ref-${n}`,
    type: 'refund.created',
    ts: '2026-11-21T11:00:00Z',
    source: 'shopify',
    order_id: 'o-1',
    refund_id: `tr-${n}`,
    amount: '2.00',
  },
  busy[1], // a repeat of a history event: the dedup memory in the snapshot drops it
  ...Array.from({ length: 100 }, (_, i) => ({
    id: `tail-${n}-${i}`,
    type: 'order.created',
    ts: '2026-11-21T10:00:00Z',
    source: 'shopify',
    order_id: `t-${n}-${i}`,
    customer_id: `c-${i}`,
    total: '5.00',
    subtotal: '5.00',
    items: [{ sku: 's1', quantity: 1, price: '5.00' }],
  })),
]
/** Events of a tail that are applied (and so archived and replayed): all but the repeat. */
const APPLIED_PER_TAIL = 102

let app: h.App
afterAll(async () => app?.kill())

const asOf = new Date(AS_OF).toISOString()
const q = (params: Record<string, string | number>) =>
  new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)])).toString()
const busyRange = q({ from: '2026-11-01T00:00:00Z', to: '2026-11-22T00:00:00Z' })

/** Every answer compared across restarts: fixed ranges and as_of, so only the state decides them. */
function answerPaths(): [string, string, z.ZodType][] {
  const shopperRange = q({ from: new Date(AS_OF - 400 * DAY).toISOString(), to: asOf })
  return [
    ['shopper', `/v1/metrics/kpis?${shopperRange}`, kpisAnswer],
    ['shopper', `/v1/metrics/kpis?${shopperRange}&view=order_date`, kpisAnswer],
    ['shopper', `/v1/dashboards/rfm?${q({ as_of: asOf })}`, rfmResponse],
    ['shopper', `/v1/dashboards/intent?${q({ as_of: asOf })}`, intentResponse],
    ['shopper', `/v1/customers/${encodeURIComponent(data.customers[3])}?${q({ as_of: asOf })}`, customerResponse],
    ['busy', `/v1/metrics/kpis?${busyRange}`, kpisAnswer],
    ['busy', `/v1/metrics/kpis?${busyRange}&view=order_date`, kpisAnswer],
    ['busy', `/v1/metrics/timeseries?metric=net_sales&interval=1d&${busyRange}`, timeseriesAnswer],
    ['busy', `/v1/dashboards/rfm?${q({ as_of: '2026-11-22T00:00:00Z' })}`, rfmResponse],
    ['busy', `/v1/customers/c-7?${q({ as_of: '2026-11-22T00:00:00Z' })}`, customerResponse],
  ]
}

describe('checkpoints', () => {
  const keys: Record<string, string> = {}
  const answers = async () => {
    const out: Record<string, unknown> = {}
    for (const [tenant, path, schema] of answerPaths()) {
      const { status, body } = await h.getJson(app, keys[tenant], path, schema)
      expect(status, path).toBe(200)
      // When the answer was made, and how far behind the clock the data is, change with the clock.
      const { as_of: _at, freshness: _lag, ...figures } = body as Record<string, unknown>
      out[`${tenant} ${path}`] = path.includes('as_of') ? body : figures
    }
    return out
  }
  const post = async (tenant: string, events: Ev[]) => {
    for (let i = 0; i < events.length; i += 5_000)
      expect((await h.postEvents(app, keys[tenant], events.slice(i, i + 5_000))).status).toBe(202)
  }
  /** Waits until the busy shop's KPIs count `orders` (its last event posted is one of them). */
  const settled = (orders: number) => h.waitForKpis(app, keys.busy, busyRange, (k) => k.orders === orders, 120_000)
  const checkpoint = async () => {
    const { status, body } = await h.send(app, h.ADMIN_TOKEN, 'POST', '/v1/admin/checkpoints', checkpointAnswer)
    expect(status).toBe(200)
    return body
  }
  /** The last log line with this message. */
  const lastLine = <T>(msg: string, where: (line: T) => boolean = () => true): T | undefined =>
    app
      .output()
      .split('\n')
      .filter((l) => l.includes(`"msg":"${msg}"`))
      .map((l) => JSON.parse(l) as T)
      .filter(where)
      .at(-1)
  /** The start-up line summing what was loaded and replayed over the partitions. */
  const recovery = () =>
    lastLine<{ partitions: number; snapshots: number; replayed: number }>(
      'state loaded: snapshots and later history replayed',
    )
  /** The start-up line of the busy shop's partition. */
  const busyPartition = () =>
    lastLine<{ partition: number; snapshot_seq?: number; replayed: number }>(
      'partition loaded',
      (l) => l.partition === partitionOf('busy', 16),
    )
  const restart = async () => {
    await app.kill('SIGTERM')
    app = await h.startApp({ dataDir: app.dataDir, env })
  }
  const env = { CHECKPOINT_INTERVAL_SECONDS: '0' }
  const busyOrders = new Set(busy.filter((e) => e.type === 'order.created').map((e) => e.order_id)).size

  it(`a restart after a checkpoint replays only the tail (${HISTORY.toLocaleString('en')} events of history)`, async () => {
    app = await h.startApp({ env })
    keys.shopper = await h.createTenant(app, { id: 'shopper', currency: 'USD', timezone: 'UTC' })
    keys.busy = await h.createTenant(app, { id: 'busy', currency: 'EUR', timezone: 'Europe/Berlin' })
    await post('shopper', shopper)
    await post('busy', busy)
    await settled(busyOrders)
    const first = await checkpoint()
    expect(first).toMatchObject({ taken: true, replayed: HISTORY })

    await post('busy', tail(1))
    await settled(busyOrders + 100)
    const before = await answers()
    await restart()
    // Both tenants' partitions load their snapshot; only the busy shop's has a tail.
    expect(partitionOf('shopper', 16)).not.toBe(partitionOf('busy', 16))
    expect(recovery()).toMatchObject({ partitions: 16, snapshots: 2, replayed: APPLIED_PER_TAIL })
    expect(busyPartition()).toMatchObject({ snapshot_seq: first.last_seq, replayed: APPLIED_PER_TAIL })
    expect(await answers()).toEqual(before)

    // The next checkpoint builds on the first: it replays only the tail.
    expect(await checkpoint()).toMatchObject({ taken: true, replayed: APPLIED_PER_TAIL })
    expect(await checkpoint()).toMatchObject({ taken: false })
  }, 300_000)

  it('a corrupt newest snapshot is skipped for the one before it', async () => {
    await post('busy', tail(2))
    await settled(busyOrders + 200)
    const newest = await checkpoint()
    expect(newest.taken).toBe(true)
    await post('busy', tail(3))
    await settled(busyOrders + 300)
    const before = await answers()
    await app.kill('SIGTERM')
    // Flip bytes in the middle of the newest snapshot, in the object store and in the local copy.
    await rewriteNewest(app.dataDir, (bytes) => {
      bytes[bytes.length >> 1] ^= 0xff
      return bytes
    })
    app = await h.startApp({ dataDir: app.dataDir, env })
    expect(busyPartition()!.snapshot_seq).toBeLessThan(newest.last_seq!)
    expect(recovery()).toMatchObject({ snapshots: 2, replayed: 2 * APPLIED_PER_TAIL })
    expect(app.output()).toContain('snapshot skipped for an older one')
    expect(await answers()).toEqual(before)
  })

  it('snapshots of another state format are set aside for a rebuild from pulse.events', async () => {
    await checkpoint()
    const before = await answers()
    await app.kill('SIGTERM')
    await rewriteAll(app.dataDir, (meta) => ({ ...meta, format: String(STATE_FORMAT - 1) }))
    app = await h.startApp({ dataDir: app.dataDir, env })
    expect(recovery()).toMatchObject({ snapshots: 0, replayed: HISTORY + 3 * APPLIED_PER_TAIL })
    expect(app.output()).toContain(`this build reads ${STATE_FORMAT}: rebuilding from pulse.events`)
    expect(await answers()).toEqual(before)
  })
})

/** The app's embedded nats-server is down between runs: start one on its data to edit the store. */
async function withStore<T>(dataDir: string, edit: (store: Awaited<ReturnType<Objm['open']>>) => Promise<T>) {
  const nats = await startEmbeddedNats({ dataDir, log: silentLog })
  const nc = await connect({ servers: nats.url })
  try {
    return await edit(await new Objm(nc).open(CHECKPOINT_BUCKET))
  } finally {
    await nc.close()
    await nats.stop()
  }
}

async function rewriteNewest(dataDir: string, change: (bytes: Uint8Array) => Uint8Array) {
  await withStore(dataDir, async (store) => {
    // The newest of all partitions' snapshots: the busy shop's, whose events were posted last.
    const lastSeq = (info: { metadata?: Record<string, string> }) => Number(info.metadata?.last_seq ?? 0)
    const newest = (await store.list()).sort((a, b) => lastSeq(b) - lastSeq(a))[0]
    const bytes = change((await store.getBlob(newest.name))!)
    await store.putBlob({ name: newest.name, metadata: newest.metadata }, bytes)
  })
  for (const f of readdirSync(`${dataDir}/checkpoints`)) rmSync(`${dataDir}/checkpoints/${f}`)
}

async function rewriteAll(dataDir: string, change: (meta: Record<string, string>) => Record<string, string>) {
  await withStore(dataDir, async (store) => {
    for (const info of await store.list()) {
      const bytes = (await store.getBlob(info.name))!
      await store.putBlob({ name: info.name, metadata: change(info.metadata ?? {}) }, bytes)
    }
  })
}
