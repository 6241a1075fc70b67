// POST /v1/webhooks/shopify: Shopify's own request, unchanged. The signature is checked on the
// raw body before anything else; the answer (200) waits only for JetStream, never for
// ClickHouse, so it comes well within Shopify's 5 s even while ClickHouse is down. A repeated
// X-Shopify-Webhook-Id maps to the same event ids and counts once.
import { Hono } from 'hono'
import { z } from 'zod'
import { HttpError, unauthorized } from '../../common/errors.ts'
import { registerRoute } from '../../common/openapi.ts'
import type { PagePipeline } from '../connectors/pages.ts'
import { PublishError } from '../publisher.ts'
import type { Tenant } from '../../tenants/index.ts'
import { validShopifySignature } from './hmac.ts'

export interface ShopifyWebhookOptions {
  /** The tenant whose Shopify shop this is (tenants are indexed by shop domain at creation). */
  tenantOfShop: (shopDomain: string) => Promise<Tenant | undefined>
  pages: PagePipeline
  now: () => number
}

export const SHOPIFY_WEBHOOK_PATH = '/v1/webhooks/shopify'

export const webhookAnswer = z.object({ ok: z.literal(true) })

registerRoute({
  method: 'post',
  path: SHOPIFY_WEBHOOK_PATH,
  tags: ['connectors'],
  auth: 'none',
  summary: "Shopify's webhook request, unchanged; signed with the tenant's webhook secret (X-Shopify-Hmac-Sha256)",
  description:
    'Topics orders/create, orders/updated, orders/cancelled, orders/fulfilled, refunds/create become events; ' +
    'products/create and products/update record their inventory items’ SKUs; inventory_levels/update becomes ' +
    'inventory.level; others are archived. A repeated X-Shopify-Webhook-Id counts once.',
  body: z.record(z.string(), z.unknown()),
  response: webhookAnswer,
  errors: {
    401: 'Missing or invalid signature, or an unknown shop',
    503: 'JetStream did not confirm (Shopify retries)',
  },
})

export function shopifyWebhookRoute(options: ShopifyWebhookOptions) {
  return new Hono().post(SHOPIFY_WEBHOOK_PATH, async (c) => {
    const raw = new Uint8Array(await c.req.arrayBuffer())
    const shop = (c.req.header('x-shopify-shop-domain') ?? '').trim().toLowerCase()
    const signature = c.req.header('x-shopify-hmac-sha256')
    const tenant = shop ? await options.tenantOfShop(shop) : undefined
    // One answer for an unknown shop and a bad signature: nothing to learn from probing.
    if (!tenant?.shopify || !validShopifySignature(raw, signature, tenant.shopify.webhook_secret))
      throw unauthorized('missing or invalid X-Shopify-Hmac-Sha256')

    const topic = c.req.header('x-shopify-topic') ?? ''
    const webhookId = c.req.header('x-shopify-webhook-id')
    const meta = {
      topic,
      shop_domain: shop,
      webhook_id: webhookId,
      api_version: c.req.header('x-shopify-api-version'),
      triggered_at: c.req.header('x-shopify-triggered-at'),
    }
    try {
      await options.pages.process(
        tenant,
        {
          connector: 'shopify',
          connectorId: shop,
          kind: topic,
          meta,
          body: new TextDecoder().decode(raw),
          receivedAt: options.now(),
        },
        {
          archive: true,
          payloadId: webhookId ? `shopify:${webhookId.replace(/[^\x21-\x7e]/g, '_').slice(0, 200)}` : undefined,
        },
      )
    } catch (err) {
      // Shopify retries a non-2xx for 48 hours: the event is not lost.
      if (err instanceof PublishError) throw new HttpError(503, 'unavailable', `webhook not accepted: ${err.message}`)
      throw err
    }
    return c.json({ ok: true })
  })
}
