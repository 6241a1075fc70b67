// The seams of the connector stage: a source module (one per outside API) and what the poller
// core hands it. A source knows its API's paths, pages and shapes; the core owns scheduling,
// cursors, retries, rate limits, the raw archive, dead letters and publishing.
import type { z } from 'zod'
import type { Settings } from '../../common/settings.ts'
import type { TenantRef } from '../../tenants/index.ts'

export const CONNECTOR_TYPES = [
  'meta_ads',
  'google_ads',
  'amazon_sp',
  'walmart',
  'klaviyo',
  'postscript',
  'quickbooks',
] as const
export type ConnectorType = (typeof CONNECTOR_TYPES)[number]

/** One response body as it came in, with what is needed to map it again later (reprocess). */
export interface ArchivedPage {
  /** `shopify` or a connector type. */
  connector: string
  /** The connector's id, or the shop domain for webhooks. */
  connectorId: string
  /** What the body is: a webhook topic, or the API call (`insights`, `orders`, ...). */
  kind: string
  /** Request context the mapping needs (a date range, the order an item page belongs to). Never credentials. */
  meta: Record<string, unknown>
  body: string
  receivedAt: number
}

export interface MapContext extends MapLookups {
  tenant: TenantRef
  settings: Settings
}

/**
 * What a mapping needs beyond the page and the tenant's settings, loaded before it runs (mappings
 * are pure and synchronous): see PagePipelineOptions.prepare.
 */
export interface MapLookups {
  /** Shopify inventory item id → SKU, for the items the page names that have one recorded (products/*). */
  inventorySkus?: ReadonlyMap<string, string>
}

/** Loads a page's lookups (and records what later pages will look up); given a body that may not be JSON. */
export type PagePreparer = (tenant: TenantRef, page: ArchivedPage) => Promise<MapLookups>

/** A pure mapping from an archived page to events (not yet validated). */
export type PageMapper = (page: ArchivedPage, ctx: MapContext) => Record<string, unknown>[]

/** The body does not have the documented shape: the page goes to the dead-letter stream. */
export class MalformedPage extends Error {
  override name = 'MalformedPage'
}

/**
 * The page names something not known yet (a Shopify inventory item whose product has not been
 * received): it goes to the dead-letter stream with `reason`, and reprocessing the archive once it
 * is known derives its events.
 */
export class UnresolvedReference extends Error {
  override name = 'UnresolvedReference'
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message)
  }
}

export interface RequestSpec {
  method?: 'GET' | 'POST'
  url: string
  headers?: Record<string, string>
  body?: string
  /** Rate limits are per operation on some APIs (SP-API); defaults to the path. */
  operation?: string
}

export interface HttpResponse {
  status: number
  headers: Headers
  text: string
  url: string
}

export interface SyncContext<C> {
  config: C
  /** What the last successful sync returned, or undefined for a first (full) sync. */
  cursor: unknown
  tenant: TenantRef
  now(): number
  /** One call with timeouts, retries with jittered back-off, 429/Retry-After and usage headers honoured. */
  request(spec: RequestSpec): Promise<HttpResponse>
  /**
   * Archives a body, maps it and publishes its events; a body that does not map goes to the
   * dead-letter stream and the sync goes on. Returns the parsed JSON (undefined if not JSON), so
   * the source can read its paging cursor even from a page whose records were malformed.
   */
  page(kind: string, meta: Record<string, unknown>, body: string): Promise<unknown>
  /** Saves a changed config (a rotated refresh token), sealed like the original. */
  updateConfig(config: C): Promise<void>
}

export interface Source<C = any> {
  type: ConnectorType
  /** The events' `source`. */
  source: string
  /** The config under the names the API's documentation uses, plus `api_base_url?`. */
  config: z.ZodType<C>
  /** A non-secret label of the account (shown by GET /v1/connectors). */
  account(config: C): string
  /** Reads everything changed since the cursor; returns the next cursor. */
  sync(ctx: SyncContext<C>): Promise<unknown>
  map: PageMapper
  /**
   * Milliseconds to pause before the next call, from the API's own usage headers; `memo` lives for
   * one sync, `now` is when the answer came.
   */
  usage?(res: HttpResponse, operation: string, memo: Map<string, unknown>, now: number): number | undefined
  /** Milliseconds to wait after a 429 without Retry-After, from the body (Google's retryDelay). */
  retryDelay?(res: HttpResponse): number | undefined
}
