// The additive figures one rollup row carries, all integers (money in minor units). A window's
// state is a vector of these; corrections arrive as negative deltas, so sums stay exact.

export const MEASURES = [
  'gmv',
  'orders',
  'units',
  'subtotal',
  'discounts',
  'tax',
  'shipping',
  'shipping_cost',
  'attributed_revenue',
  'refunds',
  'refund_subtotal',
  'refund_count',
  'cancelled_orders',
  // The same three refund figures and cancellations, placed in the window of the order they
  // belong to (`view=order_date`, docs/metrics.md).
  'refunds_od',
  'refund_subtotal_od',
  'refund_count_od',
  'cancelled_orders_od',
  'ad_spend',
  'marketing_cost',
  // Line-item figures, on rows that carry the item's brand and category.
  'item_revenue',
  'item_units',
  'cogs',
  // Attributed revenue of orders placed by a customer whose intent was high when ordering.
  'high_intent_revenue',
  // What ad platforms report beside spend, summed like it from the standing statements: counts,
  // conversions in thousandths (platforms report fractions), conversion value in minor units.
  'ad_impressions',
  'ad_clicks',
  'ad_conversions_milli',
  'ad_conversion_value',
  // The seller's fees (docs/metrics.md, "Fees and net profit"), net of what refunds gave back:
  // orders' fees at their window, fee.charged and refunds' fees (negative) at their own minute;
  // `fees_od` places the fee.charged and refunds of an order at the order's window instead.
  'fees',
  'fees_od',
  // Per-brand counts (docs/brands.md): an order, cancellation or refund counts once on the row of
  // each brand it holds (is about), where `orders`, `cancelled_orders` and `refund_count` (and the
  // `_od` ones) count it once in all, on one brand's row. A read for one brand counts these.
  'brand_orders',
  'brand_cancelled_orders',
  'brand_cancelled_orders_od',
  'brand_refund_count',
  'brand_refund_count_od',
] as const

/** The dimensions a rollup row is keyed by besides its minute (empty string: not applicable). */
export const DIMENSIONS = ['source', 'channel', 'campaign_id', 'city', 'brand', 'category', 'store'] as const
export type Dimension = (typeof DIMENSIONS)[number]

export type MeasureName = (typeof MEASURES)[number]
export type Measures = number[]

export const measureIndex = Object.fromEntries(MEASURES.map((name, i) => [name, i])) as Record<MeasureName, number>

export function zeroMeasures(): Measures {
  return new Array<number>(MEASURES.length).fill(0)
}

export function measuresOf(values: Partial<Record<MeasureName, number>>): Measures {
  const m = zeroMeasures()
  for (const [name, value] of Object.entries(values)) m[measureIndex[name as MeasureName]] = value
  return m
}

/** target += sign × delta, in place. */
export function addMeasures(target: Measures, delta: Measures, sign = 1): void {
  for (let i = 0; i < target.length; i++) target[i] += sign * delta[i]
}

export function isZero(m: Measures): boolean {
  return m.every((v) => v === 0)
}

export function get(m: Measures, name: MeasureName): number {
  return m[measureIndex[name]]
}
