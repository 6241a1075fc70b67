// Pending webhook deliveries, kept in NATS KV (`pulse_alert_outbox`, key `<tenant>.<delivery_id>`)
// from the moment an alert change is decided until the delivery succeeds or is given up, so a
// restart resends what was still owed. The signature is stored, not the rule's secret.
import { type KV, Kvm } from '@nats-io/kv'
import type { NatsConnection } from '@nats-io/transport-node'

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
  /** When the next attempt is due (epoch ms). */
  due_at: number
}

/** The seam the sender writes through (tests use an in-memory one). */
export interface Outbox {
  put(p: PendingDelivery): Promise<void>
  remove(p: PendingDelivery): Promise<void>
  list(): Promise<PendingDelivery[]>
}

const keyOf = (p: Pick<PendingDelivery, 'tenant' | 'delivery_id'>) => `${p.tenant}.${p.delivery_id}`

export async function openOutbox(nc: NatsConnection): Promise<Outbox> {
  const kv: KV = await new Kvm(nc).create('pulse_alert_outbox', { history: 1 })
  return {
    put: async (p) => void (await kv.put(keyOf(p), JSON.stringify(p))),
    remove: async (p) => void (await kv.delete(keyOf(p))),
    async list() {
      const out: PendingDelivery[] = []
      for await (const key of await kv.keys()) {
        const entry = await kv.get(key)
        if (entry && entry.operation === 'PUT') out.push(entry.json<PendingDelivery>())
      }
      return out
    },
  }
}

export function memoryOutbox(): Outbox & { items: Map<string, PendingDelivery> } {
  const items = new Map<string, PendingDelivery>()
  return {
    items,
    put: async (p) => void items.set(keyOf(p), { ...p }),
    remove: async (p) => void items.delete(keyOf(p)),
    list: async () => [...items.values()].map((p) => ({ ...p })),
  }
}
