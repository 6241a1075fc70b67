// A separate process holding leases for leases.test.ts: it reports on stdout, one JSON line each.
// LEASE_MODE=race: on stdin `try <round>` it tries to take partition 0 and says whether it won;
//   `release <round>` gives back the lease it won.
// LEASE_MODE=hold: takes partition 0, then every LEASE_RENEW_MS reports whether its lease is valid
//   (before any network round trip) and renews it, until a renewal finds it lost.
import { createInterface } from 'node:readline'
import { connect } from '@nats-io/transport-node'
import { type Lease, openLeases } from '../../stream/leases.ts'

const env = (name: string) => process.env[name] ?? ''
const say = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`)

const nc = await connect({ servers: env('NATS_URL') })
const leases = await openLeases(nc, {
  nodeId: env('LEASE_NODE'),
  bucket: env('LEASE_BUCKET'),
  ttlMs: Number(env('LEASE_TTL_MS')),
  marginMs: Number(env('LEASE_MARGIN_MS')),
})

if (env('LEASE_MODE') === 'race') {
  let won: Lease | undefined
  say({ event: 'ready' })
  for await (const line of createInterface({ input: process.stdin })) {
    const [command, round] = line.split(' ')
    if (command === 'try') {
      won = await leases.acquire(0)
      say({ event: 'tried', round: Number(round), won: won !== undefined, token: won?.token })
    } else if (command === 'release') {
      await won?.release()
      won = undefined
      say({ event: 'released', round: Number(round) })
    }
  }
} else {
  let lease: Lease | undefined
  while (!(lease = await leases.acquire(0, (reason) => say({ event: 'lost', reason })))) {
    await new Promise((r) => setTimeout(r, 50))
  }
  say({ event: 'acquired', token: lease.token })
  let last = performance.now()
  const tick = async () => {
    const at = performance.now()
    // Checked first, so a process that wakes from a pause says so before touching the network.
    say({ event: 'tick', valid: lease.valid(), gap: Math.round(at - last) })
    last = at
    try {
      if (!(await lease.renew())) return say({ event: 'renew-failed', lost: lease.lost })
      say({ event: 'renewed', revision: lease.revision })
    } catch (err) {
      say({ event: 'renew-unanswered', error: String(err) })
    }
    setTimeout(tick, Number(env('LEASE_RENEW_MS')))
  }
  setTimeout(tick, Number(env('LEASE_RENEW_MS')))
}
