// The poller core: per-connector schedules, one sync at a time per connector, a few at a time per
// tenant and overall, the cursor and status persisted after each sync, and the per-connector
// status of GET /v1/connectors. Sources only say how to read their API (sources/*.ts).
// Removing a connector cancels its running sync (the call in flight, any wait and the page loop).
import { randomBytes } from 'node:crypto'
import type { Resolver } from '../../common/url-guard.ts'
import type { Sealer } from './crypto.ts'
import { createHttp } from './http.ts'
import type { PagePipeline } from './pages.ts'
import type { ConnectorRecord, ConnectorState, ConnectorStore } from './store.ts'
import { urlProblems } from './targets.ts'
import type { ConnectorType, Source, SyncContext, TenantInfo } from './types.ts'

export const DEFAULT_EVERY_SECONDS = 900

export interface ConnectorServiceOptions {
  store: ConnectorStore
  sealer: Sealer
  pages: PagePipeline
  sources: Record<ConnectorType, Source>
  tenantOf: (id: string) => Promise<TenantInfo | undefined>
  now: () => number
  log: (line: string) => void
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
  ) {
    super(message)
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

/** A counting semaphore. */
function limiter(max: number) {
  let active = 0
  const queue: (() => void)[] = []
  return {
    async acquire(): Promise<void> {
      if (active < max) {
        active++
        return
      }
      await new Promise<void>((resolve) => queue.push(resolve))
    },
    release(): void {
      const next = queue.shift()
      if (next) next()
      else active--
    },
  }
}

export function createConnectorService(options: ConnectorServiceOptions) {
  const { store, sealer, pages, sources, now, log } = options
  const runtimes = new Map<string, Runtime>()
  const global = limiter(options.maxConcurrent ?? 4)
  const perTenant = new Map<string, ReturnType<typeof limiter>>()
  let stopped = false

  const keyOf = (tenant: string, id: string) => `${tenant}/${id}`
  const iso = (ms: number) => new Date(ms).toISOString()

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

  async function run(rt: Runtime): Promise<void> {
    const { record } = rt
    rt.cancel = new AbortController()
    const { signal } = rt.cancel
    const tenantLimit =
      perTenant.get(record.tenant) ??
      perTenant.set(record.tenant, limiter(options.maxPerTenant ?? 2)).get(record.tenant)!
    await tenantLimit.acquire()
    await global.acquire()
    const state = await store.getState(record.tenant, record.id)
    const startedAt = now()
    const counts = { events: 0, duplicates: 0, deadLetters: 0, pages: 0 }
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
      const http = createHttp({ retryBaseMs: options.retryBaseMs, ...targets, signal }, hooks)
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
      log(
        `connector ${record.type} ${record.id} (${record.tenant}): ${counts.pages} pages, ${counts.events} events, ${counts.deadLetters} dead letters`,
      )
    } catch (err) {
      state.last_error = (err as Error).message
      const which = `connector ${record.type} ${record.id} (${record.tenant})`
      log(
        signal.aborted ? `${which}: sync cancelled, the connector was removed` : `${which} failed: ${state.last_error}`,
      )
    } finally {
      state.last_attempt_at = iso(startedAt)
      state.events_produced += counts.events
      state.duplicates += counts.duplicates
      state.dead_letters += counts.deadLetters
      state.pages += counts.pages
      state.syncs++
      global.release()
      tenantLimit.release()
      if (!rt.removed) {
        await store
          .putState(record.tenant, record.id, state)
          .catch((err) => log(`connector ${record.id}: state not saved: ${(err as Error).message}`))
        schedule(rt, record.every_seconds * 1000)
      }
    }
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
    /** Loads every connector and schedules it: overdue ones soon (spread out), others when due. */
    async start(): Promise<void> {
      for (const record of await store.list()) {
        if (!sources[record.type]) continue
        const rt: Runtime = { record, again: false, removed: false }
        runtimes.set(keyOf(record.tenant, record.id), rt)
        const state = await store.getState(record.tenant, record.id)
        const due = state.last_attempt_at ? Date.parse(state.last_attempt_at) + record.every_seconds * 1000 : now()
        const spread = Math.random() * Math.min(30_000, record.every_seconds * 100)
        schedule(rt, Math.max(0, due - now()) + spread)
      }
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
