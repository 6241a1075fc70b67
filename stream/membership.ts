// Node membership in a NATS KV bucket with the same TTL scheme as the leases: each node's key is
// rewritten on a timer, and a node that stops (crash, pause, partition) ages out of the bucket
// within the TTL. The balancer splits partitions among the nodes listed here.
import { jetstreamManager } from '@nats-io/jetstream'
import type { KV } from '@nats-io/kv'
import type { NatsConnection } from '@nats-io/transport-node'
import { isWrongLastSequence } from '../common/nats-errors.ts'
import { openKvWithTtl } from './leases.ts'

export interface NodeInfo {
  id: string
  started_at: string
  role: string
  url?: string
}

/** Another live process announces itself under this node id: ids must be unique per process. */
export class NodeIdInUseError extends Error {
  override name = 'NodeIdInUseError'
}

export interface Membership {
  /** Announces this node; throws NodeIdInUseError if its id is live already. */
  join(): Promise<void>
  /** Writes the node's key again (announces it anew if it aged out while we were paused). */
  renew(): Promise<void>
  liveNodes(): Promise<NodeInfo[]>
  leave(): Promise<void>
}

export interface MembershipOptions {
  node: Omit<NodeInfo, 'started_at'>
  ttlMs: number
  bucket?: string
  wallClock?: () => number
  /** See `ownIdIsMine` in leases.ts: a live key with this id is an earlier run's, taken over. */
  ownIdIsMine?: boolean
  /** JETSTREAM_REPLICAS (common/jetstream-replicas.ts). */
  replicas?: number
}

export async function openMembership(nc: NatsConnection, options: MembershipOptions): Promise<Membership> {
  const bucket = options.bucket ?? 'pulse_nodes'
  const kv: KV = await openKvWithTtl(nc, bucket, options.ttlMs, options.replicas)
  const jsm = await jetstreamManager(nc)
  const stream = `KV_${bucket}`
  const prefix = `$KV.${bucket}.`
  const info: NodeInfo = { ...options.node, started_at: new Date((options.wallClock ?? Date.now)()).toISOString() }
  const key = info.id
  const value = JSON.stringify(info)
  let revision = 0

  async function join() {
    try {
      revision = await kv.create(key, value)
    } catch (err) {
      if (!isWrongLastSequence(err)) throw err
      if (options.ownIdIsMine) {
        revision = await kv.put(key, value)
        return
      }
      throw new NodeIdInUseError(`node id ${key} is in use by a live node`, { cause: err })
    }
  }

  return {
    join,
    async renew() {
      try {
        revision = await kv.update(key, value, revision)
      } catch (err) {
        // Our key aged out (a pause) or was deleted: announce again; if another took the id, join says so.
        if (!isWrongLastSequence(err)) throw err
        await join()
      }
    },
    async liveNodes() {
      // The keys from the stream's subjects (one request), not kv.keys(): its consumer counts the
      // messages to read first, and when a key ages out before it is delivered (a node that just
      // stopped) that count is never reached and the read waits ~30 s, holding up the balancer.
      const { state } = await jsm.streams.info(stream, { subjects_filter: `${prefix}>` })
      const keys = Object.keys(state.subjects ?? {}).map((subject) => subject.slice(prefix.length))
      const entries = await Promise.all(keys.map((k) => kv.get(k)))
      return entries.flatMap((e) => (e?.operation === 'PUT' ? [e.json<NodeInfo>()] : []))
    },
    async leave() {
      if (revision === 0) return
      try {
        await kv.delete(key, { previousSeq: revision })
      } catch (err) {
        if (!isWrongLastSequence(err)) throw err
      }
      revision = 0
    },
  }
}
