// Pending webhook deliveries, kept in NATS KV (`pulse_alert_outbox`, key `<tenant>.<delivery_id>`)
// from the moment an alert change is decided until the delivery succeeds or is given up, so a
// restart resends what was still owed. The signature is stored, not the rule's secret.
import type { KV } from '@nats-io/kv'
import type { NatsConnection } from '@nats-io/transport-node'
import { openKv, type ReplicasOption } from '../common/jetstream-replicas.ts'

export interface PendingDelivery {
  tenant: string
  delivery_id: string
  alert_id: string
  rule_id: string
  state: string
  url: string
  /** The exact bytes to send, and their `X-Pulse-Signature`. */
  body: string
  signature: string
  /** The number of the next attempt (1 for the first). */
  attempt: number
}

/** What the sender writes through. */
export interface Outbox {
  put(p: PendingDelivery): Promise<void>
  remove(p: PendingDelivery): Promise<void>
  list(): Promise<PendingDelivery[]>
}

const keyOf = (p: Pick<PendingDelivery, 'tenant' | 'delivery_id'>) => `${p.tenant}.${p.delivery_id}`

export async function openOutbox(nc: NatsConnection, options: ReplicasOption = {}): Promise<Outbox> {
  const kv: KV = await openKv(nc, 'pulse_alert_outbox', { history: 1 }, options.replicas)
  return {
    put: async (p) => void (await kv.put(keyOf(p), JSON.stringify(p))),
    remove: async (p) => void (await kv.delete(keyOf(p))),
    /** Meant for the start, before any send: a listing that meets puts may list a key twice or miss it. */
    async list() {
      // A key put again while the listing runs can be listed twice.
      const keys = new Set<string>()
      for await (const key of await kv.keys()) keys.add(key)
      const out: PendingDelivery[] = []
      for (const key of keys) {
        const entry = await kv.get(key)
        if (entry && entry.operation === 'PUT') out.push(entry.json<PendingDelivery>())
      }
      return out
    },
  }
}
