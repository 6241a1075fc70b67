// Prometheus metrics (GET /metrics, admin only: per-tenant volumes are nobody else's business).
// One registry per app, made here; the stages get plain recording functions from app/main.ts and
// never see prom-client, and what a component already counts (consumer lag, live clients) is read
// when Prometheus scrapes. Every metric is described in docs/observability.md.
import { Hono, type MiddlewareHandler } from 'hono'
import { routePath } from 'hono/route'
import { isMainThread } from 'node:worker_threads'
import {
  AggregatorRegistry,
  Counter,
  Gauge,
  Histogram,
  type MetricObjectWithValues,
  type MetricValue,
  Registry,
  collectDefaultMetrics,
} from 'prom-client'
import { HttpError } from '../common/errors.ts'
import { registerRoute } from '../common/openapi.ts'
import { requireAdmin } from '../tenants/index.ts'
import type { SqlService } from '../query/sql/index.ts'

registerRoute({
  method: 'get',
  path: '/metrics',
  summary: 'Prometheus metrics: events in, applied and dead-lettered per tenant, lag, flushes, live, SQL, HTTP',
  auth: 'admin',
  responseTypes: ['text/plain'],
})

/** What the metrics read from running components at scrape time. */
export interface MetricSources {
  /** Messages the stream consumer has yet to apply. */
  consumerLag: () => number
  /** The WebSocket hub's counters (push/hub.ts `stats()`). */
  live: () => { clients: number; coalesced: number; cut_off: number; dead_dropped: number }
  /** Unhandled promise rejections (and uncaught exceptions) since start (app/process-errors.ts). */
  unhandledRejections: () => number
}

export function createMetrics(sources: MetricSources) {
  const registry = new Registry()
  const registers = [registry]
  // The process's own figures (CPU, memory, event loop) once, from its main thread.
  if (isMainThread) collectDefaultMetrics({ register: registry })

  const eventsAccepted = new Counter({
    name: 'pulse_events_accepted_total',
    help: 'Events accepted by POST /v1/events (confirmed by JetStream, duplicates not counted)',
    labelNames: ['tenant'] as const,
    registers,
  })
  const eventsApplied = new Counter({
    name: 'pulse_events_applied_total',
    help: 'Events the stream consumer applied to live figures',
    labelNames: ['tenant'] as const,
    registers,
  })
  const deadLetters = new Counter({
    name: 'pulse_dead_letters_total',
    help: 'Messages set aside on the dead-letter stream',
    labelNames: ['tenant', 'reason'] as const,
    registers,
  })
  new Gauge({
    name: 'pulse_consumer_pending_messages',
    help: 'Messages in the events stream not yet applied by the stream consumer',
    registers,
    collect() {
      this.set(sources.consumerLag())
    },
  })
  const flushDuration = new Histogram({
    name: 'pulse_flush_duration_seconds',
    help: 'Time to land one batch in ClickHouse (successful flushes)',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  })
  const flushFailures = new Counter({
    name: 'pulse_flush_failures_total',
    help: 'Flush attempts that failed and will be retried',
    registers,
  })
  new Gauge({
    name: 'pulse_live_clients',
    help: 'WebSocket clients connected to /v1/live',
    registers,
    collect() {
      this.set(sources.live().clients)
    },
  })
  // The hub counts these itself; a counter set from its reading at each scrape keeps hub.ts free of prom-client.
  new Counter({
    name: 'pulse_live_dropped_messages_total',
    help: 'Live updates dropped for a slow client (replaced by a newer one of the same topic)',
    registers,
    collect() {
      this.reset()
      this.inc(sources.live().coalesced)
    },
  })
  new Counter({
    name: 'pulse_live_dropped_connections_total',
    help: 'WebSocket clients cut off by the hub',
    labelNames: ['reason'] as const,
    registers,
    collect() {
      const live = sources.live()
      this.reset()
      this.inc({ reason: 'slow' }, live.cut_off)
      this.inc({ reason: 'unresponsive' }, live.dead_dropped)
    },
  })
  const sqlQueries = new Counter({
    name: 'pulse_sql_queries_total',
    help: 'Queries received by POST /v1/sql',
    labelNames: ['tenant'] as const,
    registers,
  })
  const sqlRefusals = new Counter({
    name: 'pulse_sql_refusals_total',
    help: 'Queries of POST /v1/sql answered with an error, by error code',
    labelNames: ['code'] as const,
    registers,
  })
  const httpRequests = new Counter({
    name: 'pulse_http_requests_total',
    help: 'HTTP requests answered, by route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers,
  })
  new Counter({
    name: 'pulse_unhandled_rejections_total',
    help: 'Promise rejections nothing handled, and uncaught exceptions (each one is a bug)',
    registers,
    collect() {
      this.reset()
      this.inc(sources.unhandledRejections())
    },
  })

  return {
    registry,
    accepted: (tenant: string, count: number) => eventsAccepted.inc({ tenant }, count),
    applied: (tenant: string) => eventsApplied.inc({ tenant }),
    deadLettered: (tenant: string, reason: string) => deadLetters.inc({ tenant, reason }),
    flushed: (seconds: number, landed: boolean) => (landed ? flushDuration.observe(seconds) : flushFailures.inc()),
    /** The SQL service, counting its queries and its refusals (by the code of the error it throws). */
    countSql(sql: SqlService): SqlService {
      return {
        ...sql,
        async run(tenant, ...rest) {
          sqlQueries.inc({ tenant })
          try {
            return await sql.run(tenant, ...rest)
          } catch (err) {
            sqlRefusals.inc({ code: err instanceof HttpError ? err.code : 'internal' })
            throw err
          }
        },
      }
    },
    /** Hono middleware counting every answer by its route pattern (not the path: ids would explode the series). */
    countRequests(): MiddlewareHandler {
      return async (c, next) => {
        await next()
        httpRequests.inc({ method: c.req.method, route: routePath(c), status: String(c.res.status) })
      }
    },
    /**
     * GET /metrics in Prometheus' text format, behind the admin token; `more` gives the metrics of
     * this process's worker threads, summed in (one scrape per process).
     */
    route: (adminToken: string, more?: () => Promise<MetricObjectWithValues<MetricValue<string>>[][]>) =>
      new Hono().get('/metrics', requireAdmin(adminToken), async (c) => {
        const others = (await more?.()) ?? []
        const text =
          others.length === 0
            ? await registry.metrics()
            : await AggregatorRegistry.aggregate([await registry.getMetricsAsJSON(), ...others]).metrics()
        return c.body(text, 200, { 'content-type': registry.contentType })
      }),
  }
}

export type Metrics = ReturnType<typeof createMetrics>
