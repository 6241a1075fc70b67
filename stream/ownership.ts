// The ownership loop of one node: every `renewMs` it renews its membership and its leases, reads
// who is live and who holds what, and applies the balancer's plan. The caller loads a partition's
// state in `onAcquired` and stops it in `onLost`; both are awaited, one tick at a time, so for a
// partition `onLost` always comes before this node's next `onAcquired` of it, and when we hand a
// partition back `onLost` has returned before the key is deleted (no other node can take it while
// we still work on it). It knows nothing of the consumer (docs/cluster.md).
import type { NatsConnection } from '@nats-io/transport-node'
import { type Log, silentLog } from '../common/log.ts'
import { plan } from './balancer.ts'
import { type Lease, type LossReason, openLeases } from './leases.ts'
import { type NodeInfo, openMembership } from './membership.ts'

export interface OwnershipOptions {
  nc: NatsConnection
  /** Unique per process (a restarted process takes a new one): a live id cannot join twice. */
  nodeId: string
  partitions: number
  ttlMs: number
  renewMs: number
  marginMs?: number
  /** `api` nodes join the membership (listed by /v1/admin/cluster) but take no partition. */
  role?: 'all' | 'worker' | 'api'
  url?: string
  onAcquired(partition: number, token: number): void | Promise<void>
  /** At most once per acquisition; 'released' when we hand it back or stop. */
  onLost(partition: number, reason: LossReason): void | Promise<void>
  /** Monotonic clock in ms. */
  now?: () => number
  log?: Log
  buckets?: { leases?: string; nodes?: string }
  /** The node id is this process's own for sure: an earlier run's leases are taken over at start (leases.ts). */
  ownIdIsMine?: boolean
  /** JETSTREAM_REPLICAS of the leases and nodes buckets (common/jetstream-replicas.ts). */
  replicas?: number
  /**
   * Nodes starting together with this one (the worker threads of one process): nothing is taken
   * until they are all live, or a TTL has passed, so they split the partitions at once instead of
   * the first taking them all and handing most back.
   */
  peers?: string[]
}

export interface Ownership {
  /** The partitions held now, ascending. */
  owned(): number[]
  /**
   * The lease of a partition held now, or being handed back (until onLost('released') returns: its
   * last landing is checked too): check `valid()` and use `token` before each flush and ack.
   */
  lease(partition: number): Lease | undefined
  /** Who held each partition at the last look (this node's own from its leases); undefined: nobody. */
  owners(): (string | undefined)[]
  /** The live nodes at the last look. */
  nodes(): NodeInfo[]
  /** Hands a partition back at the next tick (the node could not take it on: someone tries again). */
  release(partition: number): void
  /** Resolves once the first look has been taken and acted on. */
  firstTick: Promise<void>
  /** Hands back every partition (onLost 'released' first), then leaves the membership. */
  stop(): Promise<void>
}

export async function createOwnership(options: OwnershipOptions): Promise<Ownership> {
  const { nc, nodeId, partitions, ttlMs, renewMs, onAcquired, onLost } = options
  const log = options.log ?? silentLog
  const leases = await openLeases(nc, {
    nodeId,
    ttlMs,
    marginMs: options.marginMs,
    now: options.now,
    bucket: options.buckets?.leases,
    ownIdIsMine: options.ownIdIsMine,
    replicas: options.replicas,
  })
  // A renewal must land well inside the window in which the lease is trusted.
  if (!(renewMs > 0 && renewMs < ttlMs - leases.marginMs))
    throw new RangeError(`renewMs ${renewMs} must lie in (0, ttl − margin = ${ttlMs - leases.marginMs})`)
  const membership = await openMembership(nc, {
    node: { id: nodeId, role: options.role ?? 'all', ...(options.url ? { url: options.url } : {}) },
    ttlMs,
    bucket: options.buckets?.nodes,
    ownIdIsMine: options.ownIdIsMine,
    replicas: options.replicas,
  })
  await membership.join()

  const now = options.now ?? (() => performance.now())
  const startedAt = now()
  const peers = options.peers ?? []
  let waitingForPeers = peers.length > 0
  const held = new Map<number, Lease>()
  /** Partitions being handed back: out of `held` (not renewed, not counted), their lease still ours. */
  const handingBack = new Map<number, Lease>()
  const giveBack = new Set<number>()
  let lastOwners: (string | undefined)[] = Array.from({ length: partitions }, () => undefined)
  let lastNodes: NodeInfo[] = []
  let stopping = false
  let timer: NodeJS.Timeout | undefined

  async function lose(partition: number, reason: LossReason) {
    held.delete(partition)
    try {
      await onLost(partition, reason)
    } catch (err) {
      log.error({ err, partition, reason }, 'ownership: onLost failed')
    }
  }

  /** Renews every lease held; true when each renewal was answered and kept its lease. */
  async function renewLeases(): Promise<boolean> {
    const kept = await Promise.all(
      [...held].map(async ([partition, lease]) => {
        try {
          if (await lease.renew()) return true
          await lose(partition, lease.lost!)
        } catch (err) {
          // Unanswered: keep it; valid() turns false on its own, and a later renewal decides.
          log.warn({ err, partition }, 'ownership: lease renewal unanswered')
        }
        return false
      }),
    )
    return kept.every(Boolean)
  }

  async function rebalance() {
    for (const partition of giveBack) await handBack(partition)
    giveBack.clear()
    const [nodes, holders] = await Promise.all([
      membership.liveNodes(),
      Promise.all(Array.from({ length: partitions }, (_, p) => leases.holder(p))),
    ])
    // Local truth for our own: a key naming us without a lease object here (an earlier acquisition
    // that ended) is not ours to count or release, nor free.
    // An earlier run's keys under our id are free to us when that run is known to be over.
    const stale = options.ownIdIsMine ? undefined : ''
    const owners = holders.map((h, p) => (held.has(p) ? nodeId : h && (h.owner === nodeId ? stale : h.owner)))
    lastNodes = nodes
    lastOwners = holders.map((h, p) => (held.has(p) ? nodeId : h?.owner))
    if (options.role === 'api') return
    if (waitingForPeers) {
      const live = new Set(nodes.map((n) => n.id))
      if (!peers.every((id) => live.has(id)) && now() < startedAt + ttlMs) return
      waitingForPeers = false
    }
    const todo = plan(
      partitions,
      nodes.filter((n) => n.role !== 'api').map((n) => n.id),
      owners,
      nodeId,
    )
    for (const partition of todo.release) await handBack(partition)
    for (const partition of todo.acquire) {
      if (stopping) return
      const lease = await leases.acquire(partition)
      if (!lease) continue // another node was quicker
      held.set(partition, lease)
      lastOwners[partition] = nodeId
      try {
        await onAcquired(partition, lease.token)
      } catch (err) {
        // The caller could not take it on: give it back without an onLost for an acquisition it refused.
        log.error({ err, partition }, 'ownership: onAcquired failed, lease released')
        held.delete(partition)
        await lease.release()
      }
    }
  }

  async function handBack(partition: number) {
    const lease = held.get(partition)
    if (!lease) return
    // Still ours until released: onLost('released') lands what was applied, and each landing
    // checks the lease (`lease(p)` must find it, or the node would take itself for fenced).
    handingBack.set(partition, lease)
    try {
      await lose(partition, 'released')
    } finally {
      handingBack.delete(partition)
    }
    await lease.release()
  }

  // Renewals run on their own timer, never queued behind a slow look at the holders: a lease
  // must be renewed in time whatever else the loop is doing.
  // The leases first: a node paused past them (its membership key aged out too) learns they are
  // lost, and a node that stops on that (app/main.ts, exit 75) does so before announcing itself
  // again; otherwise the others would count it live for a TTL and hand it partitions it never takes.
  let renewing: Promise<void> | undefined
  const renewAll = () =>
    (renewing ??= (async () => {
      try {
        // Membership only after every lease was renewed: a node waking from a pause (its renewals
        // unanswered or refused) must not announce itself again before it learns it was fenced,
        // or the others would count it live and plan partitions for it for a whole TTL.
        if (await renewLeases())
          await membership.renew().catch((err) => log.warn({ err }, 'ownership: membership renewal failed'))
      } finally {
        renewing = undefined
      }
    })())
  const renewTimer = setInterval(() => void renewAll(), renewMs)

  async function tick() {
    try {
      if (!stopping) await rebalance()
    } catch (err) {
      log.warn({ err }, 'ownership: tick failed')
    }
  }

  let running = tick()
  const firstTick = running
  const loop = async () => {
    await running
    if (stopping) return
    timer = setTimeout(() => {
      running = tick()
      void loop()
    }, renewMs)
  }
  void loop()

  return {
    owned: () => [...held.keys()].sort((a, b) => a - b),
    release: (partition) => void giveBack.add(partition),
    owners: () => lastOwners.map((o, p) => (held.has(p) ? nodeId : o === nodeId ? undefined : o)),
    nodes: () => lastNodes,
    firstTick,
    lease: (partition) => held.get(partition) ?? handingBack.get(partition),
    async stop() {
      stopping = true
      clearTimeout(timer)
      clearInterval(renewTimer)
      await running
      await renewing
      for (const partition of [...held.keys()]) {
        try {
          await handBack(partition)
        } catch (err) {
          log.warn({ err, partition }, 'ownership: release failed, the lease ages out')
        }
      }
      await membership.leave().catch((err) => log.warn({ err }, 'ownership: leave failed, the node ages out'))
    },
  }
}
