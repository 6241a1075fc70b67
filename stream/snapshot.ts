// The stream stage's state as a sequence of records, for checkpoints: a restart loads the records
// of a snapshot into an empty processor (in the order they were exported) and replays only the
// events after it. Each record is a value `v8.serialize` handles and is cut small enough to
// serialize in a few milliseconds, so writing or loading a snapshot never holds the event loop long.
import type { CampaignName, SourceFreshness, Statement } from './processor.ts'
import type { Settings } from '../common/settings.ts'
import type { ActivityItem } from './activity.ts'
import type { CustomerChunk } from './customers.ts'
import type { FunnelChunk } from './funnel.ts'
import type { IdChunk } from './id-table.ts'
import type { InventoryChunk } from './inventory.ts'
import type { Attachment, OrderIndexChunk } from './order-index.ts'

/**
 * The format of the records of the processor and of the alert aggregate. Any change of what the
 * records hold must bump it: the loader treats a snapshot of another format as unusable and
 * rebuilds the state from ClickHouse.
 */
// 3: orders' fees and revision count, lines' SKUs, attachments' fees and fee kind (fee.charged).
// 4: orders' and attachments' store, refunds' items (docs/brands.md).
export const STATE_FORMAT = 4

/** A piece of one tenant's state: each part of the state (processor, alert aggregate) has its own kinds. */
export interface StateRecord {
  tenant: string
  part: string
  data: unknown
}

/** The processor's records; a tenant's records open with its `tenant` record. */
export type ProcessorRecord = { tenant: string } & (
  | { part: 'tenant'; data: TenantHead }
  /** The settings' SKU costs apart: 100,000 of them in one object take ~70 ms to serialize. */
  | { part: 'skuCosts'; data: Map<string, string> }
  /** Dedup memory: event id → first arrival, in arrival order. */
  | { part: 'seen'; data: Map<string, number> }
  | { part: 'statements'; data: Map<string, Statement> }
  /** Campaign names by campaign_id (format 2). */
  | { part: 'campaignNames'; data: Map<string, CampaignName> }
  | { part: 'waiting'; data: Map<string, Attachment[]> }
  | { part: 'refunds' | 'cancelled'; data: IdChunk }
  | { part: 'orders'; data: OrderIndexChunk }
  | { part: 'customers'; data: CustomerChunk }
  | { part: 'funnel'; data: FunnelChunk }
  | { part: 'activity'; data: ActivityItem[] }
  /** Stock levels and units sold per day (a part added without a format change: older snapshots have none). */
  | { part: 'inventory'; data: InventoryChunk }
)

export interface TenantHead {
  /** The tenant's timezone, for its local days: a loaded state needs no tenant directory. */
  timezone: string
  /** The settings with `sku_costs` empty (they follow in `skuCosts` records). */
  settings: Settings
  freshness: Map<string, SourceFreshness>
}

/**
 * Typed-array bytes one record holds at most. A record is deserialised and imported in one piece,
 * so this bounds the stall of a load: at 4 MB records a 1 M-customer state stalled its thread up to
 * 68 ms (bench/README.md, "Checkpoints"), over the 50 ms a checkpoint may take.
 */
export const RECORD_BYTES = 1 << 20
/** Other values (map entries, objects, strings) one record holds at most: as long to load. */
export const RECORD_ENTRIES = 2_500

/** [from, to) ranges of `rows` rows whose typed-array columns, `bytesPerRow` together, fit one record. */
export function* rowRanges(rows: number, bytesPerRow: number): Generator<[number, number]> {
  const step = Math.floor(RECORD_BYTES / bytesPerRow)
  for (let from = 0; from < rows; from += step) yield [from, Math.min(rows, from + step)]
}

/** Consecutive items in groups of at most RECORD_ENTRIES by weight (an item heavier than that goes alone). */
export function* chunked<T>(items: Iterable<T>, weightOf: (item: T) => number = () => 1): Generator<T[]> {
  let chunk: T[] = []
  let weight = 0
  for (const item of items) {
    const w = weightOf(item)
    if (chunk.length > 0 && weight + w > RECORD_ENTRIES) {
      yield chunk
      chunk = []
      weight = 0
    }
    chunk.push(item)
    weight += w
  }
  if (chunk.length > 0) yield chunk
}

/** The weight of typed-array bytes in `chunked`'s entries: RECORD_BYTES weigh as much as RECORD_ENTRIES. */
export const bytesWeight = (bytes: number): number => (bytes * RECORD_ENTRIES) / RECORD_BYTES
