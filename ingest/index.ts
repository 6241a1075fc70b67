export { createPipelinedPublisher, PayloadTooLargeError, type PipelinedPublisher, type PubAck } from './publisher.ts'
export {
  ensureStreams,
  EVENTS_STREAM,
  DLQ_STREAM,
  HEADERS,
  eventSubject,
  partitionOf,
  tenantOfSubject,
  dlqSubject,
} from './streams.ts'
export { eventsRoute, MAX_BATCH } from './events-route.ts'
export { adminRoute } from './admin-route.ts'
export { deadLettersRoute } from './dead-letters-route.ts'
export { settingsRoute, mergePatch, parseSkuCostsCsv } from './settings-route.ts'
export { startConnectors, CONNECTOR_TYPES, type ConnectorType } from './connectors/index.ts'
export { validateEvents, publishEvents } from './publish-events.ts'
export { CLUSTER_BUCKET, ensurePartitions, PartitionsMismatchError } from './partitions.ts'
export { SHOPIFY_WEBHOOK_PATH } from './shopify/webhook-route.ts'
export { REPROCESS_PATH } from './reprocess-route.ts'
