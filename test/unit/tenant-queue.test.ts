// The per-tenant turns of expensive reads: a tenant's reads beyond its concurrency wait, beyond the
// queue they are refused with 429, and another tenant is never kept waiting by them.
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { HttpError } from '../../common/errors.ts'
import { createTenantQueues } from '../../query/dashboards/tenant-queue.ts'
import { settle } from './async-helpers.ts'

/** A task that runs until released, recording that it started. */
function gate(started: string[], name: string) {
  let release!: () => void
  const done = new Promise<void>((r) => (release = r))
  return { task: async () => (started.push(name), await done, name), release }
}

describe('per-tenant queues', () => {
  it('runs 2 of a tenant at once, queues 16 more, refuses the next with 429; other tenants run at once', async () => {
    const queues = createTenantQueues({ concurrency: 2, maxQueued: 16, cooldown: 0 })
    const started: string[] = []
    const gates = Array.from({ length: 18 }, (_, i) => gate(started, `a${i}`))
    const answers = gates.map((g) => queues.run('a', g.task))
    await new Promise((r) => setImmediate(r))
    expect(started).toEqual(['a0', 'a1'])

    const refused = await queues.run('a', async () => 'never').catch((err: unknown) => err)
    expect(refused).toBeInstanceOf(HttpError)
    expect((refused as HttpError).status).toBe(429)
    expect((refused as HttpError).message).toBe(
      'too many expensive reads in flight for this tenant (2 running, 16 waiting); retry shortly',
    )

    // Tenant b is not behind a's queue.
    expect(await queues.run('b', async () => 'b answered')).toBe('b answered')
    // Live recomputation waits its turn instead of being refused.
    const live = queues.wait('a', async () => 'live')

    for (const g of gates) g.release()
    expect(await Promise.all(answers)).toEqual(gates.map((_, i) => `a${i}`))
    expect(await live).toBe('live')
    expect(started).toEqual(gates.map((_, i) => `a${i}`))
    // An idle tenant's queue goes once its last slot is free (just after its answer).
    while (queues.stats().tenants > 0) await sleep(1)
    expect(queues.stats()).toEqual({ tenants: 0, waiting: 0 })
  })

  it('a failing read frees its turn', async () => {
    const queues = createTenantQueues({ concurrency: 1, maxQueued: 0, cooldown: 0 })
    await expect(queues.run('a', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom')
    expect(await queues.run('a', async () => 'next')).toBe('next')
  })

  it('a slot stays taken after a read for cooldown × its duration; the answer does not wait for it', async () => {
    const queues = createTenantQueues({ concurrency: 1, maxQueued: 16, cooldown: 1_000 })
    const order: string[] = []
    const first = queues.run('a', async () => (await sleep(5), order.push('first answered'), 'first'))
    const second = queues.run('a', async () => (order.push('second started'), 'second'))
    expect(await first).toBe('first')
    // The first answer is out; the second waits for the slot (≥ 5 s of cooldown), so it has not started.
    await sleep(50)
    expect(order).toEqual(['first answered'])
    expect(queues.stats()).toEqual({ tenants: 1, waiting: 1 })
    void second
  })

  it('a client asking one thing at a time is never held back by its cooldown', async () => {
    const queues = createTenantQueues({ concurrency: 1, maxQueued: 16, cooldown: 1_000 })
    // With a 1,000× cooldown a held slot would stay taken for seconds: each read's slot is free (the
    // tenant's queue gone) as soon as its answer has been delivered, before the next read is asked.
    for (let i = 0; i < 3; i++) {
      expect(await queues.run('a', async () => (await sleep(2), i))).toBe(i)
      await settle()
      expect(queues.stats()).toEqual({ tenants: 0, waiting: 0 })
    }
  })

  it('a tenant with a read running and another waiting is busy', async () => {
    const queues = createTenantQueues({ concurrency: 1, maxQueued: 16, cooldown: 0 })
    let open = () => {}
    const first = queues.run('a', () => new Promise<void>((resolve) => (open = resolve)))
    expect(queues.busy('a')).toBe(false)
    const second = queues.run('a', async () => 'second')
    expect(queues.busy('a')).toBe(true)
    expect(queues.busy('b')).toBe(false)
    open()
    await first
    expect(await second).toBe('second')
  })
})
