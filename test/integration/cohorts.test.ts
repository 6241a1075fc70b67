// Cohorts and CAC (docs/metrics.md, "Cohorts, LTV, CAC and payback") against the real app: several
// cohorts across months and weeks in a tenant's time zone, guests, a cancelled first order,
// refunds before and after as_of, ad spend on two channels and a marketing cost, and an edit that
// moves an order to another customer; every figure against a plain computation, to the cent, then
// the same after a restart with the stream in worker threads (answered through app/forward.ts);
// other tenants see only their own cohorts; bad parameters are refused naming the parameter.
import { DateTime } from 'luxon'
import { afterAll, describe, expect, it } from 'vitest'
import { cacAnswer, cohortsAnswer } from '../../query/cohort-routes.ts'
import { type App, createTenant, errorSchema, getJson, postEvents, startApp, waitFor } from './harness.ts'

const ZONE = 'America/New_York'
const DAY = 86_400_000
/** A tenant-local wall-clock time. */
const local = (text: string) => DateTime.fromISO(`2026-${text}`, { zone: ZONE }).toMillis()
const FROM = local('01-01T00:00:00')
const TO = local('04-01T00:00:00')
const AS_OF = local('11-01T00:00:00')
const HORIZONS = [30, 60, 90, 180, 365]

const cents = (money: string) => Math.round(Number(money) * 100)
const money = (minor: number) => `${minor < 0 ? '-' : ''}${(Math.abs(minor) / 100).toFixed(2)}`
/** Half away from zero, as the app rounds averages of money. */
const perCustomer = (minor: number, n: number) =>
  n === 0 ? null : money(Math.sign(minor) * Math.round(Math.abs(minor) / n))
let eventNo = 0

function orderEvent(
  type: string,
  id: string,
  ts: number,
  customer: string | null,
  subtotal: string,
  cost: string,
  channel: string,
) {
  return {
    id: `e-${++eventNo}`,
    type,
    ts,
    source: 'shopify',
    order_id: id,
    ...(customer ? { customer_id: customer } : {}),
    channel,
    total: subtotal,
    subtotal,
    items: [{ sku: `sku-${id}`, quantity: 1, price: subtotal, cost }],
  }
}
const created = (
  id: string,
  when: string,
  customer: string | null,
  subtotal: string,
  cost: string,
  channel = 'organic',
) => orderEvent('order.created', id, local(when), customer, subtotal, cost, channel)
const refund = (order: string, when: string, subtotal: string) => ({
  id: `e-${++eventNo}`,
  type: 'refund.created',
  ts: local(when),
  source: 'shopify',
  order_id: order,
  refund_id: `rf-${eventNo}`,
  amount: subtotal,
  subtotal,
})
const cancelled = (order: string, when: string) => ({
  id: `e-${++eventNo}`,
  type: 'order.cancelled',
  ts: local(when),
  source: 'shopify',
  order_id: order,
})
const spend = (platform: string, day: string, amount: string) => ({
  id: `e-${++eventNo}`,
  type: 'ad.spend',
  ts: local(`${day}T00:00:00`),
  source: platform,
  platform,
  campaign_id: `${platform}-spring`,
  spend: amount,
})
const marketing = (platform: string, day: string, amount: string) => ({
  id: `e-${++eventNo}`,
  type: 'marketing.cost',
  ts: local(`${day}T00:00:00`),
  source: platform,
  platform,
  amount,
})

const first = [
  // c-a: January (facebook), back in February and April; an April refund.
  created('o-a1', '01-10T10:00:00', 'c-a', '120.00', '40.00', 'facebook'),
  created('o-a2', '02-15T10:00:00', 'c-a', '80.00', '30.00', 'google'),
  created('o-a3', '04-01T09:00:00', 'c-a', '200.00', '90.00'),
  refund('o-a3', '04-05T12:00:00', '25.50'),
  // c-b: a cancelled first order late on 31 January local time (1 February in UTC) is still the first.
  created('o-b1', '01-31T23:30:00', 'c-b', '60.00', '20.00', 'google'),
  cancelled('o-b1', '02-01T08:00:00'),
  created('o-b2', '03-03T11:00:00', 'c-b', '45.45', '15.15', 'google'),
  // c-c: February, organic, twice the same month.
  created('o-c1', '02-02T10:00:00', 'c-c', '30.00', '10.00'),
  created('o-c2', '02-20T10:00:00', 'c-c', '33.33', '11.11'),
  // Guests: in no cohort.
  created('o-g1', '01-15T10:00:00', null, '999.00', '1.00', 'facebook'),
  created('o-g2', '02-10T10:00:00', null, '55.00', '5.00'),
  // c-d: March (google); a refund before as_of and one after it.
  created('o-d1', '03-09T10:00:00', 'c-d', '150.00', '50.00', 'google'),
  refund('o-d1', '03-20T10:00:00', '10.01'),
  refund('o-d1', '11-15T10:00:00', '20.00'),
  // c-e: January (facebook), again in February; c-f: March, then an edit gives it c-e's January order.
  created('o-e1', '01-20T10:00:00', 'c-e', '70.00', '21.00', 'facebook'),
  created('o-e2', '02-25T10:00:00', 'c-e', '40.00', '12.00'),
  created('o-f1', '03-15T10:00:00', 'c-f', '90.00', '30.00', 'facebook'),
  // c-h first ordered in December 2025, before the range, and is back in it: in no cohort of the range.
  { ...created('o-h1', '01-01T00:00:00', 'c-h', '10.00', '1.00'), ts: FROM - 12 * DAY },
  created('o-h2', '02-11T10:00:00', 'c-h', '20.00', '2.00', 'facebook'),
  // Spend: facebook and google ad spend, a marketing cost (klaviyo), one statement after the range.
  spend('facebook', '01-05', '50.00'),
  spend('facebook', '01-20', '30.00'),
  spend('facebook', '02-03', '40.00'),
  spend('google', '01-10', '20.00'),
  spend('google', '03-01', '60.00'),
  marketing('klaviyo', '02-01', '15.00'),
  spend('google', '05-01', '99.00'),
]
// The January order o-e1 was c-f's: c-f becomes a January customer, c-e a February one.
const edit = [orderEvent('order.updated', 'o-e1', local('03-16T10:00:00'), 'c-f', '70.00', '21.00', 'facebook')]

interface Order {
  id: string
  customer: string
  ts: number
  figuresTs: number
  subtotal: number
  cogs: number
  channel: string
}

function replay(events: any[]) {
  const orders = new Map<string, Order>()
  const refunds: { order: string; ts: number; subtotal: number }[] = []
  const statements: { channel: string; ts: number; cost: number }[] = []
  for (const e of events) {
    if (e.type === 'order.created' || e.type === 'order.updated') {
      const old = orders.get(e.order_id)
      const figures = {
        customer: e.customer_id ?? '',
        subtotal: cents(e.subtotal),
        cogs: cents(e.items[0].cost),
        channel: e.channel,
      }
      if (!old) orders.set(e.order_id, { id: e.order_id, ts: e.ts, figuresTs: e.ts, ...figures })
      else if (e.ts >= old.figuresTs) orders.set(e.order_id, { ...old, ...figures, figuresTs: e.ts })
    }
    if (e.type === 'refund.created') refunds.push({ order: e.order_id, ts: e.ts, subtotal: cents(e.subtotal) })
    if (e.type === 'ad.spend') statements.push({ channel: e.platform, ts: e.ts, cost: cents(e.spend) })
    if (e.type === 'marketing.cost') statements.push({ channel: e.platform, ts: e.ts, cost: cents(e.amount) })
  }
  return { orders: [...orders.values()], refunds, statements }
}

/** The plain computation of both answers for one `by`. */
function expected(events: any[], by: 'month' | 'week', from: number, to: number, asOf: number) {
  const s = replay(events)
  const periodOf = (ts: number) => DateTime.fromMillis(ts, { zone: ZONE }).startOf(by)
  const keyOf = (ts: number) => (by === 'month' ? periodOf(ts).toFormat('yyyy-MM') : periodOf(ts).toISODate()!)
  const keys: string[] = []
  const starts: DateTime[] = []
  for (let p = periodOf(from); p.toMillis() < Math.max(to, asOf); p = p.plus({ [by]: 1 })) {
    keys.push(keyOf(p.toMillis()))
    starts.push(p)
  }
  const cohorts = keys.indexOf(keyOf(to - 1)) + 1
  const last = keys.indexOf(keyOf(asOf - 1))
  const refunded = (o: Order) =>
    s.refunds.filter((r) => r.order === o.id && r.ts < asOf).reduce((sum, r) => sum + r.subtotal, 0)
  const revenue = (o: Order) => o.subtotal - refunded(o)
  const profit = (o: Order) => revenue(o) - o.cogs
  const customers = [...new Set(s.orders.map((o) => o.customer).filter((c) => c !== ''))]
  const ordersOf = (c: string) => s.orders.filter((o) => o.customer === c && o.ts < asOf)
  const firstOf = (c: string) => [...ordersOf(c)].sort((a, b) => a.ts - b.ts)[0]
  const members = (i: number) => customers.filter((c) => firstOf(c) && keyOf(firstOf(c).ts) === keys[i])
  const dayKey = (ts: number) => DateTime.fromMillis(ts, { zone: ZONE }).toISODate()!

  const matrix = (metric: string, cumulative: boolean) =>
    Array.from({ length: cohorts }, (_, i) => {
      const group = members(i)
      let value = 0
      let rev = 0
      let gp = 0
      const periods = Array.from({ length: Math.max(0, last - i + 1) }, (_, k) => {
        const cell = group.flatMap(ordersOf).filter((o) => keyOf(o.ts) === keys[i + k])
        const figure = {
          customers: new Set(cell.map((o) => o.customer)).size,
          orders: cell.length,
          revenue: cell.reduce((sum, o) => sum + revenue(o), 0),
          gross_profit: cell.reduce((sum, o) => sum + profit(o), 0),
        }[metric]!
        value = cumulative ? value + figure : figure
        rev += cell.reduce((sum, o) => sum + revenue(o), 0)
        gp += cell.reduce((sum, o) => sum + profit(o), 0)
        return {
          period: k,
          t: starts[i + k].toISO({ suppressMilliseconds: true }),
          value: metric === 'revenue' || metric === 'gross_profit' ? money(value) : value,
          ltv_revenue: perCustomer(rev, group.length),
          ltv_gross_profit: perCustomer(gp, group.length),
        }
      })
      return { cohort: keys[i], t: starts[i].toISO({ suppressMilliseconds: true }), size: group.length, periods }
    })

  function acquisition(i: number, group: string[], statements: typeof s.statements) {
    const cost = statements.reduce((sum, st) => sum + st.cost, 0)
    const end = starts[i].plus({ [by]: 1 }).toMillis()
    const ltv = HORIZONS.map((days) => {
      if (group.length === 0 || end + days * DAY > asOf)
        return { days, revenue: null, gross_profit: null, revenue_to_cac: null, gross_profit_to_cac: null }
      const within = group.flatMap((c) => ordersOf(c).filter((o) => o.ts - firstOf(c).ts < days * DAY))
      const rev = within.reduce((sum, o) => sum + revenue(o), 0)
      const gp = within.reduce((sum, o) => sum + profit(o), 0)
      return {
        days,
        revenue: perCustomer(rev, group.length),
        gross_profit: perCustomer(gp, group.length),
        revenue_to_cac: cost === 0 ? null : rev / cost,
        gross_profit_to_cac: cost === 0 ? null : gp / cost,
      }
    })
    let payback: string | null = null
    if (cost > 0 && group.length > 0) {
      const sorted = group.flatMap(ordersOf).sort((a, b) => a.ts - b.ts)
      let sum = 0
      for (const [k, o] of sorted.entries()) {
        sum += profit(o)
        // Reached on a day once the day's orders are all in.
        if (sum >= cost && (k === sorted.length - 1 || dayKey(sorted[k + 1].ts) !== dayKey(o.ts))) {
          payback = dayKey(o.ts)
          break
        }
      }
    }
    const ad = statements.filter((st) => st.channel !== 'klaviyo').reduce((sum, st) => sum + st.cost, 0)
    return {
      new_customers: group.length,
      ad_spend: money(ad),
      marketing_cost: money(cost - ad),
      cac: perCustomer(cost, group.length),
      ltv,
      payback_day: payback,
      payback_days:
        payback === null ? null : Math.round(DateTime.fromISO(payback, { zone: ZONE }).diff(starts[i], 'days').days),
    }
  }
  const cac = Array.from({ length: cohorts }, (_, i) => {
    const group = members(i)
    const statements = s.statements.filter((st) => keyOf(st.ts) === keys[i] && st.ts < asOf)
    const channelOf = (c: string) => firstOf(c).channel
    const channels = [...new Set([...statements.map((st) => st.channel), ...group.map(channelOf)])].sort()
    return {
      cohort: keys[i],
      t: starts[i].toISO({ suppressMilliseconds: true }),
      ...acquisition(i, group, statements),
      by_channel: channels.map((channel) => ({
        channel,
        ...acquisition(
          i,
          group.filter((c) => channelOf(c) === channel),
          statements.filter((st) => st.channel === channel),
        ),
      })),
    }
  })
  return { matrix, cac }
}

let app: App | undefined
afterAll(async () => app?.kill())

const iso = (ms: number) => encodeURIComponent(new Date(ms).toISOString())
const range = `from=${iso(FROM)}&to=${iso(TO)}&as_of=${iso(AS_OF)}`
const METRICS = ['customers', 'orders', 'revenue', 'gross_profit'] as const

describe('cohorts, CAC and payback', () => {
  let key = ''

  /** Every answer against the plain computation; the answers, for after a restart. */
  async function check(events: any[]): Promise<unknown[]> {
    const answers: unknown[] = []
    for (const by of ['month', 'week'] as const) {
      const want = expected(events, by, FROM, TO, AS_OF)
      for (const metric of METRICS)
        for (const cumulative of metric === 'customers' ? [false] : [false, true]) {
          const path = `/v1/dashboards/cohorts?${range}&by=${by}&metric=${metric}&cumulative=${cumulative}`
          const { status, body } = await getJson(app!, key, path, cohortsAnswer)
          expect(status, path).toBe(200)
          expect(body.cohorts, path).toEqual(want.matrix(metric, cumulative))
          expect([body.from, body.to, body.as_of, body.timezone, body.by]).toEqual([
            new Date(FROM).toISOString(),
            new Date(TO).toISOString(),
            new Date(AS_OF).toISOString(),
            ZONE,
            by,
          ])
          answers.push(body)
        }
      const path = `/v1/dashboards/cac?${range}&by=${by}`
      const { status, body } = await getJson(app!, key, path, cacAnswer)
      expect(status, path).toBe(200)
      expect(body.cohorts, path).toEqual(want.cac)
      answers.push(body)
    }
    return answers
  }

  const cohortSizes = async () =>
    (await getJson(app!, key, `/v1/dashboards/cohorts?${range}`, cohortsAnswer)).body.cohorts.map((c) => c.size)
  const waitApplied = (events: any[]) => {
    const want = expected(events, 'month', FROM, TO, AS_OF).matrix('revenue', false)
    return waitFor(async () => {
      const { body } = await getJson(app!, key, `/v1/dashboards/cohorts?${range}&metric=revenue`, cohortsAnswer)
      return JSON.stringify(body.cohorts) === JSON.stringify(want) ? body : undefined
    }, 'the events applied')
  }

  it('answers the matrix, LTV, CAC and payback of a plain computation', async () => {
    app = await startApp()
    key = await createTenant(app, { id: 'coh', timezone: ZONE, currency: 'USD' })
    expect((await postEvents(app, key, first)).status).toBe(202)
    await waitApplied(first)
    // January: c-a, c-b (cancelled first order late on 31 January), c-e; February: c-c; March: c-d, c-f.
    expect(await cohortSizes()).toEqual([3, 1, 2])
    const want = expected(first, 'month', FROM, TO, AS_OF).cac
    // The data set reaches payback in some cohorts and not in others, and has LTVs not yet complete.
    expect(want.map((c) => c.payback_day !== null)).toContain(true)
    expect(want.flatMap((c) => c.by_channel.map((ch) => ch.payback_day === null))).toContain(true)
    expect(want[0].ltv.at(-1)!.revenue).toBeNull()
    await check(first)
  })

  let before: unknown[] = []
  it('follows an edit that moves an order to another customer, at once and after a restart on worker threads', async () => {
    const all = [...first, ...edit]
    expect((await postEvents(app!, key, edit)).status).toBe(202)
    await waitApplied(all)
    // c-f is a January customer now, c-e a February one.
    expect(await cohortSizes()).toEqual([3, 2, 1])
    before = await check(all)
    await app!.kill('SIGTERM')
    // The stream in worker threads: the API thread forwards these routes to the partition's owner.
    app = await startApp({ dataDir: app!.dataDir, env: { STREAM_WORKERS: '2' } })
    await waitApplied(all)
    expect(await check(all)).toEqual(before)
  })

  it('keeps tenants apart', async () => {
    const other = await createTenant(app!, { id: 'coh-other', timezone: 'UTC', currency: 'EUR' })
    const empty = await createTenant(app!, { id: 'coh-empty', timezone: 'UTC', currency: 'USD' })
    const events = [{ ...created('o-x1', '02-10T10:00:00', 'c-a', '12.34', '2.00'), id: 'other-1' }]
    expect((await postEvents(app!, other, events)).status).toBe(202)
    const path = `/v1/dashboards/cohorts?${range}&metric=revenue`
    const mine = await waitFor(async () => {
      const { body } = await getJson(app!, other, path, cohortsAnswer)
      return body.cohorts.some((c) => c.size > 0) ? body : undefined
    }, 'the other tenant’s order')
    expect(mine.currency).toBe('EUR')
    // Only its own customer c-a, in February: none of the first tenant's. In UTC the range
    // (midnight in New York) touches April too.
    expect(mine.cohorts.map((c) => [c.cohort, c.size, c.periods[0].value])).toEqual([
      ['2026-01', 0, '0.00'],
      ['2026-02', 1, '12.34'],
      ['2026-03', 0, '0.00'],
      ['2026-04', 0, '0.00'],
    ])
    const nothing = (await getJson(app!, empty, `/v1/dashboards/cac?${range}`, cacAnswer)).body
    expect(nothing.cohorts.map((c) => [c.new_customers, c.ad_spend, c.cac, c.by_channel.length])).toEqual(
      Array.from({ length: 4 }, () => [0, '0.00', null, 0]),
    )
    // The first tenant's answers are unchanged.
    expect(await check([...first, ...edit])).toEqual(before)
  })

  it('refuses bad parameters, naming them', async () => {
    const refused = async (query: string, parameter: string) => {
      for (const route of ['cohorts', 'cac']) {
        if (route === 'cac' && (parameter === 'metric' || parameter === 'cumulative')) continue
        const { status, body } = await getJson(app!, key, `/v1/dashboards/${route}?${query}`, errorSchema)
        expect(status, `${route}?${query}`).toBe(400)
        expect(body.error.message, `${route}?${query}`).toContain(parameter)
      }
    }
    await refused('by=year', 'by')
    await refused('metric=profit', 'metric')
    await refused('cumulative=yes&metric=orders', 'cumulative')
    await refused('cumulative=true', 'cumulative')
    await refused(`from=${iso(TO)}&to=${iso(FROM)}`, 'from')
    await refused(`from=${iso(FROM)}&to=${iso(FROM + 800 * DAY)}`, 'to - from')
    await refused('as_of=yesterday', 'as_of')
  })
})
