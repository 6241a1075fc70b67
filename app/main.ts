// The composition root: reads nothing itself (config comes in), starts each stage in flow order,
// and wires the ports between them. Returns a handle that stops everything in reverse order.
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { serve } from '@hono/node-server'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { Hono } from 'hono'
import { HttpError, errorBody } from '../common/errors.ts'
import { createClickHouseSink, createMetricsReader, migrate, openClickHouse, recover } from '../clickhouse/index.ts'
import { adminRoute, createPipelinedPublisher, deadLettersRoute, ensureStreams, eventsRoute, openTenantRegistry, settingsRoute } from '../ingest/index.ts'
import { createHub, createLivePublisher } from '../push/index.ts'
import { healthRoute, metricsRoutes } from '../query/index.ts'
import { createLiveState, createProcessor, createStreamConsumer, startOfLocalDay } from '../stream/index.ts'
import type { Config } from './config.ts'
import { startEmbeddedNats } from './nats-server.ts'

export interface PulseDeps {
  now?: () => number
  log?: (line: string) => void
}

export async function startPulse(config: Config, deps: PulseDeps = {}) {
  const now = deps.now ?? Date.now
  const log = deps.log ?? ((line: string) => console.log(`[pulse] ${line}`))

  const embeddedNats = config.natsUrl ? undefined : await startEmbeddedNats({ dataDir: config.dataDir, log })
  const nc = await connect({ servers: config.natsUrl ?? embeddedNats!.url, maxReconnectAttempts: -1, noAsyncTraces: true })
  const jsm = await jetstreamManager(nc)
  await ensureStreams(jsm, { duplicateWindowMs: config.jetstreamDuplicateWindowMs })
  const js = jetstream(nc)
  const tenants = await openTenantRegistry(nc)

  const clickhouse = openClickHouse({ ...config.clickhouse, path: join(config.dataDir, 'clickhouse') })
  await migrate(clickhouse)

  const processor = createProcessor({ dedupHorizonMs: config.dedupHorizonMs, latenessMs: config.latenessMs })
  const recovered = await recover(clickhouse, processor, tenants, log)
  log(`history: ${recovered.replayed} events replayed, last committed flush ${recovered.lastCommitted}`)
  const live = createLiveState()
  const reader = createMetricsReader({ client: clickhouse, live, processor, latenessMs: config.latenessMs })

  const tenantOf = async (id: string) => {
    const tenant = await tenants.get(id)
    if (!tenant) throw new Error(`unknown tenant ${id}`)
    return tenant
  }
  const publisher = createLivePublisher({
    nc,
    coalesceMs: config.liveCoalesceMs,
    log,
    topics: {
      kpis: async (id) => {
        const tenant = await tenantOf(id)
        const asOf = now()
        return reader.kpis(tenant, { asOf, from: startOfLocalDay(asOf, tenant.timezone), to: asOf, view: 'transaction_date' })
      },
    },
  })
  const sink = createClickHouseSink({ client: clickhouse, timezoneOf: async (id) => (await tenantOf(id)).timezone, nextFlushId: recovered.lastCommitted + 1 })
  const consumer = createStreamConsumer({ js, jsm, processor, live, sink, tenants, onChange: publisher.changed, log, flushIntervalMs: config.flushIntervalMs })
  await consumer.start()
  await consumer.caughtUp()

  const app = new Hono()
  app.onError((err, c) => {
    if (err instanceof HttpError) return c.json(errorBody(err.code, err.message, err.details), err.status)
    log(`unexpected error on ${c.req.method} ${c.req.path}: ${err.stack ?? err.message}`)
    return c.json(errorBody('internal', 'internal error'), 500)
  })
  app.notFound((c) => c.json(errorBody('not_found', `no route ${c.req.method} ${c.req.path}`), 404))
  app.route('/', healthRoute({ nats: async () => void (await nc.flush()), clickhouse: async () => void (await clickhouse.query({ query: 'SELECT 1' })).text() }))
  app.route('/', adminRoute({ tenants, adminToken: config.adminToken }))
  app.route('/', deadLettersRoute({ jsm, adminToken: config.adminToken }))
  const eventPublisher = createPipelinedPublisher(nc)
  app.route('/', eventsRoute({
    tenants,
    publisher: eventPublisher,
    now,
    alreadySeen: (tenant, id) => processor.hasSeen(tenant, id, now()),
    rateFor: (tenant, currency) => processor.settings(tenant.id).currency_rates[currency],
  }))
  app.route('/', settingsRoute({ tenants, publisher: eventPublisher, now, settingsOf: processor.settings, applied: consumer.applied }))
  app.route('/', metricsRoutes({ tenants, reader, now }))

  const hub = createHub({ nc, authenticate: async (key) => (await tenants.authenticate(key))?.id, isTopic: (t) => publisher.topics.includes(t), log })
  const server = await new Promise<Server>((resolve) => {
    const s = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, () => resolve(s as Server)) as Server
  })
  hub.attach(server)
  const { port } = server.address() as AddressInfo
  const url = `http://${config.host}:${port}`

  return {
    url,
    tenants,
    async stop(): Promise<void> {
      await hub.close()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await consumer.stop()
      publisher.stop()
      await nc.drain()
      await clickhouse.close()
      await embeddedNats?.stop()
    },
  }
}

export type Pulse = Awaited<ReturnType<typeof startPulse>>
