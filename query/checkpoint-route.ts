// POST /v1/admin/checkpoints: land what is applied and take a checkpoint of the stream state now
// (before a planned restart, so the next start replays almost nothing), instead of waiting for
// CHECKPOINT_INTERVAL_SECONDS. Every node holding partitions takes one of its own: the node asked
// takes its own (an `api` node has none) and asks the others over NATS (docs/cluster.md).
import { Hono } from 'hono'
import { z } from 'zod'
import type { CheckpointResult } from '../clickhouse/index.ts'
import { registerRoute } from '../common/openapi.ts'
import { requireAdmin } from '../tenants/index.ts'

const nodeCheckpoint = z.object({
  node: z.string(),
  /** False when no flush landed there since its last checkpoint (nothing was written). */
  taken: z.boolean(),
  last_seq: z.number().int().optional(),
  bytes: z.number().int().optional(),
  /** Events replayed onto the previous snapshots to build this one. */
  replayed: z.number().int().optional(),
  created_at: z.string().optional(),
  /** Why the node could not be asked (it is then not counted above). */
  error: z.string().optional(),
})

/** The nodes' checkpoints, and their sum: taken by any, bytes and replayed summed, the newest last_seq and time. */
export const checkpointAnswer = nodeCheckpoint.omit({ node: true, error: true }).extend({
  nodes: z.array(nodeCheckpoint),
})
type NodeCheckpoint = z.infer<typeof nodeCheckpoint>

registerRoute({
  method: 'post',
  path: '/v1/admin/checkpoints',
  summary: 'Take a checkpoint of the stream state now, on every node holding partitions',
  auth: 'admin',
  response: checkpointAnswer,
})

export function checkpointRoute(options: {
  adminToken: string
  self: string
  /** This node's own checkpoint; undefined on a node that holds no partition (`api`). */
  here?: () => Promise<CheckpointResult | undefined>
  /** The other nodes that hold partitions. */
  others: () => string[]
  /** Whether the request came from another node (it then answers for itself only). */
  forwarded: (request: Request) => boolean
  /** Sends the request to another node over NATS (app/forward.ts). */
  forward: (node: string, request: Request) => Promise<Response>
}) {
  const ask = async (node: string, request: Request): Promise<NodeCheckpoint[]> => {
    const res = await options.forward(node, new Request(request.url, { method: 'POST', headers: request.headers }))
    const text = await res.text()
    if (res.ok) return checkpointAnswer.parse(JSON.parse(text)).nodes
    return [{ node, taken: false, error: `${res.status}: ${text.slice(0, 200)}` }]
  }
  return new Hono().post('/v1/admin/checkpoints', requireAdmin(options.adminToken), async (c) => {
    const nodes: NodeCheckpoint[] = []
    if (options.here) {
      const taken = await options.here()
      nodes.push(
        taken
          ? {
              node: options.self,
              taken: true,
              last_seq: taken.last_seq,
              bytes: taken.bytes,
              replayed: taken.replayed,
              created_at: taken.created_at,
            }
          : { node: options.self, taken: false },
      )
    }
    if (!options.forwarded(c.req.raw))
      for (const answers of await Promise.all(options.others().map((node) => ask(node, c.req.raw))))
        nodes.push(...answers)
    const taken = nodes.filter((n) => n.taken)
    if (taken.length === 0) return c.json({ taken: false, nodes })
    return c.json({
      taken: true,
      last_seq: Math.max(...taken.map((n) => n.last_seq ?? 0)),
      bytes: taken.reduce((sum, n) => sum + (n.bytes ?? 0), 0),
      replayed: taken.reduce((sum, n) => sum + (n.replayed ?? 0), 0),
      created_at: taken
        .map((n) => n.created_at ?? '')
        .sort()
        .at(-1),
      nodes,
    })
  })
}
