// Numbers in the tenant's currency and the viewer's locale. Money arrives as exact decimal strings
// ("1234.50") and is formatted from the string, so no digit is lost to floating point.
export interface Formatters {
  currency: string
  timezone: string
  money(value: unknown): string
  /** Axis labels: ₹1.2K. */
  moneyShort(value: number): string
  count(value: unknown): string
  /** A fraction as a percentage: 0.149 → 14.9%. */
  percent(value: unknown): string
  /** A multiple: ROAS 5.17 → 5.17×. */
  multiple(value: unknown): string
  time(iso: string): string
  dateTime(iso: string): string
}

const DASH = '—'
const isNumeric = (v: unknown): v is string | number =>
  (typeof v === 'number' && Number.isFinite(v)) || (typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v))

export function formatters(currency: string, timezone: string, locale: string | undefined = undefined): Formatters {
  const money = new Intl.NumberFormat(locale, { style: 'currency', currency })
  const moneyShort = new Intl.NumberFormat(locale, {
    style: 'currency',
    currency,
    notation: 'compact',
    maximumFractionDigits: 1,
  })
  const count = new Intl.NumberFormat(locale, { maximumFractionDigits: 2 })
  const percent = new Intl.NumberFormat(locale, {
    style: 'percent',
    minimumFractionDigits: 1,
    maximumFractionDigits: 1,
  })
  const multiple = new Intl.NumberFormat(locale, { minimumFractionDigits: 2, maximumFractionDigits: 2 })
  const time = new Intl.DateTimeFormat(locale, {
    timeZone: timezone,
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  })
  const dateTime = new Intl.DateTimeFormat(locale, { timeZone: timezone, dateStyle: 'medium', timeStyle: 'short' })
  return {
    currency,
    timezone,
    // Intl formats a decimal string exactly (ES2023); Number() would round past 2^53 minor units.
    money: (v) => (isNumeric(v) ? money.format(v as Intl.StringNumericLiteral) : DASH),
    moneyShort: (v) => moneyShort.format(v),
    count: (v) => (isNumeric(v) ? count.format(v as Intl.StringNumericLiteral) : DASH),
    percent: (v) => (isNumeric(v) ? percent.format(Number(v)) : DASH),
    multiple: (v) => (isNumeric(v) ? `${multiple.format(Number(v))}×` : DASH),
    time: (iso) => time.format(new Date(iso)),
    dateTime: (iso) => dateTime.format(new Date(iso)),
  }
}

export type Kind = 'money' | 'count' | 'percent' | 'multiple' | 'percent100' | 'text' | 'time'

// How a field of a dashboard answer is shown, from its name and value (the dashboards come with
// their own shapes; these rules cover the vocabulary of docs/metrics.md).
const MONEY_WORDS =
  'gmv revenue spend sales cost cogs profit amount monetary aov refunds retainer commission premium opportunity ' +
  'total subtotal discounts tax shipping contribution_margin estimated_spend spending value price'
const MONEY = new RegExp(`(^|_)(${MONEY_WORDS.split(' ').join('|')})($|_)`)
const MULTIPLE = /(^|_)(roas|mer|poas)($|_)/
const FRACTION = /(^|_)(rate|share|margin|conversion|drop_off|change|ratio)($|_)/

export function kindOf(key: string, value: unknown): Kind {
  if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(value)) return 'time'
  if (!isNumeric(value)) return 'text'
  if (key === 'retention_rate') return 'percent100'
  if (MULTIPLE.test(key)) return 'multiple'
  if (FRACTION.test(key) && typeof value === 'number') return 'percent'
  if (MONEY.test(key) && typeof value === 'string') return 'money'
  return 'count'
}

export function formatAs(fmt: Formatters, kind: Kind, value: unknown): string {
  if (value === null || value === undefined) return DASH
  switch (kind) {
    case 'money':
      return fmt.money(value)
    case 'count':
      return fmt.count(value)
    case 'percent':
      return fmt.percent(value)
    case 'percent100':
      return isNumeric(value) ? `${fmt.count(Number(value).toFixed(1))}%` : DASH
    case 'multiple':
      return fmt.multiple(value)
    case 'time':
      return fmt.dateTime(String(value))
    default:
      return String(value)
  }
}
