// GET /v1/live: WebSocket clients subscribe to topics of their own tenant. A hub keeps no live
// state: it asks the publisher for a snapshot over NATS request/reply, then relays the publisher's
// updates from the tenant's NATS subject, so any number of hubs serve clients from the same
// subjects. An update is serialised once, by the publisher, and the same string goes to every
// subscriber; a hub only reads its head (topic, seq).
//
// Back-pressure: a client whose socket buffer passes softLimitBytes is sent nothing more until it
// drains; meanwhile only the newest message per topic is held for it (coalesced), so its memory is
// bounded by its topic count. Past hardLimitBytes it is cut off. A client that does not answer a
// ping within a heartbeat interval is dropped.
import type { IncomingMessage, Server } from 'node:http'
import type { Duplex } from 'node:stream'
import type { NatsConnection, Subscription } from '@nats-io/transport-node'
import { type WebSocket, WebSocketServer } from 'ws'
import { z } from 'zod'
import { messageOf } from '../common/errors.ts'
import { type Log, silentLog } from '../common/log.ts'
import { isNoResponders, isTimeout } from '../common/nats-errors.ts'
import { bearerToken } from '../tenants/index.ts'
import { type LiveTokens, isLiveToken } from './live-token.ts'
import {
  type Head,
  INTEREST_SUBJECT,
  INTEREST_TTL_MS,
  type MessageType,
  asSnapshot,
  errorMessage,
  liveTenantWildcard,
  readHead,
  rewriteHead,
  snapshotSubject,
} from './subjects.ts'
import { MAX_TOPIC_LENGTH, TopicError, parseTopic } from './topic.ts'

const topicList = z.array(z.string().min(1).max(MAX_TOPIC_LENGTH)).min(1).max(100)
const clientMessage = z.discriminatedUnion('op', [
  z.object({ op: z.literal('subscribe'), topics: topicList }),
  z.object({ op: z.literal('unsubscribe'), topics: topicList }),
  z.object({ op: z.literal('ping') }),
])

export interface HubOptions {
  nc: NatsConnection
  /** Resolves an API key to its tenant id, or undefined. */
  authenticate: (apiKey: string) => Promise<string | undefined>
  /** Verifies `?token=` (and `Bearer <token>`) credentials; without it only API keys are accepted. */
  tokens?: LiveTokens
  path?: string
  /**
   * Past this many buffered bytes a client is sent nothing new: it gets the newest message per topic once it drains.
   */
  softLimitBytes?: number
  /** Past this many buffered bytes a client is disconnected. */
  hardLimitBytes?: number
  heartbeatMs?: number
  /** How often the hub tells publishers which topics it serves. */
  interestMs?: number
  snapshotTimeoutMs?: number
  maxTopicsPerClient?: number
  log?: Log
}

interface Sub {
  client: Client
  /** Canonical topic: what the publisher computes and the NATS messages carry. */
  topic: string
  /** The topic as this client wrote it, echoed in its messages. */
  label: string
  /** Sequence number of the last message accepted for the client; -1 until its snapshot arrives. */
  seq: number
  /** The newest update that arrived while the snapshot was on its way. */
  pending?: { head: Head; text: string }
}

interface Client {
  ws: WebSocket
  tenant: string
  subs: Map<string, Sub>
  alive: boolean
  /** Newest message per topic held back while the client's buffer is over the soft limit. */
  held: Map<string, { sub: Sub; text: string; type: MessageType }>
  onSent: () => void
}

interface Room {
  clients: Set<Client>
  topics: Map<string, Set<Sub>>
  nats: Subscription
}

/**
 * Distinct topics one connection may watch: each is a computation the publisher repeats on every
 * change of the tenant, so one socket cannot ask for an unbounded amount of work.
 */
export const DEFAULT_MAX_TOPICS_PER_CLIENT = 50

export function createHub(options: HubOptions) {
  const { nc } = options
  const path = options.path ?? '/v1/live'
  const softLimit = options.softLimitBytes ?? 256 * 1024
  const hardLimit = options.hardLimitBytes ?? 4 * 1024 * 1024
  const maxTopics = options.maxTopicsPerClient ?? DEFAULT_MAX_TOPICS_PER_CLIENT
  const log = options.log ?? silentLog
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 })
  const rooms = new Map<string, Room>()
  const counters = { delivered: 0, coalesced: 0, cut_off: 0, dead_dropped: 0 }

  function cutOff(client: Client, why: string): void {
    log.warn({ tenant: client.tenant, why }, 'closing live client')
    client.ws.terminate()
  }

  /** Sends, or holds the newest message per topic while the client is slow. */
  function send(sub: Sub, text: string, type: MessageType): void {
    const { client } = sub
    const { ws } = client
    if (ws.readyState !== ws.OPEN) return
    const buffered = ws.bufferedAmount
    if (buffered > hardLimit) {
      counters.cut_off++
      return cutOff(client, `${buffered} bytes buffered`)
    }
    const previous = client.held.get(sub.topic)
    if (previous || buffered > softLimit) {
      if (previous) counters.coalesced++
      // A client must see a snapshot before updates: a held snapshot stays one.
      const keep: MessageType = previous?.type === 'snapshot' ? 'snapshot' : type
      client.held.set(sub.topic, { sub, text: keep === 'snapshot' ? asSnapshot(text) : text, type: keep })
      return
    }
    counters.delivered++
    ws.send(text, client.onSent)
  }

  function release(client: Client): void {
    const held = [...client.held.values()]
    client.held.clear()
    for (const { sub, text } of held) {
      if (client.subs.get(sub.topic) !== sub || client.ws.readyState !== client.ws.OPEN) continue
      counters.delivered++
      client.ws.send(text, client.onSent)
    }
  }

  function deliver(sub: Sub, head: Head, text: string): void {
    if (sub.seq < 0) {
      sub.pending = { head, text }
      return
    }
    if (head.seq === sub.seq) return
    // A lower number: the publisher restarted and counts afresh, so this starts over as a snapshot.
    const type: MessageType = head.seq < sub.seq ? 'snapshot' : 'update'
    sub.seq = head.seq
    send(sub, type === head.type && sub.label === head.topic ? text : rewriteHead(text, head, type, sub.label), type)
  }

  function room(tenant: string): Room {
    let r = rooms.get(tenant)
    if (r) return r
    const topics = new Map<string, Set<Sub>>()
    const nats = nc.subscribe(liveTenantWildcard(tenant), {
      callback: (err, msg) => {
        if (err) return log.error({ tenant, err }, 'live subscription failed')
        const text = msg.string()
        const head = readHead(text)
        if (!head) return dropRefused(topics, text)
        const subs = topics.get(head.topic)
        if (subs) for (const sub of subs) deliver(sub, head, text)
      },
    })
    rooms.set(tenant, (r = { clients: new Set(), topics, nats }))
    return r
  }

  /** The publisher dropped a topic (its answer grew too large): its watchers get the error, and are unsubscribed. */
  function dropRefused(topics: Map<string, Set<Sub>>, text: string): void {
    let error: { type?: string; code?: string; topic?: string; message?: string }
    try {
      error = JSON.parse(text)
    } catch {
      return log.warn({ text: text.slice(0, 100) }, 'unreadable live message')
    }
    const subs = error.type === 'error' && error.topic !== undefined ? topics.get(error.topic) : undefined
    for (const sub of [...(subs ?? [])]) {
      removeSub(sub.client, sub.topic)
      sendError(sub.client, error.code ?? 'topic_failed', error.message ?? 'the topic was dropped', sub.label)
    }
  }

  function removeSub(client: Client, topic: string): void {
    const sub = client.subs.get(topic)
    if (!sub) return
    client.subs.delete(topic)
    client.held.delete(topic)
    const r = rooms.get(client.tenant)
    const subs = r?.topics.get(topic)
    subs?.delete(sub)
    if (subs?.size === 0) r!.topics.delete(topic)
  }

  function sendError(client: Client, code: string, message: string, topic?: string): void {
    if (client.ws.readyState === client.ws.OPEN) client.ws.send(errorMessage(code, message, topic))
  }

  async function subscribe(client: Client, label: string): Promise<void> {
    let topic: string
    try {
      topic = parseTopic(label).canonical
    } catch (err) {
      return sendError(client, err instanceof TopicError ? err.code : 'bad_topic', messageOf(err), label)
    }
    if (!client.subs.has(topic) && client.subs.size >= maxTopics) {
      const message = `at most ${maxTopics} distinct topics per connection; unsubscribe from one first`
      return sendError(client, 'too_many_topics', message, label)
    }
    // Subscribing again replaces the subscription: a fresh snapshot follows.
    removeSub(client, topic)
    const sub: Sub = { client, topic, label, seq: -1 }
    client.subs.set(topic, sub)
    const r = room(client.tenant)
    let subs = r.topics.get(topic)
    if (!subs) r.topics.set(topic, (subs = new Set()))
    subs.add(sub)
    let text: string
    try {
      const reply = await nc.request(snapshotSubject(client.tenant), JSON.stringify({ topic }), {
        timeout: options.snapshotTimeoutMs ?? 10_000,
      })
      text = reply.string()
    } catch (err) {
      if (client.subs.get(topic) === sub) removeSub(client, topic)
      const message = isNoResponders(err)
        ? 'no live publisher is running'
        : isTimeout(err)
          ? 'no live publisher answered in time'
          : messageOf(err)
      return sendError(client, 'snapshot_failed', message, label)
    }
    if (client.subs.get(topic) !== sub) return // unsubscribed or replaced meanwhile
    const head = readHead(text)
    if (!head) {
      removeSub(client, topic)
      const error = JSON.parse(text) as { code?: string; message?: string }
      return sendError(client, error.code ?? 'snapshot_failed', error.message ?? 'no snapshot', label)
    }
    sub.seq = head.seq
    send(sub, head.topic === label ? text : rewriteHead(text, head, 'snapshot', label), 'snapshot')
    const pending = sub.pending
    sub.pending = undefined
    if (pending && pending.head.seq > head.seq) deliver(sub, pending.head, pending.text)
  }

  function onMessage(client: Client, data: string): void {
    let parsed
    try {
      parsed = clientMessage.safeParse(JSON.parse(data))
    } catch {
      return sendError(client, 'bad_message', 'not JSON')
    }
    if (!parsed.success)
      return sendError(
        client,
        'bad_message',
        parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
      )
    const m = parsed.data
    if (m.op === 'ping') return void client.ws.send('{"type":"pong"}')
    if (m.op === 'unsubscribe') {
      for (const label of m.topics) {
        try {
          removeSub(client, parseTopic(label).canonical)
        } catch {
          // Never subscribed under a name that does not parse.
        }
      }
      return void client.ws.send(JSON.stringify({ type: 'unsubscribed', topics: m.topics }))
    }
    for (const label of m.topics) void subscribe(client, label)
  }

  function accept(ws: WebSocket, tenant: string): void {
    const r = room(tenant)
    const client: Client = {
      ws,
      tenant,
      subs: new Map(),
      alive: true,
      held: new Map(),
      onSent: () => {
        if (client.held.size > 0 && ws.bufferedAmount <= softLimit) release(client)
      },
    }
    r.clients.add(client)
    ws.on('error', (err) => log.warn({ tenant, err }, 'websocket error'))
    ws.on('pong', () => (client.alive = true))
    ws.on('message', (data) => onMessage(client, data.toString()))
    ws.on('close', () => {
      for (const topic of [...client.subs.keys()]) removeSub(client, topic)
      r.clients.delete(client)
      if (r.clients.size === 0 && rooms.get(tenant) === r) {
        r.nats.unsubscribe()
        rooms.delete(tenant)
      }
    })
  }

  const heartbeat = setInterval(() => {
    for (const r of rooms.values()) {
      for (const client of r.clients) {
        if (!client.alive) {
          counters.dead_dropped++
          cutOff(client, 'no pong within a heartbeat')
          continue
        }
        client.alive = false
        client.ws.ping()
      }
    }
  }, options.heartbeatMs ?? 15_000)

  // Publishers compute only what some hub serves; this lease renewal is how they know.
  const interest = setInterval(
    () => {
      for (const [tenant, r] of rooms)
        if (r.topics.size > 0) nc.publish(INTEREST_SUBJECT, JSON.stringify({ tenant, topics: [...r.topics.keys()] }))
    },
    options.interestMs ?? INTEREST_TTL_MS / 3,
  )

  async function authorize(req: IncomingMessage, url: URL): Promise<string | undefined> {
    // Only signed tokens go in a URL: an API key there would end up in logs.
    const token = url.searchParams.get('token')
    if (token !== null) return isLiveToken(token) ? options.tokens?.verify(token) : undefined
    const credential = bearerToken(req.headers.authorization)
    if (!credential) return undefined
    return isLiveToken(credential) ? options.tokens?.verify(credential) : options.authenticate(credential)
  }

  async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy())
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (url.pathname !== path) return refuse(socket, 404, 'Not Found')
    const tenant = await authorize(req, url).catch(() => undefined)
    if (!tenant) return refuse(socket, 401, 'Unauthorized')
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws, tenant))
  }

  return {
    attach(server: Server): void {
      server.on('upgrade', (req, socket, head) => void upgrade(req, socket, head))
    },
    clientCount: () => [...rooms.values()].reduce((n, r) => n + r.clients.size, 0),
    /** What an operator (and the back-pressure test) looks at: buffered bytes and what was held or cut. */
    stats() {
      let clients = 0
      let subscriptions = 0
      let buffered = 0
      let maxBuffered = 0
      let held = 0
      let slow = 0
      for (const r of rooms.values()) {
        for (const c of r.clients) {
          clients++
          subscriptions += c.subs.size
          held += c.held.size
          if (c.held.size > 0) slow++
          buffered += c.ws.bufferedAmount
          maxBuffered = Math.max(maxBuffered, c.ws.bufferedAmount)
        }
      }
      return {
        clients,
        subscriptions,
        slow_clients: slow,
        held_messages: held,
        buffered_bytes: buffered,
        max_client_buffered_bytes: maxBuffered,
        ...counters,
        rss_bytes: process.memoryUsage().rss,
      }
    },
    async close(): Promise<void> {
      clearInterval(heartbeat)
      clearInterval(interest)
      for (const r of rooms.values()) r.nats.unsubscribe()
      rooms.clear()
      for (const ws of wss.clients) ws.terminate()
      await new Promise<void>((resolve) => wss.close(() => resolve()))
    },
  }
}

export type Hub = ReturnType<typeof createHub>

function refuse(socket: Duplex, status: number, text: string): void {
  const body = JSON.stringify({ error: { code: text.toLowerCase().replace(' ', '_'), message: text } })
  socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`)
}
