export { openClickHouse, rows, type ClickHouseOptions } from './client.ts'
export { migrate } from './migrate.ts'
export { createClickHouseSink } from './flusher.ts'
export { recover } from './recovery.ts'
export {
  createMetricsReader,
  ANALYST_PRIORITY,
  binStarts,
  type MetricsReader,
  type Interval,
  type TenantRef,
  type Freshness,
} from './metrics-reader.ts'
