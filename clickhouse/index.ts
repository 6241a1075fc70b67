export { openClickHouse, rows, type ClickHouseOptions } from './client.ts'
export { migrate } from './migrate.ts'
export { createClickHouseSink, isPermanent } from './flusher.ts'
export { recover, historyId } from './recovery.ts'
export { createCheckpointer, type Checkpointer, type CheckpointResult } from './checkpointer.ts'
export {
  createMetricsReader,
  ANALYST_PRIORITY,
  answerHeader,
  binStarts,
  type MetricsReader,
  type Interval,
  type Freshness,
} from './metrics-reader.ts'
