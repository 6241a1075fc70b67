// GET /healthz: each dependency probed, the failing one named.
import { Hono } from 'hono'
import { z } from 'zod'
import { registerRoute } from '../common/openapi.ts'

export type Probe = () => Promise<void>

registerRoute({
  method: 'get',
  path: '/healthz',
  summary: 'Health of the app and each dependency; 503 names the failing one',
  auth: 'none',
  response: z.object({ status: z.enum(['ok', 'degraded']), nats: z.string(), clickhouse: z.string() }),
  errors: { 503: 'A dependency is down' },
})

export function healthRoute(probes: { nats: Probe; clickhouse: Probe }) {
  return new Hono().get('/healthz', async (c) => {
    const status: Record<string, string> = {}
    let healthy = true
    for (const [name, probe] of Object.entries(probes)) {
      try {
        await Promise.race([probe(), new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), 2_000))])
        status[name] = 'ok'
      } catch (err) {
        healthy = false
        status[name] = `down: ${(err as Error).message}`
      }
    }
    return c.json({ status: healthy ? 'ok' : 'degraded', ...status }, healthy ? 200 : 503)
  })
}
