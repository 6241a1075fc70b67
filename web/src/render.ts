// Renderers. The dashboards (docs/metrics.md) arrive in their own shapes; `renderAuto` draws any
// of them sensibly (scalars as figures, `[{label, count}]` as bars, lists of records as tables,
// nested objects as sections), so a new field shows up without a page change. Known shapes
// (KPI tiles, channels, activity, alerts) have their own.
import { type Child, h, humanize } from './dom.ts'
import { type Formatters, formatAs, kindOf } from './format.ts'

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }
const isRecord = (v: unknown): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v)
const isScalar = (v: unknown) => v === null || ['string', 'number', 'boolean'].includes(typeof v)

const ECHOED = new Set(['currency', 'timezone', 'from', 'to', 'as_of', 'freshness'])

export function renderAuto(data: unknown, fmt: Formatters, depth = 0): HTMLElement {
  if (Array.isArray(data)) return renderArray(data as Json[], fmt, depth, '')
  if (!isRecord(data)) return h('p', { class: 'figure' }, formatAs(fmt, kindOf('', data), data))
  // The header already says the currency, timezone and range; freshness is on the KPI card.
  const entries = Object.entries(data).filter(([k]) => depth > 0 || !ECHOED.has(k))
  const figures = entries.filter(([, v]) => isScalar(v))
  const nested = entries.filter(([, v]) => !isScalar(v))
  return h(
    'div',
    { class: `auto depth-${depth}` },
    figures.length > 0 ? h('div', { class: 'figures' }, ...figures.map(([k, v]) => figure(k, v, fmt))) : null,
    ...nested.map(([k, v]) =>
      h(
        'section',
        { class: 'sub', 'data-field': k },
        h('h4', null, humanize(k)),
        depth >= 3
          ? h('pre', null, JSON.stringify(v, null, 1))
          : Array.isArray(v)
            ? renderArray(v, fmt, depth + 1, k)
            : keyedTable(v as Record<string, Json>, fmt, depth + 1),
      ),
    ),
  )
}

function figure(key: string, value: unknown, fmt: Formatters): HTMLElement {
  return h(
    'div',
    { class: 'mini', 'data-field': key },
    h('span', { class: 'label' }, humanize(key)),
    h('span', { class: 'value' }, formatAs(fmt, kindOf(key, value), value)),
  )
}

function renderArray(items: Json[], fmt: Formatters, depth: number, key: string): HTMLElement {
  if (items.length === 0) return h('p', { class: 'muted' }, 'Nothing yet.')
  if (items.every((i) => isRecord(i) && 'label' in i && ('count' in i || 'value' in i)))
    return bars(items as Record<string, Json>[], fmt, key)
  if (items.every(isRecord)) return table(items as Record<string, Json>[], fmt)
  return h(
    'ul',
    { class: 'plain' },
    ...items.map((i) => h('li', null, isScalar(i) ? formatAs(fmt, kindOf(key, i), i) : renderAuto(i, fmt, depth + 1))),
  )
}

/** `[{label, count}]`, in the order given (docs/metrics.md orders the buckets). */
function bars(items: Record<string, Json>[], fmt: Formatters, key: string): HTMLElement {
  const valueKey = 'count' in items[0] ? 'count' : 'value'
  const max = Math.max(1, ...items.map((i) => Number(i[valueKey]) || 0))
  return h(
    'div',
    { class: 'bars' },
    ...items.map((i) => {
      const v = Number(i[valueKey]) || 0
      return h(
        'div',
        { class: 'bar-row', 'data-label': String(i.label) },
        h('span', { class: 'bar-label' }, String(i.label)),
        h('span', { class: 'bar-track' }, h('span', { class: 'bar', style: `width:${((v / max) * 100).toFixed(1)}%` })),
        h(
          'span',
          { class: 'bar-value' },
          formatAs(fmt, kindOf(valueKey === 'count' ? 'count' : key, i[valueKey]), i[valueKey]),
        ),
      )
    }),
  )
}

function table(rows: Record<string, Json>[], fmt: Formatters): HTMLElement {
  const columns = [...new Set(rows.slice(0, 50).flatMap((r) => Object.keys(r)))].slice(0, 9)
  return scrollingTable(
    h('tr', null, ...columns.map((c) => h('th', { class: numericColumn(rows, c) ? 'num' : '' }, humanize(c)))),
    rows.slice(0, 200).map((r) => h('tr', null, ...columns.map((c) => cell(c, r[c], fmt, numericColumn(rows, c))))),
  )
}

/** A table in its scrolling wrapper: one header row, then the body rows. */
function scrollingTable(headRow: HTMLElement, bodyRows: HTMLElement[]): HTMLElement {
  return h('div', { class: 'table-wrap' }, h('table', null, h('thead', null, headRow), h('tbody', null, ...bodyRows)))
}

const numericColumn = (rows: Record<string, Json>[], c: string) =>
  rows.some((r) => ['money', 'count', 'percent', 'multiple', 'percent100'].includes(kindOf(c, r[c])))

function cell(key: string, value: Json | undefined, fmt: Formatters, numeric: boolean): HTMLElement {
  const text =
    value === undefined ? '' : isScalar(value) ? formatAs(fmt, kindOf(key, value), value) : JSON.stringify(value)
  return h('td', { class: numeric ? 'num' : '' }, text)
}

/** `{facebook: {gmv, roas…}, google: {…}}` as a table with the key as first column. */
function keyedTable(obj: Record<string, Json>, fmt: Formatters, depth: number): HTMLElement {
  const entries = Object.entries(obj)
  if (entries.length > 0 && entries.every(([, v]) => isRecord(v)))
    return table(
      entries.map(([k, v]) => ({ name: k, ...(v as Record<string, Json>) })),
      fmt,
    )
  return renderAuto(obj, fmt, depth)
}

const CHANNEL_COLUMNS: [string, string][] = [
  ['gmv', 'GMV'],
  ['orders', 'Orders'],
  ['attributed_revenue', 'Ad revenue'],
  ['ad_spend', 'Ad spend'],
  ['roas', 'ROAS'],
]

/** Ads by channel from the KPI answer's `by_channel`, biggest spenders first. */
export function renderChannels(byChannel: Record<string, Record<string, Json>>, fmt: Formatters): HTMLElement {
  const rows = Object.entries(byChannel).sort(
    ([, a], [, b]) => Number(b.ad_spend) - Number(a.ad_spend) || Number(b.gmv) - Number(a.gmv),
  )
  if (rows.length === 0) return h('p', { class: 'muted' }, 'No orders or ad spend in this range yet.')
  const maxSpend = Math.max(1, ...rows.map(([, r]) => Number(r.ad_spend) || 0))
  return scrollingTable(
    h('tr', null, h('th', null, 'Channel'), ...CHANNEL_COLUMNS.map(([, label]) => h('th', { class: 'num' }, label))),
    rows.map(([channel, r]) =>
      h(
        'tr',
        { 'data-channel': channel },
        h(
          'td',
          null,
          channel,
          h('span', {
            class: 'spend-bar',
            style: `width:${(((Number(r.ad_spend) || 0) / maxSpend) * 100).toFixed(0)}%`,
          }),
        ),
        ...CHANNEL_COLUMNS.map(([key]) => h('td', { class: 'num' }, formatAs(fmt, kindOf(key, r[key]), r[key]))),
      ),
    ),
  )
}

interface ActivityItem {
  event_id?: string
  type?: string
  ts?: string
  customer_id?: string | null
  amount?: string | null
  description?: string
}

/** The activity feed: an array of items, or an object holding one. */
export function activityItems(data: unknown): ActivityItem[] {
  if (Array.isArray(data)) return data as ActivityItem[]
  if (isRecord(data)) for (const v of Object.values(data)) if (Array.isArray(v)) return v as ActivityItem[]
  return []
}

export function renderActivity(data: unknown, fmt: Formatters): HTMLElement {
  const items = activityItems(data)
  if (items.length === 0) return h('p', { class: 'muted' }, 'No activity yet.')
  return h(
    'ol',
    { class: 'feed' },
    ...items
      .slice(0, 50)
      .map((i) =>
        h(
          'li',
          { 'data-event-id': i.event_id ?? '', 'data-type': i.type ?? '' },
          h('time', null, i.ts ? fmt.time(i.ts) : ''),
          h('span', { class: `badge type-${(i.type ?? '').replace(/\W+/g, '-')}` }, i.type ?? 'event'),
          h(
            'span',
            { class: 'what' },
            i.description ?? '',
            i.customer_id ? h('span', { class: 'muted' }, ` · ${i.customer_id}`) : null,
          ),
          h('span', { class: 'num' }, i.amount != null ? fmt.money(i.amount) : ''),
        ),
      ),
  )
}

export function renderAlerts(data: unknown, fmt: Formatters): HTMLElement {
  const items = activityItems(data) as Record<string, Json>[]
  if (items.length === 0) return h('p', { class: 'all-clear' }, '✓ No alerts firing')
  const text = (i: Record<string, Json>): Child =>
    String(i.message ?? i.title ?? i.description ?? i.rule ?? JSON.stringify(i))
  return h(
    'ul',
    { class: 'alerts' },
    ...items.map((i) =>
      h(
        'li',
        { class: `severity-${String(i.severity ?? 'warning')}` },
        h('strong', null, String(i.severity ?? 'alert')),
        ' ',
        text(i),
        i.at || i.ts ? h('time', null, ` ${fmt.time(String(i.at ?? i.ts))}`) : null,
      ),
    ),
  )
}
