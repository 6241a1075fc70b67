// Partition leases in a NATS KV bucket (docs/cluster.md). nats-server 2.9 has no per-key TTL, so
// the bucket's max_age is the lease TTL: a key not written again within the TTL ages out. A free
// lease is taken with `create` (fails if the key exists), renewed with `update` at the revision we
// last wrote (fails if anyone wrote since, or the key aged out), released with a delete at that
// revision. The revision of the acquiring write is the fencing token: stable across renewals and
// larger than any earlier holder's, since revisions are the bucket stream's sequence.
import type { KV } from '@nats-io/kv'
import type { NatsConnection } from '@nats-io/transport-node'
import { openKv } from '../common/jetstream-replicas.ts'
import { isWrongLastSequence } from '../common/nats-errors.ts'

/** Why a lease ended: someone else wrote the key (or it aged out), no renewal landed in a TTL, or we gave it back. */
export type LossReason = 'superseded' | 'expired' | 'released'

export interface Lease {
  readonly partition: number
  /** The revision of the write that acquired the lease: every flush and ack is fenced by it. */
  readonly token: number
  /** The revision of our last write to the key (the acquisition or the last renewal). */
  readonly revision: number
  /** Why the lease ended, or undefined while it may still be held. */
  readonly lost: LossReason | undefined
  /** True only while the last landed write was sent less than TTL − margin ago: local, no network. */
  valid(): boolean
  /** Writes the key again at our revision: true if still held, false once lost (never true again). Throws when NATS does not answer. */
  renew(): Promise<boolean>
  /** Deletes the key if we still hold it; the lease is released locally whatever NATS answers. */
  release(): Promise<void>
}

/** What the key says: who holds the partition and since when. */
export interface Holder {
  owner: string
  acquired_at: string
  token: number
  revision: number
}

export interface LeaseOptions {
  nodeId: string
  ttlMs: number
  /** How long before the TTL an owner stops trusting its lease: covers the pause between a check and a write, and clock rate differences. */
  marginMs?: number
  bucket?: string
  /** Monotonic clock in ms (tests pass their own). */
  now?: () => number
  /** Wall clock for `acquired_at`, which is for people only. */
  wallClock?: () => number
  /**
   * Whatever holds this node id is this process: an earlier run of the node ended (a crash), so
   * its leases and membership are taken over at once instead of waiting for them to age out.
   * True only when the id is this node's own for sure (kept in its DATA_DIR, one process each).
   */
  ownIdIsMine?: boolean
  /** JETSTREAM_REPLICAS (common/jetstream-replicas.ts). */
  replicas?: number
}

export interface Leases {
  /** Takes the partition's lease if it is free; undefined if someone holds it. `onLost` is called once if a renewal finds it lost. */
  acquire(partition: number, onLost?: (reason: LossReason) => void): Promise<Lease | undefined>
  holder(partition: number): Promise<Holder | undefined>
  readonly ttlMs: number
  readonly marginMs: number
}

/** The bucket exists with another TTL: leases of two TTLs in one bucket would not be safe. */
export class LeaseBucketMismatchError extends Error {
  override name = 'LeaseBucketMismatchError'
}

export const leaseKey = (partition: number) => `p.${partition}`

/** Opens (or creates) a bucket whose max_age is the TTL (the membership bucket too). */
export async function openKvWithTtl(nc: NatsConnection, bucket: string, ttlMs: number, replicas?: number): Promise<KV> {
  const kv = await openKv(nc, bucket, { history: 1, ttl: ttlMs }, replicas)
  // An existing bucket is returned as it is: check its TTL rather than trust ours.
  const { ttl } = await kv.status()
  if (ttl !== ttlMs) throw new LeaseBucketMismatchError(`KV bucket ${bucket} has TTL ${ttl} ms, not ${ttlMs} ms`)
  return kv
}

export async function openLeases(nc: NatsConnection, options: LeaseOptions): Promise<Leases> {
  const { nodeId, ttlMs } = options
  const marginMs = options.marginMs ?? Math.round(ttlMs / 5)
  const now = options.now ?? (() => performance.now())
  const wallClock = options.wallClock ?? Date.now
  if (!(marginMs > 0 && marginMs < ttlMs)) throw new RangeError(`lease margin ${marginMs} ms must lie in (0, ${ttlMs})`)
  const kv = await openKvWithTtl(nc, options.bucket ?? 'pulse_leases', ttlMs, options.replicas)

  async function acquire(partition: number, onLost?: (reason: LossReason) => void): Promise<Lease | undefined> {
    const key = leaseKey(partition)
    const acquiredAt = new Date(wallClock()).toISOString()
    const sent = now()
    const value = JSON.stringify({ owner: nodeId, acquired_at: acquiredAt })
    let token: number
    try {
      token = await kv.create(key, value)
    } catch (err) {
      if (!isWrongLastSequence(err)) throw err
      // Held under this node's own id by an earlier run of this node, which is over (see
      // `ownIdIsMine`): taken over by revision, so a third node's write in between still wins.
      const held = options.ownIdIsMine ? await holder(partition) : undefined
      if (held?.owner !== nodeId) return undefined
      try {
        token = await kv.update(key, value, held.revision)
      } catch (updateErr) {
        if (isWrongLastSequence(updateErr)) return undefined
        throw updateErr
      }
    }
    return holdLease({
      kv,
      key,
      partition,
      token,
      sentAt: sent,
      ttlMs,
      marginMs,
      now,
      onLost,
      value: () =>
        // The token goes into renewals so a reader of the key can tell which acquisition it sees.
        JSON.stringify({ owner: nodeId, acquired_at: acquiredAt, token }),
    })
  }

  async function holder(partition: number): Promise<Holder | undefined> {
    const entry = await kv.get(leaseKey(partition))
    if (entry?.operation !== 'PUT') return undefined
    const value = entry.json<{ owner: string; acquired_at: string; token?: number }>()
    // Until its first renewal the key holds the acquiring write: its revision is the token.
    return {
      owner: value.owner,
      acquired_at: value.acquired_at,
      token: value.token ?? entry.revision,
      revision: entry.revision,
    }
  }

  return { acquire, holder, ttlMs, marginMs }
}

interface Held {
  kv: KV
  key: string
  partition: number
  token: number
  sentAt: number
  ttlMs: number
  marginMs: number
  now: () => number
  onLost?: (reason: LossReason) => void
  value: () => string
}

function holdLease(held: Held): Lease {
  const { kv, key, now, ttlMs, marginMs } = held
  let revision = held.token
  // When the last write that landed was sent: the server stored it later, so it ages out later.
  let sentAt = held.sentAt
  let lost: LossReason | undefined
  let renewing: Promise<boolean> | undefined

  function end(reason: LossReason) {
    if (lost) return
    lost = reason
    if (reason !== 'released') held.onLost?.(reason)
  }

  async function writeAgain(retried = false): Promise<boolean> {
    const sent = now()
    try {
      revision = await kv.update(key, held.value(), revision)
      // A renewal answered after the lease ended locally (released, or expired) does not revive it.
      if (lost) return false
      sentAt = sent
      return true
    } catch (err) {
      if (isWrongLastSequence(err)) {
        // An earlier renewal of ours may have landed with its answer lost (a timeout under load):
        // the key then still holds our acquisition's token, at a revision we did not see.
        // (A look that gets no answer throws: unanswered, the lease is kept and valid() decides.)
        const entry = retried ? undefined : await kv.get(key)
        const value = entry?.operation === 'PUT' ? entry.json<{ token?: number }>() : undefined
        if (entry && value?.token === held.token) {
          revision = entry.revision
          return writeAgain(true)
        }
        end('superseded')
        return false
      }
      // No answer: it may still be held, but after a whole TTL without a landed write it is surely gone.
      if (now() - sentAt >= ttlMs) {
        end('expired')
        return false
      }
      throw err
    }
  }

  return {
    partition: held.partition,
    token: held.token,
    get revision() {
      return revision
    },
    get lost() {
      return lost
    },
    valid: () => lost === undefined && now() - sentAt < ttlMs - marginMs,
    renew() {
      if (lost) return Promise.resolve(false)
      // One write at a time: two updates at the same revision would make the second look superseded.
      renewing ??= writeAgain().finally(() => (renewing = undefined))
      return renewing
    },
    async release() {
      if (lost) return
      await renewing?.catch(() => {})
      if (lost) return
      end('released')
      try {
        await kv.delete(key, { previousSeq: revision })
      } catch (err) {
        // Someone else's already: nothing of ours to delete. Unanswered: the key ages out within the TTL.
        if (!isWrongLastSequence(err)) throw err
      }
    },
  }
}
