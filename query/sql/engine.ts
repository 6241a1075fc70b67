// Where analysts' SQL runs. Embedded: chDB sessions of their own on the app's data path (one
// engine, separate sessions: their current database is `pulse`, and nothing they do touches the
// session the stream stage writes with). Server: the app's user analyses queries, and each
// tenant's queries run as that tenant's ClickHouse user (server-access.ts).
//
// chDB 3.4 hands the unsent part of a query that failed mid-output (seen with FORMAT JSON: its
// `{"meta": …` prefix) to the NEXT query of the same session. So each embedded session runs one
// query at a time, and after any error it is drained (a known query, repeated until its answer is
// exactly what it should be) before anyone else uses it: one tenant's leftovers can never reach
// another's answer.
import { type ClickHouseClient, createClient } from '@clickhouse/client'
import { openClickHouse } from '../../clickhouse/index.ts'
import type { SqlLimits } from './limits.ts'
import { type ServerAccess, type TenantCredentials, createServerAccess } from './server-access.ts'
import { SQL_DATABASE } from './tables.ts'

export interface SqlEngineOptions {
  url?: string
  username?: string
  password?: string
  /** The embedded engine's data path (the app's DATA_DIR/clickhouse). */
  path: string
  secretKey: string
  limits: SqlLimits
  /**
   * Embedded: sessions running analysts' queries at once (each one query at a time). By default
   * one per slot of limits.totalConcurrency, so an admitted query never waits behind another's.
   */
  sessions?: number
}

type Use = <T>(fn: (client: ClickHouseClient) => Promise<T>) => Promise<T>

export interface SqlEngine {
  mode: 'embedded' | 'server'
  /** Parsing, explaining and catalogue reads, on a client whose current database is `pulse`. */
  analyse: Use
  /** Runs `fn` with the client a tenant's query runs on; the result must be read inside `fn`. */
  execute<T>(tenant: string, fn: (client: ClickHouseClient) => Promise<T>): Promise<T>
  /** Server path only: the tenant's own ClickHouse login (provisioned on first use). */
  credentials?(tenant: string): Promise<TenantCredentials>
  close(): Promise<void>
}

export async function openSqlEngine(options: SqlEngineOptions): Promise<SqlEngine> {
  if (!options.url) {
    const open = async () => {
      const client = openClickHouse({ path: options.path })
      await client.command({ query: `USE ${SQL_DATABASE}` })
      return serialSession(client)
    }
    const analyst = await open()
    const pool = await Promise.all(Array.from({ length: options.sessions ?? options.limits.totalConcurrency }, open))
    return {
      mode: 'embedded',
      analyse: analyst.use,
      // The least busy session.
      execute: (_tenant, fn) => pool.reduce((a, b) => (b.queued() < a.queued() ? b : a)).use(fn),
      async close() {
        for (const s of [analyst, ...pool]) await s.client.close()
      },
    }
  }
  const analyst = createClient({
    url: options.url,
    username: options.username ?? 'default',
    password: options.password ?? '',
    database: SQL_DATABASE,
    request_timeout: 60_000,
  })
  const access: ServerAccess = createServerAccess({
    admin: analyst,
    url: options.url,
    secretKey: options.secretKey,
    limits: options.limits,
  })
  return {
    mode: 'server',
    analyse: (fn) => fn(analyst),
    execute: async (tenant, fn) => fn(await access.clientFor(tenant)),
    credentials: async (tenant) => {
      await access.clientFor(tenant)
      return access.credentials(tenant)
    },
    async close() {
      await access.close()
      await analyst.close()
    },
  }
}

const DRAIN_QUERY = "SELECT 'pulse-drain' AS d"
const DRAINED = '{"d":"pulse-drain"}\n'

/** One query at a time on a chDB session, drained after every failure. */
function serialSession(client: ClickHouseClient) {
  let tail: Promise<unknown> = Promise.resolve()
  let waiting = 0

  async function drain(): Promise<void> {
    for (let i = 0; i < 5; i++) {
      const text = await client
        .query({ query: DRAIN_QUERY, format: 'JSONEachRow' })
        .then((r) => r.text())
        .catch(() => '')
      if (text === DRAINED) return
    }
    throw new Error('an embedded SQL session could not be drained after a failed query')
  }

  const use: Use = (fn) => {
    waiting++
    const run = tail.then(async () => {
      try {
        return await fn(client)
      } catch (err) {
        await drain()
        throw err
      } finally {
        waiting--
      }
    })
    tail = run.catch(() => undefined)
    return run
  }
  return { client, use, queued: () => waiting }
}
