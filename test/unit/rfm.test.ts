import { describe, expect, it } from 'vitest'
import {
  DAY_MS,
  type RfmRow,
  SEGMENTS,
  customerRfm,
  indexOf,
  rankRfm,
  rfmDashboard,
  rfmFacts,
  segmentOf,
} from '../../query/rfm.ts'

const AS_OF = Date.parse('2026-06-01T00:00:00Z')
/** The KPIs of an empty selection: zero counts, null ratios. */
const NO_CUSTOMER_KPIS = {
  total_customer: 0,
  unit_per_transaction: null,
  profit_per_customer: null,
  customer_spending: '0.00',
  days_to_return: null,
  retention_rate: null,
}
const daysAgo = (d: number) => AS_OF - d * DAY_MS

const row = (id: string, fields: Partial<RfmRow> = {}): RfmRow => ({
  id,
  frequency: 1,
  monetary: 1000,
  firstOrderAt: daysAgo(10),
  lastOrderAt: daysAgo(10),
  grossProfit: 100,
  units: 1,
  ...fields,
})

const scoresOf = (rows: RfmRow[]) => {
  const ranking = rankRfm(rfmFacts(rows), AS_OF)
  return Object.fromEntries(rows.map((r) => [r.id, customerRfm(ranking, indexOf(ranking, r.id))]))
}

describe('scores by rank', () => {
  it('gives position p of N the score ⌈5p/N⌉', () => {
    // Frequencies 1..7: positions 1..7 of 7 → 1, 2, 3, 3, 4, 5, 5.
    const rows = [7, 3, 1, 5, 2, 6, 4].map((f) => row(`c${f}`, { frequency: f }))
    const s = scoresOf(rows)
    expect([1, 2, 3, 4, 5, 6, 7].map((f) => s[`c${f}`].f)).toEqual([1, 2, 3, 3, 4, 5, 5])
  })

  it('breaks ties by customer_id in code-unit order (upper case before lower case, "10" before "9")', () => {
    const ids = ['b', 'a', 'B', 'c10', 'c9']
    const s = scoresOf(ids.map((id) => row(id)))
    // Same frequency, monetary and recency: order B, a, b, c10, c9 for every measure.
    expect(['B', 'a', 'b', 'c10', 'c9'].map((id) => [s[id].r, s[id].f, s[id].m])).toEqual([
      [1, 1, 1],
      [2, 2, 2],
      [3, 3, 3],
      [4, 4, 4],
      [5, 5, 5],
    ])
  })

  it('ranks recency descending, so the most recent customer scores 5; monetary and frequency ascending', () => {
    const rows = [
      row('old', { lastOrderAt: daysAgo(500), firstOrderAt: daysAgo(500), monetary: 9_000 }),
      row('mid', { lastOrderAt: daysAgo(50), firstOrderAt: daysAgo(50), monetary: 100 }),
      row('new', { lastOrderAt: daysAgo(0.5), firstOrderAt: daysAgo(0.5), monetary: 5_000 }),
      row('x1', { lastOrderAt: daysAgo(50.9), firstOrderAt: daysAgo(50.9), monetary: 100 }),
      row('x0', { lastOrderAt: daysAgo(50.1), firstOrderAt: daysAgo(50.1), monetary: 200 }),
    ]
    const s = scoresOf(rows)
    // Recency days: old 500, mid 50, x1 50, x0 50, new 0 → order old, mid, x0, x1 (ties by id), new.
    expect(Object.fromEntries(Object.entries(s).map(([id, c]) => [id, c.recencyDays]))).toEqual({
      old: 500,
      mid: 50,
      new: 0,
      x1: 50,
      x0: 50,
    })
    expect(['old', 'mid', 'x0', 'x1', 'new'].map((id) => s[id].r)).toEqual([1, 2, 3, 4, 5])
    // Monetary 100 (mid), 100 (x1), 200, 5000, 9000.
    expect(['mid', 'x1', 'x0', 'new', 'old'].map((id) => s[id].m)).toEqual([1, 2, 3, 4, 5])
  })

  it('takes whole days, rounded down, from the last order to the cut-off', () => {
    const s = scoresOf([
      row('a', { lastOrderAt: AS_OF - 1 }),
      row('b', { lastOrderAt: daysAgo(200) }),
      row('c', { lastOrderAt: daysAgo(200) + 1 }),
    ])
    expect([s.a.recencyDays, s.b.recencyDays, s.c.recencyDays]).toEqual([0, 200, 199])
  })

  it('matches a plain sort on 40,000 customers (merge passes, counted ties, wide money range)', () => {
    let seed = 7
    const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647
    const rows = Array.from({ length: 40_000 }, (_, i) => {
      const last = daysAgo(Math.floor(rand() * 900)) - Math.floor(rand() * DAY_MS)
      return row(`${['c', 'C', 'x'][i % 3]}${Math.floor(rand() * 1e9)}-${i}`, {
        frequency: 1 + Math.floor(rand() * 12),
        monetary: Math.floor(rand() * 1e9),
        lastOrderAt: last,
        firstOrderAt: last,
      })
    })
    const ranking = rankRfm(rfmFacts(rows), AS_OF)
    const plain = (measure: (r: RfmRow) => number) => {
      const sorted = [...rows].sort((a, b) => measure(a) - measure(b) || (a.id < b.id ? -1 : 1))
      return new Map(sorted.map((r, p) => [r.id, Math.ceil((5 * (p + 1)) / rows.length)]))
    }
    const [r, f, m] = [
      plain((x) => -Math.floor((AS_OF - x.lastOrderAt) / DAY_MS)),
      plain((x) => x.frequency),
      plain((x) => x.monetary),
    ]
    rows.forEach((x, i) =>
      expect([ranking.r[i], ranking.f[i], ranking.m[i]]).toEqual([r.get(x.id), f.get(x.id), m.get(x.id)]),
    )
    expect([...ranking.byId].map((i) => rows[i].id)).toEqual(rows.map((x) => x.id).sort())
  })

  it('a single customer scores 5 everywhere', () => {
    expect(scoresOf([row('only')]).only).toMatchObject({ r: 5, f: 5, m: 5, segment: 'CHAMPIONS' })
  })
})

describe('segments, first match wins', () => {
  it.each([
    [3, 3, 3, 'CHAMPIONS'],
    [5, 5, 5, 'CHAMPIONS'],
    [3, 3, 2, 'POTENTIAL_LOYALISTS'],
    [2, 2, 1, 'POTENTIAL_LOYALISTS'],
    [2, 5, 5, 'POTENTIAL_LOYALISTS'],
    [5, 1, 5, 'NEW_CUSTOMERS'],
    [4, 1, 1, 'NEW_CUSTOMERS'],
    [3, 1, 5, 'NEED_ATTENTION'],
    [1, 5, 5, 'NEED_ATTENTION'],
    [1, 1, 1, 'NEED_ATTENTION'],
  ] as const)('r=%i f=%i m=%i → %s', (r, f, m, segment) => {
    expect(segmentOf(r, f, m)).toBe(segment)
  })
})

describe('the dashboard', () => {
  const rows = [
    row('a', {
      frequency: 1,
      monetary: 99_999,
      units: 2,
      grossProfit: 3_001,
      lastOrderAt: daysAgo(199.5),
      firstOrderAt: daysAgo(199.5),
    }),
    row('b', {
      frequency: 2,
      monetary: 100_000,
      units: 3,
      grossProfit: -500,
      firstOrderAt: daysAgo(300),
      lastOrderAt: daysAgo(240),
    }),
    row('c', {
      frequency: 3,
      monetary: 500_000,
      units: 9,
      grossProfit: 20_000,
      firstOrderAt: daysAgo(2000),
      lastOrderAt: daysAgo(1000) + 1,
    }),
    row('d', {
      frequency: 5,
      monetary: 250_050,
      units: 5,
      grossProfit: 0,
      firstOrderAt: daysAgo(800),
      lastOrderAt: daysAgo(0),
    }),
    row('e', {
      frequency: 9,
      monetary: 0,
      units: 0,
      grossProfit: 0,
      firstOrderAt: daysAgo(900),
      lastOrderAt: daysAgo(100),
    }),
  ]
  const ranking = rankRfm(rfmFacts(rows), AS_OF)
  const count = (data: { label: string; count: number }[]) => Object.fromEntries(data.map((b) => [b.label, b.count]))

  it('computes the KPIs', () => {
    const d = rfmDashboard(ranking, 2)
    expect(d.kpi).toEqual({
      total_customer: 5,
      unit_per_transaction: 19 / 20,
      profit_per_customer: '45.00', // (3001 − 500 + 20000) / 5 = 4500.2 → 4500 cents
      customer_spending: '9500.49',
      // Mean gaps: b 60 d, c (1000 d + 1 ms) / 2, d 200 d, e 100 d.
      days_to_return: (60 + (1000 * DAY_MS + 1) / 2 / DAY_MS + 200 + 100) / 4,
      retention_rate: 80,
    })
  })

  it('fills every bucket list with its labels in order, bounds [low, high)', () => {
    const d = rfmDashboard(ranking, 2)
    // Recency: a 199, b 240, c 999, d 0, e 100.
    expect(d.r_value_bucket_data).toEqual([
      { label: '0-200', count: 3 },
      { label: '200-400', count: 1 },
      { label: '400-600', count: 0 },
      { label: '600-800', count: 0 },
      { label: '800-1000', count: 1 },
      { label: '1000+', count: 0 },
    ])
    expect(count(d.visits_data)).toEqual({ '1': 1, '2': 1, '3': 1, '4': 0, '5+': 2 })
    // 999.99 → 0-1000; 1000.00 → 1000-2000 (low inclusive); 2500.50; 5000.00 → 5000+.
    expect(count(d.value_data)).toEqual({
      '0-1000': 2,
      '1000-2000': 1,
      '2000-3000': 1,
      '3000-4000': 0,
      '4000-5000': 0,
      '5000+': 1,
    })
    // Mean gaps: b 60 (→ 60-180, low inclusive), c 500.00… (365-730), d 200 (180-365), e 100.
    expect(count(d.days_to_return_bucket_data)).toEqual({
      '0-60': 0,
      '60-180': 2,
      '180-365': 1,
      '365-730': 1,
      '730+': 0,
    })
    expect(d.r_score_data.map((b) => b.label)).toEqual(['1', '2', '3', '4', '5'])
    expect(d.segment_data.map((b) => b.label)).toEqual([...SEGMENTS])
    for (const key of ['r_score_data', 'f_score_data', 'm_score_data', 'segment_data'] as const)
      expect(d[key].reduce((n, b) => n + b.count, 0)).toBe(5)
  })

  it('value buckets are in major units of the currency (JPY has none)', () => {
    const yen = rankRfm(rfmFacts([row('y', { monetary: 1000 }), row('z', { monetary: 999 })]), AS_OF)
    const d = rfmDashboard(yen, 0)
    expect(count(d.value_data)).toMatchObject({ '0-1000': 1, '1000-2000': 1 })
    expect(d.kpi.customer_spending).toBe('1999')
  })

  it('a customer filter answers for that customer only, ranked among all', () => {
    const alone = rfmDashboard(ranking, 2, { customerId: 'd' })
    const d = customerRfm(ranking, indexOf(ranking, 'd'))
    expect(alone.kpi).toMatchObject({
      total_customer: 1,
      customer_spending: '2500.50',
      retention_rate: 100,
      days_to_return: 200,
    })
    expect(count(alone.r_score_data)[String(d.r)]).toBe(1)
    expect(count(alone.segment_data)[d.segment]).toBe(1)
    expect(rfmDashboard(ranking, 2, { customerId: 'nobody' }).kpi).toEqual(NO_CUSTOMER_KPIS)
  })

  it('an r, f, m or segment filter keeps the customers with that score', () => {
    for (const key of ['r', 'f', 'm'] as const) {
      for (let s = 1; s <= 5; s++) {
        const d = rfmDashboard(ranking, 2, { [key]: s })
        const expected = rows.filter((r) => customerRfm(ranking, indexOf(ranking, r.id))[key] === s).length
        expect(d.kpi.total_customer).toBe(expected)
        expect(count(d[`${key}_score_data`])[String(s)]).toBe(expected)
      }
    }
    const champions = rfmDashboard(ranking, 2, { segment: 'CHAMPIONS' })
    expect(champions.kpi.total_customer).toBe(count(rfmDashboard(ranking, 2).segment_data).CHAMPIONS)
  })

  it('no customers: zero counts and null ratios', () => {
    const d = rfmDashboard(rankRfm(rfmFacts([]), AS_OF), 2)
    expect(d.kpi).toEqual(NO_CUSTOMER_KPIS)
    expect(d.r_score_data.every((b) => b.count === 0)).toBe(true)
  })

  it('indexOf finds every customer by binary search and misses unknown ones', () => {
    for (const r of rows) expect(ranking.facts.ids[indexOf(ranking, r.id)]).toBe(r.id)
    expect(indexOf(ranking, 'A')).toBe(-1)
    expect(indexOf(ranking, 'zz')).toBe(-1)
  })
})
