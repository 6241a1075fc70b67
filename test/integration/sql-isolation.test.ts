// POST /v1/sql on the embedded engine of a running app. Every hostile query is refused
// with a 4xx, none of them shows another tenant's rows, and afterwards nothing has changed: the
// same rows, the same figures, the same tables, no file written.
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { harmlessLookalikes, hostileQueries, oracleQueries, runawayQuery } from '../fixtures/hostile-sql.ts'
import { kpisAnswer } from '../../query/metrics-routes.ts'
import { sqlJsonResult, sqlTables } from '../../query/sql-route.ts'
import * as h from './harness.ts'

const root = resolve(import.meta.dirname, '../..')
const day = '2026-03-10'
const range = `from=${day}T00:00:00Z&to=2026-03-11T00:00:00Z`
const order = (tenant: string, n: number, total: string, customer: string) => ({
  id: `${tenant}-o${n}`,
  type: 'order.created',
  ts: `${day}T${String(8 + n).padStart(2, '0')}:00:00Z`,
  source: tenant === 'acme' ? 'shopify' : 'rival_source',
  order_id: `${tenant}-o${n}`,
  customer_id: customer,
  total,
  subtotal: total,
  items: [{ sku: 'sku', quantity: 1, price: total }],
  channel: 'facebook',
})
// Twelve orders for acme; rival's rows carry a marker no acme answer may ever contain.
const acmeEvents = Array.from({ length: 12 }, (_, i) => order('acme', i, `${10 + i}.00`, `c${i % 3}`))
const rivalEvents = Array.from({ length: 3 }, (_, i) =>
  order('RIVAL_SECRET', i, '999.99', `RIVAL_SECRET_CUSTOMER_${i}`),
).map((e) => ({ ...e, id: `RIVAL_SECRET_${e.id}` }))

let app: h.App
let acme: string
let rival: string

/** Everything a hostile query could have changed, as both tenants see it. */
async function state() {
  const snapshot: Record<string, unknown> = {}
  for (const [name, key] of [
    ['acme', acme],
    ['rival', rival],
  ]) {
    snapshot[`${name} events`] = await h.sqlRows(
      app,
      key,
      'SELECT count() AS n, sum(cityHash64(raw)) AS h, max(flush_id) AS f FROM events',
    )
    snapshot[`${name} rollups`] = await h.sqlRows(
      app,
      key,
      'SELECT count() AS n, sum(gmv) AS gmv, sum(orders) AS orders FROM rollup_minute',
    )
    const kpis = (await h.getJson(app, key, `/v1/metrics/kpis?${range}`, kpisAnswer)).body
    snapshot[`${name} kpis`] = { gmv: kpis.gmv, orders: kpis.orders }
  }
  snapshot.tables = (await h.getJson(app, acme, '/v1/sql/tables', sqlTables)).body
  return snapshot
}

beforeAll(async () => {
  // A slow flush puts both tenants' events in one flush, so one part and one granule hold both:
  // the tenant filter cannot lean on the primary key skipping the other tenant's rows.
  app = await h.startApp({ env: { FLUSH_INTERVAL_MS: '2000' } })
  acme = await h.createTenant(app, { id: 'acme' })
  rival = await h.createTenant(app, { id: 'rival' })
  const posted = await Promise.all([h.postEvents(app, acme, acmeEvents), h.postEvents(app, rival, rivalEvents)])
  expect(posted.map((p) => p.status)).toEqual([202, 202])
  // SQL reads history: wait until both batches have been flushed to ClickHouse.
  await h.waitFor(
    async () => ((await h.sqlRows(app, acme, 'SELECT count() AS n FROM events'))[0].n === '12' ? true : undefined),
    'acme events in history',
  )
  await h.waitFor(
    async () => ((await h.sqlRows(app, rival, 'SELECT count() AS n FROM events'))[0].n === '3' ? true : undefined),
    'rival events in history',
  )
})
afterAll(async () => app?.kill())

describe('POST /v1/sql isolation on embedded chDB', () => {
  let before: Record<string, unknown>

  it('reads only the caller’s rows, through joins, unions and subqueries that never name the tenant', async () => {
    before = await state()
    expect(before['acme events']).toMatchObject([{ n: '12' }])
    expect(before['rival events']).toMatchObject([{ n: '3' }])
    const all = await h.postSql(app, acme, 'SELECT * EXCEPT (seq) FROM events')
    expect(all.status).toBe(200)
    expect(all.json(sqlJsonResult).rows).toBe(12)
    expect(all.text).not.toContain('RIVAL_SECRET')
    const [row] = await h.sqlRows(
      app,
      acme,
      `SELECT (SELECT count() FROM pulse.events) AS scalar,
              (SELECT count() FROM events AS a JOIN events AS b ON a.event_id = b.event_id) AS joined,
              (SELECT count() FROM (
                 SELECT event_id FROM events UNION ALL SELECT event_id FROM pulse.events)) AS unioned,
              (SELECT count() FROM events WHERE raw LIKE '%RIVAL_SECRET%') AS theirs,
              (SELECT count() FROM events WHERE event_id IN (SELECT event_id FROM events)) AS in_subquery,
              (SELECT sum(orders) FROM rollup_minute) AS orders`,
    )
    expect(row).toEqual({ scalar: '12', joined: '12', unioned: '24', theirs: '0', in_subquery: '12', orders: '12' })
    expect(await h.sqlRows(app, rival, 'SELECT count() AS n FROM events AS a, events AS b')).toEqual([{ n: '9' }])
  })

  it(`refuses ${hostileQueries.length} hostile queries with a 4xx, showing nothing of anyone else`, async () => {
    expect(hostileQueries.length).toBeGreaterThanOrEqual(30)
    const outcomes = []
    for (const [what, query] of hostileQueries) {
      const res = await h.postSql(app, acme, query)
      outcomes.push({
        what,
        status: res.status,
        code: res.status === 200 ? 'ran' : res.json(h.errorSchema).error.code,
        leaked: res.text.includes('RIVAL_SECRET'),
      })
    }
    expect(outcomes).toEqual(
      hostileQueries.map(([what, , code]) => ({ what, status: code === 'sql_limit' ? 422 : 400, code, leaked: false })),
    )
  })

  it.each(oracleQueries)('gives no error oracle on other tenants’ rows: %s', async (query) => {
    const res = await h.postSql(app, acme, query)
    expect(res.status, res.text).toBe(200)
    expect(res.json(sqlJsonResult).data).toEqual([{ n: '0' }])
  })

  it('never shows another tenant’s values in an error', async () => {
    for (const query of [
      'SELECT count() FROM events WHERE toUInt64(raw) = 1',
      'SELECT toUInt64(raw) FROM events ORDER BY event_id DESC',
      'SELECT toUInt64(source) FROM rollup_minute',
    ]) {
      const res = await h.postSql(app, acme, query)
      expect(res.status).toBe(400)
      expect(res.text).not.toContain('RIVAL')
      expect(res.text).not.toContain('rival_source')
    }
  })

  it('stops a query that would run for minutes at the time bound', async () => {
    const res = await h.postSql(app, acme, { query: runawayQuery, timeout_seconds: 2 })
    expect(res.status).toBe(422)
    expect(res.json(h.errorSchema).error).toMatchObject({ code: 'sql_limit', details: { limit: 'time' } })
  })

  it.each(harmlessLookalikes)('runs %s as the one harmless SELECT ClickHouse sees', async (_what, query) => {
    expect((await h.postSql(app, acme, query)).status).toBe(200)
  })

  it('answers 429 past the concurrent queries of a tenant: one runs, one waits, the rest are refused', async () => {
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => h.postSql(app, acme, { query: runawayQuery, timeout_seconds: 1 })),
    )
    expect(answers.map((a) => a.status).sort()).toEqual([422, 422, 429, 429, 429])
  })

  it('has changed nothing: the same rows, figures and tables, no file written, still healthy', async () => {
    expect(await state()).toEqual(before)
    for (const file of ['pwn-outfile.csv', 'pwn.csv']) {
      expect(existsSync(join(root, file))).toBe(false)
      expect(existsSync(join(app.dataDir, file))).toBe(false)
      expect(existsSync(join(app.dataDir, 'clickhouse', file))).toBe(false)
    }
    expect((await fetch(`${app.url}/healthz`)).status).toBe(200)
    // The session that ran the failures answers cleanly (no leftovers of a failed query).
    expect(await h.sqlRows(app, acme, 'SELECT 1 AS one')).toEqual([{ one: 1 }])
  })

  it('needs an API key', async () => {
    const res = await fetch(`${app.url}/v1/sql`, { method: 'POST', body: JSON.stringify({ query: 'SELECT 1' }) })
    expect(res.status).toBe(401)
  })
})
