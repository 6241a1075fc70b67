// Runs the rules. Rules about what happened are evaluated when the tenant's state changes (the
// consumer's change signal), over windows ending at the tenant's newest event minute, so replayed
// or back-dated streams alert where their events lie, not where the wall clock is. Rules about an
// absence (no orders, a connector gone quiet) cannot wait for an event: a timer runs them against
// the wall clock. Figures come from the alerts' rolling aggregate (alerts/aggregate.ts), kept in
// memory from the stream's deltas: an evaluation reads no database, so it is cheap enough to run
// after every burst. Evaluations of one tenant never overlap, and change signals arriving during
// one are folded into a single follow-up run.
import { randomUUID } from 'node:crypto'
import { createCoalescer } from '../common/coalescer.ts'
import { type Log, silentLog } from '../common/log.ts'
import { currencyDigits } from '../common/money.ts'
import type { TenantRef } from '../tenants/index.ts'
import { type InventoryView, MINUTE, get, measureIndex, minuteOf, zeroMeasures } from '../stream/index.ts'
import type { AlertAggregate } from './aggregate.ts'
import {
  type ConnectorFacts,
  type Observation,
  type WindowRef,
  campaignRoas,
  connectorFailing,
  gmvStall,
  lowStock,
  marginFloor,
  refundSurge,
  spendSpike,
} from './evaluate.ts'
import { type Rule, TIMER_KINDS } from './rules.ts'
import { type AlertState, step } from './state.ts'
import type { AlertLog, AlertRecord, RuleStore } from './store.ts'
import type { WebhookSender } from './webhooks.ts'

const DAY = 86_400_000
/** How often a held evaluation looks at the backlog again. */
const HOLD_POLL_MS = 100

export interface AlertEngineOptions {
  rules: RuleStore
  alertLog: AlertLog
  webhooks: WebhookSender
  tenantOf: (id: string) => Promise<TenantRef>
  /** The rolling aggregate, fed by the stream consumer and the start-up replay. */
  aggregate: AlertAggregate
  connectorsOf?: (tenant: string) => Promise<ConnectorFacts[]>
  /** The inventory read model (the processor's, stream/inventory.ts) for `low_stock`; without it no SKU is known. */
  inventory?: InventoryReader
  /** Every tenant, for the timer rules (a tenant with a failing connector may have no event and no rule of its own). */
  allTenants?: () => Promise<string[]>
  /**
   * Whether this process owns the tenant's partition: only the owner evaluates a tenant and sends
   * its webhooks (default: every tenant).
   */
  owns?: (tenant: string) => boolean
  /** Told after every alert change (the live publisher recomputes the `alerts` topic). */
  notify?: (tenant: string) => void
  now?: () => number
  log?: Log
  timerMs?: number
  /** Wait after the first change signal of a quiet spell, so a burst is evaluated once. */
  debounceMs?: number
  /** Least time between the starts of two evaluations of one tenant (bounds the work under steady traffic). */
  minGapMs?: number
  /** Messages still queued for the stream consumer (its `backlog()`). */
  backlog?: () => number
  /** Evaluations wait while the backlog is over this (default 1,000)... */
  holdBacklog?: number
  /** ...but a tenant waits at most this long (default 60 s), so an overloaded consumer still alerts. */
  maxHoldMs?: number
}

/** What `low_stock` reads: each SKU's stock and sales over the 28 local days ending with the tenant's newest event day. */
export interface InventoryReader {
  inventory(tenant: string): InventoryView
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
  const { rules, alertLog, webhooks, aggregate } = options
  const now = options.now ?? Date.now
  const log = options.log ?? silentLog
  const owns = options.owns ?? (() => true)
  const debounceMs = options.debounceMs ?? 25
  const minGapMs = options.minGapMs ?? 250
  const holdBacklog = options.holdBacklog ?? 1_000
  const maxHoldMs = options.maxHoldMs ?? 60_000
  const holdingSince = new Map<string, number>()
  const evaluated = new Map<string, { change: number | null; timer: number | null; events: number }>()
  const states = new Map<string, Map<string, Tracked>>()
  const known = new Set<string>()
  const pending = new Map<string, Set<'change' | 'timer'>>()
  let ticker: NodeJS.Timeout | undefined
  let stopped = false

  /** The same window on each of the previous `days` days, oldest first. */
  const previousDays = <T>(days: number, from: number, to: number, read: (from: number, to: number) => T): T[] =>
    Array.from({ length: days }, (_, i) => read(from - (days - i) * DAY, to - (days - i) * DAY))

  /** Observations of one rule for windows ending at `to` (minute-aligned); synchronous, so one consistent read. */
  function observe(rule: Rule, tenant: TenantRef, to: number, connectors: ConnectorFacts[]): Observation[] {
    const from = to - rule.window_minutes * MINUTE
    const w: WindowRef = { from, to, digits: currencyDigits(tenant.currency) }
    const sum = (f: number, t: number) => aggregate.sum(tenant.id, f, t)
    // Baseline windows below what the aggregate kept are unknown: checks against them hold.
    const baselineKnown = (days: number) => from - days * DAY >= aggregate.keptFrom(tenant.id)
    switch (rule.kind) {
      case 'margin_floor': {
        let baseline: ReturnType<typeof zeroMeasures> | undefined
        if (rule.max_drop_points !== undefined && baselineKnown(rule.baseline_days)) {
          baseline = zeroMeasures()
          for (const m of previousDays(rule.baseline_days, from, to, sum))
            for (let i = 0; i < m.length; i++) baseline[i] += m[i]
        }
        return [marginFloor(rule, sum(from, to), w, baseline)]
      }
      case 'refund_surge':
        return [refundSurge(rule, sum(from, to), w)]
      case 'spend_spike': {
        const filter = { channel: rule.channel, campaign_id: rule.campaign_id }
        const spend = (f: number, t: number) => aggregate.adSpend(tenant.id, f, t, filter)
        const obs = spendSpike(rule, spend(from, to), previousDays(rule.baseline_days, from, to, spend), w)
        return [baselineKnown(rule.baseline_days) ? obs : { ...obs, breached: false, cleared: false }]
      }
      case 'campaign_roas': {
        const byCampaign = new Map(
          [...aggregate.byCampaign(tenant.id, from, to)].map(([c, f]) => {
            const m = zeroMeasures()
            m[measureIndex.ad_spend] = f.ad_spend
            m[measureIndex.attributed_revenue] = f.attributed_revenue
            return [c, m]
          }),
        )
        return campaignRoas(rule, byCampaign, w)
      }
      case 'gmv_stall': {
        const orders = (f: number, t: number) => get(sum(f, t), 'orders')
        const obs = gmvStall(rule, orders(from, to), previousDays(rule.baseline_days, from, to, orders), w)
        return [baselineKnown(rule.baseline_days) ? obs : { ...obs, breached: false }]
      }
      case 'connector_failing':
        return connectorFailing(rule, connectors)
      case 'low_stock': {
        const view = options.inventory?.inventory(tenant.id) ?? { from_day: null, to_day: null, skus: [] }
        return [lowStock(rule, view.skus, view)]
      }
    }
  }

  function tracked(tenant: string): Map<string, Tracked> {
    let m = states.get(tenant)
    if (!m) states.set(tenant, (m = new Map()))
    return m
  }

  /** Resolves with the number of the tenant's events the evaluation saw. */
  async function evaluate(tenantId: string, mode: 'change' | 'timer'): Promise<number> {
    const tenant = await options.tenantOf(tenantId)
    // Rules last of the reads a change evaluation awaits, so what it reports as seen was
    // evaluated against the rules of that moment (a rule saved later schedules its own run).
    const all = await rules.list(tenantId)
    const mine = tracked(tenantId)
    const ruleIds = new Set(all.map((r) => r.id))
    let dropped = false
    // A deleted or disabled rule takes its alerts with it.
    for (const [key, t] of mine)
      if (!ruleIds.has(t.rule.id) || !all.find((r) => r.id === t.rule.id)?.enabled)
        dropped = mine.delete(key) || dropped
    const active = all.filter((r) => r.enabled && TIMER_KINDS.has(r.kind) === (mode === 'timer'))
    const newest = aggregate.newest(tenantId)
    if (active.length === 0 || (mode === 'change' && newest === undefined)) {
      if (dropped) options.notify?.(tenantId)
      return aggregate.events(tenantId)
    }
    const connectors =
      mode === 'timer' && active.some((r) => r.kind === 'connector_failing') && options.connectorsOf
        ? await options.connectorsOf(tenantId)
        : []
    // Whole minutes, the aggregate's resolution: the window ends after the newest event's minute
    // (timer rules: after the current minute of the clock).
    const to = minuteOf(mode === 'change' ? newest! : now()) + MINUTE
    // A change is stamped with the window's end in event time; a timer rule's with the clock.
    const at = mode === 'change' ? to : now()
    // Read in the same synchronous stretch as the observations below.
    const seenEvents = aggregate.events(tenantId)
    const changes: { record: AlertRecord; rule: Rule }[] = []
    for (const rule of active) {
      const observations = observe(rule, tenant, to, connectors)
      const seen = new Set<string>()
      for (const obs of observations) {
        seen.add(obs.subject)
        apply(rule, obs, at)
      }
      // A subject that left the window (a campaign with no spend in it any more) has recovered.
      for (const t of [...mine.values()])
        if (t.rule.id === rule.id && t.status === 'firing' && !seen.has(t.subject))
          apply(
            rule,
            {
              subject: t.subject,
              breached: false,
              cleared: true,
              figures: t.figures ?? {},
              message: `${t.message ?? ''} (no longer in the window)`,
            },
            at,
          )
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
          alert_id: s.next.alertId!,
          rule_id: rule.id,
          kind: rule.kind,
          subject: obs.subject,
          severity: rule.severity,
          state: s.change,
          at: new Date(at).toISOString(),
          fired_at: new Date(s.next.firedAt ?? at).toISOString(),
          recorded_at: new Date(now()).toISOString(),
          message: obs.message,
          figures: obs.figures,
        },
      })
    }

    if (changes.length === 0) {
      if (dropped) options.notify?.(tenantId)
      return seenEvents
    }
    options.notify?.(tenantId)
    await alertLog.append(
      tenantId,
      changes.map((c) => c.record),
    )
    for (const { rule, record } of changes) {
      const { rule_id, subject, state, message } = record
      log.info({ tenant: tenantId, rule: rule_id, subject, state, message }, 'alert changed')
      // Queued durably (alerts/webhooks.ts) before this returns; sent in the background.
      if (rule.webhook)
        await webhooks.send(
          tenantId,
          rule.webhook,
          { tenant: tenantId, rule: { id: rule.id, name: rule.name ?? null, kind: rule.kind }, alert: record },
          { alert_id: record.alert_id, rule_id: rule.id, state: record.state },
        )
    }
    return seenEvents
  }

  /** Evaluations of one tenant never overlap; change signals during one fold into one follow-up run. */
  const runs = createCoalescer({
    work: runPending,
    minGapMs,
    holdMs: heldFor,
    now,
    onError: (tenant, err) => log.error({ tenant, err }, 'alert evaluation failed'),
  })

  /**
   * Far behind (a backlog after downtime, a bulk backfill), the figures are a part of what is
   * queued (a day's ad statement without most of its orders): a tenant's evaluation waits until
   * it is worked off, but at most maxHoldMs.
   */
  function heldFor(tenant: string): number {
    if ((options.backlog?.() ?? 0) > holdBacklog) {
      const since = holdingSince.get(tenant) ?? holdingSince.set(tenant, now()).get(tenant)!
      if (now() - since < maxHoldMs) return HOLD_POLL_MS
    }
    holdingSince.delete(tenant)
    return 0
  }

  async function runPending(tenant: string): Promise<void> {
    const modes = pending.get(tenant) ?? new Set()
    pending.delete(tenant)
    for (const mode of modes) {
      const startedAt = now()
      await evaluate(tenant, mode).then(
        // Marked once its changes are logged: a run that started after a moment saw everything before it.
        (seen) => {
          const e =
            evaluated.get(tenant) ?? evaluated.set(tenant, { change: null, timer: null, events: 0 }).get(tenant)!
          e[mode] = startedAt
          if (mode === 'change') e.events = Math.max(e.events, seen)
        },
        (err) => log.error({ tenant, mode, err }, 'alert evaluation failed'),
      )
    }
  }

  function schedule(tenant: string, mode: 'change' | 'timer', delayMs: number): void {
    if (stopped || !owns(tenant)) return
    known.add(tenant)
    let modes = pending.get(tenant)
    if (!modes) pending.set(tenant, (modes = new Set()))
    modes.add(mode)
    runs.request(tenant, delayMs)
  }

  return {
    /**
     * Restores each alert's newest state from the log (firing, or resolved with its cooldown) and starts the absence
     * timer.
     */
    async start(): Promise<void> {
      for (const r of await alertLog.latest()) {
        const rule = (await rules.list(r.tenant)).find((x) => x.id === r.rule_id)
        if (!rule) continue
        known.add(r.tenant)
        const last = {
          alertId: r.alert_id,
          firedAt: Date.parse(r.fired_at),
          figures: r.figures,
          message: r.message,
          rule,
          subject: r.subject,
        }
        tracked(r.tenant).set(
          `${r.rule_id}\u0000${r.subject}`,
          r.state === 'firing'
            ? { status: 'firing', ...last }
            : { status: 'ok', resolvedAt: Date.parse(r.at), ...last },
        )
      }
      for (const t of await rules.tenants()) known.add(t)
      // What the replay rebuilt was never evaluated in this process (a crash may have come between
      // an event and its evaluation): evaluate every tenant once.
      for (const t of aggregate.tenants()) schedule(t, 'change', 0)
      await webhooks.start(owns)
      const timerMs = options.timerMs ?? 30_000
      let listing = false
      ticker = setInterval(() => {
        if (listing) return
        listing = true
        void (options.allTenants?.() ?? Promise.resolve([]))
          .catch((err) => (log.error({ err }, 'alerts: listing tenants failed'), []))
          .then((all) => {
            for (const t of new Set([...known, ...aggregate.tenants(), ...all])) schedule(t, 'timer', 0)
          })
          .finally(() => (listing = false))
      }, timerMs)
      ticker.unref()
    },
    /** Tenants whose partition this process just took: their owed webhooks are sent, their rules evaluated. */
    async acquired(tenants: (tenant: string) => boolean): Promise<void> {
      await webhooks.start(tenants)
      for (const t of aggregate.tenants()) if (tenants(t)) schedule(t, 'change', 0)
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
        out.push({
          alert_id: t.alertId!,
          rule_id: t.rule.id,
          name: t.rule.name ?? null,
          kind: t.rule.kind,
          subject: t.subject,
          severity: t.rule.severity,
          state: 'firing',
          at: new Date(t.firedAt!).toISOString(),
          message: t.message ?? '',
          figures: t.figures ?? {},
        })
      }
      return out.sort((a, b) => (a.at > b.at ? -1 : a.at < b.at ? 1 : a.alert_id < b.alert_id ? -1 : 1))
    },
    /**
     * How far evaluation has got: the number of the tenant's events (replayed ones included) the
     * latest completed evaluation of the event rules saw, and the wall-clock starts of the latest
     * completed evaluations of each kind (ISO; null before the first).
     */
    evaluated(tenant: string): { events: number; change_at: string | null; timer_at: string | null } {
      const e = evaluated.get(tenant)
      const iso = (ms: number | null | undefined) =>
        ms === null || ms === undefined ? null : new Date(ms).toISOString()
      return { events: e?.events ?? 0, change_at: iso(e?.change), timer_at: iso(e?.timer) }
    },
    /** Waits for running evaluations (tests, shutdown). */
    async idle(): Promise<void> {
      await runs.idle()
    },
    async stop(): Promise<void> {
      stopped = true
      if (ticker) clearInterval(ticker)
      runs.stop()
      await runs.idle()
      webhooks.stop()
    },
  }
}

export type AlertEngine = ReturnType<typeof createAlertEngine>
