// GET /v1/alerts answers consistently for a client that waits on `evaluated`: an evaluation that
// finishes while the log is being read must not show up in `evaluated` while its changes are
// missing from `firing` and `items` (the end-to-end tests wait on `evaluated.events`, and once saw
// exactly that under load).
import { describe, expect, it } from 'vitest'
import type { AlertEngine } from '../../alerts/engine.ts'
import { alertRoutes } from '../../alerts/routes.ts'
import type { AlertLog, RuleStore } from '../../alerts/store.ts'
import type { TenantRegistry } from '../../tenants/index.ts'

describe('GET /v1/alerts', () => {
  it('never reports an evaluation newer than the firing list and the log it returns', async () => {
    const alert = {
      alert_id: 'a1',
      rule_id: 'r',
      name: null,
      kind: 'refund_surge',
      subject: '',
      severity: 'warning',
      state: 'firing' as const,
      at: '2026-03-02T10:01:00.000Z',
      message: 'm',
      figures: {},
    }
    let evaluatedEvents = 5
    let firing: (typeof alert)[] = []
    let logged: unknown[] = []
    const engine = {
      evaluated: () => ({ events: evaluatedEvents, change_at: null, timer_at: null }),
      firing: () => firing,
    } as unknown as AlertEngine
    // The log read is slow: the 6th event's evaluation fires and finishes while it runs.
    const alertLog = {
      list: async () => {
        const before = logged
        await new Promise((r) => setTimeout(r, 10))
        firing = [alert]
        logged = [{ ...alert, fired_at: alert.at, recorded_at: alert.at }]
        evaluatedEvents = 6
        return before
      },
    } as unknown as AlertLog
    const tenants = {
      authenticate: async () => ({ id: 'acme', currency: 'USD', timezone: 'UTC' }),
    } as unknown as TenantRegistry
    const app = alertRoutes({ tenants, rules: {} as RuleStore, alertLog, engine, allowPrivateWebhooks: false })
    const res = await app.request('/v1/alerts', { headers: { authorization: 'Bearer pk_acme_x' } })
    expect(res.status).toBe(200)
    // What it says it evaluated (5 events) is what the lists it returns reflect.
    expect(await res.json()).toEqual({
      firing: [],
      items: [],
      evaluated: { events: 5, change_at: null, timer_at: null },
    })
  })
})
