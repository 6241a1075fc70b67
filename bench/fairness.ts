// `npm run bench:fairness` (not part of npm test): how much one tenant's heavy use slows another's
// KPI requests. The app runs as its own process (app/start.ts, fresh DATA_DIR, its own nats-server
// and chDB), so the load generator here does not share the app's event loop. Two tenants get a few
// thousand events of history; tenant B's `GET /v1/metrics/kpis` latency (p50/p95 over 50 requests,
// one at a time, each a cache miss) is measured idle, then while tenant A runs, all at once:
//   - one WebSocket subscribing 100 distinct wide dashboard:profit topics (60 over 700 days, 40 over
//     10,000 days: partly refused now), A posting a few events every 250 ms so they recompute;
//   - 16 wide dashboard reads in flight at all times (profit over 700 days; every fourth over
//     10,000 days, refused 400); a refused one (400, 429) is retried after a second, as a client should;
//   - 2 heavy analyst queries in flight at all times (POST /v1/sql).
// It prints B's latencies, the ratio under load ÷ idle (target: within 2×), what A was answered,
// and the machine, revision and load average for bench/README.md. `--load ws,http,sql` runs only
// the parts named (default all three), to see what each one costs B; `--profile <dir>` has the app
// write a CPU profile there.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import WebSocket from 'ws'
import { codeRevision, loadAverage, machineLine } from './machine.ts'

const ADMIN_TOKEN = 'bench-admin-token-0123456789'
const DAY = 86_400_000
const MINUTE = 60_000
const SAMPLES = 50
const root = resolve(import.meta.dirname, '..')
const iso = (ms: number) => new Date(ms).toISOString()

async function startApp(dataDir: string): Promise<{ url: string; child: ChildProcess }> {
  const env = { ...process.env, DATA_DIR: dataDir, PORT: '0', DEMO: '0', ADMIN_TOKEN, NATS_URL: '', CLICKHOUSE_URL: '' }
  const stdio: ['ignore', 'pipe', 'pipe'] = ['ignore', 'pipe', 'pipe']
  // `--profile <dir>`: the app writes a V8 CPU profile there when it stops (open it in Chrome's DevTools).
  const at = process.argv.indexOf('--profile')
  const profile = at > 0 ? ['--cpu-prof', `--cpu-prof-dir=${resolve(process.argv[at + 1])}`] : []
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', 'app/start.ts'], { cwd: root, env, stdio })
  let output = ''
  child.stderr!.on('data', (d) => (output += d))
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`the app did not start in 120 s:\n${output}`)), 120_000)
    child.stdout!.on('data', (d) => {
      output += d
      const match = /Pulse is running at (http:\/\/[^\s"]+)/.exec(output)
      if (match) clearTimeout(timer), resolveUrl(match[1])
    })
    child.once('exit', (code) => reject(new Error(`the app exited with ${code}:\n${output}`)))
  })
  return { url, child }
}

async function createTenant(url: string, id: string): Promise<string> {
  const res = await fetch(`${url}/v1/admin/tenants`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ id, name: id, timezone: 'UTC', currency: 'USD' }),
  })
  if (res.status !== 201) throw new Error(`tenant ${id} not created: ${res.status} ${await res.text()}`)
  return ((await res.json()) as { api_key: string }).api_key
}

/** n orders spread evenly over [from, to), on four channels, every tenth with a campaign's ad spend. */
function history(prefix: string, n: number, from: number, to: number): unknown[] {
  const events: unknown[] = []
  for (let i = 0; i < n; i++) {
    const ts = iso(from + Math.floor(((to - from) * i) / n))
    const channel = ['organic', 'google', 'meta', 'email'][i % 4]
    const cents = 1_000 + ((i * 7_919) % 20_000)
    const money = (c: number) => (c / 100).toFixed(2)
    events.push({
      type: 'order.created',
      id: `${prefix}-o${i}`,
      ts,
      source: 'shopify',
      order_id: `${prefix}-${i}`,
      customer_id: `c${i % 500}`,
      channel,
      total: money(cents),
      subtotal: money(cents),
      discounts: '0.00',
      tax: '0.00',
      shipping: '0.00',
      items: [{ sku: `sku-${i % 50}`, quantity: 1, price: money(cents) }],
    })
    if (i % 10 === 0) {
      const hour = Date.parse(ts) - (Date.parse(ts) % 3_600_000)
      events.push({
        type: 'ad.spend',
        id: `${prefix}-a${i}`,
        ts: iso(hour),
        source: 'google-ads',
        platform: 'google',
        campaign_id: `cmp-${i % 8}`,
        period: 'hour',
        spend: money(cents / 4),
        clicks: 10,
        reported_at: ts,
      })
    }
  }
  return events
}

async function post(url: string, key: string, events: unknown[]): Promise<void> {
  for (let i = 0; i < events.length; i += 5_000) {
    const body = JSON.stringify(events.slice(i, i + 5_000))
    const res = await fetch(`${url}/v1/events`, { method: 'POST', headers: jsonHeaders(key), body })
    if (res.status !== 202) throw new Error(`events answered ${res.status}: ${(await res.text()).slice(0, 300)}`)
  }
}

const jsonHeaders = (key: string) => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' })
const get = (url: string, key: string, path: string) =>
  fetch(`${url}${path}`, { headers: { authorization: `Bearer ${key}` } })

/** B's KPI answers, one at a time; each `from` a minute apart, so none is a cache hit. */
async function measureB(url: string, key: string, range: { from: number; to: number }, orders: number, round: number) {
  const times: number[] = []
  for (let i = 0; i < SAMPLES; i++) {
    const from = range.from - (round * SAMPLES + i + 1) * MINUTE
    const t0 = performance.now()
    const res = await get(url, key, `/v1/metrics/kpis?from=${iso(from)}&to=${iso(range.to)}`)
    const body = (await res.json()) as { orders?: number }
    times.push(performance.now() - t0)
    if (res.status !== 200 || body.orders !== orders) {
      throw new Error(`B's KPIs wrong: ${res.status} ${JSON.stringify(body).slice(0, 300)}`)
    }
  }
  return times.sort((a, b) => a - b)
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]

/** Tenant A's heavy load until stopped; returns what A was answered. */
function heavyLoad(url: string, key: string, now: number, parts: string[]) {
  const answers: Record<string, number> = {}
  const count = (what: string) => (answers[what] = (answers[what] ?? 0) + 1)
  let running = true
  const loops: Promise<void>[] = []

  const liveUrl = `${url.replace('http', 'ws')}/v1/live`
  const ws = parts.includes('ws') ? new WebSocket(liveUrl, { headers: jsonHeaders(key) }) : undefined
  ws?.on('message', (data) => {
    const m = JSON.parse(data.toString()) as { type: string; code?: string }
    count(m.type === 'error' ? `ws error ${m.code}` : `ws ${m.type}`)
  })
  ws?.on('error', () => count('ws socket error'))
  ws?.once('open', () => {
    const topics = Array.from({ length: 100 }, (_, i) => {
      const days = i < 60 ? 700 : 10_000
      const from = encodeURIComponent(iso(now - days * DAY - i * MINUTE))
      return `dashboard:profit?from=${from}&to=${encodeURIComponent(iso(now))}`
    })
    ws!.send(JSON.stringify({ op: 'subscribe', topics }))
  })

  // A keeps changing, so its watched topics are recomputed.
  loops.push(
    (async () => {
      for (let i = 0; running; i++) {
        await post(url, key, history(`live${i}`, 5, now - MINUTE, now)).catch(() => count('events failed'))
        await sleep(250)
      }
    })(),
  )
  for (let slot = 0; slot < (parts.includes('http') ? 16 : 0); slot++) {
    loops.push(
      (async () => {
        for (let i = 0; running; i++) {
          const days = slot % 4 === 3 ? 10_000 : 700
          const from = iso(now - days * DAY - (slot * 1000 + i) * MINUTE)
          const res = await get(url, key, `/v1/dashboards/profit?from=${from}&to=${iso(now)}`)
          await res.arrayBuffer()
          count(`dashboard ${res.status}`)
          // As a client should: a refusal is not retried at once (a 429 or 400 costs the app little,
          // but a thousand a second would).
          if (res.status !== 200) await sleep(1_000)
        }
      })(),
    )
  }
  const heavySql =
    'SELECT sum(length(arrayStringConcat(arrayMap(x -> toString(x * length(raw)), range(3000))))) ' + 'FROM events'
  for (let slot = 0; slot < (parts.includes('sql') ? 2 : 0); slot++) {
    loops.push(
      (async () => {
        while (running) {
          const body = JSON.stringify({ query: heavySql, timeout_seconds: 10 })
          const res = await fetch(`${url}/v1/sql`, { method: 'POST', headers: jsonHeaders(key), body })
          const text = await res.text()
          count(`sql ${res.status}${res.status === 200 ? '' : ` ${text.slice(0, 80)}`}`)
          if (res.status !== 200) await sleep(1_000)
        }
      })(),
    )
  }
  return {
    answers,
    async stop() {
      running = false
      await Promise.all(loops)
      ws?.terminate()
    },
  }
}

console.log(`code ${codeRevision()}`)
console.log(machineLine())

const dataDir = mkdtempSync(join(tmpdir(), 'pulse-bench-fairness-'))
let app: { url: string; child: ChildProcess } | undefined
try {
  app = await startApp(dataDir)
  const { url } = app
  const [keyA, keyB] = [await createTenant(url, 'heavy'), await createTenant(url, 'quiet')]
  const now = Math.floor(Date.now() / MINUTE) * MINUTE
  const rangeB = { from: now - 30 * DAY, to: now }
  await post(url, keyA, history('a', 5_000, now - 730 * DAY, now - MINUTE))
  await post(url, keyB, history('b', 2_000, rangeB.from, now - MINUTE))
  // Ready once B's KPIs count every order.
  for (let t = Date.now(); ; await sleep(200)) {
    const res = await get(url, keyB, `/v1/metrics/kpis?from=${iso(rangeB.from)}&to=${iso(now)}`)
    const body = (await res.json()) as { orders?: number }
    if (body.orders === 2_000) break
    if (Date.now() - t > 120_000) throw new Error(`B's orders never reached 2000: ${JSON.stringify(body)}`)
  }
  console.log(`history: A 5,000 orders over 730 days, B 2,000 orders over 30 days`)

  await measureB(url, keyB, rangeB, 2_000, 2) // warm-up: the first answers compile and fill caches
  const idle = await measureB(url, keyB, rangeB, 2_000, 0)
  const parts = (process.argv[process.argv.indexOf('--load') + 1] ?? '').split(',')
  const chosen = process.argv.includes('--load') ? parts : ['ws', 'http', 'sql']
  console.log(`A's load: ${chosen.join(', ')}`)
  const heavy = heavyLoad(url, keyA, now, chosen)
  await sleep(3_000) // the load in full swing before measuring
  const busy = await measureB(url, keyB, rangeB, 2_000, 1)
  await heavy.stop()

  const ms = (x: number) => `${x.toFixed(1).padStart(7)} ms`
  const line = (label: string, t: number[]) =>
    console.log(`  ${label.padEnd(26)} p50 ${ms(pct(t, 50))}   p95 ${ms(pct(t, 95))}   max ${ms(t.at(-1)!)}`)
  console.log(`tenant B, GET /v1/metrics/kpis (30 days), ${SAMPLES} requests one at a time:`)
  line('idle', idle)
  line("under A's heavy load", busy)
  const ratio = (p: number) => `${(pct(busy, p) / pct(idle, p)).toFixed(2)}×`
  console.log(`  ratio under load ÷ idle: p50 ${ratio(50)}, p95 ${ratio(95)} (target ≤ 2×)`)
  console.log(
    `tenant A was answered: ${Object.entries(heavy.answers)
      .sort()
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ')}`,
  )
  console.log(`load average at the end ${loadAverage()}`)
} finally {
  if (app) {
    const exited = new Promise((r) => app!.child.once('exit', r))
    app.child.kill('SIGTERM')
    await exited
  }
  rmSync(dataDir, { recursive: true, force: true })
}
