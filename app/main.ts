// The composition root: reads nothing itself (config comes in), starts each stage in flow order,
// and wires the ports between them. Returns a handle that stops everything in reverse order.
import { join } from 'node:path'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { Hono } from 'hono'
import PQueue from 'p-queue'
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
  firstFlushId,
  flushEpoch,
  isPermanent,
  loadPartition,
  migrate,
  openClickHouse,
  prepareHistory,
} from '../clickhouse/index.ts'
import {
  PayloadTooLargeError,
  REPROCESS_PATH,
  SHOPIFY_WEBHOOK_PATH,
  adminRoute,
  createPipelinedPublisher,
  deadLettersRoute,
  ensurePartitions,
  ensureStreams,
  partitionOf,
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
  clusterRoute,
  createCachedReader,
  createCustomerViews,
  createSqlService,
  customerRoutes,
  orderRoutes,
  inventoryRoutes,
  customerTopics,
  flushProbe,
  healthRoute,
  metricsRoutes,
  openApiRoute,
  openSqlEngine,
  sqlRoute,
} from '../query/index.ts'
import { createDashboards, createTenantQueues, dashboardRoutes, dashboardTopics } from '../query/dashboards/index.ts'
import { cohortRoutes } from '../query/cohort-routes.ts'
import { createCohortViews } from '../query/cohort-views.ts'
import {
  createLiveState,
  createProcessor,
  LEGACY_DURABLE,
  type Ownership,
  createOwnership,
  createStreamConsumer,
  dropPartition,
  inPartition,
  openCheckpointStore,
  openPartitionHistories,
  pendingByPartition,
  scopeOf,
  withLandingNoted,
} from '../stream/index.ts'
import { openTenantRegistry } from '../tenants/index.ts'
import { dashboardRoute } from '../web/serve.ts'
import { FORWARDED_BY, bearerTenant, forwardMiddleware, forwardTo, serveForwarded } from './forward.ts'
import type { Config, NodeRole } from './config.ts'
import { DEMO_TENANT, checkDeploymentSecrets, demoTenantKey } from './deployment.ts'
import { startDemoTraffic } from './demo-traffic.ts'
import { lateBound } from './late-bound.ts'
import { createMetrics } from './metrics.ts'
import { unhandledCount } from './process-errors.ts'
import { listen } from './listen.ts'
import { startEmbeddedNats } from './nats-server.ts'
import { type WorkerAnswers, startStreamWorkers } from './workers.ts'

/** How long a node asked to take a checkpoint may take to answer. */
const CHECKPOINT_TIMEOUT_MS = 15 * 60_000

export interface PulseDeps {
  now?: () => number
  /** Where log lines go; by default JSON lines on stdout at config.logLevel. */
  log?: Logger
  /** Told when a partition lease was lost while this node still worked on it; by default the process ends. */
  onFenced?: () => void
  /** Serve HTTP on config.port (default); a stream worker thread does not (app/worker.ts). */
  listen?: boolean
  /** Nodes starting with this one (its sibling worker threads): see `peers` in stream/ownership.ts. */
  peers?: string[]
}

export async function startPulse(config: Config, deps: PulseDeps = {}) {
  const now = deps.now ?? Date.now
  const log = deps.log ?? createLogger(config.logLevel)
  // Each stage's lines carry its name, so an operator can follow one stage (docs/observability.md).
  const logOf = (stage: string) => log.child({ stage })

  const embeddedNats = config.natsUrl
    ? undefined
    : await startEmbeddedNats({ dataDir: config.dataDir, log: logOf('nats-server') })
  const natsServers = config.natsUrl ?? embeddedNats!.url
  const nc = await connect({ servers: natsServers.split(','), maxReconnectAttempts: -1, noAsyncTraces: true })
  const jsm = await jetstreamManager(nc)
  await ensureStreams(jsm, { duplicateWindowMs: config.jetstreamDuplicateWindowMs, replicas: config.jetstreamReplicas })
  // PARTITIONS is fixed per deployment; the first start after the upgrade moves old-layout messages.
  await ensurePartitions({
    nc,
    jsm,
    partitions: config.partitions,
    durable: LEGACY_DURABLE,
    log: logOf('ingest'),
    replicas: config.jetstreamReplicas,
  })
  // Every node of a deployment has its secrets: another ADMIN_TOKEN or SECRET_KEY is refused here.
  await checkDeploymentSecrets(nc, config)
  const js = jetstream(nc)
  const tenants = await openTenantRegistry(nc, now, { replicas: config.jetstreamReplicas })
  // Made by the first node, kept in NATS KV for all (app/deployment.ts).
  const demoKey = config.demo
    ? await demoTenantKey({ nc, tenants, secretKey: config.secretKey, dataDir: config.dataDir })
    : undefined
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

  // With STREAM_WORKERS ≥ 1 the partitions run in worker threads, each a node of its own on this
  // NATS (app/workers.ts), and this thread serves HTTP and WebSocket as an `api` node: the stream
  // never shares a thread with them. Started once the streams and tables exist.
  const workers =
    config.role !== 'api' && config.streamWorkers > 0
      ? startStreamWorkers({
          count: config.streamWorkers,
          config: { ...config, natsUrl: natsServers },
          log: logOf('workers'),
        })
      : undefined
  const role: NodeRole = workers ? 'api' : config.role

  // The stream stage's state: the processor and alerting's rolling aggregate, which follows it (fed
  // by the replay at start and by the consumer below, so after a restart it is rebuilt exactly; it
  // keeps what the tenant's rules reach back to). Snapshots hold both (stream/checkpoints.ts).
  const alertRules = await openRuleStore(nc, { replicas: config.jetstreamReplicas })
  await alertRules.preload()
  const newState = () => {
    const processor = createProcessor({ dedupHorizonMs: config.dedupHorizonMs, latenessMs: config.latenessMs })
    const alerts = createAlertAggregate({ horizonMs: (tenant) => horizonMs(alertRules.peek(tenant)) })
    return { processor, alerts, sections: { processor, alerts }, onApplied: alerts.add }
  }
  const checkpoints = await openCheckpointStore({
    nc,
    dir: join(config.dataDir, 'checkpoints'),
    log: logOf('stream'),
    replicas: config.jetstreamReplicas,
  })
  // This ClickHouse's history id (uncommitted rollup rows go as each partition is taken: takeOn).
  const { history } = await prepareHistory(clickhouse)
  const histories = await openPartitionHistories(nc, { replicas: config.jetstreamReplicas })
  // The partitions this node owns (docs/cluster.md) are loaded into one state as their leases are
  // taken: snapshot + tail (clickhouse/partition-state.ts). A partition serves its tenants here
  // once it is `ready`; any other tenant's request is answered by its owner (app/forward.ts).
  const state = newState()
  const sources = {
    partitions: config.partitions,
    store: checkpoints,
    client: clickhouse,
    history,
    histories,
    jsm,
    js,
    tenants,
  }
  const ready = new Set<number>()
  const partitionOfTenant = (tenant: string) => partitionOf(tenant, config.partitions)
  const owns = (tenant: string) => ready.has(partitionOfTenant(tenant))
  let ownership: Ownership | undefined
  const { processor, alerts: alertAggregate } = state
  const checkpointer = createCheckpointer({
    ...sources,
    newState,
    owned: () => [...ready],
    everyMs: config.checkpointIntervalMs,
    now,
    log: logOf('stream'),
  })
  const live = createLiveState()
  // Hot answers cached; the consumer's change signal invalidates them (query/cache.ts).
  // Expensive reads (HTTP and live recomputation) in per-tenant turns: one tenant cannot take the engine from others.
  const fair = createTenantQueues()
  // Partitions loaded here whose earlier history another node's embedded engine holds.
  const historyElsewhere = new Set<number>()
  const reader = createCachedReader(
    createMetricsReader({
      client: clickhouse,
      live,
      processor,
      busy: fair.busy,
      historyMissing: (tenant) => {
        const partition = partitionOfTenant(tenant)
        if (!historyElsewhere.has(partition)) return undefined
        return `partition ${partition}'s earlier history is in another node's ClickHouse (embedded engine); figures that need history come back when that node owns it again, or with a ClickHouse server (CLICKHOUSE_URL)`
      },
    }),
  )

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
    owns,
    replicas: config.jetstreamReplicas,
  })
  // RFM and intent over in-memory customer state, cached at a bounded cadence (query/customer-analytics.ts).
  const customerViews = createCustomerViews({
    source: processor,
    reader,
    now,
    recomputable: liveChanged.call,
    log: logOf('query'),
  })
  // Cohorts, CAC and payback over the order index, cached like RFM (query/cohort-views.ts).
  const cohortViews = createCohortViews({ source: processor, reader, now })
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
      outbox: await openOutbox(nc, { replicas: config.jetstreamReplicas }),
      logDelivery: alertLog.logDelivery,
      allowPrivate: config.alerts.allowPrivateWebhooks,
      retryBaseMs: config.alerts.webhookRetryBaseMs,
      now,
      log: logOf('alerts'),
    }),
    tenantOf,
    aggregate: alertAggregate,
    connectorsOf: async (tenant) => connectors.connectors.list(tenant),
    inventory: processor,
    allTenants: tenants.ids,
    owns,
    notify: liveChanged.call,
    backlog: consumerBacklog.call,
    timerMs: config.alerts.timerMs,
    now,
    log: logOf('alerts'),
  })
  const publisher = createLivePublisher({
    nc,
    owns,
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
  // Each partition's first landing here is recorded first (stream/partition-state.ts), so a node
  // that takes it over knows whether this ClickHouse holds part of its history.
  const sink = withLandingNoted(
    createClickHouseSink({
      client: clickhouse,
      customer: (tenant, id) => processor.customers(tenant).get(id),
      timezoneOf: async (id) => (await tenantOf(id)).timezone,
      firstFlushId: firstFlushId(await flushEpoch(nc)),
      log: logOf('clickhouse'),
    }),
    { histories, history, partitions: config.partitions },
  )
  const consumer = createStreamConsumer({
    js,
    jsm,
    processor,
    live,
    sink,
    tenants,
    partitionCount: config.partitions,
    partitions: [],
    // A node paused past a lease (docs/cluster.md) lands and acks nothing more, and stops. A lease
    // not trusted any more by the local clock (a slow renewal) is renewed first: if that succeeds
    // nobody took it meanwhile.
    mayLand: async (partitions) => {
      for (const p of partitions) {
        const lease = ownership?.lease(p)
        if (!lease) return false
        // Unanswered renewals (NATS busy) are tried again until one is answered or the lease is
        // surely gone (a whole TTL without an answer: lease.lost is then set).
        while (!lease.valid()) {
          if (lease.lost || (await lease.renew().catch(() => false))) break
          await new Promise((resolve) => setTimeout(resolve, 200))
        }
        if (lease.lost) return false
      }
      return true
    },
    onFenced: () => fenced(),
    onApplied: (tenant, deltas) => (alertAggregate.add(tenant, deltas), metrics.applied(tenant.id)),
    onDeadLetter: metrics.deadLettered,
    onFlush: metrics.flushed,
    onChange: (tenant) => (
      reader.invalidate(tenant),
      customerViews.changed(tenant),
      cohortViews.changed(tenant),
      publisher.changed(tenant),
      alertEngine.changed(tenant)
    ),
    log: logOf('stream'),
    flushIntervalMs: config.flushIntervalMs,
    now,
  })
  consumerBacklog.set(() => consumer.backlog())
  // Before the consumer: firing alerts are restored before any change is evaluated.
  await alertEngine.start()
  await consumer.start()

  /** A lease lost while this node still worked on it: nothing more may land, so the node stops. */
  const fenced =
    deps.onFenced ??
    (() => {
      log.fatal({}, 'a partition lease was lost (this node was paused past it): stopping; a restart rejoins')
      process.exit(75)
    })
  /** Every tenant of a partition: their cached answers and live topics start over. */
  const touchPartition = async (partition: number) => {
    for (const tenant of (await tenants.ids()).filter(inPartition(partition, config.partitions))) {
      reader.invalidate(tenant)
      customerViews.changed(tenant)
      cohortViews.changed(tenant)
    }
  }
  // Demo traffic (npm start) runs on the node holding the demo tenant's partition, and moves with
  // it; it goes in through this node's own app, as a client's events would.
  const appFetch = lateBound((_request: Request): Response | Promise<Response> => new Response(null, { status: 503 }))
  let demo: { stop(): Promise<void> } | undefined
  let appReady = false
  const startDemo = () => {
    if (demoKey === undefined || !appReady) return
    const apiKey = demoKey
    demo ??= startDemoTraffic({
      send: async (events) => {
        const res = await appFetch.call(
          new Request('http://pulse.internal/v1/events', {
            method: 'POST',
            headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
            body: JSON.stringify(events),
          }),
        )
        if (res.status !== 202) throw new Error(`demo events refused: ${res.status} ${await res.text()}`)
      },
      log: logOf('demo'),
    })
  }
  const stopDemo = async () => {
    const running = demo
    demo = undefined
    await running?.stop()
    if (running) logOf('demo').info({}, 'demo traffic stopped here')
  }
  const taking = new Map<number, Promise<void>>()
  const loadQueue = new PQueue({ concurrency: 1 })
  const loads = { partitions: 0, snapshots: 0, replayed: 0 }
  async function takeOn(partition: number): Promise<void> {
    // Before anything of the partition lands here: its flushes rank above its earlier owners' (clickhouse/flush-ids.ts).
    sink.startFlushIds(firstFlushId(await flushEpoch(nc)))
    const loaded = await loadPartition({ ...sources, partition, state, log: logOf('clickhouse') })
    if (loaded.historyHere) historyElsewhere.delete(partition)
    else historyElsewhere.add(partition)
    loads.partitions++
    loads.snapshots += loaded.snapshot ? 1 : 0
    loads.replayed += loaded.replayed
    await consumer.addPartition(partition)
    await touchPartition(partition)
    ready.add(partition)
    const inP = inPartition(partition, config.partitions)
    await connectors.acquired(partition)
    await alertEngine.acquired(inP)
    if (inP(DEMO_TENANT.id)) startDemo()
    logOf('stream').info(
      {
        partition,
        snapshot_seq: loaded.snapshot?.last_seq,
        replayed: loaded.replayed,
        history_here: loaded.historyHere,
      },
      'partition loaded',
    )
  }
  let stopping = false
  async function handOver(partition: number, reason: string): Promise<void> {
    ready.delete(partition)
    await taking.get(partition)?.catch(() => {})
    taking.delete(partition)
    if (reason !== 'released') {
      log.error({ partition, reason }, 'partition lease lost while this node held it')
      return fenced()
    }
    if (stopping) return // the consumer has stopped and landed everything
    historyElsewhere.delete(partition)
    const inP = inPartition(partition, config.partitions)
    if (inP(DEMO_TENANT.id)) await stopDemo()
    await connectors.released(partition)
    await consumer.removePartition(partition) // lands and acks what was applied
    publisher.handedOver(inP)
    dropPartition(state, partition, config.partitions)
    await touchPartition(partition)
    logOf('stream').info({ partition }, 'partition handed over')
  }
  // Leases on a connection of their own: a renewal never waits behind a flood of event publishes.
  const controlNc = await connect({ servers: natsServers.split(','), maxReconnectAttempts: -1, noAsyncTraces: true })
  ownership = await createOwnership({
    nc: controlNc,
    nodeId: config.nodeId,
    partitions: config.partitions,
    ttlMs: config.leaseTtlMs,
    renewMs: Math.floor(config.leaseTtlMs / 3),
    role,
    ownIdIsMine: config.nodeIdIsMine,
    replicas: config.jetstreamReplicas,
    peers: deps.peers,
    // Loaded in the background, one at a time: a long load must not hold up the renewal of the
    // node's other leases, and sixteen at once would only compete for NATS and ClickHouse.
    onAcquired: (partition) =>
      void taking.set(
        partition,
        loadQueue
          .add(() => takeOn(partition))
          .catch(async (err) => {
            log.error({ err, partition }, 'a partition could not be loaded: handed back, to be taken again')
            ready.delete(partition)
            taking.delete(partition)
            dropPartition(state, partition, config.partitions)
            await consumer.removePartition(partition).catch(() => {})
            ownership?.release(partition)
          }),
      ),
    onLost: handOver,
    log: logOf('stream'),
  })
  // Before anyone is answered: every partition has an owner (a crashed node's leases age out
  // first), and those taken here are loaded; this process's worker threads have loaded theirs.
  await workers?.ready
  await ownership.firstTick
  while (ownership.owners().some((owner) => owner === undefined) || taking.size > ready.size)
    await new Promise((resolve) => setTimeout(resolve, 50))
  // With worker threads, what they loaded (each logs its own line too).
  for (const theirs of (await workers?.ask('loads')) ?? []) {
    loads.partitions += theirs.partitions
    loads.snapshots += theirs.snapshots
    loads.replayed += theirs.replayed
  }
  log.info(
    { node: config.nodeId, owned: [...ready].sort((a, b) => a - b), ...loads },
    'state loaded: snapshots and later history replayed',
  )

  const app = new Hono()
  app.use('*', metrics.countRequests())
  app.use('*', bodyLimits())
  // A tenant's request is answered where its partition's state is (app/forward.ts); Shopify's
  // webhooks name their tenant by its shop.
  const bearer = bearerTenant(tenants)
  const forward = forwardTo({ nc, nodeId: config.nodeId, timeoutMs: 30_000 })
  app.use(
    '/v1/*',
    forwardMiddleware({
      tenantOfRequest: async (c) => {
        if (c.req.path === SHOPIFY_WEBHOOK_PATH)
          return (await tenants.byShopDomain((c.req.header('x-shopify-shop-domain') ?? '').trim().toLowerCase()))?.id
        // The admin's reprocessing of a tenant runs where its events are archived and published from.
        if (c.req.path === REPROCESS_PATH && c.req.method === 'POST')
          return (await c.req.raw
            .clone()
            .json()
            .then((body) => (typeof body?.tenant === 'string' ? body.tenant : undefined))
            .catch(() => undefined)) as string | undefined
        return bearer(c)
      },
      ownerOf: (tenant) => {
        const partition = partitionOfTenant(tenant)
        if (ready.has(partition)) return { partition, owner: config.nodeId }
        const owner = ownership?.owners()[partition]
        // Held here but still loading: not answerable yet, by anyone.
        return { partition, owner: owner === config.nodeId ? undefined : owner }
      },
      self: config.nodeId,
      forward,
    }),
  )
  // Analysts' SQL reads this node's ClickHouse only: refused while part of the tenant's history is elsewhere.
  const sqlTenant = bearerTenant(tenants)
  app.use('/v1/sql', async (c, next) => {
    const tenant = await sqlTenant(c)
    if (tenant !== undefined && historyElsewhere.has(partitionOfTenant(tenant)))
      throw new HttpError(
        503,
        'history_unavailable',
        `partition ${partitionOfTenant(tenant)}'s earlier history is in another node's ClickHouse`,
      )
    return next()
  })
  app.onError((err, c) => {
    if (err instanceof HttpError) return c.json(errorBody(err.code, err.message, err.details), err.status)
    if (err instanceof PayloadTooLargeError) return c.json(errorBody('payload_too_large', err.message), 413)
    log.error({ stage: 'http', method: c.req.method, path: c.req.path, err }, 'unexpected error')
    return c.json(errorBody('internal', 'internal error'), 500)
  })
  app.notFound((c) => c.json(errorBody('not_found', `no route ${c.req.method} ${c.req.path}`), 404))
  // This thread's flushes and those of its worker threads.
  const streamProbe = async () => {
    const states = [consumer.flushHealth(), ...((await workers?.ask('flushHealth')) ?? [])]
    for (const state of states) await flushProbe(() => state, now)()
  }
  const health = healthRoute({
    nats: async () => void (await nc.flush()),
    clickhouse: async () => void (await clickhouse.query({ query: 'SELECT 1' })).text(),
    stream: streamProbe,
  })
  app.route('/', health)
  // One scrape per process: the worker threads' counters added in.
  const metricsRoute = metrics.route(config.adminToken, async () => (await workers?.ask('metrics')) ?? [])
  app.route('/', metricsRoute)
  // An operator's checkpoint holds everything applied so far: what is applied is landed first. It is
  // taken by every stream node (threads and processes alike, asked over NATS), each of its own partitions.
  const checkpointHere = async () => (await consumer.flush(), checkpointer.checkpoint())
  app.route(
    '/',
    checkpointRoute({
      adminToken: config.adminToken,
      self: config.nodeId,
      here: role === 'api' ? undefined : checkpointHere,
      others: () =>
        (ownership?.nodes() ?? []).filter((n) => n.role !== 'api' && n.id !== config.nodeId).map((n) => n.id),
      forwarded: (request) => request.headers.has(FORWARDED_BY),
      // A node's first checkpoint replays its partitions' whole history: minutes at a million events.
      forward: forwardTo({ nc, nodeId: config.nodeId, timeoutMs: CHECKPOINT_TIMEOUT_MS }),
    }),
  )
  app.route(
    '/',
    clusterRoute({
      adminToken: config.adminToken,
      status: async () => {
        const snapshots = await checkpoints.byScope()
        const listed = Array.from({ length: config.partitions }, (_, p) => snapshots.get(scopeOf(p))?.[0])
        const owners = ownership?.owners() ?? []
        const lag = consumer.lagByPartition()
        const pending = await pendingByPartition(jsm, config.partitions)
        return {
          node: config.nodeId,
          partitions: config.partitions,
          nodes: ownership?.nodes() ?? [],
          partition_owners: Array.from({ length: config.partitions }, (_, p) => {
            const mine = owners[p] === config.nodeId
            return {
              partition: p,
              owner: owners[p] ?? null,
              ready: mine ? ready.has(p) : null,
              lag_messages: mine ? (lag.get(p) ?? 0) : pending[p],
              last_checkpoint: listed[p] ? { last_seq: listed[p].last_seq, created_at: listed[p].created_at } : null,
            }
          }),
        }
      },
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
  app.route('/', orderRoutes({ tenants, source: processor }))
  app.route('/', inventoryRoutes({ tenants, source: processor }))
  app.route('/', cohortRoutes({ tenants, views: cohortViews, queue: fair }))
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
  appFetch.set(app.fetch)
  appReady = true
  if (ready.has(partitionOfTenant(DEMO_TENANT.id))) startDemo()
  // Other nodes' requests for the partitions held here come over NATS, on every node.
  const forwarded = serveForwarded({ nc, nodeId: config.nodeId, fetch: app.fetch, log: logOf('http') })
  // A `worker` process serves only its health and metrics on its port (for probes and Prometheus).
  const served =
    deps.listen === false
      ? undefined
      : await listen(
          config.role === 'worker' ? new Hono().route('/', health).route('/', metricsRoute).fetch : app.fetch,
          config.host,
          config.port,
        )
  if (served && config.role !== 'worker') hub.attach(served.server)

  return {
    /** Where this node serves HTTP (not on a stream worker thread, which has no port). */
    get url(): string {
      if (!served) throw new Error('this node serves no HTTP')
      return served.url
    },
    tenants,
    demoKey,
    /** The Hono app, for its route list (test/integration/openapi.test.ts). */
    app,
    /** What the main thread asks of a worker thread (app/workers.ts). */
    async answer<K extends keyof WorkerAnswers>(what: K): Promise<WorkerAnswers[K]> {
      const answers: WorkerAnswers = {
        metrics: what === 'metrics' ? await metrics.registry.getMetricsAsJSON() : [],
        flushHealth: consumer.flushHealth(),
        loads,
      }
      return answers[what]
    },
    async stop(): Promise<void> {
      await stopDemo()
      await hub.close()
      if (served) {
        served.server.closeAllConnections()
        await new Promise<void>((resolve) => served.server.close(() => resolve()))
      }
      // The threads land, ack and hand back their partitions while NATS and ClickHouse are still here.
      await workers?.stop()
      await connectors.stop()
      await alertEngine.stop()
      stopping = true
      await consumer.stop() // lands and acks what was applied...
      await ownership?.stop() // ...before the partitions are handed back
      await controlNc.drain()
      await checkpointer.stop()
      publisher.stop()
      await forwarded.stop()
      await nc.drain()
      await sqlEngine.close()
      await clickhouse.close()
      await embeddedNats?.stop()
    },
  }
}

export type Pulse = Awaited<ReturnType<typeof startPulse>>
