import { describe, it, expect } from 'vitest'
import { ReadWriteLock } from '../../stream/rw-lock.ts'
import { deferred, settle } from './async-helpers.ts'

/** A critical section that logs its start and end and finishes when released. */
function section(log: string[], name: string) {
  const gate = deferred()
  let active = false
  const fn = async () => {
    active = true
    log.push(`${name} start`)
    await gate.promise
    log.push(`${name} end`)
    active = false
    return name
  }
  return { fn, release: () => gate.resolve(), isActive: () => active }
}

describe('ReadWriteLock', () => {
  it('runs readers concurrently', async () => {
    const lock = new ReadWriteLock()
    const log: string[] = []
    const a = section(log, 'r1')
    const b = section(log, 'r2')
    const pa = lock.read(a.fn)
    const pb = lock.read(b.fn)
    await settle()
    expect(a.isActive() && b.isActive()).toBe(true)
    expect(log).toEqual(['r1 start', 'r2 start'])
    b.release()
    a.release()
    expect(await Promise.all([pa, pb])).toEqual(['r1', 'r2'])
  })

  it('makes a writer wait for the readers in progress', async () => {
    const lock = new ReadWriteLock()
    const log: string[] = []
    const r1 = section(log, 'r1')
    const r2 = section(log, 'r2')
    const w = section(log, 'w')
    const p1 = lock.read(r1.fn)
    const p2 = lock.read(r2.fn)
    const pw = lock.write(w.fn)
    await settle()
    expect(w.isActive()).toBe(false)
    r1.release()
    await settle()
    expect(w.isActive()).toBe(false)
    r2.release()
    await settle()
    expect(w.isActive()).toBe(true)
    w.release()
    await Promise.all([p1, p2, pw])
    expect(log).toEqual(['r1 start', 'r2 start', 'r1 end', 'r2 end', 'w start', 'w end'])
  })

  it('holds back readers arriving while a writer waits until the writer is done (fairness)', async () => {
    const lock = new ReadWriteLock()
    const log: string[] = []
    const r1 = section(log, 'r1')
    const w = section(log, 'w')
    const r2 = section(log, 'r2')
    const r3 = section(log, 'r3')
    const p1 = lock.read(r1.fn)
    const pw = lock.write(w.fn)
    const p2 = lock.read(r2.fn)
    const p3 = lock.read(r3.fn)
    await settle()
    expect(log).toEqual(['r1 start'])
    r1.release()
    await settle()
    expect(log).toEqual(['r1 start', 'r1 end', 'w start'])
    w.release()
    await settle()
    // Readers queued behind the writer go in together once it leaves.
    expect(log).toEqual(['r1 start', 'r1 end', 'w start', 'w end', 'r2 start', 'r3 start'])
    r2.release()
    r3.release()
    await Promise.all([p1, pw, p2, p3])
  })

  it('runs writers one at a time, in arrival order', async () => {
    const lock = new ReadWriteLock()
    const log: string[] = []
    const w1 = section(log, 'w1')
    const w2 = section(log, 'w2')
    const p1 = lock.write(w1.fn)
    const p2 = lock.write(w2.fn)
    await settle()
    expect(log).toEqual(['w1 start'])
    w1.release()
    await settle()
    expect(log).toEqual(['w1 start', 'w1 end', 'w2 start'])
    w2.release()
    await Promise.all([p1, p2])
  })

  it('keeps readers out while a writer runs', async () => {
    const lock = new ReadWriteLock()
    const log: string[] = []
    const w = section(log, 'w')
    const r = section(log, 'r')
    const pw = lock.write(w.fn)
    const pr = lock.read(r.fn)
    await settle()
    expect(r.isActive()).toBe(false)
    w.release()
    await settle()
    expect(r.isActive()).toBe(true)
    r.release()
    await Promise.all([pw, pr])
    expect(log).toEqual(['w start', 'w end', 'r start', 'r end'])
  })

  it('serves a queue of reader, writer, reader, writer in order', async () => {
    const lock = new ReadWriteLock()
    const order: string[] = []
    const work = (name: string) => async () => {
      order.push(name)
      await settle()
      return name
    }
    const results = await Promise.all([
      lock.write(work('w1')),
      lock.read(work('r1')),
      lock.write(work('w2')),
      lock.read(work('r2')),
    ])
    expect(results).toEqual(['w1', 'r1', 'w2', 'r2'])
    expect(order).toEqual(['w1', 'r1', 'w2', 'r2'])
  })

  it('releases the lock when a writer fails', async () => {
    const lock = new ReadWriteLock()
    const failing = lock.write(async () => {
      throw new Error('write failed')
    })
    const after = lock.read(async () => 'read ran')
    await expect(failing).rejects.toThrow('write failed')
    await expect(after).resolves.toBe('read ran')
    await expect(lock.write(async () => 'write ran')).resolves.toBe('write ran')
  })

  it('releases the lock when a reader fails', async () => {
    const lock = new ReadWriteLock()
    const gate = deferred()
    const failing = lock.read(async () => {
      await gate.promise
      throw new Error('read failed')
    })
    const writer = lock.write(async () => 'write ran')
    gate.resolve()
    await expect(failing).rejects.toThrow('read failed')
    await expect(writer).resolves.toBe('write ran')
  })

  it('releases the lock when the critical section throws synchronously', async () => {
    const lock = new ReadWriteLock()
    const failing = lock.write((() => {
      throw new Error('sync throw')
    }) as () => Promise<never>)
    await expect(failing).rejects.toThrow('sync throw')
    await expect(lock.read(async () => 1)).resolves.toBe(1)
  })

  it('passes the section result through', async () => {
    const lock = new ReadWriteLock()
    await expect(lock.read(async () => ({ a: 1 }))).resolves.toEqual({ a: 1 })
    await expect(lock.write(async () => 42)).resolves.toBe(42)
  })
})
