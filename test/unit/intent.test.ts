import { describe, expect, it } from 'vitest'
import { type IntentRow, intentDashboard, levelOf, summarizeIntent } from '../../query/intent.ts'

const thresholds = { high: 10, medium: 4 }
const row = (customerId: string, fields: Partial<IntentRow> = {}): IntentRow => ({
  customerId,
  score: 0,
  category: '',
  events: 0,
  location: '',
  orders: 0,
  monetary: 0,
  ...fields,
})

describe('levels', () => {
  it.each([
    [10, 'high'],
    [9.999999, 'medium'],
    [4, 'medium'],
    [3.999999, 'low'],
    [0, 'low'],
  ] as const)('score %d is %s', (score, level) => {
    expect(levelOf(score, thresholds)).toBe(level)
  })
})

describe('the intent summary', () => {
  const rows = [
    // mean 333.67 → 334
    row('a', { score: 12.5, category: 'shoes', events: 4, location: 'Pune', orders: 3, monetary: 1001 }),
    row('b', { score: 30, category: 'beauty', events: 9, orders: 2, monetary: 1001 }), // mean 500.5 → 501 (half away)
    row('c', { score: 12.5, category: 'shoes', events: 3 }), // no orders: fallback
    row('d', { score: 10, category: '', events: 2 }), // no category
    row('e', { score: 5, category: 'shoes', events: 2 }),
    row('f', { score: 0, orders: 1, monetary: 5000 }),
  ]

  it('counts tracked users by level and lists high-intent users by score, then id', () => {
    const s = summarizeIntent(rows, thresholds, 2500)
    expect(s.usersTracked).toBe(6)
    expect(s.byLevel).toEqual({ high: 4, medium: 1, low: 1 })
    expect(s.high.map((u) => [u.customerId, u.estimatedSpend])).toEqual([
      ['b', 501],
      ['a', 334],
      ['c', 2500],
      ['d', 2500],
    ])
  })

  it('sums estimated spend per category, largest first', () => {
    expect(summarizeIntent(rows, thresholds, 2500).opportunity).toEqual([
      { category: 'shoes', users: 2, estimatedSpend: 2834 },
      { category: '', users: 1, estimatedSpend: 2500 },
      { category: 'beauty', users: 1, estimatedSpend: 501 },
    ])
  })

  it('without a recent AOV, customers without orders have no estimate and add nothing', () => {
    const s = summarizeIntent(rows, thresholds, null)
    expect(s.high.find((u) => u.customerId === 'c')!.estimatedSpend).toBeNull()
    expect(s.opportunity.find((o) => o.category === 'shoes')!.estimatedSpend).toBe(334)
  })

  it('formats a page of the list, filtered by category, money with the currency digits', () => {
    const s = summarizeIntent(rows, thresholds, 2500)
    const all = intentDashboard(s, 2, { page: 2, pageSize: 3 })
    expect(all.high_intent_users).toEqual({
      category: null,
      page: 2,
      page_size: 3,
      total: 4,
      users: [
        { customer_id: 'd', category: null, score: 10, events: 2, location: null, orders: 0, estimated_spend: '25.00' },
      ],
    })
    const shoes = intentDashboard(s, 2, { category: 'shoes', page: 1, pageSize: 50 })
    expect(shoes.high_intent_users.total).toBe(2)
    expect(shoes.high_intent_users.users.map((u) => u.customer_id)).toEqual(['a', 'c'])
    expect(shoes.high_intent_users.users[0]).toMatchObject({ location: 'Pune', estimated_spend: '3.34' })
    expect(shoes.revenue_opportunity).toEqual([
      { category: 'shoes', users: 2, estimated_spend: '28.34' },
      { category: null, users: 1, estimated_spend: '25.00' },
      { category: 'beauty', users: 1, estimated_spend: '5.01' },
    ])
    expect(shoes.users_by_level).toEqual({ high: 4, medium: 1, low: 1 })
  })
})
