// The stream stage's Sink: a landed batch is its rollup deltas, then its raw events. The events
// insert is one atomic block and commits the flush; rollup rows of a flush whose events never
// landed are removed at start (recovery.ts). Insert tokens make a retried insert a no-op.
import { randomUUID } from 'node:crypto'
import type { ClickHouseClient } from '@clickhouse/client'
import { type Batch, type Customer, DIMENSIONS, MEASURES, type Sink, createLocalDayOf } from '../stream/index.ts'

export interface FlusherOptions {
  client: ClickHouseClient
  /** Current state of a tenant's customers, for the rows of pulse.customers. */
  customer?: (tenant: string, id: string) => Customer | undefined
  /** The tenant's timezone, for the local day of each minute. */
  timezoneOf: (tenant: string) => Promise<string>
  /** First flush id to use: one more than the last committed (recovery tells). */
  nextFlushId: number
}

const utc = (ms: number) => new Date(ms).toISOString().slice(0, 23).replace('T', ' ')

// One block per insert, so an insert is all-or-nothing.
const atomicInsert = { input_format_parallel_parsing: 0, max_insert_block_size: '10000000', min_insert_block_size_rows: '0', min_insert_block_size_bytes: '0' } as const

export function createClickHouseSink(options: FlusherOptions): Sink & { lastCommitted(): number } {
  const { client } = options
  const run = randomUUID()
  const localDays = new Map<string, (minute: number) => string>()
  let nextFlushId = options.nextFlushId

  async function localDayOf(tenant: string): Promise<(minute: number) => string> {
    let fn = localDays.get(tenant)
    if (!fn) localDays.set(tenant, (fn = createLocalDayOf(await options.timezoneOf(tenant))))
    return fn
  }

  function customerRows(batch: Batch, flushId: number): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = []
    const time = (ms: number) => (Number.isFinite(ms) ? utc(ms) : null)
    for (const [tenant, ids] of batch.customers) {
      for (const id of ids) {
        const c = options.customer?.(tenant, id)
        if (!c) continue
        out.push({
          tenant,
          customer_id: id,
          orders: c.orders,
          monetary: c.monetary,
          first_order_at: time(c.firstOrderAt),
          last_order_at: time(c.lastOrderAt),
          city: c.city,
          shopper_events: c.events,
          intent_score: c.score,
          intent_category: c.category,
          intent_at: time(c.intentAt),
          flush_id: flushId,
        })
      }
    }
    return out
  }

  return {
    async write(batch: Batch): Promise<void> {
      if (batch.events.length === 0) return
      const flushId = nextFlushId
      const rollups: Record<string, unknown>[] = []
      for (const [tenant, bins] of batch.deltas) {
        const dayOf = await localDayOf(tenant)
        for (const d of bins.values()) {
          if (d.values.every((v) => v === 0)) continue
          const row: Record<string, unknown> = { tenant, minute: d.minute / 1000, local_day: dayOf(d.minute), flush_id: flushId }
          for (const dim of DIMENSIONS) row[dim] = d[dim] ?? ''
          MEASURES.forEach((name, i) => (row[name] = d.values[i]))
          rollups.push(row)
        }
      }
      if (rollups.length > 0) {
        await client.insert({
          table: 'pulse.rollup_minute',
          values: rollups,
          format: 'JSONEachRow',
          clickhouse_settings: { ...atomicInsert, insert_deduplication_token: `${run}-rollup-${flushId}`, deduplicate_blocks_in_dependent_materialized_views: 1 },
        })
      }
      await client.insert({
        table: 'pulse.events',
        values: batch.events.map((e) => ({ ...e, ts: utc(e.ts), received_at: utc(e.received_at), flush_id: flushId })),
        format: 'JSONEachRow',
        clickhouse_settings: { ...atomicInsert, insert_deduplication_token: `${run}-events-${flushId}` },
      })
      // After the commit: a snapshot that a later change rewrites anyway, so it need not be atomic.
      const customers = customerRows(batch, flushId)
      if (customers.length > 0) {
        await client.insert({ table: 'pulse.customers', values: customers, format: 'JSONEachRow', clickhouse_settings: { insert_deduplication_token: `${run}-customers-${flushId}` } })
      }
      nextFlushId++
    },
    lastCommitted: () => nextFlushId - 1,
  }
}
