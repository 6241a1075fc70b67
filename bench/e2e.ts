// The whole pipeline (HTTP → JetStream → consumer → processor → ClickHouse) against the bare
// JetStream round trip it is built on, measured on the same nats-server in the same run with the
// same event bodies. The app runs in this process, so load generator and app share the 2 cores,
// as they would for any measurement on this machine.
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { pathToFileURL } from 'node:url'
import {
  AckPolicy,
  DeliverPolicy,
  StorageType,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream'
import { type NatsConnection, connect, createInbox, headers } from '@nats-io/transport-node'
import { loadConfig } from '../app/config.ts'
import { type Pulse, startPulse } from '../app/main.ts'
import { createLogger } from '../common/log.ts'
import { EVENTS_STREAM } from '../ingest/streams.ts'
import { fmt, flagValue } from './kernel.ts'
import { type Traffic, makeTraffic } from './traffic.ts'

const BATCH = 1_000
const CONCURRENT_REQUESTS = 4
const IN_FLIGHT = 1_000
/** Tenants spread over the partitions, so every stream worker thread has some of them. */
const TENANTS = 16
const WAIT_LIMIT_MS = 120_000

/**
 * One run per STREAM_WORKERS value (`--workers 1,2` by default), each on a fresh app and nats-server,
 * then their ratio: what a second worker thread adds on this machine.
 */
export async function runE2e(argv: string[] = []): Promise<void> {
  const n = Number(flagValue(argv, '--events') ?? 100_000)
  if (!Number.isInteger(n) || n < BATCH) throw new Error(`--events must be an integer ≥ ${BATCH}`)
  const counts = (flagValue(argv, '--workers') ?? '1,2').split(',').map(Number)
  const rates: number[] = []
  for (const workers of counts) rates.push(await runOnce(n, workers))
  if (counts.length > 1)
    console.log(
      `e2e events/s by STREAM_WORKERS: ${counts.map((w, i) => `${w}: ${fmt(rates[i])}`).join(', ')}; ` +
        `${counts.at(-1)} ÷ ${counts[0]} = ${(rates.at(-1)! / rates[0]).toFixed(2)}`,
    )
}

/** The whole pipeline with STREAM_WORKERS=`workers`; returns its end-to-end events/s. */
async function runOnce(n: number, workers: number): Promise<number> {
  const dataDir = mkdtempSync(join(tmpdir(), 'pulse-bench-'))
  const adminToken = randomBytes(24).toString('base64url')
  let pulse: Pulse | undefined
  let nc: NatsConnection | undefined
  try {
    // Worker threads log to stdout on their own: warnings only, so the results stay readable.
    const env = { DATA_DIR: dataDir, PORT: '0', ADMIN_TOKEN: adminToken, DEMO: '0', LOG_LEVEL: 'warn' }
    const config = loadConfig({ ...env, STREAM_WORKERS: String(workers) })
    pulse = await startPulse(config, {
      log: createLogger('info', process.stderr), // stdout is for the results
    })
    // The handle does not expose the embedded server's URL; the server file it keeps in DATA_DIR does.
    const { port } = JSON.parse(readFileSync(join(dataDir, 'nats', 'server.json'), 'utf8')) as { port: number }
    nc = await connect({ servers: `nats://127.0.0.1:${port}`, noAsyncTraces: true })
    const ids = Array.from({ length: TENANTS }, (_, i) => `bench-${i}`)
    const keys = new Map<string, string>()
    for (const id of ids) keys.set(id, await createTenant(pulse.url, adminToken, id))
    const traffic = makeTraffic(n, { tenants: ids })
    console.log(
      `e2e: ${fmt(n)} events (${fmt(traffic.orders)} orders) of ${TENANTS} tenants, batches of ${fmt(BATCH)}, ` +
        `${CONCURRENT_REQUESTS} concurrent requests, STREAM_WORKERS=${config.streamWorkers}`,
    )

    const app = await measurePipeline(pulse.url, keys, traffic, await jetstreamManager(nc))
    const bare = await measureBareJetStream(nc, traffic)
    const line = (label: string, ms: number) =>
      console.log(
        `  ${label.padEnd(52)} ${(ms / 1000).toFixed(2).padStart(6)} s ${fmt((n * 1000) / ms).padStart(9)} events/s`,
      )
    line('HTTP 202 for every batch (JetStream acked)', app.ingestedMs)
    line(`aggregated (kpis orders = ${fmt(traffic.orders)})`, app.aggregatedMs)
    line('(e) e2e: in ClickHouse, every message acked', app.flushedMs)
    line('(f) bare JetStream: pipelined publish → consume', bare)
    console.log(
      `  e2e ÷ bare = ${(bare / app.flushedMs).toFixed(4)}   (bare is ${(app.flushedMs / bare).toFixed(1)}× faster)`,
    )
    console.log(
      `  event-loop delay during e2e: p50 ${app.lag.p50.toFixed(1)} ms, p99 ${app.lag.p99.toFixed(1)} ms, ` +
        `max ${app.lag.max.toFixed(1)} ms`,
    )
    return (n * 1000) / app.flushedMs
  } finally {
    await nc?.close()
    await pulse?.stop()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

async function createTenant(url: string, adminToken: string, id: string): Promise<string> {
  const res = await fetch(`${url}/v1/admin/tenants`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ id, name: `Bench Shop ${id}`, timezone: 'UTC', currency: 'USD' }),
  })
  if (res.status !== 201) throw new Error(`tenant not created: ${res.status} ${await res.text()}`)
  return ((await res.json()) as { api_key: string }).api_key
}

async function measurePipeline(url: string, keys: Map<string, string>, traffic: Traffic, jsm: JetStreamManager) {
  const auth = (tenant: string) => ({ authorization: `Bearer ${keys.get(tenant)}` })
  // Request bodies are the load generator's work, built before the clock starts: each tenant's
  // events in order, cut into batches, the tenants' batches interleaved.
  const perTenant = new Map<string, string[]>()
  for (const e of traffic.events) perTenant.set(e.tenant, [...(perTenant.get(e.tenant) ?? []), e.body])
  const byTenant = [...perTenant].map(([tenant, bodies]) => {
    const out: { tenant: string; body: string; count: number }[] = []
    for (let i = 0; i < bodies.length; i += BATCH) {
      const slice = bodies.slice(i, i + BATCH)
      out.push({ tenant, body: `[${slice.join(',')}]`, count: slice.length })
    }
    return out
  })
  const batches: { tenant: string; body: string; count: number }[] = []
  for (let i = 0; byTenant.some((b) => b.length > i); i++) for (const b of byTenant) if (b[i]) batches.push(b[i])
  const kpisUrl =
    `${url}/v1/metrics/kpis?from=${new Date(traffic.from).toISOString()}` + `&to=${new Date(traffic.to).toISOString()}`
  const ordersOf = async (tenant: string) => {
    const res = await fetch(kpisUrl, { headers: auth(tenant) })
    if (res.status !== 200) throw new Error(`kpis answered ${res.status}: ${(await res.text()).slice(0, 500)}`)
    return ((await res.json()) as { orders: number }).orders
  }
  const orders = async () => {
    let sum = 0
    for (const tenant of keys.keys()) sum += await ordersOf(tenant)
    return sum
  }

  const lag = monitorEventLoopDelay({ resolution: 10 })
  lag.enable()
  const t0 = performance.now()
  let next = 0
  const lane = async () => {
    while (next < batches.length) {
      const { tenant, body, count } = batches[next++]
      const res = await fetch(`${url}/v1/events`, {
        method: 'POST',
        headers: { ...auth(tenant), 'content-type': 'application/json' },
        body,
      })
      const answer = (await res.json()) as { accepted?: number }
      if (res.status !== 202 || answer.accepted !== count)
        throw new Error(`batch refused: ${res.status} ${JSON.stringify(answer).slice(0, 500)}`)
    }
  }
  await Promise.all(Array.from({ length: CONCURRENT_REQUESTS }, lane))
  const ingestedMs = performance.now() - t0
  await until('kpis to count every order', async () => (await orders()) === traffic.orders)
  const aggregatedMs = performance.now() - t0
  // The consumer acks a batch only after it landed in ClickHouse (both inserts) and left live
  // state, so an ack floor at the stream's last sequence means everything is in ClickHouse.
  const lastSeq = (await jsm.streams.info(EVENTS_STREAM)).state.last_seq
  await until('the consumers to ack every message', async () => {
    let pending = 0
    let floor = 0
    for await (const info of jsm.consumers.list(EVENTS_STREAM)) {
      pending += info.num_pending + info.num_ack_pending
      floor = Math.max(floor, info.ack_floor.stream_seq)
    }
    return floor >= lastSeq && pending === 0
  })
  const flushedMs = performance.now() - t0
  lag.disable()
  // Live state is empty now, so this answer comes from ClickHouse alone.
  const fromHistory = await orders()
  if (fromHistory !== traffic.orders)
    throw new Error(`ClickHouse holds ${fromHistory} orders, expected ${traffic.orders}`)
  return {
    ingestedMs,
    aggregatedMs,
    flushedMs,
    lag: { p50: lag.percentile(50) / 1e6, p99: lag.percentile(99) / 1e6, max: lag.max / 1e6 },
  }
}

/** The fastest honest JetStream round trip, on the same server: ms from first publish to last message consumed. */
async function measureBareJetStream(nc: NatsConnection, traffic: Traffic): Promise<number> {
  const jsm = await jetstreamManager(nc)
  await jsm.streams.add({ name: 'BENCH_RAW', subjects: ['bench.raw.>'], storage: StorageType.File })
  await jsm.consumers.add('BENCH_RAW', {
    durable_name: 'bench-raw',
    ack_policy: AckPolicy.All,
    deliver_policy: DeliverPolicy.All,
    max_ack_pending: -1,
  })
  const messages = await (await jetstream(nc).consumers.get('BENCH_RAW', 'bench-raw')).consume({ max_messages: 2_000 })
  const n = traffic.events.length

  const t0 = performance.now()
  const consumed = (async () => {
    let count = 0
    for await (const m of messages) {
      JSON.parse(m.string())
      if (++count % 1_000 === 0 || count === n) m.ack()
      if (count === n) break
    }
    return performance.now()
  })()
  const inbox = createInbox()
  await new Promise<void>((resolve, reject) => {
    let sent = 0
    let acked = 0
    const pump = () => {
      for (; sent < n && sent - acked < IN_FLIGHT; sent++) {
        const e = traffic.events[sent]
        const h = headers()
        h.set('Nats-Msg-Id', `${e.tenant}:${e.id}`)
        nc.publish(`bench.raw.${e.tenant}.${e.type}`, e.body, { reply: `${inbox}.${sent}`, headers: h })
      }
    }
    const sub = nc.subscribe(`${inbox}.*`, {
      callback: (err, msg) => {
        const ack = err ? undefined : (msg.json() as { seq?: number; error?: unknown })
        if (!ack || ack.error || ack.seq === undefined)
          return reject(err ?? new Error(`publish refused: ${msg.string()}`))
        if (++acked === n) {
          sub.unsubscribe()
          resolve()
        } else pump()
      },
    })
    pump()
  })
  const elapsed = (await consumed) - t0
  await messages.close()
  await jsm.streams.delete('BENCH_RAW')
  return elapsed
}

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = performance.now() + WAIT_LIMIT_MS
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`gave up waiting for ${what}`)
    await sleep(10)
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await runE2e(process.argv.slice(2))
