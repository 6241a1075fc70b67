// What an analyst gets from POST /v1/sql and `npm run sql` on a running app: a query with
// CTEs, a join and window functions returns the rows computed by hand; CSV, NDJSON, TSV and the
// clickhouse-client table by Accept; the documented tables match the real ones.
import { spawn } from 'node:child_process'
import { resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sqlJsonResult, sqlTables } from '../../query/sql-route.ts'
import * as h from './harness.ts'

const root = resolve(import.meta.dirname, '../..')
const at = (time: string) => `2026-04-02T${time}Z`
const order = (id: string, customer: string, time: string, total: string) => ({
  id: `e-${id}`,
  type: 'order.created',
  ts: at(time),
  source: 'shopify',
  order_id: id,
  customer_id: customer,
  total,
  subtotal: total,
  items: [{ sku: 'a', quantity: 1, price: total }],
  channel: 'google',
})
const refund = (id: string, orderId: string, time: string, amount: string) => ({
  id: `e-${id}`,
  type: 'refund.created',
  ts: at(time),
  source: 'shopify',
  order_id: orderId,
  refund_id: id,
  amount,
})
const events = [
  order('o1', 'c1', '09:00:00', '100.00'),
  order('o2', 'c2', '10:00:00', '50.00'),
  order('o3', 'c1', '11:00:00', '30.00'),
  order('o4', 'c1', '12:00:00', '20.00'),
  refund('r1', 'o1', '13:00:00', '10.00'),
  refund('r2', 'o3', '14:00:00', '30.00'),
]

const analystQuery = `
WITH orders AS (
    SELECT JSONExtractString(raw, 'order_id') AS order_id, JSONExtractString(raw, 'customer_id') AS customer,
           toDecimal64(JSONExtractString(raw, 'total'), 2) AS total, ts
    FROM events WHERE type = 'order.created'),
refunds AS (
    SELECT JSONExtractString(raw, 'order_id') AS order_id,
           sum(toDecimal64(JSONExtractString(raw, 'amount'), 2)) AS refunded
    FROM events WHERE type = 'refund.created' GROUP BY order_id)
SELECT o.customer AS customer, o.order_id AS order_id, toString(o.total) AS total, toString(r.refunded) AS refunded,
       row_number() OVER (PARTITION BY o.customer ORDER BY o.ts) AS nth,
       toString(sum(o.total - r.refunded) OVER (PARTITION BY o.customer ORDER BY o.ts)) AS running_net
FROM orders AS o LEFT JOIN refunds AS r ON r.order_id = o.order_id
ORDER BY customer, nth`

let app: h.App
let key: string

beforeAll(async () => {
  app = await h.startApp()
  key = await h.createTenant(app, { id: 'shop' })
  expect((await h.postEvents(app, key, events)).status).toBe(202)
  await h.waitFor(
    async () => ((await h.sqlRows(app, key, 'SELECT count() AS n FROM events'))[0].n === '6' ? true : undefined),
    'the events in history',
  )
})
afterAll(async () => app?.kill())

describe('POST /v1/sql for analysts', () => {
  it('answers a query with CTEs, a join and window functions with the rows computed by hand', async () => {
    const res = await h.postSql(app, key, analystQuery)
    expect(res.status).toBe(200)
    expect(res.type).toContain('application/json')
    const body = res.json(sqlJsonResult)
    expect(body.meta.map((m) => m.name)).toEqual(['customer', 'order_id', 'total', 'refunded', 'nth', 'running_net'])
    expect(body.data).toEqual([
      { customer: 'c1', order_id: 'o1', total: '100', refunded: '10', nth: '1', running_net: '90' },
      { customer: 'c1', order_id: 'o3', total: '30', refunded: '30', nth: '2', running_net: '90' },
      { customer: 'c1', order_id: 'o4', total: '20', refunded: '0', nth: '3', running_net: '110' },
      { customer: 'c2', order_id: 'o2', total: '50', refunded: '0', nth: '1', running_net: '50' },
    ])
  })

  it('reads the minute rollups (signed deltas, money in minor units) with a running total', async () => {
    const rows = await h.sqlRows(
      app,
      key,
      'SELECT toStartOfHour(minute) AS hour, sum(gmv) AS hour_gmv, sum(sum(gmv)) OVER (ORDER BY hour) AS cumulative ' +
        'FROM rollup_minute GROUP BY hour HAVING hour_gmv != 0 ORDER BY hour',
    )
    expect(rows).toEqual([
      { hour: '2026-04-02 09:00:00', hour_gmv: '10000', cumulative: '10000' },
      { hour: '2026-04-02 10:00:00', hour_gmv: '5000', cumulative: '15000' },
      { hour: '2026-04-02 11:00:00', hour_gmv: '3000', cumulative: '18000' },
      { hour: '2026-04-02 12:00:00', hour_gmv: '2000', cumulative: '20000' },
    ])
  })

  it.each([
    ['text/csv', 'text/csv', '"event_id","type"\n"e-o1","order.created"\n"e-o2","order.created"\n'],
    [
      'application/x-ndjson',
      'application/x-ndjson',
      '{"event_id":"e-o1","type":"order.created"}\n{"event_id":"e-o2","type":"order.created"}\n',
    ],
    [
      'text/tab-separated-values',
      'text/tab-separated-values',
      'event_id\ttype\ne-o1\torder.created\ne-o2\torder.created\n',
    ],
  ])('answers Accept: %s', async (accept, type, expected) => {
    const res = await h.postSql(app, key, 'SELECT event_id, type FROM events ORDER BY event_id LIMIT 2', accept)
    expect(res.status).toBe(200)
    expect(res.type).toContain(type)
    expect(res.text).toBe(expected)
  })

  it('takes the query itself as a text/plain body', async () => {
    const res = await fetch(`${app.url}/v1/sql`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'text/plain', accept: 'text/csv' },
      body: 'SELECT count() AS n FROM events',
    })
    expect(await res.text()).toBe('"n"\n6\n')
  })

  it('documents every table it may read, with the real columns', async () => {
    const { status, body } = await h.getJson(app, key, '/v1/sql/tables', sqlTables)
    expect(status).toBe(200)
    const { SQL_TABLES } = await import('../../query/sql/tables.ts')
    expect(body.map((t) => t.name)).toEqual(SQL_TABLES.map((t) => t.name))
    for (const table of SQL_TABLES) {
      const columns = body.find((t) => t.name === table.name)?.columns.map((c) => c.name)
      expect(columns).toContain(table.tenantColumn)
      for (const documented of Object.keys(table.columns ?? {}))
        expect(columns, `${table.name}.${documented}`).toContain(documented)
    }
  })

  it('has no ClickHouse logins on the embedded engine', async () => {
    expect((await h.getJson(app, key, '/v1/sql/credentials', h.errorSchema)).status).toBe(404)
  })
})

function cli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'app/sql-cli.ts', ...args], {
      cwd: root,
      env: { ...process.env, ...env },
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('exit', (code) => done({ code: code ?? -1, stdout, stderr }))
  })
}

describe('npm run sql', () => {
  it('prints a table like clickhouse-client', async () => {
    const { code, stdout } = await cli(
      [
        "SELECT customer_id, count() AS orders FROM (SELECT JSONExtractString(raw, 'customer_id') AS customer_id " +
          "FROM events WHERE type = 'order.created') GROUP BY customer_id ORDER BY customer_id",
      ],
      { PULSE_URL: app.url, PULSE_API_KEY: key },
    )
    expect(code).toBe(0)
    expect(stdout).toContain('┌─customer_id─┬─orders─┐')
    expect(stdout).toMatch(/1\. │ c1\s+│\s+3 │/)
    expect(stdout).toMatch(/2\. │ c2\s+│\s+1 │/)
  })

  it('prints the refusal and exits 1', async () => {
    const { code, stderr } = await cli(['--key', key, '--url', app.url, 'SELECT * FROM system.tables'], {})
    expect(code).toBe(1)
    expect(stderr).toContain('Code: sql_not_allowed.')
  })
})
