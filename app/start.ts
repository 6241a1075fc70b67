// `npm start`: the whole stack on embedded defaults, plus (unless DEMO=0) a demo tenant with live
// demo traffic. Prints the dashboard URL and the demo tenant's API key.
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError, loadConfig } from './config.ts'
import { startDemoTraffic } from './demo-traffic.ts'
import { type Pulse, startPulse } from './main.ts'
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
  const pulse = await startPulse(config)
  console.log(`Pulse is running at ${pulse.url}`)
  if (config.adminTokenIsNew)
    console.log(`Admin token (shown once; kept in ${join(config.dataDir, 'secrets.json')}): ${config.adminToken}`)

  let demo: { stop(): Promise<void> } | undefined
  if (config.demo) {
    const apiKey = await demoKey(pulse, config.dataDir)
    console.log(`Demo tenant "${DEMO_TENANT.id}" API key: ${apiKey}`)
    console.log(
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
      log: (line) => console.log(`[demo] ${line}`),
    })
  }

  stopOnSignals(async () => {
    await demo?.stop()
    await pulse.stop()
  })
}

main().catch((err) => {
  console.error(err instanceof ConfigError ? err.message : err)
  process.exit(1)
})
