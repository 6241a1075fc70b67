// On a ClickHouse server, analysts' SQL runs as a ClickHouse user of the tenant's own:
// `pulse_sql_<tenant>`, granted SELECT on the allowed tables only, with a row policy
// `<tenant column> = '<tenant>'` on each, read-only settings whose limits it cannot raise, and a
// quota. The server then enforces isolation and bounds by itself, below the query analysis that
// runs on both paths. The password is derived from SECRET_KEY, so nothing is stored; the same
// user serves `clickhouse-client` (GET /v1/sql/credentials).
import { createHmac } from 'node:crypto'
import { type ClickHouseClient, createClient } from '@clickhouse/client'
import { LRUCache } from 'lru-cache'
import { isTenantId } from '../../tenants/index.ts'
import { SQL_DATABASE, SQL_TABLES } from './tables.ts'
import type { SqlLimits } from './limits.ts'

export interface ServerAccessOptions {
  /** The app's own client; its user needs access management (CLICKHOUSE_DEFAULT_ACCESS_MANAGEMENT=1 in the image). */
  admin: ClickHouseClient
  url: string
  secretKey: string
  limits: SqlLimits
}

export interface TenantCredentials {
  user: string
  password: string
  database: string
}

export function createServerAccess(options: ServerAccessOptions) {
  const { admin, limits } = options
  const provisioned = new Map<string, Promise<void>>()
  const clients = new LRUCache<string, ClickHouseClient>({ max: 200, dispose: (client) => void client.close() })

  function credentials(tenant: string): TenantCredentials {
    if (!isTenantId(tenant)) throw new Error(`not a tenant id: ${tenant}`)
    const password = createHmac('sha256', options.secretKey).update(`pulse-sql:${tenant}`).digest('base64url')
    return { user: `pulse_sql_${tenant}`, password, database: SQL_DATABASE }
  }

  /** Idempotent: run once per tenant per process, so grants follow tables added since. */
  async function provision(tenant: string): Promise<void> {
    const { user, password } = credentials(tenant)
    const u = `\`${user}\``
    const settings = [
      `max_execution_time = ${limits.maxExecutionSeconds} MAX ${limits.maxExecutionSeconds}`,
      `max_memory_usage = ${limits.maxMemoryBytes} MAX ${limits.maxMemoryBytes}`,
      `max_result_rows = ${limits.maxResultRows} MAX ${limits.maxResultRows}`,
      `max_result_bytes = ${limits.maxResultBytes} MAX ${limits.maxResultBytes}`,
      `max_threads = ${limits.maxThreads} MAX ${limits.maxThreads}`,
      `readonly = 2`,
    ].join(', ')
    const run = (query: string) => admin.command({ query })
    await run(
      `CREATE USER IF NOT EXISTS ${u} IDENTIFIED WITH sha256_password BY '${password}'
       DEFAULT DATABASE ${SQL_DATABASE}`,
    )
    await run(
      `ALTER USER ${u} IDENTIFIED WITH sha256_password BY '${password}'
       DEFAULT DATABASE ${SQL_DATABASE} SETTINGS ${settings}`,
    )
    for (const t of SQL_TABLES) {
      await run(`GRANT SELECT ON ${t.table} TO ${u}`)
      // A partial revoke: the login reads every column but these, through `*` included.
      for (const column of Object.keys(t.hiddenColumns ?? {})) {
        await run(`REVOKE SELECT(${column}) ON ${t.table} FROM ${u}`)
      }
      await run(
        `CREATE ROW POLICY OR REPLACE ${u} ON ${t.table} AS RESTRICTIVE USING ${t.tenantColumn} = '${tenant}' TO ${u}`,
      )
      // A restrictive policy alone lets nothing through: a permissive one for the same rows is needed.
      await run(
        `CREATE ROW POLICY OR REPLACE \`${user}_permit\` ON ${t.table}
         AS PERMISSIVE USING ${t.tenantColumn} = '${tenant}' TO ${u}`,
      )
    }
    await run(
      `CREATE QUOTA OR REPLACE ${u} FOR INTERVAL 1 hour
       MAX queries = ${limits.queriesPerHour},
           execution_time = ${(limits.maxExecutionSeconds * limits.queriesPerHour) / 10},
           result_rows = ${limits.maxResultRows * 100}
       TO ${u}`,
    )
  }

  return {
    credentials,
    /** A client logged in as the tenant's own user, provisioned on first use. */
    async clientFor(tenant: string): Promise<ClickHouseClient> {
      let ready = provisioned.get(tenant)
      if (!ready) {
        ready = provision(tenant)
        provisioned.set(tenant, ready)
        ready.catch(() => provisioned.delete(tenant))
      }
      await ready
      let client = clients.get(tenant)
      if (!client) {
        const { user, password, database } = credentials(tenant)
        client = createClient({
          url: options.url,
          username: user,
          password,
          database,
          request_timeout: (limits.maxExecutionSeconds + 30) * 1000,
        })
        clients.set(tenant, client)
      }
      return client
    },
    async close(): Promise<void> {
      clients.clear()
    },
  }
}

export type ServerAccess = ReturnType<typeof createServerAccess>
