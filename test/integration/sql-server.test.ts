// The server path: POST /v1/sql with the app on a ClickHouse server, where each tenant's
// queries run as its own ClickHouse user (row policies, read-only settings with maxima, quota).
// Runs only when CLICKHOUSE_URL is set (docs/sql.md, "Tests of the SQL service"); the user in
// CLICKHOUSE_USER needs access management (CLICKHOUSE_DEFAULT_ACCESS_MANAGEMENT=1 in the image).
import { randomBytes } from 'node:crypto'
import { createClient } from '@clickhouse/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hostileQueries } from '../fixtures/hostile-sql.ts'
import { sqlCredentials } from '../../query/sql-route.ts'
import * as h from './harness.ts'

const url = process.env.CLICKHOUSE_URL
const suffix = randomBytes(4).toString('hex')
const ids = { mine: `srv-a-${suffix}`, theirs: `srv-b-${suffix}` }
const order = (tenant: string, n: number) => ({
  id: `${tenant}-o${n}`,
  type: 'order.created',
  ts: '2026-07-01T10:00:00Z',
  source: 'shopify',
  order_id: `${tenant}-o${n}`,
  total: '10.00',
  subtotal: '10.00',
  items: [{ sku: 's', quantity: 1, price: '10.00' }],
  channel: 'organic',
})

describe.skipIf(!url)('POST /v1/sql on a ClickHouse server (skipped unless CLICKHOUSE_URL is set)', () => {
  let app: h.App
  let mine: string
  let theirs: string

  beforeAll(async () => {
    app = await h.startApp({
      env: {
        CLICKHOUSE_URL: url!,
        CLICKHOUSE_USER: process.env.CLICKHOUSE_USER ?? '',
        CLICKHOUSE_PASSWORD: process.env.CLICKHOUSE_PASSWORD ?? '',
      },
    })
    mine = await h.createTenant(app, { id: ids.mine })
    theirs = await h.createTenant(app, { id: ids.theirs })
    expect(
      (
        await h.postEvents(
          app,
          mine,
          Array.from({ length: 12 }, (_, i) => order(ids.mine, i)),
        )
      ).status,
    ).toBe(202)
    expect(
      (
        await h.postEvents(
          app,
          theirs,
          Array.from({ length: 3 }, (_, i) => order(ids.theirs, i)),
        )
      ).status,
    ).toBe(202)
    await h.waitFor(
      async () => ((await h.sqlRows(app, mine, 'SELECT count() AS n FROM events'))[0].n === '12' ? true : undefined),
      'events in history',
    )
    await h.waitFor(
      async () => ((await h.sqlRows(app, theirs, 'SELECT count() AS n FROM events'))[0].n === '3' ? true : undefined),
      'events in history',
    )
  })
  afterAll(async () => app?.kill())

  it('refuses every hostile query with a 4xx and shows nothing of the other tenant', async () => {
    for (const [what, query, code] of hostileQueries) {
      const res = await h.postSql(app, mine, query)
      expect({ what, status: res.status, code: res.json(h.errorSchema).error.code }).toEqual({
        what,
        status: code === 'sql_limit' ? 422 : 400,
        code,
      })
      expect(res.text).not.toContain(ids.theirs)
    }
    expect(await h.sqlRows(app, theirs, 'SELECT count() AS n FROM events')).toEqual([{ n: '3' }])
  })

  it('gives the tenant a ClickHouse login that the server itself confines', async () => {
    const { status, body } = await h.getJson(app, mine, '/v1/sql/credentials', sqlCredentials)
    expect(status).toBe(200)
    const direct = createClient({ url, username: body.user, password: body.password, database: body.database })
    try {
      const count = async (query: string) =>
        Number((await (await direct.query({ query, format: 'JSONEachRow' })).json<{ n: string }>())[0].n)
      expect(await count('SELECT count() AS n FROM pulse.events')).toBe(12)
      expect(await count(`SELECT count() AS n FROM pulse.events WHERE tenant = '${ids.theirs}'`)).toBe(0)
      await expect(
        direct.command({ query: `INSERT INTO pulse.events (tenant, event_id) VALUES ('${ids.theirs}', 'x')` }),
      ).rejects.toThrow()
      await expect(direct.query({ query: 'SELECT * FROM pulse.schema_migrations' })).rejects.toThrow()
      await expect(direct.query({ query: 'SELECT 1 SETTINGS max_execution_time = 100000' })).rejects.toThrow()
      await expect(direct.command({ query: 'DROP TABLE pulse.events' })).rejects.toThrow()
      const quota = await (
        await direct.query({ query: 'SELECT quota_name FROM system.quota_usage', format: 'JSONEachRow' })
      ).json<{ quota_name: string }>()
      expect(quota.map((q) => q.quota_name)).toContain(body.user)
    } finally {
      await direct.close()
    }
  })
})
