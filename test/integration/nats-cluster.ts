// Three nats-server processes on loopback as one JetStream cluster (routes between them, a store
// dir each, free ports), for tests of R3 streams. Ready once the meta leader is elected and a
// stream with three replicas can be created.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { type AddressInfo, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { jetstreamManager, StorageType } from '@nats-io/jetstream'
import { type NatsConnection, connect } from '@nats-io/transport-node'
import { findNatsServer, MAX_PAYLOAD_BYTES } from '../../app/nats-server.ts'
import { waitFor } from './harness.ts'

export interface TestNatsCluster {
  /** The client URLs of the servers, comma-separated: what NATS_URL takes. */
  url: string
  urls: string[]
  /** A connection to the cluster (any of its servers). */
  nc: NatsConnection
  stop(): Promise<void>
}

const PROBE_STREAM = 'PULSE_TEST_CLUSTER_PROBE'

export async function startNatsCluster(size = 3): Promise<TestNatsCluster> {
  const bin = findNatsServer()
  if (!bin) throw new Error('nats-server not found')
  const dir = mkdtempSync(join(tmpdir(), 'pulse-test-nats-cluster-'))
  const ports = await freePorts(size * 2)
  const clientPorts = ports.slice(0, size)
  const routePorts = ports.slice(size)
  const children: ChildProcess[] = []
  const outputs: string[] = []
  for (let i = 0; i < size; i++) {
    const config = join(dir, `n${i}.conf`)
    writeFileSync(
      config,
      [
        `server_name: n${i}`,
        `listen: "127.0.0.1:${clientPorts[i]}"`,
        `max_payload: ${MAX_PAYLOAD_BYTES}`,
        `jetstream { store_dir: "${join(dir, `n${i}`)}" }`,
        'cluster {',
        '  name: pulse-test',
        `  listen: "127.0.0.1:${routePorts[i]}"`,
        `  routes: [${routePorts.map((p) => `"nats-route://127.0.0.1:${p}"`).join(', ')}]`,
        '}',
        '',
      ].join('\n'),
    )
    const child = spawn(bin, ['-c', config], { stdio: ['ignore', 'ignore', 'pipe'] })
    outputs.push('')
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (outputs[i] = (outputs[i] + d).slice(-8_000)))
    children.push(child)
  }
  const urls = clientPorts.map((p) => `nats://127.0.0.1:${p}`)
  // Not left behind by a test process that ends without stop().
  const killOnExit = () => {
    for (const child of children) child.kill('SIGKILL')
  }
  process.on('exit', killOnExit)
  const stop = async () => {
    process.off('exit', killOnExit)
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((done) => {
            if (child.exitCode !== null || child.signalCode !== null) return done()
            child.once('exit', () => done())
            child.kill('SIGTERM')
          }),
      ),
    )
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    const nc = await waitFor(
      () => connect({ servers: urls, maxReconnectAttempts: -1 }).catch(() => undefined),
      'a connection to the NATS cluster',
    )
    const jsm = await jetstreamManager(nc, { checkAPI: false })
    // A meta leader is elected and every server is a peer: an R3 stream can be placed.
    await waitFor(async () => {
      await jsm.streams.add({
        name: PROBE_STREAM,
        subjects: ['pulse-test.probe'],
        storage: StorageType.Memory,
        num_replicas: size,
      })
      await jsm.streams.delete(PROBE_STREAM)
      return true
    }, `a JetStream meta leader with ${size} peers`)
    return {
      url: urls.join(','),
      urls,
      nc,
      async stop() {
        await nc.close()
        await stop()
      },
    }
  } catch (err) {
    await stop()
    throw new Error(`${(err as Error).message}\n${outputs.map((o, i) => `n${i}:\n${o}`).join('\n')}`)
  }
}

/** `count` distinct free TCP ports on loopback (held open together, so none repeats). */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((done, fail) => {
          const server = createServer()
          server.once('error', fail)
          server.listen(0, '127.0.0.1', () => done(server))
        }),
    ),
  )
  const ports = servers.map((s) => (s.address() as AddressInfo).port)
  await Promise.all(servers.map((s) => new Promise<void>((done) => s.close(() => done()))))
  return ports
}
