// `npm run reprocess -- --tenant T --from ISO --to ISO [--connector C] [--url URL]`: re-derive a
// tenant's events from the raw archive after a mapping fix. The embedded ClickHouse belongs to the
// running app, so this asks the app (POST /v1/admin/reprocess) and prints its progress. The admin
// token is ADMIN_TOKEN, else the one kept in DATA_DIR/secrets.json; the URL defaults to the app's
// HOST and PORT.
import { parseArgs } from 'node:util'
import { messageOf } from '../common/errors.ts'
import { ConfigError, loadConfig } from './config.ts'

const usage =
  'usage: npm run reprocess -- --tenant <id> --from <ISO 8601> --to <ISO 8601> ' +
  '[--connector <type>] [--url http://127.0.0.1:8080]'

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      tenant: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      connector: { type: 'string' },
      url: { type: 'string' },
      help: { type: 'boolean' },
    },
  })
  if (values.help || !values.tenant || !values.from || !values.to) {
    console.error(usage)
    return values.help ? 0 : 2
  }
  const config = loadConfig(process.env)
  const url = values.url ?? `http://${config.host}:${config.port}`
  const res = await fetch(`${url.replace(/\/$/, '')}/v1/admin/reprocess`, {
    method: 'POST',
    headers: { authorization: `Bearer ${config.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ tenant: values.tenant, from: values.from, to: values.to, connector: values.connector }),
  }).catch((err: Error) => {
    throw new Error(`cannot reach the app at ${url} (${err.message}); is it running? (--url)`)
  })
  if (res.status !== 200 || !res.body) {
    console.error(`reprocess refused: ${res.status} ${await res.text()}`)
    return 1
  }
  const label = `${values.tenant} ${values.from} → ${values.to}${values.connector ? ` (${values.connector})` : ''}`
  let buffered = ''
  let finished = false
  const decoder = new TextDecoder()
  const reader = res.body.getReader()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    buffered += decoder.decode(value, { stream: true })
    let newline
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline).trim()
      buffered = buffered.slice(newline + 1)
      if (!line) continue
      const p = JSON.parse(line)
      if (p.type === 'error') {
        console.error(`reprocess failed: ${p.message}`)
        return 1
      }
      console.log(
        `reprocess ${label}: ${p.done}/${p.payloads} payloads, ${p.accepted} new events, ` +
          `${p.duplicates} already counted, ${p.dead_letters} dead letters${p.type === 'done' ? ' — done' : ''}`,
      )
      if (p.type === 'done') finished = true
    }
  }
  if (!finished) {
    console.error('reprocess: the app closed the answer before it was done')
    return 1
  }
  return 0
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err instanceof ConfigError ? err.message : `reprocess: ${messageOf(err)}`)
    process.exit(1)
  },
)
