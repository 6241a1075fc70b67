// Small exact helpers the mappings share: decimal strings (no floating point), event ids, days.
import { createHash } from 'node:crypto'
import { DateTime } from 'luxon'
import { messageOf } from '../../common/errors.ts'
import { MalformedPage } from './types.ts'

interface Dec {
  m: bigint
  s: number
}

function parseDec(value: number | string): Dec {
  const text = typeof value === 'number' ? numberText(value) : value.trim()
  const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text)
  if (!match) throw new MalformedPage(`not a decimal amount: ${JSON.stringify(value)}`)
  const fraction = match[3] ?? ''
  const m = BigInt(match[2] + fraction)
  return { m: match[1] ? -m : m, s: fraction.length }
}

function numberText(n: number): string {
  if (!Number.isFinite(n)) throw new MalformedPage(`not a finite amount: ${n}`)
  const text = String(n)
  return /e/i.test(text) ? n.toFixed(12).replace(/\.?0+$/, '') : text
}

const scaleTo = (d: Dec, s: number): bigint => d.m * 10n ** BigInt(s - d.s)

function formatDec(d: Dec): string {
  const negative = d.m < 0n
  let digits = (negative ? -d.m : d.m).toString().padStart(d.s + 1, '0')
  if (d.s > 0) digits = `${digits.slice(0, -d.s)}.${digits.slice(-d.s)}`.replace(/\.?0+$/, '')
  return negative && digits !== '0' ? `-${digits}` : digits
}

/** Exact sum of decimal amounts (strings or JSON numbers). */
export function sumDec(values: (number | string)[]): string {
  const parsed = values.map(parseDec)
  const s = Math.max(0, ...parsed.map((d) => d.s))
  return formatDec({ m: parsed.reduce((acc, d) => acc + scaleTo(d, s), 0n), s })
}

export const subDec = (a: number | string, b: number | string): string => sumDec([a, negDec(b)])

export function negDec(value: number | string): string {
  const d = parseDec(value)
  return formatDec({ m: -d.m, s: d.s })
}

export function absDec(value: number | string): string {
  const d = parseDec(value)
  return formatDec({ m: d.m < 0n ? -d.m : d.m, s: d.s })
}

/** amount × an integer count, exactly. */
export function mulDec(value: number | string, count: number): string {
  const d = parseDec(value)
  return formatDec({ m: d.m * BigInt(count), s: d.s })
}

/** amount ÷ an integer count, to 6 decimals (a unit price; the event rounds to minor units). */
export function divDec(value: number | string, count: number): string {
  if (count <= 0) return formatDec(parseDec(value))
  const d = parseDec(value)
  const s = Math.max(6, d.s)
  return formatDec({ m: scaleTo(d, s) / BigInt(count), s })
}

/** Ad platforms' micros ("1234567") → "1.234567". */
export const microsToDec = (micros: number | string): string => formatDec({ m: parseDec(micros).m, s: 6 })

export const isNegative = (value: number | string): boolean => parseDec(value).m < 0n
export const isZeroDec = (value: number | string): boolean => parseDec(value).m === 0n

/** JSON with sorted keys: the same content always hashes the same. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`
  }
  return JSON.stringify(value)
}

/**
 * An event with an id made of a readable key and a hash of its content: the same input mapped the
 * same way gives the same id (a replayed webhook or re-read page is a duplicate), while a fixed
 * mapping gives a new id, so reprocessing replaces what the old mapping produced.
 */
export function withId(key: string, fields: Record<string, unknown>): Record<string, unknown> {
  const hash = createHash('sha256').update(stableJson(fields)).digest('base64url').slice(0, 16)
  const readable = key.replace(/[^\x21-\x7e]/g, '_').slice(0, 200)
  return { id: `${readable}#${hash}`, ...fields }
}

/** Start of a calendar day (YYYY-MM-DD) in a timezone, ISO with offset. */
export function dayStart(date: string, timezone: string): string {
  const day = DateTime.fromISO(date, { zone: timezone })
  if (!day.isValid) throw new MalformedPage(`not a date: ${JSON.stringify(date)}`)
  return day.startOf('day').toISO({ suppressMilliseconds: true })!
}

export const iso = (ms: number): string => new Date(ms).toISOString()

/** Calendar day of an instant in a timezone, YYYY-MM-DD. */
export const dayOf = (ms: number, timezone: string): string => DateTime.fromMillis(ms, { zone: timezone }).toISODate()!

export const addDays = (date: string, days: number): string =>
  DateTime.fromISO(date, { zone: 'UTC' }).plus({ days }).toISODate()!

/**
 * Integers beyond 2^53 (Shopify's ids are 64-bit) lose digits in JSON.parse: outside strings,
 * integer literals of 16 digits or more are quoted first, so ids stay exact (as strings).
 */
export function quoteBigIntegers(text: string): string {
  let out = ''
  let from = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]
    if (inString) {
      if (ch === '\\') i++
      else if (ch === '"') inString = false
      continue
    }
    if (ch === '"') inString = true
    else if ((ch >= '0' && ch <= '9') || ch === '-') {
      let j = i + 1
      while (j < text.length && text[j] >= '0' && text[j] <= '9') j++
      const isFraction = text[j] === '.' || text[j] === 'e' || text[j] === 'E'
      if (!isFraction && j - i - (ch === '-' ? 1 : 0) >= 16) {
        out += `${text.slice(from, i)}"${text.slice(i, j)}"`
        from = j
      }
      while (j < text.length && /[0-9.eE+-]/.test(text[j])) j++
      i = j - 1
    }
  }
  return from === 0 ? text : out + text.slice(from)
}

/** Parses JSON (big integers kept exact as strings), or throws MalformedPage. */
export function parseJson(body: string): unknown {
  try {
    return JSON.parse(quoteBigIntegers(body))
  } catch (err) {
    throw new MalformedPage(`not JSON: ${messageOf(err)}`, { cause: err })
  }
}

/** Zod-parses a page body, or throws MalformedPage naming the first problems. */
export function shapeOf<T>(
  schema: {
    safeParse(
      v: unknown,
    ): { success: true; data: T } | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } }
  },
  json: unknown,
  what: string,
): T {
  const parsed = schema.safeParse(json)
  if (parsed.success) return parsed.data
  const issues = parsed.error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
    .join('; ')
  throw new MalformedPage(`${what} does not have the documented shape: ${issues}`)
}
