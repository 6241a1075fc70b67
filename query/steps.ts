// Long computations over a million customers are written as generators that `yield` at safe
// points; `runSync` runs one to the end (tests, small inputs), `runSliced` gives the event loop
// back every few milliseconds so ingestion, flushes and live pushes never wait seconds behind it.
import { setImmediate as nextTurn } from 'node:timers/promises'

export type Steps<T> = Generator<void, T, void>

export function runSync<T>(steps: Steps<T>): T {
  for (;;) {
    const step = steps.next()
    if (step.done) return step.value
  }
}

/** Time a computation kept the event loop busy (its slices, not the waits between them). */
export interface Meter {
  busyMs: number
}

export async function runSliced<T>(steps: Steps<T>, meter?: Meter, sliceMs = 10): Promise<T> {
  let sliceStart = performance.now()
  for (;;) {
    const step = steps.next()
    const now = performance.now()
    if (step.done) {
      if (meter) meter.busyMs += now - sliceStart
      return step.value
    }
    if (now - sliceStart >= sliceMs) {
      if (meter) meter.busyMs += now - sliceStart
      await nextTurn()
      sliceStart = performance.now()
    }
  }
}

/** How often loops over customers or orders yield (a yield costs a clock read). */
export const YIELD_EVERY = 4096

/**
 * Sorts indices in place-ish (returns the sorted array) without blocking for long: native sorts
 * of short runs, then merge passes that yield. Stable, like the merge it is.
 */
export function* sortSteps(order: Uint32Array, compare: (a: number, b: number) => number): Steps<Uint32Array> {
  const n = order.length
  const RUN = 16_384
  for (let start = 0; start < n; start += RUN) {
    order.subarray(start, Math.min(n, start + RUN)).sort(compare)
    yield
  }
  let src: Uint32Array = order
  let dst: Uint32Array = new Uint32Array(n)
  for (let width = RUN; width < n; width *= 2) {
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(lo + width, n)
      const hi = Math.min(lo + 2 * width, n)
      let i = lo
      let j = mid
      let k = lo
      while (i < mid && j < hi) {
        dst[k++] = compare(src[i], src[j]) <= 0 ? src[i++] : src[j++]
        if ((k & (YIELD_EVERY - 1)) === 0) yield
      }
      while (i < mid) dst[k++] = src[i++]
      while (j < hi) dst[k++] = src[j++]
    }
    ;[src, dst] = [dst, src]
  }
  return src
}
