// Flush ids unique across every writer of one ClickHouse (worker threads on one chDB path, nodes on
// one server): flush id = epoch × 2^32 + n, n = 1, 2, … within an epoch. An epoch is the revision
// of a write to NATS KV `pulse_cluster` (key `flush_epoch`): revisions are the bucket stream's
// sequence, so no two writes get the same one and each is larger than every earlier one. So no two
// writers' flush ids collide, and a node that takes an epoch on taking a partition numbers its
// flushes above every flush of the partition's earlier owners (pulse.customers keeps the row with
// the highest flush id). Flush ids from before epochs counted from 1, far below 2^32. Like
// pulse_leases, pulse_cluster must never be deleted and recreated: revisions would start over.
import { Kvm } from '@nats-io/kv'
import type { NatsConnection } from '@nats-io/transport-node'
import { CLUSTER_BUCKET } from '../ingest/partitions.ts'

export const FLUSH_EPOCH_KEY = 'flush_epoch'
/** Flush ids per epoch. */
const EPOCH_SPAN = 2 ** 32
/** Below it, epoch × 2^32 + n is an exact JS number (2^53). */
const EPOCH_LIMIT = 2 ** 21

export class FlushEpochError extends Error {
  override name = 'FlushEpochError'
}

/** A new writer epoch: unique in the deployment and larger than every one taken before. */
export async function flushEpoch(nc: NatsConnection): Promise<number> {
  // Made by ingest/partitions.ts at every start, with these options; created here too for tests.
  const kv = await new Kvm(nc).create(CLUSTER_BUCKET, { history: 1 })
  const epoch = await kv.put(FLUSH_EPOCH_KEY, new Date().toISOString())
  if (epoch >= EPOCH_LIMIT)
    throw new FlushEpochError(`flush epoch ${epoch} reaches 2^21: flush ids would no longer be exact numbers`)
  return epoch
}

/** The first flush id of an epoch. */
export const firstFlushId = (epoch: number): number => epoch * EPOCH_SPAN + 1
