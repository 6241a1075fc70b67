// Connectors and their state in a NATS KV bucket, next to the tenants: the config (credentials
// sealed, see crypto.ts) under `c.<tenant>.<id>`, and the cursor and status under `s.<tenant>.<id>`,
// written after each sync so an incremental sync after a restart starts from the saved cursor.
import type { KV } from '@nats-io/kv'
import type { NatsConnection } from '@nats-io/transport-node'
import { openKv, type ReplicasOption } from '../../common/jetstream-replicas.ts'
import type { ConnectorType } from './types.ts'

export interface ConnectorRecord {
  id: string
  tenant: string
  type: ConnectorType
  every_seconds: number
  created_at: string
  /** The config, sealed with AES-256-GCM; never leaves the process in the clear. */
  sealed_config: string
}

export interface ConnectorState {
  cursor?: unknown
  last_attempt_at?: string
  last_success_at?: string
  last_error?: string | null
  events_produced: number
  duplicates: number
  dead_letters: number
  pages: number
  syncs: number
}

export const emptyState = (): ConnectorState => ({
  events_produced: 0,
  duplicates: 0,
  dead_letters: 0,
  pages: 0,
  syncs: 0,
})

export async function openConnectorStore(nc: NatsConnection, options: ReplicasOption = {}) {
  const kv: KV = await openKv(nc, 'pulse_connectors', { history: 1 }, options.replicas)

  async function getJson<T>(key: string): Promise<T | undefined> {
    const entry = await kv.get(key)
    return entry && entry.operation === 'PUT' ? entry.json<T>() : undefined
  }

  return {
    put: async (record: ConnectorRecord) =>
      void (await kv.put(`c.${record.tenant}.${record.id}`, JSON.stringify(record))),
    get: (tenant: string, id: string) => getJson<ConnectorRecord>(`c.${tenant}.${id}`),
    async list(): Promise<ConnectorRecord[]> {
      const out: ConnectorRecord[] = []
      for await (const key of await kv.keys('c.>')) {
        const record = await getJson<ConnectorRecord>(key)
        if (record) out.push(record)
      }
      return out
    },
    async remove(tenant: string, id: string): Promise<void> {
      await kv.purge(`c.${tenant}.${id}`)
      await kv.purge(`s.${tenant}.${id}`)
    },
    getState: async (tenant: string, id: string) =>
      (await getJson<ConnectorState>(`s.${tenant}.${id}`)) ?? emptyState(),
    putState: async (tenant: string, id: string, state: ConnectorState) =>
      void (await kv.put(`s.${tenant}.${id}`, JSON.stringify(state))),
  }
}

export type ConnectorStore = Awaited<ReturnType<typeof openConnectorStore>>
