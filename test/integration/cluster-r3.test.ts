// The cluster scenario (cluster-scenario.ts) on three nats-servers as one JetStream cluster, the
// nodes started with JETSTREAM_REPLICAS=3: two nodes split the partitions, either answers every
// tenant exactly, nothing is applied twice, and every stream, KV bucket and object store of the
// deployment has three replicas on the three servers, including those an earlier start made with
// one (scaled in place). On a single nats-server JETSTREAM_REPLICAS=3 is refused, naming it.
import { jetstreamManager } from '@nats-io/jetstream'
import { afterAll, describe, expect, it } from 'vitest'
import { RAW_STREAM } from '../../ingest/connectors/archive.ts'
import { DLQ_STREAM, EVENTS_STREAM, ensureStreams } from '../../ingest/streams.ts'
import { openTenantRegistry } from '../../tenants/registry.ts'
import { balanced, everyAnswerExactOnTwoNodes } from './cluster-scenario.ts'
import * as h from './harness.ts'
import { type TestNatsCluster, startNatsCluster } from './nats-cluster.ts'

const clusters: TestNatsCluster[] = []
const nodes: h.App[] = []
afterAll(async () => {
  for (const node of nodes) await node.kill()
  for (const cluster of clusters) await cluster.stop()
})

/** Every stream of the deployment, in name order: the KV buckets', the object store's and its own streams. */
const DEPLOYMENT_STREAMS = [
  'KV_pulse_alert_outbox',
  'KV_pulse_alerts',
  'KV_pulse_cluster',
  'KV_pulse_connectors',
  'KV_pulse_leases',
  'KV_pulse_nodes',
  'KV_pulse_tenants',
  'OBJ_pulse_checkpoints',
  DLQ_STREAM,
  EVENTS_STREAM,
  RAW_STREAM,
]

describe('two nodes on a three-server JetStream cluster with R3 streams', () => {
  it('split the partitions; either node answers every tenant exactly; nothing is applied twice; every stream has 3 replicas', async () => {
    const cluster = await startNatsCluster(3)
    clusters.push(cluster)
    const jsm = await jetstreamManager(cluster.nc)
    // An earlier start with one replica: the events streams and the tenants bucket exist as R1.
    await ensureStreams(jsm, { duplicateWindowMs: 120_000 })
    await openTenantRegistry(cluster.nc)
    expect((await jsm.streams.info(EVENTS_STREAM)).config.num_replicas).toBe(1)
    expect((await jsm.streams.info('KV_pulse_tenants')).config.num_replicas).toBe(1)

    const env = {
      NATS_URL: cluster.url,
      JETSTREAM_REPLICAS: '3',
      STREAM_WORKERS: '0',
      SECRET_KEY: 'cluster-test-secret-key-0123456789',
      LEASE_TTL_MS: '3000',
    }
    const a = await h.startApp({ env })
    nodes.push(a)
    const b = await h.startApp({ env })
    nodes.push(b)
    await balanced([a, b])
    await everyAnswerExactOnTwoNodes(a, b)

    // Every stream: 3 replicas in its config, a leader and two current followers, on three distinct servers.
    const placed = await h.waitFor(async () => {
      const streams = []
      for await (const info of jsm.streams.list()) streams.push(info)
      const all = streams.map((s) => ({
        name: s.config.name,
        replicas: s.config.num_replicas,
        servers: [s.cluster?.leader, ...(s.cluster?.replicas ?? []).map((r) => r.name)].sort(),
        current: (s.cluster?.replicas ?? []).every((r) => r.current),
      }))
      return all.every((s) => s.current) ? all.sort((x, y) => (x.name < y.name ? -1 : 1)) : undefined
    }, 'every stream replica current')
    expect(placed.map(({ name, replicas, servers }) => ({ name, replicas, servers }))).toEqual(
      DEPLOYMENT_STREAMS.map((name) => ({ name, replicas: 3, servers: ['n0', 'n1', 'n2'] })),
    )
  }, 240_000)

  it('a single nats-server: JETSTREAM_REPLICAS=3 is refused at start, naming the setting', async () => {
    // NATS_URL unset: the app's own nats-server, not clustered.
    await expect(h.startApp({ env: { JETSTREAM_REPLICAS: '3', STREAM_WORKERS: '0' } })).rejects.toThrow(
      /JETSTREAM_REPLICAS=3 needs a JetStream cluster of at least 3 servers, but NATS is a single server \(stream PULSE_EVENTS\)/,
    )
  }, 60_000)
})
