// The per-tenant coalescing scheduler on a hand-driven clock: the first request of a quiet spell
// runs at once, requests during a wait or a run fold into one run, runs start at least minGapMs
// (or paceFactor × the last run's cost) apart, a held run waits without counting as a start.
import { describe, expect, it } from 'vitest'
import { type CoalescerOptions, createCoalescer } from '../../common/coalescer.ts'
import { messageOf } from '../../common/errors.ts'

/** A clock and timers that move only when told to. */
function manualTime() {
  let clock = 0
  const timers: { at: number; fire: () => void; cancelled: boolean }[] = []
  return {
    now: () => clock,
    setTimer: (fire: () => void, ms: number) => {
      const timer = { at: clock + ms, fire, cancelled: false }
      timers.push(timer)
      return () => {
        timer.cancelled = true
      }
    },
    /** Moves the clock to `to`, firing due timers in order (and letting the runs they start settle). */
    async advanceTo(to: number) {
      for (;;) {
        const due = timers.filter((t) => !t.cancelled && t.at <= to).sort((a, b) => a.at - b.at)[0]
        if (!due) break
        timers.splice(timers.indexOf(due), 1)
        clock = due.at
        due.fire()
        for (let i = 0; i < 5; i++) await Promise.resolve()
      }
      clock = to
    },
  }
}

function harness(options: Partial<CoalescerOptions> = {}, costMs = 0) {
  const time = manualTime()
  const starts: [string, number][] = []
  const failed: string[] = []
  const coalescer = createCoalescer({
    work: (key) => {
      starts.push([key, time.now()])
      // The work takes costMs of the (hand-driven) clock.
      return time.advanceTo(time.now() + costMs)
    },
    now: time.now,
    setTimer: time.setTimer,
    onError: (key) => failed.push(key),
    ...options,
  })
  return { time, starts, failed, coalescer }
}

describe('coalescer', () => {
  it('runs the first request of a quiet spell at once and folds later ones into one run after the gap', async () => {
    const { time, starts, coalescer } = harness({ minGapMs: 100 })
    coalescer.request('acme')
    await time.advanceTo(0)
    for (let t = 10; t <= 50; t += 10) {
      await time.advanceTo(t)
      coalescer.request('acme')
    }
    await time.advanceTo(1_000)
    expect(starts).toEqual([
      ['acme', 0],
      ['acme', 100],
    ])
  })

  it('keeps keys apart: one tenant waiting does not delay another', async () => {
    const { time, starts, coalescer } = harness({ minGapMs: 100 })
    coalescer.request('acme')
    await time.advanceTo(0)
    coalescer.request('acme')
    await time.advanceTo(20)
    coalescer.request('globex')
    await time.advanceTo(1_000)
    expect(starts).toEqual([
      ['acme', 0],
      ['globex', 20],
      ['acme', 100],
    ])
  })

  it('waits a request’s own delay, and never less than the gap since the last start', async () => {
    const { time, starts, coalescer } = harness({ minGapMs: 100 })
    coalescer.request('acme', 25)
    await time.advanceTo(60)
    coalescer.request('acme', 10)
    await time.advanceTo(1_000)
    expect(starts).toEqual([
      ['acme', 25],
      ['acme', 125],
    ])
  })

  it('paces a costly key by paceFactor × its last cost, start to start', async () => {
    const { time, starts, coalescer } = harness({ minGapMs: 100, paceFactor: 3 }, 200)
    coalescer.request('acme')
    await time.advanceTo(0)
    // Asked for during the run (0..200): one follow-up, 3 × 200 ms after the first start.
    await time.advanceTo(50)
    coalescer.request('acme')
    coalescer.request('acme')
    await time.advanceTo(5_000)
    expect(starts).toEqual([
      ['acme', 0],
      ['acme', 600],
    ])
  })

  it('a held run asks again after the hold and is not a start', async () => {
    let backlog = true
    const { time, starts, coalescer } = harness({ minGapMs: 100, holdMs: () => (backlog ? 30 : 0) })
    coalescer.request('acme')
    await time.advanceTo(70)
    expect(starts).toEqual([])
    backlog = false
    await time.advanceTo(1_000)
    expect(starts).toEqual([['acme', 90]])
  })

  it('runs nothing after stop, and idle waits for the run under way', async () => {
    const { time, starts, coalescer } = harness({ minGapMs: 100 })
    coalescer.request('acme')
    await time.advanceTo(0)
    coalescer.request('acme')
    coalescer.stop()
    coalescer.request('globex')
    await coalescer.idle()
    await time.advanceTo(1_000)
    expect(starts).toEqual([['acme', 0]])
  })

  it('reports a failed run and goes on with the next', async () => {
    const time = manualTime()
    const errors: string[] = []
    let calls = 0
    const coalescer = createCoalescer({
      work: () => {
        calls++
        if (calls === 1) throw new Error('boom')
      },
      onError: (key, err) => errors.push(`${key}: ${messageOf(err)}`),
      now: time.now,
      setTimer: time.setTimer,
    })
    coalescer.request('acme')
    await time.advanceTo(0)
    coalescer.request('acme')
    await time.advanceTo(10)
    expect([calls, errors]).toEqual([2, ['acme: boom']])
  })
})
