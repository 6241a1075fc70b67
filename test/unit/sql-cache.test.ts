// query/cache.ts with a counting stand-in for the metrics reader: answers are reused until the
// tenant's change signal, then never again; ranges are keyed to the minute and re-stamped.
import { describe, expect, it } from 'vitest'
import type { MetricsReader } from '../../clickhouse/index.ts'
import { createCachedReader } from '../../query/cache.ts'

const tenant = { id: 'acme', timezone: 'UTC', currency: 'USD' }
const T = Date.parse('2026-05-01T10:00:00Z')

function fakeReader() {
  let figure = 1
  const calls: string[] = []
  const reader = {
    async kpis(t: typeof tenant, range: { asOf: number; from: number; to: number; view: string }) {
      calls.push(`kpis ${t.id}`)
      return {
        from: new Date(range.from).toISOString(),
        to: new Date(range.to).toISOString(),
        as_of: new Date(range.asOf).toISOString(),
        orders: figure,
      }
    },
    async timeseries() {
      calls.push('timeseries')
      return [{ t: 'x', kpis: { orders: figure } }]
    },
    freshness: () => ({}),
  } as unknown as MetricsReader
  return { reader, calls, setFigure: (v: number) => (figure = v) }
}

describe('the cached metrics reader', () => {
  it('answers the same range from the cache, re-stamping to and as_of within the minute', async () => {
    const { reader, calls } = fakeReader()
    const cached = createCachedReader(reader)
    const a = await cached.kpis(tenant, {
      asOf: T + 1_000,
      from: T - 3_600_000,
      to: T + 1_000,
      view: 'transaction_date',
    })
    const b = await cached.kpis(tenant, {
      asOf: T + 59_000,
      from: T - 3_600_000,
      to: T + 59_000,
      view: 'transaction_date',
    })
    expect(calls).toEqual(['kpis acme'])
    expect(b).toMatchObject({
      orders: 1,
      to: new Date(T + 59_000).toISOString(),
      as_of: new Date(T + 59_000).toISOString(),
    })
    expect(a.to).toBe(new Date(T + 1_000).toISOString())
    await cached.kpis(tenant, { asOf: T + 61_000, from: T - 3_600_000, to: T + 61_000, view: 'transaction_date' })
    expect(calls).toHaveLength(2) // the next minute is another range
    expect(cached.stats()).toMatchObject({ hits: 1, misses: 2 })
  })

  it('never serves an answer computed before the change signal', async () => {
    const { reader, calls, setFigure } = fakeReader()
    const cached = createCachedReader(reader)
    const range = { asOf: T, from: T - 60_000, to: T, view: 'transaction_date' as const }
    expect((await cached.kpis(tenant, range)).orders).toBe(1)
    setFigure(2)
    cached.invalidate('acme')
    expect((await cached.kpis(tenant, range)).orders).toBe(2)
    expect(
      await cached.timeseries(tenant, { from: T - 60_000, to: T, view: 'transaction_date', interval: '1m' }),
    ).toEqual([{ t: 'x', kpis: { orders: 2 } }])
    expect(calls).toEqual(['kpis acme', 'kpis acme', 'timeseries'])
  })

  it('drops an answer that was being computed when the signal came', async () => {
    const { reader, setFigure } = fakeReader()
    const cached = createCachedReader(reader)
    const range = { asOf: T, from: T - 60_000, to: T, view: 'transaction_date' as const }
    const inFlight = cached.kpis(tenant, range) // computed from the old state
    cached.invalidate('acme')
    setFigure(3)
    expect((await inFlight).orders).toBe(1)
    expect((await cached.kpis(tenant, range)).orders).toBe(3)
  })

  it('keeps tenants apart and does not cache failures', async () => {
    const { reader, calls } = fakeReader()
    const cached = createCachedReader(reader)
    const range = { asOf: T, from: T - 60_000, to: T, view: 'transaction_date' as const }
    await cached.kpis(tenant, range)
    await cached.kpis({ ...tenant, id: 'other' }, range)
    cached.invalidate('other')
    await cached.kpis(tenant, range)
    expect(calls).toEqual(['kpis acme', 'kpis other'])
    let fail = true
    const flaky = createCachedReader({
      ...reader,
      kpis: async () => (fail ? Promise.reject(new Error('down')) : { orders: 9 }),
    } as unknown as MetricsReader)
    await expect(flaky.kpis(tenant, range)).rejects.toThrow('down')
    fail = false
    expect((await flaky.kpis(tenant, range)).orders).toBe(9)
  })
})
