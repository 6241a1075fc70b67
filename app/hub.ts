// `NATS_URL=nats://… SECRET_KEY=… node --import tsx app/hub.ts`: a WebSocket hub alone, for a
// second (third, …) process behind a load balancer. It serves GET /v1/live with API keys (looked up
// in the tenants KV on the same NATS) or tokens minted by any Pulse process with the same
// SECRET_KEY, relays updates from the NATS live subjects and asks the publisher in the app process
// for snapshots. Also GET /healthz and GET /v1/admin/live (admin token).
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { connect } from '@nats-io/transport-node'
import { Hono } from 'hono'
import { HttpError, errorBody } from '../common/errors.ts'
import { openTenantRegistry } from '../ingest/index.ts'
import { createHub, createLiveTokens, liveStatsRoute } from '../push/index.ts'
import { ConfigError, loadConfig } from './config.ts'
import { stopOnSignals } from './shutdown.ts'

async function main(): Promise<void> {
  const config = loadConfig(process.env)
  if (!config.natsUrl)
    throw new ConfigError(
      'invalid configuration:\n  NATS_URL: a hub alone needs the NATS server of the Pulse app it serves (got nothing)',
    )
  const log = (line: string) => console.log(`[hub] ${line}`)
  const nc = await connect({ servers: config.natsUrl, maxReconnectAttempts: -1, noAsyncTraces: true })
  const tenants = await openTenantRegistry(nc)
  const hub = createHub({
    nc,
    authenticate: async (key) => (await tenants.authenticate(key))?.id,
    tokens: createLiveTokens({ secretKey: config.secretKey }),
    heartbeatMs: config.liveHeartbeatMs,
    log,
  })

  const app = new Hono()
  app.onError((err, c) =>
    err instanceof HttpError
      ? c.json(errorBody(err.code, err.message), err.status)
      : c.json(errorBody('internal', 'internal error'), 500),
  )
  app.notFound((c) => c.json(errorBody('not_found', `no route ${c.req.method} ${c.req.path}`), 404))
  app.get('/healthz', async (c) => {
    try {
      await nc.flush()
      return c.json({ status: 'ok', nats: 'ok', clients: hub.clientCount() })
    } catch (err) {
      return c.json({ status: 'degraded', nats: `down: ${(err as Error).message}` }, 503)
    }
  })
  app.route('/', liveStatsRoute({ hub, adminToken: config.adminToken }))

  const server = await new Promise<Server>((resolve) => {
    const s = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, () =>
      resolve(s as Server),
    ) as Server
  })
  hub.attach(server)
  const { port } = server.address() as AddressInfo
  console.log(`Pulse hub is running at http://${config.host}:${port} (NATS ${config.natsUrl})`)

  stopOnSignals(async () => {
    await hub.close()
    server.closeAllConnections()
    server.close()
    await nc.drain()
  })
}

main().catch((err) => {
  console.error(err instanceof ConfigError ? err.message : err)
  process.exit(1)
})
