// The date range of the dashboards that take one, in the tenant's timezone. "Today" and ranges that
// run up to now stay live: they go to topics without a `to`, so each update moves with the clock.
import { DateTime } from 'luxon'
import { h } from './dom.ts'

export type Preset = 'today' | 'yesterday' | '7d' | '30d' | 'custom'

export interface Range {
  preset: Preset
  /** Tenant-local dates, both inclusive (custom only). */
  from?: string
  to?: string
}

/** ISO instants for the range; undefined for today (every route's and topic's default). */
export function bounds(range: Range, timezone: string): { from: string; to?: string } | undefined {
  const today = DateTime.now().setZone(timezone).startOf('day')
  const iso = (d: DateTime) => d.toISO({ suppressMilliseconds: true })!
  switch (range.preset) {
    case 'today':
      return undefined
    case 'yesterday':
      return { from: iso(today.minus({ days: 1 })), to: iso(today) }
    case '7d':
      return { from: iso(today.minus({ days: 6 })) }
    case '30d':
      return { from: iso(today.minus({ days: 29 })) }
    case 'custom': {
      const from = DateTime.fromISO(range.from ?? '', { zone: timezone }).startOf('day')
      const end = DateTime.fromISO(range.to ?? range.from ?? '', { zone: timezone })
        .startOf('day')
        .plus({ days: 1 })
      if (!from.isValid || !end.isValid || end <= from) return undefined
      return end > DateTime.now() ? { from: iso(from) } : { from: iso(from), to: iso(end) }
    }
  }
}

/** `?from=…&to=…` for a topic (values percent-encoded: '+' of an offset must not become a space). */
export function topicFilters(range: Range, timezone: string, extra: Record<string, string> = {}): string {
  const b = bounds(range, timezone)
  const params: Record<string, string> = { ...extra, ...(b ? { from: b.from } : {}), ...(b?.to ? { to: b.to } : {}) }
  const keys = Object.keys(params).sort()
  return keys.length === 0 ? '' : `?${keys.map((k) => `${k}=${encodeURIComponent(params[k])}`).join('&')}`
}

export function routeQuery(range: Range, timezone: string): string {
  const b = bounds(range, timezone)
  if (!b) return ''
  const q = new URLSearchParams({ from: b.from, ...(b.to ? { to: b.to } : {}) })
  return q.toString()
}

const LABELS: Record<Preset, string> = {
  today: 'Today',
  yesterday: 'Yesterday',
  '7d': 'Last 7 days',
  '30d': 'Last 30 days',
  custom: 'Custom',
}

export function describe(range: Range): string {
  return range.preset === 'custom' ? `${range.from} → ${range.to}` : LABELS[range.preset]
}

/** The picker: presets, and two date inputs for a custom range. */
export function rangePicker(timezone: string, initial: Range, onChange: (range: Range) => void): HTMLElement {
  const today = DateTime.now().setZone(timezone).toISODate()!
  const fromInput = h('input', { type: 'date', name: 'from', value: today, max: today, 'aria-label': 'From date' })
  const toInput = h('input', { type: 'date', name: 'to', value: today, max: today, 'aria-label': 'To date' })
  const custom = h('span', { class: 'custom-range', hidden: initial.preset !== 'custom' }, fromInput, '→', toInput)
  const select = h(
    'select',
    { name: 'range', 'aria-label': 'Date range' },
    ...(Object.keys(LABELS) as Preset[]).map((p) =>
      h('option', { value: p, selected: p === initial.preset }, LABELS[p]),
    ),
  )
  const emit = () => {
    const preset = select.value as Preset
    custom.hidden = preset !== 'custom'
    if (preset === 'custom') {
      if (fromInput.value > toInput.value) toInput.value = fromInput.value
      onChange({ preset, from: fromInput.value, to: toInput.value })
    } else onChange({ preset })
  }
  select.addEventListener('change', emit)
  fromInput.addEventListener('change', emit)
  toInput.addEventListener('change', emit)
  return h(
    'label',
    { class: 'range-picker', title: `Dates in ${timezone}` },
    h('span', { class: 'muted' }, 'Range'),
    select,
    custom,
  )
}
