// Per-tenant bound on expensive reads (dashboards, metrics, live recomputation): each tenant gets
// a few computations at a time and a short queue, so one tenant's burst waits behind itself
// instead of filling the engine and the event loop that every other tenant shares.
//
// A bound on how many run at once is not enough on its own: much of a dashboard's cost is
// JavaScript on the one event loop and engine threads on the few cores, and a tenant keeping
// several reads in flight would keep both busy all the time. So while a tenant has more reads
// running or waiting, a slot stays taken for `cooldown` times as long as its read took, after the
// answer has gone: such a tenant's reads get at most concurrency ÷ (1 + cooldown) of the time.
import { setTimeout as sleep } from 'node:timers/promises'
import PQueue from 'p-queue'
import { HttpError } from '../../common/errors.ts'

export interface TenantQueuesOptions {
  /** Computations of one tenant running at once. */
  concurrency?: number
  /** Requests of one tenant waiting beyond those; past it an HTTP read is answered 429. */
  maxQueued?: number
  /** A slot is held this many times the read's duration after it (0: released at once). */
  cooldown?: number
}

export const DEFAULT_TENANT_CONCURRENCY = 2
export const DEFAULT_TENANT_QUEUE = 16
export const DEFAULT_COOLDOWN = 3

/** More than one read of the tenant running or waiting: the tenant is busy, and its reads are paced. */
const hasBacklog = (queue: PQueue) => queue.size + queue.pending > 1

export function createTenantQueues(options: TenantQueuesOptions = {}) {
  const concurrency = options.concurrency ?? DEFAULT_TENANT_CONCURRENCY
  const maxQueued = options.maxQueued ?? DEFAULT_TENANT_QUEUE
  const cooldown = options.cooldown ?? DEFAULT_COOLDOWN
  const queues = new Map<string, PQueue>()

  function enqueue<T>(tenant: string, task: () => Promise<T>, hold: number): Promise<T> {
    let queue = queues.get(tenant)
    if (!queue) queues.set(tenant, (queue = new PQueue({ concurrency })))
    const q = queue
    return new Promise<T>((resolve, reject) => {
      const slot = async () => {
        const start = performance.now()
        const outcome = await task().then(
          (value) => () => resolve(value),
          (err: unknown) => () => reject(err),
        )
        // Only a tenant with more reads running or waiting is held back: a client asking one thing
        // at a time (a dashboard page) never waits behind its own cooldown, however busy the app is.
        // Decided before the answer goes out, so that client's next read is not counted.
        const backlog = hasBacklog(q)
        outcome()
        if (hold > 0 && backlog) await sleep(hold * (performance.now() - start))
      }
      void q.add(slot).finally(() => {
        // An idle tenant keeps no queue: the map grows with busy tenants only.
        if (q.size === 0 && q.pending === 0 && queues.get(tenant) === q) queues.delete(tenant)
      })
    })
  }

  return {
    concurrency,
    maxQueued,
    /** An HTTP read: runs in the tenant's turn, or is refused with 429 when its queue is full. */
    run<T>(tenant: string, task: () => Promise<T>): Promise<T> {
      const queue = queues.get(tenant)
      if (queue && queue.size >= maxQueued) {
        const inFlight = `${concurrency} running, ${maxQueued} waiting`
        const message = `too many expensive reads in flight for this tenant (${inFlight}); retry shortly`
        return Promise.reject(new HttpError(429, 'too_many_requests', message))
      }
      return enqueue(tenant, task, cooldown)
    },
    /**
     * A live recomputation: waits its turn, never refused (its count is bounded by the topic caps),
     * and holds no cooldown: the live publisher paces a tenant's recomputations itself.
     */
    wait: <T>(tenant: string, task: () => Promise<T>): Promise<T> => enqueue(tenant, task, 0),
    /** Whether the tenant has more than one expensive read running or waiting. */
    busy: (tenant: string) => {
      const queue = queues.get(tenant)
      return queue !== undefined && hasBacklog(queue)
    },
    stats: () => ({ tenants: queues.size, waiting: [...queues.values()].reduce((n, q) => n + q.size, 0) }),
  }
}

export type TenantQueues = ReturnType<typeof createTenantQueues>
