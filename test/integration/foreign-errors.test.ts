// The foreign boundaries' failures, recognised by their codes (common/nats-errors.ts,
// clickhouse/errors.ts): each provoked for real on a nats-server and the embedded chDB engine.
import type { ClickHouseClient } from '@clickhouse/client'
import { ClickHouseError } from '@clickhouse/client'
import { jetstreamManager } from '@nats-io/jetstream'
import { Kvm } from '@nats-io/kv'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openClickHouse } from '../../clickhouse/client.ts'
import { clickHouseFailure } from '../../clickhouse/errors.ts'
import {
  isConsumerNotFound,
  isNoResponders,
  isStreamNotFound,
  isTimeout,
  isWrongLastSequence,
} from '../../common/nats-errors.ts'
import { TenantExistsError, openTenantRegistry } from '../../tenants/index.ts'
import { type TestNats, newDataDir, startNats } from './harness.ts'

/** What `run` rejected with; fails the test when it resolves. */
async function failureOf(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run()
  } catch (err) {
    return err
  }
  throw new Error('expected a failure')
}

describe('NATS failures', () => {
  let nats: TestNats
  beforeAll(async () => {
    nats = await startNats()
  })
  afterAll(async () => nats?.stop())

  it('a stream that is not there', async () => {
    const jsm = await jetstreamManager(nats.nc)
    const err = await failureOf(() => jsm.streams.info('NO_SUCH_STREAM'))
    expect([isStreamNotFound(err), isConsumerNotFound(err)]).toEqual([true, false])
  })

  it('a consumer that is not there', async () => {
    const jsm = await jetstreamManager(nats.nc)
    await jsm.streams.add({ name: 'ERRORS_TEST', subjects: ['errors-test.>'] })
    const err = await failureOf(() => jsm.consumers.info('ERRORS_TEST', 'no-such-consumer'))
    expect([isConsumerNotFound(err), isStreamNotFound(err)]).toEqual([true, false])
  })

  it('a KV key created twice', async () => {
    const kv = await new Kvm(nats.nc).create('errors_test')
    await kv.create('k', 'first')
    const err = await failureOf(() => kv.create('k', 'second'))
    expect(isWrongLastSequence(err)).toBe(true)
  })

  it('a tenant created twice is a TenantExistsError; the first one stays', async () => {
    const tenants = await openTenantRegistry(nats.nc)
    const shop = { id: 'errors-test', name: 'Errors', timezone: 'UTC', currency: 'USD' }
    await tenants.create(shop)
    const err = await failureOf(() => tenants.create({ ...shop, name: 'Again' }))
    expect(err).toBeInstanceOf(TenantExistsError)
    expect((await tenants.get('errors-test'))?.name).toBe('Errors')
  })

  it('a request nobody listens to, and one nobody answers', async () => {
    const nobody = await failureOf(() => nats.nc.request('no-listener.nobody', 'hi', { timeout: 5_000 }))
    expect([isNoResponders(nobody), isTimeout(nobody)]).toEqual([true, false])
    const silent = nats.nc.subscribe('no-listener.silent') // takes requests, answers none
    const late = await failureOf(() => nats.nc.request('no-listener.silent', 'hi', { timeout: 100 }))
    expect([isTimeout(late), isNoResponders(late)]).toEqual([true, false])
    silent.unsubscribe()
  })

  it('other failures are none of these', () => {
    const other = new Error('stream not found') // the words alone do not make it one
    expect([isStreamNotFound(other), isConsumerNotFound(other), isNoResponders(other), isTimeout(other)]).toEqual([
      false,
      false,
      false,
      false,
    ])
  })
})

describe('ClickHouse failures', () => {
  let client: ClickHouseClient
  beforeAll(() => {
    client = openClickHouse({ path: `${newDataDir()}/clickhouse` })
  })
  afterAll(async () => client?.close())

  it("chDB's errors, by code and name", async () => {
    const syntax = await failureOf(() => client.query({ query: 'SELEC 1' }))
    expect(clickHouseFailure(syntax)).toMatchObject({ code: 62, type: 'SYNTAX_ERROR' })
    const missing = await failureOf(() => client.query({ query: 'SELECT * FROM no_such_table' }))
    expect(clickHouseFailure(missing)).toMatchObject({ code: 60, type: 'UNKNOWN_TABLE' })
  })

  it("a ClickHouse server's error (the client's own class), and what is not ClickHouse's", () => {
    const server = new ClickHouseError({ message: 'Too many parts', code: '252', type: 'TOO_MANY_PARTS' })
    expect(clickHouseFailure(server)).toEqual({ code: 252, type: 'TOO_MANY_PARTS', message: 'Too many parts' })
    expect(clickHouseFailure(new Error('Code: 62. DB::Exception: Syntax error (SYNTAX_ERROR)'))).toBe(undefined)
    expect(clickHouseFailure('Code: 62')).toBe(undefined)
  })
})
