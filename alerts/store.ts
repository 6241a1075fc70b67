// Where alerting keeps things: rules per tenant in NATS KV (`pulse_alerts`, key `rules.<tenant>`,
// the whole list as one value so a change is one atomic put), and the alert and delivery logs in
// ClickHouse (migration 005_alerts.sql).
import type { ClickHouseClient } from '@clickhouse/client'
import type { KV } from '@nats-io/kv'
import type { NatsConnection } from '@nats-io/transport-node'
import { rows } from '../clickhouse/index.ts'
import { openKv, type ReplicasOption } from '../common/jetstream-replicas.ts'
import type { Figures } from './evaluate.ts'
import { type Rule, defaultRules, ruleInput } from './rules.ts'
import type { AlertStatus } from './state.ts'

const utc = (ms: number) => new Date(ms).toISOString().slice(0, 23).replace('T', ' ')

export interface AlertRecord {
  alert_id: string
  rule_id: string
  kind: string
  subject: string
  severity: string
  state: AlertStatus
  /** When the state changed: event time for rules evaluated on change, wall clock for timer rules. */
  at: string
  fired_at: string
  recorded_at: string
  message: string
  figures: Figures
}

export interface DeliveryRecord {
  delivery_id: string
  alert_id: string
  rule_id: string
  state: string
  url: string
  attempt: number
  /** HTTP status; 0 when no answer came (network error, timeout). */
  status: number
  ok: boolean
  error: string
  at: string
}

const DEFAULTS = defaultRules()

export async function openRuleStore(nc: NatsConnection, options: ReplicasOption = {}) {
  const kv: KV = await openKv(nc, 'pulse_alerts', { history: 1 }, options.replicas)
  const cache = new Map<string, Rule[]>()
  const loading = new Map<string, Promise<Rule[]>>()
  const updating = new Map<string, Promise<void>>()
  let preloaded = false

  async function read(tenant: string): Promise<Rule[]> {
    const entry = await kv.get(`rules.${tenant}`)
    return entry && entry.operation === 'PUT'
      ? entry.json<unknown[]>().map((r) => ruleInput.parse(r) as Rule)
      : defaultRules()
  }

  function list(tenant: string): Promise<Rule[]> {
    const hit = cache.get(tenant)
    if (hit) return Promise.resolve(hit)
    let load = loading.get(tenant)
    if (!load) {
      load = read(tenant)
        .then((stored) => {
          // The server may answer this read after the ack of a put sent later: a list saved
          // meanwhile is newer, keep it.
          if (!cache.has(tenant)) cache.set(tenant, stored)
          return cache.get(tenant)!
        })
        .finally(() => loading.delete(tenant))
      loading.set(tenant, load)
    }
    return load
  }

  return {
    /** Loads every stored list, so `peek` answers for any tenant (call once at start, before the replay). */
    async preload(): Promise<void> {
      for await (const key of await kv.keys('rules.>')) await list(key.slice('rules.'.length))
      preloaded = true
    },
    /** The tenant's rules without I/O (after `preload`: a tenant with none stored has the defaults). */
    peek(tenant: string): Rule[] {
      const hit = cache.get(tenant)
      if (hit) return hit
      if (!preloaded) throw new Error('rule store: peek before preload')
      return DEFAULTS
    },
    /** The tenant's rules; the defaults until the tenant changes any. */
    list,
    /**
     * Replaces the tenant's list with `edit(current)`. Changes of one tenant run one after another,
     * each on the list the previous one left, so two requests at once never lose either; an edit
     * that throws changes nothing.
     */
    async update(tenant: string, edit: (current: readonly Rule[]) => Rule[]): Promise<void> {
      const change = (updating.get(tenant) ?? Promise.resolve())
        .catch(() => {})
        .then(async () => {
          const next = edit(await list(tenant))
          await kv.put(`rules.${tenant}`, JSON.stringify(next))
          cache.set(tenant, next)
        })
      updating.set(tenant, change)
      try {
        await change
      } finally {
        if (updating.get(tenant) === change) updating.delete(tenant)
      }
    },
    /** Tenants that stored rules of their own. */
    async tenants(): Promise<string[]> {
      const out: string[] = []
      for await (const key of await kv.keys('rules.>')) out.push(key.slice('rules.'.length))
      return out
    },
  }
}

export type RuleStore = Awaited<ReturnType<typeof openRuleStore>>

/** An alert change as read back from `pulse.alerts` (times selected as epoch milliseconds). */
function alertRecordOf(r: Record<string, string>): AlertRecord {
  return {
    alert_id: r.alert_id,
    rule_id: r.rule_id,
    kind: r.kind,
    subject: r.subject,
    severity: r.severity,
    state: r.state as AlertStatus,
    at: new Date(Number(r.at_ms)).toISOString(),
    fired_at: new Date(Number(r.fired_ms)).toISOString(),
    recorded_at: new Date(Number(r.recorded_ms)).toISOString(),
    message: r.message,
    figures: JSON.parse(r.figures) as Figures,
  }
}

export function createAlertLog(client: ClickHouseClient) {
  return {
    async append(tenant: string, records: AlertRecord[]): Promise<void> {
      if (records.length === 0) return
      await client.insert({
        table: 'pulse.alerts',
        format: 'JSONEachRow',
        values: records.map((r) => ({
          ...r,
          tenant,
          at: utc(Date.parse(r.at)),
          fired_at: utc(Date.parse(r.fired_at)),
          recorded_at: utc(Date.parse(r.recorded_at)),
          figures: JSON.stringify(r.figures),
        })),
      })
    },
    /** State changes, newest first. */
    async list(tenant: string, q: { state?: AlertStatus; rule_id?: string; limit: number }): Promise<AlertRecord[]> {
      const found = await rows<Record<string, string>>(
        client,
        `SELECT alert_id, rule_id, kind, subject, severity, state, toUnixTimestamp64Milli(at) AS at_ms,
                toUnixTimestamp64Milli(fired_at) AS fired_ms, toUnixTimestamp64Milli(recorded_at) AS recorded_ms,
                message, figures
         FROM pulse.alerts WHERE tenant = {tenant:String}${q.state ? ' AND state = {state:String}' : ''}
              ${q.rule_id ? ' AND rule_id = {rule:String}' : ''}
         ORDER BY recorded_at DESC, alert_id DESC, state ASC LIMIT {limit:UInt32}`,
        { tenant, state: q.state ?? '', rule: q.rule_id ?? '', limit: q.limit },
      )
      return found.map(alertRecordOf)
    },
    /**
     * The newest change of every (tenant, rule, subject): the state machine's memory after a
     * restart (a firing alert goes on; a resolved one keeps its cooldown).
     */
    async latest(): Promise<(AlertRecord & { tenant: string })[]> {
      const found = await rows<Record<string, string>>(
        client,
        `SELECT tenant, rule_id, subject, argMax(alert_id, recorded_at) AS alert_id,
                argMax(state, recorded_at) AS state, argMax(kind, recorded_at) AS kind,
                argMax(severity, recorded_at) AS severity,
                argMax(toUnixTimestamp64Milli(at), recorded_at) AS at_ms,
                argMax(toUnixTimestamp64Milli(fired_at), recorded_at) AS fired_ms,
                max(toUnixTimestamp64Milli(recorded_at)) AS recorded_ms, argMax(message, recorded_at) AS message,
                argMax(figures, recorded_at) AS figures
         FROM pulse.alerts GROUP BY tenant, rule_id, subject`,
      )
      return found.map((r) => ({ tenant: r.tenant, ...alertRecordOf(r) }))
    },
    async logDelivery(tenant: string, d: DeliveryRecord): Promise<void> {
      await client.insert({
        table: 'pulse.alert_deliveries',
        format: 'JSONEachRow',
        values: [{ ...d, tenant, ok: d.ok ? 1 : 0, at: utc(Date.parse(d.at)) }],
      })
    },
    async deliveries(tenant: string, limit: number): Promise<DeliveryRecord[]> {
      const found = await rows<Record<string, string>>(
        client,
        `SELECT delivery_id, alert_id, rule_id, state, url, attempt, status, ok, error,
                toUnixTimestamp64Milli(at) AS at_ms
         FROM pulse.alert_deliveries WHERE tenant = {tenant:String}
         ORDER BY at DESC, attempt DESC LIMIT {limit:UInt32}`,
        { tenant, limit },
      )
      return found.map((r) => ({
        delivery_id: r.delivery_id,
        alert_id: r.alert_id,
        rule_id: r.rule_id,
        state: r.state,
        url: r.url,
        attempt: Number(r.attempt),
        status: Number(r.status),
        ok: Number(r.ok) === 1,
        error: r.error,
        at: new Date(Number(r.at_ms)).toISOString(),
      }))
    },
  }
}

export type AlertLog = ReturnType<typeof createAlertLog>
