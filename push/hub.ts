// GET /v1/live: WebSocket clients subscribe to topics of their own tenant. Updates arrive on NATS
// from whichever process owns live state, are serialised once, and the same string goes to every
// subscriber. A client that falls behind gets only the newest update per topic, and is cut off
// past a hard limit, so one slow reader never holds memory for everyone.
import type { IncomingMessage, Server } from 'node:http'
import type { Duplex } from 'node:stream'
import type { NatsConnection } from '@nats-io/transport-node'
import { type WebSocket, WebSocketServer } from 'ws'
import { z } from 'zod'
import { bearerToken } from '../ingest/index.ts'
import { LIVE_WILDCARD, type LiveMessage, snapshotSubject, splitSubject } from './subjects.ts'

const clientMessage = z.discriminatedUnion('op', [
  z.object({ op: z.literal('subscribe'), topics: z.array(z.string().min(1).max(200)).min(1).max(50) }),
  z.object({ op: z.literal('unsubscribe'), topics: z.array(z.string().min(1).max(200)).min(1).max(50) }),
  z.object({ op: z.literal('ping') }),
])

export interface HubOptions {
  nc: NatsConnection
  /** Resolves a credential (API key) to a tenant id, or undefined. */
  authenticate: (credential: string) => Promise<string | undefined>
  isTopic: (topic: string) => boolean
  path?: string
  /** Past this many buffered bytes a client gets coalesced updates only. */
  softLimitBytes?: number
  /** Past this many buffered bytes a client is disconnected. */
  hardLimitBytes?: number
  heartbeatMs?: number
  log?: (line: string) => void
}

interface Client {
  ws: WebSocket
  tenant: string
  topics: Set<string>
  alive: boolean
  /** Newest update per topic held back while the client is slow. */
  held: Map<string, string>
}

export function createHub(options: HubOptions) {
  const { nc } = options
  const path = options.path ?? '/v1/live'
  const softLimit = options.softLimitBytes ?? 256 * 1024
  const hardLimit = options.hardLimitBytes ?? 4 * 1024 * 1024
  const log = options.log ?? (() => {})
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 })
  const byTenant = new Map<string, Set<Client>>()

  function send(client: Client, topic: string, text: string): void {
    if (client.ws.bufferedAmount > hardLimit) {
      log(`closing slow client of ${client.tenant}: ${client.ws.bufferedAmount} bytes buffered`)
      client.ws.terminate()
      return
    }
    if (client.ws.bufferedAmount > softLimit) {
      client.held.set(topic, text)
      return
    }
    client.ws.send(text)
  }

  const updates = nc.subscribe(LIVE_WILDCARD, {
    callback: (_err, msg) => {
      const [tenant, topic] = splitSubject(msg.subject)
      const clients = byTenant.get(tenant)
      if (!clients) return
      const payload = msg.string()
      const text = `{"type":"update","topic":${JSON.stringify(topic)},${payload.slice(1)}`
      for (const client of clients) if (client.topics.has(topic)) send(client, topic, text)
    },
  })

  const heartbeat = setInterval(() => {
    for (const clients of byTenant.values()) {
      for (const client of clients) {
        if (!client.alive) {
          client.ws.terminate()
          continue
        }
        client.alive = false
        client.ws.ping()
        if (client.held.size > 0 && client.ws.bufferedAmount <= softLimit) releaseHeld(client)
      }
    }
  }, options.heartbeatMs ?? 15_000)

  function releaseHeld(client: Client): void {
    const held = [...client.held]
    client.held.clear()
    for (const [topic, text] of held) send(client, topic, text)
  }

  async function subscribe(client: Client, topic: string): Promise<void> {
    if (!options.isTopic(topic)) return reply(client, { type: 'error', code: 'unknown_topic', message: `unknown topic ${topic}` })
    client.topics.add(topic)
    try {
      const response = await nc.request(snapshotSubject(client.tenant, topic), '', { timeout: 10_000 })
      const body = response.json<LiveMessage & { error?: string }>()
      if (body.error) return reply(client, { type: 'error', code: 'snapshot_failed', topic, message: body.error })
      reply(client, { type: 'snapshot', topic, seq: body.seq, data: body.data })
    } catch (err) {
      reply(client, { type: 'error', code: 'snapshot_failed', topic, message: (err as Error).message })
    }
  }

  function reply(client: Client, message: Record<string, unknown>): void {
    if (client.ws.readyState === client.ws.OPEN) client.ws.send(JSON.stringify(message))
  }

  function onMessage(client: Client, data: string): void {
    let parsed
    try {
      parsed = clientMessage.safeParse(JSON.parse(data))
    } catch {
      return reply(client, { type: 'error', code: 'bad_message', message: 'not JSON' })
    }
    if (!parsed.success) return reply(client, { type: 'error', code: 'bad_message', message: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') })
    const m = parsed.data
    if (m.op === 'ping') return reply(client, { type: 'pong' })
    if (m.op === 'unsubscribe') {
      for (const topic of m.topics) client.topics.delete(topic)
      return reply(client, { type: 'unsubscribed', topics: m.topics })
    }
    for (const topic of m.topics) void subscribe(client, topic)
  }

  function accept(ws: WebSocket, tenant: string): void {
    const client: Client = { ws, tenant, topics: new Set(), alive: true, held: new Map() }
    let clients = byTenant.get(tenant)
    if (!clients) byTenant.set(tenant, (clients = new Set()))
    clients.add(client)
    ws.on('error', (err) => log(`websocket error: ${err.message}`))
    ws.on('pong', () => (client.alive = true))
    ws.on('message', (data) => onMessage(client, data.toString()))
    ws.on('close', () => {
      clients.delete(client)
      if (clients.size === 0) byTenant.delete(tenant)
    })
  }

  async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy())
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (url.pathname !== path) return refuse(socket, 404, 'Not Found')
    const credential = bearerToken(req.headers.authorization)
    const tenant = credential ? await options.authenticate(credential) : undefined
    if (!tenant) return refuse(socket, 401, 'Unauthorized')
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws, tenant))
  }

  return {
    attach(server: Server): void {
      server.on('upgrade', (req, socket, head) => void upgrade(req, socket, head))
    },
    clientCount: () => [...byTenant.values()].reduce((n, s) => n + s.size, 0),
    async close(): Promise<void> {
      clearInterval(heartbeat)
      updates.unsubscribe()
      for (const ws of wss.clients) ws.terminate()
      await new Promise<void>((resolve) => wss.close(() => resolve()))
    },
  }
}

function refuse(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${JSON.stringify({ error: { code: text.toLowerCase().replace(' ', '_'), message: text } })}`)
}
