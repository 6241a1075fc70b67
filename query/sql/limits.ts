// The bounds of one analyst query. The same numbers go into the query's SETTINGS on both paths
// and, on a ClickHouse server, into the tenant user's settings as maxima it cannot raise.

export interface SqlLimits {
  /** Wall-clock limit of one query (ClickHouse max_execution_time). */
  maxExecutionSeconds: number
  maxMemoryBytes: number
  /** More result rows than this is an error, not a silent cut. */
  maxResultRows: number
  maxResultBytes: number
  /** Rows and bytes a JOIN may hold in memory. */
  maxRowsInJoin: number
  maxBytesInJoin: number
  maxThreads: number
  /** Length of the query text. */
  maxQueryChars: number
  /** Queries of one tenant running at once, and how many more may wait behind them; past that, 429. */
  perTenantConcurrency: number
  perTenantQueue: number
  /**
   * Queries of all tenants running at once. Larger than perTenantConcurrency, so no tenant can hold
   * every slot; `totalQueue` tenants' queries may wait for one, past that 429.
   */
  totalConcurrency: number
  totalQueue: number
  /** Server path: the tenant's ClickHouse quota. */
  queriesPerHour: number
}

export const DEFAULT_SQL_LIMITS: SqlLimits = {
  maxExecutionSeconds: 10,
  maxMemoryBytes: 1024 ** 3,
  maxResultRows: 100_000,
  maxResultBytes: 64 * 1024 ** 2,
  maxRowsInJoin: 10_000_000,
  maxBytesInJoin: 512 * 1024 ** 2,
  maxThreads: 1,
  maxQueryChars: 100_000,
  perTenantConcurrency: 1,
  perTenantQueue: 1,
  totalConcurrency: 3,
  totalQueue: 32,
  queriesPerHour: 3_600,
}
