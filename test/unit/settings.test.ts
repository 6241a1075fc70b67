// Tenant settings: the schema's defaults (docs/operations.md), settings messages in the event stream
// (decodeEvent), and the pure helpers of /v1/settings (mergePatch, parseSkuCostsCsv).
import { describe, it, expect } from 'vitest'
import { HttpError } from '../../common/errors.ts'
import { defaultSettings, settingsSchema } from '../../common/settings.ts'
import { mergePatch, parseSkuCostsCsv } from '../../ingest/settings-route.ts'
import { SETTINGS_TYPE, decodeEvent } from '../../stream/decode.ts'

const T = Date.parse('2026-11-22T10:00:00Z')

describe('settings schema', () => {
  it('defaults to 40 % COGS, intent weights 1/1/3/5, 24 h half-life, high ≥ 10, medium ≥ 4, 5 min lateness', () => {
    expect(defaultSettings()).toMatchObject({
      default_cogs_rate: 0.4,
      sku_costs: {},
      intent: {
        weights: { 'product.viewed': 1, search: 1, 'cart.added': 3, 'checkout.started': 5 },
        half_life_hours: 24,
        high: 10,
        medium: 4,
      },
      currency_rates: {},
      allowed_lateness_seconds: 300,
      fiscal_year_start_month: 4,
    })
  })

  it('fills defaults inside a partial nested object', () => {
    expect(settingsSchema.parse({ intent: { weights: { search: 2 } } }).intent).toEqual({
      weights: { 'product.viewed': 1, search: 2, 'cart.added': 3, 'checkout.started': 5 },
      half_life_hours: 24,
      high: 10,
      medium: 4,
    })
  })

  it.each([
    [{ default_cogs_rate: 1.5 }, 'default_cogs_rate'],
    [{ default_cogs_rate: -0.1 }, 'default_cogs_rate'],
    [{ sku_costs: { a: '12,50' } }, 'sku_costs.a'],
    [{ sku_costs: { a: 12.5 } }, 'sku_costs.a'],
    [{ intent: { half_life_hours: 0 } }, 'intent.half_life_hours'],
    [{ currency_rates: { XXY: '1.0' } }, 'currency_rates.XXY'],
    [{ allowed_lateness_seconds: 1.5 }, 'allowed_lateness_seconds'],
    [{ fiscal_year_start_month: 0 }, 'fiscal_year_start_month'],
    [{ fiscal_year_start_month: 13 }, 'fiscal_year_start_month'],
    [{ fiscal_year_start_month: 4.5 }, 'fiscal_year_start_month'],
    [{ fiscal_year_start_month: '4' }, 'fiscal_year_start_month'],
  ])('rejects %j at %s', (input, path) => {
    const parsed = settingsSchema.safeParse(input)
    expect(parsed.success).toBe(false)
    expect(parsed.error?.issues.map((i) => i.path.join('.'))).toContain(path)
  })
})

describe('decodeEvent', () => {
  it('decodes a settings message, filling defaults', () => {
    const body = JSON.stringify({
      id: 'settings-1',
      type: SETTINGS_TYPE,
      ts: T,
      source: 'pulse',
      settings: { default_cogs_rate: 0.35, sku_costs: { 'SKU-1': '1.50' } },
    })
    expect(decodeEvent(body)).toEqual({
      ok: true,
      kind: 'settings',
      id: 'settings-1',
      ts: T,
      source: 'pulse',
      settings: settingsSchema.parse({ default_cogs_rate: 0.35, sku_costs: { 'SKU-1': '1.50' } }),
    })
  })

  it('an empty settings object is the defaults', () => {
    const decoded = decodeEvent(JSON.stringify({ id: 's', type: 'settings.updated', ts: T, settings: {} }))
    expect(decoded).toMatchObject({ ok: true, kind: 'settings', settings: defaultSettings() })
  })

  it('refuses settings that fail the schema, naming the path', () => {
    const decoded = decodeEvent(
      JSON.stringify({ id: 's', type: 'settings.updated', ts: T, settings: { default_cogs_rate: 2 } }),
    )
    expect(decoded).toMatchObject({ ok: false, reason: 'invalid_event' })
    expect(decoded.ok === false && decoded.detail).toMatch(/^default_cogs_rate: /)
  })

  it.each([
    ['no id', { type: 'settings.updated', ts: T, settings: {} }],
    ['a string ts', { id: 's', type: 'settings.updated', ts: '2026-11-22T10:00:00Z', settings: {} }],
    ['no ts', { id: 's', type: 'settings.updated', settings: {} }],
  ])('refuses a settings message with %s', (_label, message) => {
    expect(decodeEvent(JSON.stringify(message))).toEqual({
      ok: false,
      reason: 'invalid_event',
      detail: 'settings message without id or ts',
    })
  })

  it('refuses a settings message without settings, at the root', () => {
    const decoded = decodeEvent(JSON.stringify({ id: 's', type: 'settings.updated', ts: T }))
    expect(decoded).toMatchObject({ ok: false, reason: 'invalid_event' })
    expect(decoded.ok === false && decoded.detail).toMatch(/^\(root\): /)
  })

  it('decodes an ordinary event', () => {
    const decoded = decodeEvent(
      JSON.stringify({
        id: 'e-1',
        type: 'cart.added',
        ts: '2026-11-22T15:30:00+05:30',
        source: 'shopify',
        customer_id: 'c-1',
      }),
    )
    expect(decoded).toEqual({
      ok: true,
      kind: 'event',
      event: { id: 'e-1', type: 'cart.added', ts: T, source: 'shopify', customer_id: 'c-1' },
    })
  })

  it('refuses an invalid event with each issue and its path', () => {
    const decoded = decodeEvent(
      JSON.stringify({
        id: 'e-1',
        type: 'order.created',
        ts: T,
        source: 'shopify',
        order_id: 'o-1',
        total: '-1',
        subtotal: 'x',
      }),
    )
    expect(decoded).toMatchObject({ ok: false, reason: 'invalid_event' })
    const detail = decoded.ok === false ? decoded.detail : ''
    expect(detail).toContain('total: ')
    expect(detail).toContain('subtotal: ')
  })

  it.each([
    ['an unknown type', JSON.stringify({ id: 'e', type: 'nope', ts: T, source: 'x' }), 'invalid_event'],
    ['null', 'null', 'invalid_event'],
    ['a number', '42', 'invalid_event'],
    ['broken JSON', '{"id":', 'bad_json'],
    ['an empty body', '', 'bad_json'],
  ])('refuses %s', (_label, body, reason) => {
    expect(decodeEvent(body)).toMatchObject({ ok: false, reason })
  })
})

describe('mergePatch (RFC 7396)', () => {
  // The examples of RFC 7396 Appendix A, in order.
  it.each([
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [
      ['a', 'b'],
      ['c', 'd'],
      ['c', 'd'],
    ],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ a: 'foo' }, 'bar', 'bar'],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ])('%j patched with %j is %j', (target, patch, expected) => {
    expect(mergePatch(target, patch)).toEqual(expected)
  })

  it('does not change its target', () => {
    const target = { a: { b: 1, c: 2 }, d: 3 }
    const before = structuredClone(target)
    expect(mergePatch(target, { a: { b: null, e: 5 }, d: null })).toEqual({ a: { c: 2, e: 5 } })
    expect(target).toEqual(before)
  })

  it('patches one nested setting and keeps the rest', () => {
    const current = settingsSchema.parse({ default_cogs_rate: 0.3, sku_costs: { a: '1.00', b: '2.00' } })
    const next = settingsSchema.parse(mergePatch(current, { intent: { high: 12 }, sku_costs: { a: null, c: '3.00' } }))
    expect(next).toEqual({ ...current, intent: { ...current.intent, high: 12 }, sku_costs: { b: '2.00', c: '3.00' } })
  })

  it('a null for a defaulted key puts its default back once parsed', () => {
    const current = settingsSchema.parse({ default_cogs_rate: 0.3 })
    expect(settingsSchema.parse(mergePatch(current, { default_cogs_rate: null })).default_cogs_rate).toBe(0.4)
  })
})

describe('parseSkuCostsCsv', () => {
  it('reads sku,cost lines, with or without a header, CRLF or LF, blank lines and quotes', () => {
    expect(parseSkuCostsCsv('sku,cost\nA-1,12.50\r\nB-2 , 3 \n\n"C-3","4.00"\n')).toEqual({
      'A-1': '12.50',
      'B-2': '3',
      'C-3': '4.00',
    })
    expect(parseSkuCostsCsv('A-1,12.50')).toEqual({ 'A-1': '12.50' })
    expect(parseSkuCostsCsv('SKU , Unit Cost\r\nA-1,0')).toEqual({ 'A-1': '0' })
  })

  it('an empty file or a header alone is no costs', () => {
    expect(parseSkuCostsCsv('')).toEqual({})
    expect(parseSkuCostsCsv('sku,cost\n')).toEqual({})
  })

  it('a later line for the same SKU wins', () => {
    expect(parseSkuCostsCsv('A,1.00\nA,2.00')).toEqual({ A: '2.00' })
  })

  it('refuses the whole file with a 400 listing every bad line by its index', () => {
    let error: unknown
    try {
      parseSkuCostsCsv('sku,cost\nA,1.00\nB,abc\nC\nD,1,2\n,5\nE,1e3\nsku,cost')
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(HttpError)
    const e = error as HttpError
    expect(e.status).toBe(400)
    expect(e.code).toBe('bad_request')
    expect((e.details as { index: number }[]).map((d) => d.index)).toEqual([2, 3, 4, 5, 6, 7])
    expect((e.details as { message: string }[])[0].message).toBe('expected "sku,cost" with a decimal cost, got "B,abc"')
  })
})
