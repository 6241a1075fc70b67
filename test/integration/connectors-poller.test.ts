// The poller when NATS KV fails under it: a connector whose state cannot be read or saved gives
// back its turns (another connector's sync still runs, with one turn in all), is scheduled again
// and syncs later, and leaves no unhandled rejection. The store is the real one, on a nats-server
// of the test's own, wrapped so that one read or one write rejects.
import { z } from 'zod'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { handleProcessErrors, unhandledCount } from '../../app/process-errors.ts'
import type { Log } from '../../common/log.ts'
import { createSealer } from '../../ingest/connectors/crypto.ts'
import type { PagePipeline } from '../../ingest/connectors/pages.ts'
import { createConnectorService } from '../../ingest/connectors/poller.ts'
import { type ConnectorStore, openConnectorStore } from '../../ingest/connectors/store.ts'
import type { ConnectorType, Source } from '../../ingest/connectors/types.ts'
import { type TestNats, startNats, waitFor } from './harness.ts'

let nats: TestNats
let store: ConnectorStore
let stopPolicy: () => void
let unhandledBefore: number
beforeAll(async () => {
  nats = await startNats()
  store = await openConnectorStore(nats.nc)
  const quiet: Log = { info() {}, warn() {}, error() {} }
  stopPolicy = handleProcessErrors(quiet)
  unhandledBefore = unhandledCount()
})
afterAll(async () => {
  stopPolicy?.()
  await nats?.stop()
})

/** The real store, with its next state read or write rejecting once armed. */
function faultyStore() {
  const fault = { read: false, write: false }
  const lost = new Error('NATS KV is not answering')
  const wrapped: ConnectorStore = {
    ...store,
    async getState(tenant, id) {
      if (fault.read) {
        fault.read = false
        throw lost
      }
      return store.getState(tenant, id)
    },
    async putState(tenant, id, state) {
      if (fault.write) {
        fault.write = false
        throw lost
      }
      return store.putState(tenant, id, state)
    },
  }
  return { wrapped, fault }
}

/** A source that calls no API: each sync notes the account and moves its cursor on by one. */
function countingSource() {
  const syncs: string[] = []
  const source: Source<{ account_id: string }> = {
    type: 'meta_ads',
    source: 'test',
    config: z.object({ account_id: z.string() }),
    account: (config) => config.account_id,
    async sync(ctx) {
      syncs.push(ctx.config.account_id)
      return ((ctx.cursor as number | undefined) ?? 0) + 1
    },
    map: () => [],
  }
  return { source, syncs }
}

function service(connectorStore: ConnectorStore, source: Source, errors: string[]) {
  return createConnectorService({
    store: connectorStore,
    sealer: createSealer('test-secret-key-0123456789abcdef'),
    pages: {} as PagePipeline, // never called: the test source publishes no pages
    sources: { meta_ads: source } as Record<ConnectorType, Source>,
    tenantOf: async (id) => ({ id, timezone: 'UTC', currency: 'USD' }),
    now: Date.now,
    log: { info() {}, warn() {}, error: (_fields, message) => errors.push(message) },
    retryBaseMs: 10,
    allowPrivate: false,
    // One turn in all: a turn that is not given back stops every other sync.
    maxConcurrent: 1,
    maxPerTenant: 1,
  })
}

describe('connector poller with a failing NATS KV', () => {
  it.each(['read', 'write'] as const)(
    'a state %s that fails gives back its turns and syncs again later',
    async (what) => {
      const { wrapped, fault } = faultyStore()
      const { source, syncs } = countingSource()
      const errors: string[] = []
      const connectors = service(wrapped, source, errors)
      const tenant = `poller-${what}`

      fault[what] = true
      const a = await connectors.create(tenant, { type: 'meta_ads', config: { account_id: 'a' }, every_seconds: 1 })
      await waitFor(async () => errors.length > 0 || undefined, 'the failed state to be logged')
      expect(errors).toEqual(['connector state not read or saved'])

      // Same tenant, and one turn in all: this runs only if the failed sync gave both turns back.
      await connectors.create(tenant, { type: 'meta_ads', config: { account_id: 'b' }, every_seconds: 3600 })
      await waitFor(async () => syncs.includes('b') || undefined, 'the other connector to sync')

      // Scheduled again after the failure: it syncs, and this time its state is saved.
      await waitFor(async () => ((await store.getState(tenant, a.id)).syncs > 0 ? true : undefined), 'a to sync again')
      await connectors.stop()
      const state = await store.getState(tenant, a.id)
      expect(state.last_error).toBe(null)
      // Every saved sync moved the cursor on from the saved one. A failed read never reached the
      // source; a failed write lost its sync's cursor, so the source ran once more than was saved.
      expect(state.cursor).toBe(state.syncs)
      expect(syncs.filter((s) => s === 'a').length).toBe(what === 'read' ? state.syncs : state.syncs + 1)
      expect(unhandledCount()).toBe(unhandledBefore)
    },
  )
})
