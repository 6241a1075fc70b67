// One path for every body that comes from outside (a webhook, a polled page, an archived payload
// being reprocessed): archive it raw, map it to events, validate them, publish them like
// POST /v1/events does. What cannot be used goes to the dead-letter stream with the reason, and
// the rest goes on.
import { createHash } from 'node:crypto'
import { headers as natsHeaders } from '@nats-io/transport-node'
import { messageOf } from '../../common/errors.ts'
import type { Log } from '../../common/log.ts'
import type { Settings } from '../../common/settings.ts'
import type { TenantRef } from '../../tenants/index.ts'
import { type PublishOutcome, publishEvents, validateEvents } from '../publish-events.ts'
import type { PipelinedPublisher } from '../publisher.ts'
import { HEADERS, dlqSubject } from '../streams.ts'
import { archiveRaw } from './archive.ts'
import {
  type ArchivedPage,
  MalformedPage,
  type MapLookups,
  type PageMapper,
  type PagePreparer,
  UnresolvedReference,
} from './types.ts'

export interface PageOutcome extends PublishOutcome {
  deadLetters: number
  /** The body as JSON, or undefined when it is not JSON. */
  json: unknown
}

export interface PagePipelineOptions {
  publisher: PipelinedPublisher
  /** The deployment's partition count (config.partitions). */
  partitions: number
  mappers: Record<string, PageMapper>
  /**
   * Per connector, run before its mapping (live and when reprocessing): records what later pages
   * look up (Shopify products' inventory items → SKUs) and loads what this page needs. A failure
   * rejects process() like an unavailable JetStream (the webhook is answered 5xx and retried).
   */
  prepare?: Record<string, PagePreparer>
  settingsOf: (tenant: string) => Promise<Settings>
  alreadySeen?: (tenant: string, id: string) => boolean
  now: () => number
  log: Log
  /** Told of every dead letter (for /metrics). */
  onDeadLetter?: (tenant: string, reason: string) => void
}

/** Tokens some APIs echo back inside bodies (Meta's paging.next carries access_token). */
export function redact(text: string): string {
  return text
    .replace(/(access_token|refresh_token|client_secret)=[^&"\s\\]+/g, '$1=REDACTED')
    .replace(/("(?:access_token|refresh_token|client_secret)"\s*:\s*")[^"]*"/g, '$1REDACTED"')
}

export function payloadIdOf(page: ArchivedPage): string {
  return createHash('sha256')
    .update(`${page.connector}\n${page.connectorId}\n${page.kind}\n${JSON.stringify(page.meta)}\n${page.body}`)
    .digest('base64url')
    .slice(0, 32)
}

export function createPagePipeline(options: PagePipelineOptions) {
  const { publisher, log } = options

  async function deadLetter(
    tenant: string,
    page: ArchivedPage,
    key: string,
    reason: string,
    detail: string,
    body: string,
  ): Promise<void> {
    const h = natsHeaders()
    h.set('Nats-Msg-Id', `dlq:${tenant}:${key}`)
    h.set(HEADERS.dlqReason, reason)
    h.set(HEADERS.dlqDetail, detail.replace(/[\r\n]+/g, ' ').slice(0, 1000))
    h.set(HEADERS.dlqSubject, `connector.${page.connector}.${page.connectorId}.${page.kind}`)
    h.set(HEADERS.dlqSeq, '0')
    await publisher.publishAll([{ subject: dlqSubject(tenant), data: body, headers: h }])
    options.onDeadLetter?.(tenant, reason)
    const { connector, kind } = page
    log.warn({ tenant, connector, kind, reason, detail: detail.slice(0, 200) }, 'dead letter from a connector')
  }

  /**
   * Resolves once JetStream has the raw payload (when `archive`), the events and any dead
   * letters; rejects (PublishError) when JetStream is unavailable, so the caller can retry.
   */
  async function process(
    tenant: TenantRef,
    incoming: ArchivedPage,
    opts: { archive: boolean; payloadId?: string },
  ): Promise<PageOutcome> {
    const page = { ...incoming, body: redact(incoming.body) }
    const payloadId = opts.payloadId ?? payloadIdOf(page)
    if (opts.archive) await archiveRaw(publisher, [{ ...page, tenant: tenant.id, payloadId }], options.partitions)
    let json: unknown
    try {
      json = JSON.parse(incoming.body)
    } catch {
      json = undefined
    }

    const mapper = options.mappers[page.connector]
    const settings = await options.settingsOf(tenant.id)
    const prepare = options.prepare?.[page.connector]
    const lookups: MapLookups = prepare ? await prepare(tenant, page) : {}
    let items: Record<string, unknown>[]
    try {
      if (!mapper) throw new MalformedPage(`no mapping for ${page.connector}`)
      items = mapper(page, { tenant, settings, ...lookups })
    } catch (err) {
      const reason =
        err instanceof MalformedPage
          ? 'malformed_page'
          : err instanceof UnresolvedReference
            ? err.reason
            : 'mapping_failed'
      await deadLetter(tenant.id, page, payloadId, reason, messageOf(err), page.body)
      return { accepted: 0, duplicates: 0, deadLetters: 1, json }
    }

    const receivedAt = options.now()
    const { valid, details } = validateEvents(tenant, items, {
      receivedAt,
      rateFor: (currency) => settings.currency_rates[currency],
      skuCostOf: (sku) => settings.sku_costs[sku],
    })
    const invalid = new Map<number, string[]>()
    for (const d of details) invalid.set(d.index!, [...(invalid.get(d.index!) ?? []), `${d.path}: ${d.message}`])
    for (const [index, messages] of invalid) {
      await deadLetter(
        tenant.id,
        page,
        `${payloadId}:${index}`,
        messages.some((m) => m.startsWith('currency')) ? 'no_rate' : 'invalid_event',
        messages.join('; '),
        JSON.stringify(items[index]),
      )
    }
    const outcome = await publishEvents(publisher, tenant.id, valid, {
      receivedAt,
      partitions: options.partitions,
      alreadySeen: options.alreadySeen,
    })
    return { ...outcome, deadLetters: invalid.size, json }
  }

  return { process }
}

export type PagePipeline = ReturnType<typeof createPagePipeline>
