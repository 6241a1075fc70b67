// Answering a tenant's request on the node that owns its partition. A node that gets a request for
// a partition it does not own sends it over NATS to the owner, which runs it through its own Hono
// app and sends the answer back; the client cannot tell the two apart. Worker threads of one
// process and separate processes use the same protocol: each is a NATS client with a node id.
//
//   pulse.node.<node id>.http   the node's own subject: frames of a request, reply inbox set
//
// A request or an answer is one or more frames (NATS messages): `Pulse-Seq` counts them from 0,
// the first carries the head as JSON in `Pulse-Head`, the last has `Pulse-Last: 1`, and the
// payloads, in order, are the body bytes. Bodies may be far larger than NATS's max_payload
// (requests up to 16 MiB, answers of SQL results more), hence frames (docs/cluster.md).
import { type Msg, type NatsConnection, createInbox, headers as natsHeaders } from '@nats-io/transport-node'
import type { Context, MiddlewareHandler } from 'hono'
import { z } from 'zod'
import { errorBody, messageOf } from '../common/errors.ts'
import { type Log, silentLog } from '../common/log.ts'
import { bearerToken } from '../tenants/auth.ts'
import type { TenantRegistry } from '../tenants/registry.ts'

/** On a request run by the owner for another node: that node's id. Such a request is never forwarded again. */
export const FORWARDED_BY = 'pulse-forwarded-by'
/** The WebSocket endpoint: hubs relay live topics over NATS already, so it is never forwarded. */
export const LIVE_PATH = '/v1/live'

/** A node id may hold characters a subject token cannot ('.' in a host name): they are percent-encoded. */
export const nodeHttpSubject = (nodeId: string) =>
  `pulse.node.${encodeURIComponent(nodeId).replace(/[.*!~'()]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`)}.http`

const SEQ = 'Pulse-Seq'
const HEAD = 'Pulse-Head'
const LAST = 'Pulse-Last'
const KiB = 1024
// Frames of 1 MiB at most: a large body does not hold the connection for long, so other requests
// and heartbeats on it interleave; the head (HTTP headers, 16 KiB by Node's default) gets 64 KiB.
const FRAME_BYTES = 1024 * KiB
const HEAD_ROOM = 64 * KiB
// A request whose frames stop coming (its sender died) is dropped after this long.
const PARTIAL_TTL_MS = 60_000

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
])
const pairs = z.array(z.tuple([z.string(), z.string()]))
const requestHead = z.object({ from: z.string(), method: z.string(), url: z.string(), headers: pairs })
const responseHead = z.object({ status: z.number().int(), statusText: z.string(), headers: pairs })
type RequestHead = z.infer<typeof requestHead>
type ResponseHead = z.infer<typeof responseHead>

/** Why a forward failed, with the status and code of the answer the client gets. */
export class ForwardError extends Error {
  override name = 'ForwardError'
  constructor(
    readonly status: 431 | 502 | 503 | 504,
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options)
  }
}

/** The partition of a tenant and the node that owns it now (undefined: nobody holds its lease). */
export interface Owner {
  partition: number
  owner: string | undefined
}

/** Sends `request` to node `to` (the owner of `partition`) and resolves with its answer, or an error answer. */
export type Forward = (to: string, request: Request, partition?: number) => Promise<Response>

type Fetch = (request: Request) => Response | Promise<Response>

/**
 * Answers the requests other nodes forward to this one by running them through `fetch` (the
 * Hono app's), marked with `pulse-forwarded-by`. No queue group: the subject is this node's own.
 */
export function serveForwarded(options: { nc: NatsConnection; nodeId: string; fetch: Fetch; log?: Log }): {
  /** Stops taking requests and waits for the answers in progress to be sent. */
  stop(): Promise<void>
} {
  const { nc, fetch } = options
  const log = options.log ?? silentLog
  const partial = new Map<string, { frames: Frames; timer: NodeJS.Timeout }>()
  const answering = new Set<Promise<void>>()

  const sub = nc.subscribe(nodeHttpSubject(options.nodeId), {
    callback: (err, msg) => {
      if (err) return log.error({ err }, 'forward: subscription failed')
      if (!msg.reply) return // nobody to answer
      const reply = msg.reply
      let entry = partial.get(reply)
      if (!entry) {
        const timer = setTimeout(() => partial.delete(reply), PARTIAL_TTL_MS).unref()
        entry = { frames: new Frames(), timer }
        partial.set(reply, entry)
      }
      let whole: Whole | undefined
      try {
        whole = entry.frames.add(msg)
      } catch (err) {
        clearTimeout(entry.timer)
        partial.delete(reply)
        log.warn({ err }, 'forward: malformed request frames')
        // Said at once, so the requester does not wait for its timeout.
        const bad = new ForwardError(502, 'bad_gateway', `the owner got malformed frames: ${messageOf(err)}`)
        return send(reply, ...errorAnswer(bad))
      }
      if (!whole) return
      clearTimeout(entry.timer)
      partial.delete(reply)
      const done = answer(reply, whole).finally(() => answering.delete(done))
      answering.add(done)
    },
  })

  async function answer(reply: string, whole: Whole): Promise<void> {
    let head: ResponseHead
    let body: Bytes
    try {
      const response = await fetch(toRequest(requestHead.parse(whole.head), whole.body))
      head = { status: response.status, statusText: response.statusText, headers: endToEnd(response.headers) }
      body = new Uint8Array(await response.arrayBuffer())
    } catch (err) {
      // app.fetch answers its own errors; this is a malformed head or a body stream that broke.
      log.error({ err }, 'forward: could not answer a forwarded request')
      ;[head, body] = errorAnswer(new ForwardError(502, 'bad_gateway', `the owner could not answer: ${messageOf(err)}`))
    }
    send(reply, head, body)
  }

  function send(reply: string, head: ResponseHead, body: Bytes): void {
    try {
      try {
        publishFrames(nc, reply, head, body)
      } catch (err) {
        if (!(err instanceof ForwardError)) throw err
        publishFrames(nc, reply, ...errorAnswer(new ForwardError(502, 'bad_gateway', `the owner's ${err.message}`)))
      }
    } catch (err) {
      // The connection is gone: the requester times out.
      log.warn({ err }, 'forward: could not send an answer')
    }
  }

  return {
    async stop() {
      await sub.drain().catch(() => {}) // a closed connection has nothing left to drain
      await Promise.all(answering)
      for (const { timer } of partial.values()) clearTimeout(timer)
      partial.clear()
    },
  }
}

/**
 * The requesting side: a function that sends a request to its owner node and builds the Response
 * from the answer. It never throws for the owner's sake: no responder (the owner is gone) is 503
 * `partition_unavailable`, no word from it for `timeoutMs` is 504 `owner_timeout`.
 */
export function forwardTo(options: { nc: NatsConnection; nodeId: string; timeoutMs: number }): Forward {
  const { nc, nodeId, timeoutMs } = options
  return async (to, request, partition) => {
    // Read outside the try: a body over the route's limit fails here as it would in the route (413).
    const body = new Uint8Array(await request.arrayBuffer())
    const head: RequestHead = {
      from: nodeId,
      method: request.method,
      url: request.url,
      // The body travels whole, so its length is the frames'; the owner's Request counts it again.
      headers: endToEnd(request.headers).filter(([name]) => name !== 'content-length' && name !== FORWARDED_BY),
    }
    try {
      const whole = await exchange(nc, nodeHttpSubject(to), head, body, timeoutMs)
      return toResponse(responseHead.parse(whole.head), whole.body)
    } catch (err) {
      return toResponse(...errorAnswer(asForwardError(err, to, partition, timeoutMs)))
    }
  }
}

/**
 * Middleware for the tenant routes (mount it on `/v1/*` ahead of them): a request for a tenant
 * whose partition another node owns is answered by that node, unchanged. Routes authenticate for
 * themselves (tenants/auth.ts `requireTenant` inside each route), so this one asks
 * `tenantOfRequest` (`bearerTenant(tenants)`); a request without a tenant goes on to its route,
 * which answers 401 or is not a tenant route (admin, health, webhooks).
 *
 * A request another node forwarded is never forwarded again: if ownership moved while it travelled,
 * it is answered 503 `partition_unavailable` (Retry-After: 1) rather than from this node's state,
 * which is not the tenant's live state, and the client's retry reaches the new owner.
 */
export function forwardMiddleware(options: {
  tenantOfRequest: (c: Context) => Promise<string | undefined> | string | undefined
  ownerOf: (tenantId: string) => Owner | Promise<Owner>
  self: string
  forward: Forward
}): MiddlewareHandler {
  const { self } = options
  return async (c, next) => {
    if (c.req.path === LIVE_PATH || c.req.header('upgrade')) return next()
    const tenant = await options.tenantOfRequest(c)
    if (tenant === undefined) return next()
    const { partition, owner } = await options.ownerOf(tenant)
    if (owner === self) return next()
    const forwardedBy = c.req.header(FORWARDED_BY)
    if (forwardedBy !== undefined) {
      const now = owner === undefined ? 'no node holds it now' : `node ${owner} holds it now`
      const message = `partition ${partition} moved while node ${forwardedBy} forwarded the request: node ${self} does not own it (${now}); retry`
      return unavailable(message)
    }
    if (owner === undefined)
      return unavailable(`partition ${partition} has no reachable owner: no node holds it now; retry`)
    return options.forward(owner, c.req.raw, partition)
  }
}

/** `tenantOfRequest` for the routes' API keys: the tenant of the bearer token, if it is valid. */
export function bearerTenant(tenants: Pick<TenantRegistry, 'authenticate'>) {
  return async (c: Context): Promise<string | undefined> => {
    const key = bearerToken(c.req.header('authorization'))
    return key === undefined ? undefined : (await tenants.authenticate(key))?.id
  }
}

const unavailable = (message: string) =>
  toResponse(...errorAnswer(new ForwardError(503, 'partition_unavailable', message)))

/** Body bytes as the Request and Response constructors take them. */
type Bytes = Uint8Array<ArrayBuffer>

interface Whole {
  head: unknown
  body: Bytes
}

/** Reassembles one message from its frames, which NATS delivers in order (one publisher, one subject). */
class Frames {
  private head: unknown
  private parts: Uint8Array[] = []
  private next = 0

  /** Adds a frame; returns the whole message once the last frame is in. */
  add(msg: Msg): Whole | undefined {
    const seq = Number(msg.headers?.get(SEQ))
    if (seq !== this.next) throw new ForwardError(502, 'bad_gateway', `frame ${seq} came where ${this.next} was due`)
    this.next++
    if (seq === 0) this.head = JSON.parse(msg.headers!.get(HEAD))
    this.parts.push(msg.data)
    if (msg.headers!.get(LAST) !== '1') return undefined
    return { head: this.head, body: Buffer.concat(this.parts) }
  }
}

function publishFrames(nc: NatsConnection, subject: string, head: object, body: Uint8Array, reply?: string): void {
  const json = JSON.stringify(head)
  if (Buffer.byteLength(json) > HEAD_ROOM) throw new ForwardError(431, 'headers_too_large', 'headers are over 64 KiB')
  const frameBytes = Math.min(FRAME_BYTES, nc.info?.max_payload ?? FRAME_BYTES) - HEAD_ROOM
  const count = Math.max(1, Math.ceil(body.length / frameBytes))
  for (let seq = 0; seq < count; seq++) {
    const h = natsHeaders()
    h.set(SEQ, String(seq))
    if (seq === 0) h.set(HEAD, json)
    if (seq === count - 1) h.set(LAST, '1')
    nc.publish(subject, body.subarray(seq * frameBytes, (seq + 1) * frameBytes), { headers: h, reply })
  }
}

/** Sends the frames of a request and collects the frames of its answer on an inbox of its own. */
function exchange(nc: NatsConnection, subject: string, head: RequestHead, body: Uint8Array, timeoutMs: number) {
  return new Promise<Whole>((resolve, reject) => {
    const frames = new Frames()
    let timer: NodeJS.Timeout | undefined
    let settled = false
    // The timeout counts from the last sign of progress: the server having the whole request, then
    // each frame of the answer. So a large body is not cut off while it still flows (4 × 64 MiB
    // uploads at once take seconds on one connection), and a silent owner is still found out.
    const arm = () => {
      clearTimeout(timer)
      timer = setTimeout(() => finish(new OwnerTimeout()), timeoutMs)
    }
    const sub = nc.subscribe(createInbox(), {
      callback: (err, msg) => {
        if (err) return finish(err)
        // The server's answer to a publish nobody subscribes to: a 503 status and no data.
        if (msg.headers?.code === 503 && msg.data.length === 0) return finish(new NoResponder())
        try {
          const whole = frames.add(msg)
          if (whole) finish(undefined, whole)
          else arm()
        } catch (err) {
          finish(err)
        }
      },
    })
    function finish(err: unknown, whole?: Whole) {
      if (settled) return
      settled = true
      clearTimeout(timer)
      sub.unsubscribe()
      if (whole) resolve(whole)
      else reject(err)
    }
    arm()
    try {
      publishFrames(nc, subject, head, body, sub.getSubject())
    } catch (err) {
      return finish(err)
    }
    // The flush's PONG comes once the server has read every frame before it.
    nc.flush().then(() => {
      if (!settled) arm()
    }, finish)
  })
}

class OwnerTimeout extends Error {}
class NoResponder extends Error {}

function asForwardError(err: unknown, to: string, partition: number | undefined, timeoutMs: number): ForwardError {
  if (err instanceof ForwardError) return err
  const silent = 'does not answer (it stopped or lost NATS); retry'
  if (err instanceof NoResponder)
    return partition === undefined
      ? new ForwardError(503, 'unavailable', `node ${to} ${silent}`)
      : new ForwardError(
          503,
          'partition_unavailable',
          `partition ${partition} has no reachable owner: node ${to} ${silent}`,
        )
  if (err instanceof OwnerTimeout)
    return new ForwardError(
      504,
      'owner_timeout',
      `node ${to}${partition === undefined ? '' : `, the owner of partition ${partition},`} did not answer within ${timeoutMs} ms`,
    )
  if (err instanceof z.ZodError || err instanceof SyntaxError)
    return new ForwardError(502, 'bad_gateway', `node ${to} sent a malformed answer: ${messageOf(err)}`, { cause: err })
  return new ForwardError(503, 'unavailable', `could not reach node ${to}: ${messageOf(err)}`, { cause: err })
}

function errorAnswer(err: ForwardError): [ResponseHead, Bytes] {
  const headers: [string, string][] = [['content-type', 'application/json']]
  if (err.status === 503) headers.push(['retry-after', '1'])
  const body = Buffer.from(JSON.stringify(errorBody(err.code, err.message)))
  return [{ status: err.status, statusText: '', headers }, body]
}

/** Headers minus the hop-by-hop ones (RFC 9110 §7.6.1), which describe one connection, not the message. */
function endToEnd(headers: Headers): [string, string][] {
  const named = (headers.get('connection') ?? '').split(',').map((name) => name.trim().toLowerCase())
  return [...headers].filter(([name]) => !HOP_BY_HOP.has(name) && !named.includes(name))
}

function toRequest(head: RequestHead, body: Bytes): Request {
  const headers = new Headers(head.headers)
  headers.set(FORWARDED_BY, head.from)
  const hasBody = head.method !== 'GET' && head.method !== 'HEAD'
  return new Request(head.url, { method: head.method, headers, body: hasBody ? body : undefined })
}

// Statuses whose responses have no body (the Response constructor refuses one).
const NULL_BODY = new Set([101, 204, 205, 304])

function toResponse(head: ResponseHead, body: Bytes): Response {
  return new Response(NULL_BODY.has(head.status) ? null : body, {
    status: head.status,
    statusText: head.statusText,
    headers: head.headers,
  })
}
