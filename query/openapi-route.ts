// GET /openapi.json: generated from the registry (common/openapi.ts) that every route module
// fills beside its routes, from the same zod schemas the routes validate with.
import { Hono } from 'hono'
import { openApiDocument, registerRoute } from '../common/openapi.ts'

registerRoute({
  method: 'get',
  path: '/openapi.json',
  summary: 'This document: every route, generated from the zod schemas',
  auth: 'none',
})
// Served by push/'s WebSocket hub on the HTTP server's upgrade event, not by a Hono route.
registerRoute({
  method: 'get',
  path: '/v1/live',
  summary: 'WebSocket: subscribe to live topics (kpis, timeseries:<metric>:<interval>, …); snapshot, then updates',
  description:
    'Upgrade with Authorization: Bearer <api key> (or ?token= from POST /v1/live/token). ' +
    'Send {"op":"subscribe","topics":["kpis"]}; receive {"type":"snapshot"|"update","topic","seq","data"}. ' +
    'See docs/live-protocol.md.',
  status: 101,
})

export function openApiRoute(info: { title?: string; version: string; description?: string }) {
  let cached: string | undefined
  return new Hono().get('/openapi.json', (c) => {
    // Routes register at import time, all before the first request.
    cached ??= JSON.stringify(
      openApiDocument({ title: info.title ?? 'Pulse', version: info.version, description: info.description }),
    )
    return c.body(cached, 200, { 'content-type': 'application/json' })
  })
}
