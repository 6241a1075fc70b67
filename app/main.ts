// The composition root: reads nothing itself (config comes in), starts each stage in flow order,
// and wires the ports between them. Returns a handle that stops everything in reverse order.
import { join } from 'node:path'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { Hono } from 'hono'
import { bodyLimits } from '../common/body-limits.ts'
import { HttpError, errorBody } from '../common/errors.ts'
import { type Logger, createLogger } from '../common/log.ts'
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
import {
  createCheckpointer,
  createClickHouseSink,
  createMetricsReader,
  isPermanent,
  migrate,
  openClickHouse,
  recover,
} from '../clickhouse/index.ts'
import {
  PayloadTooLargeError,
  adminRoute,
  createPipelinedPublisher,
  deadLettersRoute,
  ensurePartitions,
  ensureStreams,
  eventsRoute,
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
  checkpointRoute,
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
import { createLiveState, createProcessor, createStreamConsumer, openCheckpointStore } from '../stream/index.ts'
import { LEGACY_DURABLE } from '../stream/consumer.ts'
import { openTenantRegistry } from '../tenants/index.ts'
import { dashboardRoute } from '../web/serve.ts'
import type { Config } from './config.ts'
import { lateBound } from './late-bound.ts'
import { createMetrics } from './metrics.ts'
import { unhandledCount } from './process-errors.ts'
import { listen } from './listen.ts'
import { startEmbeddedNats } from './nats-server.ts'

export interface PulseDeps {
  now?: () => number
  /** Where log lines go; by default JSON lines on stdout at config.logLevel. */
  log?: Logger
}

export async function startPulse(config: Config, deps: PulseDeps = {}) {
  const now = deps.now ?? Date.now
  const log = deps.log ?? createLogger(config.logLevel)
  // Each stage's lines carry its name, so an operator can follow one stage (docs/observability.md).
  const logOf = (stage: string) => log.child({ stage })

  const embeddedNats = config.natsUrl
    ? undefined
    : await startEmbeddedNats({ dataDir: config.dataDir, log: logOf('nats-server') })
  const nc = await connect({
    servers: config.natsUrl ?? embeddedNats!.url,
    maxReconnectAttempts: -1,
    noAsyncTraces: true,
  })
  const jsm = await jetstreamManager(nc)
  await ensureStreams(jsm, { duplicateWindowMs: config.jetstreamDuplicateWindowMs })
  // PARTITIONS is fixed per deployment; the first start after the upgrade moves old-layout messages.
  await ensurePartitions({ nc, jsm, partitions: config.partitions, durable: LEGACY_DURABLE, log: logOf('ingest') })
  const js = jetstream(nc)
  const tenants = await openTenantRegistry(nc, now)
  // The WebSocket edge: it serves nobody until it is attached to the server at the end.
  const tokens = createLiveTokens({ secretKey: config.secretKey })
  const hub = createHub({
    nc,
    authenticate: async (key) => (await tenants.authenticate(key))?.id,
    tokens,
    heartbeatMs: config.liveHeartbeatMs,
    log: logOf('push'),
  })
  // Stages that need each other: one side reaches the other through a late-bound function
  // (app/late-bound.ts), set where the other is created. Customer views and alerts ask the live
  // publisher (created after them: its topics read them) to recompute a tenant; alerts and metrics
  // read the backlog of the stream consumer (created after them: it feeds them). Until set, nothing
  // is live to recompute and nothing is queued.
  const liveChanged = lateBound((_tenant: string) => {})
  const consumerBacklog = lateBound(() => 0)
  const metrics = createMetrics({
    consumerLag: consumerBacklog.call,
    live: () => hub.stats(),
    unhandledRejections: unhandledCount,
  })

  const clickhouse = openClickHouse({ ...config.clickhouse, path: join(config.dataDir, 'clickhouse') })
  await migrate(clickhouse)

  // The stream stage's state: the processor and alerting's rolling aggregate, which follows it (fed
  // by the replay at start and by the consumer below, so after a restart it is rebuilt exactly; it
  // keeps what the tenant's rules reach back to). Snapshots hold both (stream/checkpoints.ts).
  const alertRules = await openRuleStore(nc)
  await alertRules.preload()
  const newState = () => {
    const processor = createProcessor({ dedupHorizonMs: config.dedupHorizonMs, latenessMs: config.latenessMs })
    const alerts = createAlertAggregate({ horizonMs: (tenant) => horizonMs(alertRules.peek(tenant)) })
    return { processor, alerts, sections: { processor, alerts }, onApplied: alerts.add }
  }
  const checkpoints = await openCheckpointStore({ nc, dir: join(config.dataDir, 'checkpoints'), log: logOf('stream') })
  const recovered = await recover({ client: clickhouse, tenants, newState, checkpoints, log: logOf('clickhouse') })
  log.info(
    {
      snapshot_flush: recovered.snapshot?.flush_id,
      replayed: recovered.replayed,
      last_committed_flush: recovered.lastCommitted,
    },
    recovered.snapshot ? 'state loaded from a snapshot; later history replayed' : 'history replayed',
  )
  const { processor, alerts: alertAggregate } = recovered.state
  const checkpointer = createCheckpointer({
    client: clickhouse,
    tenants,
    store: checkpoints,
    newState,
    history: recovered.history,
    everyMs: config.checkpointIntervalMs,
    now,
    log: logOf('stream'),
  })
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
  // Shopify webhooks, pollers (/v1/connectors), the raw archive and /v1/admin/reprocess. Before the
  // alerts, whose timer reads the connectors' state; what pollers publish waits in JetStream for the consumer.
  const connectors = await startConnectors({
    nc,
    js,
    jsm,
    clickhouse,
    tenants,
    partitions: config.partitions,
    now,
    log: logOf('connectors'),
    onDeadLetter: metrics.deadLettered,
    settingsOf: async (id) => processor.settings(id),
    alreadySeen: (tenant, id) => processor.hasSeen(tenant, id, now()),
    secretKey: config.secretKey,
    adminToken: config.adminToken,
    retryBaseMs: config.connectorRetryBaseMs,
    allowPrivate: config.connectorAllowPrivate,
    isPermanentInsertError: isPermanent,
  })
  // RFM and intent over in-memory customer state, cached at a bounded cadence (query/customer-analytics.ts).
  const customerViews = createCustomerViews({
    source: processor,
    reader,
    now,
    recomputable: liveChanged.call,
    log: logOf('query'),
  })
  const dashboards = createDashboards({
    reader,
    processor,
    revenueOpportunities: customerViews.revenueOpportunities,
    intentCounts: customerViews.intentCounts,
  })
  // Alerting (alerts/, docs/alerts.md): rules evaluated on the change signal and on a timer for absences.
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
      log: logOf('alerts'),
    }),
    tenantOf,
    aggregate: alertAggregate,
    connectorsOf: async (tenant) => connectors.connectors.list(tenant),
    allTenants: tenants.ids,
    notify: liveChanged.call,
    backlog: consumerBacklog.call,
    timerMs: config.alerts.timerMs,
    now,
    log: logOf('alerts'),
  })
  const publisher = createLivePublisher({
    nc,
    run: fair.wait,
    coalesceMs: config.liveCoalesceMs,
    log: logOf('push'),
    now,
    // Live topics, one line each: `name: (tenantId, request) => data` (request: args, filters, now).
    topics: {
      ...standardTopics({ tenantOf, reader }), // kpis, timeseries:<metric>:<interval>, alerts
      // activity, dashboard:overview|ads|profit|funnel
      ...dashboardTopics({ dashboards, tenantOf, now, badTopic: (m) => new TopicError('bad_topic', m) }),
      // dashboard:rfm, dashboard:intent
      ...customerTopics({ views: customerViews, tenantOf, badTopic: (m) => new TopicError('bad_topic', m) }),
      // firing alerts, newest first (replaces standardTopics' empty list)
      alerts: async (tenant) => alertEngine.firing(tenant),
    },
  })
  liveChanged.set((tenant) => publisher.changed(tenant))
  const sink = createClickHouseSink({
    client: clickhouse,
    customer: (tenant, id) => processor.customers(tenant).get(id),
    timezoneOf: async (id) => (await tenantOf(id)).timezone,
    nextFlushId: recovered.lastCommitted + 1,
    log: logOf('clickhouse'),
  })
  const consumer = createStreamConsumer({
    js,
    jsm,
    processor,
    live,
    sink,
    tenants,
    // One node owns every partition (for now).
    partitionCount: config.partitions,
    partitions: Array.from({ length: config.partitions }, (_, p) => p),
    onApplied: (tenant, deltas) => (alertAggregate.add(tenant, deltas), metrics.applied(tenant.id)),
    onDeadLetter: metrics.deadLettered,
    onFlush: metrics.flushed,
    onChange: (tenant) => (
      reader.invalidate(tenant), customerViews.changed(tenant), publisher.changed(tenant), alertEngine.changed(tenant)
    ),
    log: logOf('stream'),
    flushIntervalMs: config.flushIntervalMs,
    now,
  })
  consumerBacklog.set(() => consumer.backlog())
  // Before the consumer: firing alerts are restored before any change is evaluated.
  await alertEngine.start()
  await consumer.start()
  await consumer.caughtUp()

  const app = new Hono()
  app.use('*', metrics.countRequests())
  app.use('*', bodyLimits())
  app.onError((err, c) => {
    if (err instanceof HttpError) return c.json(errorBody(err.code, err.message, err.details), err.status)
    if (err instanceof PayloadTooLargeError) return c.json(errorBody('payload_too_large', err.message), 413)
    log.error({ stage: 'http', method: c.req.method, path: c.req.path, err }, 'unexpected error')
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
  app.route('/', metrics.route(config.adminToken))
  // An operator's checkpoint holds everything applied so far: what is applied is landed first.
  const checkpointNow = async () => (await consumer.flush(), checkpointer.checkpoint())
  app.route('/', checkpointRoute({ checkpoint: checkpointNow, adminToken: config.adminToken }))
  app.route('/', adminRoute({ tenants, adminToken: config.adminToken }))
  app.route('/', deadLettersRoute({ jsm, adminToken: config.adminToken }))
  const eventPublisher = createPipelinedPublisher(nc)
  app.route(
    '/',
    eventsRoute({
      tenants,
      publisher: eventPublisher,
      partitions: config.partitions,
      now,
      alreadySeen: (tenant, id) => processor.hasSeen(tenant, id, now()),
      rateFor: (tenant, currency) => processor.settings(tenant.id).currency_rates[currency],
      skuCostOf: (tenant, sku) => processor.settings(tenant.id).sku_costs[sku],
      onAccepted: metrics.accepted,
    }),
  )
  app.route(
    '/',
    settingsRoute({
      tenants,
      publisher: eventPublisher,
      partitions: config.partitions,
      now,
      settingsOf: processor.settings,
      applied: consumer.applied,
    }),
  )
  app.route('/', metricsRoutes({ tenants, reader, now, queue: fair }))
  app.route('/', dashboardRoutes({ tenants, dashboards, now, queue: fair }))
  app.route('/', customerRoutes({ tenants, views: customerViews, queue: fair }))
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
      sql: metrics.countSql(createSqlService({ engine: sqlEngine, limits: DEFAULT_SQL_LIMITS })),
      clickhouseUrl: config.clickhouse.url,
    }),
  )
  app.route('/', openApiRoute({ version: '0.1.0' }))

  app.route('/', liveTokenRoute({ tenants, tokens }))
  app.route('/', liveStatsRoute({ hub, publisher, adminToken: config.adminToken }))
  app.route('/', await dashboardRoute(logOf('web')))
  const { server, url } = await listen(app.fetch, config.host, config.port)
  hub.attach(server)

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
      await checkpointer.stop()
      publisher.stop()
      await nc.drain()
      await sqlEngine.close()
      await clickhouse.close()
      await embeddedNats?.stop()
    },
  }
}

export type Pulse = Awaited<ReturnType<typeof startPulse>>
