// Tenant settings (docs/operations.md, "Configuration"; docs/metrics.md): one validated object per tenant. Updates are
// partial; money is a decimal string in the tenant's currency; rates are fractions.
import { z } from 'zod'
import { MAX_AMOUNT } from './events.ts'
import { isCurrency, isDecimal } from './money.ts'

/** The most SKU costs a tenant keeps: the settings travel as one NATS message. */
export const MAX_SKU_COSTS = 100_000
/** The largest exchange rate: with MAX_AMOUNT, a converted amount stays exact in minor units. */
export const MAX_RATE = 1_000_000

const decimalUpTo = (max: number) =>
  z
    .string()
    .max(40)
    .refine(isDecimal, 'expected a decimal string such as "12.50"')
    .refine((text) => Number(text) <= max, `expected at most ${max}`)
const decimal = decimalUpTo(MAX_AMOUNT)
const fraction = z.number().min(0).max(10)

export const settingsSchema = z.object({
  /** COGS of a line without a cost and without an uploaded SKU cost: this fraction of price × quantity. */
  default_cogs_rate: z.number().min(0).max(1).default(0.4),
  /** Per-SKU unit costs; they win over an item's own `cost` and the default rate. */
  sku_costs: z
    .record(z.string().min(1).max(200), decimal)
    .refine((costs) => Object.keys(costs).length <= MAX_SKU_COSTS, `at most ${MAX_SKU_COSTS} SKU costs`)
    .default({}),
  /** Platform fees charged to a brand: monthly retainer, commission on ad spend, high-intent premium. */
  fees: z
    .object({
      monthly_retainer: decimal.default('0'),
      ad_commission_rate: fraction.default(0.1),
      high_intent_premium_rate: fraction.default(0.2),
      high_intent_spend_share: fraction.default(0.4),
    })
    .prefault({}),
  intent: z
    .object({
      weights: z
        .object({
          'product.viewed': z.number().min(0).default(1),
          search: z.number().min(0).default(1),
          'cart.added': z.number().min(0).default(3),
          'checkout.started': z.number().min(0).default(5),
        })
        .prefault({}),
      half_life_hours: z
        .number()
        .positive()
        .max(24 * 365)
        .default(24),
      high: z.number().min(0).default(10),
      medium: z.number().min(0).default(4),
    })
    .prefault({}),
  /** Rates to the tenant's currency: 1 unit of the key currency = rate units of the tenant's. */
  currency_rates: z
    .record(z.string().refine(isCurrency, 'expected an ISO 4217 code'), decimalUpTo(MAX_RATE))
    .default({}),
  /** Marketing sends are priced per message by channel (Klaviyo, Postscript report sends, not money). */
  marketing_unit_costs: z.record(z.string().min(1).max(64), decimal).default({}),
  allowed_lateness_seconds: z
    .number()
    .int()
    .min(0)
    .max(7 * 86_400)
    .default(300),
  /** First month (1–12) of the fiscal year of the RFM dashboard's `fiscal_year_data` (tenant-local dates). */
  fiscal_year_start_month: z.number().int().min(1).max(12).default(4),
})

export type Settings = z.infer<typeof settingsSchema>
export const defaultSettings = (): Settings => settingsSchema.parse({})
