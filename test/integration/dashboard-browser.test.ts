// The dashboard page at `/` in a real headless Chromium (Debian's /usr/bin/chromium, driven
// by playwright-core; no browser is downloaded). A tenant seeded with a day of the demo
// marketplace's traffic; sign in with its API key; every tile shows exactly what
// /v1/metrics/kpis returns, in the tenant's currency; an order posted to /v1/events moves the GMV
// tile (and the activity feed, once that topic exists) without a reload. The screenshot goes to the
// test's DATA_DIR, or to docs/dashboard.png with UPDATE_SCREENSHOT=1 (`npm run screenshot`).
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { type BrowserContext, type Page, chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { alertsAnswer } from '../../alerts/routes.ts'
import { createDemoGenerator } from '../../app/demo-traffic.ts'
import { kpisAnswer } from '../../query/metrics-routes.ts'
import { type App, createTenant, getJson, postEvents, startApp, waitFor, waitForKpis } from './harness.ts'

const CHROMIUM = '/usr/bin/chromium'
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

let app: App
let key: string
let browser: BrowserContext
let page: Page
const pageErrors: string[] = []

// How each tile is written, by hand: en-US (the browser's locale here), the tenant's INR.
const inr = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'INR' })
const plain = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 })
const pct = new Intl.NumberFormat('en-US', { style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 1 })
const times = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })
const expectedText: Record<string, (v: any) => string> = {
  gmv: (v) => inr.format(v),
  aov: (v) => inr.format(v),
  net_sales: (v) => inr.format(v),
  refunds: (v) => inr.format(v),
  ad_spend: (v) => inr.format(v),
  attributed_revenue: (v) => inr.format(v),
  gross_profit: (v) => inr.format(v),
  contribution_margin: (v) => inr.format(v),
  orders: (v) => plain.format(v),
  units: (v) => plain.format(v),
  cancelled_orders: (v) => plain.format(v),
  refund_rate: (v) => (v === null ? '—' : pct.format(v)),
  margin: (v) => (v === null ? '—' : pct.format(v)),
  roas: (v) => (v === null ? '—' : `${times.format(v)}×`),
  mer: (v) => (v === null ? '—' : `${times.format(v)}×`),
  poas: (v) => (v === null ? '—' : `${times.format(v)}×`),
}

beforeAll(async () => {
  app = await startApp()
  key = await createTenant(app, { id: 'bazaar', name: 'Bazaar', currency: 'INR', timezone: 'Asia/Kolkata' })
  // The demo marketplace's day so far: orders on every channel, refunds, ad statements, shoppers.
  const now = Date.now()
  const dayStart = now - ((now + 330 * 60_000) % 86_400_000)
  const events = createDemoGenerator(7).backfill(dayStart, now)
  expect((await postEvents(app, key, events)).status).toBe(202)
  const orders = new Set(events.filter((e) => e.type === 'order.created').map((e) => e.order_id)).size
  await waitForKpis(app, key, '', (k) => k.orders === orders)
  browser = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'pulse-chromium-')), {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    locale: 'en-US',
    viewport: { width: 1440, height: 1300 },
  })
  page = browser.pages()[0] ?? (await browser.newPage())
  page.on('pageerror', (err) => pageErrors.push(err.message))
})

afterAll(async () => {
  await browser?.close()
  await app?.kill()
})

const tiles = () =>
  page.$$eval('[data-kpi]:not([hidden])', (els) =>
    els.map((el) => ({
      kpi: (el as HTMLElement).dataset.kpi!,
      value: (el as HTMLElement).dataset.value!,
      text: el.querySelector('.value')!.textContent!,
    })),
  )

describe('the dashboard page', () => {
  it('signs in with an API key and shows exactly the KPIs of /v1/metrics/kpis', async () => {
    await page.goto(app.url)
    await page.fill('#signin input[name=key]', 'pk_bazaar_wrong')
    await page.click('#signin button[type=submit]')
    await page.waitForSelector('#signin .error:has-text("not accepted")')

    await page.fill('#signin input[name=key]', key)
    await page.click('#signin button[type=submit]')
    await page.waitForSelector('#conn[data-state="live"]')
    await page.waitForSelector('[data-panel="timeseries"] #chart[data-points]')

    const http = (await getJson(app, key, '/v1/metrics/kpis', kpisAnswer)).body
    const shown = await tiles()
    expect(shown.map((t) => t.kpi)).toEqual(
      expect.arrayContaining([
        'gmv',
        'orders',
        'aov',
        'net_sales',
        'refunds',
        'refund_rate',
        'ad_spend',
        'roas',
        'mer',
      ]),
    )
    for (const t of shown) {
      expect(t.value, t.kpi).toBe(String(http[t.kpi]))
      if (expectedText[t.kpi]) expect(t.text, t.kpi).toBe(expectedText[t.kpi](http[t.kpi]))
    }
    expect(shown.find((t) => t.kpi === 'gmv')!.text).toMatch(/^₹[\d,]+\.\d\d$/)

    // Ads by channel: one row per channel of the KPI answer, ROAS as the answer has it.
    const rows = await page.$$eval('#channels tr[data-channel]', (trs) =>
      trs.map((tr) => [(tr as HTMLElement).dataset.channel!, tr.lastElementChild!.textContent!]),
    )
    expect(Object.fromEntries(rows)).toEqual(
      Object.fromEntries(Object.entries(http.by_channel).map(([ch, r]) => [ch, expectedText.roas(r.roas)])),
    )

    // The alerts panel lists what /v1/alerts has firing: the demo's day can trip a default rule
    // (once: gross margin −5.0 % over the hour to 05:08 IST).
    await waitFor(async () => {
      const { firing } = (await getJson(app, key, '/v1/alerts', alertsAnswer)).body
      const shownAlerts = await page.$$eval('[data-panel="alerts"] ul.alerts li', (lis) =>
        lis.map((li) => li.textContent ?? ''),
      )
      const allClear = (await page.textContent('[data-panel="alerts"]'))?.includes('No alerts firing')
      const same =
        firing.length === 0
          ? allClear && shownAlerts.length === 0
          : shownAlerts.length === firing.length && firing.every((f, i) => shownAlerts[i].includes(f.message))
      return same ? true : undefined
    }, 'the alerts panel showing what /v1/alerts has firing')
    expect(Number(await page.getAttribute('#chart', 'data-points'))).toBe(120) // the last two hours by the minute
    // Every dashboard panel settles: live, from its route, or "not available yet"; never broken.
    await page.waitForFunction(() =>
      [...document.querySelectorAll('[data-panel][data-state]')].every((el) =>
        ['live', 'polled', 'unavailable'].includes((el as HTMLElement).dataset.state!),
      ),
    )
    expect(pageErrors).toEqual([])
  })

  it('moves the GMV tile and the activity feed when an order arrives, without a reload', async () => {
    await page.evaluate(() => ((window as any).__sameDocument = true))
    const before = (await getJson(app, key, '/v1/metrics/kpis', kpisAnswer)).body
    const activityState = await page.getAttribute('[data-panel="activity"]', 'data-state')
    const order = {
      id: 'e-browser-order',
      type: 'order.created',
      ts: Date.now(),
      source: 'shopify',
      order_id: 'browser-order',
      customer_id: 'cust_browser',
      total: '1234.50',
      subtotal: '1100.00',
      tax: '134.50',
      items: [{ sku: 'sku-browser', quantity: 1, price: '1100.00' }],
      channel: 'google',
    }
    expect((await postEvents(app, key, [order])).status).toBe(202)
    const after = await waitForKpis(app, key, '', (k) => k.orders === Number(before.orders) + 1)
    await page.waitForSelector(`[data-kpi="gmv"][data-value="${after.gmv}"]`)
    expect((await tiles()).find((t) => t.kpi === 'gmv')!.text).toBe(expectedText.gmv(after.gmv))
    await page.waitForSelector(`[data-kpi="orders"][data-value="${after.orders}"]`)

    if (activityState === 'live' || activityState === 'polled') {
      await page.waitForSelector('[data-panel="activity"] li[data-event-id="e-browser-order"]', { timeout: 30_000 })
    } else {
      console.log(`activity feed: ${activityState} (no activity topic or route yet), not asserted`)
    }
    expect(await page.evaluate(() => (window as any).__sameDocument)).toBe(true)
    expect(pageErrors).toEqual([])
  })

  it('saves a screenshot', async () => {
    const path = process.env.UPDATE_SCREENSHOT
      ? resolve(import.meta.dirname, '../../docs/dashboard.png')
      : join(app.dataDir, 'dashboard.png')
    // Let the order's highlight fade before the picture.
    await waitFor(async () => ((await page.$('.tile.flash')) ? undefined : true), 'no tile flashing', 5_000).catch(
      () => {},
    )
    await page.screenshot({ path, fullPage: true })
    console.log(`screenshot: ${path}`)
  })
})
