// Alert rules: the zod schemas are the single source of truth for the rules API, the KV records
// and the evaluator's types. Money is a decimal string in the tenant's currency, as everywhere
// else; ratios are fractions (0.1 = 10 %). Every field but `kind` has a default.
import { z } from 'zod'
import { isDecimal } from '../common/money.ts'

const amount = z
  .string()
  .refine((s) => isDecimal(s) && !s.startsWith('-'), 'expected a non-negative decimal amount such as "100.00"')
const ruleId = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'expected 1-64 lower-case letters, digits, _ or -')

export const webhookTarget = z.object({
  url: z.url({ protocol: /^https?$/ }),
  /** HMAC-SHA256 key: the body's signature is sent as `X-Pulse-Signature: sha256=<hex>`. */
  secret: z.string().min(16).max(200),
})

const base = {
  id: ruleId.optional(),
  name: z.string().min(1).max(200).optional(),
  enabled: z.boolean().default(true),
  severity: z.enum(['warning', 'critical']).default('warning'),
  /** The rolling window, ending at the tenant's newest event time (timer rules: now). */
  window_minutes: z
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 60)
    .default(60),
  /** After a resolve, the same alert does not fire again for this long (event time). */
  cooldown_minutes: z
    .number()
    .int()
    .min(0)
    .max(7 * 24 * 60)
    .default(30),
  webhook: webhookTarget.optional(),
}

export const marginFloorRule = z.object({
  kind: z.literal('margin_floor'),
  ...base,
  margin: z.enum(['contribution', 'gross']).default('contribution'),
  /**
   * `transaction_date`: a refund counts when it happens, as in the KPIs' default view;
   * `order_date`: against the order it returns, in that order's window, so a window's margin is
   * that of the orders placed in it (the refunds of yesterday evening's orders do not sink the
   * first hour of the morning).
   */
  view: z.enum(['transaction_date', 'order_date']).default('transaction_date'),
  /** Fires when margin (÷ net sales) < floor; null: no floor (a drop rule only). */
  floor: z.number().min(-10).max(1).nullable().default(0),
  /**
   * Also fires when the margin is more than this many percentage points under the baseline
   * margin: the same window on each of the previous `baseline_days` days, taken together
   * (Σ profit ÷ Σ net sales of those windows). Absent: no drop check.
   */
  max_drop_points: z.number().gt(0).max(1000).multipleOf(0.0001).optional(),
  baseline_days: z.number().int().min(1).max(28).default(7),
  /** Resolves only once margin ≥ floor + hysteresis and the drop ≤ max_drop_points − 100 × hysteresis. */
  hysteresis: z.number().min(0).max(1).default(0.02),
  /** Below this net sales (in the window, and in the baseline windows together) the margin is noise: quiet. */
  min_net_sales: amount.default('100.00'),
})

export const spendSpikeRule = z.object({
  kind: z.literal('spend_spike'),
  ...base,
  channel: z.string().min(1).max(64).optional(),
  campaign_id: z.string().min(1).max(200).optional(),
  /** Fires when spend > factor × baseline (EWMA of the same window on previous days). */
  factor: z.number().gt(1).max(1000).default(3),
  min_spend: amount.default('50.00'),
  baseline_days: z.number().int().min(1).max(28).default(7),
  /** EWMA weight of the more recent day. */
  ewma_alpha: z.number().gt(0).max(1).default(0.3),
  /** Resolves once spend ≤ (1 − hysteresis) × factor × baseline, or under min_spend. */
  hysteresis: z.number().min(0).max(1).default(0.1),
})

export const campaignRoasRule = z.object({
  kind: z.literal('campaign_roas'),
  ...base,
  window_minutes: base.window_minutes.default(24 * 60),
  /** Fires per campaign when ROAS (attributed revenue ÷ ad spend) < floor once spend ≥ min_spend. */
  floor: z.number().min(0).max(1000).default(1),
  min_spend: amount.default('100.00'),
  hysteresis: z.number().min(0).max(1000).default(0.1),
})

export const refundSurgeRule = z.object({
  kind: z.literal('refund_surge'),
  ...base,
  /** Fires when refunds ÷ GMV > max_rate with at least min_refunds refunds in the window. */
  max_rate: z.number().min(0).max(10).default(0.2),
  min_refunds: z.number().int().min(1).max(1_000_000).default(3),
  hysteresis: z.number().min(0).max(1).default(0.02),
})

export const gmvStallRule = z.object({
  kind: z.literal('gmv_stall'),
  ...base,
  /**
   * Fires when the last window_minutes (wall clock) hold no order while the same window of the previous days averaged
   * ≥ min_expected_orders.
   */
  window_minutes: base.window_minutes.default(60),
  min_expected_orders: z.number().min(0.1).max(1_000_000).default(3),
  baseline_days: z.number().int().min(1).max(28).default(7),
})

export const connectorFailingRule = z.object({
  kind: z.literal('connector_failing'),
  ...base,
  /** Fires per connector whose last sync failed, or whose last success is older than this. */
  max_lag_minutes: z
    .number()
    .int()
    .min(1)
    .max(30 * 24 * 60)
    .default(120),
})

export const lowStockRule = z.object({
  kind: z.literal('low_stock'),
  ...base,
  /**
   * Fires when any SKU that sold in the last 28 days (docs/inventory.md) has days of cover under
   * this many days; resolves when none has.
   */
  days: z.number().gt(0).max(100_000).default(7),
})

export const ruleInput = z.discriminatedUnion('kind', [
  marginFloorRule,
  spendSpikeRule,
  campaignRoasRule,
  refundSurgeRule,
  gmvStallRule,
  connectorFailingRule,
  lowStockRule,
])
export type RuleInput = z.input<typeof ruleInput>
export type Rule = z.output<typeof ruleInput> & { id: string }
export type RuleKind = Rule['kind']
export type RuleOf<K extends RuleKind> = Extract<Rule, { kind: K }>

const DAY = 86_400_000

/** How far back from a window's end a rule reads: its window, plus its baseline days. */
export function ruleReachMs(rule: Rule): number {
  const window = rule.window_minutes * 60_000
  switch (rule.kind) {
    case 'spend_spike':
    case 'gmv_stall':
      return window + rule.baseline_days * DAY
    case 'margin_floor':
      return window + (rule.max_drop_points === undefined ? 0 : rule.baseline_days * DAY)
    default:
      return window
  }
}

/** The rolling aggregate's retention for a rule list: the furthest any enabled rule reads (at least an hour). */
export function horizonMs(rules: readonly Rule[]): number {
  return rules.reduce((max, r) => (r.enabled ? Math.max(max, ruleReachMs(r)) : max), 3_600_000)
}

/** Kinds about an absence: evaluated on a timer against the wall clock, not on change. */
export const TIMER_KINDS: ReadonlySet<RuleKind> = new Set(['gmv_stall', 'connector_failing'])

/** Rules of a tenant that never set any: quiet unless something is clearly wrong. */
export function defaultRules(): Rule[] {
  const inputs: RuleInput[] = [
    // Gross, not contribution: daily ad statements land at their day's first minute, so an hour's
    // contribution margin right after midnight would count a whole day's spend against an hour's sales.
    // By order date: an hour's margin is that of its own orders, not of the refunds it received.
    {
      id: 'default-margin',
      kind: 'margin_floor',
      margin: 'gross',
      view: 'order_date',
      name: "Selling below cost: gross margin of the last hour's orders under 0",
    },
    { id: 'default-spend-spike', kind: 'spend_spike', name: 'Ad spend over 3× its usual rate' },
    {
      id: 'default-campaign-roas',
      kind: 'campaign_roas',
      floor: 0.5,
      min_spend: '1000.00',
      name: 'Campaign ROAS under 0.5 after 1000 spent in a day',
      severity: 'critical',
    },
    { id: 'default-refund-surge', kind: 'refund_surge', name: 'Refunds over 20 % of GMV' },
    { id: 'default-gmv-stall', kind: 'gmv_stall', name: 'No orders for an hour that usually has them' },
    { id: 'default-connector', kind: 'connector_failing', name: 'Connector failing or 2 h behind' },
  ]
  return inputs.map((input) => ruleInput.parse(input) as Rule)
}

/** The public form of a rule: the webhook secret is never shown again. */
export function publicRule(rule: Rule) {
  const { webhook, ...rest } = rule
  return webhook ? { ...rest, webhook: { url: webhook.url, secret_set: true } } : rest
}
