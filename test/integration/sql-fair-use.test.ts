// POST /v1/sql against text it cannot take, storage metadata shared by all tenants, and one tenant
// trying to take every SQL slot: each gets a clear 4xx, and other tenants' queries still answer.
import { request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runawayQuery } from '../fixtures/hostile-sql.ts'
import { sqlJsonResult, sqlTables } from '../../query/sql-route.ts'
import {
  type App,
  createTenant,
  errorSchema,
  getJson,
  postEvents,
  postSql,
  readAnswer,
  sqlRows,
  startApp,
  waitFor,
} from './harness.ts'

const order = (tenant: string, n: number) => ({
  id: `${tenant}-o${n}`,
  type: 'order.created',
  ts: `2026-05-04T${String(8 + n).padStart(2, '0')}:00:00Z`,
  source: 'shopify',
  order_id: `${tenant}-o${n}`,
  customer_id: `c${n}`,
  total: '10.00',
  subtotal: '10.00',
  items: [{ sku: 'sku', quantity: 1, price: '10.00' }],
  channel: 'google',
})
const COUNT = 'SELECT count() AS n FROM events'
const METADATA = 'columns starting with _ are ClickHouse storage metadata, shared by all tenants'
const names = (columns: { name: string }[]) => columns.map((c) => c.name)
const EVENT_COLUMNS = ['tenant', 'event_id', 'type', 'source', 'ts', 'received_at', 'flush_id', 'fx', 'raw']

let app: App
let acme: string
let beta: string

beforeAll(async () => {
  app = await startApp()
  acme = await createTenant(app, { id: 'acme' })
  beta = await createTenant(app, { id: 'beta' })
  const acmeEvents = Array.from({ length: 12 }, (_, i) => order('acme', i))
  const betaEvents = Array.from({ length: 3 }, (_, i) => order('beta', i))
  const posted = await Promise.all([postEvents(app, acme, acmeEvents), postEvents(app, beta, betaEvents)])
  expect(posted.map((p) => p.status)).toEqual([202, 202])
  const counted = (key: string, n: string) => async () =>
    (await sqlRows(app, key, COUNT))[0].n === n ? true : undefined
  await waitFor(counted(acme, '12'), 'acme events in history')
  await waitFor(counted(beta, '3'), 'beta events in history')
})
afterAll(async () => app?.kill())

const postText = (key: string, query: string) =>
  fetch(`${app.url}/v1/sql`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'text/plain' },
    body: query,
  })

/** On a connection of its own: the server may close it after refusing a body it did not read. */
function postAlone(key: string, body: unknown): Promise<{ status: number; error: unknown }> {
  const payload = JSON.stringify(body)
  const headers = {
    authorization: `Bearer ${key}`,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(payload),
  }
  return new Promise((done, fail) => {
    const req = request(`${app.url}/v1/sql`, { method: 'POST', agent: false, headers }, (res) => {
      let text = ''
      res.on('data', (d) => (text += d))
      res.on('end', () => done({ status: res.statusCode ?? 0, error: JSON.parse(text).error }))
    })
    req.on('error', fail)
    req.end(payload)
  })
}
const error = async (res: Awaited<ReturnType<typeof postSql>>) => ({
  status: res.status,
  ...res.json(errorSchema).error,
})

describe('query text it cannot take', () => {
  it.each([
    ['\u0000', 'U+0000 (NUL)'],
    ['\u0001', 'U+0001'],
    ['\u001b', 'U+001B'],
    ['\u007f', 'U+007F'],
  ])('refuses the control character %j with 400, naming it, in a JSON or a text body', async (char, named) => {
    const message = `the query contains the control character ${named} at character 17: remove it`
    const json = await postSql(app, acme, `SELECT count() A${char}S n FROM events`)
    expect(await error(json)).toEqual({ status: 400, code: 'invalid_sql', message })
    const text = await postText(acme, `SELECT count() A${char}S n FROM events`)
    const answer = { status: text.status, ...(await readAnswer(text, errorSchema, 'POST /v1/sql')).body.error }
    expect(answer).toEqual({ status: 400, code: 'invalid_sql', message })
  })

  it('answers 400 to 5,000 nested parentheses, and runs moderate nesting', async () => {
    const message = 'the query is nested too deeply: use fewer nested parentheses, subqueries or expressions'
    for (const depth of [5000, 600]) {
      const res = await postSql(app, acme, `SELECT ${'('.repeat(depth)}1${')'.repeat(depth)} AS x`)
      const refusal = { status: 400, code: 'invalid_sql', message, details: { type: 'TOO_DEEP_RECURSION' } }
      expect(await error(res), `depth ${depth}`).toEqual(refusal)
    }
    expect(await sqlRows(app, acme, `SELECT ${'('.repeat(100)}1${')'.repeat(100)} AS x`)).toEqual([{ x: 1 }])
  })

  it('answers 413 to a 1 MB query or one over the body limit, 400 to one over the query length', async () => {
    const huge = await postAlone(acme, { query: `SELECT 1 AS x ${' '.repeat(1024 * 1024)}` })
    expect(huge.status).toBe(413)
    const large = await postAlone(acme, { query: `SELECT 1 AS x ${' '.repeat(300_000)}` })
    const tooLarge = { code: 'too_large', message: 'the body is larger than 200000 bytes' }
    expect(large).toEqual({ status: 413, error: tooLarge })
    const long = await postSql(app, acme, `SELECT 1 AS x ${' '.repeat(150_000)}`)
    expect(long.status).toBe(400)
    expect(long.json(errorSchema).error.code).toBe('bad_request')
  })

  it('still answers afterwards', async () => {
    expect(await sqlRows(app, acme, COUNT)).toEqual([{ n: '12' }])
  })
})

describe('storage metadata shared by all tenants', () => {
  it.each([
    ['SELECT _part, min(_part_offset) FROM events GROUP BY _part', '_part'],
    ['SELECT count() FROM events WHERE `_part_offset` > 0', '_part_offset'],
    ['SELECT "_block_number" FROM events', '_block_number'],
    ['SELECT e._partition_id FROM events AS e', '_partition_id'],
    ['SELECT max(_row_exists) FROM rollup_minute', '_row_exists'],
    ['SELECT DISTINCT _table, _database FROM events', '_table'],
    ['SELECT _shard_num FROM customers', '_shard_num'],
    ['SELECT x FROM (SELECT _part_uuid AS x FROM events)', '_part_uuid'],
  ])('refuses %s, naming the column', async (query, column) => {
    const res = await postSql(app, acme, query)
    expect(await error(res)).toEqual({
      status: 400,
      code: 'sql_not_allowed',
      message: `the ${column} column is not readable: ${METADATA}`,
    })
  })

  const functions = ['blockNumber', 'rowNumberInBlock', 'rowNumberInAllBlocks', 'blockSize', 'hostName']
  it.each(functions)('refuses %s()', async (fn) => {
    const res = await postSql(app, acme, `SELECT ${fn}() FROM events`)
    const message = `function ${fn}() is not allowed`
    expect(await error(res)).toEqual({ status: 400, code: 'sql_not_allowed', message })
  })

  it('does not expose the stream sequence shared by all tenants', async () => {
    const reason = "the stream sequence is shared by all tenants, so its gaps count other tenants' events"
    const instead = 'name the columns you need, or write SELECT * EXCEPT (seq)'
    const message = `the seq column of pulse.events is not readable (${reason}): ${instead}`
    const reads = ['max(seq)', '*', 'tuple(*)', "COLUMNS('s.q')"].map((what) => `SELECT ${what} FROM events`)
    for (const query of reads) {
      const refusal = { status: 400, code: 'sql_not_allowed', message }
      expect(await error(await postSql(app, acme, query)), query).toEqual(refusal)
    }
    const all = await postSql(app, acme, 'SELECT * EXCEPT (seq) FROM events')
    expect(all.status).toBe(200)
    expect(all.json(sqlJsonResult).rows).toBe(12)
    expect(names(all.json(sqlJsonResult).meta)).toEqual(EVENT_COLUMNS)
    const tables = (await getJson(app, acme, '/v1/sql/tables', sqlTables)).body
    expect(names(tables.find((t) => t.name === 'events')?.columns ?? [])).toEqual(EVENT_COLUMNS)
  })

  it('gives no read statistics, which count rows before the tenant filter', async () => {
    const res = await postSql(app, acme, COUNT)
    expect(res.json(sqlJsonResult)).toEqual({ meta: [{ name: 'n', type: 'UInt64' }], data: [{ n: '12' }], rows: 1 })
  })
})

describe('sharing the SQL capacity', () => {
  it("runs a tenant's heavy queries one at a time, queues one, refuses a third, answers others", async () => {
    const heavy = () => postSql(app, acme, { query: runawayQuery, timeout_seconds: 3 })
    const acmeQueries = [heavy(), heavy(), heavy()]
    expect(await sqlRows(app, beta, COUNT)).toEqual([{ n: '3' }])
    const answers = await Promise.all(acmeQueries.map(async (q) => error(await q)))
    answers.sort((a, b) => a.status - b.status)
    expect(answers.map((a) => [a.status, a.code])).toEqual([
      [422, 'sql_limit'],
      [422, 'sql_limit'],
      [429, 'too_many_queries'],
    ])
    const refusal = 'at most 1 SQL queries of a tenant run at once and 1 more wait; retry when one has finished'
    expect(answers[2].message).toBe(refusal)
  })
})
