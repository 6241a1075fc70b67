// Runs in the process that owns live state, beside the stream consumer. It computes topics and
// publishes them on NATS; hubs anywhere relay them to their clients and ask here for snapshots.
//
// - Only topics somebody watches are computed: a snapshot request, or a hub's renewal on
//   pulse.interest, leases a topic instance (topic + filters) for INTEREST_TTL_MS.
// - When a tenant's state changes, its watched instances are recomputed at most once per
//   coalesceMs (the first change of a quiet spell right away), and published only if the data
//   changed, with the instance's next sequence number. Every refreshMs they are recomputed anyway,
//   for figures that move with the clock (today's range, a new minute bin, a new day).
// - An answer larger than a NATS message can carry is never published: the topic is dropped and an
//   error goes to its watchers (on its live subject, relayed by the hubs) instead of it being
//   recomputed on every change for nobody.
import type { Msg, NatsConnection } from '@nats-io/transport-node'
import { LRUCache } from 'lru-cache'
import { createCoalescer } from '../common/coalescer.ts'
import { messageOf } from '../common/errors.ts'
import { type Log, silentLog } from '../common/log.ts'
import {
  INTEREST_SUBJECT,
  INTEREST_TTL_MS,
  SNAPSHOT_WILDCARD,
  errorMessage,
  liveMessage,
  liveSubject,
  tenantOfSnapshotSubject,
} from './subjects.ts'
import { TopicError, parseTopic, resolveTopic } from './topic.ts'

export interface TopicRequest {
  tenant: string
  /** The canonical topic: `kpis?view=order_date`, `timeseries:gmv:1m`. */
  topic: string
  /** The registry key that matched: `timeseries` for `timeseries:gmv:1m`. */
  name: string
  /** Name parts after the key: `['gmv', '1m']` for `timeseries:gmv:1m`. */
  args: string[]
  /** Filters after '?', decoded. Throw `TopicError('bad_topic', …)` for ones the topic does not take. */
  params: Record<string, string>
  /** The instant the data stands for. */
  now: number
  /**
   * Runs the expensive part of a source in its tenant's turn (the per-tenant bound HTTP reads go
   * through). Sources check their arguments first, outside it, so a bad topic is refused at once.
   */
  inTurn?: <T>(compute: () => Promise<T>) => Promise<T>
}

/** Computes a topic's current data for a tenant: JSON-serialisable, the snapshot and every update. */
export type TopicSource = (tenant: string, request: TopicRequest) => Promise<unknown>

export interface LivePublisherOptions {
  nc: NatsConnection
  /**
   * Registry: exact names (`kpis`, `dashboard:rfm`) or prefixes (`timeseries` serves `timeseries:<metric>:<interval>`).
   */
  topics: Record<string, TopicSource>
  coalesceMs?: number
  refreshMs?: number
  interestTtlMs?: number
  /**
   * Top-level fields that move with the clock alone (default `as_of`, `to`): a change in them alone publishes nothing.
   */
  stampFields?: string[]
  now?: () => number
  log?: Log
  /** Largest answer a topic may have, in bytes of JSON; default the server's max_payload less headroom for the head. */
  maxDataBytes?: number
  /** Runs one computation in its tenant's turn: the per-tenant bound the HTTP reads go through. */
  run?: <T>(tenant: string, compute: () => Promise<T>) => Promise<T>
  /**
   * A tenant's topics are recomputed at most every coalesceMs, and (start to start) at least this
   * many times as long apart as their last recomputation took: a tenant whose topics are costly
   * gets its updates less often instead of taking the event loop from every other tenant.
   */
  paceFactor?: number
  /**
   * Whether this process holds the tenant's live state (owns its partition); another process
   * answers for the rest, so requests and interest for them are left to it. Default: every tenant.
   */
  owns?: (tenant: string) => boolean
}

/** Room for the message head (type, topic of up to ~1,500 escaped characters, seq) around the data. */
const HEAD_ROOM_BYTES = 16 * 1024

interface Instance {
  tenant: string
  request: Omit<TopicRequest, 'now'>
  source: TopicSource
  seq: number
  /** The data last published, without its stamp fields. */
  fingerprint?: string
  until: number
  failing: boolean
  chain: Promise<unknown>
}

export function createLivePublisher(options: LivePublisherOptions) {
  const { nc, topics } = options
  const coalesceMs = options.coalesceMs ?? 250
  const ttl = options.interestTtlMs ?? INTEREST_TTL_MS
  const now = options.now ?? Date.now
  const log = options.log ?? silentLog
  const stamps = new Set(options.stampFields ?? ['as_of', 'to'])
  const maxDataBytes = options.maxDataBytes ?? (nc.info?.max_payload ?? 1024 * 1024) - HEAD_ROOM_BYTES
  const inTurn = options.run ?? (<T>(_tenant: string, compute: () => Promise<T>) => compute())
  const byTenant = new Map<string, Map<string, Instance>>()
  // Sequence numbers of forgotten instances, so a topic watched again goes on counting upward.
  const retiredSeq = new LRUCache<string, number>({ max: 100_000 })

  /** The instance for a topic, created and leased; throws TopicError for a bad or unknown topic. */
  function lease(tenant: string, text: string): Instance {
    const parsed = parseTopic(text)
    let instances = byTenant.get(tenant)
    let inst = instances?.get(parsed.canonical)
    if (!inst) {
      const found = resolveTopic(topics, parsed.name)
      if (!found) throw new TopicError('unknown_topic', `unknown topic ${parsed.name}`)
      const request = { tenant, topic: parsed.canonical, name: found.key, args: found.args, params: parsed.params }
      inst = {
        tenant,
        request,
        source: found.source,
        seq: retiredSeq.get(`${tenant}|${parsed.canonical}`) ?? 0,
        until: 0,
        failing: false,
        chain: Promise.resolve(),
      }
      if (!instances) byTenant.set(tenant, (instances = new Map()))
      instances.set(parsed.canonical, inst)
    }
    inst.until = now() + ttl
    return inst
  }

  function forget(inst: Instance): void {
    retiredSeq.set(`${inst.tenant}|${inst.request.topic}`, inst.seq)
    const instances = byTenant.get(inst.tenant)
    instances?.delete(inst.request.topic)
    if (instances?.size === 0) byTenant.delete(inst.tenant)
  }

  /** Recomputes one instance (one computation at a time per instance); publishes when it changed. */
  function refresh(inst: Instance): Promise<{ seq: number; json: string }> {
    const run = inst.chain.then(async () => {
      const request = {
        ...inst.request,
        now: now(),
        inTurn: <T>(compute: () => Promise<T>) => inTurn(inst.tenant, compute),
      }
      const data = await inst.source(inst.tenant, request)
      const json = JSON.stringify(data) ?? 'null'
      const bytes = Buffer.byteLength(json)
      if (bytes > maxDataBytes) {
        const limit = `at most ${maxDataBytes} can be delivered: narrow its range or filters`
        throw new TopicError('too_large', `the answer of ${inst.request.topic} is ${bytes} bytes; ${limit}`)
      }
      const fingerprint =
        typeof data === 'object' &&
        data !== null &&
        !Array.isArray(data) &&
        Object.keys(data).some((k) => stamps.has(k))
          ? JSON.stringify(data, function (key, value) {
              return this === data && stamps.has(key) ? undefined : value
            })
          : json
      if (fingerprint !== inst.fingerprint) {
        inst.fingerprint = fingerprint
        inst.seq += 1
        nc.publish(
          liveSubject(inst.tenant, inst.request.topic),
          liveMessage('update', inst.request.topic, inst.seq, json),
        )
      }
      return { seq: inst.seq, json }
    })
    inst.chain = run.catch(() => {})
    return run
  }

  /** Drops a topic its source refused, and tells whoever watches it (hubs relay the error and unsubscribe). */
  function refuse(inst: Instance, err: TopicError): void {
    forget(inst)
    nc.publish(liveSubject(inst.tenant, inst.request.topic), errorMessage(err.code, err.message, inst.request.topic))
  }

  async function publish(tenant: string): Promise<void> {
    const instances = byTenant.get(tenant)
    if (!instances) return
    const t = now()
    await Promise.all(
      [...instances.values()].map(async (inst) => {
        if (inst.until < t) return forget(inst)
        try {
          await refresh(inst)
          if (inst.failing) log.info({ tenant, topic: inst.request.topic }, 'live topic recovered')
          inst.failing = false
        } catch (err) {
          if (err instanceof TopicError) return refuse(inst, err)
          if (!inst.failing) log.warn({ tenant, topic: inst.request.topic, err }, 'live topic failed')
          inst.failing = true
        }
      }),
    )
  }

  const publishing = createCoalescer({
    work: publish,
    minGapMs: coalesceMs,
    paceFactor: options.paceFactor ?? 3,
    now,
    onError: (tenant, err) => log.error({ tenant, err }, 'live topics not published'),
  })

  const owns = options.owns ?? (() => true)

  async function answerSnapshot(msg: Msg): Promise<void> {
    const tenant = tenantOfSnapshotSubject(msg.subject)
    if (!owns(tenant)) return // its owner answers
    let topic = ''
    let inst: Instance | undefined
    try {
      topic = String((msg.json() as { topic?: unknown }).topic ?? '')
      inst = lease(tenant, topic)
      const { seq, json } = await refresh(inst)
      msg.respond(liveMessage('snapshot', inst.request.topic, seq, json))
    } catch (err) {
      if (err instanceof TopicError) {
        // A source refused its arguments or filters, or the answer is too large: nothing to keep.
        if (inst && inst.fingerprint === undefined) forget(inst)
        else if (inst && err.code === 'too_large') refuse(inst, err)
        msg.respond(errorMessage(err.code, err.message, topic))
      } else {
        msg.respond(errorMessage('snapshot_failed', messageOf(err), topic))
      }
    }
  }

  const snapshots = nc.subscribe(SNAPSHOT_WILDCARD, { callback: (_err, msg) => void answerSnapshot(msg) })
  const interest = nc.subscribe(INTEREST_SUBJECT, {
    callback: (_err, msg) => {
      try {
        const { tenant, topics: watched } = msg.json() as { tenant: string; topics: string[] }
        if (!owns(tenant)) return
        // A publisher that restarted learns here what hubs still serve, and picks it up on the next change.
        for (const topic of watched) {
          try {
            lease(tenant, topic)
          } catch {
            // A topic this publisher does not know: the hub's client got an error for it already.
          }
        }
      } catch (err) {
        log.warn({ err }, 'bad interest message')
      }
    },
  })
  const ticker = setInterval(() => {
    for (const tenant of byTenant.keys()) publishing.request(tenant)
  }, options.refreshMs ?? 30_000)

  return {
    /** The stream stage calls this on every applied event; work happens at most every coalesceMs. */
    changed(tenant: string): void {
      if (byTenant.has(tenant)) publishing.request(tenant)
    },
    /** Forgets the topics of tenants this process no longer owns (their new owner publishes them). */
    handedOver(tenants: (tenant: string) => boolean): void {
      for (const tenant of [...byTenant.keys()]) if (tenants(tenant)) byTenant.delete(tenant)
    },
    /** Registered names and prefixes. */
    topics: Object.keys(topics),
    stats: () => ({ tenants: byTenant.size, instances: [...byTenant.values()].reduce((n, m) => n + m.size, 0) }),
    stop(): void {
      snapshots.unsubscribe()
      interest.unsubscribe()
      clearInterval(ticker)
      publishing.stop()
    },
  }
}

export type LivePublisher = ReturnType<typeof createLivePublisher>
