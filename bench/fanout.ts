// Fan-out of live updates to many WebSocket clients held by another process: the app's `kpis`
// topic (POST /v1/events → PubAck → stream → publisher → NATS → hub → clients) against a bare `ws`
// broadcast loop of the same payloads at the same cadence, measured in the same run.
//   node --import tsx bench/fanout.ts [--clients 1000] [--rounds 40]
// Latency is from the moment the event's PubAck is known (the 202) to a client's receipt; the
// bare loop's is from its send call. Both sides share the machine's clock.
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import WebSocket, { WebSocketServer } from 'ws'
import { loadConfig } from '../app/config.ts'
import { startPulse } from '../app/main.ts'

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

function startClients(url: string, n: number, headers: Record<string, string>): { child: ChildProcess; ready: Promise<void>; results: () => Promise<[number, number][]> } {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--as-clients', url, String(n), JSON.stringify(headers)], { stdio: ['pipe', 'pipe', 'inherit'] })
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
  const latencies = received.filter(([marker]) => sentAt.has(marker)).map(([marker, at]) => at - sentAt.get(marker)!).sort((a, b) => a - b)
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN
  const rate = latencies.length / seconds
  console.log(`  ${name.padEnd(34)} ${latencies.length.toLocaleString('en-US').padStart(8)} updates delivered, ${Math.round(rate).toLocaleString('en-US').padStart(7)}/s, latency p50 ${pct(50)} ms, p99 ${pct(99)} ms`)
  return rate
}

async function main(argv: string[]): Promise<void> {
  const n = Number(value(argv, '--clients') ?? 1_000)
  const rounds = Number(value(argv, '--rounds') ?? 40)
  const dataDir = mkdtempSync(join(tmpdir(), 'pulse-fanout-'))
  const adminToken = randomBytes(24).toString('base64url')
  const pulse = await startPulse(loadConfig({ DATA_DIR: dataDir, PORT: '0', ADMIN_TOKEN: adminToken, DEMO: '0' }), { log: () => {} })
  try {
    const created = await fetch(`${pulse.url}/v1/admin/tenants`, { method: 'POST', headers: { authorization: `Bearer ${adminToken}` }, body: JSON.stringify({ id: 'fanout', name: 'Fanout', timezone: 'UTC', currency: 'USD' }) })
    const { api_key: apiKey } = (await created.json()) as { api_key: string }
    console.log(`fan-out: ${n} WebSocket clients in another process, ${rounds} updates each, one every ${CADENCE_MS} ms`)

    // Pulse: each posted order changes today's KPIs; `orders` in the update says which one.
    const app = startClients(`${pulse.url.replace('http', 'ws')}/v1/live`, n, { authorization: `Bearer ${apiKey}` })
    await app.ready
    await sleep(1_000)
    const ackedAt = new Map<number, number>()
    const appStart = Date.now()
    for (let i = 1; i <= rounds; i++) {
      const order = { id: `o${i}`, type: 'order.created', ts: Date.now(), source: 'bench', order_id: `o${i}`, total: '10.00', subtotal: '10.00' }
      const res = await fetch(`${pulse.url}/v1/events`, { method: 'POST', headers: { authorization: `Bearer ${apiKey}` }, body: JSON.stringify([order]) })
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
    const kpis = (await (await fetch(`${pulse.url}/v1/metrics/kpis`, { headers: { authorization: `Bearer ${apiKey}` } })).json()) as Record<string, unknown>
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
    wss.close()
    console.log(`  Pulse ÷ bare, updates delivered per second = ${(appRate / bareRate).toFixed(3)}`)
  } finally {
    await pulse.stop()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

if (process.argv[2] === '--as-clients') await clients(process.argv[3], Number(process.argv[4]), JSON.parse(process.argv[5]))
else await main(process.argv.slice(2))
