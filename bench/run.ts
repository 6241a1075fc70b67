// `npm run bench`: the kernel suite, the end-to-end run, then the fan-out to 1,000 WebSocket clients; flags (--events
// N, --time MS, --clients N, --rounds N, --burst N) pass
// through. The header records the machine and its load, since other work on a 2-core VM moves
// every figure: compare ratios from one run, not absolute figures across runs.
import { execFileSync } from 'node:child_process'
import { findNatsServer } from '../app/nats-server.ts'
import { runE2e } from './e2e.ts'
import { runFanout } from './fanout.ts'
import { runKernel } from './kernel.ts'
import { codeRevision, loadAverage, machineLine } from './machine.ts'

const nats = findNatsServer()
const natsVersion = nats ? execFileSync(nats, ['--version'], { encoding: 'utf8' }).trim() : 'nats-server not found'
console.log(`code ${codeRevision()}`)
console.log(`${machineLine(`, ${natsVersion}`)}\n`)

const argv = process.argv.slice(2)
await runKernel(argv)
console.log('')
await runE2e(argv)
console.log('')
await runFanout(argv)
console.log(`\nload average at the end ${loadAverage()}`)
