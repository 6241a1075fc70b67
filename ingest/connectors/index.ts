// The connector stage put together: the raw archive (stream + archiver), the page pipeline, the
// pollers and the routes (Shopify webhook, /v1/connectors, /v1/admin/reprocess). The app starts
// it once ClickHouse is migrated and stops it before NATS drains.
import type { ClickHouseClient } from '@clickhouse/client'
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/transport-node'
import { Hono } from 'hono'
import type { Log } from '../../common/log.ts'
import type { Settings } from '../../common/settings.ts'
import { connectorsRoute } from '../connectors-route.ts'
import { createPipelinedPublisher } from '../publisher.ts'
import { reprocessRoute } from '../reprocess-route.ts'
import { openInventoryItemStore, prepareShopify } from '../shopify/inventory-items.ts'
import { mapShopify } from '../shopify/map.ts'
import { shopifyWebhookRoute } from '../shopify/webhook-route.ts'
import type { TenantRegistry } from '../../tenants/index.ts'
import { createArchiver, ensureRawStream } from './archive.ts'
import { partitionOf } from '../streams.ts'
import { createSealer } from './crypto.ts'
import { createPagePipeline } from './pages.ts'
import { moveOldRawLayout } from './raw-layout.ts'
import { createConnectorService } from './poller.ts'
import { reprocess } from './reprocess.ts'
import { SOURCES } from './sources/index.ts'
import { openConnectorStore } from './store.ts'
import type { PageMapper } from './types.ts'

export interface ConnectorsOptions {
  nc: NatsConnection
  js: JetStreamClient
  jsm: JetStreamManager
  clickhouse: ClickHouseClient
  tenants: TenantRegistry
  /** The deployment's partition count (config.partitions). */
  partitions: number
  /** The tenant's settings (marketing unit costs, currency rates). */
  settingsOf: (tenant: string) => Promise<Settings>
  /** Whether the stream stage already counted an event id (duplicates past JetStream's window). */
  alreadySeen?: (tenant: string, id: string) => boolean
  now: () => number
  log: Log
  /** Told of every dead letter of a connector's pages (for /metrics). */
  onDeadLetter?: (tenant: string, reason: string) => void
  /** Keys the sealing of connector credentials. */
  secretKey: string
  adminToken: string
  /** First back-off step of the pollers' retries. */
  retryBaseMs: number
  /** API addresses may be loopback, private or link-local (CONNECTOR_ALLOW_PRIVATE). */
  allowPrivate: boolean
  /** Whether a ClickHouse insert failed for good (the raw archive skips such payloads). */
  isPermanentInsertError?: (err: unknown) => boolean
  /** Whether this process owns the tenant's partition: only the owner polls its connectors (default: all). */
  owns?: (tenant: string) => boolean
  /** JETSTREAM_REPLICAS of the raw archive stream and the connectors' buckets (common/jetstream-replicas.ts). */
  replicas?: number
}

export async function startConnectors(options: ConnectorsOptions) {
  const { nc, js, jsm, clickhouse, tenants, now, log } = options
  await ensureRawStream(jsm, options.replicas)
  await moveOldRawLayout({ nc, jsm, partitions: options.partitions, log })
  const mappers: Record<string, PageMapper> = { shopify: mapShopify }
  for (const source of Object.values(SOURCES)) mappers[source.type] = source.map
  const pages = createPagePipeline({
    publisher: createPipelinedPublisher(nc),
    partitions: options.partitions,
    mappers,
    // Shopify's products record their inventory items' SKUs; inventory levels load them (KV, every node).
    prepare: { shopify: prepareShopify(await openInventoryItemStore(nc, { replicas: options.replicas })) },
    settingsOf: options.settingsOf,
    alreadySeen: options.alreadySeen,
    now,
    log,
    onDeadLetter: options.onDeadLetter,
  })
  // Each partition's raw payloads are archived by its owner, from acquired() to released().
  const archiver = createArchiver({
    js,
    jsm,
    client: clickhouse,
    log,
    partitions: options.partitions,
    isPermanent: options.isPermanentInsertError,
  })
  const service = createConnectorService({
    store: await openConnectorStore(nc, { replicas: options.replicas }),
    sealer: createSealer(options.secretKey),
    pages,
    sources: SOURCES,
    tenantOf: (id) => tenants.get(id),
    now,
    log,
    retryBaseMs: options.retryBaseMs,
    allowPrivate: options.allowPrivate,
  })
  await service.start(options.owns)

  const routes = new Hono()
  routes.route('/', shopifyWebhookRoute({ tenantOfShop: (shop) => tenants.byShopDomain(shop), pages, now }))
  routes.route('/', connectorsRoute({ tenants, connectors: service }))
  routes.route(
    '/',
    reprocessRoute({
      tenants,
      adminToken: options.adminToken,
      run: (tenant, q) => reprocess({ client: clickhouse, archiver, pages }, tenant, q),
      log,
    }),
  )

  const inPartition = (partition: number) => (tenant: string) => partitionOf(tenant, options.partitions) === partition
  return {
    routes,
    connectors: service,
    /** A partition this process took over: its raw payloads are archived and its connectors polled here from now on. */
    async acquired(partition: number): Promise<void> {
      await archiver.addPartition(partition)
      await service.start(inPartition(partition))
    },
    /** A partition this process gave up: its connectors and its archiver stop here. */
    async released(partition: number): Promise<void> {
      await service.release(inPartition(partition))
      await archiver.removePartition(partition)
    },
    async stop(): Promise<void> {
      await service.stop()
      await archiver.stop()
    },
  }
}

export { CONNECTOR_TYPES, type ConnectorType } from './types.ts'
