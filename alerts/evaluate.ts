// Pure rule evaluation: summed measures of a window in, observations out. No clock, no I/O:
// alerts/engine.ts reads the figures and feeds alerts/state.ts with what comes out of here.
// Comparisons are on exact minor units against the threshold × the divisor (never a rounded
// ratio), with a relative epsilon only to absorb the binary error of a decimal threshold, so a
// threshold is crossed by one cent exactly where it should be.
import { formatMinor, toMinor } from '../common/money.ts'
import { type InventoryRow, type Measures, coverBelow, get, zeroMeasures } from '../stream/index.ts'
import type { RuleOf } from './rules.ts'

export type Figures = Record<string, string | number | null>

/** What one rule says about one subject (the tenant '', a campaign, a connector). */
export interface Observation {
  subject: string
  /** The condition holds: fire (unless firing already or cooling down). */
  breached: boolean
  /** Recovered past the hysteresis band: a firing alert resolves. Neither: hold the state. */
  cleared: boolean
  figures: Figures
  message: string
}

const EPS = 1e-9
/** a < b, b a product of a decimal threshold and exact integers. */
const below = (a: number, b: number) => a < b - EPS * Math.max(1, Math.abs(b))
const above = (a: number, b: number) => a > b + EPS * Math.max(1, Math.abs(b))
const round4 = (x: number | null) => (x === null || !Number.isFinite(x) ? null : Math.round(x * 10_000) / 10_000)
const ratio = (a: number, b: number) => (b === 0 ? null : a / b)

export interface WindowRef {
  from: number
  to: number
  digits: number
}

const windowFigures = (w: WindowRef): Figures => ({
  window_from: new Date(w.from).toISOString(),
  window_to: new Date(w.to).toISOString(),
})

const profitOf = (rule: RuleOf<'margin_floor'>, m: Measures) => {
  const net = get(m, 'subtotal') - get(m, rule.view === 'order_date' ? 'refund_subtotal_od' : 'refund_subtotal')
  const gross = net - get(m, 'cogs')
  return {
    net,
    profit:
      rule.margin === 'gross' ? gross : gross - get(m, 'shipping_cost') - get(m, 'ad_spend') - get(m, 'marketing_cost'),
  }
}

/**
 * Is the drop from the baseline margin P/N to the margin p/n more than `millionths` × 10⁻⁶?
 * Cross-multiplied in bigint (P·n − p·N)·10⁶ > t·n·N, n, N > 0: exact whatever the sizes.
 */
const dropAbove = (p: number, n: number, P: number, N: number, millionths: number) =>
  (BigInt(P) * BigInt(n) - BigInt(p) * BigInt(N)) * 1_000_000n > BigInt(millionths) * BigInt(n) * BigInt(N)

/**
 * `baseline`: the measures of the same window on each of the previous `baseline_days` days,
 * summed (only read when the rule has `max_drop_points`).
 */
export function marginFloor(rule: RuleOf<'margin_floor'>, m: Measures, w: WindowRef, baseline?: Measures): Observation {
  const money = (x: number) => formatMinor(x, w.digits)
  const { net, profit } = profitOf(rule, m)
  const minNet = toMinor(rule.min_net_sales, w.digits)
  const enough = net > 0 && net >= minNet
  const margin = ratio(profit, net)
  const figures: Figures = {
    ...windowFigures(w),
    net_sales: money(net),
    [rule.margin === 'gross' ? 'gross_profit' : 'contribution_margin']: money(profit),
    ad_spend: money(get(m, 'ad_spend')),
    margin: round4(margin),
    floor: rule.floor,
  }
  const floorBreached = rule.floor !== null && below(profit, rule.floor * net)
  const floorCleared = rule.floor === null || !below(profit, (rule.floor + rule.hysteresis) * net)
  let dropBreached = false
  let dropCleared = true
  let dropText = ''
  if (rule.max_drop_points !== undefined) {
    const b = profitOf(rule, baseline ?? zeroMeasures())
    // Without enough baseline sales there is nothing to drop from: the drop check stays out.
    const hasBaseline = b.net > 0 && b.net >= minNet
    const limit = Math.round(rule.max_drop_points * 10_000) // points × 10⁴ = fraction × 10⁶
    if (enough && hasBaseline) {
      dropBreached = dropAbove(profit, net, b.profit, b.net, limit)
      dropCleared = !dropAbove(profit, net, b.profit, b.net, limit - Math.round(rule.hysteresis * 1_000_000))
    }
    const baselineMargin = hasBaseline ? b.profit / b.net : null
    const drop =
      baselineMargin === null || margin === null ? null : Math.round((baselineMargin - margin) * 1_000_000) / 10_000
    Object.assign(figures, {
      baseline_days: rule.baseline_days,
      baseline_net_sales: money(b.net),
      baseline_margin: round4(baselineMargin),
      drop_points: drop,
      max_drop_points: rule.max_drop_points,
    })
    dropText =
      baselineMargin === null
        ? ', no baseline'
        : `, ${drop!.toFixed(2)} points under its ${rule.baseline_days}-day baseline ` +
          `${(baselineMargin * 100).toFixed(1)} % (limit ${rule.max_drop_points})`
  }
  return {
    subject: '',
    // Under the minimum net sales the margin is noise: hold whatever state the alert is in.
    breached: enough && (floorBreached || dropBreached),
    cleared: enough && floorCleared && dropCleared,
    figures,
    message:
      `${rule.margin} margin ${margin === null ? 'n/a' : `${(margin * 100).toFixed(1)} %`}` +
      `${rule.floor === null ? '' : ` (floor ${(rule.floor * 100).toFixed(1)} %)`}` +
      `${dropText} over the last ${rule.window_minutes} min, net sales ${money(net)}`,
  }
}

/** EWMA over the previous days' values, oldest first; undefined when no day had any spend. */
export function ewma(values: readonly number[], alpha: number): number | undefined {
  if (!values.some((v) => v > 0)) return undefined
  let e = values[0]
  for (let i = 1; i < values.length; i++) e = alpha * values[i] + (1 - alpha) * e
  return e
}

/** `previous`: the same window's spend on each previous day, oldest first. */
export function spendSpike(
  rule: RuleOf<'spend_spike'>,
  spend: number,
  previous: readonly number[],
  w: WindowRef,
): Observation {
  const money = (x: number) => formatMinor(x, w.digits)
  const baseline = ewma(previous, rule.ewma_alpha)
  const minSpend = toMinor(rule.min_spend, w.digits)
  const threshold = baseline === undefined ? undefined : rule.factor * baseline
  const what = rule.campaign_id ? `campaign ${rule.campaign_id}` : rule.channel ? rule.channel : 'ad'
  const figures: Figures = {
    ...windowFigures(w),
    ad_spend: money(spend),
    baseline: baseline === undefined ? null : money(Math.round(baseline)),
    threshold: threshold === undefined ? null : money(Math.round(threshold)),
    factor: rule.factor,
    min_spend: money(minSpend),
    ...(rule.channel ? { channel: rule.channel } : {}),
    ...(rule.campaign_id ? { campaign_id: rule.campaign_id } : {}),
  }
  // Without any spend on previous days there is no baseline to spike against: quiet.
  const breached = threshold !== undefined && spend >= minSpend && above(spend, threshold)
  const cleared = threshold === undefined || spend < minSpend || !above(spend, (1 - rule.hysteresis) * threshold)
  return {
    subject: '',
    breached,
    cleared,
    figures,
    message:
      `${what} spend ${money(spend)} over the last ${rule.window_minutes} min ` +
      `(alert above ${rule.factor}× its baseline ${figures.baseline ?? 'n/a'})`,
  }
}

/** One observation per campaign with spend in the window. */
export function campaignRoas(
  rule: RuleOf<'campaign_roas'>,
  byCampaign: ReadonlyMap<string, Measures>,
  w: WindowRef,
): Observation[] {
  const money = (x: number) => formatMinor(x, w.digits)
  const minSpend = toMinor(rule.min_spend, w.digits)
  const out: Observation[] = []
  for (const [campaign, m] of byCampaign) {
    const spend = get(m, 'ad_spend')
    if (campaign === '' || spend <= 0) continue
    const revenue = get(m, 'attributed_revenue')
    const roas = revenue / spend
    out.push({
      subject: campaign,
      breached: spend >= minSpend && below(revenue, rule.floor * spend),
      // Spend within a window only grows until it slides out: under the minimum, hold.
      cleared: spend >= minSpend ? !below(revenue, (rule.floor + rule.hysteresis) * spend) : false,
      figures: {
        ...windowFigures(w),
        campaign_id: campaign,
        ad_spend: money(spend),
        attributed_revenue: money(revenue),
        roas: round4(roas),
        floor: rule.floor,
        min_spend: money(minSpend),
      },
      message:
        `campaign ${campaign}: ROAS ${roas.toFixed(2)} (floor ${rule.floor}) on ${money(spend)} spent ` +
        `over the last ${rule.window_minutes} min`,
    })
  }
  return out.sort((a, b) => (a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : 0))
}

export function refundSurge(rule: RuleOf<'refund_surge'>, m: Measures, w: WindowRef): Observation {
  const money = (x: number) => formatMinor(x, w.digits)
  const refunds = get(m, 'refunds')
  const gmv = get(m, 'gmv')
  const count = get(m, 'refund_count')
  const enough = count >= rule.min_refunds
  return {
    subject: '',
    breached: enough && above(refunds, rule.max_rate * gmv),
    cleared: !enough || !above(refunds, (rule.max_rate - rule.hysteresis) * gmv),
    figures: {
      ...windowFigures(w),
      refunds: money(refunds),
      refund_count: count,
      gmv: money(gmv),
      refund_rate: round4(ratio(refunds, gmv)),
      max_rate: rule.max_rate,
    },
    message:
      `${count} refunds (${money(refunds)}), ` +
      `${gmv === 0 ? 'no GMV' : `${((refunds / gmv) * 100).toFixed(1)} % of GMV`} ` +
      `(limit ${(rule.max_rate * 100).toFixed(1)} %) over the last ${rule.window_minutes} min`,
  }
}

/** `previous`: orders in the same window on each previous day. */
export function gmvStall(
  rule: RuleOf<'gmv_stall'>,
  orders: number,
  previous: readonly number[],
  w: WindowRef,
): Observation {
  const expected = previous.length === 0 ? 0 : previous.reduce((a, b) => a + b, 0) / previous.length
  return {
    subject: '',
    breached: orders <= 0 && expected >= rule.min_expected_orders,
    // Only an order ends a stall; a quiet hour that is usually quiet too holds the state.
    cleared: orders > 0,
    figures: {
      ...windowFigures(w),
      orders,
      expected_orders: round4(expected),
      min_expected_orders: rule.min_expected_orders,
    },
    message: `${orders} orders in the last ${rule.window_minutes} min; this window usually has ${expected.toFixed(1)}`,
  }
}

export interface ConnectorFacts {
  id: string
  type: string
  last_error: string | null
  last_success_at: string | null
  lag_seconds: number | null
}

export function connectorFailing(
  rule: RuleOf<'connector_failing'>,
  connectors: readonly ConnectorFacts[],
): Observation[] {
  return connectors.map((c) => {
    const lagging = c.lag_seconds !== null && c.lag_seconds > rule.max_lag_minutes * 60
    const failing = c.last_error !== null
    return {
      subject: c.id,
      breached: failing || lagging,
      cleared: !failing && !lagging,
      figures: {
        connector_id: c.id,
        type: c.type,
        last_error: c.last_error,
        last_success_at: c.last_success_at,
        lag_seconds: c.lag_seconds,
        max_lag_minutes: rule.max_lag_minutes,
      },
      message: failing
        ? `connector ${c.type} (${c.id}) failing: ${c.last_error}`
        : `connector ${c.type} (${c.id}) last synced ` +
          `${c.lag_seconds === null ? 'never' : `${Math.round(c.lag_seconds / 60)} min ago`} ` +
          `(limit ${rule.max_lag_minutes} min)`,
    }
  })
}

/** SKUs listed by name in a low-stock alert's figures and message at most. */
const LOW_STOCK_LISTED = 20

/**
 * `rows`: the SKUs with a known level and their sales over the 28 local days ending with the
 * tenant's newest event day (stream/inventory.ts). One observation for the tenant: breached while
 * any SKU's cover is under `days`, cleared when none is. The SKUs are named lowest cover first.
 */
export function lowStock(
  rule: RuleOf<'low_stock'>,
  rows: readonly InventoryRow[],
  window: { from_day: string | null; to_day: string | null },
): Observation {
  const low = rows
    .filter((r) => coverBelow(r, rule.days))
    // Lowest exact cover first (available ÷ units, cross-multiplied), then by SKU.
    .sort((a, b) => a.available * b.units_28d - b.available * a.units_28d || (a.sku < b.sku ? -1 : 1))
  const listed = low.slice(0, LOW_STOCK_LISTED)
  const list = (f: (r: InventoryRow) => string | number | null) => listed.map((r) => `${r.sku}=${f(r)}`).join(', ')
  return {
    subject: '',
    breached: low.length > 0,
    cleared: low.length === 0,
    figures: {
      window_from_day: window.from_day,
      window_to_day: window.to_day,
      days: rule.days,
      sku_count: low.length,
      skus: listed.map((r) => r.sku).join(', '),
      days_of_cover: list((r) => r.days_of_cover),
      available: list((r) => r.available),
      units_28d: list((r) => r.units_28d),
    },
    message:
      low.length === 0
        ? `no SKU under ${rule.days} days of cover`
        : `${low.length} SKU${low.length === 1 ? '' : 's'} under ${rule.days} days of cover: ` +
          listed.map((r) => `${r.sku} ${r.days_of_cover} days (${r.available} available)`).join(', ') +
          (low.length > listed.length ? `, and ${low.length - listed.length} more` : ''),
  }
}
