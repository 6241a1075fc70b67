// The aggregation kernel against the raw building blocks it is made of, measured in the same run:
// (a) processor.apply vs (c) a bare tenant × minute Map sum, (b) decode + apply vs (d) JSON.parse.
// One iteration is a pass over the whole batch with fresh state, so the dedup memory never turns
// the events into cheap duplicates.
import { pathToFileURL } from 'node:url'
import { Bench, type Task } from 'tinybench'
import { createProcessor, decodeEvent } from '../stream/index.ts'
import type { TenantRef } from '../tenants/index.ts'
import { makeTraffic } from './traffic.ts'

const BATCH = 10_000
const TENANTS: TenantRef[] = ['acme', 'globex', 'initech', 'umbrella'].map((id) => ({
  id,
  timezone: 'UTC',
  currency: 'USD',
}))
const PROCESSOR_OPTIONS = { dedupHorizonMs: 168 * 3_600_000, latenessMs: 300_000 }

export async function runKernel(argv: string[] = []): Promise<void> {
  const time = Number(flagValue(argv, '--time') ?? 2_000)
  const traffic = makeTraffic(BATCH, { tenants: TENANTS.map((t) => t.id) })
  const tenantById = new Map(TENANTS.map((t) => [t.id, t]))
  const bodies = traffic.events.map((e) => e.body)
  const parsed = traffic.events.map((e) => {
    const decoded = decodeEvent(e.body)
    if (!decoded.ok || decoded.kind !== 'event')
      throw new Error(`bench traffic is invalid: ${decoded.ok ? decoded.kind : decoded.detail}`)
    return { tenant: tenantById.get(e.tenant)!, event: decoded.event }
  })
  const arrival = { receivedAt: traffic.to }
  // Results flow here so the JIT cannot drop the work.
  let sink = 0

  const bench = new Bench({ name: 'kernel', time, iterations: 10, warmupIterations: 5, throws: true })
  bench
    .add('(a) processor.apply, pre-parsed', () => {
      const processor = createProcessor(PROCESSOR_OPTIONS)
      for (const { tenant, event } of parsed) {
        const outcome = processor.apply(tenant, event, arrival)
        if (outcome.kind === 'applied') sink += outcome.deltas.length
      }
    })
    .add('(b) decodeEvent + apply', () => {
      const processor = createProcessor(PROCESSOR_OPTIONS)
      for (let i = 0; i < bodies.length; i++) {
        const decoded = decodeEvent(bodies[i])
        if (!decoded.ok || decoded.kind !== 'event') throw new Error('not an event')
        const outcome = processor.apply(parsed[i].tenant, decoded.event, arrival)
        if (outcome.kind === 'applied') sink += outcome.deltas.length
      }
    })
    .add('(c) bare Map tenant×minute sum', () => {
      const sums = new Map<string, Map<number, number>>()
      for (const { tenant, event } of parsed) {
        let byMinute = sums.get(tenant.id)
        if (!byMinute) sums.set(tenant.id, (byMinute = new Map()))
        const minute = event.ts - (event.ts % 60_000)
        byMinute.set(minute, (byMinute.get(minute) ?? 0) + 1)
      }
      sink += sums.size
    })
    .add('(d) bare JSON.parse', () => {
      for (const body of bodies) sink += (JSON.parse(body) as { id: string }).id.length
    })

  console.log(
    `kernel: ${BATCH.toLocaleString('en')} events per iteration (${traffic.orders} new orders, 4 tenants), ` +
      `${time} ms per task`,
  )
  await bench.run()

  const rate = new Map(bench.tasks.map((task) => [task.name.slice(0, 3), eventsPerSecond(task)]))
  for (const task of bench.tasks) {
    const perSecond = eventsPerSecond(task)
    const rme = task.result.state === 'completed' ? task.result.latency.rme : NaN
    console.log(
      `  ${task.name.padEnd(34)} ${fmt(perSecond).padStart(12)} events/s  ` +
        `${(1e9 / perSecond).toFixed(0).padStart(6)} ns/event  ±${rme.toFixed(1)} %`,
    )
  }
  const ratio = (x: string, y: string) => rate.get(x)! / rate.get(y)!
  console.log(
    `  (a)/(c) = ${ratio('(a)', '(c)').toFixed(4)}   (the Map sum is ${(1 / ratio('(a)', '(c)')).toFixed(1)}× faster)`,
  )
  console.log(
    `  (b)/(d) = ${ratio('(b)', '(d)').toFixed(4)}   ` +
      `(JSON.parse alone is ${(1 / ratio('(b)', '(d)')).toFixed(1)}× faster)`,
  )
  if (sink === 42) console.log('')
}

/** Mean over iterations, GC pauses included: they are part of the kernel's real cost. */
function eventsPerSecond(task: Task): number {
  const result = task.result
  if (result.state !== 'completed') throw new Error(`task ${task.name} ended ${result.state}`)
  return (BATCH * 1000) / result.period
}

export function flagValue(argv: string[], flag: string): string | undefined {
  const i = argv.indexOf(flag)
  return i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith(`${flag}=`))?.slice(flag.length + 1)
}

export const fmt = (n: number) => Math.round(n).toLocaleString('en')

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await runKernel(process.argv.slice(2))
