// The rule store against a real nats-server: a read that was in flight when a save landed must not
// put the older list back in the cache (that race once hid a freshly created rule from the engine's
// timer run, which had started loading the tenant's defaults a moment earlier), and concurrent
// changes of one tenant's list are applied one after another, none lost.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Rule, ruleInput } from '../../alerts/rules.ts'
import { openRuleStore } from '../../alerts/store.ts'
import { type TestNats, startNats } from './harness.ts'

let nats: TestNats
beforeAll(async () => {
  nats = await startNats()
})
afterAll(async () => nats?.stop())

const rule = (id: string) => ruleInput.parse({ id, kind: 'margin_floor', floor: 0.1 }) as Rule

describe('rule store', () => {
  it('a read in flight when a change lands never puts the older list back', async () => {
    const store = await openRuleStore(nats.nc)
    const tenants = Array.from({ length: 300 }, (_, i) => `race-${i}`)
    await Promise.all(
      tenants.map(async (t) => {
        const reading = store.list(t) // as the engine's timer run does, just before the request
        await store.update(t, (list) => [...list, rule('mine')])
        await reading
      }),
    )
    const lost: string[] = []
    for (const t of tenants) if (!(await store.list(t)).some((r) => r.id === 'mine')) lost.push(t)
    expect(lost).toEqual([])
  })

  it('changes of one tenant made at once are all kept, in the store and in what a new process reads', async () => {
    const store = await openRuleStore(nats.nc)
    const ids = Array.from({ length: 20 }, (_, i) => `r-${String(i).padStart(2, '0')}`)
    await Promise.all(ids.map((id) => store.update('together', (list) => [...list, rule(id)])))
    const added = (list: Rule[]) =>
      list
        .map((r) => r.id)
        .filter((id) => id.startsWith('r-'))
        .sort()
    expect(added(await store.list('together'))).toEqual(ids)
    expect(added(await (await openRuleStore(nats.nc)).list('together'))).toEqual(ids)
  })

  it('an edit that throws changes nothing and does not stop the next one', async () => {
    const store = await openRuleStore(nats.nc)
    const failing = store.update('throws', () => {
      throw new Error('rule r-x exists')
    })
    const next = store.update('throws', (list) => [...list, rule('after')])
    await expect(failing).rejects.toThrow('rule r-x exists')
    await next
    // A tenant's first change starts from the defaults.
    expect((await (await openRuleStore(nats.nc)).list('throws')).map((r) => r.id)).toEqual([
      'default-margin',
      'default-spend-spike',
      'default-campaign-roas',
      'default-refund-surge',
      'default-gmv-stall',
      'default-connector',
      'after',
    ])
  })
})
