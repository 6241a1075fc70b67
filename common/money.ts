// Money is carried as decimal strings at the edges and as integer minor units inside, so sums
// never drift. bigint does the exact arithmetic; results fit a JS number (< 2^53 minor units).

const digitsCache = new Map<string, number>()

/** ISO 4217 minor-unit digits (USD 2, JPY 0, BHD 3), from the runtime's ICU data. */
export function currencyDigits(code: string): number {
  let digits = digitsCache.get(code)
  if (digits === undefined) {
    digits =
      new Intl.NumberFormat('en', { style: 'currency', currency: code }).resolvedOptions().maximumFractionDigits ?? 2
    digitsCache.set(code, digits)
  }
  return digits
}

const knownCurrencies = new Set(Intl.supportedValuesOf('currency'))
export function isCurrency(code: string): boolean {
  return knownCurrencies.has(code)
}

const decimalPattern = /^-?\d+(\.\d+)?$/

/** A JSON number or decimal string → canonical decimal string (no exponent). */
export function toDecimalString(value: number | string): string {
  if (typeof value === 'string') return value
  const text = String(value)
  if (!/e/i.test(text)) return text
  return value.toFixed(12).replace(/\.?0+$/, '')
}

export function isDecimal(text: string): boolean {
  return decimalPattern.test(text)
}

function parse(text: string): { mantissa: bigint; scale: number } {
  if (!decimalPattern.test(text)) throw new Error(`not a decimal number: ${text}`)
  const [whole, fraction = ''] = text.split('.')
  return { mantissa: BigInt(whole + fraction), scale: fraction.length }
}

/** numerator ÷ denominator rounded half away from zero (denominator > 0). */
export function divRoundHalfAway(numerator: bigint, denominator: bigint): bigint {
  const quotient = numerator / denominator
  const remainder = numerator % denominator
  if (remainder === 0n) return quotient
  const twice = (remainder < 0n ? -remainder : remainder) * 2n
  if (twice < denominator) return quotient
  return numerator < 0n ? quotient - 1n : quotient + 1n
}

/**
 * A decimal amount → integer minor units of a currency with `digits` decimals, optionally
 * converted at `rate` (a decimal string), rounded half away from zero once, at the end.
 */
export function toMinor(amount: string, digits: number, rate?: string): number {
  // Fast path, exact: no rate, no rounding needed, and few enough digits for a double.
  if (rate === undefined && amount.length <= 15 && decimalPattern.test(amount)) {
    const [whole, fraction = ''] = amount.split('.')
    if (fraction.length <= digits) return Number(whole + fraction.padEnd(digits, '0'))
  }
  const value = parse(amount)
  let mantissa = value.mantissa * 10n ** BigInt(digits)
  let scale = value.scale
  if (rate !== undefined) {
    const r = parse(rate)
    mantissa *= r.mantissa
    scale += r.scale
  }
  return Number(divRoundHalfAway(mantissa, 10n ** BigInt(scale)))
}

/** Integer minor units → decimal string with the currency's digits ("1234.50", "1234"). */
export function formatMinor(minor: number, digits: number): string {
  const negative = minor < 0
  const text = String(Math.abs(minor)).padStart(digits + 1, '0')
  const body = digits === 0 ? text : `${text.slice(0, -digits)}.${text.slice(-digits)}`
  return negative ? `-${body}` : body
}

/** Money ÷ count, in minor units, rounded half away from zero; null when dividing by 0. */
export function divideMinor(minor: number, count: number): number | null {
  if (count === 0) return null
  return Number(divRoundHalfAway(BigInt(minor), BigInt(count)))
}
