// `npm run bench:checkpoints` (not part of npm test): what a checkpoint buys a restart, and what it costs.
//
//   node --import tsx bench/checkpoints.ts [--sizes 10000,100000,1000000] [--customers 1000000]
//
// 1. The stream state alone, in this process (stream/ and alerts/ imported directly, no app): one
//    tenant with `--customers` customers and one order each (a year of orders, each received at its
//    own time, so the dedup memory holds what a 7-day horizon holds), the processor and alerting's
//    rolling aggregate as the app's state has them. Timed: `writeSnapshot` of that state to a file,
//    then `loadSnapshot` of the file into a fresh state; the file's bytes; the longest event-loop
//    stall during each (`monitorEventLoopDelay` at 1 ms resolution; the target is no stall over
//    50 ms while a checkpoint is taken) and the longest GC pause meanwhile. `--customers 0` skips it.
// 2. The real app as a child process (app/start.ts, fresh DATA_DIR, its own nats-server and chDB,
//    CHECKPOINT_INTERVAL_SECONDS=0 so only requested checkpoints are taken), for each history size N
//    of `--sizes` (multiples of 10): a tenant gets N events through POST /v1/events (batches of
//    2,000, 4 in flight): 50 % orders over N/4 customers (two each), 10 % refunds, 40 % shopper
//    events, over the last 365 days; ready once the KPIs count every order. Then:
//    a. SIGTERM, start again: the restart time without a checkpoint (spawn → "Pulse is running"),
//       and `replayed` from the start-up log line (must be N);
//    b. POST /v1/admin/checkpoints: its bytes and how long the request took (it lands what is
//       applied, rebuilds a second copy of the state from pulse.events, all N events for a first
//       checkpoint, writes it and uploads it to the object store), while a probe sends a cheap
//       request (a 401) every 10 ms: the slowest answer bounds the app's event-loop stall;
//    c. 100 more orders, then a second checkpoint: the steady-state cost (load the first snapshot,
//       replay the 100, write, upload);
//    d. SIGTERM, start again: the restart time with the snapshot (`replayed` must be 0), and the
//       KPIs still count every order.
// It prints the code revision, the machine and its load average, then markdown tables for
// bench/README.md.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { PerformanceObserver, monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { createAlertAggregate, defaultRules, horizonMs } from '../alerts/index.ts'
import { event as eventSchema } from '../common/events.ts'
import { STATE_FORMAT, createProcessor, loadSnapshot, writeSnapshot } from '../stream/index.ts'
import { loadAverage, machineLine } from './machine.ts'

const ADMIN_TOKEN = 'bench-admin-token-0123456789'
const DAY = 86_400_000
const YEAR = 365 * DAY
const BATCH = 2_000
const IN_FLIGHT = 4
const TAIL = 100
const root = resolve(import.meta.dirname, '..')
const iso = (ms: number) => new Date(ms).toISOString()

const argv = process.argv.slice(2)
const flag = (name: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined)
const SIZES = (flag('--sizes') ?? '10000,100000,1000000').split(',').filter(Boolean).map(Number)
const CUSTOMERS = Number(flag('--customers') ?? 1_000_000)
if (SIZES.some((n) => !Number.isInteger(n) || n < 10 || n % 10 !== 0))
  throw new Error(`--sizes: multiples of 10, got ${SIZES.join(',')}`)

const fmt = (n: number) => Math.round(n).toLocaleString('en')
const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`

/** Only `git rev-parse` (read-only): other sessions work in this tree at the same time. */
function revision(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim()
  } catch {
    return 'not a git checkout'
  }
}

// ---- Event-loop stalls and GC pauses over a stretch of work ----

function watchLoop() {
  const delay = monitorEventLoopDelay({ resolution: 1 })
  let gcMax = 0
  const gc = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcMax = Math.max(gcMax, entry.duration)
  })
  gc.observe({ entryTypes: ['gc'] })
  delay.enable()
  return () => {
    delay.disable()
    gc.disconnect()
    // The histogram's figures are the delay beyond the 1 ms timer, in ns.
    return { maxMs: delay.max / 1e6, p99Ms: delay.percentile(99) / 1e6, gcMaxMs: gcMax }
  }
}

// ---- 1. Write and load a snapshot of a state of `customers` customers, in this process ----

async function stateBench(customers: number) {
  const tenant = { id: 'shop', timezone: 'Asia/Kolkata', currency: 'INR' }
  const newState = () => {
    const processor = createProcessor({ dedupHorizonMs: 168 * 3_600_000, latenessMs: 300_000 })
    const horizon = horizonMs(defaultRules())
    const alerts = createAlertAggregate({ horizonMs: () => horizon })
    return { processor, alerts, sections: { processor, alerts } }
  }
  const state = newState()
  const now = Date.parse('2026-11-01T00:00:00Z')
  const started = performance.now()
  for (let c = 0; c < customers; c++) {
    const ts = now - YEAR + Math.floor((c * YEAR) / customers)
    const cents = 500 + ((c * 7_919) % 25_000)
    const money = (x: number) => (x / 100).toFixed(2)
    const order = eventSchema.parse({
      type: 'order.created',
      id: `evt-${c}`,
      ts,
      source: 'shopify',
      order_id: `${5_000_000_000_000 + c}`,
      customer_id: `cust-${c.toString(36)}`,
      total: money(cents + 1_800),
      subtotal: money(cents),
      tax: '18.00',
      items: [
        { sku: `sku-${c % 500}`, category: ['apparel', 'beauty', 'sports'][c % 3], quantity: 1, price: money(cents) },
      ],
      channel: ['facebook', 'google', 'organic'][c % 3],
      location: { city: ['Mumbai', 'Delhi', 'Pune'][c % 3] },
    })
    const outcome = state.processor.apply(tenant, order, { receivedAt: ts + 1_000 })
    if (outcome.kind === 'applied') state.alerts.add(tenant, outcome.deltas)
  }
  const applyMs = performance.now() - started
  if (state.processor.customers(tenant.id).size() !== customers) throw new Error('state incomplete')
  console.log(`state: ${fmt(customers)} customers with one order each, applied in ${sec(applyMs)}`)

  const dir = mkdtempSync(join(tmpdir(), 'pulse-bench-snapshot-'))
  try {
    const file = join(dir, 'state.snap')
    const header = {
      format: STATE_FORMAT,
      scope: 'p0',
      last_seq: customers,
      history: 'bench',
      created_at: new Date().toISOString(),
    }
    let watch = watchLoop()
    let t0 = performance.now()
    const written = await writeSnapshot(file, header, state.sections)
    const writeMs = performance.now() - t0
    const writeLoop = watch()

    const fresh = newState()
    watch = watchLoop()
    t0 = performance.now()
    await loadSnapshot(file, fresh.sections)
    const loadMs = performance.now() - t0
    const loadLoop = watch()
    const loaded = fresh.processor.customers(tenant.id).size()
    const orders = fresh.processor.orders(tenant.id).size
    if (loaded !== customers || orders !== customers)
      throw new Error(`loaded ${loaded} customers and ${orders} orders, expected ${customers}`)
    const bytes = statSync(file).size
    return { customers, bytes, records: written.records, writeMs, writeLoop, loadMs, loadLoop }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

// ---- 2. The app as a child process ----

interface App {
  url: string
  child: ChildProcess
  output: () => string
  startMs: number
}

/** Apps started and not yet exited: killed if the bench itself fails. */
const running = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

async function startApp(dataDir: string): Promise<App> {
  const env = {
    ...process.env,
    DATA_DIR: dataDir,
    PORT: '0',
    DEMO: '0',
    ADMIN_TOKEN,
    NATS_URL: '',
    CLICKHOUSE_URL: '',
    CHECKPOINT_INTERVAL_SECONDS: '0',
  }
  const t0 = performance.now()
  const child = spawn(process.execPath, ['--import', 'tsx', 'app/start.ts'], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  running.add(child)
  child.once('exit', () => running.delete(child))
  let output = ''
  child.stdout!.on('data', (d) => (output += d))
  child.stderr!.on('data', (d) => (output += d))
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the app did not start in 900 s:\n${output.slice(-5000)}`)),
      900_000,
    )
    child.stdout!.on('data', () => {
      const match = /Pulse is running at (http:\/\/[^\s"]+)/.exec(output)
      if (match) clearTimeout(timer), resolveUrl(match[1])
    })
    child.once('exit', (code) => reject(new Error(`the app exited with ${code}:\n${output.slice(-5000)}`)))
  })
  return { url, child, output: () => output, startMs: performance.now() - t0 }
}

/** SIGTERM and wait for the exit; returns how long the app took to stop. */
async function stopApp(app: App): Promise<number> {
  if (app.child.exitCode !== null || app.child.signalCode !== null) return 0
  const exited = new Promise((r) => app.child.once('exit', r))
  const t0 = performance.now()
  app.child.kill('SIGTERM')
  await exited
  return performance.now() - t0
}

/** The start-up line saying what was loaded and replayed. */
function recoveryLine(app: App): { replayed: number; snapshot_flush?: number } {
  const line = app
    .output()
    .split('\n')
    .filter((l) => l.includes('"replayed"') && !l.includes('checkpoint taken'))
    .at(-1)
  return JSON.parse(line ?? '{"replayed":-1}')
}

const auth = (key: string) => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' })

async function createTenant(url: string, id: string): Promise<string> {
  const res = await fetch(`${url}/v1/admin/tenants`, {
    method: 'POST',
    headers: auth(ADMIN_TOKEN),
    body: JSON.stringify({ id, name: id, timezone: 'UTC', currency: 'USD' }),
  })
  if (res.status !== 201) throw new Error(`tenant ${id} not created: ${res.status} ${await res.text()}`)
  return ((await res.json()) as { api_key: string }).api_key
}

const SHOPPER = ['product.viewed', 'product.viewed', 'cart.added', 'checkout.started']
const CATEGORIES = ['apparel', 'beauty', 'electronics', 'footwear', 'groceries', 'sports']

/**
 * Event i of a history of n (a multiple of 10) ending at `now`: in every ten, orders at 0–3 and 9,
 * a refund of the block's first order at 4, shopper events at 5–8; n/2 orders over n/4 customers,
 * so the last event is an order. Times rise with i over the year before `now`.
 */
function eventAt(i: number, n: number, now: number): unknown {
  const customers = Math.max(1, n / 4)
  const block = Math.floor(i / 10)
  const slot = i % 10
  const ts = iso(now - YEAR + Math.floor((i * YEAR) / n))
  const money = (cents: number) => (cents / 100).toFixed(2)
  if (slot <= 3 || slot === 9) {
    const o = block * 5 + (slot === 9 ? 4 : slot)
    const cents = 1_000 + ((o * 7_919) % 20_000)
    return {
      type: 'order.created',
      id: `e-${i}`,
      ts,
      source: 'shopify',
      order_id: `o-${o}`,
      customer_id: `c-${o % customers}`,
      total: money(cents + 500),
      subtotal: money(cents),
      tax: '5.00',
      channel: ['organic', 'google', 'facebook', 'email'][o % 4],
      location: { city: ['Berlin', 'Hamburg', 'Munich'][o % 3] },
      items: [{ sku: `sku-${o % 200}`, category: CATEGORIES[o % 6], quantity: 1, price: money(cents) }],
    }
  }
  if (slot === 4)
    return {
      type: 'refund.created',
      id: `e-${i}`,
      ts,
      source: 'shopify',
      order_id: `o-${block * 5}`,
      refund_id: `r-${block}`,
      amount: '5.00',
    }
  const k = block * 4 + slot - 5
  return {
    type: SHOPPER[slot - 5],
    id: `e-${i}`,
    ts,
    source: 'web',
    customer_id: `c-${(k * 13) % customers}`,
    product_id: `p-${k % 500}`,
    category: CATEGORIES[k % 6],
  }
}

async function postEvents(url: string, key: string, count: number, at: (i: number) => unknown): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < count) {
      const from = next
      next = Math.min(count, next + BATCH)
      const body = JSON.stringify(Array.from({ length: next - from }, (_, j) => at(from + j)))
      const res = await fetch(`${url}/v1/events`, { method: 'POST', headers: auth(key), body })
      if (res.status !== 202) throw new Error(`events answered ${res.status}: ${(await res.text()).slice(0, 300)}`)
      await res.arrayBuffer()
    }
  }
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker))
}

async function kpiOrders(url: string, key: string, range: string): Promise<number | undefined> {
  const res = await fetch(`${url}/v1/metrics/kpis?${range}`, { headers: auth(key) })
  if (res.status !== 200) return undefined
  return ((await res.json()) as { orders?: number }).orders
}

async function waitForOrders(url: string, key: string, range: string, orders: number, timeoutMs = 900_000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const seen = await kpiOrders(url, key, range).catch(() => undefined)
    if (seen === orders) return
    if (Date.now() > deadline) throw new Error(`the KPIs count ${seen} orders, not ${orders}`)
    await sleep(250)
  }
}

interface Checkpoint {
  taken: boolean
  bytes?: number
  replayed?: number
}

/** POST /v1/admin/checkpoints, with a probe: a cheap request (a 401) every 10 ms, its slowest answer. */
async function checkpoint(url: string): Promise<Checkpoint & { ms: number; probeMaxMs: number }> {
  let probing = true
  let probeMaxMs = 0
  await (await fetch(`${url}/v1/metrics/kpis`)).arrayBuffer() // warm: the first request of a connection is slower
  const probe = (async () => {
    while (probing) {
      const t0 = performance.now()
      // A socket the server closed after its keep-alive can fail a request: not a stall, ask again.
      const ok = await fetch(`${url}/v1/metrics/kpis`)
        .then((res) => res.arrayBuffer())
        .catch(() => undefined)
      if (ok) probeMaxMs = Math.max(probeMaxMs, performance.now() - t0)
      await sleep(10)
    }
  })()
  const t0 = performance.now()
  const res = await fetch(`${url}/v1/admin/checkpoints`, { method: 'POST', headers: auth(ADMIN_TOKEN) })
  const body = (await res.json()) as Checkpoint
  const ms = performance.now() - t0
  probing = false
  await probe
  if (res.status !== 200 || !body.taken) throw new Error(`checkpoint answered ${res.status} ${JSON.stringify(body)}`)
  return { ...body, ms, probeMaxMs }
}

async function historyBench(n: number) {
  const dataDir = mkdtempSync(join(tmpdir(), 'pulse-bench-checkpoints-'))
  let app: App | undefined
  try {
    const now = Math.floor(Date.now() / 60_000) * 60_000
    const range = `from=${iso(now - YEAR - DAY)}&to=${iso(now)}`
    app = await startApp(dataDir)
    const firstStartMs = app.startMs
    const key = await createTenant(app.url, 'shop')
    let t0 = performance.now()
    await postEvents(app.url, key, n, (i) => eventAt(i, n, now))
    await waitForOrders(app.url, key, range, n / 2)
    const ingestMs = performance.now() - t0
    console.log(`  N = ${fmt(n)}: posted and applied in ${sec(ingestMs)} (${fmt(n / (ingestMs / 1000))} events/s)`)

    const stop1Ms = await stopApp(app)
    app = await startApp(dataDir)
    const cold = { ms: app.startMs, ...recoveryLine(app) }
    await waitForOrders(app.url, key, range, n / 2, 60_000)
    console.log(`    restart without a checkpoint ${sec(cold.ms)}, replayed ${fmt(cold.replayed)}`)

    const first = await checkpoint(app.url)
    console.log(`    checkpoint ${mb(first.bytes!)} in ${sec(first.ms)} (replayed ${fmt(first.replayed!)})`)
    t0 = performance.now()
    // A tail of new orders of existing customers, a minute before `now`: the next checkpoint builds on the first.
    await postEvents(app.url, key, TAIL, (i) => ({
      ...(eventAt(i * 10, n, now) as object),
      id: `tail-${i}`,
      order_id: `tail-${i}`,
      ts: iso(now - 60_000),
    }))
    await waitForOrders(app.url, key, range, n / 2 + TAIL, 60_000)
    const second = await checkpoint(app.url)
    console.log(`    next checkpoint ${mb(second.bytes!)} in ${sec(second.ms)} (replayed ${fmt(second.replayed!)})`)

    const stop2Ms = await stopApp(app)
    app = await startApp(dataDir)
    const warm = { ms: app.startMs, ...recoveryLine(app) }
    await waitForOrders(app.url, key, range, n / 2 + TAIL, 60_000)
    console.log(`    restart with the checkpoint ${sec(warm.ms)}, replayed ${fmt(warm.replayed)}`)
    return { n, firstStartMs, ingestMs, stop1Ms, stop2Ms, cold, warm, first, second }
  } finally {
    if (app) await stopApp(app)
    rmSync(dataDir, { recursive: true, force: true })
  }
}

// ---- Run and report ----

console.log(`code ${revision()}`)
console.log(machineLine())
console.log(`sizes ${SIZES.map(fmt).join(', ')}; in-process state ${fmt(CUSTOMERS)} customers\n`)

const state = CUSTOMERS > 0 ? await stateBench(CUSTOMERS) : undefined
if (state) {
  const { writeLoop: w, loadLoop: l } = state
  console.log(`\n| ${fmt(state.customers)} customers, one order each | write | load |`)
  console.log('|---|---|---|')
  console.log(`| time | ${sec(state.writeMs)} | ${sec(state.loadMs)} |`)
  console.log(
    `| file | ${mb(state.bytes)}, ${fmt(state.records)} records, ${fmt(state.bytes / state.customers)} B a customer | |`,
  )
  console.log(`| longest event-loop stall (target ≤ 50 ms) | ${w.maxMs.toFixed(1)} ms | ${l.maxMs.toFixed(1)} ms |`)
  console.log(`| event-loop delay p99 | ${w.p99Ms.toFixed(1)} ms | ${l.p99Ms.toFixed(1)} ms |`)
  console.log(`| longest GC pause meanwhile | ${w.gcMaxMs.toFixed(1)} ms | ${l.gcMaxMs.toFixed(1)} ms |`)
  console.log(`load average ${loadAverage()}\n`)
}

const runs = []
for (const n of SIZES) {
  console.log(
    `history of ${fmt(n)} events (${fmt(n / 2)} orders, ${fmt(n / 4)} customers); load average ${loadAverage()}`,
  )
  runs.push(await historyBench(n))
}
if (runs.length > 0) {
  console.log(
    '\n| events | restart without checkpoint | replayed | restart with checkpoint | replayed | without ÷ with |' +
      ' snapshot | B a customer | B an order | first checkpoint (replays all) | next checkpoint (+100 orders) |' +
      ' slowest probe during checkpoints |',
  )
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|')
  for (const r of runs) {
    const cells = [
      fmt(r.n),
      sec(r.cold.ms),
      fmt(r.cold.replayed),
      sec(r.warm.ms),
      fmt(r.warm.replayed),
      `${(r.cold.ms / r.warm.ms).toFixed(2)}×`,
      mb(r.first.bytes!),
      fmt(r.first.bytes! / (r.n / 4)),
      fmt(r.first.bytes! / (r.n / 2)),
      sec(r.first.ms),
      sec(r.second.ms),
      `${Math.max(r.first.probeMaxMs, r.second.probeMaxMs).toFixed(0)} ms`,
    ]
    console.log(`| ${cells.join(' | ')} |`)
  }
  console.log('\nfirst start (empty), ingest, stop times:')
  for (const r of runs)
    console.log(
      `  ${fmt(r.n)}: first start ${sec(r.firstStartMs)}, ingest ${sec(r.ingestMs)}, ` +
        `SIGTERM → exit ${sec(r.stop1Ms)} / ${sec(r.stop2Ms)}`,
    )
}
console.log(`\nload average at the end ${loadAverage()}`)
