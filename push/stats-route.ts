// GET /v1/admin/live (admin): the hub's clients, buffered bytes and what back-pressure did.
import { Hono } from 'hono'
import { requireAdmin } from '../tenants/index.ts'
import type { Hub } from './hub.ts'
import type { LivePublisher } from './live-publisher.ts'

export function liveStatsRoute(options: { hub: Hub; publisher?: LivePublisher; adminToken: string }) {
  return new Hono().get('/v1/admin/live', requireAdmin(options.adminToken), (c) =>
    c.json({ hub: options.hub.stats(), publisher: options.publisher?.stats() ?? null }),
  )
}
