// Event → alert push latency: from the 202 of POST /v1/events (every event PubAcked) to the
// `alerts` topic update that carries the alert the event caused, on a WebSocket client of the
// real app (its own nats-server and embedded chDB, in this process). Each round posts one
// ad.spend statement for a new campaign with no revenue, which a costly-campaign rule (ROAS
// floor 1 once 1.00 is spent) turns into a new firing alert; rounds run one after another so
// each latency is one event's. Optional `--background <events/s>` streams orders to another
// tenant meanwhile. Prints p50 / p90 / p99 / max, and beside them the building block measured in
// the same rounds: the same event's `kpis` topic update on the same socket (the live push without
// alert evaluation; its ad spend moves by 10.00 each round), with the ratio of the two. With `--memory` (run under
// --expose-gc) it
// first measures the rolling aggregate alone: heap for one tenant with a bin every minute over
// the default rules' horizon (7 days + 1 h), and the cost of the reads an evaluation makes.
//
//   node --import tsx bench/alerts.ts [--rounds 200] [--background 0]
//   node --expose-gc --import tsx bench/alerts.ts --memory
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import WebSocket from 'ws'
import { loadConfig } from '../app/config.ts'
import { type Pulse, startPulse } from '../app/main.ts'
import { createAlertAggregate } from '../alerts/aggregate.ts'
import { horizonMs, defaultRules } from '../alerts/rules.ts'
import { createLogger } from '../common/log.ts'
import { measuresOf } from '../stream/measures.ts'
import { flagValue } from './kernel.ts'

const T = Date.UTC(2026, 2, 2, 10, 0)
/** The KPI topic over the day the rounds' statements fall in (the default range is today). */
const KPIS = `kpis?from=${new Date(T - 36_000_000).toISOString()}&to=${new Date(T + 50_400_000).toISOString()}`

async function json(url: string, token: string, method: string, body?: unknown): Promise<any> {
  const res = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  if (res.status >= 300) throw new Error(`${method} ${url}: ${res.status} ${await res.text()}`)
  return res.json()
}

/** A dense tenant: an order (one of 4 campaigns) and a spend statement (one of 4) every minute of the horizon. */
function measureAggregate(): void {
  const gc = (globalThis as { gc?: () => void }).gc
  if (!gc) throw new Error('--memory needs node --expose-gc')
  const DAY = 86_400_000
  const horizon = horizonMs(defaultRules())
  gc()
  const before = process.memoryUsage().heapUsed
  const agg = createAlertAggregate({ horizonMs: () => horizon })
  const minutes = horizon / 60_000
  for (let i = 0; i < minutes; i++) {
    const minute = T + i * 60_000
    agg.add({ id: 't' }, [
      {
        minute,
        source: 'shopify',
        channel: 'facebook',
        campaign_id: `c${i % 4}`,
        values: measuresOf({ gmv: 1000, orders: 1, subtotal: 900, cogs: 400, attributed_revenue: 1000 }),
      },
      { minute, source: 'meta_ads', channel: 'google', campaign_id: `g${i % 4}`, values: measuresOf({ ad_spend: 50 }) },
    ])
  }
  gc()
  const bytes = process.memoryUsage().heapUsed - before
  const end = T + horizon
  const time = (what: string, read: () => unknown) => {
    const t0 = performance.now()
    for (let k = 0; k < 200; k++) read()
    console.log(`  ${what}: ${(((performance.now() - t0) / 200) * 1000).toFixed(0)} µs`)
  }
  console.log(
    `aggregate: ${agg.binCount('t')} minute bins (horizon ${horizon / 3_600_000} h), ` +
      `heap ${(bytes / 1e6).toFixed(2)} MB, ${Math.round(bytes / agg.binCount('t'))} B a bin`,
  )
  time('spend spike read (60-min window + 7 previous days)', () =>
    [0, 1, 2, 3, 4, 5, 6, 7].map((d) =>
      agg.adSpend('t', end - d * DAY - 3_600_000, end - d * DAY, { channel: 'google' }),
    ),
  )
  time('margin read (60-min window)', () => agg.sum('t', end - 3_600_000, end))
  time('campaign ROAS read (1,440-min window)', () => agg.byCampaign('t', end - DAY, end))
}

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]

export async function runAlertsBench(argv: string[] = []): Promise<void> {
  if (argv.includes('--memory')) measureAggregate()
  const rounds = Number(flagValue(argv, '--rounds') ?? 200)
  const background = Number(flagValue(argv, '--background') ?? 0)
  const dataDir = mkdtempSync(join(tmpdir(), 'pulse-bench-alerts-'))
  const adminToken = randomBytes(24).toString('base64url')
  let pulse: Pulse | undefined
  let ws: WebSocket | undefined
  let loadTimer: NodeJS.Timeout | undefined
  try {
    pulse = await startPulse(loadConfig({ DATA_DIR: dataDir, PORT: '0', ADMIN_TOKEN: adminToken, DEMO: '0' }), {
      log: createLogger('silent'),
    })
    const tenant = async (id: string) =>
      (
        await json(`${pulse!.url}/v1/admin/tenants`, adminToken, 'POST', {
          id,
          name: id,
          timezone: 'UTC',
          currency: 'USD',
        })
      ).api_key as string
    const key = await tenant('bench-alerts')
    await json(`${pulse.url}/v1/alerts/rules`, key, 'POST', {
      id: 'costly',
      kind: 'campaign_roas',
      floor: 1,
      min_spend: '1.00',
      hysteresis: 0,
      cooldown_minutes: 0,
      window_minutes: 1440,
    })

    // Arrival times by key: a campaign's first alert, and `kpis:<ad spend>` for the KPI updates.
    const seen = new Map<string, number>()
    const waiters = new Map<string, () => void>()
    const arrived = (key: string, at: number) => {
      if (seen.has(key)) return
      seen.set(key, at)
      waiters.get(key)?.()
    }
    ws = new WebSocket(`${pulse.url.replace('http', 'ws')}/v1/live`, { headers: { authorization: `Bearer ${key}` } })
    ws.on('message', (data) => {
      const at = performance.now()
      const m = JSON.parse(data.toString())
      if (m.topic === KPIS && m.data) arrived(`kpis:${m.data.ad_spend}`, at)
      if (m.topic === 'alerts' && Array.isArray(m.data)) for (const a of m.data) arrived(a.subject, at)
    })
    await new Promise<void>((resolve, reject) => (ws!.once('open', () => resolve()), ws!.once('error', reject)))
    ws.send(JSON.stringify({ op: 'subscribe', topics: ['alerts', KPIS] }))
    const until = (key: string) =>
      new Promise<void>((resolve) => (seen.has(key) ? resolve() : waiters.set(key, resolve)))

    if (background > 0) {
      const other = await tenant('bench-load')
      let n = 0
      // Ten batches a second: each a tenth of the rate, orders across the day.
      loadTimer = setInterval(() => {
        const batch = Array.from({ length: Math.max(1, Math.round(background / 10)) }, () => ({
          id: `bg-${n}`,
          type: 'order.created',
          ts: T + (n % 1440) * 60_000,
          source: 'shopify',
          order_id: `bg-${n++}`,
          total: '10.00',
          subtotal: '10.00',
          channel: 'google',
          campaign_id: 'bg',
        }))
        void json(`${pulse!.url}/v1/events`, other, 'POST', batch).catch(() => {})
      }, 100)
    }

    const alertLatencies: number[] = []
    const kpiLatencies: number[] = []
    for (let i = 0; i < rounds; i++) {
      const campaign = `b-${i}`
      const spendAfter = `kpis:${((i + 1) * 10).toFixed(2)}`
      const event = {
        id: `s-${i}`,
        type: 'ad.spend',
        ts: T + i * 1000,
        source: 'meta_ads',
        platform: 'facebook',
        campaign_id: campaign,
        spend: '10.00',
      }
      await json(`${pulse.url}/v1/events`, key, 'POST', [event])
      const accepted = performance.now()
      await Promise.all([until(campaign), until(spendAfter)])
      alertLatencies.push(Math.max(0, seen.get(campaign)! - accepted))
      kpiLatencies.push(Math.max(0, seen.get(spendAfter)! - accepted))
      waiters.clear()
    }
    const ms = (x: number) => `${x.toFixed(1)} ms`
    const line = (what: string, latencies: number[]) => {
      const sorted = [...latencies].sort((a, b) => a - b)
      console.log(
        `  202 of POST /v1/events → ${what}: p50 ${ms(pct(sorted, 50))}, p90 ${ms(pct(sorted, 90))}, ` +
          `p99 ${ms(pct(sorted, 99))}, max ${ms(sorted.at(-1)!)}`,
      )
      return sorted
    }
    console.log(`alerts: ${rounds} rounds, background ${background} events/s`)
    const alerts = line('alerts topic update', alertLatencies)
    const kpis = line('kpis topic update (baseline)', kpiLatencies)
    console.log(
      `  ratio alerts ÷ kpis: p50 ${(pct(alerts, 50) / pct(kpis, 50)).toFixed(3)}, ` +
        `p99 ${(pct(alerts, 99) / pct(kpis, 99)).toFixed(3)}`,
    )
  } finally {
    if (loadTimer) clearInterval(loadTimer)
    ws?.close()
    await pulse?.stop()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await runAlertsBench(process.argv.slice(2))
