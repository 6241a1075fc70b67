// GET /v1/admin/dead-letters: how many messages the stream stage could not use, and the newest
// of them with the reason, so an operator can see what is wrong without a NATS client.
import type { JetStreamManager } from '@nats-io/jetstream'
import { Hono } from 'hono'
import { z } from 'zod'
import { badRequest } from '../common/errors.ts'
import { registerRoute } from '../common/openapi.ts'
import { requireAdmin } from '../tenants/index.ts'
import { DLQ_STREAM, HEADERS } from './streams.ts'

const query = z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) })

export const deadLettersAnswer = z.object({
  count: z.number(),
  messages: z.array(
    z.object({
      dead_letter_seq: z.number(),
      at: z.string(),
      reason: z.string(),
      detail: z.string(),
      subject: z.string(),
      stream_seq: z.number(),
      body: z.string(),
    }),
  ),
})

registerRoute({
  method: 'get',
  path: '/v1/admin/dead-letters',
  summary: 'Messages the stream stage could not use, newest first, with the reason',
  auth: 'admin',
  query,
  response: deadLettersAnswer,
})

export function deadLettersRoute(options: { jsm: JetStreamManager; adminToken: string }) {
  return new Hono().get('/v1/admin/dead-letters', requireAdmin(options.adminToken), async (c) => {
    const parsed = query.safeParse(c.req.query())
    if (!parsed.success)
      throw badRequest(
        `invalid query: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      )
    const { state } = await options.jsm.streams.info(DLQ_STREAM)
    const messages = []
    for (let seq = state.last_seq; seq >= state.first_seq && seq > 0 && messages.length < parsed.data.limit; seq--) {
      const m = await options.jsm.streams.getMessage(DLQ_STREAM, { seq }).catch(() => null)
      if (!m) continue
      messages.push({
        dead_letter_seq: seq,
        at: m.time.toISOString(),
        reason: m.header?.get(HEADERS.dlqReason) ?? '',
        detail: m.header?.get(HEADERS.dlqDetail) ?? '',
        subject: m.header?.get(HEADERS.dlqSubject) ?? '',
        stream_seq: Number(m.header?.get(HEADERS.dlqSeq) ?? 0),
        body: m.string(),
      })
    }
    return c.json({ count: state.messages, messages })
  })
}
