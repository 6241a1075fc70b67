// The stream stage's Sink: a landed batch is its rollup deltas, then its raw events. The events
// insert is one atomic block and commits the flush; rollup rows of a flush whose events never
// landed are removed when its partition is next taken (recovery.ts). Insert tokens make a retried
// insert a no-op. Flush ids are unique across writers and grow (flush-ids.ts).
//
// Rows ClickHouse will never accept (a lone surrogate in a string, a figure past Int64, a date
// that cannot be formatted) would otherwise be retried for ever and hold back every later flush.
// A failure is permanent when ClickHouse's error code says the data cannot be parsed or converted
// (or our own encoding of a row throws); anything else (network, timeouts, memory, too many parts,
// unknown) is transient and retried as before. On a permanent failure the flush is given up: its
// id is never used again (the retry of the rest has new insert tokens, so the dedup of the old
// ones cannot swallow it), and rollup rows it already inserted are removed before the next flush
// (only that flush's: another writer may be between the two inserts of one of its own). write()
// then rejects with UnstorableError; the consumer finds the events at fault with check() (the
// same rows inserted into the `null` table function: parsed, then discarded), dead-letters them
// and writes the rest. The customers snapshot is written after the commit:
// a customer row it cannot store is logged and skipped there, as the events already landed.
import { randomUUID } from 'node:crypto'
import type { ClickHouseClient } from '@clickhouse/client'
import {
  type Batch,
  type Customer,
  DIMENSIONS,
  MEASURES,
  type Sink,
  UnstorableError,
  createLocalDayOf,
} from '../stream/index.ts'
import { messageOf } from '../common/errors.ts'
import { type Log, silentLog } from '../common/log.ts'
import { clickHouseFailure } from './errors.ts'
import { removeFlush } from './recovery.ts'

export interface FlusherOptions {
  client: ClickHouseClient
  /** Current state of a tenant's customers, for the rows of pulse.customers. */
  customer?: (tenant: string, id: string) => Customer | undefined
  /** The tenant's timezone, for the local day of each minute. */
  timezoneOf: (tenant: string) => Promise<string>
  /** First flush id to use: `firstFlushId(await flushEpoch(nc))` (flush-ids.ts). */
  firstFlushId: number
  log?: Log
}

/**
 * ClickHouse error codes of data that no retry will store: CANNOT_PARSE_TEXT (6),
 * CANNOT_PARSE_ESCAPE_SEQUENCE (25), CANNOT_PARSE_QUOTED_STRING (26),
 * CANNOT_PARSE_INPUT_ASSERTION_FAILED (27), CANNOT_PARSE_DATE (38), CANNOT_PARSE_DATETIME (41),
 * TYPE_MISMATCH (53), ARGUMENT_OUT_OF_BOUND (69), CANNOT_CONVERT_TYPE (70), CANNOT_PARSE_NUMBER (72),
 * INCORRECT_DATA (117), CANNOT_READ_ARRAY_FROM_TEXT (130), TOO_LARGE_STRING_SIZE (131),
 * VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE (321), CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN (349),
 * DECIMAL_OVERFLOW (407). Not here, so retried: MEMORY_LIMIT_EXCEEDED (241), TOO_MANY_PARTS (252),
 * network and timeout errors.
 */
const PERMANENT_CODES = new Set([6, 25, 26, 27, 38, 41, 53, 69, 70, 72, 117, 130, 131, 321, 349, 407])

export function isPermanent(err: unknown): boolean {
  if (err instanceof UnstorableError) return true
  const code = clickHouseFailure(err)?.code
  return code !== undefined && PERMANENT_CODES.has(code)
}

const utc = (ms: number) => new Date(ms).toISOString().slice(0, 23).replace('T', ' ')

// One block per insert, so an insert is all-or-nothing.
const atomicInsert = {
  input_format_parallel_parsing: 0,
  max_insert_block_size: '10000000',
  min_insert_block_size_rows: '0',
  min_insert_block_size_bytes: '0',
} as const

/** Builds rows in our code; a row that cannot even be encoded is as unstorable as one ClickHouse refuses. */
function encode<T>(build: () => T): T {
  try {
    return build()
  } catch (err) {
    throw new UnstorableError(`cannot encode a row: ${messageOf(err)}`, { cause: err })
  }
}

export interface ClickHouseSink extends Sink {
  /**
   * Numbers the flushes after the one in progress from `first` (of a newer epoch): call on taking a
   * partition, before loading it, so its flushes here rank above its earlier owners' (pulse.customers).
   */
  startFlushIds(first: number): void
}

export function createClickHouseSink(options: FlusherOptions): ClickHouseSink {
  const { client } = options
  const log = options.log ?? silentLog
  const run = randomUUID()
  const localDays = new Map<string, (minute: number) => string>()
  const structures = new Map<string, string>()
  let nextFlushId = options.firstFlushId
  /** Set by startFlushIds; taken up by the next new flush. */
  let renumberFrom: number | undefined
  /**
   * A write of nextFlushId failed part-way and will be retried: its retry keeps the id, so that the
   * insert tokens drop what landed already.
   */
  let retrying = false
  /** The flush whose rollup rows are in but whose events are not (yet). */
  let rollupsOf: number | undefined
  /** A given-up flush whose rollup rows are still to be removed. */
  let givenUp: number | undefined

  async function localDayOf(tenant: string): Promise<(minute: number) => string> {
    let fn = localDays.get(tenant)
    if (!fn) localDays.set(tenant, (fn = createLocalDayOf(await options.timezoneOf(tenant))))
    return fn
  }

  async function rows(batch: Batch, flushId: number) {
    const dayOf = new Map<string, (minute: number) => string>()
    for (const tenant of batch.deltas.keys()) dayOf.set(tenant, await localDayOf(tenant))
    return encode(() => {
      const rollups: Record<string, unknown>[] = []
      for (const [tenant, bins] of batch.deltas) {
        for (const d of bins.values()) {
          if (d.values.every((v) => v === 0)) continue
          const day = dayOf.get(tenant)!(d.minute)
          const row: Record<string, unknown> = { tenant, minute: d.minute / 1000, local_day: day, flush_id: flushId }
          for (const dim of DIMENSIONS) row[dim] = d[dim] ?? ''
          MEASURES.forEach((name, i) => (row[name] = d.values[i]))
          rollups.push(row)
        }
      }
      const events = batch.events.map((e) => ({
        ...e,
        ts: utc(e.ts),
        received_at: utc(e.received_at),
        flush_id: flushId,
      }))
      return { rollups, events }
    })
  }

  function customerRows(batch: Batch, flushId: number): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = []
    for (const [tenant, ids] of batch.customers) {
      for (const id of ids) {
        const c = options.customer?.(tenant, id)
        if (!c) continue
        try {
          out.push(customerRow(tenant, id, c, flushId))
        } catch (err) {
          log.warn({ tenant, customer: id, err }, 'customer row not stored')
        }
      }
    }
    return out
  }

  function customerRow(tenant: string, id: string, c: Customer, flushId: number): Record<string, unknown> {
    const time = (ms: number) => (Number.isFinite(ms) ? utc(ms) : null)
    return {
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
    }
  }

  /** Inserts customer rows; on a permanent failure, halves until the rows at fault are found and skipped. */
  async function writeCustomers(values: Record<string, unknown>[], token: string): Promise<void> {
    try {
      await client.insert({
        table: 'pulse.customers',
        values,
        format: 'JSONEachRow',
        clickhouse_settings: { insert_deduplication_token: token },
      })
    } catch (err) {
      if (!isPermanent(err)) throw err
      if (values.length === 1) {
        const { tenant, customer_id: id } = values[0]
        log.warn({ tenant, customer: id, err }, 'customer row not stored')
        return
      }
      const half = Math.ceil(values.length / 2)
      await writeCustomers(values.slice(0, half), `${token}-a`)
      await writeCustomers(values.slice(half), `${token}-b`)
    }
  }

  /** The columns of a table as the `null` table function takes them (quoted for a string literal). */
  async function structureOf(table: string): Promise<string> {
    let structure = structures.get(table)
    if (!structure) {
      const [database, name] = table.split('.')
      const result = await client.query({
        query: `SELECT name, type FROM system.columns
          WHERE database = {database:String} AND table = {name:String} ORDER BY position`,
        query_params: { database, name },
        format: 'JSONEachRow',
      })
      const columns = await result.json<{ name: string; type: string }>()
      structure = columns
        .map((c) => `${c.name} ${c.type}`)
        .join(', ')
        .replace(/\\/g, '\\\\')
        .replace(/'/g, "\\'")
      structures.set(table, structure)
    }
    return structure
  }

  async function checkInsert(table: string, values: Record<string, unknown>[]): Promise<void> {
    if (values.length === 0) return
    const structure = await structureOf(table)
    try {
      const table = `FUNCTION null('${structure}')`
      await client.insert({ table, values, format: 'JSONEachRow', clickhouse_settings: atomicInsert })
    } catch (err) {
      if (isPermanent(err)) throw new UnstorableError(messageOf(err), { cause: err })
      throw err
    }
  }

  return {
    async write(batch: Batch): Promise<void> {
      if (batch.events.length === 0) return
      if (givenUp !== undefined) {
        await removeFlush(client, givenUp, log)
        givenUp = undefined
      }
      if (renumberFrom !== undefined && !retrying) {
        nextFlushId = renumberFrom
        renumberFrom = undefined
      }
      const flushId = nextFlushId
      retrying = true
      try {
        const { rollups, events } = await rows(batch, flushId)
        if (rollups.length > 0) {
          await client.insert({
            table: 'pulse.rollup_minute',
            values: rollups,
            format: 'JSONEachRow',
            clickhouse_settings: {
              ...atomicInsert,
              insert_deduplication_token: `${run}-rollup-${flushId}`,
              deduplicate_blocks_in_dependent_materialized_views: 1,
            },
          })
          rollupsOf = flushId
        }
        await client.insert({
          table: 'pulse.events',
          values: events,
          format: 'JSONEachRow',
          clickhouse_settings: { ...atomicInsert, insert_deduplication_token: `${run}-events-${flushId}` },
        })
      } catch (err) {
        if (!isPermanent(err)) throw err
        // Given up: the rest of the batch lands as a new flush, and this one's rollup rows go.
        nextFlushId++
        retrying = false
        if (rollupsOf === flushId) givenUp = flushId
        log.error({ flush: flushId, err }, 'flush cannot be stored')
        throw err instanceof UnstorableError ? err : new UnstorableError(messageOf(err), { cause: err })
      }
      // After the commit: a snapshot that a later change rewrites anyway, so it need not be atomic.
      const customers = customerRows(batch, flushId)
      if (customers.length > 0) await writeCustomers(customers, `${run}-customers-${flushId}`)
      nextFlushId++
      retrying = false
    },
    /** Rejects with UnstorableError if ClickHouse would refuse these events' rows; stores nothing. */
    async check(batch: Batch): Promise<void> {
      const { rollups, events } = await rows(batch, nextFlushId)
      await checkInsert('pulse.rollup_minute', rollups)
      await checkInsert('pulse.events', events)
    },
    startFlushIds(first: number): void {
      renumberFrom = first
    },
  }
}
