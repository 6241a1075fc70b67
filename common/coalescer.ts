// Per-key (per-tenant) work that is asked for often and run seldom. Requests arriving while a
// key's run is waiting or under way fold into one more run; runs of one key never overlap; two
// runs of a key start at least `minGapMs` apart, or `paceFactor` × the last run's duration if that
// is longer (start to start), so a tenant whose work is costly gets it less often instead of
// taking the event loop from every other tenant. The first request of a quiet spell waits only
// its own delay (0: at once).

/** Calls `fire` after `ms`; returns what cancels it. */
export type SetTimer = (fire: () => void, ms: number) => () => void

export interface CoalescerOptions {
  /** The work for one key. A rejection goes to `onError`. */
  work: (key: string) => Promise<void> | void
  minGapMs?: number
  paceFactor?: number
  /** Asked when a run is due: milliseconds to put it off (0: run now). A held run is not a start. */
  holdMs?: (key: string) => number
  onError: (key: string, err: unknown) => void
  now?: () => number
  setTimer?: SetTimer
}

/** A pending run never keeps the process alive by itself. */
const unrefTimer: SetTimer = (fire, ms) => {
  const timer = setTimeout(fire, ms)
  timer.unref()
  return () => clearTimeout(timer)
}

export function createCoalescer(options: CoalescerOptions) {
  const minGapMs = options.minGapMs ?? 0
  const paceFactor = options.paceFactor ?? 0
  const now = options.now ?? Date.now
  const setTimer = options.setTimer ?? unrefTimer
  const { onError } = options
  const pending = new Set<string>()
  const armed = new Map<string, () => void>()
  const running = new Map<string, Promise<void>>()
  const lastStart = new Map<string, number>()
  const lastCost = new Map<string, number>()
  let stopped = false

  /** Milliseconds until the key may start again. */
  function dueIn(key: string): number {
    const start = lastStart.get(key)
    if (start === undefined) return 0
    const gap = Math.max(minGapMs, paceFactor * (lastCost.get(key) ?? 0))
    return Math.max(0, start + gap - now())
  }

  function arm(key: string, delayMs: number): void {
    if (armed.has(key) || stopped) return
    armed.set(
      key,
      setTimer(() => fire(key), delayMs),
    )
  }

  function fire(key: string): void {
    armed.delete(key)
    if (stopped || !pending.has(key)) return
    const holdMs = options.holdMs?.(key) ?? 0
    if (holdMs > 0) return arm(key, holdMs)
    pending.delete(key)
    const start = now()
    lastStart.set(key, start)
    const run = (async () => {
      try {
        await options.work(key)
      } catch (err) {
        onError(key, err)
      }
    })()
    running.set(key, run)
    void run.then(() => {
      lastCost.set(key, now() - start)
      running.delete(key)
      if (pending.has(key)) arm(key, dueIn(key))
    })
  }

  return {
    /** Asks for a run of the key, at the earliest `delayMs` from now. */
    request(key: string, delayMs = 0): void {
      if (stopped) return
      pending.add(key)
      // A run under way arms the next one when it ends.
      if (!running.has(key)) arm(key, Math.max(delayMs, dueIn(key)))
    },
    /** Waits for the runs under way. */
    async idle(): Promise<void> {
      await Promise.all(running.values())
    },
    /** No run starts any more; runs under way finish (`idle` waits for them). */
    stop(): void {
      stopped = true
      for (const cancel of armed.values()) cancel()
      armed.clear()
    },
  }
}

export type Coalescer = ReturnType<typeof createCoalescer>
