// Request bodies are read whole into memory, so each route family has a ceiling, checked while the
// body streams in (and from Content-Length at once): beyond it the answer is 413 and nothing is read.
import type { MiddlewareHandler } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { errorBody } from './errors.ts'

const MiB = 1024 * 1024

/** Path prefix → the most bytes a request body may have; the first match wins. */
export const BODY_LIMITS: readonly [prefix: string, bytes: number][] = [
  // A batch of up to 10,000 events.
  ['/v1/events', 16 * MiB],
  // One Shopify webhook is archived whole as one NATS message (8 MB at most, escaping included).
  ['/v1/webhooks/', 4 * MiB],
  ['/v1/settings/sku-costs', 4 * MiB],
  ['/', 1 * MiB],
]

export function bodyLimits(): MiddlewareHandler {
  const guards = BODY_LIMITS.map(([prefix, bytes]) => ({
    prefix,
    guard: bodyLimit({
      maxSize: bytes,
      onError: (c) =>
        c.json(errorBody('payload_too_large', `the request body is over ${bytes} bytes, the limit of ${prefix}`), 413),
    }),
  }))
  return (c, next) => guards.find((g) => c.req.path.startsWith(g.prefix))!.guard(c, next)
}
