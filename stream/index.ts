export {
  createProcessor,
  type Processor,
  type Delta,
  type Place,
  type Arrival,
  type SourceFreshness,
  type Statement,
} from './processor.ts'
export type { OrderIndex, StoredOrder, Attachment } from './order-index.ts'
export {
  COVER_DAYS,
  coverBelow,
  daysOfCover,
  type InventoryRow,
  type InventoryView,
  type InventoryLocation,
} from './inventory.ts'
export {
  customerGroupsOf,
  customerGroupFigures,
  zeroGroupSums,
  CUSTOMER_GROUP_FIELDS,
  type CustomerGroups,
  type CustomerGroupSums,
  type GroupedOrders,
} from './customer-groups.ts'
export type { Customer, CustomerStore, IntentReading } from './customers.ts'
export { FUNNEL_STEPS, type FunnelStep } from './funnel.ts'
export type { ActivityItem } from './activity.ts'
export {
  createLiveState,
  subBatch,
  type LiveState,
  type LiveView,
  type Batch,
  type ArchivedEvent,
  type EventOrigin,
} from './live-state.ts'
export {
  createStreamConsumer,
  UnstorableError,
  type FlushHealth,
  type Sink,
  type TenantDirectory,
  type StreamConsumer,
} from './consumer.ts'
export { decodeEvent, SETTINGS_TYPE } from './decode.ts'
export {
  brandView,
  kpiReport,
  kpisByStore,
  kpisOf,
  sumRows,
  sorted,
  attributedOf,
  type KpiReport,
  type Kpis,
  type MeasureRow,
  type View,
} from './kpis.ts'
export {
  MEASURES,
  DIMENSIONS,
  type Dimension,
  type MeasureName,
  type Measures,
  zeroMeasures,
  addMeasures,
  get,
  measureIndex,
} from './measures.ts'
export {
  MINUTE,
  HOUR,
  minuteOf,
  hourOf,
  localDay,
  startOfLocalDay,
  localDayRange,
  createLocalDayOf,
} from './windows.ts'
export {
  openCheckpointStore,
  loadSnapshot,
  writeSnapshot,
  SnapshotError,
  CHECKPOINT_BUCKET,
  scopeOf,
  type CheckpointStore,
  type Droppable,
  type SnapshotHeader,
  type SnapshotEntry,
  type Snapshottable,
  type StreamState,
} from './checkpoints.ts'
export { STATE_FORMAT, type StateRecord } from './snapshot.ts'
export {
  dropPartition,
  inPartition,
  openPartitionHistories,
  replayJetStream,
  withLandingNoted,
  type PartitionHistories,
} from './partition-state.ts'
export { createOwnership, type Ownership } from './ownership.ts'
export { durableOf, LEGACY_DURABLE, pendingByPartition } from './consumer.ts'
