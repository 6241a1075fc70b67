// The stream's worker threads of one process (STREAM_WORKERS, docs/cluster.md). Each thread is a
// node of its own: `startPulse` with role `worker` and node id `<NODE_ID>-w<i>`, taking its share of
// the partitions by lease and answering their tenants' requests over NATS exactly as another
// process would (app/forward.ts), so threads and processes are one protocol. The main thread keeps
// HTTP and WebSocket. What the main thread asks of its own threads (their Prometheus metrics and
// flush health, for /metrics and /healthz) goes over the thread's message port.
//
// A thread that ends on its own (a lease lost while paused ends it with code 75, or a crash) is
// started again after a back-off: it rejoins as its process would.
import { Worker } from 'node:worker_threads'
import type { MetricObjectWithValues, MetricValue } from 'prom-client'
import type { Log } from '../common/log.ts'
import type { Config } from './config.ts'

/** What a worker thread answers when asked. */
export interface WorkerAnswers {
  metrics: MetricObjectWithValues<MetricValue<string>>[]
  flushHealth: { pendingSince?: number; lastError?: string }
  /** What the thread loaded at its start: partitions, snapshots, events replayed. */
  loads: { partitions: number; snapshots: number; replayed: number }
}

/** Messages from the main thread to a worker. */
export type ToWorker = { type: 'stop' } | { type: 'ask'; id: number; what: keyof WorkerAnswers }
/** Messages from a worker to the main thread. */
export type FromWorker =
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  | { type: 'answer'; id: number; value: unknown }
  | { type: 'stopped' }

export interface WorkerData {
  config: Config
  /** The node ids of the process's other worker threads. */
  peers: string[]
}

const RESTART_FIRST_MS = 500
const ASK_TIMEOUT_MS = 10_000
const RESTART_MAX_MS = 30_000

export interface StreamWorkers {
  /** Resolves once every thread has started (loaded its partitions); rejects if one could not. */
  ready: Promise<void>
  /** Each running thread's answer. */
  ask<K extends keyof WorkerAnswers>(what: K): Promise<WorkerAnswers[K][]>
  /** Stops every thread: each lands and acks what it applied, then hands its partitions back. */
  stop(): Promise<void>
}

export function startStreamWorkers(options: { count: number; config: Config; log: Log }): StreamWorkers {
  const { log } = options
  let stopping = false
  let nextAsk = 0
  /** Asks not answered yet: a thread that ends answers its own with undefined. */
  const pending = new Map<number, { slot: number; resolve: (value: unknown) => void }>()

  interface Slot {
    index: number
    worker?: Worker
    restartMs: number
    stopped?: () => void
  }
  const idOf = (index: number) => `${options.config.nodeId}-w${index}`
  const slots: Slot[] = Array.from({ length: options.count }, (_, index) => ({ index, restartMs: RESTART_FIRST_MS }))

  interface Start {
    resolve(): void
    reject(err: Error): void
    done: boolean
  }
  const spawn = (slot: Slot, started?: Start) => {
    const data: WorkerData = {
      config: { ...options.config, role: 'worker', streamWorkers: 0, nodeId: idOf(slot.index) },
      peers: slots.filter((s) => s !== slot).map((s) => idOf(s.index)),
    }
    // The thread runs TypeScript as the main thread does, whatever started this one (npm start, vitest).
    const worker = new Worker(new URL('./worker-entry.mjs', import.meta.url), { workerData: data, execArgv: [] })
    slot.worker = worker
    worker.on('message', (msg: FromWorker) => {
      if (msg.type === 'ready') {
        slot.restartMs = RESTART_FIRST_MS
        started?.resolve()
      } else if (msg.type === 'failed') started?.reject(new Error(`stream worker ${slot.index}: ${msg.message}`))
      else if (msg.type === 'answer') {
        pending.get(msg.id)?.resolve(msg.value)
        pending.delete(msg.id)
      } else if (msg.type === 'stopped') slot.stopped?.()
    })
    worker.on('error', (err) => log.error({ err, worker: slot.index }, 'stream worker failed'))
    worker.on('exit', (code) => {
      slot.worker = undefined
      slot.stopped?.()
      for (const [id, ask] of pending)
        if (ask.slot === slot.index) {
          ask.resolve(undefined)
          pending.delete(id)
        }
      if (stopping) return
      if (started && !started.done)
        return started.reject(new Error(`stream worker ${slot.index} ended (code ${code}) while starting`))
      log.error({ worker: slot.index, code, restart_in_ms: slot.restartMs }, 'stream worker ended: starting it again')
      setTimeout(() => !stopping && spawn(slot), slot.restartMs).unref()
      slot.restartMs = Math.min(slot.restartMs * 2, RESTART_MAX_MS)
    })
  }

  const ready = Promise.all(
    slots.map(
      (slot) =>
        new Promise<void>((resolve, reject) => {
          const started: Start = {
            resolve: () => ((started.done = true), resolve()),
            reject: (err) => ((started.done = true), reject(err)),
            done: false,
          }
          spawn(slot, started)
        }),
    ),
  ).then(() => {})
  ready.catch(() => {}) // awaited by the caller, later: not an unhandled rejection meanwhile

  return {
    ready,
    async ask(what) {
      const running = slots.filter((s) => s.worker)
      const answers = await Promise.all(
        running.map(
          (slot) =>
            new Promise<unknown>((resolve) => {
              const id = nextAsk++
              // A thread too busy to answer in time is left out of this answer, never waited for.
              const timer = setTimeout(() => {
                pending.delete(id)
                log.warn({ worker: slot.index, what }, 'stream worker did not answer in time')
                resolve(undefined)
              }, ASK_TIMEOUT_MS)
              const done = (value: unknown) => (clearTimeout(timer), resolve(value))
              pending.set(id, { slot: slot.index, resolve: done })
              slot.worker!.postMessage({ type: 'ask', id, what } satisfies ToWorker)
            }),
        ),
      )
      return answers.filter((a) => a !== undefined) as never
    },
    async stop() {
      stopping = true
      await Promise.all(
        slots.map(
          (slot) =>
            new Promise<void>((resolve) => {
              if (!slot.worker) return resolve()
              slot.stopped = resolve
              slot.worker.postMessage({ type: 'stop' } satisfies ToWorker)
            }),
        ),
      )
      await Promise.all(slots.map((slot) => slot.worker?.terminate()))
    },
  }
}
