// The dashboard page: sign in with an API key, then live tiles, a GMV/orders chart and a panel per
// dashboard, each fed by a live topic, else by its HTTP route, else marked "not available yet".
import { messageOf } from '../../common/errors.ts'
import { type Api, ApiError, createApi, isMissingRoute } from './api.ts'
import { createSeriesChart } from './chart.ts'
import { fill, h } from './dom.ts'
import { type Formatters, formatAs, formatters, kindOf } from './format.ts'
import { type ConnectionState, type Live, createLive } from './live.ts'
import { type Range, describe, rangePicker, routeQuery, topicFilters } from './range.ts'
import { renderActivity, renderAlerts, renderAuto, renderChannels } from './render.ts'

const KEY_STORAGE = 'pulse.apiKey'
const app = document.getElementById('app')!

interface Kpis {
  currency: string
  timezone: string
  freshness?: Record<string, { latest_event_at: string; watermark: string; late_events: number }>
  by_channel?: Record<string, Record<string, never>>
  [key: string]: unknown
}

const TILES: [key: string, label: string][] = [
  ['gmv', 'GMV'],
  ['orders', 'Orders'],
  ['aov', 'AOV'],
  ['net_sales', 'Net sales'],
  ['refunds', 'Refunds'],
  ['refund_rate', 'Refund rate'],
  ['ad_spend', 'Ad spend'],
  ['attributed_revenue', 'Ad-driven revenue'],
  ['roas', 'ROAS'],
  ['mer', 'MER'],
  ['units', 'Units'],
  ['cancelled_orders', 'Cancelled'],
  // Shown once the KPI answer carries them (the profit figures of docs/metrics.md).
  ['gross_profit', 'Gross profit'],
  ['contribution_margin', 'Contribution margin'],
  ['margin', 'Margin'],
  ['poas', 'POAS'],
]

interface PanelSpec {
  id: string
  title: string
  topic?: string
  route?: string
  /** Takes the date range: `?from=&to=` on both topic and route. */
  ranged: boolean
  wide?: boolean
  render: (data: unknown, fmt: Formatters) => HTMLElement
}

const PANELS: PanelSpec[] = [
  {
    id: 'ads',
    title: 'Ads & brands',
    topic: 'dashboard:ads',
    route: '/v1/dashboards/ads',
    ranged: true,
    render: renderAuto,
  },
  {
    id: 'profit',
    title: 'Profit',
    topic: 'dashboard:profit',
    route: '/v1/dashboards/profit',
    ranged: true,
    render: renderAuto,
  },
  {
    id: 'funnel',
    title: 'Funnel',
    topic: 'dashboard:funnel',
    route: '/v1/dashboards/funnel',
    ranged: true,
    render: renderAuto,
  },
  {
    id: 'intent',
    title: 'Shopper intent',
    topic: 'dashboard:intent',
    route: '/v1/dashboards/intent',
    ranged: false,
    render: renderAuto,
  },
  {
    id: 'rfm',
    title: 'Customers (RFM)',
    topic: 'dashboard:rfm',
    route: '/v1/dashboards/rfm',
    ranged: true,
    wide: true,
    render: renderAuto,
  },
  {
    id: 'activity',
    title: 'Live activity',
    topic: 'activity',
    route: '/v1/activity?limit=50',
    ranged: false,
    render: renderActivity,
  },
]

// ── sign-in ──────────────────────────────────

function showSignIn(message?: string): void {
  const input = h('input', {
    name: 'key',
    type: 'password',
    placeholder: 'pk_…',
    autocomplete: 'off',
    required: true,
    'aria-label': 'API key',
  })
  const error = h('p', { class: 'error', role: 'alert' }, message ?? '')
  const button = h('button', { type: 'submit' }, 'Sign in')
  const form = h(
    'form',
    { id: 'signin', class: 'card signin' },
    h('h1', null, h('span', { class: 'logo' }, '◉'), ' Pulse'),
    h(
      'p',
      { class: 'muted' },
      'Live e-commerce analytics. Sign in with your API key (npm start prints the demo tenant’s).',
    ),
    input,
    button,
    error,
  )
  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    const key = input.value.trim()
    button.disabled = true
    error.textContent = ''
    try {
      const kpis = await createApi(key).get<Kpis>('/v1/metrics/kpis')
      sessionStorage.setItem(KEY_STORAGE, key)
      start(key, kpis)
    } catch (err) {
      error.textContent =
        err instanceof ApiError && err.status === 401
          ? 'That API key was not accepted.'
          : `Could not sign in: ${messageOf(err)}`
      button.disabled = false
    }
  })
  fill(app, h('div', { class: 'center' }, form))
  input.focus()
}

function signOut(message?: string): void {
  sessionStorage.removeItem(KEY_STORAGE)
  current?.live.close()
  current = undefined
  showSignIn(message)
}

// ── dashboard ─────────────────────────────────

let current: { live: Live } | undefined

function start(key: string, first: Kpis): void {
  const api = createApi(key)
  const fmt = formatters(first.currency, first.timezone)
  let range: Range = { preset: 'today' }

  const conn = h('span', { id: 'conn', class: 'conn', 'data-state': 'connecting' }, 'Connecting…')
  const setConn = (state: ConnectionState, detail: string) => {
    if (state === 'signed-out') return signOut(detail)
    conn.dataset.state = state
    conn.textContent = detail
  }
  const live = createLive({ token: () => api.liveToken(), onState: setConn })
  current = { live }

  const rangeLabel = h('span', { class: 'range-label' }, describe(range))
  const tiles = h('div', { class: 'tiles', id: 'tiles' })
  const freshness = h('p', { class: 'freshness muted', id: 'freshness' })
  const channels = h('div', { id: 'channels' }, h('p', { class: 'muted' }, 'Loading…'))
  const chartEl = h('div', { class: 'chart', id: 'chart' })
  const chartNote = h('p', { class: 'muted chart-note' })
  const alertsBody = h('div', { id: 'alerts-body' }, h('p', { class: 'muted' }, 'Loading…'))
  let interval: '1m' | '1h' | '1d' = '1m'
  const intervalButtons = (['1m', '1h', '1d'] as const).map((i) =>
    h(
      'button',
      {
        type: 'button',
        class: i === interval ? 'seg active' : 'seg',
        'data-interval': i,
        onclick: () => setInterval_(i),
      },
      { '1m': 'Minute', '1h': 'Hour', '1d': 'Day' }[i],
    ),
  )

  const header = h(
    'header',
    { class: 'top' },
    h('h1', null, h('span', { class: 'logo' }, '◉'), ' Pulse'),
    h('span', { class: 'muted tenant' }, `${fmt.currency} · ${fmt.timezone}`),
    h('span', { class: 'spacer' }),
    rangePicker(fmt.timezone, range, (r) => {
      range = r
      rangeLabel.textContent = describe(r)
      subscribeRanged()
    }),
    conn,
    h('button', { type: 'button', class: 'link', id: 'signout', onclick: () => signOut() }, 'Sign out'),
  )

  const panelEls = PANELS.map((spec) => mountPanel(spec, { api, live, fmt, range: () => range }))
  fill(
    app,
    header,
    h(
      'section',
      { class: 'card kpis', 'data-panel': 'kpis' },
      h('div', { class: 'card-head' }, h('h2', null, 'KPIs'), rangeLabel),
      tiles,
      freshness,
    ),
    h(
      'div',
      { class: 'grid' },
      h(
        'section',
        { class: 'card wide', 'data-panel': 'timeseries' },
        h(
          'div',
          { class: 'card-head' },
          h('h2', null, 'GMV and orders'),
          h('span', { class: 'segmented' }, ...intervalButtons),
        ),
        chartEl,
        chartNote,
      ),
      h(
        'section',
        { class: 'card', 'data-panel': 'alerts' },
        h('div', { class: 'card-head' }, h('h2', null, 'Alerts')),
        alertsBody,
      ),
      h(
        'section',
        { class: 'card', 'data-panel': 'channels' },
        h('div', { class: 'card-head' }, h('h2', null, 'Ads by channel')),
        channels,
      ),
      ...panelEls.map((p) => p.el),
    ),
  )

  // KPI tiles, freshness and channels: one `kpis` topic.
  const tileEls = new Map<string, HTMLElement>()
  for (const [k, label] of TILES) {
    const el = h(
      'div',
      { class: 'tile', 'data-kpi': k, hidden: true },
      h('span', { class: 'label' }, label),
      h('span', { class: 'value' }, '—'),
    )
    tileEls.set(k, el)
    tiles.append(el)
  }
  function showKpis(k: Kpis): void {
    for (const [key, el] of tileEls) {
      if (!(key in k)) continue
      const raw = k[key] === null ? 'null' : String(k[key])
      el.hidden = false
      if (el.dataset.value === raw) continue
      const changed = el.dataset.value !== undefined
      el.dataset.value = raw
      el.querySelector('.value')!.textContent = formatAs(fmt, kindOf(key, k[key]), k[key])
      if (changed) {
        el.classList.remove('flash')
        void el.offsetWidth
        el.classList.add('flash')
        el.addEventListener('animationend', () => el.classList.remove('flash'), { once: true })
      }
    }
    const sources = Object.entries(k.freshness ?? {})
    freshness.textContent =
      sources.length === 0
        ? 'No events yet.'
        : 'Latest events: ' +
          sources
            .map(
              ([s, f]) => `${s} ${fmt.dateTime(f.latest_event_at)}${f.late_events ? ` (${f.late_events} late)` : ''}`,
            )
            .join(' · ')
    fill(channels, renderChannels((k.by_channel ?? {}) as never, fmt))
  }
  showKpis(first)

  const chart = createSeriesChart(chartEl, fmt)
  let unsubs: (() => void)[] = []
  function subscribeRanged(): void {
    for (const u of unsubs) u()
    unsubs = []
    const filters = topicFilters(range, fmt.timezone)
    unsubs.push(
      live.subscribe(`kpis${filters}`, {
        data: (d) => showKpis(d as Kpis),
        error: (_c, m) => (freshness.textContent = `KPIs: ${m}`),
      }),
    )
    chart.clear()
    chartNote.textContent = ''
    // Today by the minute: the last two hours, a window that moves with the clock.
    const seriesFilters = range.preset === 'today' && interval === '1m' ? '?last=120' : filters
    const series = (metric: 'gmv' | 'orders', set: (points: never) => void) =>
      live.subscribe(`timeseries:${metric}:${interval}${seriesFilters}`, {
        data: (d) => set(d as never),
        error: (_c, m) => (chartNote.textContent = m),
      })
    unsubs.push(series('gmv', (p) => chart.setGmv(p)))
    unsubs.push(series('orders', (p) => chart.setOrders(p)))
    for (const p of panelEls) if (p.ranged) p.refresh()
  }
  function setInterval_(i: '1m' | '1h' | '1d'): void {
    interval = i
    for (const b of intervalButtons) b.classList.toggle('active', b.dataset.interval === i)
    subscribeRanged()
  }
  subscribeRanged()
  live.subscribe('alerts', {
    data: (d) => fill(alertsBody, renderAlerts(d, fmt)),
    error: (_c, m) => fill(alertsBody, h('p', { class: 'muted' }, m)),
  })
  for (const p of panelEls) if (!p.ranged) p.refresh()
}

// ── panels of the dashboards (docs/metrics.md) ──────────────────────

interface PanelContext {
  api: Api
  live: Live
  fmt: Formatters
  range: () => Range
}

const POLL_MS = 15_000

function mountPanel(spec: PanelSpec, ctx: PanelContext) {
  const body = h('div', { class: 'panel-body' }, h('p', { class: 'muted' }, 'Loading…'))
  const chip = h('span', { class: 'chip' }, '')
  const el = h(
    'section',
    { class: spec.wide ? 'card wide' : 'card', 'data-panel': spec.id, 'data-state': 'loading' },
    h('div', { class: 'card-head' }, h('h2', null, spec.title), chip),
    body,
  )
  let unsubscribe: (() => void) | undefined
  let poll: ReturnType<typeof setTimeout> | undefined
  let generation = 0

  const setState = (state: 'loading' | 'live' | 'polled' | 'unavailable' | 'error', text: string) => {
    el.dataset.state = state
    chip.textContent = text
    chip.className = `chip ${state}`
  }
  const show = (data: unknown) => fill(body, spec.render(data, ctx.fmt))

  async function fromRoute(gen: number): Promise<void> {
    if (!spec.route) {
      setState('unavailable', 'not available yet')
      return fill(body, h('p', { class: 'muted' }, 'Not available yet.'))
    }
    const query = spec.ranged ? routeQuery(ctx.range(), ctx.fmt.timezone) : ''
    const path = query ? `${spec.route}${spec.route.includes('?') ? '&' : '?'}${query}` : spec.route
    try {
      const data = await ctx.api.get(path)
      if (gen !== generation) return
      show(data)
      setState('polled', `updated ${new Date().toLocaleTimeString()}`)
      poll = setTimeout(() => void fromRoute(gen), POLL_MS)
    } catch (err) {
      if (gen !== generation) return
      if (isMissingRoute(err)) {
        setState('unavailable', 'not available yet')
        fill(body, h('p', { class: 'muted' }, 'Not available yet.'))
      } else {
        setState('error', 'error')
        fill(body, h('p', { class: 'error' }, messageOf(err)))
        poll = setTimeout(() => void fromRoute(gen), POLL_MS)
      }
    }
  }

  function refresh(): void {
    const gen = ++generation
    unsubscribe?.()
    clearTimeout(poll)
    setState('loading', 'loading')
    if (!spec.topic) return void fromRoute(gen)
    const topic = `${spec.topic}${spec.ranged ? topicFilters(ctx.range(), ctx.fmt.timezone) : ''}`
    unsubscribe = ctx.live.subscribe(topic, {
      data: (data) => {
        if (gen !== generation) return
        show(data)
        setState('live', 'live')
      },
      error: (code, message) => {
        if (gen !== generation) return
        unsubscribe?.()
        unsubscribe = undefined
        // No such topic (yet), or it takes no range: the HTTP route may still answer.
        if (code === 'unknown_topic' || code === 'bad_topic') return void fromRoute(gen)
        setState('error', 'error')
        fill(body, h('p', { class: 'error' }, message))
      },
    })
  }

  return { el, ranged: spec.ranged, refresh }
}

// ── boot ───────────────────────────────────

const saved = sessionStorage.getItem(KEY_STORAGE)
if (saved) {
  createApi(saved)
    .get<Kpis>('/v1/metrics/kpis')
    .then(
      (kpis) => start(saved, kpis),
      () => signOut('Please sign in again.'),
    )
} else showSignIn()
