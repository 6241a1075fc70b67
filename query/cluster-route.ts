// GET /v1/admin/cluster: the nodes on this NATS, and per partition its owner, whether this node
// serves it, how far its consumer is behind, and its newest checkpoint (docs/cluster.md).
import { Hono } from 'hono'
import { z } from 'zod'
import { registerRoute } from '../common/openapi.ts'
import { requireAdmin } from '../tenants/index.ts'

export const clusterAnswer = z.object({
  node: z.string().describe('the node that answered'),
  partitions: z.number().int(),
  nodes: z.array(z.object({ id: z.string(), role: z.string(), started_at: z.string(), url: z.string().optional() })),
  partition_owners: z.array(
    z.object({
      partition: z.number().int(),
      owner: z.string().nullable().describe('null: no owner; its tenants are answered 503'),
      /** Known on the owner only (each node reports its own). */
      ready: z.boolean().nullable(),
      lag_messages: z.number().int().nullable(),
      last_checkpoint: z.object({ last_seq: z.number().int(), created_at: z.string() }).nullable(),
    }),
  ),
})
export type ClusterAnswer = z.output<typeof clusterAnswer>

registerRoute({
  method: 'get',
  path: '/v1/admin/cluster',
  summary: 'Nodes, partitions, owners, lag and last checkpoints',
  auth: 'admin',
  response: clusterAnswer,
})

export function clusterRoute(options: { status: () => Promise<ClusterAnswer>; adminToken: string }) {
  return new Hono().get('/v1/admin/cluster', requireAdmin(options.adminToken), async (c) =>
    c.json(await options.status()),
  )
}
