// Partition leases against a real nats-server: separate processes never both win a lease; an owner
// paused past its lease (SIGSTOP) wakes knowing it cannot trust it, fails to renew and reports the
// loss, while the new owner keeps it; two ownership loops split 16 partitions and hand them over
// without a partition ever owned twice. Waiting for a TTL is polling the KV until the key is gone.
import { type ChildProcess, spawn } from 'node:child_process'
import { resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { LossReason } from '../../stream/leases.ts'
import { openLeases } from '../../stream/leases.ts'
import { createOwnership } from '../../stream/ownership.ts'
import { type TestNats, startNats, waitFor } from './harness.ts'

const root = resolve(import.meta.dirname, '../..')

let nats: TestNats
const children: ChildProcess[] = []
beforeAll(async () => {
  nats = await startNats()
})
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL')
  await nats?.stop()
})

interface Child {
  process: ChildProcess
  lines: Record<string, any>[]
  /** Called on each line as it is read (to act at an exact point of the child's report). */
  onLine?: (line: Record<string, any>) => void
  send(command: string): void
  /** The first line from index `from` on matching `match`. */
  find(match: (line: Record<string, any>) => boolean, what: string, from?: number): Promise<Record<string, any>>
}

function startChild(env: Record<string, string>): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/integration/lease-child.ts'], {
    cwd: root,
    env: { ...process.env, NATS_URL: nats.url, ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  children.push(child)
  let pending = ''
  const handle: Child = {
    process: child,
    lines: [],
    send: (command) => child.stdin!.write(`${command}\n`),
    // Woken by each line rather than polled: the race waits for 800 lines.
    find: (match, what, from = 0) =>
      new Promise((resolveLine, reject) => {
        const check = () => {
          const found = handle.lines.slice(from).find(match)
          if (!found) return false
          clearTimeout(timer)
          waiters.delete(check)
          resolveLine(found)
          return true
        }
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`timed out waiting for ${what}`))
        }, 30_000)
        if (!check()) waiters.add(check)
      }),
  }
  const waiters = new Set<() => boolean>()
  child.stdout!.on('data', (chunk) => {
    pending += chunk
    const complete = pending.split('\n')
    pending = complete.pop()!
    for (const text of complete) {
      const line = JSON.parse(text)
      handle.lines.push(line)
      handle.onLine?.(line)
    }
    for (const check of [...waiters]) check()
  })
  return handle
}

describe('partition leases', () => {
  it('two processes racing for one free partition 200 times: exactly one wins each round', async () => {
    const env = { LEASE_MODE: 'race', LEASE_BUCKET: 'race_leases', LEASE_TTL_MS: '30000', LEASE_MARGIN_MS: '5000' }
    const racers = [startChild({ ...env, LEASE_NODE: 'racer-a' }), startChild({ ...env, LEASE_NODE: 'racer-b' })]
    for (const r of racers) await r.find((l) => l.event === 'ready', 'racer ready')
    const wins = [0, 0]
    const tokens: number[] = []
    const rounds: number[] = []
    for (let round = 0; round < 200; round++) {
      for (const r of racers) r.send(`try ${round}`)
      const tried = await Promise.all(
        racers.map((r) => r.find((l) => l.event === 'tried' && l.round === round, `round ${round}`)),
      )
      const winners = tried.flatMap((t, i) => (t.won ? [i] : []))
      rounds.push(winners.length)
      if (winners.length !== 1) continue
      wins[winners[0]]++
      tokens.push(tried[winners[0]].token)
      racers[winners[0]].send(`release ${round}`)
      await racers[winners[0]].find((l) => l.event === 'released' && l.round === round, `release ${round}`)
    }
    expect(rounds.filter((n) => n !== 1)).toEqual([])
    expect(wins[0] + wins[1]).toBe(200)
    // Fencing tokens only grow: a later holder's token is always above every earlier one's.
    expect(tokens.every((t, i) => i === 0 || t > tokens[i - 1])).toBe(true)
    console.log(`race wins: racer-a ${wins[0]}, racer-b ${wins[1]}`)
  })

  it('an owner paused past its lease wakes with valid() false, fails to renew and reports the loss', async () => {
    const bucket = 'paused_leases'
    const ttl = { ttlMs: 1000, marginMs: 200 }
    const child = startChild({
      LEASE_MODE: 'hold',
      LEASE_NODE: 'sleeper',
      LEASE_BUCKET: bucket,
      LEASE_TTL_MS: String(ttl.ttlMs),
      LEASE_MARGIN_MS: String(ttl.marginMs),
      LEASE_RENEW_MS: '200',
    })
    const acquired = await child.find((l) => l.event === 'acquired', 'child acquired')
    // Stop it right after a renewal has landed, so no renewal is in flight while it sleeps.
    let renewals = 0
    const stopped = new Promise<void>((r) => {
      child.onLine = (line) => {
        if (line.event === 'renewed' && ++renewals === 3) {
          child.process.kill('SIGSTOP')
          child.onLine = undefined
          r()
        }
      }
    })
    await stopped

    const leases = await openLeases(nats.nc, { nodeId: 'waker', bucket, ...ttl })
    expect(await leases.holder(0)).toMatchObject({ owner: 'sleeper', token: acquired.token })
    await waitFor(async () => ((await leases.holder(0)) === undefined ? true : undefined), 'the key to age out')
    const mine = (await leases.acquire(0))!
    expect(mine).toBeDefined()
    expect(mine.token).toBeGreaterThan(acquired.token)
    // Keep ours while the sleeper wakes: the bucket's TTL is short.
    const keeping = setInterval(() => void mine.renew().catch(() => {}), 200)
    try {
      const woken = child.lines.length
      child.process.kill('SIGCONT')
      const failed = await child.find((l) => l.event === 'renew-failed', 'the renewal to fail', woken)

      // Every line from `woken` on was written after waking: the first tick checked valid() before renewing.
      const after = child.lines.slice(woken)
      const wake = after.findIndex((l) => l.event === 'tick')
      expect(after[wake]).toMatchObject({ event: 'tick', valid: false })
      expect(after.slice(wake + 1)).toEqual([{ event: 'lost', reason: 'superseded' }, failed])
      expect(failed.lost).toBe('superseded' satisfies LossReason)
      expect(child.lines.slice(0, woken).filter((l) => l.event === 'tick' && !l.valid)).toEqual([])

      expect(mine.valid()).toBe(true)
      expect(await leases.holder(0)).toMatchObject({ owner: 'waker', token: mine.token })
    } finally {
      clearInterval(keeping)
      child.process.kill('SIGKILL')
    }
  })

  it('valid() follows the injected clock; a lease that aged out cannot be renewed nor released by its old owner', async () => {
    let clock = 0
    const ttl = { bucket: 'clocked_leases', ttlMs: 1000, marginMs: 200 }
    const old = await openLeases(nats.nc, { nodeId: 'old', now: () => clock, ...ttl })
    const next = await openLeases(nats.nc, { nodeId: 'next', ...ttl })
    const losses: LossReason[] = []
    const lease = (await old.acquire(1, (reason) => losses.push(reason)))!
    expect(await old.acquire(1)).toBeUndefined()
    clock = 799
    expect(lease.valid()).toBe(true)
    clock = 800
    expect(lease.valid()).toBe(false)
    // Nobody else wrote: the renewal lands and the lease is trusted again from the renewal's sending.
    expect(await lease.renew()).toBe(true)
    expect(lease.valid()).toBe(true)

    await waitFor(async () => ((await old.holder(1)) === undefined ? true : undefined), 'the key to age out')
    const taken = (await next.acquire(1))!
    expect(await lease.renew()).toBe(false)
    expect(losses).toEqual(['superseded'])
    await lease.release()
    expect(await next.holder(1)).toMatchObject({ owner: 'next', token: taken.token })
    await taken.release()
    expect(await next.holder(1)).toBeUndefined()

    // Aged out and nobody took it: still lost, it must be acquired anew.
    const alone = (await old.acquire(2))!
    await waitFor(async () => ((await old.holder(2)) === undefined ? true : undefined), 'the key to age out')
    expect(await alone.renew()).toBe(false)
    expect(alone.lost).toBe('superseded')
    expect(await old.acquire(2)).toBeDefined()
  })

  it('two ownership loops split 16 partitions 8/8, and one stopping hands all 16 to the other', async () => {
    type Step = { node: string; partition: number; kind: 'acquired' | 'lost'; reason?: LossReason }
    const timeline: Step[] = []
    const start = (node: string) =>
      createOwnership({
        nc: nats.nc,
        nodeId: node,
        partitions: 16,
        ttlMs: 5000,
        renewMs: 100,
        buckets: { leases: 'loop_leases', nodes: 'loop_nodes' },
        onAcquired: (partition) => void timeline.push({ node, partition, kind: 'acquired' }),
        onLost: (partition, reason) => void timeline.push({ node, partition, kind: 'lost', reason }),
      })
    const [a, b] = await Promise.all([start('node-a'), start('node-b')])
    try {
      await waitFor(async () => (a.owned().length === 8 && b.owned().length === 8 ? true : undefined), '8/8')
      expect([...a.owned(), ...b.owned()].sort((x, y) => x - y)).toEqual([...Array(16).keys()])
      const handedOver = b.owned()
      const mark = timeline.length
      await b.stop()
      await waitFor(async () => (a.owned().length === 16 ? true : undefined), 'all 16 on node-a')
      const moves = timeline.slice(mark)
      const lost = moves.filter((s) => s.node === 'node-b').map((s) => [s.kind, s.partition, s.reason])
      expect(lost).toEqual(handedOver.map((p) => ['lost', p, 'released']))
      const taken = moves.filter((s) => s.node === 'node-a').map((s) => [s.kind, s.partition])
      expect(taken.sort((x, y) => Number(x[1]) - Number(y[1]))).toEqual(handedOver.map((p) => ['acquired', p]))
    } finally {
      await Promise.all([a.stop(), b.stop()])
    }
    // Replayed in order: never acquired while another node holds it, never lost by a non-holder.
    const owner = new Map<number, string>()
    for (const step of timeline) {
      if (step.kind === 'acquired') {
        expect(owner.get(step.partition), `${step.node} acquired ${step.partition}`).toBeUndefined()
        owner.set(step.partition, step.node)
      } else {
        expect(owner.get(step.partition), `${step.node} lost ${step.partition}`).toBe(step.node)
        owner.delete(step.partition)
      }
    }
    expect(owner.size).toBe(0)
  })
})
