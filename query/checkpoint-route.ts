// POST /v1/admin/checkpoints: land what is applied and take a checkpoint of the stream state now
// (before a planned restart, so the next start replays almost nothing), instead of waiting for
// CHECKPOINT_INTERVAL_SECONDS.
import { Hono } from 'hono'
import { z } from 'zod'
import type { CheckpointResult } from '../clickhouse/index.ts'
import { registerRoute } from '../common/openapi.ts'
import { requireAdmin } from '../tenants/index.ts'

export const checkpointAnswer = z.object({
  /** False when no flush landed since the last checkpoint (nothing was written). */
  taken: z.boolean(),
  last_seq: z.number().int().optional(),
  bytes: z.number().int().optional(),
  /** Events replayed onto the previous snapshot to build this one. */
  replayed: z.number().int().optional(),
  created_at: z.string().optional(),
})

registerRoute({
  method: 'post',
  path: '/v1/admin/checkpoints',
  summary: 'Take a checkpoint of the stream state now',
  auth: 'admin',
  response: checkpointAnswer,
})

export function checkpointRoute(options: {
  checkpoint: () => Promise<CheckpointResult | undefined>
  adminToken: string
}) {
  return new Hono().post('/v1/admin/checkpoints', requireAdmin(options.adminToken), async (c) => {
    const taken = await options.checkpoint()
    if (!taken) return c.json({ taken: false })
    const { last_seq, bytes, replayed, created_at } = taken
    return c.json({ taken: true, last_seq, bytes, replayed, created_at })
  })
}
