// GET /healthz: each dependency probed, the failing one named.
import { Hono } from 'hono'
import { z } from 'zod'
import { messageOf } from '../common/errors.ts'
import { registerRoute } from '../common/openapi.ts'

export type Probe = () => Promise<void>

/** What the stream consumer tells of its flushes (stream/consumer.ts flushHealth). */
export interface FlushState {
  /** When the batch now landing was first tried; undefined when nothing is landing. */
  pendingSince?: number
  lastError?: string
}

/**
 * Fails once a flush has been landing for `stallMs` (failing, or not answered): events are then
 * accepted but reach nobody, which the nats and clickhouse probes alone may not show.
 */
export function flushProbe(state: () => FlushState, now: () => number, stallMs = 30_000): Probe {
  return async () => {
    const { pendingSince, lastError } = state()
    if (pendingSince === undefined) return
    const ms = now() - pendingSince
    if (ms >= stallMs) throw new Error(`flush failing for ${Math.round(ms / 1000)} s: ${lastError ?? 'no answer yet'}`)
  }
}

export const healthAnswer = z.object({
  status: z.enum(['ok', 'degraded']),
  nats: z.string(),
  clickhouse: z.string(),
  stream: z.string().optional(),
})

registerRoute({
  method: 'get',
  path: '/healthz',
  summary: 'Health of the app and each dependency; 503 names the failing one',
  auth: 'none',
  response: healthAnswer,
  otherAnswers: {
    503: { description: 'A dependency is down, or flushes to ClickHouse have been failing', schema: healthAnswer },
  },
})

export function healthRoute(probes: { nats: Probe; clickhouse: Probe; stream?: Probe }) {
  return new Hono().get('/healthz', async (c) => {
    const status: Record<string, string> = {}
    let healthy = true
    for (const [name, probe] of Object.entries(probes)) {
      if (!probe) continue
      try {
        await Promise.race([
          probe(),
          new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), 2_000)),
        ])
        status[name] = 'ok'
      } catch (err) {
        healthy = false
        status[name] = `down: ${messageOf(err)}`
      }
    }
    return c.json({ status: healthy ? 'ok' : 'degraded', ...status }, healthy ? 200 : 503)
  })
}
