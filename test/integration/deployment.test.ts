// What the nodes of one deployment share, checked at start (app/deployment.ts): a node whose
// ADMIN_TOKEN or SECRET_KEY differs from the deployment's is refused, naming the variable; the
// demo tenant is made once, every node prints its one key, and its traffic runs on one node only,
// the owner of its partition.
import { afterAll, describe, expect, it } from 'vitest'
import { clusterAnswer } from '../../query/cluster-route.ts'
import { partitionOf } from '../../ingest/streams.ts'
import { kpisAnswer } from '../../query/metrics-routes.ts'
import * as h from './harness.ts'

const SECRET_KEY = 'deployment-test-secret-key-0123456789'
const servers: h.TestNats[] = []
const apps: h.App[] = []
afterAll(async () => {
  for (const app of apps) await app.kill()
  for (const nats of servers) await nats.stop()
})

const demoKeyIn = (output: string) => /API key: (pk_demo_[A-Za-z0-9_-]+)/.exec(output)?.[1]
const demoLines = (output: string) =>
  output
    .split('\n')
    .filter((l) => l.includes('"stage":"demo"') && /sent today's history|stopped here/.test(l))
    .map((l) => (l.includes('stopped here') ? 'stopped' : 'started'))

describe('a deployment', () => {
  it('refuses a node with other secrets, makes the demo tenant once and runs its traffic on one node', async () => {
    const nats = await h.startNats()
    servers.push(nats)
    const env = { NATS_URL: nats.url, SECRET_KEY, DEMO: '1', LEASE_TTL_MS: '3000' }
    const a = await h.startApp({ env })
    apps.push(a)

    await expect(h.startApp({ env: { ...env, ADMIN_TOKEN: 'another-admin-token-0123456789' } })).rejects.toThrow(
      /ADMIN_TOKEN differs from the one this deployment's nodes use/,
    )
    await expect(
      h.startApp({ env: { ...env, SECRET_KEY: 'another-secret-key-0123456789-0123456789' } }),
    ).rejects.toThrow(/SECRET_KEY differs from the one this deployment's nodes use/)

    const b = await h.startApp({ env })
    apps.push(b)
    // Printed just after the line the harness waits for.
    const printed = (app: h.App) => h.waitFor(async () => demoKeyIn(app.output()), 'the demo key printed')
    const key = await printed(a)
    expect(key).toMatch(/^pk_demo_/)
    expect(await printed(b)).toBe(key)

    // Once both hold half the partitions, only the demo partition's owner sends demo traffic.
    const view = await h.waitFor(async () => {
      const { body } = await h.getJson(a, h.ADMIN_TOKEN, '/v1/admin/cluster', clusterAnswer)
      const owners = body.partition_owners.map((p) => p.owner)
      return new Set(owners).size === 2 && owners.every((o) => o !== null) ? body : undefined
    }, 'two nodes sharing the partitions')
    const owner = view.partition_owners[partitionOf('demo', 16)].owner
    const [ownerApp, otherApp] = view.node === owner ? [a, b] : [b, a]
    await h.waitFor(async () => demoLines(ownerApp.output()).at(-1) === 'started' || undefined, 'demo on its owner')
    const other = demoLines(otherApp.output())
    expect(other.length === 0 || other.at(-1) === 'stopped', `demo lines of the other node: ${other}`).toBe(true)
    // The key works on both nodes.
    for (const app of [a, b]) expect((await h.getJson(app, key, '/v1/metrics/kpis', kpisAnswer)).status).toBe(200)
  }, 180_000)
})
