// Effects applied in memory but not yet in ClickHouse, grouped in batches. A batch leaves live
// state in the same critical section in which it lands in ClickHouse, so a reader that merges
// history with live state under the read lock counts every event exactly once.
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
  /** tenant → `minute|source|channel|campaign|city|brand|category` → summed delta */
  deltas: Map<string, Map<string, Delta>>
  events: ArchivedEvent[]
  /** Messages consumed into this batch, applied or not (duplicates, dead letters). */
  messages: number
  /** Acknowledges every message of the batch (the consumer acks cumulatively). */
  ack?: () => void
  /** Customers whose state changed in this batch (their rows in pulse.customers are rewritten). */
  customers: Map<string, Set<string>>
}

export interface LiveView {
  /** Live deltas of a tenant whose minute lies in [fromMinute, to). */
  deltas(tenant: string, fromMinute: number, to: number): Delta[]
}

const newBatch = (): Batch => ({ deltas: new Map(), events: [], messages: 0, customers: new Map() })

export function createLiveState() {
  const lock = new ReadWriteLock()
  const landing: Batch[] = []
  let open = newBatch()

  const view: LiveView = {
    deltas(tenant, fromMinute, to) {
      const out: Delta[] = []
      for (const batch of [...landing, open]) {
        for (const d of batch.deltas.get(tenant)?.values() ?? []) if (d.minute >= fromMinute && d.minute < to) out.push(d)
      }
      return out
    },
  }

  return {
    addEvent(archived: ArchivedEvent, deltas: Delta[], customers: string[] = []): void {
      open.events.push(archived)
      if (customers.length > 0) {
        let touched = open.customers.get(archived.tenant)
        if (!touched) open.customers.set(archived.tenant, (touched = new Set()))
        for (const c of customers) touched.add(c)
      }
      let bins = open.deltas.get(archived.tenant)
      if (!bins) open.deltas.set(archived.tenant, (bins = new Map()))
      for (const d of deltas) {
        const place = { minute: d.minute, source: d.source, channel: d.channel, campaign_id: d.campaign_id ?? '', city: d.city ?? '', brand: d.brand ?? '', category: d.category ?? '' }
        const key = `${place.minute}|${place.source}|${place.channel}|${place.campaign_id}|${place.city}|${place.brand}|${place.category}`
        let bin = bins.get(key)
        if (!bin) bins.set(key, (bin = { ...place, values: zeroMeasures() as Measures }))
        addMeasures(bin.values, d.values)
      }
    },
    noteMessage(ack: () => void): void {
      open.messages++
      open.ack = ack
    },
    openMessages: () => open.messages,
    liveMessages: () => open.messages + landing.reduce((n, b) => n + b.messages, 0),
    /** Closes the open batch for landing; undefined when it is empty. */
    seal(): Batch | undefined {
      if (open.messages === 0) return undefined
      const batch = open
      landing.push(batch)
      open = newBatch()
      return batch
    },
    /** Writes a sealed batch to history and drops it from live state, as one step for readers. */
    land(batch: Batch, write: (batch: Batch) => Promise<void>): Promise<void> {
      return lock.write(async () => {
        await write(batch)
        landing.splice(landing.indexOf(batch), 1)
      })
    },
    /** Runs a read of history + live state that no landing batch can split. */
    read<T>(fn: (view: LiveView) => Promise<T>): Promise<T> {
      return lock.read(() => fn(view))
    },
  }
}

export type LiveState = ReturnType<typeof createLiveState>
