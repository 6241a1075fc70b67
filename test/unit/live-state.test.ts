import { describe, it, expect } from 'vitest'
import { type ArchivedEvent, type Batch, createLiveState } from '../../stream/live-state.ts'
import { type MeasureName, get, measuresOf } from '../../stream/measures.ts'
import type { Delta } from '../../stream/processor.ts'
import { MINUTE } from '../../stream/windows.ts'
import { deferred, settle } from './async-helpers.ts'
import { archivedEvent } from './processor-fixtures.ts'

const M = Date.parse('2026-11-22T10:00:00Z')

let seq = 0
function archived(tenant = 't1', over: Partial<ArchivedEvent> = {}): ArchivedEvent {
  seq++
  return archivedEvent({ tenant, event_id: `e-${seq}`, seq, ...over })
}

function delta(
  minute: number,
  values: Partial<Record<MeasureName, number>>,
  channel = 'facebook',
  source = 'shopify',
): Delta {
  return { minute, source, channel, values: measuresOf(values) }
}

/** Adds one event and notes its message, as the consumer does. */
function addOne(live: ReturnType<typeof createLiveState>, tenant: string, deltas: Delta[], acks?: string[]) {
  const e = archived(tenant)
  live.addEvent(e, deltas)
  live.noteMessage(() => acks?.push(e.event_id))
  return e
}

/** Live deltas as plain rows with the named measures, sorted by minute, channel, source. */
async function snapshot(
  live: ReturnType<typeof createLiveState>,
  tenant: string,
  names: MeasureName[],
  from = 0,
  to = Number.MAX_SAFE_INTEGER,
) {
  return live.read(tenant, async (view) =>
    view
      .deltas(tenant, from, to)
      .map((d) => ({
        minute: d.minute,
        source: d.source,
        channel: d.channel,
        ...Object.fromEntries(names.map((n) => [n, get(d.values, n)])),
      }))
      .sort((a, b) => a.minute - b.minute || a.channel.localeCompare(b.channel) || a.source.localeCompare(b.source)),
  )
}

describe('live state: addEvent', () => {
  it('sums deltas per (minute, source, channel) bin', async () => {
    const live = createLiveState()
    addOne(live, 't1', [delta(M, { gmv: 1000, orders: 1 })])
    addOne(live, 't1', [delta(M, { gmv: 2500, orders: 1 }), delta(M + MINUTE, { gmv: 7, orders: 1 })])
    addOne(live, 't1', [delta(M, { gmv: -500, orders: 0 }), delta(M, { gmv: 300, orders: 1 }, 'organic')])
    addOne(live, 't1', [delta(M, { gmv: 11, orders: 1 }, 'facebook', 'amazon')])
    expect(await snapshot(live, 't1', ['gmv', 'orders'])).toEqual([
      { minute: M, source: 'amazon', channel: 'facebook', gmv: 11, orders: 1 },
      { minute: M, source: 'shopify', channel: 'facebook', gmv: 3000, orders: 2 },
      { minute: M, source: 'shopify', channel: 'organic', gmv: 300, orders: 1 },
      { minute: M + MINUTE, source: 'shopify', channel: 'facebook', gmv: 7, orders: 1 },
    ])
  })

  it('keeps tenants apart', async () => {
    const live = createLiveState()
    addOne(live, 't1', [delta(M, { gmv: 100 })])
    addOne(live, 't2', [delta(M, { gmv: 200 })])
    expect(await snapshot(live, 't1', ['gmv'])).toEqual([
      { minute: M, source: 'shopify', channel: 'facebook', gmv: 100 },
    ])
    expect(await snapshot(live, 't2', ['gmv'])).toEqual([
      { minute: M, source: 'shopify', channel: 'facebook', gmv: 200 },
    ])
    expect(await snapshot(live, 't3', ['gmv'])).toEqual([])
  })

  it('does not alias the caller’s deltas', async () => {
    const live = createLiveState()
    const d = delta(M, { gmv: 100 })
    addOne(live, 't1', [d])
    addOne(live, 't1', [delta(M, { gmv: 5 })])
    expect(get(d.values, 'gmv')).toBe(100)
    expect(await snapshot(live, 't1', ['gmv'])).toEqual([
      { minute: M, source: 'shopify', channel: 'facebook', gmv: 105 },
    ])
  })

  it('archives applied events in the open batch, even with no deltas', () => {
    const live = createLiveState()
    const a = addOne(live, 't1', [])
    const b = addOne(live, 't1', [delta(M, { gmv: 1 })])
    const batch = live.seal()!
    expect(batch.events).toEqual([a, b])
  })
})

describe('live state: view.deltas window', () => {
  it('returns only deltas whose minute is in [fromMinute, to)', async () => {
    const live = createLiveState()
    for (let i = 0; i < 5; i++) addOne(live, 't1', [delta(M + i * MINUTE, { gmv: i + 1 })])
    const minutes = async (from: number, to: number) =>
      (await snapshot(live, 't1', ['gmv'], from, to)).map((r) => r.minute)
    expect(await minutes(M + MINUTE, M + 3 * MINUTE)).toEqual([M + MINUTE, M + 2 * MINUTE])
    expect(await minutes(M + MINUTE, M + 3 * MINUTE + 1)).toEqual([M + MINUTE, M + 2 * MINUTE, M + 3 * MINUTE])
    expect(await minutes(M + 1, M + MINUTE)).toEqual([])
    expect(await minutes(M, M)).toEqual([])
    expect(await minutes(M, M + 5 * MINUTE)).toEqual([M, M + MINUTE, M + 2 * MINUTE, M + 3 * MINUTE, M + 4 * MINUTE])
  })

  it('includes landing batches and the open batch', async () => {
    const live = createLiveState()
    addOne(live, 't1', [delta(M, { gmv: 100 })])
    live.seal()
    addOne(live, 't1', [delta(M, { gmv: 20 })])
    const rows = await live.read('t1', async (view) =>
      view.deltas('t1', M, M + MINUTE).map((d) => get(d.values, 'gmv')),
    )
    expect(rows.sort((a, b) => a - b)).toEqual([20, 100])
  })
})

describe('live state: seal', () => {
  it('answers undefined when no message was noted', () => {
    const live = createLiveState()
    expect(live.seal()).toBeUndefined()
  })

  it('closes the open batch with its messages, events, deltas and latest ack', () => {
    const live = createLiveState()
    const acks: string[] = []
    addOne(live, 't1', [delta(M, { gmv: 100 })], acks)
    addOne(live, 't2', [delta(M, { gmv: 200 })], acks)
    live.noteMessage(() => acks.push('dead-letter')) // a message that applied nothing
    expect(live.openMessages()).toBe(3)
    const batch = live.seal()!
    expect(batch.messages).toBe(3)
    expect(batch.events.map((e) => e.tenant)).toEqual(['t1', 't2'])
    expect([...batch.deltas.keys()]).toEqual(['t1', 't2'])
    expect([...batch.deltas.get('t1')!.keys()]).toEqual([`${M}|shopify|facebook|||||`])
    batch.ack!()
    expect(acks).toEqual(['dead-letter'])
    expect(live.openMessages()).toBe(0)
    expect(live.liveMessages()).toBe(3)
    expect(live.seal()).toBeUndefined()
  })
})

describe('live state: land', () => {
  it('removes the batch only after write resolves', async () => {
    const live = createLiveState()
    addOne(live, 't1', [delta(M, { gmv: 100 })])
    const batch = live.seal()!
    const writing = deferred()
    let written: Batch | undefined
    const landed = live.land(batch, async (b) => {
      written = b
      await writing.promise
    })
    await settle()
    expect(written).toBe(batch)
    expect(live.liveMessages()).toBe(1)
    // A read that starts while the batch is being written waits, then sees it gone.
    let readSaw: number[] | undefined
    const reading = live.read('t1', async (view) => {
      readSaw = view.deltas('t1', 0, Number.MAX_SAFE_INTEGER).map((d) => get(d.values, 'gmv'))
    })
    await settle()
    expect(readSaw).toBeUndefined()
    writing.resolve()
    await landed
    await reading
    expect(readSaw).toEqual([])
    expect(live.liveMessages()).toBe(0)
  })

  it('a read of another tenant neither waits for a landing batch nor holds it up', async () => {
    const live = createLiveState()
    addOne(live, 't1', [delta(M, { gmv: 100 })])
    const batch = live.seal()!
    const writing = deferred()
    const landed = live.land(batch, async () => writing.promise)
    await settle()
    expect(await live.read('t2', async (view) => view.deltas('t2', 0, Number.MAX_SAFE_INTEGER))).toEqual([])
    const slowRead = deferred()
    const t2Read = live.read('t2', async () => slowRead.promise)
    writing.resolve()
    await landed
    expect(live.liveMessages()).toBe(0)
    slowRead.resolve()
    await t2Read
  })

  it('does not start writing while a read is in progress, and that read sees the batch', async () => {
    const live = createLiveState()
    addOne(live, 't1', [delta(M, { gmv: 100 })])
    const batch = live.seal()!
    const reading = deferred()
    let seen: number[] = []
    const read = live.read('t1', async (view) => {
      await reading.promise
      seen = view.deltas('t1', 0, Number.MAX_SAFE_INTEGER).map((d) => get(d.values, 'gmv'))
    })
    let writeStarted = false
    const landed = live.land(batch, async () => {
      writeStarted = true
    })
    await settle()
    expect(writeStarted).toBe(false)
    reading.resolve()
    await read
    await landed
    expect(seen).toEqual([100])
    expect(writeStarted).toBe(true)
  })

  it('keeps a batch whose write fails in live state, and a retry lands it', async () => {
    const live = createLiveState()
    addOne(live, 't1', [delta(M, { gmv: 100 })])
    const batch = live.seal()!
    await expect(
      live.land(batch, async () => {
        throw new Error('clickhouse down')
      }),
    ).rejects.toThrow('clickhouse down')
    expect(live.liveMessages()).toBe(1)
    expect(await snapshot(live, 't1', ['gmv'])).toEqual([
      { minute: M, source: 'shopify', channel: 'facebook', gmv: 100 },
    ])
    await live.land(batch, async () => {})
    expect(live.liveMessages()).toBe(0)
    expect(await snapshot(live, 't1', ['gmv'])).toEqual([])
  })

  it('removes exactly the landed batch, leaving earlier and later ones', async () => {
    const live = createLiveState()
    addOne(live, 't1', [delta(M, { gmv: 1 })])
    const first = live.seal()!
    addOne(live, 't1', [delta(M, { gmv: 20 })])
    const second = live.seal()!
    addOne(live, 't1', [delta(M, { gmv: 300 })])
    await live.land(second, async () => {})
    const gmvs = async () =>
      (
        await live.read('t1', async (view) =>
          view.deltas('t1', 0, Number.MAX_SAFE_INTEGER).map((d) => get(d.values, 'gmv')),
        )
      ).sort((a, b) => a - b)
    expect(await gmvs()).toEqual([1, 300])
    expect(live.liveMessages()).toBe(2)
    await live.land(first, async () => {})
    expect(await gmvs()).toEqual([300])
    expect(live.liveMessages()).toBe(1)
  })

  it('events added while a batch lands go to the open batch and stay live', async () => {
    const live = createLiveState()
    addOne(live, 't1', [delta(M, { gmv: 100 })])
    const batch = live.seal()!
    const writing = deferred()
    const landed = live.land(batch, () => writing.promise)
    addOne(live, 't1', [delta(M, { gmv: 5 })])
    writing.resolve()
    await landed
    expect(await snapshot(live, 't1', ['gmv'])).toEqual([{ minute: M, source: 'shopify', channel: 'facebook', gmv: 5 }])
    expect(live.openMessages()).toBe(1)
  })
})
