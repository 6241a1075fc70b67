// Answering on the owner (app/forward.ts) against a real nats-server: two small apps, "node a" and
// "node b", each on its own NATS connection as separate processes would be. Requests sent to a for
// a tenant b owns come back exactly as b answers them (status, headers, body bytes, bodies over
// NATS's 8 MiB max_payload both ways, through real HTTP servers too); requests without a tenant and
// WebSocket upgrades stay where they arrive; a gone owner is 503 naming the partition; a forwarded
// request is never forwarded again; malformed frames get 502 at once; a silent owner is 504.
import { createHash, randomBytes } from 'node:crypto'
import { type NatsConnection, connect } from '@nats-io/transport-node'
import { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { listen } from '../../app/listen.ts'
import { errorBody } from '../../common/errors.ts'
import { partitionOf } from '../../ingest/streams.ts'
import { bearerToken } from '../../tenants/auth.ts'
import {
  FORWARDED_BY,
  type Forward,
  type Owner,
  forwardMiddleware,
  forwardTo,
  nodeHttpSubject,
  serveForwarded,
} from '../../app/forward.ts'
import { type TestNats, startNats } from './harness.ts'

const PARTITIONS = 16
const MiB = 1024 * 1024
const TENANT = 'acme'
const PARTITION = partitionOf(TENANT, PARTITIONS)
const BIG = randomBytes(10 * MiB)

interface Node {
  id: string
  nc: NatsConnection
  app: Hono
  /** Who this node believes owns each partition (a test may make it wrong). */
  owners: Map<number, string | undefined>
  /** Requests this node's routes answered, and forwards it sent. */
  handled: number
  forwarded: number
  /** Lets the slow route answer. */
  release: () => void
  stop(): Promise<void>
}

let nats: TestNats
let a: Node
let b: Node

async function startNode(id: string, timeoutMs = 10_000): Promise<Node> {
  const nc = await connect({ servers: nats.url })
  const send = forwardTo({ nc, nodeId: id, timeoutMs })
  let release = () => {}
  const slow = new Promise<void>((r) => (release = r))
  const node: Node = {
    id,
    nc,
    app: new Hono(),
    owners: new Map(),
    handled: 0,
    forwarded: 0,
    release,
    stop: async () => {},
  }
  const forward: Forward = (to, request, partition) => (node.forwarded++, send(to, request, partition))
  const ownerOf = (tenant: string): Owner => {
    const partition = partitionOf(tenant, PARTITIONS)
    return { partition, owner: node.owners.get(partition) }
  }
  node.app.use('/v1/*', forwardMiddleware({ tenantOfRequest: keyTenant, ownerOf, self: id, forward }))
  node.app.use('/v1/*', async (_c, next) => (node.handled++, next()))
  node.app.all('/v1/echo', async (c) =>
    c.json({
      node: id,
      method: c.req.method,
      url: c.req.url,
      query: c.req.queries('q'),
      header: c.req.header('x-test'),
      forwarded_by: c.req.header(FORWARDED_BY) ?? null,
      connection: c.req.header('connection') ?? null,
      body: createHash('sha256')
        .update(new Uint8Array(await c.req.arrayBuffer()))
        .digest('hex'),
    }),
  )
  // The body back as it came (binary, any size).
  node.app.post('/v1/mirror', async (c) =>
    c.body(await c.req.arrayBuffer(), 201, { 'content-type': 'application/octet-stream', 'x-node': id }),
  )
  node.app.get('/v1/big', (c) => c.body(BIG, 200, { 'content-type': 'application/octet-stream' }))
  node.app.get('/v1/limited', (c) => {
    c.header('set-cookie', 'a=1; Path=/')
    c.header('set-cookie', 'b=2; Path=/', { append: true })
    return c.json(errorBody('rate_limited', `node ${id} says slow down`), 429, { 'Retry-After': '7' })
  })
  node.app.get('/v1/missing', (c) => c.json(errorBody('not_found', `nothing on ${id}`), 404, { 'x-node': id }))
  node.app.delete('/v1/thing', (c) => c.body(null, 204, { 'x-node': id }))
  node.app.get('/v1/slow', async (c) => (await slow, c.text(`late from ${id}`)))
  node.app.get(LIVE, (c) => c.text(`live on ${id}`))
  const server = serveForwarded({ nc, nodeId: id, fetch: node.app.fetch })
  node.stop = async () => {
    await server.stop()
    await nc.close()
  }
  return node
}

const LIVE = '/v1/live'
/** The tests' API keys: `pk_<tenant>`. */
const keyTenant = (c: { req: { header(name: string): string | undefined } }) =>
  bearerToken(c.req.header('authorization'))?.replace(/^pk_/, '')

const request = (path: string, init: RequestInit = {}) =>
  new Request(`http://pulse.test${path}`, {
    ...init,
    headers: { authorization: `Bearer pk_${TENANT}`, ...(init.headers as Record<string, string>) },
  })

/** Everything of an answer, the body as its length and hash (a 10 MiB diff helps nobody). */
async function whole(response: Response | Promise<Response>) {
  const res = await response
  const bytes = new Uint8Array(await res.arrayBuffer())
  return {
    status: res.status,
    headers: [...res.headers],
    length: bytes.length,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    text: bytes.length < 10_000 ? new TextDecoder().decode(bytes) : '',
  }
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

beforeAll(async () => {
  nats = await startNats()
  a = await startNode('a')
  b = await startNode('b')
  for (const node of [a, b]) node.owners.set(PARTITION, 'b')
})
afterAll(async () => {
  for (const node of [a, b]) node?.release()
  await a?.stop()
  await b?.stop()
  await nats?.stop()
})

describe('a request sent to a node that does not own the partition', () => {
  it('is answered by the owner: method, query, headers and a binary body arrive, its answer comes back', async () => {
    const body = new Uint8Array(256).map((_, i) => i)
    const res = await a.app.fetch(
      request('/v1/echo?q=1&q=%C3%A9+x', { method: 'PUT', body, headers: { 'x-test': 'hello', connection: 'close' } }),
    )
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({
      node: 'b',
      method: 'PUT',
      url: 'http://pulse.test/v1/echo?q=1&q=%C3%A9+x',
      query: ['1', 'é x'],
      header: 'hello',
      forwarded_by: 'a',
      connection: null, // hop-by-hop: the client's connection to a, not b's
      body: sha256(body),
    })
  })

  it('carries bodies over 8 MiB both ways, byte for byte', async () => {
    const body = randomBytes(12 * MiB + 7)
    const viaA = await whole(a.app.fetch(request('/v1/mirror', { method: 'POST', body })))
    expect(viaA).toMatchObject({ status: 201, length: body.length, sha256: sha256(body) })
    expect(viaA).toEqual(await whole(b.app.fetch(request('/v1/mirror', { method: 'POST', body }))))

    const big = await whole(a.app.fetch(request('/v1/big')))
    expect(big).toMatchObject({ status: 200, length: BIG.length, sha256: sha256(BIG) })
    expect(big).toEqual(await whole(b.app.fetch(request('/v1/big'))))
  })

  it('returns the owner’s errors unchanged: status, headers (Retry-After, two Set-Cookie), body', async () => {
    for (const [path, method] of [
      ['/v1/limited', 'GET'],
      ['/v1/missing', 'GET'],
      ['/v1/thing', 'DELETE'],
    ]) {
      const viaA = await whole(a.app.fetch(request(path, { method })))
      expect(viaA).toEqual(await whole(b.app.fetch(request(path, { method }))))
    }
    const limited = await a.app.fetch(request('/v1/limited'))
    expect(limited.status).toBe(429)
    expect(limited.headers.get('retry-after')).toBe('7')
    expect(limited.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2; Path=/'])
    expect(await limited.json()).toEqual(errorBody('rate_limited', 'node b says slow down'))
  })

  it('comes back the same over real HTTP servers (hop-by-hop headers are each hop’s own)', async () => {
    const servers = await Promise.all([a, b].map((node) => listen(node.app.fetch, '127.0.0.1', 0)))
    try {
      const [viaA, direct] = await Promise.all(
        servers.map(async ({ url }) => {
          const body = new Uint8Array(9 * MiB).fill(7)
          const res = await fetch(`${url}/v1/mirror`, {
            method: 'POST',
            body,
            headers: { authorization: `Bearer pk_${TENANT}`, 'x-test': 'over http' },
          })
          // Each server stamps its own Date.
          const answer = await whole(res)
          return { ...answer, headers: answer.headers.filter(([name]) => name !== 'date') }
        }),
      )
      expect(viaA).toMatchObject({ status: 201, length: 9 * MiB })
      expect(viaA).toEqual(direct)
    } finally {
      for (const { server } of servers) server.close()
    }
  })

  it('is answered where it arrives when no tenant is named, and WebSocket upgrades never move', async () => {
    const anonymous = await a.app.fetch(new Request('http://pulse.test/v1/echo'))
    expect((await anonymous.json()).node).toBe('a')
    const live = await a.app.fetch(request(LIVE, { headers: { upgrade: 'websocket', connection: 'upgrade' } }))
    expect(await live.text()).toBe('live on a')
  })
})

describe('when the owner cannot answer', () => {
  it('is 503 partition_unavailable naming the partition when nobody owns it, or its owner is gone', async () => {
    a.owners.set(PARTITION, undefined)
    const none = await a.app.fetch(request('/v1/echo'))
    expect(none.status).toBe(503)
    expect(none.headers.get('retry-after')).toBe('1')
    const noneBody = await none.json()
    expect(noneBody.error.code).toBe('partition_unavailable')
    expect(noneBody.error.message).toContain(`partition ${PARTITION} has no reachable owner`)

    // A node that stopped (or never was): NATS says no responders at once, no timeout is waited for.
    a.owners.set(PARTITION, 'gone-node.example')
    const gone = await a.app.fetch(request('/v1/echo'))
    expect(gone.status).toBe(503)
    expect((await gone.json()).error).toMatchObject({
      code: 'partition_unavailable',
      message: expect.stringContaining(`partition ${PARTITION} has no reachable owner: node gone-node.example`),
    })
    a.owners.set(PARTITION, 'b')
  })

  it('never forwards a forwarded request again: a node that believes another owns it answers 503', async () => {
    b.owners.set(PARTITION, 'a') // b wrongly believes a owns it; a believes b does
    const before = { aForwarded: a.forwarded, bForwarded: b.forwarded, aHandled: a.handled, bHandled: b.handled }
    const res = await a.app.fetch(request('/v1/echo'))
    expect(res.status).toBe(503)
    expect((await res.json()).error).toMatchObject({
      code: 'partition_unavailable',
      message: expect.stringContaining(`partition ${PARTITION} moved while node a forwarded the request`),
    })
    expect({ aForwarded: a.forwarded, bForwarded: b.forwarded, aHandled: a.handled, bHandled: b.handled }).toEqual({
      ...before,
      aForwarded: before.aForwarded + 1,
    })
    b.owners.set(PARTITION, 'b')
  })

  it('answers malformed frames with 502 at once rather than leaving the sender to time out', async () => {
    const answer = await nats.nc.request(nodeHttpSubject('b'), 'no frame headers', { timeout: 10_000 })
    expect(JSON.parse(answer.headers!.get('Pulse-Head'))).toMatchObject({ status: 502 })
    expect(JSON.parse(answer.string()).error.code).toBe('bad_gateway')
  })

  it('is 504 naming the node when the owner does not answer in time; its late answer is dropped', async () => {
    const impatient = await startNode('impatient', 300)
    impatient.owners.set(PARTITION, 'b')
    try {
      const res = await impatient.app.fetch(request('/v1/slow'))
      expect(res.status).toBe(504)
      expect((await res.json()).error).toEqual({
        code: 'owner_timeout',
        message: `node b, the owner of partition ${PARTITION}, did not answer within 300 ms`,
      })
      b.release()
      // b answers a reply inbox nobody listens to any more; the next request is answered normally.
      expect(await (await impatient.app.fetch(request('/v1/slow'))).text()).toBe('late from b')
    } finally {
      await impatient.stop()
    }
  })
})
