// The balancer's plan without servers: exact assignments for a few cases, and that nodes applying
// it turn by turn always settle on ⌊P/N⌋ or ⌈P/N⌉ partitions each.
import { describe, expect, it } from 'vitest'
import { plan } from '../../stream/balancer.ts'

/** Owners of P partitions from ranges: ownersOf(16, { a: [0, 7] }) → a on 0..7, the rest free. */
function ownersOf(partitions: number, ranges: Record<string, [number, number]>): (string | undefined)[] {
  const owners: (string | undefined)[] = Array(partitions).fill(undefined)
  for (const [node, [from, to]] of Object.entries(ranges)) for (let p = from; p <= to; p++) owners[p] = node
  return owners
}

describe('plan', () => {
  it('splits 16 free partitions between two nodes, each starting with its round-robin slot', () => {
    const free = ownersOf(16, {})
    expect(plan(16, ['b', 'a'], free, 'a')).toEqual({ acquire: [0, 2, 4, 6, 8, 10, 12, 14], release: [] })
    expect(plan(16, ['a', 'b'], free, 'b')).toEqual({ acquire: [1, 3, 5, 7, 9, 11, 13, 15], release: [] })
  })

  it('gives the extra partitions of an uneven split to the nodes holding most, then the lower id', () => {
    expect(plan(5, ['a', 'b'], ownersOf(5, {}), 'a')).toEqual({ acquire: [0, 2, 4], release: [] })
    expect(plan(5, ['a', 'b'], ownersOf(5, {}), 'b')).toEqual({ acquire: [1, 3], release: [] })
    // b holds 3 already: balanced as it is, nothing moves.
    const owners = ownersOf(5, { b: [0, 2], a: [3, 4] })
    expect(plan(5, ['a', 'b'], owners, 'a')).toEqual({ acquire: [], release: [] })
    expect(plan(5, ['a', 'b'], owners, 'b')).toEqual({ acquire: [], release: [] })
  })

  it('a node joining: the holder hands back its highest, the newcomer takes them once free', () => {
    const before = ownersOf(16, { a: [0, 15] })
    expect(plan(16, ['a', 'b'], before, 'a')).toEqual({ acquire: [], release: [8, 9, 10, 11, 12, 13, 14, 15] })
    expect(plan(16, ['a', 'b'], before, 'b')).toEqual({ acquire: [], release: [] })
    const after = ownersOf(16, { a: [0, 7] })
    expect(plan(16, ['a', 'b'], after, 'b')).toEqual({ acquire: [9, 11, 13, 15, 8, 10, 12, 14], release: [] })
    expect(plan(16, ['a', 'b'], after, 'a')).toEqual({ acquire: [], release: [] })
  })

  it('uneven with three nodes: 10 partitions held by one become 4, 3 and 3', () => {
    const owners = ownersOf(10, { a: [0, 9] })
    expect(plan(10, ['a', 'b', 'c'], owners, 'a')).toEqual({ acquire: [], release: [4, 5, 6, 7, 8, 9] })
    const freed = ownersOf(10, { a: [0, 3] })
    expect(plan(10, ['a', 'b', 'c'], freed, 'b')).toEqual({ acquire: [4, 7, 5], release: [] })
    expect(plan(10, ['a', 'b', 'c'], freed, 'c')).toEqual({ acquire: [5, 8, 4], release: [] })
  })

  it('a node leaving: its partitions are neither free nor counted until its leases age out', () => {
    const owners = ownersOf(16, { a: [0, 5], b: [6, 10], c: [11, 15] })
    expect(plan(16, ['a', 'b', 'c'], owners, 'a')).toEqual({ acquire: [], release: [] })
    expect(plan(16, ['a', 'b'], owners, 'a')).toEqual({ acquire: [], release: [] })
    const agedOut = ownersOf(16, { a: [0, 5], b: [6, 10] })
    expect(plan(16, ['a', 'b'], agedOut, 'a')).toEqual({ acquire: [12, 14], release: [] })
    expect(plan(16, ['a', 'b'], agedOut, 'b')).toEqual({ acquire: [11, 13, 15], release: [] })
  })

  it('counts itself live even before its own membership is read back, and ignores the order of the list', () => {
    const owners = ownersOf(6, {})
    expect(plan(6, ['b', 'c'], owners, 'a')).toEqual(plan(6, ['c', 'a', 'b'], owners, 'a'))
    expect(plan(6, ['b', 'c'], owners, 'a')).toEqual({ acquire: [0, 3], release: [] })
  })

  it.each([1, 2, 3, 4, 5, 7])('nodes applying it in turn settle on ⌊P/N⌋ or ⌈P/N⌉ each (N = %i)', (n) => {
    for (const partitions of [1, 4, 5, 12, 16, 17]) {
      const nodes = Array.from({ length: n }, (_, i) => `node-${i}`)
      // Start with the last node holding everything, as when the others have just joined.
      const owners: (string | undefined)[] = Array(partitions).fill(nodes[n - 1])
      for (let changed = true, rounds = 0; changed; rounds++) {
        expect(rounds).toBeLessThan(10)
        changed = false
        for (const self of nodes) {
          const { acquire, release } = plan(partitions, nodes, owners, self)
          for (const p of release) owners[p] = undefined
          for (const p of acquire) owners[p] = self
          changed ||= acquire.length + release.length > 0
        }
      }
      const counts = nodes.map((node) => owners.filter((o) => o === node).length)
      expect(owners.every((o) => o !== undefined)).toBe(true)
      for (const c of counts) expect([Math.floor(partitions / n), Math.ceil(partitions / n)]).toContain(c)
    }
  })
})
