// Effects applied in memory but not yet in ClickHouse, grouped in batches. A batch leaves live
// state in the same critical section in which it lands in ClickHouse, so a reader that merges
// history with live state under the read lock counts every event exactly once. The locks are per
// tenant: a landing batch holds those of the tenants it carries, so a read never waits for a flush
// that carries none of its tenant's events, nor for the other tenants' reads that flush waits for.
import { type Measures, addMeasures, zeroMeasures } from './measures.ts'
import type { Delta } from './processor.ts'
import { ReadWriteLock } from './rw-lock.ts'

/** One accepted event as archived in history, with where it came from in the stream. */
export interface ArchivedEvent {
  tenant: string
  event_id: string
  type: string
  source: string
  ts: number
  received_at: number
  seq: number
  fx: string
  raw: string
}

export interface Batch {
  /** tenant → `minute|source|channel|campaign|city|brand|category|store` → summed delta */
  deltas: Map<string, Map<string, Delta>>
  events: ArchivedEvent[]
  /**
   * Per archived event (same index): its own deltas and stream subject, so the batch can be rebuilt
   * without some of its events (an event ClickHouse cannot store is dead-lettered, the rest lands).
   */
  origins: EventOrigin[]
  /** Messages consumed into this batch, applied or not (duplicates, dead letters). */
  messages: number
  /** Acknowledges every message of the batch (each durable consumer acks cumulatively). */
  ack?: () => void
  /** The latest message's ack per durable consumer, while the batch is open. */
  acks: Map<string, () => void>
  /** Customers whose state changed in this batch (their rows in pulse.customers are rewritten). */
  customers: Map<string, Set<string>>
}

export interface EventOrigin {
  subject: string
  deltas: Delta[]
}

export interface LiveView {
  /** Live deltas of a tenant whose minute lies in [fromMinute, to). */
  deltas(tenant: string, fromMinute: number, to: number): Delta[]
}

const newBatch = (): Batch => ({
  deltas: new Map(),
  events: [],
  origins: [],
  messages: 0,
  acks: new Map(),
  customers: new Map(),
})

/** Adds one event's deltas to the batch's sums per tenant and place. */
function addDeltas(batch: Batch, tenant: string, deltas: Delta[]): void {
  let bins = batch.deltas.get(tenant)
  if (!bins) batch.deltas.set(tenant, (bins = new Map()))
  for (const d of deltas) {
    const place = {
      minute: d.minute,
      source: d.source,
      channel: d.channel,
      campaign_id: d.campaign_id ?? '',
      city: d.city ?? '',
      brand: d.brand ?? '',
      category: d.category ?? '',
      store: d.store ?? '',
    }
    const { minute, source, channel, campaign_id, city, brand, category, store } = place
    const key = `${minute}|${source}|${channel}|${campaign_id}|${city}|${brand}|${category}|${store}`
    let bin = bins.get(key)
    if (!bin) bins.set(key, (bin = { ...place, values: zeroMeasures() as Measures }))
    addMeasures(bin.values, d.values)
  }
}

/**
 * The batch's events at these indexes, with their summed deltas and the batch's customers (a
 * customer row is a snapshot of current state, so it does not depend on which events remain).
 */
export function subBatch(batch: Batch, indexes: number[]): Batch {
  const out: Batch = { ...newBatch(), messages: batch.messages, ack: batch.ack, customers: batch.customers }
  for (const i of indexes) {
    out.events.push(batch.events[i])
    out.origins.push(batch.origins[i])
    addDeltas(out, batch.events[i].tenant, batch.origins[i].deltas)
  }
  return out
}

export function createLiveState() {
  const locks = new Map<string, ReadWriteLock>()
  const lockOf = (tenant: string) => {
    let lock = locks.get(tenant)
    if (!lock) locks.set(tenant, (lock = new ReadWriteLock()))
    return lock
  }
  /** Runs fn holding the write locks of the batch's tenants, taken in one order (no deadlock). */
  function writing(batch: Batch, fn: () => Promise<void>): Promise<void> {
    const tenants = [...batch.deltas.keys()].sort()
    const step = (i: number): Promise<void> =>
      i === tenants.length ? fn() : lockOf(tenants[i]).write(() => step(i + 1))
    return step(0)
  }
  const landing: Batch[] = []
  let open = newBatch()

  const view: LiveView = {
    deltas(tenant, fromMinute, to) {
      const out: Delta[] = []
      for (const batch of [...landing, open]) {
        for (const d of batch.deltas.get(tenant)?.values() ?? [])
          if (d.minute >= fromMinute && d.minute < to) out.push(d)
      }
      return out
    },
  }

  return {
    addEvent(archived: ArchivedEvent, deltas: Delta[], customers: string[] = [], subject = ''): void {
      open.events.push(archived)
      open.origins.push({ subject, deltas })
      if (customers.length > 0) {
        let touched = open.customers.get(archived.tenant)
        if (!touched) open.customers.set(archived.tenant, (touched = new Set()))
        for (const c of customers) touched.add(c)
      }
      addDeltas(open, archived.tenant, deltas)
    },
    /** Counts a consumed message; `ack` acknowledges it and all before it on its durable `consumer`. */
    noteMessage(ack: () => void, consumer = ''): void {
      open.messages++
      open.acks.set(consumer, ack)
    },
    openMessages: () => open.messages,
    liveMessages: () => open.messages + landing.reduce((n, b) => n + b.messages, 0),
    /** Closes the open batch for landing; undefined when it is empty. */
    seal(): Batch | undefined {
      if (open.messages === 0) return undefined
      const batch = open
      const acks = [...batch.acks.values()]
      batch.ack = () => {
        for (const ack of acks) ack()
      }
      landing.push(batch)
      open = newBatch()
      return batch
    },
    /**
     * Drops events from a sealed batch that is waiting to land: live readers stop counting their
     * deltas at once (the processor's own state keeps them until the next restart).
     */
    dropEvents(batch: Batch, indexes: number[]): Promise<void> {
      const drop = new Set(indexes)
      const kept = subBatch(
        batch,
        batch.events.map((_, i) => i).filter((i) => !drop.has(i)),
      )
      // Under the write locks, so that no read sees the live figures change part-way.
      return writing(batch, async () => {
        batch.events = kept.events
        batch.origins = kept.origins
        batch.deltas = kept.deltas
      })
    },
    /** Writes a sealed batch to history and drops it from live state, as one step for readers. */
    land(batch: Batch, write: (batch: Batch) => Promise<void>): Promise<void> {
      return writing(batch, async () => {
        await write(batch)
        landing.splice(landing.indexOf(batch), 1)
      })
    },
    /** Runs a read of a tenant's history + live state that no landing batch can split. */
    read<T>(tenant: string, fn: (view: LiveView) => Promise<T>): Promise<T> {
      return lockOf(tenant).read(() => fn(view))
    },
  }
}

export type LiveState = ReturnType<typeof createLiveState>
