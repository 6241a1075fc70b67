// Inventory connectors' mappings from the documented bodies (test/fixtures/) to `inventory.level`:
// Shopify's inventory_levels/update under the SKU its products/* recorded (the record in NATS KV
// included), an unknown item and untracked inventory; Amazon FBA inventory summaries across pages,
// with the fallbacks for quantities and missing update times, and content ids that repeat only for
// unchanged summaries.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { event } from '../../common/events.ts'
import { defaultSettings } from '../../common/settings.ts'
import {
  INVENTORY_KIND,
  mapInventorySummaries,
  syncFbaInventory,
  type Undated,
} from '../../ingest/connectors/sources/amazon-inventory.ts'
import { amazonSp } from '../../ingest/connectors/sources/amazon-sp.ts'
import {
  type ArchivedPage,
  type HttpResponse,
  MalformedPage,
  type MapContext,
  type RequestSpec,
  type SyncContext,
  UnresolvedReference,
} from '../../ingest/connectors/types.ts'
import {
  type InventoryItemRecord,
  type InventoryItemStore,
  openInventoryItemStore,
  prepareShopify,
} from '../../ingest/shopify/inventory-items.ts'
import { mapShopify } from '../../ingest/shopify/map.ts'
import { fixture } from '../integration/connectors-fakes.ts'
import { startNats, type TestNats } from '../integration/harness.ts'

const SHOP = 'pulse-test.myshopify.com'
const POLLED_AT = Date.parse('2026-03-11T06:00:00Z')
const tenant = { id: 't', timezone: 'UTC', currency: 'USD' }
const ctx = (lookups: Partial<MapContext> = {}): MapContext => ({ tenant, settings: defaultSettings(), ...lookups })
const page = (connector: string, kind: string, body: string, meta: Record<string, unknown> = {}): ArchivedPage => ({
  connector,
  connectorId: connector === 'shopify' ? SHOP : 'c',
  kind,
  meta: connector === 'shopify' ? { topic: kind, shop_domain: SHOP, ...meta } : meta,
  body,
  receivedAt: POLLED_AT,
})
const valid = (events: Record<string, unknown>[]) => {
  for (const e of events) expect(event.safeParse(e).success, JSON.stringify(e)).toBe(true)
  return events as any[]
}

/** An in-memory store with the KV store's rule: an older record never replaces a newer one. */
function memoryStore(): InventoryItemStore & { records: Map<string, InventoryItemRecord> } {
  const records = new Map<string, InventoryItemRecord>()
  return {
    records,
    get: async (t, item) => records.get(`${t}.${item}`),
    async record(t, item, r) {
      const was = records.get(`${t}.${item}`)
      if (!was || Date.parse(r.updated_at) >= Date.parse(was.updated_at)) records.set(`${t}.${item}`, r)
    },
  }
}

describe('Shopify inventory levels', () => {
  it('records products’ inventory items (SKU, else the variant id) and maps a level under its SKU', async () => {
    const store = memoryStore()
    const prepare = prepareShopify(store)
    const product = page('shopify', 'products/update', fixture('shopify/products-update-632910392.json'))
    expect(await prepare(tenant, product)).toEqual({})
    expect(mapShopify(product, ctx())).toEqual([]) // products make no events
    expect([...store.records.entries()].map(([k, r]) => [k, r.sku])).toEqual([
      ['t.808950810', 'IPOD2008PINK'],
      ['t.49148385', 'IPOD2008RED'],
      ['t.457924702', '457924702'], // blank SKU: the variant id, as order lines are keyed
    ])

    const level = page('shopify', 'inventory_levels/update', fixture('shopify/inventory-levels-update-808950810.json'))
    const lookups = await prepare(tenant, level)
    expect(lookups.inventorySkus).toEqual(new Map([['808950810', 'IPOD2008PINK']]))
    const [e, ...rest] = valid(mapShopify(level, ctx(lookups)))
    expect(rest).toEqual([])
    expect(e).toEqual({
      id: expect.stringMatching(/^shopify:inventory:808950810:905684977#[\w-]{16}$/),
      type: 'inventory.level',
      ts: '2026-03-10T12:30:00-05:00',
      source: 'shopify',
      store: SHOP,
      sku: 'IPOD2008PINK',
      location_id: '905684977',
      available: 6,
    })
    // The same payload again (a replay, a reprocess) is the same event; another level is not.
    expect(mapShopify(level, ctx(lookups))[0].id).toBe(e.id)
    const moved = page(
      'shopify',
      'inventory_levels/update',
      fixture('shopify/inventory-levels-update-808950810.json').replace('"available": 6', '"available": 5'),
    )
    expect(mapShopify(moved, ctx(lookups))[0].id).not.toBe(e.id)
  })

  it('keeps 64-bit inventory item ids exact, and a negative level (oversold) as it is', async () => {
    const store = memoryStore()
    const prepare = prepareShopify(store)
    await prepare(tenant, page('shopify', 'products/create', fixture('shopify/products-create-632910393.json')))
    expect(store.records.get('t.45678901234567890')?.sku).toBe('CASE-01')
    const level = page(
      'shopify',
      'inventory_levels/update',
      fixture('shopify/inventory-levels-update-45678901234567890.json'),
    )
    const [e] = valid(mapShopify(level, ctx(await prepare(tenant, level))))
    expect(e).toMatchObject({ sku: 'CASE-01', available: -2, location_id: '905684977' })
    expect(e.id).toMatch(/^shopify:inventory:45678901234567890:905684977#/)
  })

  it('an item with no SKU recorded is an unresolved reference (dead letter unknown_inventory_item)', async () => {
    const prepare = prepareShopify(memoryStore())
    const level = page('shopify', 'inventory_levels/update', fixture('shopify/inventory-levels-update-808950810.json'))
    const lookups = await prepare(tenant, level)
    expect(lookups.inventorySkus?.size).toBe(0)
    let thrown: unknown
    try {
      mapShopify(level, ctx(lookups))
    } catch (err) {
      thrown = err
    }
    expect(thrown).toBeInstanceOf(UnresolvedReference)
    expect(thrown).toMatchObject({ reason: 'unknown_inventory_item' })
    expect((thrown as Error).message).toContain('808950810')
  })

  it('untracked inventory (available null) makes no event, even before its product is known', () => {
    const level = page('shopify', 'inventory_levels/update', fixture('shopify/inventory-levels-update-untracked.json'))
    expect(mapShopify(level, ctx())).toEqual([])
  })

  it('bodies not of the documented shape are malformed pages; the preparer leaves them to the mapping', async () => {
    const prepare = prepareShopify(memoryStore())
    for (const [kind, body] of [
      ['inventory_levels/update', '{"inventory_item_id": 808950810, "available": 3}'],
      ['inventory_levels/update', 'not json'],
      ['products/update', '{"id": 632910392, "variants": "none"}'],
    ]) {
      const p = page('shopify', kind, body)
      await expect(prepare(tenant, p)).resolves.toBeDefined()
      expect(() => mapShopify(p, ctx())).toThrow(MalformedPage)
    }
  })
})

describe('the inventory item record in NATS KV', () => {
  let nats: TestNats
  beforeAll(async () => {
    nats = await startNats()
  }, 60_000)
  afterAll(async () => nats?.stop())

  it('persists per tenant; an older products/update never replaces a newer SKU; a newer one does', async () => {
    const store = await openInventoryItemStore(nats.nc)
    await store.record('acme', '808950810', {
      sku: 'PINK-2',
      variant_id: '808950810',
      updated_at: '2026-03-10T15:00:00Z',
    })
    await store.record('acme', '808950810', {
      sku: 'PINK-1',
      variant_id: '808950810',
      updated_at: '2026-03-10T14:00:00Z',
    })
    expect((await store.get('acme', '808950810'))?.sku).toBe('PINK-2')
    await store.record('acme', '808950810', {
      sku: 'PINK-3',
      variant_id: '808950810',
      updated_at: '2026-03-10T16:00:00Z',
    })
    // Another handle on the bucket (another node, or after a restart) reads the same.
    const again = await openInventoryItemStore(nats.nc)
    expect((await again.get('acme', '808950810'))?.sku).toBe('PINK-3')
    expect(await again.get('other', '808950810')).toBeUndefined()
    // Concurrent records of one item: one wins whole, the newest.
    await Promise.all(
      [17, 18, 19].map((h) =>
        store.record('acme', '1', { sku: `S${h}`, variant_id: '1', updated_at: `2026-03-10T${h}:00:00Z` }),
      ),
    )
    expect((await store.get('acme', '1'))?.sku).toBe('S19')
  })
})

describe('Amazon FBA inventory summaries', () => {
  const meta = { marketplace_id: 'ATVPDKIKX0DER', undated_since: { 'SKU-SPOON-SET': '2026-03-10T06:00:00.000Z' } }

  it('maps each summary: sellerSku, FBA:<marketplace>, fulfillable units, lastUpdatedTime', () => {
    const first = valid(
      amazonSp.map(page('amazon_sp', INVENTORY_KIND, fixture('amazon/fba-inventory-page1.json'), meta), ctx()),
    )
    expect(first).toEqual([
      {
        id: expect.stringMatching(/^amazon:inventory:ATVPDKIKX0DER:SKU-RED-MUG#[\w-]{16}$/),
        type: 'inventory.level',
        ts: '2026-03-10T18:20:00Z',
        source: 'amazon',
        store: 'ATVPDKIKX0DER',
        sku: 'SKU-RED-MUG',
        location_id: 'FBA:ATVPDKIKX0DER',
        available: 42, // fulfillable, not the total of 70
      },
      expect.objectContaining({ sku: 'SKU-COASTER', available: 120, ts: '2026-03-10T16:05:00Z' }),
    ])
    const second = valid(
      amazonSp.map(page('amazon_sp', INVENTORY_KIND, fixture('amazon/fba-inventory-page2.json'), meta), ctx()),
    )
    expect(second.map((e) => [e.sku, e.available, e.ts])).toEqual([
      ['SKU-TEA-TIN', 9, '2026-03-10T11:45:00Z'],
      ['SKU-SPOON-SET', 0, '2026-03-10T06:00:00.000Z'], // empty lastUpdatedTime: the poll that first saw 0
    ])
    // Without a remembered time (an archived page of before): the time the page was received.
    const bare = amazonSp.map(
      page('amazon_sp', INVENTORY_KIND, fixture('amazon/fba-inventory-page2.json'), {
        marketplace_id: 'ATVPDKIKX0DER',
      }),
      ctx(),
    )
    expect(bare[1].ts).toBe('2026-03-11T06:00:00.000Z')
  })

  it('falls back to totalQuantity only without details; skips summaries without a SKU or any quantity', () => {
    const body = JSON.stringify({
      payload: {
        granularity: { granularityType: 'Marketplace', granularityId: 'A1F83G8C2ARO7P' },
        inventorySummaries: [
          { sellerSku: 'NO-DETAILS', totalQuantity: 5, lastUpdatedTime: '2026-03-10T10:00:00Z' },
          {
            sellerSku: 'DETAILS-NO-FULFILLABLE',
            inventoryDetails: {},
            totalQuantity: 5,
            lastUpdatedTime: '2026-03-10T10:00:00Z',
          },
          { asin: 'B000000000', totalQuantity: 3, lastUpdatedTime: '2026-03-10T10:00:00Z' },
          { sellerSku: 'NOTHING', lastUpdatedTime: '2026-03-10T10:00:00Z' },
        ],
      },
    })
    // The marketplace from the page's granularity when the request's is not archived with it.
    expect(valid(amazonSp.map(page('amazon_sp', INVENTORY_KIND, body), ctx()))).toEqual([
      expect.objectContaining({ sku: 'NO-DETAILS', available: 5, location_id: 'FBA:A1F83G8C2ARO7P' }),
    ])
    expect(() => amazonSp.map(page('amazon_sp', INVENTORY_KIND, '{"payload": {}}'), ctx())).toThrow(MalformedPage)
  })

  it('an unchanged summary maps to the same id; a changed quantity to a new one', () => {
    const p1 = page('amazon_sp', INVENTORY_KIND, fixture('amazon/fba-inventory-page1.json'), meta)
    const again = { ...p1, receivedAt: POLLED_AT + 900_000 }
    expect(mapInventorySummaries(again).map((e) => e.id)).toEqual(mapInventorySummaries(p1).map((e) => e.id))
    const changed = { ...p1, body: p1.body.replace('"fulfillableQuantity": 42', '"fulfillableQuantity": 41') }
    expect(mapInventorySummaries(changed)[0].id).not.toBe(mapInventorySummaries(p1)[0].id)
    expect(mapInventorySummaries(changed)[1].id).toBe(mapInventorySummaries(p1)[1].id)
  })

  it('polls each page through nextToken, and remembers when an undated quantity was first seen', async () => {
    const run = async (previous: Undated, now: number, spoons = 0) => {
      const requests: RequestSpec[] = []
      const pages: { kind: string; meta: Record<string, unknown>; body: string }[] = []
      const sync = {
        config: {},
        cursor: undefined,
        tenant,
        now: () => now,
        async request(spec: RequestSpec): Promise<HttpResponse> {
          requests.push(spec)
          const token = new URL(spec.url).searchParams.get('nextToken')
          const text = token
            ? fixture('amazon/fba-inventory-page2.json').replace(
                '"fulfillableQuantity": 0',
                `"fulfillableQuantity": ${spoons}`,
              )
            : fixture('amazon/fba-inventory-page1.json')
          return { status: 200, headers: new Headers(), text, url: spec.url }
        },
        async page(kind: string, meta: Record<string, unknown>, body: string) {
          pages.push({ kind, meta, body })
          return JSON.parse(body)
        },
        updateConfig: async () => {},
      } satisfies SyncContext<unknown>
      const next = await syncFbaInventory(
        sync,
        'https://sp.example',
        { 'x-amz-access-token': 'a' },
        ['ATVPDKIKX0DER'],
        previous,
      )
      return { requests, pages, next }
    }
    const first = await run({}, Date.parse('2026-03-11T06:00:00Z'))
    expect(first.requests.map((r) => r.operation)).toEqual(['getInventorySummaries', 'getInventorySummaries'])
    const q = new URL(first.requests[0].url)
    expect(q.pathname).toBe('/fba/inventory/v1/summaries')
    expect(Object.fromEntries(q.searchParams)).toEqual({
      details: 'true',
      granularityType: 'Marketplace',
      granularityId: 'ATVPDKIKX0DER',
      marketplaceIds: 'ATVPDKIKX0DER',
    })
    expect(new URL(first.requests[1].url).searchParams.get('nextToken')).toBe(
      'seed-2d8f6e1c-0b4a-4f3e-9c1d-7a2b5e8f9c0d',
    )
    expect(first.pages.map((p) => p.kind)).toEqual([INVENTORY_KIND, INVENTORY_KIND])
    expect(first.pages[1].meta).toEqual({
      marketplace_id: 'ATVPDKIKX0DER',
      undated_since: { 'SKU-SPOON-SET': '2026-03-11T06:00:00.000Z' },
    })
    expect(first.next).toEqual({ 'ATVPDKIKX0DER|SKU-SPOON-SET': { available: 0, since: '2026-03-11T06:00:00.000Z' } })

    // 15 minutes later, unchanged: the same remembered time, so the same event id.
    const second = await run(first.next, Date.parse('2026-03-11T06:15:00Z'))
    expect(second.pages[1].meta).toEqual(first.pages[1].meta)
    const idOf = (r: typeof first) =>
      mapInventorySummaries({ ...page('amazon_sp', INVENTORY_KIND, r.pages[1].body, r.pages[1].meta) })[1].id
    expect(idOf(second)).toBe(idOf(first))
    // Restocked: a new time and a new id.
    const third = await run(second.next, Date.parse('2026-03-11T06:30:00Z'), 4)
    expect(third.next['ATVPDKIKX0DER|SKU-SPOON-SET']).toEqual({ available: 4, since: '2026-03-11T06:30:00.000Z' })
    expect(idOf(third)).not.toBe(idOf(second))
  })
})
