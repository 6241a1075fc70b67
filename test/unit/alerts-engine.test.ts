// The alert engine with in-memory seams and the real rolling aggregate: evaluated on the change
// signal over windows ending at the newest event time, one record and one webhook per change, restored firing alerts
// are not fired
// again after a restart, absences on the timer against the clock, deleted rules leave the list.
import { describe, expect, it } from 'vitest'
import { type AlertEngineOptions, createAlertEngine } from '../../alerts/engine.ts'
import { type Rule, ruleInput } from '../../alerts/rules.ts'
import type { AlertLog, AlertRecord, RuleStore } from '../../alerts/store.ts'
import type { WebhookSender } from '../../alerts/webhooks.ts'
import { createAlertAggregate } from '../../alerts/aggregate.ts'
import { horizonMs } from '../../alerts/rules.ts'
import { minuteOf } from '../../stream/index.ts'
import { type Measures, measuresOf } from '../../stream/measures.ts'

const T = Date.UTC(2026, 2, 2, 10, 0)
const tenant = { id: 'acme', timezone: 'UTC', currency: 'USD' }

function harness(
  rules: Rule[],
  restored: (AlertRecord & { tenant: string })[] = [],
  extra: Partial<AlertEngineOptions> = {},
) {
  const records: AlertRecord[] = []
  const sent: { payload: any }[] = []
  const notified: string[] = []
  let clock = T
  const store = { list: async () => rules, tenants: async () => ['acme'] } as unknown as RuleStore
  const log = {
    append: async (_t: string, r: AlertRecord[]) => void records.push(...r),
    latest: async () => restored,
  } as unknown as AlertLog
  const webhooks = {
    start: async () => {},
    send: async (_t: string, _target: unknown, payload: unknown) => (sent.push({ payload }), 'd'),
    stop: () => {},
  } as unknown as WebhookSender
  const aggregate = createAlertAggregate({ horizonMs: () => horizonMs(rules) })
  const push = (...ds: { ts: number; campaign_id?: string; values: Measures }[]) =>
    aggregate.add(
      tenant,
      ds.map((d) => ({
        minute: minuteOf(d.ts),
        source: 'shopify',
        channel: 'facebook',
        campaign_id: d.campaign_id ?? '',
        values: d.values,
      })),
    )
  const engine = createAlertEngine({
    rules: store,
    alertLog: log,
    webhooks,
    aggregate,
    tenantOf: async () => tenant,
    debounceMs: 0,
    minGapMs: 0,
    connectorsOf: async () => [],
    notify: (t) => notified.push(t),
    now: () => clock,
    ...extra,
  })
  const settle = async () => {
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 5))
      await engine.idle()
    }
  }
  return { engine, push, records, sent, notified, settle, setClock: (t: number) => (clock = t) }
}

/** The alert log's newest record of roasRule's alert on campaign c1, as read back after a restart. */
const restoredAlert = (state: 'firing' | 'resolved', firedAt: number) => ({
  tenant: 'acme',
  alert_id: 'a-old',
  rule_id: 'costly',
  kind: 'campaign_roas',
  subject: 'c1',
  severity: 'warning',
  state,
  at: new Date(T).toISOString(),
  fired_at: new Date(firedAt).toISOString(),
  recorded_at: new Date(T).toISOString(),
  message: 'm',
  figures: {},
})

const roasRule = {
  id: 'costly',
  ...ruleInput.parse({
    kind: 'campaign_roas',
    floor: 1,
    min_spend: '100.00',
    window_minutes: 60,
    webhook: { url: 'http://127.0.0.1:9/x', secret: 's'.repeat(16) },
  }),
} as Rule

describe('alert engine', () => {
  it('fires on the change signal at event time, once, with a record, a webhook and a live notice', async () => {
    const h = harness([roasRule])
    h.push(
      { ts: T, campaign_id: 'c1', values: measuresOf({ ad_spend: 10_000 }) },
      { ts: T + 60_000, campaign_id: 'c1', values: measuresOf({ attributed_revenue: 5_000 }) },
    )
    h.engine.changed('acme')
    await h.settle()
    h.engine.changed('acme') // nothing new: no second alert
    await h.settle()
    expect(h.records.map((r) => [r.rule_id, r.subject, r.state, r.at])).toEqual([
      ['costly', 'c1', 'firing', '2026-03-02T10:02:00.000Z'],
    ])
    expect(h.sent).toHaveLength(1)
    expect(h.sent[0].payload).toMatchObject({
      tenant: 'acme',
      rule: { id: 'costly' },
      alert: { state: 'firing', figures: { roas: 0.5 } },
    })
    expect(h.engine.firing('acme').map((a) => a.subject)).toEqual(['c1'])
    expect(h.engine.firing('other')).toEqual([])
    expect(h.notified).toEqual(['acme'])
  })

  it('resolves when the campaign slides out of the window (event time moves on)', async () => {
    const h = harness([roasRule])
    h.push({ ts: T, campaign_id: 'c1', values: measuresOf({ ad_spend: 10_000 }) })
    h.engine.changed('acme')
    await h.settle()
    h.push({ ts: T + 2 * 3_600_000, campaign_id: 'c2', values: measuresOf({ ad_spend: 1 }) })
    h.engine.changed('acme')
    await h.settle()
    expect(h.records.map((r) => [r.subject, r.state])).toEqual([
      ['c1', 'firing'],
      ['c1', 'resolved'],
    ])
    expect(h.records[0].alert_id).toBe(h.records[1].alert_id)
  })

  it('a rule added with a longer reach than was kept holds its baseline check until it is known', async () => {
    const DAY = 86_400_000
    const spike = (id: string, days: number) =>
      ({
        id,
        ...ruleInput.parse({
          kind: 'spend_spike',
          factor: 3,
          baseline_days: days,
          ewma_alpha: 0.5,
          min_spend: '50.00',
          cooldown_minutes: 0,
        }),
      }) as Rule
    // 100.00 in this hour on each of the three previous days, then 200.00 now: 2× a baseline of 100.00.
    const history = [3, 2, 1].map((d) => ({ ts: T - d * DAY, values: measuresOf({ ad_spend: 10_000 }) }))
    const now = { ts: T, values: measuresOf({ ad_spend: 20_000 }) }
    const rules = [spike('short', 1)]
    const h = harness(rules)
    for (const d of [...history, now]) h.push(d)
    // Kept back to T − 1 day − 1 h only: days 2 and 3 are gone when the 3-day rule arrives.
    rules.push(spike('long', 3))
    h.engine.changed('acme')
    await h.settle()
    // Read as zeros, days 3 and 2 would make the EWMA 50.00 and 200.00 a spike.
    expect(h.records).toEqual([])
    await h.engine.stop()

    // After a restart the replay keeps all three days: the baseline is 100.00, the threshold 300.00.
    const replayed = harness([spike('short', 1), spike('long', 3)])
    for (const d of [...history, now]) replayed.push(d)
    replayed.engine.changed('acme')
    await replayed.settle()
    expect(replayed.records).toEqual([])
    replayed.push({ ts: T, values: measuresOf({ ad_spend: 10_001 }) })
    replayed.engine.changed('acme')
    await replayed.settle()
    expect(replayed.records.map((r) => [r.rule_id, r.state, r.figures.baseline, r.figures.threshold])).toEqual([
      ['short', 'firing', '100.00', '300.00'],
      ['long', 'firing', '100.00', '300.00'],
    ])
    await replayed.engine.stop()
  })

  it('waits while the stream consumer has over 1,000 messages queued, then evaluates once', async () => {
    let backlog = 1_001
    const h = harness([roasRule], [], { backlog: () => backlog })
    h.push({ ts: T, campaign_id: 'c1', values: measuresOf({ ad_spend: 10_000 }) })
    h.engine.changed('acme')
    await h.settle()
    await new Promise((r) => setTimeout(r, 300)) // three looks at the backlog
    expect([h.records, h.engine.evaluated('acme').events]).toEqual([[], 0])
    backlog = 1_000
    for (let i = 0; i < 200 && h.records.length === 0; i++) await h.settle()
    expect(h.records.map((r) => [r.subject, r.state])).toEqual([['c1', 'firing']])
    expect(h.engine.evaluated('acme').events).toBe(1)
    await h.engine.stop()
  })

  it('an overloaded consumer still alerts: a tenant waits at most maxHoldMs', async () => {
    const h = harness([roasRule], [], { backlog: () => 1e6, maxHoldMs: 0 })
    h.push({ ts: T, campaign_id: 'c1', values: measuresOf({ ad_spend: 10_000 }) })
    h.engine.changed('acme')
    for (let i = 0; i < 200 && h.records.length === 0; i++) await h.settle()
    expect(h.records.map((r) => [r.subject, r.state])).toEqual([['c1', 'firing']])
    await h.engine.stop()
  })

  it('a resolved alert restored after a restart keeps its cooldown (30 min by default)', async () => {
    const resolved = restoredAlert('resolved', T - 600_000)
    const h = harness([roasRule], [resolved])
    await h.engine.start()
    // Breached with the window ending at T + 30 min − 1 min: inside the cooldown, quiet.
    h.push({ ts: T + 28 * 60_000, campaign_id: 'c1', values: measuresOf({ ad_spend: 10_000 }) })
    h.engine.changed('acme')
    await h.settle()
    expect(h.records).toEqual([])
    // Window ending at T + 30 min: the cooldown is over, a new alert fires.
    h.push({ ts: T + 29 * 60_000, campaign_id: 'c1', values: measuresOf({ ad_spend: 1 }) })
    h.engine.changed('acme')
    await h.settle()
    expect(h.records.map((r) => [r.state, r.at, r.alert_id === 'a-old'])).toEqual([
      ['firing', new Date(T + 30 * 60_000).toISOString(), false],
    ])
    await h.engine.stop()
  })

  it('a firing alert restored after a restart is not fired again', async () => {
    const restored = restoredAlert('firing', T)
    const h = harness([roasRule], [restored])
    await h.engine.start()
    h.push({ ts: T, campaign_id: 'c1', values: measuresOf({ ad_spend: 10_000 }) })
    h.engine.changed('acme')
    await h.settle()
    expect(h.records).toEqual([])
    expect(h.engine.firing('acme').map((a) => a.alert_id)).toEqual(['a-old'])
    await h.engine.stop()
  })

  it('absences run on the timer against the clock', async () => {
    const stall = {
      id: 'stall',
      ...ruleInput.parse({ kind: 'gmv_stall', window_minutes: 60, baseline_days: 2, min_expected_orders: 2 }),
    } as Rule
    const rules = [stall]
    const h = harness(rules)
    const DAY = 86_400_000
    h.push(
      { ts: T - DAY - 30 * 60_000, values: measuresOf({ orders: 2 }) },
      { ts: T - 2 * DAY - 30 * 60_000, values: measuresOf({ orders: 3 }) },
    )
    h.setClock(T)
    h.engine.evaluateNow('acme')
    await h.settle()
    expect(h.records.map((r) => [r.rule_id, r.state, r.figures.expected_orders])).toEqual([['stall', 'firing', 2.5]])
    h.push({ ts: T - 10 * 60_000, values: measuresOf({ orders: 1 }) })
    h.engine.evaluateNow('acme')
    await h.settle()
    expect(h.records.map((r) => r.state)).toEqual(['firing', 'resolved'])
    h.setClock(T + 3 * 3_600_000)
    h.engine.evaluateNow('acme')
    await h.settle()
    expect(h.engine.firing('acme').map((a) => a.rule_id)).toEqual([])
  })

  it('a deleted rule takes its firing alerts off the list', async () => {
    const rules = [roasRule]
    const h = harness(rules)
    h.push({ ts: T, campaign_id: 'c1', values: measuresOf({ ad_spend: 10_000 }) })
    h.engine.changed('acme')
    await h.settle()
    expect(h.engine.firing('acme')).toHaveLength(1)
    rules.length = 0
    h.engine.evaluateNow('acme')
    await h.settle()
    expect(h.engine.firing('acme')).toEqual([])
    expect(h.notified).toEqual(['acme', 'acme'])
  })
})
