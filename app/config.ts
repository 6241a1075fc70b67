// Configuration: environment variables, read and validated once at start. Errors name the variable.
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { availableParallelism, hostname } from 'node:os'
import { join, resolve } from 'node:path'
import { z } from 'zod'
import { MAX_REPLICAS } from '../common/jetstream-replicas.ts'
import { LOG_LEVELS, type LogLevel } from '../common/log.ts'

export const DEFAULT_PARTITIONS = 16

/** `all`: HTTP and partitions; `api`: HTTP, every tenant's request answered by its partition's owner; `worker`: partitions only. */
export const NODE_ROLES = ['all', 'api', 'worker'] as const
export type NodeRole = (typeof NODE_ROLES)[number]

const flag = z.enum(['0', '1', 'true', 'false', 'yes', 'no']).transform((v) => v === '1' || v === 'true' || v === 'yes')

const schema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATA_DIR: z.string().min(1).default('./.data'),
  /** One server's URL, or a cluster's: several, comma-separated (the client picks one and fails over). */
  NATS_URL: z
    .string()
    .regex(
      /^(nats|tls|ws|wss):\/\/[^\s,]+(,(nats|tls|ws|wss):\/\/[^\s,]+)*$/,
      'expected a URL like nats://localhost:4222, or several separated by commas',
    )
    .optional(),
  CLICKHOUSE_URL: z.url({ protocol: /^https?$/, error: 'expected a URL like http://localhost:8123' }).optional(),
  CLICKHOUSE_USER: z.string().optional(),
  CLICKHOUSE_PASSWORD: z.string().optional(),
  ADMIN_TOKEN: z.string().min(16, 'use at least 16 characters').optional(),
  SECRET_KEY: z.string().min(32, 'use at least 32 characters').optional(),
  DEMO: flag.optional(),
  /**
   * A repeated event id within this many hours of its first arrival is a duplicate (≥ 72: Shopify retries for 48 h).
   */
  DEDUP_HORIZON_HOURS: z.coerce.number().min(72).default(168),
  /** JetStream's own Nats-Msg-Id window; our dedup covers the rest of the horizon. */
  JETSTREAM_DUPLICATE_WINDOW_SECONDS: z.coerce.number().min(1).max(86_400).default(120),
  /**
   * Servers of a JetStream cluster that keep each stream, KV bucket and object store (common/jetstream-replicas.ts).
   * Unset: new ones get 1 and existing ones keep theirs, so a node started without it never scales a cluster down.
   */
  JETSTREAM_REPLICAS: z.coerce.number().int().min(1).max(MAX_REPLICAS).optional(),
  ALLOWED_LATENESS_SECONDS: z.coerce.number().min(0).default(300),
  /** Partitions of the event subjects; fixed at a deployment's first start (ingest/partitions.ts). */
  PARTITIONS: z.coerce.number().int().min(1).max(1024).default(DEFAULT_PARTITIONS),
  /** This node's name among the nodes on one NATS (default: made at the first start, kept in DATA_DIR/node-id). */
  NODE_ID: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'expected 1-64 letters, digits, - or _')
    .optional(),
  /** What this process does: `all` (HTTP and partitions), `api` (HTTP only), `worker` (partitions only). */
  PULSE_ROLE: z.enum(NODE_ROLES).default('all'),
  /**
   * Worker threads running this process's partitions (default: cores − 1, at least 1); 0 runs them on
   * the main thread beside HTTP. Ignored by an `api` node.
   */
  STREAM_WORKERS: z.coerce.number().int().min(0).max(64).optional(),
  /** How long a partition's lease lasts without renewal: how soon another node takes over from a dead one. */
  LEASE_TTL_MS: z.coerce.number().int().min(500).max(300_000).default(10_000),
  FLUSH_INTERVAL_MS: z.coerce.number().int().min(10).max(60_000).default(250),
  /** How often the stream state is checkpointed when flushes landed since the last one (0: never). */
  CHECKPOINT_INTERVAL_SECONDS: z.coerce.number().int().min(0).max(86_400).default(300),
  LIVE_COALESCE_MS: z.coerce.number().int().min(10).max(60_000).default(250),
  /** First back-off step of the connectors' retries after a 5xx or a timeout (doubles, with jitter). */
  CONNECTOR_RETRY_BASE_MS: z.coerce.number().int().min(1).max(60_000).default(1_000),
  /** Connectors' API URLs may reach loopback, private and link-local addresses (off: refused as SSRF). */
  CONNECTOR_ALLOW_PRIVATE: flag.default(false),
  /** WebSocket ping interval; a client that has not answered the previous ping is dropped. */
  LIVE_HEARTBEAT_MS: z.coerce.number().int().min(100).max(3_600_000).default(15_000),
  /** Alert webhooks may target loopback, private and link-local addresses (off: refused as SSRF). */
  ALERT_WEBHOOK_ALLOW_PRIVATE: flag.default(false),
  /** First back-off step of alert webhook retries (doubles per attempt, with jitter, at most 6 attempts). */
  ALERT_WEBHOOK_RETRY_BASE_MS: z.coerce.number().int().min(10).max(300_000).default(1_000),
  /** How often the absence rules (GMV stall, connector failing) run against the clock. */
  ALERT_TIMER_MS: z.coerce.number().int().min(50).max(3_600_000).default(30_000),
  /** The least severe log lines written (docs/observability.md). */
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
})

export interface Config {
  port: number
  host: string
  dataDir: string
  /** One URL or several, comma-separated: give the client `natsUrl.split(',')`. */
  natsUrl?: string
  clickhouse: { url?: string; username?: string; password?: string }
  adminToken: string
  /** True when the admin token was generated by this start: print it once. */
  adminTokenIsNew: boolean
  secretKey: string
  demo: boolean
  dedupHorizonMs: number
  jetstreamDuplicateWindowMs: number
  /** JETSTREAM_REPLICAS: passed to everything that creates a stream, KV bucket or object store. */
  jetstreamReplicas?: number
  /** Partitions of the event subjects `pulse.events.<partition>.<tenant>.<type>`. */
  partitions: number
  role: NodeRole
  /** Worker threads running the partitions (0: the main thread does). */
  streamWorkers: number
  nodeId: string
  /** The id is kept in DATA_DIR (one process per DATA_DIR): a live key under it is an earlier run's. */
  nodeIdIsMine: boolean
  leaseTtlMs: number
  latenessMs: number
  flushIntervalMs: number
  checkpointIntervalMs: number
  liveCoalesceMs: number
  connectorRetryBaseMs: number
  connectorAllowPrivate: boolean
  liveHeartbeatMs: number
  alerts: { allowPrivateWebhooks: boolean; webhookRetryBaseMs: number; timerMs: number }
  logLevel: LogLevel
}

export class ConfigError extends Error {
  override name = 'ConfigError'
}

export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  defaults: { demo: boolean } = { demo: false },
): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''))
  const parsed = schema.safeParse(present)
  if (!parsed.success) {
    const lines = parsed.error.issues.map(
      (i) => `  ${i.path.join('.')}: ${i.message} (got ${JSON.stringify(present[String(i.path[0])])})`,
    )
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`)
  }
  const e = parsed.data
  const dataDir = resolve(e.DATA_DIR)
  mkdirSync(dataDir, { recursive: true })
  const secrets = loadSecrets(dataDir)
  return {
    port: e.PORT,
    host: e.HOST,
    dataDir,
    natsUrl: e.NATS_URL,
    clickhouse: { url: e.CLICKHOUSE_URL, username: e.CLICKHOUSE_USER, password: e.CLICKHOUSE_PASSWORD },
    adminToken: e.ADMIN_TOKEN ?? secrets.admin_token,
    adminTokenIsNew: e.ADMIN_TOKEN === undefined && secrets.generated,
    secretKey: e.SECRET_KEY ?? secrets.secret_key,
    demo: e.DEMO ?? defaults.demo,
    dedupHorizonMs: e.DEDUP_HORIZON_HOURS * 3_600_000,
    jetstreamDuplicateWindowMs: e.JETSTREAM_DUPLICATE_WINDOW_SECONDS * 1000,
    jetstreamReplicas: e.JETSTREAM_REPLICAS,
    partitions: e.PARTITIONS,
    role: e.PULSE_ROLE,
    streamWorkers: e.STREAM_WORKERS ?? Math.max(1, availableParallelism() - 1),
    nodeId: e.NODE_ID ?? nodeIdOf(dataDir),
    nodeIdIsMine: e.NODE_ID === undefined,
    leaseTtlMs: e.LEASE_TTL_MS,
    latenessMs: e.ALLOWED_LATENESS_SECONDS * 1000,
    flushIntervalMs: e.FLUSH_INTERVAL_MS,
    checkpointIntervalMs: e.CHECKPOINT_INTERVAL_SECONDS * 1000,
    liveCoalesceMs: e.LIVE_COALESCE_MS,
    connectorRetryBaseMs: e.CONNECTOR_RETRY_BASE_MS,
    connectorAllowPrivate: e.CONNECTOR_ALLOW_PRIVATE,
    liveHeartbeatMs: e.LIVE_HEARTBEAT_MS,
    alerts: {
      allowPrivateWebhooks: e.ALERT_WEBHOOK_ALLOW_PRIVATE,
      webhookRetryBaseMs: e.ALERT_WEBHOOK_RETRY_BASE_MS,
      timerMs: e.ALERT_TIMER_MS,
    },
    logLevel: e.LOG_LEVEL,
  }
}

/** This node's id, made at its first start (host name and a random suffix) and kept in DATA_DIR. */
function nodeIdOf(dataDir: string): string {
  const file = join(dataDir, 'node-id')
  if (existsSync(file)) return readFileSync(file, 'utf8').trim()
  const id = `${hostname()
    .replace(/[^A-Za-z0-9_-]/g, '-')
    .slice(0, 40)}-${randomBytes(4).toString('hex')}`
  writeFileSync(file, id)
  return id
}

/** Admin token and secret key kept in DATA_DIR when not given, generated at first start. */
function loadSecrets(dataDir: string): { admin_token: string; secret_key: string; generated: boolean } {
  const file = join(dataDir, 'secrets.json')
  if (existsSync(file)) return { ...JSON.parse(readFileSync(file, 'utf8')), generated: false }
  const secrets = {
    admin_token: `adm_${randomBytes(24).toString('base64url')}`,
    secret_key: randomBytes(32).toString('base64url'),
  }
  writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 })
  return { ...secrets, generated: true }
}
