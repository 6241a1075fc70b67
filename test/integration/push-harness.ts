// Helpers of the live-push tests: a second hub process (app/hub.ts) against the app's NATS, raw
// WebSocket clients that can stop reading, and the hubs' own statistics.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import WebSocket from 'ws'
import { ADMIN_TOKEN, type App, type ServerProcess, liveUrl, newDataDir, spawnServer } from './harness.ts'

export { type Client, openLive } from './harness.ts'

export const SECRET_KEY = 'test-secret-key-0123456789-0123456789-abcdef'

/** The embedded nats-server the app started (its port is kept in DATA_DIR). */
export function natsUrlOf(app: App): string {
  const { port } = JSON.parse(readFileSync(join(app.dataDir, 'nats', 'server.json'), 'utf8')) as { port: number }
  return `nats://127.0.0.1:${port}`
}

export type HubProcess = ServerProcess

/** Starts `app/hub.ts`: a hub alone, serving /v1/live from the given NATS. */
export function startHub(natsUrl: string, env: Record<string, string> = {}): Promise<HubProcess> {
  return spawnServer(
    'app/hub.ts',
    { NATS_URL: natsUrl, PORT: '0', SECRET_KEY, ADMIN_TOKEN, DATA_DIR: newDataDir(), ...env },
    /Pulse hub is running at (http:\/\/[^\s"]+)/,
    'hub',
    60_000,
  )
}

/** The HTTP status of a WebSocket upgrade (101 when accepted). */
export function upgradeStatusOf(baseUrl: string, auth: { key?: string; token?: string }): Promise<number> {
  return new Promise((resolveStatus, reject) => {
    const ws = new WebSocket(liveUrl(baseUrl, auth.token), {
      headers: auth.key ? { authorization: `Bearer ${auth.key}` } : {},
    })
    ws.once('unexpected-response', (_req, res) => {
      resolveStatus(res.statusCode ?? 0)
      ws.terminate()
    })
    ws.once('open', () => {
      resolveStatus(101)
      ws.close()
    })
    ws.once('error', reject)
  })
}

export async function liveToken(baseUrl: string, key: string): Promise<{ token: string; expires_at: string }> {
  const res = await fetch(`${baseUrl}/v1/live/token`, { method: 'POST', headers: { authorization: `Bearer ${key}` } })
  if (res.status !== 200) throw new Error(`token refused: ${res.status} ${await res.text()}`)
  return (await res.json()) as { token: string; expires_at: string }
}

export interface HubStats {
  clients: number
  subscriptions: number
  slow_clients: number
  held_messages: number
  buffered_bytes: number
  max_client_buffered_bytes: number
  delivered: number
  coalesced: number
  cut_off: number
  dead_dropped: number
  rss_bytes: number
}

export async function hubStats(baseUrl: string): Promise<HubStats> {
  const res = await fetch(`${baseUrl}/v1/admin/live`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  if (res.status !== 200) throw new Error(`stats: ${res.status} ${await res.text()}`)
  return ((await res.json()) as { hub: HubStats }).hub
}

/** An order.created of one line, for the live tests: `total` is its subtotal, its line's price. */
export function liveOrder(id: string, total: string, over: Record<string, unknown> = {}) {
  return {
    id: `e-${id}`,
    type: 'order.created',
    ts: Date.now(),
    source: 'shopify',
    order_id: id,
    total,
    subtotal: total,
    items: [{ sku: 's', quantity: 1, price: total }],
    channel: 'organic',
    ...over,
  }
}

export function rssOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'))!
  return Number(line.replace(/\D+/g, '')) * 1024
}
