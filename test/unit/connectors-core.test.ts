// The connector core's pure parts: exact decimals, ids from content, big integers kept exact,
// credential sealing, redaction, Retry-After and back-off, and each API's usage headers.
import { describe, expect, it } from 'vitest'
import { createSealer } from '../../ingest/connectors/crypto.ts'
import { backoffMs, rateLimitHeaders, retryAfterMs } from '../../ingest/connectors/http.ts'
import { redact } from '../../ingest/connectors/pages.ts'
import { restateWindow } from '../../ingest/connectors/restate.ts'
import { amazonSp } from '../../ingest/connectors/sources/amazon-sp.ts'
import { googleAds } from '../../ingest/connectors/sources/google-ads.ts'
import { metaAds } from '../../ingest/connectors/sources/meta-ads.ts'
import { walmart } from '../../ingest/connectors/sources/walmart.ts'
import type { HttpResponse } from '../../ingest/connectors/types.ts'
import {
  absDec,
  dayStart,
  divDec,
  microsToDec,
  mulDec,
  parseJson,
  quoteBigIntegers,
  subDec,
  sumDec,
  withId,
} from '../../ingest/connectors/values.ts'

/** The moment the usage hooks are told an answer came. */
const T0 = Date.UTC(2026, 2, 2, 10, 0)

const res = (headers: Record<string, string>, text = '', status = 200): HttpResponse => ({
  status,
  headers: new Headers(headers),
  text,
  url: 'http://x/',
})

describe('exact decimals', () => {
  it.each([
    [['0.1', '0.2'], '0.3'],
    [[29.99, 2.4, 15, 1.2], '48.59'],
    [['-10.00', '-0.80'], '-10.8'],
    [[], '0'],
  ])('sums %j to %s', (values, sum) => expect(sumDec(values as (string | number)[])).toBe(sum))

  it('subtracts, multiplies, divides and converts micros without floating point', () => {
    expect(subDec('256.24', '20.00')).toBe('236.24')
    expect(mulDec('0.0075', 4000)).toBe('30')
    expect(mulDec('0.001', 1500)).toBe('1.5')
    expect(divDec('39.98', 2)).toBe('19.99')
    expect(divDec('10', 3)).toBe('3.333333')
    expect(microsToDec('40100000')).toBe('40.1')
    expect(microsToDec('1234567')).toBe('1.234567')
    expect(absDec(-0.8)).toBe('0.8')
  })

  it('refuses what is not an amount', () => expect(() => sumDec(['n/a'])).toThrow(/not a decimal amount/))
})

describe('ids from content', () => {
  it('gives the same id to the same content, whatever the key order, and a new id to new content', () => {
    const a = withId('meta_ads:1:facebook:2026-03-10', { spend: '20.00', reported_at: 'x', platform: 'facebook' })
    const b = withId('meta_ads:1:facebook:2026-03-10', { platform: 'facebook', reported_at: 'x', spend: '20.00' })
    const c = withId('meta_ads:1:facebook:2026-03-10', { platform: 'facebook', reported_at: 'x', spend: '35.00' })
    expect(a.id).toBe(b.id)
    expect(c.id).not.toBe(a.id)
    expect(a.id).toMatch(/^meta_ads:1:facebook:2026-03-10#[\w-]{16}$/)
  })

  it('keeps ids printable ASCII (they become Nats-Msg-Id headers)', () => {
    expect(withId('klaviyo:email:Frühling 🌸', {}).id).toMatch(/^[\x21-\x7e]+$/)
  })
})

describe('big integers', () => {
  it('keeps 64-bit ids exact as strings, and leaves strings, decimals and small numbers alone', () => {
    const text =
      '{"id":820982911946154508,"note":"call 123456789012345678","price":"199.00",' +
      '"n":-1234567890123456789,"x":[1.5,12,9007199254740993e0]}'
    expect(parseJson(text)).toEqual({
      id: '820982911946154508',
      note: 'call 123456789012345678',
      price: '199.00',
      n: '-1234567890123456789',
      x: [1.5, 12, 9007199254740992],
    })
    expect(quoteBigIntegers('{"a":"\\"","b":1234567890123456}')).toBe('{"a":"\\"","b":"1234567890123456"}')
  })
})

describe('days', () => {
  it('starts a day in the tenant’s timezone', () => {
    expect(dayStart('2026-03-10', 'UTC')).toBe('2026-03-10T00:00:00Z')
    expect(dayStart('2026-03-10', 'Asia/Kolkata')).toBe('2026-03-10T00:00:00+05:30')
  })
})

describe('credentials at rest', () => {
  const sealer = createSealer('a-secret-key-of-at-least-32-characters!!')

  it('opens what it sealed, for the same connector only', () => {
    const sealed = sealer.seal('{"access_token":"EAAB"}', 'acme/con_1')
    expect(sealed).not.toContain('EAAB')
    expect(sealer.open(sealed, 'acme/con_1')).toBe('{"access_token":"EAAB"}')
    expect(() => sealer.open(sealed, 'other/con_1')).toThrow()
    expect(() => createSealer('another-secret-key-of-at-least-32-chars').open(sealed, 'acme/con_1')).toThrow()
  })

  it('detects tampering', () => {
    const [v, iv, tag, body] = sealer.seal('secret', 'ctx').split('.')
    // Another base64 digit in the second-to-last place (the last may carry padding bits only).
    const flipped = body.slice(0, -2) + (body.at(-2) === 'A' ? 'B' : 'A') + body.slice(-1)
    expect(() => sealer.open([v, iv, tag, flipped].join('.'), 'ctx')).toThrow()
  })

  it('redacts tokens echoed in bodies', () => {
    expect(redact('{"next":"https://graph.facebook.com/v21.0/act_1/insights?access_token=EAAB123&after=x"}')).toBe(
      '{"next":"https://graph.facebook.com/v21.0/act_1/insights?access_token=REDACTED&after=x"}',
    )
    expect(redact('{"access_token":"Atza|abc","token_type":"bearer"}')).toBe(
      '{"access_token":"REDACTED","token_type":"bearer"}',
    )
  })
})

describe('rate limits', () => {
  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(retryAfterMs('2', 0)).toBe(2000)
    expect(retryAfterMs('Wed, 21 Oct 2026 07:28:10 GMT', Date.parse('Wed, 21 Oct 2026 07:28:00 GMT'))).toBe(10_000)
    expect(retryAfterMs(null, 0)).toBeUndefined()
    expect(retryAfterMs('soon', 0)).toBeUndefined()
  })

  it('reads backfill_days on a first sync, then again restate_days before where the last one ended', () => {
    const config = { backfill_days: 30, restate_days: 3 }
    const tenant = { id: 'acme', timezone: 'America/New_York', currency: 'USD' }
    // 10:00 UTC is 05:00 in New York: the tenant's today is 2026-03-02.
    expect(restateWindow({ cursor: undefined, now: () => T0, tenant }, config)).toEqual({
      since: '2026-02-01',
      until: '2026-03-02',
    })
    expect(restateWindow({ cursor: { until: '2026-02-27' }, now: () => T0, tenant }, config)).toEqual({
      since: '2026-02-24',
      until: '2026-03-02',
    })
  })

  it('backs off exponentially with jitter, capped at a minute', () => {
    expect(backoffMs(1000, 0, () => 0)).toBe(500)
    expect(backoffMs(1000, 3, () => 1)).toBe(8000)
    expect(backoffMs(1000, 20, () => 1)).toBe(60_000)
  })

  it('Meta: waits out estimated_time_to_regain_access, and slows down near 100 %', () => {
    const buc = (e: object) =>
      res({
        'x-business-use-case-usage': JSON.stringify({
          '123': [{ type: 'ads_insights', call_count: 10, total_cputime: 5, total_time: 5, ...e }],
        }),
      })
    expect(metaAds.usage!(buc({ estimated_time_to_regain_access: 0 }), 'insights', new Map(), 0)).toBeUndefined()
    expect(metaAds.usage!(buc({ estimated_time_to_regain_access: 3 }), 'insights', new Map(), 0)).toBe(180_000)
    expect(metaAds.usage!(buc({ call_count: 97 }), 'insights', new Map(), 0)).toBe(60_000)
    expect(
      metaAds.usage!(
        res({ 'x-ad-account-usage': '{"acc_id_util_pct":99,"reset_time_duration":120}' }),
        'insights',
        new Map(),
        0,
      ),
    ).toBe(120_000)
  })

  it('Google: reads retryDelay from a RESOURCE_EXHAUSTED body', () => {
    expect(
      googleAds.retryDelay!(
        res({}, '{"error":{"details":[{"errors":[{"details":{"quotaErrorDetails":{"retryDelay":"30s"}}}]}]}}', 429),
      ),
    ).toBe(30_000)
  })

  it('Amazon: a token bucket per operation, burst from the docs and rate from x-amzn-RateLimit-Limit', () => {
    const memo = new Map<string, unknown>()
    const waits = Array.from({ length: 21 }, () =>
      amazonSp.usage!(res({ 'x-amzn-ratelimit-limit': '0.0167' }), 'getOrders', memo, T0),
    )
    expect(waits.slice(0, 20).every((w) => w === undefined)).toBe(true) // burst of 20
    expect(waits[20]).toBe(59_881) // then one token per 1 / 0.0167 s
  })

  it('Walmart and IETF RateLimit headers: wait for the replenish time when no tokens are left', () => {
    const tokens = (left: string) => res({ 'x-current-token-count': left, 'x-next-replenish-time': String(T0 + 5_000) })
    expect(walmart.usage!(tokens('0'), 'orders', new Map(), T0)).toBe(5_000)
    expect(walmart.usage!(tokens('4'), 'orders', new Map(), T0)).toBeUndefined()
    expect(rateLimitHeaders(res({ 'ratelimit-remaining': '0', 'ratelimit-reset': '7' }))).toBe(7_000)
    expect(rateLimitHeaders(res({ 'ratelimit-remaining': '3', 'ratelimit-reset': '7' }))).toBeUndefined()
  })
})
