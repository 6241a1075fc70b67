// Fan-out of live updates to many WebSocket clients held by another process: the app's `kpis`
// topic (POST /v1/events → PubAck → stream → publisher → NATS → hub → clients) against a bare `ws`
// broadcast loop of the same payloads at the same cadence, measured in the same run.
//   node --import tsx bench/fanout.ts [--clients 1000] [--rounds 40] [--burst 200]
// Then the hub's ceiling: a burst of updates published on the tenant's live NATS subject at once
// (the publisher's wire format), relayed by the hub, against the bare loop sending the same
// strings as fast as it can; updates delivered per second until every client has the last one.
// Latency is from the moment the event's PubAck is known (the 202) to a client's receipt; the
// bare loop's is from its send call. Both sides share the machine's clock.
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { connect } from '@nats-io/transport-node'
import WebSocket, { WebSocketServer } from 'ws'
import { loadConfig } from '../app/config.ts'
import { startPulse } from '../app/main.ts'
import { createLogger } from '../common/log.ts'
import { liveMessage, liveSubject } from '../push/index.ts'

const value = (argv: string[], flag: string) => {
  const i = argv.indexOf(flag)
  return i >= 0 ? argv[i + 1] : undefined
}
const CADENCE_MS = 400 // longer than the 250 ms coalescing, so each event gives one update

/** Client mode: hold `n` sockets, subscribe, record (marker, receipt time) of every update. */
async function clients(url: string, n: number, headers: Record<string, string>): Promise<void> {
  const received: [number, number][] = []
  const sockets: WebSocket[] = []
  for (let i = 0; i < n; i++) {
    const ws = new WebSocket(url, { headers })
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString())
      if (m.type === 'update' || m.type === 'bare') received.push([m.data.orders, Date.now()])
    })
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
    ws.send(JSON.stringify({ op: 'subscribe', topics: ['kpis'] }))
    sockets.push(ws)
  }
  process.stdout.write('ready\n')
  process.stdin.once('data', () => {
    for (const ws of sockets) ws.terminate()
    // Exit only once the pipe has taken the whole line (stdout to a pipe is asynchronous).
    process.stdout.write(`${JSON.stringify(received)}\n`, () => process.exit(0))
  })
}

/** Burst mode: count every message (no parsing: the head only) and when each socket saw `last`. */
async function burstClients(url: string, n: number, headers: Record<string, string>, last: number): Promise<void> {
  let received = 0
  const doneAt: number[] = []
  for (let i = 0; i < n; i++) {
    const ws = new WebSocket(url, { headers })
    ws.on('message', (data) => {
      const m = /^\{"type":"update","topic":"kpis","seq":(\d+),/.exec(data.toString('utf8', 0, 80)) // not the snapshot
      if (!m) return
      received++
      if (Number(m[1]) === last) doneAt.push(Date.now())
    })
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
    ws.send(JSON.stringify({ op: 'subscribe', topics: ['kpis'] }))
  }
  process.stdout.write('ready\n')
  const report = () =>
    process.stdout.write(`${JSON.stringify({ received, done: doneAt.length, lastAt: Math.max(...doneAt) })}\n`, () =>
      process.exit(0),
    )
  const check = () => (doneAt.length === n ? report() : setTimeout(check, 20))
  process.stdin.once('data', check)
}

async function burst(
  url: string,
  n: number,
  headers: Record<string, string>,
  last: number,
  send: () => Promise<number>,
): Promise<{ received: number; seconds: number }> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      fileURLToPath(import.meta.url),
      '--as-burst-clients',
      url,
      String(n),
      JSON.stringify(headers),
      String(last),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  )
  let out = ''
  child.stdout!.on('data', (d) => (out += d))
  while (!out.includes('ready\n')) await sleep(50)
  await sleep(1_000)
  const start = await send()
  child.stdin!.write('go\n')
  await new Promise((resolve) => child.once('exit', resolve))
  const r = JSON.parse(out.split('\n')[1]) as { received: number; lastAt: number }
  return { received: r.received, seconds: (r.lastAt - start) / 1000 }
}

function startClients(
  url: string,
  n: number,
  headers: Record<string, string>,
): { child: ChildProcess; ready: Promise<void>; results: () => Promise<[number, number][]> } {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(import.meta.url), '--as-clients', url, String(n), JSON.stringify(headers)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  )
  let out = ''
  child.stdout!.on('data', (d) => (out += d))
  const ready = new Promise<void>((resolve) => {
    const check = () => (out.includes('ready\n') ? resolve() : setTimeout(check, 50))
    check()
  })
  const results = async () => {
    child.stdin!.write('go\n')
    await new Promise((resolve) => child.once('exit', resolve))
    return JSON.parse(out.split('\n')[1]) as [number, number][]
  }
  return { child, ready, results }
}

function summary(name: string, received: [number, number][], sentAt: Map<number, number>, seconds: number): number {
  const latencies = received
    .filter(([marker]) => sentAt.has(marker))
    .map(([marker, at]) => at - sentAt.get(marker)!)
    .sort((a, b) => a - b)
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN
  const rate = latencies.length / seconds
  console.log(
    `  ${name.padEnd(34)} ${latencies.length.toLocaleString('en-US').padStart(8)} updates delivered, ` +
      `${Math.round(rate).toLocaleString('en-US').padStart(7)}/s, latency p50 ${pct(50)} ms, p99 ${pct(99)} ms`,
  )
  return rate
}

export async function runFanout(argv: string[] = []): Promise<void> {
  const n = Number(value(argv, '--clients') ?? 1_000)
  const rounds = Number(value(argv, '--rounds') ?? 40)
  const burstSize = Number(value(argv, '--burst') ?? 200)
  const dataDir = mkdtempSync(join(tmpdir(), 'pulse-fanout-'))
  const adminToken = randomBytes(24).toString('base64url')
  const pulse = await startPulse(loadConfig({ DATA_DIR: dataDir, PORT: '0', ADMIN_TOKEN: adminToken, DEMO: '0' }), {
    log: createLogger('silent'),
  })
  try {
    const created = await fetch(`${pulse.url}/v1/admin/tenants`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}` },
      body: JSON.stringify({ id: 'fanout', name: 'Fanout', timezone: 'UTC', currency: 'USD' }),
    })
    const { api_key: apiKey } = (await created.json()) as { api_key: string }
    console.log(
      `fan-out: ${n} WebSocket clients in another process, ${rounds} updates each, one every ${CADENCE_MS} ms`,
    )

    // Pulse: each posted order changes today's KPIs; `orders` in the update says which one.
    const app = startClients(`${pulse.url.replace('http', 'ws')}/v1/live`, n, { authorization: `Bearer ${apiKey}` })
    await app.ready
    await sleep(1_000)
    const ackedAt = new Map<number, number>()
    const appStart = Date.now()
    for (let i = 1; i <= rounds; i++) {
      const order = {
        id: `o${i}`,
        type: 'order.created',
        ts: Date.now(),
        source: 'bench',
        order_id: `o${i}`,
        total: '10.00',
        subtotal: '10.00',
      }
      const res = await fetch(`${pulse.url}/v1/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}` },
        body: JSON.stringify([order]),
      })
      if (res.status !== 202) throw new Error(`POST /v1/events answered ${res.status}`)
      ackedAt.set(i, Date.now())
      await sleep(CADENCE_MS)
    }
    await sleep(1_500)
    const appSeconds = (Date.now() - appStart) / 1000
    const appRate = summary('Pulse (PubAck → client)', await app.results(), ackedAt, appSeconds)

    // Bare: a ws server broadcasting the same payloads to the same number of clients.
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' })
    await new Promise((resolve) => wss.once('listening', resolve))
    const { port } = wss.address() as { port: number }
    const bare = startClients(`ws://127.0.0.1:${port}`, n, {})
    await bare.ready
    await sleep(1_000)
    const sentAt = new Map<number, number>()
    // The same payload the clients got: today's KPI answer, as the kpis topic carries it.
    const kpis = (await (
      await fetch(`${pulse.url}/v1/metrics/kpis`, { headers: { authorization: `Bearer ${apiKey}` } })
    ).json()) as Record<string, unknown>
    const bareStart = Date.now()
    for (let i = 1; i <= rounds; i++) {
      const text = JSON.stringify({ type: 'bare', topic: 'kpis', seq: i, data: { ...kpis, orders: i } })
      sentAt.set(i, Date.now())
      for (const ws of wss.clients) ws.send(text)
      await sleep(CADENCE_MS)
    }
    await sleep(1_500)
    const bareSeconds = (Date.now() - bareStart) / 1000
    const bareRate = summary('bare ws broadcast (send → client)', await bare.results(), sentAt, bareSeconds)
    console.log(`  Pulse ÷ bare, updates delivered per second = ${(appRate / bareRate).toFixed(3)}`)

    // The ceiling: `burstSize` updates at once. The hub may coalesce for a client that falls
    // behind (its soft limit); every client still ends with the last one.
    const payload = JSON.stringify(kpis)
    const { port: natsPort } = JSON.parse(readFileSync(join(dataDir, 'nats', 'server.json'), 'utf8')) as {
      port: number
    }
    const nc = await connect({ servers: `nats://127.0.0.1:${natsPort}`, noAsyncTraces: true })
    const base = 1_000_000 // above any sequence number the publisher gave out
    const texts = Array.from({ length: burstSize }, (_, i) => liveMessage('update', 'kpis', base + i, payload))
    const statsBefore = await hubStats(pulse.url, adminToken)
    const hubBurst = await burst(
      `${pulse.url.replace('http', 'ws')}/v1/live`,
      n,
      { authorization: `Bearer ${apiKey}` },
      base + burstSize - 1,
      async () => {
        const start = Date.now()
        for (const text of texts) nc.publish(liveSubject('fanout', 'kpis'), text)
        await nc.flush()
        return start
      },
    )
    const statsAfter = await hubStats(pulse.url, adminToken)
    await nc.close()
    const bareBurst = await burst(`ws://127.0.0.1:${port}`, n, {}, base + burstSize - 1, async () => {
      const start = Date.now()
      for (const text of texts) {
        for (const ws of wss.clients) ws.send(text)
        // let the sockets write, as the hub does between NATS messages
        await new Promise((resolve) => setImmediate(resolve))
      }
      return start
    })
    wss.close()
    const line = (name: string, r: { received: number; seconds: number }) => {
      const rate = r.received / r.seconds
      console.log(
        `  ${name.padEnd(34)} ${r.received.toLocaleString('en-US').padStart(8)} delivered ` +
          `in ${r.seconds.toFixed(2)} s, ` +
          `${Math.round(rate).toLocaleString('en-US').padStart(8)}/s`,
      )
      return rate
    }
    console.log(
      `burst: ${burstSize} updates of ${(payload.length / 1024).toFixed(1)} KB at once to ${n} clients ` +
        `(${(burstSize * n).toLocaleString('en-US')} deliveries asked)`,
    )
    const hubRate = line('Pulse hub (NATS → clients)', hubBurst)
    const bareBurstRate = line('bare ws broadcast', bareBurst)
    console.log(
      `  coalesced for slow clients: ${(statsAfter.coalesced - statsBefore.coalesced).toLocaleString('en-US')}; ` +
        `cut off: ${statsAfter.cut_off - statsBefore.cut_off}`,
    )
    console.log(`  Pulse ÷ bare, burst deliveries per second = ${(hubRate / bareBurstRate).toFixed(3)}`)
  } finally {
    await pulse.stop()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

async function hubStats(url: string, adminToken: string): Promise<{ coalesced: number; cut_off: number }> {
  return (
    (await (await fetch(`${url}/v1/admin/live`, { headers: { authorization: `Bearer ${adminToken}` } })).json()) as {
      hub: { coalesced: number; cut_off: number }
    }
  ).hub
}

// Run directly (or as a client process); bench/run.ts imports runFanout.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv[2] === '--as-clients')
    await clients(process.argv[3], Number(process.argv[4]), JSON.parse(process.argv[5]))
  else if (process.argv[2] === '--as-burst-clients')
    await burstClients(process.argv[3], Number(process.argv[4]), JSON.parse(process.argv[5]), Number(process.argv[6]))
  else await runFanout(process.argv.slice(2))
}
