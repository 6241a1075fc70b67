// Runs beside the stream consumer: when a tenant's live state changes, recomputes each topic's
// data at most once per coalescing interval, and publishes it on NATS only when it changed.
// Hubs anywhere fan it out; they ask for snapshots on the request subject.
import type { NatsConnection } from '@nats-io/transport-node'
import { type LiveMessage, SNAPSHOT_WILDCARD, liveSubject, splitSubject } from './subjects.ts'

/** Computes a topic's current data for a tenant. */
export type TopicSource = (tenant: string) => Promise<unknown>

export interface LivePublisherOptions {
  nc: NatsConnection
  topics: Record<string, TopicSource>
  coalesceMs?: number
  log?: (line: string) => void
}

export function createLivePublisher(options: LivePublisherOptions) {
  const { nc, topics } = options
  const coalesceMs = options.coalesceMs ?? 250
  const log = options.log ?? (() => {})
  const last = new Map<string, { seq: number; json: string }>()
  const dirty = new Set<string>()
  const scheduled = new Map<string, NodeJS.Timeout>()

  async function publish(tenant: string): Promise<void> {
    for (const [topic, source] of Object.entries(topics)) {
      const key = `${tenant}|${topic}`
      const json = JSON.stringify(await source(tenant))
      const previous = last.get(key)
      if (previous?.json === json) continue
      const seq = (previous?.seq ?? 0) + 1
      last.set(key, { seq, json })
      nc.publish(liveSubject(tenant, topic), `{"seq":${seq},"data":${json}}`)
    }
  }

  function schedule(tenant: string): void {
    if (scheduled.has(tenant)) return
    scheduled.set(
      tenant,
      setTimeout(async () => {
        dirty.delete(tenant)
        try {
          await publish(tenant)
        } catch (err) {
          log(`live update for ${tenant} failed: ${(err as Error).message}`)
        }
        scheduled.delete(tenant)
        if (dirty.has(tenant)) schedule(tenant)
      }, coalesceMs),
    )
  }

  const snapshots = nc.subscribe(SNAPSHOT_WILDCARD, {
    callback: (_err, msg) => {
      const [tenant, topic] = splitSubject(msg.subject)
      const source = topics[topic]
      const answer = source ? source(tenant).then((data): LiveMessage => ({ seq: last.get(`${tenant}|${topic}`)?.seq ?? 0, data })) : Promise.reject(new Error(`unknown topic ${topic}`))
      answer.then(
        (reply) => msg.respond(JSON.stringify(reply)),
        (err: Error) => msg.respond(JSON.stringify({ error: err.message })),
      )
    },
  })

  return {
    /** The stream stage calls this on every applied event; work happens at most every coalesceMs. */
    changed(tenant: string): void {
      dirty.add(tenant)
      schedule(tenant)
    },
    topics: Object.keys(topics),
    stop(): void {
      snapshots.unsubscribe()
      for (const timer of scheduled.values()) clearTimeout(timer)
    },
  }
}

export type LivePublisher = ReturnType<typeof createLivePublisher>
