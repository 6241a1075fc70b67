// `npm start`: the whole stack on embedded defaults, plus (unless DEMO=0) a demo tenant with live
// demo traffic. Prints the dashboard URL and the demo tenant's API key.
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createLogger } from '../common/log.ts'
import { PartitionsMismatchError } from '../ingest/index.ts'
import { ConfigError, loadConfig } from './config.ts'
import { startDemoTraffic } from './demo-traffic.ts'
import { type Pulse, startPulse } from './main.ts'
import { handleProcessErrors } from './process-errors.ts'
import { stopOnSignals } from './shutdown.ts'

const DEMO_TENANT = { id: 'demo', name: 'Demo Marketplace (India)', timezone: 'Asia/Kolkata', currency: 'INR' }

/** The demo tenant's key is shown once by the API, so it is kept in DATA_DIR to print again. */
async function demoKey(pulse: Pulse, dataDir: string): Promise<string> {
  const file = join(dataDir, 'demo-tenant.json')
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')).api_key
  const { apiKey } = await pulse.tenants.create(DEMO_TENANT)
  writeFileSync(file, JSON.stringify({ id: DEMO_TENANT.id, api_key: apiKey }, null, 2), { mode: 0o600 })
  return apiKey
}

async function main(): Promise<void> {
  const config = loadConfig(process.env, { demo: true })
  const log = createLogger(config.logLevel)
  handleProcessErrors(log)
  const pulse = await startPulse(config, { log })
  // Scripts wait for this message (test/integration/harness.ts, bench/fairness.ts): keep its wording.
  log.info({ url: pulse.url }, `Pulse is running at ${pulse.url}`)
  if (config.adminTokenIsNew)
    log.info({}, `Admin token (shown once; kept in ${join(config.dataDir, 'secrets.json')}): ${config.adminToken}`)

  let demo: { stop(): Promise<void> } | undefined
  if (config.demo) {
    const apiKey = await demoKey(pulse, config.dataDir)
    log.info({ tenant: DEMO_TENANT.id }, `Demo tenant "${DEMO_TENANT.id}" API key: ${apiKey}`)
    log.info(
      {},
      `Dashboard: ${pulse.url}/   KPIs: curl -H 'Authorization: Bearer ${apiKey}' ${pulse.url}/v1/metrics/kpis`,
    )
    demo = startDemoTraffic({
      send: async (events) => {
        const res = await fetch(`${pulse.url}/v1/events`, {
          method: 'POST',
          headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
          body: JSON.stringify(events),
        })
        if (res.status !== 202) throw new Error(`demo events refused: ${res.status} ${await res.text()}`)
      },
      log: log.child({ stage: 'demo' }),
    })
  }

  stopOnSignals(
    async () => {
      await demo?.stop()
      await pulse.stop()
    },
    { log },
  )
}

main().catch((err) => {
  // A configuration error is for the person starting the app: said plainly, not as a log line.
  if (err instanceof ConfigError || err instanceof PartitionsMismatchError) console.error(err.message)
  else createLogger().fatal({ err }, 'Pulse failed to start')
  process.exit(1)
})
