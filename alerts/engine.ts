// Runs the rules. Rules about what happened are evaluated when the tenant's state changes (the
// consumer's change signal), over windows ending at the tenant's newest event time, so replayed
// or back-dated streams alert where their events lie, not where the wall clock is. Rules about an
// absence (no orders, a connector gone quiet) cannot wait for an event: a timer runs them against
// the wall clock. Figures come from the metrics reader: history + live deltas under its read
// lock, the same numbers the KPI routes answer. Evaluations of one tenant never overlap, and
// change signals arriving during one are folded into a single follow-up run.
import { randomUUID } from 'node:crypto'
import { currencyDigits } from '../common/money.ts'
import type { MetricsReader, TenantRef } from '../clickhouse/index.ts'
import { type Dimension, MINUTE, type Measures, addMeasures, get, minuteOf, sumRows, zeroMeasures } from '../stream/index.ts'
import { type ConnectorFacts, type Observation, type WindowRef, campaignRoas, connectorFailing, gmvStall, marginFloor, refundSurge, spendSpike } from './evaluate.ts'
import { type Rule, TIMER_KINDS } from './rules.ts'
import { type AlertState, step } from './state.ts'
import type { AlertLog, AlertRecord, RuleStore } from './store.ts'
import type { WebhookSender } from './webhooks.ts'

const DAY = 86_400_000

export interface AlertEngineOptions {
  rules: RuleStore
  alertLog: AlertLog
  webhooks: WebhookSender
  tenantOf: (id: string) => Promise<TenantRef>
  measureRows: MetricsReader['measureRows']
  /** The tenant's newest event time (any source), or undefined before its first event. */
  newestEventAt: (tenant: string) => number | undefined
  connectorsOf?: (tenant: string) => Promise<ConnectorFacts[]>
  /** Told after every alert change (the live publisher recomputes the `alerts` topic). */
  notify?: (tenant: string) => void
  now?: () => number
  log?: (line: string) => void
  timerMs?: number
  /** Wait after the first change signal of a quiet spell, so a burst is evaluated once. */
  debounceMs?: number
  /** Least time between the starts of two evaluations of one tenant (bounds the read load under steady traffic). */
  minGapMs?: number
}

interface Tracked extends AlertState {
  rule: Rule
  subject: string
}

export interface FiringAlert {
  alert_id: string
  rule_id: string
  name: string | null
  kind: string
  subject: string
  severity: string
  state: 'firing'
  at: string
  message: string
  figures: Record<string, string | number | null>
}

export function createAlertEngine(options: AlertEngineOptions) {
  const { rules, alertLog, webhooks, measureRows } = options
  const now = options.now ?? Date.now
  const log = options.log ?? (() => {})
  const debounceMs = options.debounceMs ?? 25
  const minGapMs = options.minGapMs ?? 1000
  const lastStart = new Map<string, number>()
  const states = new Map<string, Map<string, Tracked>>()
  const known = new Set<string>()
  const running = new Map<string, Promise<void>>()
  const pending = new Map<string, Set<'change' | 'timer'>>()
  const timers = new Map<string, NodeJS.Timeout>()
  let ticker: NodeJS.Timeout | undefined
  let stopped = false

  const total = (rows: { values: Measures }[]): Measures => {
    const m = zeroMeasures()
    for (const r of rows) addMeasures(m, r.values)
    return m
  }
  const window = async (tenant: TenantRef, from: number, to: number, where?: Partial<Record<Dimension, string>>) => total(await measureRows(tenant, { from, to, groupBy: [], where }))
  /** The same window on each of the previous `days` days, oldest first: one read by the minute, summed here. */
  async function previousDays(tenant: TenantRef, from: number, to: number, days: number, where?: Partial<Record<Dimension, string>>): Promise<Measures[]> {
    const out = Array.from({ length: days }, () => zeroMeasures())
    for (const row of await measureRows(tenant, { from: from - days * DAY, to: to - DAY, interval: '1m', groupBy: [], where })) {
      const minute = Number(row.bin) * 1000
      for (let i = 0; i < days; i++) {
        const shift = (days - i) * DAY
        if (minute >= minuteOf(from - shift) && minute < to - shift) addMeasures(out[i], row.values)
      }
    }
    return out
  }

  /** Observations of one rule for windows ending at `to`. */
  async function observe(rule: Rule, tenant: TenantRef, to: number): Promise<Observation[]> {
    const from = to - rule.window_minutes * MINUTE
    const w: WindowRef = { from, to, digits: currencyDigits(tenant.currency) }
    switch (rule.kind) {
      case 'margin_floor':
        return [marginFloor(rule, await window(tenant, from, to), w)]
      case 'refund_surge':
        return [refundSurge(rule, await window(tenant, from, to), w)]
      case 'spend_spike': {
        // Ad spend rows carry the platform as their channel.
        const where: Partial<Record<Dimension, string>> = { ...(rule.channel ? { channel: rule.channel } : {}), ...(rule.campaign_id ? { campaign_id: rule.campaign_id } : {}) }
        const current = await window(tenant, from, to, where)
        const previous = await previousDays(tenant, from, to, rule.baseline_days, where)
        return [spendSpike(rule, get(current, 'ad_spend'), previous.map((m) => get(m, 'ad_spend')), w)]
      }
      case 'campaign_roas':
        return campaignRoas(rule, sumRows(await measureRows(tenant, { from, to, groupBy: ['campaign_id'] }), (r) => r.campaign_id ?? ''), w)
      case 'gmv_stall': {
        const current = await window(tenant, from, to)
        const previous = await previousDays(tenant, from, to, rule.baseline_days)
        return [gmvStall(rule, get(current, 'orders'), previous.map((m) => get(m, 'orders')), w)]
      }
      case 'connector_failing':
        return options.connectorsOf ? connectorFailing(rule, await options.connectorsOf(tenant.id)) : []
    }
  }

  function tracked(tenant: string): Map<string, Tracked> {
    let m = states.get(tenant)
    if (!m) states.set(tenant, (m = new Map()))
    return m
  }

  async function evaluate(tenantId: string, mode: 'change' | 'timer'): Promise<void> {
    const all = await rules.list(tenantId)
    const mine = tracked(tenantId)
    const ruleIds = new Set(all.map((r) => r.id))
    let dropped = false
    // A deleted or disabled rule takes its alerts with it.
    for (const [key, t] of mine) if (!ruleIds.has(t.rule.id) || !all.find((r) => r.id === t.rule.id)?.enabled) dropped = mine.delete(key) || dropped
    const active = all.filter((r) => r.enabled && TIMER_KINDS.has(r.kind) === (mode === 'timer'))
    const newest = options.newestEventAt(tenantId)
    if (active.length === 0 || (mode === 'change' && newest === undefined)) {
      if (dropped) options.notify?.(tenantId)
      return
    }
    const tenant = await options.tenantOf(tenantId)
    // Whole minutes, the reader's resolution: the window ends after the newest event's minute.
    const to = mode === 'change' ? minuteOf(newest!) + MINUTE : now()
    const changes: { record: AlertRecord; rule: Rule }[] = []
    for (const rule of active) {
      const observations = await observe(rule, tenant, to)
      const seen = new Set<string>()
      for (const obs of observations) {
        seen.add(obs.subject)
        apply(rule, obs, to)
      }
      // A subject that left the window (a campaign with no spend in it any more) has recovered.
      for (const t of [...mine.values()]) if (t.rule.id === rule.id && t.status === 'firing' && !seen.has(t.subject)) apply(rule, { subject: t.subject, breached: false, cleared: true, figures: t.figures ?? {}, message: `${t.message ?? ''} (no longer in the window)` }, to)
    }

    function apply(rule: Rule, obs: Observation, at: number) {
      const key = `${rule.id}\u0000${obs.subject}`
      const prev = mine.get(key)
      const s = step(prev, obs, at, rule.cooldown_minutes * MINUTE, randomUUID)
      mine.set(key, { ...s.next, rule, subject: obs.subject })
      if (!s.change) return
      changes.push({
        rule,
        record: {
          alert_id: s.next.alertId!, rule_id: rule.id, kind: rule.kind, subject: obs.subject, severity: rule.severity, state: s.change,
          at: new Date(at).toISOString(), fired_at: new Date(s.next.firedAt ?? at).toISOString(), recorded_at: new Date(now()).toISOString(),
          message: obs.message, figures: obs.figures,
        },
      })
    }

    if (changes.length === 0) {
      if (dropped) options.notify?.(tenantId)
      return
    }
    options.notify?.(tenantId)
    for (const { rule, record } of changes) {
      log(`alerts: ${tenantId} ${record.rule_id}${record.subject ? `/${record.subject}` : ''} ${record.state}: ${record.message}`)
      if (rule.webhook) webhooks.send(tenantId, rule.webhook, { tenant: tenantId, rule: { id: rule.id, name: rule.name ?? null, kind: rule.kind }, alert: record }, { alert_id: record.alert_id, rule_id: rule.id, state: record.state })
    }
    await alertLog.append(tenantId, changes.map((c) => c.record))
  }

  function run(tenant: string): void {
    if (running.has(tenant) || stopped) return
    const modes = pending.get(tenant)
    if (!modes || modes.size === 0) return
    pending.delete(tenant)
    lastStart.set(tenant, Date.now())
    const work = (async () => {
      for (const mode of modes) await evaluate(tenant, mode).catch((err) => log(`alerts: evaluating ${tenant} (${mode}) failed: ${(err as Error).stack ?? err}`))
    })()
    running.set(tenant, work)
    void work.finally(() => {
      running.delete(tenant)
      if (pending.get(tenant)?.size) arm(tenant, Math.max(0, (lastStart.get(tenant) ?? 0) + minGapMs - Date.now()))
    })
  }

  function schedule(tenant: string, mode: 'change' | 'timer', delayMs: number): void {
    if (stopped) return
    known.add(tenant)
    let modes = pending.get(tenant)
    if (!modes) pending.set(tenant, (modes = new Set()))
    modes.add(mode)
    // A run in progress re-arms itself when it ends.
    if (!running.has(tenant)) arm(tenant, Math.max(delayMs, (lastStart.get(tenant) ?? 0) + minGapMs - Date.now()))
  }

  function arm(tenant: string, delayMs: number): void {
    if (timers.has(tenant) || stopped) return
    timers.set(tenant, setTimeout(() => (timers.delete(tenant), run(tenant)), delayMs))
  }

  return {
    /** Restores firing alerts from the log and starts the absence timer. */
    async start(): Promise<void> {
      for (const r of await alertLog.firing()) {
        const rule = (await rules.list(r.tenant)).find((x) => x.id === r.rule_id)
        if (!rule) continue
        known.add(r.tenant)
        tracked(r.tenant).set(`${r.rule_id}\u0000${r.subject}`, { status: 'firing', alertId: r.alert_id, firedAt: Date.parse(r.fired_at), figures: r.figures, message: r.message, rule, subject: r.subject })
      }
      for (const t of await rules.tenants()) known.add(t)
      const timerMs = options.timerMs ?? 30_000
      ticker = setInterval(() => {
        for (const t of known) schedule(t, 'timer', 0)
      }, timerMs)
      ticker.unref()
    },
    /** The change signal: the tenant's state changed. */
    changed(tenant: string): void {
      schedule(tenant, 'change', debounceMs)
    },
    /** Runs both kinds of rules now (a rule was created or changed). */
    evaluateNow(tenant: string): void {
      schedule(tenant, 'change', 0)
      schedule(tenant, 'timer', 0)
    },
    /** Firing alerts of a tenant, newest first: the `alerts` live topic. */
    firing(tenant: string): FiringAlert[] {
      const out: FiringAlert[] = []
      for (const t of states.get(tenant)?.values() ?? []) {
        if (t.status !== 'firing') continue
        out.push({ alert_id: t.alertId!, rule_id: t.rule.id, name: t.rule.name ?? null, kind: t.rule.kind, subject: t.subject, severity: t.rule.severity, state: 'firing', at: new Date(t.firedAt!).toISOString(), message: t.message ?? '', figures: t.figures ?? {} })
      }
      return out.sort((a, b) => (a.at > b.at ? -1 : a.at < b.at ? 1 : a.alert_id < b.alert_id ? -1 : 1))
    },
    /** Waits for running evaluations (tests, shutdown). */
    async idle(): Promise<void> {
      await Promise.all(running.values())
    },
    async stop(): Promise<void> {
      stopped = true
      if (ticker) clearInterval(ticker)
      for (const t of timers.values()) clearTimeout(t)
      timers.clear()
      await Promise.all(running.values())
      webhooks.stop()
    },
  }
}

export type AlertEngine = ReturnType<typeof createAlertEngine>
