// Which partitions this node should take and which it should hand back. Pure and deterministic:
// every node runs it on what it reads from the KV buckets, and they agree once their reads do.
// Each of N live nodes gets ⌊P/N⌋ partitions; the P mod N extra ones go to the nodes holding the
// most now (ties: the lower id), so a cluster that is balanced already moves nothing.

export interface Plan {
  /** Free partitions to try to take, in the order to try them. */
  acquire: number[]
  /** Partitions of ours to hand back (our highest). */
  release: number[]
}

/**
 * `owners[p]` is the node holding partition p, or undefined if it is free. A partition held by a
 * node that is not live is neither free nor counted: its lease ages out within the TTL.
 */
export function plan(
  partitions: number,
  liveNodes: readonly string[],
  owners: readonly (string | undefined)[],
  self: string,
): Plan {
  const nodes = [...new Set([...liveNodes, self])].sort()
  const held = new Map(nodes.map((n) => [n, 0]))
  const mine: number[] = []
  const free: number[] = []
  for (let p = 0; p < partitions; p++) {
    const owner = owners[p]
    if (owner === undefined) free.push(p)
    else if (held.has(owner)) held.set(owner, held.get(owner)! + 1)
    if (owner === self) mine.push(p)
  }

  const base = Math.floor(partitions / nodes.length)
  const extras = partitions % nodes.length
  const byHolding = [...nodes].sort((a, b) => held.get(b)! - held.get(a)! || (a < b ? -1 : 1))
  const share = base + (byHolding.indexOf(self) < extras ? 1 : 0)

  if (mine.length > share) return { acquire: [], release: mine.slice(share) }
  // Prefer the free partitions of our round-robin slot, so nodes filling up at once rarely race for the same one.
  const slot = nodes.indexOf(self)
  const ours = (p: number) => (p % nodes.length === slot ? 0 : 1)
  const acquire = free.sort((a, b) => ours(a) - ours(b) || a - b).slice(0, share - mine.length)
  return { acquire, release: [] }
}
