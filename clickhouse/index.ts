export { openClickHouse, rows, type ClickHouseOptions } from './client.ts'
export { migrate } from './migrate.ts'
export { createClickHouseSink, isPermanent, type ClickHouseSink } from './flusher.ts'
export { flushEpoch, firstFlushId, FlushEpochError } from './flush-ids.ts'
export { prepareHistory } from './recovery.ts'
export { loadPartition, type LoadedPartition, type LoadPartitionOptions } from './partition-state.ts'
export {
  createCheckpointer,
  type Checkpointer,
  type CheckpointResult,
  type PartitionCheckpoint,
} from './checkpointer.ts'
export {
  createMetricsReader,
  filterOf,
  type BinnedRow,
  type RollupFilter,
  type RowQuery,
  ANALYST_PRIORITY,
  answerHeader,
  binStarts,
  type MetricsReader,
  type Interval,
  type Freshness,
} from './metrics-reader.ts'
