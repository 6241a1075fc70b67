// JETSTREAM_REPLICAS (docs/operations.md): on how many servers of a JetStream cluster each of
// Pulse's streams, KV buckets and object stores is kept. Everything that creates one takes the
// count as an option: a new one is created with it, and one that exists with another count is
// scaled in place by a stream update (nats-server 2.9 allows changing `num_replicas` in a cluster
// and copies the data itself). Without the option (JETSTREAM_REPLICAS unset, tools, tests) a new one
// gets 1 replica and an existing one is left as it is, so a process that is not told cannot scale a
// cluster's streams down.
//
// A single nats-server refuses to create a stream with more than 1 replica (10074) but takes an
// update to 3 and keeps one copy, so more than 1 replica without a cluster is refused here either way.
import { type JetStreamManager, type StreamConfig, jetstreamManager } from '@nats-io/jetstream'
import { type KV, type KvOptions, Kvm } from '@nats-io/kv'
import { type ObjectStore, type ObjectStoreOptions, Objm } from '@nats-io/obj'
import type { NatsConnection } from '@nats-io/transport-node'
import { jetStreamApiCode } from './nats-errors.ts'

export const MAX_REPLICAS = 5

/** The option of everything that creates a stream, KV bucket or object store. */
export interface ReplicasOption {
  /** JETSTREAM_REPLICAS; when not given a new one gets 1 and an existing one keeps its own. */
  replicas?: number
}

/** The streams could not be given the replica count asked for; names the stream and the setting. */
export class ReplicasError extends Error {
  override name = 'ReplicasError'
}

const NOT_CLUSTERED = 10074
const NO_PEERS = 10005

const notClustered = (stream: string, replicas: number, cause?: unknown) =>
  new ReplicasError(
    `JETSTREAM_REPLICAS=${replicas} needs a JetStream cluster of at least ${replicas} servers, but NATS is a single server (stream ${stream}); set JETSTREAM_REPLICAS=1 or point NATS_URL at the cluster`,
    { cause },
  )

/** A create that failed for want of servers, with the setting named; any other failure as it is. */
function createFailure(err: unknown, stream: string, replicas: number | undefined): unknown {
  if (replicas === undefined || replicas <= 1) return err
  const code = jetStreamApiCode(err)
  if (code === NOT_CLUSTERED) return notClustered(stream, replicas, err)
  if (code === NO_PEERS)
    return new ReplicasError(
      `JETSTREAM_REPLICAS=${replicas}: stream ${stream} could not be created: ${(err as Error).message} (are ${replicas} JetStream servers of the cluster up?)`,
      { cause: err },
    )
  return err
}

/** Brings an existing stream (a KV bucket's `KV_<name>`, an object store's `OBJ_<name>`) to `replicas` copies. */
export async function matchReplicas(jsm: JetStreamManager, stream: string, replicas: number): Promise<void> {
  const info = await jsm.streams.info(stream)
  const from = info.config.num_replicas
  if (from === replicas) return
  if (replicas > 1 && !info.cluster) throw notClustered(stream, replicas)
  try {
    await jsm.streams.update(stream, { ...info.config, num_replicas: replicas })
  } catch (err) {
    throw new ReplicasError(
      `JETSTREAM_REPLICAS=${replicas}: stream ${stream} has ${from} replica(s) and could not be scaled to ${replicas}: ${(err as Error).message}`,
      { cause: err },
    )
  }
}

/** `jsm.streams.add` with `replicas` copies (1 when not given). */
export async function addStream(
  jsm: JetStreamManager,
  spec: Partial<StreamConfig> & { name: string },
  replicas: number | undefined,
): Promise<void> {
  try {
    await jsm.streams.add({ ...spec, num_replicas: replicas ?? 1 })
  } catch (err) {
    throw createFailure(err, spec.name, replicas)
  }
}

/** Opens (or creates) a KV bucket; with `replicas`, an existing one is scaled to it. */
export async function openKv(
  nc: NatsConnection,
  bucket: string,
  options: Partial<KvOptions>,
  replicas: number | undefined,
): Promise<KV> {
  let kv: KV
  try {
    kv = await new Kvm(nc).create(bucket, { ...options, replicas: replicas ?? 1 })
  } catch (err) {
    throw createFailure(err, `KV_${bucket}`, replicas)
  }
  if (replicas !== undefined)
    await matchReplicas(await jetstreamManager(nc, { checkAPI: false }), `KV_${bucket}`, replicas)
  return kv
}

/** Opens (or creates) an object store; with `replicas`, an existing one is scaled to it. */
export async function openObjectStore(
  nc: NatsConnection,
  bucket: string,
  options: Partial<ObjectStoreOptions>,
  replicas: number | undefined,
): Promise<ObjectStore> {
  let store: ObjectStore
  try {
    store = await new Objm(nc).create(bucket, { ...options, replicas: replicas ?? 1 })
  } catch (err) {
    throw createFailure(err, `OBJ_${bucket}`, replicas)
  }
  if (replicas !== undefined)
    await matchReplicas(await jetstreamManager(nc, { checkAPI: false }), `OBJ_${bucket}`, replicas)
  return store
}
