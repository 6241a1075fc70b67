// The poller core: per-connector schedules, one sync at a time per connector, a few at a time per
// tenant and overall, the cursor and status persisted after each sync, and the per-connector
// status of GET /v1/connectors. Sources only say how to read their API (sources/*.ts).
// Removing a connector cancels its running sync (the call in flight, any wait and the page loop).
import { randomBytes } from 'node:crypto'
import PQueue from 'p-queue'
import { messageOf } from '../../common/errors.ts'
import type { Log } from '../../common/log.ts'
import type { Resolver } from '../../common/url-guard.ts'
import type { TenantRef } from '../../tenants/index.ts'
import type { Sealer } from './crypto.ts'
import { createHttp } from './http.ts'
import type { PagePipeline } from './pages.ts'
import type { ConnectorRecord, ConnectorState, ConnectorStore } from './store.ts'
import { urlProblems } from './targets.ts'
import type { ConnectorType, Source, SyncContext } from './types.ts'

export const DEFAULT_EVERY_SECONDS = 900

export interface ConnectorServiceOptions {
  store: ConnectorStore
  sealer: Sealer
  pages: PagePipeline
  sources: Record<ConnectorType, Source>
  tenantOf: (id: string) => Promise<TenantRef | undefined>
  now: () => number
  log: Log
  /** First back-off step after a 5xx or a timeout. */
  retryBaseMs: number
  /** API addresses may be loopback, private or link-local (CONNECTOR_ALLOW_PRIVATE). */
  allowPrivate: boolean
  resolve?: Resolver
  maxConcurrent?: number
  maxPerTenant?: number
}

export class ConnectorConfigError extends Error {
  override name = 'ConnectorConfigError'
  constructor(
    message: string,
    readonly details: { path: string; message: string }[],
    options?: ErrorOptions,
  ) {
    super(message, options)
  }
}

export interface ConnectorStatus {
  id: string
  type: ConnectorType
  account: string
  every_seconds: number
  created_at: string
  running: boolean
  last_attempt_at: string | null
  last_success_at: string | null
  last_error: string | null
  events_produced: number
  duplicates: number
  dead_letters: number
  pages: number
  syncs: number
  /** Seconds since the last successful sync: how old the newest data from this source may be. */
  lag_seconds: number | null
  next_sync_at: string | null
}

/** Why a sync stopped early. */
export class SyncCancelledError extends Error {
  override name = 'SyncCancelledError'
}

interface Runtime {
  record: ConnectorRecord
  timer?: NodeJS.Timeout
  nextAt?: number
  running?: Promise<void>
  /** Cancels the running sync. */
  cancel?: AbortController
  again: boolean
  removed: boolean
}

export function createConnectorService(options: ConnectorServiceOptions) {
  const { store, sealer, pages, sources, now, log } = options
  const runtimes = new Map<string, Runtime>()
  // A few syncs at a time overall, and fewer per tenant so that one tenant cannot take every turn.
  const everyone = new PQueue({ concurrency: options.maxConcurrent ?? 4 })
  const perTenant = new Map<string, PQueue>()
  let stopped = false

  const keyOf = (tenant: string, id: string) => `${tenant}/${id}`
  const iso = (ms: number) => new Date(ms).toISOString()
  const fieldsOf = (record: ConnectorRecord) => ({
    tenant: record.tenant,
    connector: record.type,
    connector_id: record.id,
  })

  function tenantQueue(tenant: string): PQueue {
    let queue = perTenant.get(tenant)
    if (!queue) perTenant.set(tenant, (queue = new PQueue({ concurrency: options.maxPerTenant ?? 2 })))
    return queue
  }

  function schedule(rt: Runtime, delayMs: number): void {
    clearTimeout(rt.timer)
    if (stopped || rt.removed) return
    rt.nextAt = now() + delayMs
    rt.timer = setTimeout(() => void sync(rt), delayMs)
    rt.timer.unref()
  }

  function sync(rt: Runtime): Promise<void> {
    if (rt.running) {
      rt.again = true
      return rt.running
    }
    rt.running = run(rt).finally(() => {
      rt.running = undefined
      if (rt.again && !rt.removed && !stopped) {
        rt.again = false
        void sync(rt)
      }
    })
    return rt.running
  }

  /** One sync in its turn. Whatever fails, the turns are given back and the next sync is scheduled. */
  async function run(rt: Runtime): Promise<void> {
    const { record } = rt
    rt.cancel = new AbortController()
    const { signal } = rt.cancel
    try {
      // The tenant's turn, then a global one; p-queue gives each back when the sync settles.
      await tenantQueue(record.tenant).add(() => everyone.add(() => syncInTurn(rt, signal)))
    } catch (err) {
      // The sync's own failures are its last_error; what gets here is its state not read or saved.
      log.error({ ...fieldsOf(record), err }, 'connector state not read or saved')
    } finally {
      if (!rt.removed) schedule(rt, record.every_seconds * 1000)
    }
  }

  async function syncInTurn(rt: Runtime, signal: AbortSignal): Promise<void> {
    const { record } = rt
    const state = await store.getState(record.tenant, record.id)
    const startedAt = now()
    const counts = { events: 0, duplicates: 0, deadLetters: 0, pages: 0 }
    const which = fieldsOf(record)
    try {
      signal.throwIfAborted() // removed while waiting for its turn
      const tenant = await options.tenantOf(record.tenant)
      if (!tenant) throw new Error(`tenant ${record.tenant} is gone`)
      const source = sources[record.type]
      const context = keyOf(record.tenant, record.id)
      const config = JSON.parse(sealer.open(record.sealed_config, context))
      const targets = { allowPrivate: options.allowPrivate, resolve: options.resolve }
      // Connectors stored before their URLs were checked at creation are held to the same rules.
      const problems = await urlProblems(config, targets)
      if (problems.length > 0) throw new Error(problems.map((p) => `${p.path}: ${p.message}`).join('; '))
      const hooks = { usage: source.usage?.bind(source), retryDelay: source.retryDelay?.bind(source) }
      const http = createHttp({ retryBaseMs: options.retryBaseMs, ...targets, signal, now }, hooks)
      const ctx: SyncContext<unknown> = {
        config,
        cursor: state.cursor,
        tenant,
        now,
        request: http.request,
        page: async (kind, meta, body) => {
          signal.throwIfAborted()
          const out = await pages.process(
            tenant,
            { connector: record.type, connectorId: record.id, kind, meta, body, receivedAt: now() },
            { archive: true },
          )
          counts.events += out.accepted
          counts.duplicates += out.duplicates
          counts.deadLetters += out.deadLetters
          counts.pages++
          return out.json
        },
        updateConfig: async (config) => {
          signal.throwIfAborted() // a removed connector's record must not be written back
          record.sealed_config = sealer.seal(JSON.stringify(config), context)
          await store.put(record)
        },
      }
      const cursor = await source.sync(ctx)
      state.cursor = cursor
      state.last_success_at = iso(now())
      state.last_error = null
      const { deadLetters, ...rest } = counts
      log.info({ ...which, ...rest, dead_letters: deadLetters }, 'connector synced')
    } catch (err) {
      state.last_error = messageOf(err)
      if (signal.aborted) log.info(which, 'connector sync cancelled: the connector was removed')
      else log.warn({ ...which, error: state.last_error }, 'connector sync failed')
    }
    state.last_attempt_at = iso(startedAt)
    state.events_produced += counts.events
    state.duplicates += counts.duplicates
    state.dead_letters += counts.deadLetters
    state.pages += counts.pages
    state.syncs++
    if (!rt.removed) await store.putState(record.tenant, record.id, state)
  }

  function runtimeOf(tenant: string, id: string): Runtime | undefined {
    return runtimes.get(keyOf(tenant, id))
  }

  async function statusOf(rt: Runtime): Promise<ConnectorStatus> {
    const { record } = rt
    const state: ConnectorState = await store.getState(record.tenant, record.id)
    const config = JSON.parse(sealer.open(record.sealed_config, keyOf(record.tenant, record.id)))
    const lastSuccess = state.last_success_at ? Date.parse(state.last_success_at) : undefined
    return {
      id: record.id,
      type: record.type,
      account: sources[record.type].account(config),
      every_seconds: record.every_seconds,
      created_at: record.created_at,
      running: rt.running !== undefined,
      last_attempt_at: state.last_attempt_at ?? null,
      last_success_at: state.last_success_at ?? null,
      last_error: state.last_error ?? null,
      events_produced: state.events_produced,
      duplicates: state.duplicates,
      dead_letters: state.dead_letters,
      pages: state.pages,
      syncs: state.syncs,
      lag_seconds: lastSuccess === undefined ? null : Math.max(0, Math.round((now() - lastSuccess) / 1000)),
      next_sync_at: rt.nextAt ? iso(rt.nextAt) : null,
    }
  }

  return {
    /**
     * Loads the connectors of the tenants `include` picks (those whose partition this process
     * owns: a rotating refresh token used by two processes would break the connector) and
     * schedules them: overdue ones soon (spread out), others when due. Called again for tenants
     * taken over later.
     */
    async start(include: (tenant: string) => boolean = () => true): Promise<void> {
      for (const record of await store.list()) {
        if (!sources[record.type] || !include(record.tenant) || runtimes.has(keyOf(record.tenant, record.id))) continue
        const rt: Runtime = { record, again: false, removed: false }
        runtimes.set(keyOf(record.tenant, record.id), rt)
        const state = await store.getState(record.tenant, record.id)
        const due = state.last_attempt_at ? Date.parse(state.last_attempt_at) + record.every_seconds * 1000 : now()
        const spread = Math.random() * Math.min(30_000, record.every_seconds * 100)
        schedule(rt, Math.max(0, due - now()) + spread)
      }
    },

    /** Stops the connectors of tenants handed over to another process (a running sync saves its cursor first). */
    async release(tenants: (tenant: string) => boolean): Promise<void> {
      const leaving = [...runtimes.values()].filter((rt) => tenants(rt.record.tenant))
      for (const rt of leaving) {
        rt.removed = true
        clearTimeout(rt.timer)
        runtimes.delete(keyOf(rt.record.tenant, rt.record.id))
        rt.cancel?.abort(new SyncCancelledError(`connector ${rt.record.id} moved to another node`))
      }
      await Promise.all(leaving.map((rt) => rt.running))
    },

    /** Validates and stores a connector (credentials sealed), then starts its first sync. */
    async create(
      tenant: string,
      input: { type: ConnectorType; config: unknown; every_seconds?: number },
    ): Promise<ConnectorRecord> {
      const source = sources[input.type]
      const parsed = source.config.safeParse(input.config)
      if (!parsed.success) {
        throw new ConnectorConfigError(
          `invalid ${input.type} config`,
          parsed.error.issues.map((i) => ({ path: ['config', ...i.path].join('.'), message: i.message })),
        )
      }
      const problems = await urlProblems(parsed.data, { allowPrivate: options.allowPrivate, resolve: options.resolve })
      if (problems.length > 0) {
        const summary = problems.map((p) => `${p.path}: ${p.message}`).join('; ')
        throw new ConnectorConfigError(`invalid ${input.type} config: ${summary}`, problems)
      }
      const id = `con_${randomBytes(9).toString('base64url').replace(/[-_]/g, 'x')}`
      const record: ConnectorRecord = {
        id,
        tenant,
        type: input.type,
        every_seconds: input.every_seconds ?? DEFAULT_EVERY_SECONDS,
        created_at: iso(now()),
        sealed_config: sealer.seal(JSON.stringify(parsed.data), keyOf(tenant, id)),
      }
      await store.put(record)
      const rt: Runtime = { record, again: false, removed: false }
      runtimes.set(keyOf(tenant, id), rt)
      void sync(rt)
      return record
    },

    async list(tenant: string): Promise<ConnectorStatus[]> {
      const mine = [...runtimes.values()].filter((rt) => rt.record.tenant === tenant && !rt.removed)
      return Promise.all(mine.sort((a, b) => (a.record.created_at < b.record.created_at ? -1 : 1)).map(statusOf))
    },

    async status(tenant: string, id: string): Promise<ConnectorStatus | undefined> {
      const rt = runtimeOf(tenant, id)
      return rt && !rt.removed ? statusOf(rt) : undefined
    },

    /** Starts a sync now (or right after the running one); false when there is no such connector. */
    syncNow(tenant: string, id: string): boolean {
      const rt = runtimeOf(tenant, id)
      if (!rt || rt.removed) return false
      void sync(rt)
      return true
    },

    async remove(tenant: string, id: string): Promise<boolean> {
      const rt = runtimeOf(tenant, id)
      if (!rt || rt.removed) return false
      rt.removed = true
      clearTimeout(rt.timer)
      runtimes.delete(keyOf(tenant, id))
      rt.cancel?.abort(new SyncCancelledError(`connector ${id} was removed`))
      await rt.running
      await store.remove(tenant, id)
      return true
    },

    /** Stops scheduling and waits for running syncs (their cursors are saved). */
    async stop(): Promise<void> {
      stopped = true
      for (const rt of runtimes.values()) clearTimeout(rt.timer)
      // A sync waiting out a long Retry-After is not waited for: its cursor stays as it was.
      await Promise.race([
        Promise.all([...runtimes.values()].map((rt) => rt.running)),
        new Promise((r) => setTimeout(r, 5_000).unref()),
      ])
    },
  }
}

export type ConnectorService = ReturnType<typeof createConnectorService>
