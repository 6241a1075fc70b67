// The composition root: reads nothing itself (config comes in), starts each stage in flow order,
// and wires the ports between them. Returns a handle that stops everything in reverse order.
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { serve } from '@hono/node-server'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { Hono } from 'hono'
import { bodyLimits } from '../common/body-limits.ts'
import { HttpError, errorBody } from '../common/errors.ts'
import {
  alertRoutes,
  createAlertAggregate,
  createAlertEngine,
  createAlertLog,
  createWebhookSender,
  horizonMs,
  openOutbox,
  openRuleStore,
} from '../alerts/index.ts'
import { createClickHouseSink, createMetricsReader, migrate, openClickHouse, recover } from '../clickhouse/index.ts'
import {
  PayloadTooLargeError,
  adminRoute,
  createPipelinedPublisher,
  deadLettersRoute,
  ensureStreams,
  eventsRoute,
  openTenantRegistry,
  settingsRoute,
  startConnectors,
} from '../ingest/index.ts'
import {
  TopicError,
  createHub,
  createLivePublisher,
  createLiveTokens,
  liveStatsRoute,
  liveTokenRoute,
  standardTopics,
} from '../push/index.ts'
import {
  DEFAULT_SQL_LIMITS,
  createCachedReader,
  createCustomerViews,
  createSqlService,
  customerRoutes,
  customerTopics,
  flushProbe,
  healthRoute,
  metricsRoutes,
  openApiRoute,
  openSqlEngine,
  sqlRoute,
} from '../query/index.ts'
import { createDashboards, createTenantQueues, dashboardRoutes, dashboardTopics } from '../query/dashboards/index.ts'
import { createLiveState, createProcessor, createStreamConsumer } from '../stream/index.ts'
import { dashboardRoute } from '../web/serve.ts'
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
  const nc = await connect({
    servers: config.natsUrl ?? embeddedNats!.url,
    maxReconnectAttempts: -1,
    noAsyncTraces: true,
  })
  const jsm = await jetstreamManager(nc)
  await ensureStreams(jsm, { duplicateWindowMs: config.jetstreamDuplicateWindowMs })
  const js = jetstream(nc)
  const tenants = await openTenantRegistry(nc)

  const clickhouse = openClickHouse({ ...config.clickhouse, path: join(config.dataDir, 'clickhouse') })
  await migrate(clickhouse)

  const processor = createProcessor({ dedupHorizonMs: config.dedupHorizonMs, latenessMs: config.latenessMs })
  // Alerting's rolling aggregate follows the processor: fed by the replay here and by the consumer
  // below, so after a restart it is rebuilt exactly; it keeps what the tenant's rules reach back to.
  const alertRules = await openRuleStore(nc)
  await alertRules.preload()
  const alertAggregate = createAlertAggregate({ horizonMs: (tenant) => horizonMs(alertRules.peek(tenant)) })
  const recovered = await recover(clickhouse, processor, tenants, log, alertAggregate.add)
  log(`history: ${recovered.replayed} events replayed, last committed flush ${recovered.lastCommitted}`)
  const live = createLiveState()
  // Hot answers cached; the consumer's change signal invalidates them (query/cache.ts).
  // Expensive reads (HTTP and live recomputation) in per-tenant turns: one tenant cannot take the engine from others.
  const fair = createTenantQueues()
  const reader = createCachedReader(createMetricsReader({ client: clickhouse, live, processor, busy: fair.busy }))

  const tenantOf = async (id: string) => {
    const tenant = await tenants.get(id)
    if (!tenant) throw new Error(`unknown tenant ${id}`)
    return tenant
  }
  // RFM and intent over in-memory customer state, cached at a bounded cadence (query/customer-analytics.ts).
  const customerViews = createCustomerViews({
    source: processor,
    reader,
    now,
    recomputable: (tenant) => publisher.changed(tenant),
  })
  const dashboards = createDashboards({
    reader,
    processor,
    revenueOpportunities: customerViews.revenueOpportunities,
    intentCounts: customerViews.intentCounts,
  })
  // Alerting (issue 7, alerts/): rules evaluated on the change signal and on a timer for absences.
  const alertLog = createAlertLog(clickhouse)
  const alertEngine = createAlertEngine({
    rules: alertRules,
    alertLog,
    webhooks: createWebhookSender({
      outbox: await openOutbox(nc),
      logDelivery: alertLog.logDelivery,
      allowPrivate: config.alerts.allowPrivateWebhooks,
      retryBaseMs: config.alerts.webhookRetryBaseMs,
      now,
      log,
    }),
    tenantOf,
    aggregate: alertAggregate,
    connectorsOf: async (tenant) => connectors.connectors.list(tenant),
    allTenants: tenants.ids,
    notify: (tenant) => publisher.changed(tenant),
    backlog: () => consumer.backlog(),
    timerMs: config.alerts.timerMs,
    now,
    log,
  })
  const publisher = createLivePublisher({
    nc,
    run: fair.wait,
    coalesceMs: config.liveCoalesceMs,
    log,
    now,
    // Live topics, one line each: `name: (tenantId, request) => data` (request: args, filters, now).
    topics: {
      ...standardTopics({ tenantOf, reader }), // kpis, timeseries:<metric>:<interval>, alerts
      ...dashboardTopics({ dashboards, tenantOf, now, badTopic: (m) => new TopicError('bad_topic', m) }), // activity, dashboard:overview|ads|profit|funnel
      ...customerTopics({ views: customerViews, tenantOf, badTopic: (m) => new TopicError('bad_topic', m) }), // dashboard:rfm, dashboard:intent
      alerts: async (tenant) => alertEngine.firing(tenant), // firing alerts, newest first (replaces standardTopics' empty list)
    },
  })
  const sink = createClickHouseSink({
    client: clickhouse,
    customer: (tenant, id) => processor.customers(tenant).get(id),
    timezoneOf: async (id) => (await tenantOf(id)).timezone,
    nextFlushId: recovered.lastCommitted + 1,
    log,
  })
  const consumer = createStreamConsumer({
    js,
    jsm,
    processor,
    live,
    sink,
    tenants,
    onApplied: alertAggregate.add,
    onChange: (tenant) => (
      reader.invalidate(tenant), customerViews.changed(tenant), publisher.changed(tenant), alertEngine.changed(tenant)
    ),
    log,
    flushIntervalMs: config.flushIntervalMs,
    now,
  })
  // Before the consumer: firing alerts are restored before any change is evaluated.
  await alertEngine.start()
  await consumer.start()
  await consumer.caughtUp()

  const app = new Hono()
  app.use('*', bodyLimits())
  app.onError((err, c) => {
    if (err instanceof HttpError) return c.json(errorBody(err.code, err.message, err.details), err.status)
    if (err instanceof PayloadTooLargeError) return c.json(errorBody('payload_too_large', err.message), 413)
    log(`unexpected error on ${c.req.method} ${c.req.path}: ${err.stack ?? err.message}`)
    return c.json(errorBody('internal', 'internal error'), 500)
  })
  app.notFound((c) => c.json(errorBody('not_found', `no route ${c.req.method} ${c.req.path}`), 404))
  app.route(
    '/',
    healthRoute({
      nats: async () => void (await nc.flush()),
      clickhouse: async () => void (await clickhouse.query({ query: 'SELECT 1' })).text(),
      stream: flushProbe(consumer.flushHealth, now),
    }),
  )
  app.route('/', adminRoute({ tenants, adminToken: config.adminToken }))
  app.route('/', deadLettersRoute({ jsm, adminToken: config.adminToken }))
  const eventPublisher = createPipelinedPublisher(nc)
  app.route(
    '/',
    eventsRoute({
      tenants,
      publisher: eventPublisher,
      now,
      alreadySeen: (tenant, id) => processor.hasSeen(tenant, id, now()),
      rateFor: (tenant, currency) => processor.settings(tenant.id).currency_rates[currency],
      skuCostOf: (tenant, sku) => processor.settings(tenant.id).sku_costs[sku],
    }),
  )
  app.route(
    '/',
    settingsRoute({
      tenants,
      publisher: eventPublisher,
      now,
      settingsOf: processor.settings,
      applied: consumer.applied,
    }),
  )
  app.route('/', metricsRoutes({ tenants, reader, now, queue: fair }))
  app.route('/', dashboardRoutes({ tenants, dashboards, now, queue: fair }))
  app.route('/', customerRoutes({ tenants, views: customerViews, queue: fair }))
  // Shopify webhooks, pollers (/v1/connectors), the raw archive and /v1/admin/reprocess (issue 5).
  const connectors = await startConnectors({
    nc,
    js,
    jsm,
    clickhouse,
    tenants,
    now,
    log,
    settingsOf: async (id) => processor.settings(id),
    alreadySeen: (tenant, id) => processor.hasSeen(tenant, id, now()),
    secretKey: config.secretKey,
    adminToken: config.adminToken,
    retryBaseMs: config.connectorRetryBaseMs,
    allowPrivate: config.connectorAllowPrivate,
  })
  app.route('/', connectors.routes)
  app.route(
    '/',
    alertRoutes({
      tenants,
      rules: alertRules,
      alertLog,
      engine: alertEngine,
      allowPrivateWebhooks: config.alerts.allowPrivateWebhooks,
    }),
  )
  const sqlEngine = await openSqlEngine({
    ...config.clickhouse,
    path: join(config.dataDir, 'clickhouse'),
    secretKey: config.secretKey,
    limits: DEFAULT_SQL_LIMITS,
  })
  app.route(
    '/',
    sqlRoute({
      tenants,
      engine: sqlEngine,
      sql: createSqlService({ engine: sqlEngine, limits: DEFAULT_SQL_LIMITS }),
      clickhouseUrl: config.clickhouse.url,
    }),
  )
  app.route('/', openApiRoute({ version: '0.1.0' }))

  const tokens = createLiveTokens({ secretKey: config.secretKey })
  app.route('/', liveTokenRoute({ tenants, tokens }))
  const hub = createHub({
    nc,
    authenticate: async (key) => (await tenants.authenticate(key))?.id,
    tokens,
    heartbeatMs: config.liveHeartbeatMs,
    log,
  })
  app.route('/', liveStatsRoute({ hub, publisher, adminToken: config.adminToken }))
  app.route('/', await dashboardRoute(log))
  const server = await new Promise<Server>((resolve) => {
    const s = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, () =>
      resolve(s as Server),
    ) as Server
  })
  hub.attach(server)
  const { port } = server.address() as AddressInfo
  const url = `http://${config.host}:${port}`

  return {
    url,
    tenants,
    /** The Hono app, for its route list (test/integration/openapi.test.ts). */
    app,
    async stop(): Promise<void> {
      await hub.close()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await connectors.stop()
      await alertEngine.stop()
      await consumer.stop()
      publisher.stop()
      await nc.drain()
      await sqlEngine.close()
      await clickhouse.close()
      await embeddedNats?.stop()
    },
  }
}

export type Pulse = Awaited<ReturnType<typeof startPulse>>
