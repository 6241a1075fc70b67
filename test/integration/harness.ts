// Starts the real app (`node --import tsx app/start.ts`) as a child process with its own
// nats-server and embedded ClickHouse, so tests can SIGKILL and restart it like production.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { type IncomingHttpHeaders, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { type NatsConnection, connect } from '@nats-io/transport-node'
import WebSocket from 'ws'
import { z } from 'zod'
import { startEmbeddedNats } from '../../app/nats-server.ts'
import { silentLog } from '../../common/log.ts'
import { errorSchema } from '../../common/openapi.ts'
import { newTenantAnswer } from '../../ingest/admin-route.ts'
import { eventsAnswer } from '../../ingest/events-route.ts'
import { kpisAnswer } from '../../query/metrics-routes.ts'
import { sqlJsonResult } from '../../query/sql-route.ts'

export { errorSchema }
/** An error answer naming each invalid item or field (common/errors.ts ErrorDetail). */
export const fieldErrors = errorSchema.extend({
  error: errorSchema.shape.error.extend({
    details: z.array(z.object({ index: z.number().optional(), path: z.string().optional(), message: z.string() })),
  }),
})
/** A 204 answer: no body. */
export const noContent = z.null()

const root = resolve(import.meta.dirname, '../..')
export const ADMIN_TOKEN = 'test-admin-token-0123456789'

export interface App extends ServerProcess {
  dataDir: string
}

export function newDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'pulse-test-'))
}

export async function startApp(options: { dataDir?: string; env?: Record<string, string> } = {}): Promise<App> {
  const dataDir = options.dataDir ?? newDataDir()
  // The stream on the app's main thread unless a test asks for worker threads (test/integration/workers.test.ts).
  const env = {
    DATA_DIR: dataDir,
    PORT: '0',
    DEMO: '0',
    ADMIN_TOKEN,
    NATS_URL: '',
    CLICKHOUSE_URL: '',
    STREAM_WORKERS: '0',
    ...options.env,
  }
  return {
    ...(await spawnServer('app/start.ts', env, /Pulse is running at (http:\/\/[^\s"]+)/, 'app', 90_000)),
    dataDir,
  }
}

export interface ServerProcess {
  url: string
  process: ChildProcess
  output: () => string
  /** Sends a signal and waits for the process to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>
}

/** Starts one of the app's entry points as a child process and waits for the URL it prints. */
export async function spawnServer(
  entry: string,
  env: Record<string, string>,
  ready: RegExp,
  what: string,
  timeoutMs: number,
): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.on('data', (d) => (output += d))
  child.stderr!.on('data', (d) => (output += d))
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${what} did not start in ${timeoutMs / 1000} s:\n${output}`)),
      timeoutMs,
    )
    child.stdout!.on('data', () => {
      const match = ready.exec(output)
      if (match) {
        clearTimeout(timer)
        resolveUrl(match[1])
      }
    })
    child.once('exit', (code, signal) => reject(new Error(`${what} exited with ${code ?? signal}:\n${output}`)))
  })
  return {
    url,
    process: child,
    output: () => output,
    async kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      await exited
    },
  }
}

export async function createTenant(
  app: App,
  body: { id: string; timezone?: string; currency?: string; name?: string },
): Promise<string> {
  const res = await fetch(`${app.url}/v1/admin/tenants`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: body.id, timezone: 'UTC', currency: 'USD', ...body }),
  })
  if (res.status !== 201) throw new Error(`tenant not created: ${res.status} ${await res.text()}`)
  return (await readAnswer(res, newTenantAnswer, 'POST /v1/admin/tenants')).body.api_key
}

export interface Answer<T> {
  status: number
  body: T
}

/**
 * The answer's JSON checked against `schema`: the route's own response schema (as in GET /openapi.json)
 * for a success, errorSchema for an error, so an answer that drifts from its schema fails the test.
 * The JSON itself is returned, typed by the schema (response schemas have no transforms): zod's copy
 * would drop the fields the schema does not name, and tests that an answer holds no secret read those.
 */
export async function readAnswer<S extends z.ZodType>(
  res: Response,
  schema: S,
  request: string,
): Promise<Answer<z.output<S>>> {
  return { status: res.status, body: checkAnswer(res.status, await res.text(), schema, request) }
}

function checkAnswer<S extends z.ZodType>(status: number, text: string, schema: S, request: string): z.output<S> {
  const json: unknown = text === '' ? null : JSON.parse(text)
  const checked = schema.safeParse(json)
  if (!checked.success)
    throw new Error(`${request} answered ${status} ${text.slice(0, 2000)}\n${z.prettifyError(checked.error)}`)
  return json as z.output<S>
}

/** POST /v1/events; an answer other than a success is read with `schema` (errorSchema). */
export async function postEvents<S extends z.ZodType = typeof eventsAnswer>(
  app: App,
  apiKey: string,
  events: unknown[],
  schema: S = eventsAnswer as z.ZodType as S,
): Promise<Answer<z.output<S>>> {
  const res = await fetch(`${app.url}/v1/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(events),
  })
  return readAnswer(res, schema, 'POST /v1/events')
}

/** A request with a JSON body (or none) and a tenant's key; the answer read with `schema` (noContent for 204). */
export async function send<S extends z.ZodType>(
  app: App,
  apiKey: string,
  method: string,
  path: string,
  schema: S,
  body?: unknown,
): Promise<Answer<z.output<S>>> {
  const res = await fetch(`${app.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  return readAnswer(res, schema, `${method} ${path}`)
}

/** GET with a tenant's key; the answer read with `schema` (the route's response schema, or errorSchema). */
export async function getJson<S extends z.ZodType>(
  app: App,
  apiKey: string,
  path: string,
  schema: S,
): Promise<Answer<z.output<S>>> {
  const get = () => fetch(`${app.url}${path}`, { headers: { authorization: `Bearer ${apiKey}` } })
  let res: Response
  try {
    res = await get()
  } catch (err) {
    // A test that spent longer than the server's keep-alive (5 s) comparing answers reuses a socket
    // the server has closed before its own loop saw the close; a GET may be sent again (RFC 9110
    // §9.2.2), as browsers do. A server that is down fails the second time too.
    if ((err as { cause?: { code?: string } }).cause?.code !== 'UND_ERR_SOCKET') throw err
    res = await get()
  }
  return readAnswer(res, schema, `GET ${path}`)
}

/**
 * Polls until `check` returns a value that is not undefined (no timed assertions: a generous limit).
 * The pause between looks starts at 10 ms and doubles up to 100 ms: what is nearly there is seen
 * at once, and a long wait does not ask more often than every 100 ms.
 */
export async function waitFor<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  let pause = 10
  for (;;) {
    try {
      const value = await check()
      if (value !== undefined) return value
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`)
    await new Promise((r) => setTimeout(r, pause))
    pause = Math.min(100, pause * 2)
  }
}

/** Each sample of GET /metrics, by its name and labels as written: `name{label="value"}` → value. */
export async function scrape(app: App): Promise<Map<string, number>> {
  const res = await fetch(`${app.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}`)
  const samples = new Map<string, number>()
  for (const line of (await res.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const space = line.lastIndexOf(' ')
    samples.set(line.slice(0, space), Number(line.slice(space + 1)))
  }
  return samples
}

export type Kpis = z.output<typeof kpisAnswer>

/** Waits until the KPIs over `query` satisfy `done`, and returns them. */
export function waitForKpis(
  app: App,
  apiKey: string,
  query: string,
  done: (kpis: Kpis) => boolean,
  timeoutMs?: number,
): Promise<Kpis> {
  return waitFor(
    async () => {
      // An error answer (ClickHouse still starting) fails the schema: waitFor asks again.
      const { body } = await getJson(app, apiKey, `/v1/metrics/kpis?${query}`, kpisAnswer)
      return done(body) ? body : undefined
    },
    `KPIs matching (${query})`,
    timeoutMs,
  )
}

/** Everything in a KPI answer but freshness and the as_of/to stamps that move with the clock. */
export function figures(kpis: Record<string, unknown>) {
  const { freshness, as_of, ...rest } = kpis
  return rest
}

export interface Client {
  ws: WebSocket
  messages: any[]
  send(message: unknown): void
  /** The next message (after the previous match) satisfying the predicate. */
  next(predicate: (m: any) => boolean, what: string, timeoutMs?: number): Promise<any>
  /** Any message so far (or to come) satisfying the predicate, in whatever order they arrived. */
  find(predicate: (m: any) => boolean, what: string, timeoutMs?: number): Promise<any>
  /** Stops reading from the socket (TCP back-pressure reaches the server) / starts again. */
  pause(): void
  resume(): void
  closed: Promise<void>
  close(): void
}

/** The WebSocket URL of /v1/live on the app or a hub, with the token (even an empty one) in the query. */
export function liveUrl(baseUrl: string, token?: string): string {
  return `${baseUrl.replace('http', 'ws')}/v1/live${token !== undefined ? `?token=${encodeURIComponent(token)}` : ''}`
}

/** Opens /v1/live on the app or a hub with an API key (header) or a token (query). */
export async function openLive(baseUrl: string, auth: { key?: string; token?: string }): Promise<Client> {
  const ws = new WebSocket(liveUrl(baseUrl, auth.token || undefined), {
    headers: auth.key ? { authorization: `Bearer ${auth.key}` } : {},
  })
  const messages: any[] = []
  ws.on('message', (data) => messages.push(JSON.parse(data.toString())))
  const closed = new Promise<void>((r) => ws.once('close', () => r()))
  await new Promise<void>((resolveOpen, reject) => {
    ws.once('open', () => resolveOpen())
    ws.once('error', reject)
  })
  let cursor = 0
  return {
    ws,
    messages,
    send: (message) => ws.send(JSON.stringify(message)),
    next(predicate, what, timeoutMs) {
      return waitFor(
        async () => {
          for (; cursor < messages.length; cursor++) if (predicate(messages[cursor])) return messages[cursor++]
          return undefined
        },
        what,
        timeoutMs,
      )
    },
    find: (predicate, what, timeoutMs) => waitFor(async () => messages.find(predicate), what, timeoutMs),
    pause: () => (ws as any)._socket.pause(),
    resume: () => (ws as any)._socket.resume(),
    closed,
    close: () => ws.close(),
  }
}

/** A live client of the app: /v1/live with an API key. */
export type LiveClient = Client

export function connectLive(app: App, apiKey: string): Promise<LiveClient> {
  return openLive(app.url, { key: apiKey })
}

/**
 * POST /v1/sql with a JSON body (or a string: the query); the answer's status, content type and text,
 * and `json(schema)`: the text read with sqlJsonResult (the JSON format), or errorSchema.
 */
export async function postSql(
  app: App,
  apiKey: string,
  body: string | Record<string, unknown>,
  accept?: string,
): Promise<{ status: number; type: string; text: string; json: <S extends z.ZodType>(schema: S) => z.output<S> }> {
  const res = await fetch(`${app.url}/v1/sql`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', ...(accept ? { accept } : {}) },
    body: JSON.stringify(typeof body === 'string' ? { query: body } : body),
  })
  const text = await res.text()
  return {
    status: res.status,
    type: res.headers.get('content-type') ?? '',
    text,
    json: (schema) => checkAnswer(res.status, text, schema, 'POST /v1/sql'),
  }
}

/** Rows of a SQL query as objects (JSON format), failing loudly on an error answer. */
export async function sqlRows(app: App, apiKey: string, query: string): Promise<Record<string, unknown>[]> {
  const res = await postSql(app, apiKey, query)
  if (res.status !== 200) throw new Error(`SQL ${res.status}: ${res.text}`)
  return res.json(sqlJsonResult).data
}

export interface TestNats {
  url: string
  nc: NatsConnection
  stop(): Promise<void>
}

/** A nats-server -js of the test's own, for a stage's NATS parts without the app (or for an app given NATS_URL). */
export async function startNats(): Promise<TestNats> {
  const dir = mkdtempSync(join(tmpdir(), 'pulse-test-nats-'))
  const server = await startEmbeddedNats({ dataDir: dir, log: silentLog })
  const nc = await connect({ servers: server.url })
  return {
    url: server.url,
    nc,
    async stop() {
      await nc.close()
      await server.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

export interface HookReceiver {
  url: string
  /** Every request, in arrival order, with the status it was answered. */
  received: { headers: IncomingHttpHeaders; body: string; answered: number }[]
  close(): Promise<void>
}

/** A local webhook receiver on loopback; `answer` picks each request's status. */
/** A webhook target; `answer` may hold a request until the test lets it go (a promise of the status). */
export async function startHookReceiver(answer: () => number | Promise<number>): Promise<HookReceiver> {
  const received: HookReceiver['received'] = []
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', async () => {
      const answered = await answer()
      received.push({ headers: req.headers, body, answered })
      res.writeHead(answered).end()
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received,
    close: () => new Promise<void>((r) => server.close(() => r())),
  }
}
