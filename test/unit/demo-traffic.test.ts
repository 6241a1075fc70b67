import { describe, it, expect, vi } from 'vitest'
import { createDemoGenerator, startDemoTraffic } from '../../app/demo-traffic.ts'
import { event } from '../../common/events.ts'
import { toMinor } from '../../common/money.ts'
import { logLines } from './log-lines.ts'

const start = Date.parse('2026-11-22T00:00:00+05:30')
const now = Date.parse('2026-11-22T18:30:00+05:30')

function demoDay(seed: number): Record<string, unknown>[] {
  const generator = createDemoGenerator(seed)
  const events = generator.backfill(start, now)
  for (let i = 1; i <= 100; i++) events.push(...generator.tick(now + i * 1000, 1000))
  return events
}

const paise = (amount: unknown): number => toMinor(String(amount), 2)

describe('demo traffic', () => {
  const events = demoDay(42)
  const orders = events.filter((e) => e.type === 'order.created')

  it('produces only valid events with unique ids', () => {
    for (const e of events) expect(event.safeParse(e).error).toBeUndefined()
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length)
    expect(orders.length).toBeGreaterThan(50)
  })

  it('adds order totals up exactly, to the paisa', () => {
    for (const o of orders) {
      const items = (o.items as { price: string; quantity: number }[]).reduce(
        (sum, i) => sum + paise(i.price) * i.quantity,
        0,
      )
      expect(items - paise(o.discounts)).toBe(paise(o.subtotal))
      expect(paise(o.subtotal) + paise(o.tax) + paise(o.shipping)).toBe(paise(o.total))
    }
  })

  it('sells every headline brand through every channel', () => {
    const brands = new Set(orders.flatMap((o) => (o.items as { brand: string }[]).map((i) => i.brand)))
    for (const brand of ['nike', 'adidas', 'lakme', 'amul', 'britannia', 'itc']) expect(brands).toContain(brand)
    const channels = new Set(orders.map((o) => o.channel))
    for (const channel of ['organic', 'facebook', 'instagram', 'google', 'zepto']) expect(channels).toContain(channel)
    const types = new Set(events.map((e) => e.type))
    for (const type of ['product.viewed', 'search', 'cart.added', 'checkout.started', 'refund.created', 'ad.spend'])
      expect(types).toContain(type)
  })

  it('is reproducible from its seed', () => {
    expect(demoDay(42)).toEqual(events)
    expect(demoDay(43)).not.toEqual(events)
  })

  it('resends a failed batch on the next tick, and stop() waits for the send in flight', async () => {
    vi.useFakeTimers({ now })
    try {
      const batches: Record<string, unknown>[][] = []
      let finishSend = (): void => {}
      const send = vi
        .fn<(events: Record<string, unknown>[]) => Promise<void>>()
        .mockRejectedValueOnce(new Error('connection refused'))
        .mockImplementation(async (batch) => {
          await new Promise<void>((resolve) => (finishSend = resolve))
          batches.push(batch)
        })
      const { log, lines } = logLines()
      const traffic = startDemoTraffic({ send, now: Date.now, seed: 1, log })
      const backfill = send.mock.calls[0][0]
      expect(backfill.length).toBeGreaterThan(1000)
      expect(backfill.length).toBeLessThanOrEqual(3000)

      await vi.advanceTimersByTimeAsync(1000)
      expect(send).toHaveBeenCalledTimes(2)
      expect(send.mock.calls[1][0].slice(0, backfill.length)).toEqual(backfill)

      let stopped = false
      const stopping = traffic.stop().then(() => (stopped = true))
      await vi.advanceTimersByTimeAsync(0)
      expect(stopped).toBe(false)
      finishSend()
      await stopping
      expect(batches).toHaveLength(1)
      await vi.advanceTimersByTimeAsync(5000)
      expect(send).toHaveBeenCalledTimes(2)
      expect(lines[0]).toMatchObject({
        level: 40,
        msg: 'demo traffic: send failed, retrying every second',
        err: { message: 'connection refused' },
      })
    } finally {
      vi.useRealTimers()
    }
  })
})
