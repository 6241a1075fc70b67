// `npm start`: the whole stack on embedded defaults, plus (unless DEMO=0) a demo tenant with live
// demo traffic (sent by the node holding the demo tenant's partition, app/main.ts). Prints the
// dashboard URL and the demo tenant's API key.
import { join } from 'node:path'
import { createLogger } from '../common/log.ts'
import { PartitionsMismatchError } from '../ingest/index.ts'
import { ConfigError, loadConfig } from './config.ts'
import { DEMO_TENANT, SecretsMismatchError } from './deployment.ts'
import { startPulse } from './main.ts'
import { handleProcessErrors } from './process-errors.ts'
import { stopOnSignals } from './shutdown.ts'

async function main(): Promise<void> {
  const config = loadConfig(process.env, { demo: true })
  const log = createLogger(config.logLevel)
  handleProcessErrors(log)
  const pulse = await startPulse(config, { log })
  // Scripts wait for this message (test/integration/harness.ts, bench/fairness.ts): keep its wording.
  log.info(
    { url: pulse.url, role: config.role, stream_workers: config.role === 'api' ? 0 : config.streamWorkers },
    `Pulse is running at ${pulse.url}`,
  )
  if (config.adminTokenIsNew)
    log.info({}, `Admin token (shown once; kept in ${join(config.dataDir, 'secrets.json')}): ${config.adminToken}`)
  if (pulse.demoKey !== undefined && config.role !== 'worker') {
    log.info({ tenant: DEMO_TENANT.id }, `Demo tenant "${DEMO_TENANT.id}" API key: ${pulse.demoKey}`)
    log.info(
      {},
      `Dashboard: ${pulse.url}/   KPIs: curl -H 'Authorization: Bearer ${pulse.demoKey}' ${pulse.url}/v1/metrics/kpis`,
    )
  }
  stopOnSignals(() => pulse.stop(), { log })
}

main().catch((err) => {
  // A configuration error is for the person starting the app: said plainly, not as a log line.
  if (err instanceof ConfigError || err instanceof PartitionsMismatchError || err instanceof SecretsMismatchError)
    console.error(err.message)
  else createLogger().fatal({ err }, 'Pulse failed to start')
  process.exit(1)
})
