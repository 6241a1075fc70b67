// `npm run bench:query [-- --events 10000000 --runs 30]` (not part of npm test): dashboard query
// latency over a long history. N events of one tenant over a year are generated inside ClickHouse
// (INSERT … SELECT FROM numbers(), straight into pulse.events, with their minute rollups; the
// hourly rollup fills through its materialised view), kept in .bench-data/query for later runs.
// Then, in the same run, p50/p99 of:
//   - the routes as served (Hono handlers of metricsRoutes in this process, uncached reader),
//   - the same figures by a plain GROUP BY over the raw events table,
//   - the same figures from rollup_hour (whole hours) + rollup_minute (the edges): what the reader
//     would do with the hourly rollup (docs/architecture.md, "Rollups"), checked equal to the route's answer,
//   - a cache hit (query/cache.ts),
// and the ratio of each to the route. RFM has a slot below, to fill when its route reads history.
import { existsSync, mkdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { ClickHouseClient } from '@clickhouse/client'
import { migrate, openClickHouse, rows, createMetricsReader } from '../clickhouse/index.ts'
import type { TenantRegistry } from '../tenants/index.ts'
import { createCachedReader, metricsRoutes } from '../query/index.ts'
import { MEASURES, createLiveState, createProcessor } from '../stream/index.ts'
import { flagValue } from './kernel.ts'
import { machineLine } from './machine.ts'

const TENANT = { id: 'bench', name: 'Bench', timezone: 'UTC', currency: 'USD', created_at: '2025-01-01T00:00:00Z' }
const KEY = 'pk_bench'
const START = Date.parse('2025-01-01T00:00:00Z')
const SPAN = 365 * 86_400_000
const END = START + SPAN
const DAY = 86_400_000

async function generate(client: ClickHouseClient, n: number): Promise<void> {
  console.log(`generating ${n.toLocaleString('en')} events over 365 days in ClickHouse …`)
  const t = Date.now()
  for (const table of ['events', 'rollup_minute', 'rollup_hour'])
    await client.command({ query: `TRUNCATE TABLE IF EXISTS pulse.${table}` })
  // 95 % orders (10.00–509.99, five channels, three sources), 5 % refunds of an earlier order.
  // The format() patterns of the raw JSON, joined here so that the SQL lines stay short.
  const refundFormat = [
    '{{"id":"e{0}","type":"refund.created","ts":"{1}","source":"{2}",',
    '"order_id":"o{3}","amount":"{4}"}}',
  ].join('')
  const orderFormat = [
    '{{"id":"e{0}","type":"order.created","ts":"{1}","source":"{2}","order_id":"o{0}","customer_id":"c{3}",',
    '"total":"{4}","subtotal":"{4}","items":[{{"sku":"s{5}","quantity":1,"price":"{4}"}}],"channel":"{6}"}}',
  ].join('')
  await client.command({
    query: `INSERT INTO pulse.events (tenant, event_id, type, source, ts, received_at, seq, flush_id, fx, raw)
      SELECT 'bench', concat('e', toString(number)), if(number % 20 = 19, 'refund.created', 'order.created'),
             ['shopify', 'amazon', 'walmart'][1 + number % 3],
             ts, ts, number, 1 + intDiv(number, 100000), '',
             if(number % 20 = 19,
                format('${refundFormat}',
                       toString(number), toString(ts), ['shopify', 'amazon', 'walmart'][1 + number % 3],
                       toString(number - 1), toString(toDecimal64(5 + number % 50, 2))),
                format('${orderFormat}',
                       toString(number), toString(ts), ['shopify', 'amazon', 'walmart'][1 + number % 3],
                       toString(number % 100000), toString(toDecimal64(10 + (number * 7919) % 50000 / 100, 2)),
                       toString(number % 500),
                       ['organic', 'facebook', 'google', 'instagram', 'zepto'][1 + intDiv(number, 3) % 5]))
      FROM (SELECT number, toDateTime64(${START / 1000} + intDiv(number * ${SPAN / 1000}, ${n}), 3, 'UTC') AS ts
            FROM numbers(${n}))
      SETTINGS max_insert_threads = 2`,
  })
  // Minute rollups, as the flusher writes them (money in minor units, signed).
  const total = "toInt64(round(toFloat64OrZero(JSONExtractString(raw, 'total')) * 100))"
  const amount = "toInt64(round(toFloat64OrZero(JSONExtractString(raw, 'amount')) * 100))"
  const order = "type = 'order.created'"
  const refund = "type = 'refund.created'"
  const measure: Record<string, string> = {
    gmv: `sumIf(${total}, ${order})`,
    orders: `countIf(${order})`,
    units: `countIf(${order})`,
    subtotal: `sumIf(${total}, ${order})`,
    attributed_revenue: `sumIf(${total}, ${order} AND JSONExtractString(raw, 'channel') != 'organic')`,
    refunds: `sumIf(${amount}, ${refund})`,
    refund_subtotal: `sumIf(${amount}, ${refund})`,
    refund_count: `countIf(${refund})`,
  }
  await client.command({
    query: `INSERT INTO pulse.rollup_minute
        (tenant, minute, local_day, source, channel, flush_id, ${MEASURES.join(', ')})
      SELECT tenant, toStartOfMinute(ts) AS minute, toDate(ts, 'UTC') AS local_day, source,
             if(${refund}, '', JSONExtractString(raw, 'channel')) AS channel, flush_id,
             ${MEASURES.map((m) => `${measure[m] ?? '0'} AS ${m}`).join(', ')}
      FROM pulse.events WHERE tenant = 'bench' GROUP BY tenant, minute, local_day, source, channel, flush_id`,
  })
  console.log(`  done in ${((Date.now() - t) / 1000).toFixed(1)} s`)
}

interface Sample {
  p50: number
  p99: number
  n: number
}

async function measure(fn: () => Promise<unknown>, runs: number, budgetMs = 30_000): Promise<Sample> {
  for (let i = 0; i < 2; i++) await fn()
  const times: number[] = []
  const until = Date.now() + budgetMs
  while (times.length < runs && (times.length < 5 || Date.now() < until)) {
    const t = performance.now()
    await fn()
    times.push(performance.now() - t)
  }
  times.sort((a, b) => a - b)
  const at = (q: number) => times[Math.min(times.length - 1, Math.ceil(q * times.length) - 1)]
  return { p50: at(0.5), p99: at(0.99), n: times.length }
}

const ms = (v: number) => (v < 10 ? v.toFixed(2) : v.toFixed(1)).padStart(8)

/** KPI measures per (source, channel) over [from, to) from rollup_hour's whole hours and rollup_minute's edges. */
function hourRollupSql(from: number, to: number): string {
  const h0 = Math.ceil(from / 3_600_000) * 3600
  const h1 = Math.floor(to / 3_600_000) * 3600
  const sums = MEASURES.map((m) => `sum(${m}) AS ${m}`).join(', ')
  const edges =
    h0 <= h1
      ? `(minute >= toDateTime(${from / 1000}) AND minute < toDateTime(${h0}))
         OR (minute >= toDateTime(${h1}) AND minute < toDateTime(${to / 1000}))`
      : `minute >= toDateTime(${from / 1000}) AND minute < toDateTime(${to / 1000})`
  return `SELECT source, channel, ${sums} FROM (
      SELECT source, channel, ${MEASURES.join(', ')} FROM pulse.rollup_hour
      WHERE tenant = 'bench' AND minute >= toDateTime(${h0}) AND minute < toDateTime(${Math.max(h0, h1)})
      UNION ALL
      SELECT source, channel, ${MEASURES.join(', ')} FROM pulse.rollup_minute WHERE tenant = 'bench' AND (${edges}))
    GROUP BY source, channel`
}

function rawKpiSql(from: number, to: number): string {
  return `SELECT source, JSONExtractString(raw, 'channel') AS channel,
      sumIf(toDecimal64OrZero(JSONExtractString(raw, 'total'), 2), type = 'order.created') AS gmv,
      countIf(type = 'order.created') AS orders,
      sumIf(toDecimal64OrZero(JSONExtractString(raw, 'amount'), 2), type = 'refund.created') AS refunds
    FROM pulse.events
    WHERE tenant = 'bench' AND ts >= toDateTime64(${from / 1000}, 3) AND ts < toDateTime64(${to / 1000}, 3)
    GROUP BY source, channel`
}

function rawSeriesSql(from: number, to: number, interval: '1h' | '1d'): string {
  const bin = interval === '1h' ? 'toStartOfHour(ts)' : "toDate(ts, 'UTC')"
  return `SELECT ${bin} AS bin,
      sumIf(toDecimal64OrZero(JSONExtractString(raw, 'total'), 2), type = 'order.created') AS gmv
    FROM pulse.events
    WHERE tenant = 'bench' AND ts >= toDateTime64(${from / 1000}, 3) AND ts < toDateTime64(${to / 1000}, 3)
    GROUP BY bin`
}

function hourSeriesSql(from: number, to: number, interval: '1h' | '1d'): string {
  const bin = interval === '1h' ? 'minute' : 'local_day'
  return `SELECT ${bin} AS bin, sum(gmv) AS gmv FROM pulse.rollup_hour
    WHERE tenant = 'bench' AND minute >= toDateTime(${from / 1000}) AND minute < toDateTime(${to / 1000})
    GROUP BY bin`
}

export async function runQueryBench(argv: string[] = process.argv.slice(2)): Promise<void> {
  const n = Number(flagValue(argv, '--events') ?? 10_000_000)
  const runs = Number(flagValue(argv, '--runs') ?? 30)
  const dir = resolve(flagValue(argv, '--dir') ?? join(import.meta.dirname, '..', '.bench-data', 'query'))
  mkdirSync(dir, { recursive: true })
  console.log(machineLine())
  const client = openClickHouse({ path: join(dir, 'clickhouse') })
  try {
    await migrate(client)
    const [{ c }] = await rows<{ c: string }>(client, "SELECT count() AS c FROM pulse.events WHERE tenant = 'bench'")
    if (Number(c) !== n || !existsSync(join(dir, 'clickhouse'))) await generate(client, n)
    else console.log(`reusing ${n.toLocaleString('en')} events in ${dir}`)
    const [size] = await rows<{ rows_minute: string; rows_hour: string }>(
      client,
      "SELECT (SELECT count() FROM pulse.rollup_minute WHERE tenant = 'bench') AS rows_minute, " +
        "(SELECT count() FROM pulse.rollup_hour WHERE tenant = 'bench') AS rows_hour",
    )
    console.log(
      `history: ${n.toLocaleString('en')} events, ` +
        `${Number(size.rows_minute).toLocaleString('en')} rollup_minute rows, ` +
        `${Number(size.rows_hour).toLocaleString('en')} rollup_hour rows\n`,
    )

    const processor = createProcessor({ dedupHorizonMs: 72 * 3_600_000, latenessMs: 300_000 })
    const reader = createMetricsReader({ client, live: createLiveState(), processor })
    const cached = createCachedReader(reader)
    const tenants = {
      authenticate: async (key: string) => (key === KEY ? TENANT : undefined),
      get: async () => TENANT,
    } as unknown as TenantRegistry
    const app = metricsRoutes({ tenants, reader, now: () => END })
    const route = async (path: string) => {
      const res = await app.request(path, { headers: { authorization: `Bearer ${KEY}` } })
      if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`)
      return res.json()
    }
    const iso = (t: number) => new Date(t).toISOString()

    const cases: { name: string; from: number; to: number; series?: '1h' | '1d' }[] = [
      { name: 'KPIs, last day', from: END - DAY, to: END },
      { name: 'KPIs, last 30 days', from: END - 30 * DAY, to: END },
      { name: 'KPIs, 365 days', from: START, to: END },
      { name: 'timeseries gmv 1h, 7 days', from: END - 7 * DAY, to: END, series: '1h' },
      { name: 'timeseries gmv 1d, 365 days', from: START, to: END, series: '1d' },
    ]
    console.log(
      `${'p50 / p99 in ms'.padEnd(30)} ${'route'.padStart(17)} ${'raw GROUP BY'.padStart(17)} ${'ratio'.padStart(6)} ` +
        `${'hourly rollup'.padStart(17)} ${'ratio'.padStart(6)} ${'cache hit'.padStart(17)}`,
    )
    for (const c of cases) {
      const path = c.series
        ? `/v1/metrics/timeseries?metric=gmv&interval=${c.series}&from=${iso(c.from)}&to=${iso(c.to)}`
        : `/v1/metrics/kpis?from=${iso(c.from)}&to=${iso(c.to)}`
      const answer = (await route(path)) as any
      const raw = c.series ? rawSeriesSql(c.from, c.to, c.series) : rawKpiSql(c.from, c.to)
      const hourly = c.series ? hourSeriesSql(c.from, c.to, c.series) : hourRollupSql(c.from, c.to)
      // The three ways agree on GMV before they are timed.
      const rawRows = await rows<{ gmv: string }>(client, raw)
      const hourRows = await rows<{ gmv: string }>(client, hourly)
      const routeGmv = c.series
        ? (answer as { value: string }[]).reduce((s, p) => s + Math.round(Number(p.value) * 100), 0)
        : Math.round(Number(answer.gmv) * 100)
      const rawGmv = Math.round(rawRows.reduce((s, r) => s + Number(r.gmv), 0) * 100)
      const hourGmv = hourRows.reduce((s, r) => s + Number(r.gmv), 0)
      if (routeGmv !== rawGmv || routeGmv !== hourGmv)
        throw new Error(`${c.name}: GMV differs: route ${routeGmv}, raw ${rawGmv}, hourly ${hourGmv}`)

      const r = await measure(() => route(path), runs)
      const g = await measure(() => rows(client, raw), runs)
      const h = await measure(() => rows(client, hourly), runs)
      const tenant = { id: TENANT.id, timezone: TENANT.timezone, currency: TENANT.currency }
      const hit = await measure(
        () =>
          c.series
            ? cached.timeseries(tenant, { from: c.from, to: c.to, view: 'transaction_date', interval: c.series })
            : cached.kpis(tenant, { asOf: c.to, from: c.from, to: c.to, view: 'transaction_date' }),
        runs,
      )
      const pair = (s: Sample) => `${ms(s.p50)} /${ms(s.p99)}`
      console.log(
        `${c.name.padEnd(30)} ${pair(r)} ${pair(g)} ${(g.p50 / r.p50).toFixed(1).padStart(5)}× ` +
          `${pair(h)} ${(h.p50 / r.p50).toFixed(2).padStart(5)}× ${pair(hit)}`,
      )
    }
    // RFM slot: GET /v1/dashboards/rfm over the same history, against a plain GROUP BY customer
    // over raw orders, once the RFM route reads customers from ClickHouse (pulse.customers).
    console.log(`${'RFM'.padEnd(30)} (slot: not measured yet)`)
    console.log(
      '\nratio = raw GROUP BY p50 ÷ route p50 (how many times faster the route is), and hourly rollup p50 ÷ route p50',
    )
  } finally {
    await client.close()
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await runQueryBench()
