// `NATS_URL=nats://… SECRET_KEY=… node --import tsx app/hub.ts`: a WebSocket hub alone, for a
// second (third, …) process behind a load balancer. It serves GET /v1/live with API keys (looked up
// in the tenants KV on the same NATS) or tokens minted by any Pulse process with the same
// SECRET_KEY, relays updates from the NATS live subjects and asks the publisher in the app process
// for snapshots. Also GET /healthz and GET /v1/admin/live (admin token).
import { connect } from '@nats-io/transport-node'
import { Hono } from 'hono'
import { HttpError, errorBody, messageOf } from '../common/errors.ts'
import { createLogger } from '../common/log.ts'
import { openTenantRegistry } from '../tenants/index.ts'
import { createHub, createLiveTokens, liveStatsRoute } from '../push/index.ts'
import { ConfigError, loadConfig } from './config.ts'
import { handleProcessErrors } from './process-errors.ts'
import { listen } from './listen.ts'
import { stopOnSignals } from './shutdown.ts'

async function main(): Promise<void> {
  const config = loadConfig(process.env)
  if (!config.natsUrl)
    throw new ConfigError(
      'invalid configuration:\n  NATS_URL: a hub alone needs the NATS server of the Pulse app it serves (got nothing)',
    )
  const log = createLogger(config.logLevel).child({ stage: 'hub' })
  handleProcessErrors(log)
  const nc = await connect({ servers: config.natsUrl.split(','), maxReconnectAttempts: -1, noAsyncTraces: true })
  const tenants = await openTenantRegistry(nc, Date.now, { replicas: config.jetstreamReplicas })
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
      return c.json({ status: 'degraded', nats: `down: ${messageOf(err)}` }, 503)
    }
  })
  app.route('/', liveStatsRoute({ hub, adminToken: config.adminToken }))

  const { server, url } = await listen(app.fetch, config.host, config.port)
  hub.attach(server)
  // Scripts wait for this message (test/integration/push-harness.ts): keep its wording.
  log.info({ url, nats: config.natsUrl }, `Pulse hub is running at ${url} (NATS ${config.natsUrl})`)

  stopOnSignals(
    async () => {
      await hub.close()
      server.closeAllConnections()
      server.close()
      await nc.drain()
    },
    { log },
  )
}

main().catch((err) => {
  // A configuration error is for the person starting the hub: said plainly, not as a log line.
  if (err instanceof ConfigError) console.error(err.message)
  else createLogger().fatal({ err }, 'Pulse hub failed to start')
  process.exit(1)
})
