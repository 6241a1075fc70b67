// One ClickHouse client for the process: a server when CLICKHOUSE_URL is set, else the embedded
// chDB engine on disk. The SQL is the same for both.
import { type ClickHouseClient, createClient } from '@clickhouse/client'
import { createChdbConnection } from 'chdb/connection'

export interface ClickHouseOptions {
  url?: string
  username?: string
  password?: string
  /** Where the embedded engine keeps its data when no url is given. */
  path: string
}

export function openClickHouse(options: ClickHouseOptions): ClickHouseClient {
  if (options.url) {
    return createClient({
      url: options.url,
      username: options.username ?? 'default',
      password: options.password ?? '',
      request_timeout: 60_000,
    })
  }
  return createClient({ connection: createChdbConnection({ path: options.path }) } as Parameters<
    typeof createClient
  >[0])
}

export async function rows<T>(
  client: ClickHouseClient,
  query: string,
  params: Record<string, unknown> = {},
): Promise<T[]> {
  const result = await client.query({ query, query_params: params, format: 'JSONEachRow' })
  return result.json<T>()
}
