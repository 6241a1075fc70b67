// Inventory (docs/inventory.md): stream/inventory.ts alone (levels, ties, the 28-day window,
// retention, days of cover to the tenth) and fed by the real processor (orders, an edit, a
// cancellation before and after its order, refunds, snapshot round trip).
import v8 from 'node:v8'
import { describe, expect, it } from 'vitest'
import { event } from '../../common/events.ts'
import { coverBelow, createInventory, dayNumber, dayText, daysOfCover } from '../../stream/inventory.ts'
import { createProcessor } from '../../stream/processor.ts'
import type { TenantRef } from '../../tenants/index.ts'
import { createLocalDayOf } from '../../stream/windows.ts'

const DAY = 86_400_000
const T = Date.parse('2026-11-22T10:00:00Z')
const utcDay = createLocalDayOf('UTC')
const order = (windowTs: number, lines: [string, number][]) => ({
  windowTs,
  lines: lines.map(([sku, units]) => ({ sku, units })),
})

describe('inventory levels', () => {
  it('keeps the newest level per SKU and location by ts; a tie goes to the later arrival; totals over locations', () => {
    const inv = createInventory()
    inv.level('t', 'tee', 'wh-1', 10, T)
    inv.level('t', 'tee', 'wh-1', 99, T - 1) // older: ignored
    inv.level('t', 'tee', 'wh-2', 5, T)
    inv.level('t', 'tee', 'wh-2', 7, T) // tie: the later arrival
    inv.level('t', 'mug', 'wh-1', -3, T) // oversold
    const v = inv.view('t', '2026-11-22')
    expect(v.skus.map((r) => [r.sku, r.available, r.stock_out])).toEqual([
      ['mug', -3, true],
      ['tee', 17, false],
    ])
    expect(v.skus[1].locations).toEqual([
      { location_id: 'wh-1', available: 10, ts: T },
      { location_id: 'wh-2', available: 7, ts: T },
    ])
    expect(inv.view('other', '2026-11-22').skus).toEqual([])
  })
})

describe('days of cover', () => {
  it('is available × 28 ÷ units to the tenth, half away from zero; null without sales', () => {
    expect(daysOfCover(10, 28)).toBe(10)
    expect(daysOfCover(1, 3)).toBe(9.3) // 9.333…
    expect(daysOfCover(2, 3)).toBe(18.7) // 18.666…
    expect(daysOfCover(1, 16)).toBe(1.8) // 1.75 exactly: away from zero
    expect(daysOfCover(-1, 16)).toBe(-1.8)
    expect(daysOfCover(0, 5)).toBe(0)
    expect(daysOfCover(5, 0)).toBeNull()
  })

  it('compares unrounded against a threshold', () => {
    // 1 × 28 ÷ 4 = 7 exactly: not under 7; 1 × 28 ÷ 4.0001… never happens (units are whole): 7.0001 is above.
    expect(coverBelow({ available: 1, units_28d: 4 }, 7)).toBe(false)
    expect(coverBelow({ available: 1, units_28d: 4 }, 7.0001)).toBe(true)
    // 2 × 28 ÷ 3 = 18.666… rounds to 18.7 but is under 18.7.
    expect(coverBelow({ available: 2, units_28d: 3 }, 18.7)).toBe(true)
    expect(coverBelow({ available: 2, units_28d: 3 }, 18.6)).toBe(false)
    expect(coverBelow({ available: 0, units_28d: 0 }, 7)).toBe(false) // nothing sold: no cover
  })
})

describe('units sold over the window', () => {
  it('counts the 28 local days ending with the given day, by the order’s window day', () => {
    const inv = createInventory()
    inv.level('t', 'tee', 'wh', 100, T)
    inv.moveOrder('t', utcDay, undefined, order(T, [['tee', 1]])) // day 0 (the end)
    inv.moveOrder('t', utcDay, undefined, order(T - 27 * DAY, [['tee', 2]])) // first day of the window
    inv.moveOrder('t', utcDay, undefined, order(T - 28 * DAY, [['tee', 4]])) // just before it
    const v = inv.view('t', '2026-11-22')
    expect([v.from_day, v.to_day]).toEqual(['2026-10-26', '2026-11-22'])
    expect(v.skus[0].units_28d).toBe(3)
    expect(v.skus[0].days_of_cover).toBe(daysOfCover(100, 3))
    // A day later the first day slides out and the fourth-day-before sale too.
    expect(inv.view('t', '2026-11-23').skus[0].units_28d).toBe(1)
    expect(inv.view('t', '2026-10-26').skus[0].units_28d).toBe(6)
  })

  it('keeps 35 days behind the newest sales day; a sale on a dropped day is ignored', () => {
    const inv = createInventory()
    inv.moveOrder('t', utcDay, undefined, order(T, [['tee', 1]]))
    inv.moveOrder('t', utcDay, undefined, order(T + 34 * DAY, [['tee', 1]]))
    expect(inv.keptDays('t')).toBe(2)
    inv.moveOrder('t', utcDay, undefined, order(T + 35 * DAY, [['tee', 1]]))
    expect(inv.keptDays('t')).toBe(2) // T's day dropped
    inv.moveOrder('t', utcDay, undefined, order(T, [['tee', 9]])) // below the floor: ignored
    expect(inv.keptDays('t')).toBe(2)
    expect(dayText(dayNumber('2026-11-22'))).toBe('2026-11-22')
  })
})

describe('inventory fed by the processor', () => {
  const tenant: TenantRef = { id: 't-kol', timezone: 'Asia/Kolkata', currency: 'INR' }
  let n = 0
  const raw = (body: Record<string, unknown>) => event.parse({ id: `e-${++n}`, source: 'shopify', ...body })
  const created = (orderId: string, ts: number, items: [string, number][], type = 'order.created') =>
    raw({
      type,
      ts,
      order_id: orderId,
      total: '10.00',
      subtotal: '10.00',
      items: items.map(([sku, quantity]) => ({ sku, quantity, price: '1.00' })),
    })
  const level = (sku: string, location: string, available: number, ts: number) =>
    raw({ type: 'inventory.level', ts, sku, location_id: location, available })
  const newProcessor = () => createProcessor({ dedupHorizonMs: 7 * DAY, latenessMs: 300_000 })
  const feed = (p: ReturnType<typeof newProcessor>, events: ReturnType<typeof raw>[]) => {
    for (const e of events) p.apply(tenant, e, { receivedAt: T })
  }

  it('orders sell, an edit replaces the lines, a cancellation takes them out (also before its order), refunds change nothing', () => {
    const p = newProcessor()
    feed(p, [
      level('tee', 'wh-1', 40, T),
      level('tee', 'wh-2', 16, T),
      level('mug', 'wh-1', 3, T),
      created('o1', T, [
        ['tee', 3],
        ['mug', 1],
      ]),
      created('o2', T + 60_000, [['tee', 2]]),
    ])
    let v = p.inventory(tenant.id)
    expect(v.to_day).toBe('2026-11-22')
    expect(v.skus.map((r) => [r.sku, r.available, r.units_28d, r.days_of_cover])).toEqual([
      ['mug', 3, 1, 84],
      ['tee', 56, 5, 313.6], // 56 × 28 ÷ 5
    ])
    // An edit of o1 replaces its lines: tee 3 → 6, no mug.
    feed(p, [created('o1', T + 120_000, [['tee', 6]], 'order.updated')])
    v = p.inventory(tenant.id)
    expect(v.skus.map((r) => [r.sku, r.units_28d])).toEqual([
      ['mug', 0],
      ['tee', 8],
    ])
    expect(v.skus[0].days_of_cover).toBeNull()
    // A refund changes no units; a cancellation takes its order's out.
    feed(p, [raw({ type: 'refund.created', ts: T + 180_000, order_id: 'o2', amount: '2.00' })])
    expect(p.inventory(tenant.id).skus[1].units_28d).toBe(8)
    feed(p, [raw({ type: 'order.cancelled', ts: T + 240_000, order_id: 'o2' })])
    expect(p.inventory(tenant.id).skus[1].units_28d).toBe(6)
    // A second cancellation of o2, and an edit of it after, change nothing.
    feed(p, [
      raw({ type: 'order.cancelled', ts: T + 250_000, order_id: 'o2' }),
      created('o2', T + 260_000, [['tee', 50]], 'order.updated'),
    ])
    expect(p.inventory(tenant.id).skus[1].units_28d).toBe(6)
    // Cancelled before it is seen: never counted.
    feed(p, [raw({ type: 'order.cancelled', ts: T, order_id: 'o3' }), created('o3', T, [['tee', 7]])])
    expect(p.inventory(tenant.id).skus[1].units_28d).toBe(6)
  })

  it('counts an order on its tenant-local day, and the window ends on the newest event’s local day', () => {
    const p = newProcessor()
    const late = Date.parse('2026-11-22T19:00:00Z') // 00:30 on 23 November in Kolkata
    feed(p, [level('tee', 'wh', 28, T), created('o1', late, [['tee', 1]])])
    expect(p.inventory(tenant.id).to_day).toBe('2026-11-23')
    // 27 local days later the sale is on the window's first day; 28 days later it is out.
    feed(p, [level('tee', 'wh', 28, late + 27 * DAY)])
    expect(p.inventory(tenant.id).skus[0]).toMatchObject({ units_28d: 1, days_of_cover: 784 })
    feed(p, [level('tee', 'wh', 28, late + 28 * DAY)])
    expect(p.inventory(tenant.id).skus[0]).toMatchObject({ units_28d: 0, days_of_cover: null })
  })

  it('is the same after a snapshot round trip, and stays so with later events', () => {
    const p = newProcessor()
    const before = [
      level('tee', 'wh-1', 10, T),
      level('tee', 'wh-2', 4, T),
      created('o1', T, [['tee', 3]]),
      raw({ type: 'order.cancelled', ts: T, order_id: 'o9' }),
    ]
    const after = [
      level('tee', 'wh-1', 10, T), // a tie with the snapshot's level: the later arrival stands
      created('o1', T + 60_000, [['tee', 4]], 'order.updated'),
      created('o9', T, [['tee', 100]]),
      created('o2', T + DAY, [['tee', 1]]),
    ]
    feed(p, before)
    const copy = newProcessor()
    for (const record of p.exportRecords()) copy.importRecord(v8.deserialize(v8.serialize(record)))
    expect(copy.inventory(tenant.id)).toEqual(p.inventory(tenant.id))
    expect([...p.exportRecords()].some((r) => r.part === 'inventory')).toBe(true)
    feed(p, after)
    feed(copy, after)
    expect(copy.inventory(tenant.id)).toEqual(p.inventory(tenant.id))
    expect(p.inventory(tenant.id).skus[0]).toMatchObject({ available: 14, units_28d: 5 })
    // A snapshot without inventory records (written before them) loads; the part simply starts empty.
    const old = newProcessor()
    for (const record of p.exportRecords()) if (record.part !== 'inventory') old.importRecord(record)
    expect(old.inventory(tenant.id).skus).toEqual([])
    // Dropping the tenant drops its inventory.
    p.dropTenants(() => true)
    expect(p.inventory(tenant.id).skus).toEqual([])
  })

  it('refuses bad levels at the schema', () => {
    const bad = event.safeParse({
      id: 'x',
      type: 'inventory.level',
      ts: T,
      source: 'shopify',
      sku: 'tee',
      location_id: 'wh',
      available: 1_000_000_001,
    })
    expect(bad.success).toBe(false)
    expect(
      event.safeParse({ id: 'x', type: 'inventory.level', ts: T, source: 's', sku: 'a', available: 1 }).success,
    ).toBe(false)
    expect(
      event.safeParse({
        id: 'x',
        type: 'inventory.level',
        ts: T,
        source: 's',
        sku: 'a',
        location_id: 'w',
        available: -5,
      }).success,
    ).toBe(true)
  })
})
