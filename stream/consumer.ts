// The consume loops, one per partition: JetStream → processor → live state → (batched) sink →
// cumulative ack of each partition's durable.
// A message is acknowledged only after the batch holding its effect has landed in the sink, so a
// crash at any moment replays unacknowledged messages, and dedup recognises what already landed.
//
// A batch the sink refuses for good (UnstorableError: data ClickHouse cannot store) would block
// every later batch, so the events at fault are found by halving the batch and asking the sink
// to check each half without storing it; they go to the dead-letter stream (reason
// `unstorable`) and are dropped from the batch and from live figures, and the rest lands. The
// processor's own state (order index, customers, alert aggregate) keeps such an event until the
// next restart, which replays only what landed.
import type { ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream'
import { headers as natsHeaders } from '@nats-io/transport-node'
import {
  DLQ_STREAM,
  EVENTS_STREAM,
  HEADERS,
  ackFloorOf,
  consumeUntilStopped,
  dlqSubject,
  durableAtAckFloor,
  partitionOf,
  partitionSubjects,
  tenantOfSubject,
} from '../ingest/streams.ts'
import { messageOf } from '../common/errors.ts'
import { isConsumerNotFound } from '../common/nats-errors.ts'
import { type Log, silentLog } from '../common/log.ts'
import { SETTINGS_TYPE, decodeEvent } from './decode.ts'
import { type Batch, type LiveState, subBatch } from './live-state.ts'
import { type TenantRef, isTenantId } from '../tenants/index.ts'
import type { Arrival, Delta, Processor } from './processor.ts'

/** Each partition has its own durable consumer (one filter subject each, as nats-server 2.9 allows). */
export const durableOf = (partition: number) => `pulse-stream-p${partition}`

/**
 * Each partition's messages not yet acknowledged by its durable, as JetStream counts them (null:
 * the durable does not exist yet). Any node can read them, owner or not.
 */
export async function pendingByPartition(jsm: JetStreamManager, partitions: number): Promise<(number | null)[]> {
  return Promise.all(
    Array.from({ length: partitions }, async (_, p) => {
      try {
        const info = await jsm.consumers.info(EVENTS_STREAM, durableOf(p))
        return info.num_pending + info.num_ack_pending
      } catch (err) {
        if (isConsumerNotFound(err)) return null
        throw err
      }
    }),
  )
}
/** The one durable over every subject before partitions; its ack floor starts the partitions' durables. */
export const LEGACY_DURABLE = 'pulse-stream'

/** Where landed batches go (ClickHouse); implemented by a later stage. */
export interface Sink {
  /** Rejects with UnstorableError when no retry will store the batch (having stored none of it). */
  write(batch: Batch): Promise<void>
  /** Rejects with UnstorableError when the batch's rows could not be stored; stores nothing. */
  check?(batch: Batch): Promise<void>
}

/** Rows that no retry will store (the sink's store refuses the data itself). */
export class UnstorableError extends Error {
  override name = 'UnstorableError'
}

/** How flushing goes, for /healthz: a flush that has not landed since `pendingSince` is stalled. */
export interface FlushHealth {
  lastLandedAt?: number
  /** When the batch now landing was first tried; undefined when nothing is landing. */
  pendingSince?: number
  lastError?: string
}

export interface TenantDirectory {
  get(id: string): Promise<TenantRef | undefined>
}

export interface StreamConsumerOptions {
  js: JetStreamClient
  jsm: JetStreamManager
  processor: Processor
  live: LiveState
  sink: Sink
  tenants: TenantDirectory
  /** The deployment's partition count (PARTITIONS). */
  partitionCount: number
  /** The partitions consumed from the start (more can be added and removed while it runs). */
  partitions: readonly number[]
  /**
   * Asked before each landing, with the partitions the batch holds messages of: false when this
   * node may no longer land for one of them (its lease ran out: a paused owner). Then nothing more
   * lands or is acked, and `onFenced` is told.
   */
  mayLand?: (partitions: number[]) => boolean | Promise<boolean>
  onFenced?: () => void
  onChange?: (tenant: string) => void
  /** Told the deltas of every applied event, in stream order (the alerts' rolling aggregate). */
  onApplied?: (tenant: TenantRef, deltas: Delta[]) => void
  /** Told of every dead letter (for /metrics). */
  onDeadLetter?: (tenant: string, reason: string) => void
  /** Told of every flush attempt: how long it took, and whether the batch landed (for /metrics). */
  onFlush?: (seconds: number, landed: boolean) => void
  log?: Log
  flushIntervalMs?: number
  maxBatchMessages?: number
  /** Consumption pauses while this many messages wait in memory (JetStream buffers the rest). */
  maxLiveMessages?: number
  /** How long stop() keeps trying to land what was applied before leaving it to be redelivered. */
  stopGraceMs?: number
  now?: () => number
}

/** What a message carries besides its body: receipt time and rate, stamped at ingest (the publish time before). */
export function arrivalOf(m: JsMsg): Arrival {
  const fx = m.headers?.get(HEADERS.fx) || undefined
  const receivedAt = Number(m.headers?.get(HEADERS.receivedAt)) || Math.floor(m.info.timestampNanos / 1e6)
  return { fx, receivedAt }
}

/** An event in another currency than the tenant's that came without a rate cannot be counted. */
export const lacksRate = (event: { currency?: string }, tenant: TenantRef, fx: string | undefined): boolean =>
  event.currency !== undefined && event.currency !== tenant.currency && !fx

/** One partition's consume loop and progress. */
interface Feed {
  partition: number
  durable: string
  messages?: ConsumerMessages
  loop?: Promise<void>
  /** Set when the partition is handed back: its loop ends. */
  removed: boolean
  handledSeq: number
  /** Messages of the partition past the last one applied, when it was delivered. */
  pending: number
  lastSeqAtStart: number
  waiters: { seq: number; resolve: () => void }[]
  isCaughtUp: Promise<void>
  caughtUp: () => void
}

function newFeed(partition: number): Feed {
  let caughtUp = () => {}
  const isCaughtUp = new Promise<void>((resolve) => (caughtUp = resolve))
  return {
    partition,
    durable: durableOf(partition),
    removed: false,
    handledSeq: 0,
    pending: 0,
    lastSeqAtStart: Number.MAX_SAFE_INTEGER,
    waiters: [],
    isCaughtUp,
    caughtUp,
  }
}

export function createStreamConsumer(options: StreamConsumerOptions) {
  const { js, jsm, processor, live, sink, tenants } = options
  const log = options.log ?? silentLog
  const flushIntervalMs = options.flushIntervalMs ?? 250
  const maxBatch = options.maxBatchMessages ?? 5_000
  const maxLive = options.maxLiveMessages ?? 50_000
  const stopGraceMs = options.stopGraceMs ?? 5_000
  const now = options.now ?? Date.now
  const health: FlushHealth = {}
  // Once set, nothing lands any more: acks are cumulative, so a later batch's ack would
  // acknowledge the messages of the batch given up.
  let givenUp = false
  let giveUp = () => {}
  const gaveUp = new Promise<void>((resolve) => (giveUp = () => ((givenUp = true), resolve())))
  let stopped = false
  let flushChain: Promise<void> = Promise.resolve()
  let flushQueued = false
  let deadLetters = 0
  const feeds = new Map(options.partitions.map((p) => [p, newFeed(p)]))
  const timer = setInterval(() => {
    if (!flushQueued && live.openMessages() > 0) void requestFlush()
  }, flushIntervalMs)

  /** Flushes run one after another, each sealing what is open when it starts. */
  function requestFlush(): Promise<void> {
    flushQueued = true
    flushChain = flushChain.then(async () => {
      flushQueued = false
      const batch = live.seal()
      if (batch) await landWithRetry(batch)
    })
    return flushChain
  }

  async function landWithRetry(batch: Batch): Promise<void> {
    health.pendingSince = now()
    for (let attempt = 0; !givenUp; attempt++) {
      const startedAt = performance.now()
      const partitions = [...batch.acks.keys()].map(Number)
      if (options.mayLand && !(await options.mayLand(partitions))) {
        log.error({ partitions }, 'lease lost: this node lands and acks nothing more')
        giveUp()
        options.onFenced?.()
        return
      }
      try {
        await live.land(batch, (b) => sink.write(b))
        options.onFlush?.((performance.now() - startedAt) / 1000, true)
        batch.ack?.()
        health.lastLandedAt = now()
        health.pendingSince = undefined
        health.lastError = undefined
        return
      } catch (err) {
        options.onFlush?.((performance.now() - startedAt) / 1000, false)
        health.lastError = messageOf(err)
        try {
          if (err instanceof UnstorableError && (await setAsideUnstorable(batch))) continue
        } catch (checkErr) {
          health.lastError = messageOf(checkErr)
        }
        log.warn({ attempt: attempt + 1, error: health.lastError }, 'flush failed, retrying')
        await Promise.race([gaveUp, new Promise((r) => setTimeout(r, Math.min(5_000, 100 * 2 ** attempt)))])
      }
    }
    log.warn({ messages: batch.messages }, 'stopping: messages not landed, left unacknowledged for redelivery')
  }

  /** Dead-letters the batch's events the sink cannot store and drops them; false when none is found. */
  async function setAsideUnstorable(batch: Batch): Promise<boolean> {
    if (!sink.check) return false
    const unstorable = await findUnstorable(
      batch,
      batch.events.map((_, i) => i),
    )
    for (const { index, detail } of unstorable) {
      const e = batch.events[index]
      const message = { subject: batch.origins[index].subject, seq: e.seq, data: e.raw }
      await deadLetter(message, e.tenant, 'unstorable', detail)
    }
    if (unstorable.length > 0)
      await live.dropEvents(
        batch,
        unstorable.map((u) => u.index),
      )
    return unstorable.length > 0
  }

  /** The events among `indexes` whose rows the sink refuses, by halving (transient errors propagate). */
  async function findUnstorable(batch: Batch, indexes: number[]): Promise<{ index: number; detail: string }[]> {
    try {
      await sink.check!(subBatch(batch, indexes))
      return []
    } catch (err) {
      if (!(err instanceof UnstorableError)) throw err
      if (indexes.length === 1) return [{ index: indexes[0], detail: err.message }]
      const half = Math.ceil(indexes.length / 2)
      const first = await findUnstorable(batch, indexes.slice(0, half))
      return [...first, ...(await findUnstorable(batch, indexes.slice(half)))]
    }
  }

  type Letter = { subject: string; seq: number; data: Uint8Array | string }
  async function deadLetter(m: Letter, tenant: string, reason: string, detail: string): Promise<void> {
    const h = natsHeaders()
    h.set(HEADERS.dlqReason, reason)
    h.set(HEADERS.dlqDetail, detail.replace(/[\r\n]+/g, ' ').slice(0, 1000))
    h.set(HEADERS.dlqSubject, m.subject)
    h.set(HEADERS.dlqSeq, String(m.seq))
    await js.publish(dlqSubject(isTenantId(tenant) ? tenant : ''), m.data, {
      headers: h,
      msgID: `dlq:${m.seq}`,
    })
    deadLetters++
    options.onDeadLetter?.(tenant, reason)
    log.warn({ tenant, seq: m.seq, reason, detail: detail.slice(0, 200) }, 'dead letter')
  }

  async function handle(m: JsMsg, feed: Feed): Promise<void> {
    const tenantId = tenantOfSubject(m.subject)
    const tenant = await tenants.get(tenantId)
    const body = m.string()
    const decoded = decodeEvent(body)
    const { fx, receivedAt } = arrivalOf(m)
    const archive = (id: string, type: string, source: string, ts: number) => ({
      tenant: tenantId,
      event_id: id,
      type,
      source,
      ts,
      received_at: receivedAt,
      seq: m.seq,
      fx: fx ?? '',
      raw: body,
    })
    if (!tenant) await deadLetter(m, tenantId, 'unknown_tenant', `no tenant ${tenantId}`)
    else if (!decoded.ok) await deadLetter(m, tenantId, decoded.reason, decoded.detail)
    else if (decoded.kind === 'settings') {
      processor.applySettings(tenant, decoded.settings)
      live.addEvent(archive(decoded.id, SETTINGS_TYPE, decoded.source, decoded.ts), [], [], m.subject)
    } else if (lacksRate(decoded.event, tenant, fx)) {
      await deadLetter(m, tenantId, 'no_rate', `no rate from ${decoded.event.currency} to ${tenant.currency}`)
    } else {
      const e = decoded.event
      const outcome = processor.apply(tenant, e, { receivedAt, fx })
      if (outcome.kind === 'applied') {
        live.addEvent(archive(e.id, e.type, e.source, e.ts), outcome.deltas, outcome.customers, m.subject)
        options.onApplied?.(tenant, outcome.deltas)
        options.onChange?.(tenant.id)
      }
    }
    live.noteMessage(() => m.ack(), String(feed.partition))
    feed.handledSeq = Math.max(feed.handledSeq, m.seq)
    feed.pending = m.info.pending
    if (m.info.pending === 0 || feed.handledSeq >= feed.lastSeqAtStart) feed.caughtUp()
    for (let i = feed.waiters.length - 1; i >= 0; i--) {
      if (feed.waiters[i].seq <= feed.handledSeq) feed.waiters.splice(i, 1)[0].resolve()
    }
  }

  /** Recreates the partition's durable at its ack floor and notes how far it must read to catch up. */
  async function open(feed: Feed, startIfNew: number): Promise<void> {
    await durableAtAckFloor(jsm, EVENTS_STREAM, feed.durable, { filter: partitionSubjects(feed.partition), startIfNew })
    feed.lastSeqAtStart = (await jsm.streams.info(EVENTS_STREAM)).state.last_seq
    if ((await jsm.consumers.info(EVENTS_STREAM, feed.durable)).num_pending === 0) feed.caughtUp()
  }

  function run(feed: Feed): Promise<void> {
    return consumeUntilStopped({
      js,
      stream: EVENTS_STREAM,
      durable: feed.durable,
      stopped: () => stopped || feed.removed,
      onRestart: (err) => log.error({ err, partition: feed.partition }, 'consume loop restarting'),
      consume: async (consumer) => {
        feed.messages = await consumer.consume({ max_messages: 2_000 })
        for await (const m of feed.messages) {
          await handle(m, feed)
          if (live.openMessages() >= maxBatch) void requestFlush()
          if (live.liveMessages() >= maxLive) await requestFlush()
        }
      },
    })
  }

  return {
    /**
     * Starts a consume loop per partition, each durable recreated at its ack floor (a partition's
     * durable made for the first time starts after the ack floor of the one durable before
     * partitions, which is deleted once every partition has its own).
     */
    async start(): Promise<void> {
      const legacyFloor = await ackFloorOf(jsm, EVENTS_STREAM, LEGACY_DURABLE)
      for (const feed of feeds.values()) await open(feed, (legacyFloor ?? 0) + 1)
      if (legacyFloor !== undefined) await jsm.consumers.delete(EVENTS_STREAM, LEGACY_DURABLE)
      for (const feed of feeds.values()) feed.loop = run(feed)
    },
    /** Starts consuming a partition (at its durable's ack floor); resolves once it has caught up. */
    async addPartition(partition: number): Promise<void> {
      if (feeds.has(partition)) return
      const feed = newFeed(partition)
      feeds.set(partition, feed)
      await open(feed, 1)
      feed.loop = run(feed)
      await feed.isCaughtUp
    },
    /** Stops consuming a partition and lands what was applied, acking it (a partition handed over). */
    async removePartition(partition: number): Promise<void> {
      const feed = feeds.get(partition)
      if (!feed) return
      feed.removed = true
      await feed.messages?.close()
      await feed.loop
      feeds.delete(partition)
      await requestFlush()
    },
    /** The partitions consumed now. */
    partitions: () => [...feeds.keys()],
    /**
     * Resolves once every message already in the stream at start has been applied, so that after a
     * restart, messages never acknowledged are back in live state before anyone is answered.
     */
    async caughtUp(): Promise<void> {
      await Promise.all([...feeds.values()].map((f) => f.isCaughtUp))
    },
    /** Resolves once the tenant's message with this stream sequence (and all before it) has been applied. */
    applied(tenant: string, seq: number): Promise<void> {
      const feed = feeds.get(partitionOf(tenant, options.partitionCount))
      if (!feed) return Promise.reject(new Error(`partition of ${tenant} is not consumed here`))
      if (feed.handledSeq >= seq) return Promise.resolve()
      return new Promise<void>((resolve) => feed.waiters.push({ seq, resolve }))
    },
    /**
     * Stops consuming and lands what was applied (a graceful stop acks everything it saw). A flush
     * still failing after the grace time is left for redelivery after the restart (acks follow
     * landing), and stop() resolves even if the store does not answer at all.
     */
    async stop(): Promise<void> {
      stopped = true
      clearInterval(timer)
      const grace = setTimeout(giveUp, stopGraceMs)
      const landed = (async () => {
        for (const feed of feeds.values()) await feed.messages?.close()
        await Promise.all([...feeds.values()].map((f) => f.loop))
        await requestFlush()
      })()
      await Promise.race([landed, gaveUp.then(() => new Promise((r) => setTimeout(r, 1_000)))])
      clearTimeout(grace)
    },
    /** Lands everything applied so far (before a checkpoint that should hold it). */
    flush: (): Promise<void> => requestFlush(),
    /** Flush progress for the health probe. */
    flushHealth: (): FlushHealth => ({ ...health }),
    deadLetters: () => deadLetters,
    /** How many messages the stream held for this consumer past the last ones applied, when those were delivered. */
    backlog: () => [...feeds.values()].reduce((n, f) => n + f.pending, 0),
    /** The same per partition consumed here. */
    lagByPartition: () => new Map([...feeds.values()].map((f) => [f.partition, f.pending])),
    dlqStream: DLQ_STREAM,
  }
}

export type StreamConsumer = ReturnType<typeof createStreamConsumer>
