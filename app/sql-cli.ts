// `npm run sql -- "SELECT …"`: analysts' SQL from a terminal, over HTTP to the running app (the
// embedded engine belongs to the app process), printed as clickhouse-client prints a table.
//
//   npm run sql -- "SELECT type, count() FROM events GROUP BY type"
//   npm run sql -- --format csv "SELECT * EXCEPT (seq) FROM events LIMIT 10" > events.csv
//   echo "SELECT count() FROM events" | npm run sql
//   npm run sql                      # interactive; a query ends with ; (\q or Ctrl-D quits)
//   npm run sql -- --tables          # the tables and their columns
//
// PULSE_URL (default http://127.0.0.1:8080) and PULSE_API_KEY (default: the demo tenant's key kept
// in DATA_DIR/demo-tenant.json by `npm start`), or --url and --key.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { messageOf } from '../common/errors.ts'

const ACCEPT: Record<string, string> = {
  pretty: 'text/plain',
  csv: 'text/csv',
  tsv: 'text/tab-separated-values',
  ndjson: 'application/x-ndjson',
  json: 'application/json',
}

export interface SqlCliOptions {
  url: string
  key: string
  format: string
  out: (text: string) => void
  err: (text: string) => void
}

/** Runs one query; true when it succeeded. */
export async function runQuery(query: string, o: SqlCliOptions): Promise<boolean> {
  const started = Date.now()
  let res: Response
  try {
    res = await fetch(`${o.url}/v1/sql`, {
      method: 'POST',
      headers: { authorization: `Bearer ${o.key}`, 'content-type': 'application/json', accept: ACCEPT[o.format] },
      body: JSON.stringify({ query }),
    })
  } catch (err) {
    o.err(`cannot reach Pulse at ${o.url}: ${messageOf(err)} (is \`npm start\` running? set PULSE_URL)\n`)
    return false
  }
  const text = await res.text()
  if (!res.ok) {
    let error: { code?: string; message?: string } = {}
    try {
      error = JSON.parse(text).error ?? {}
    } catch {}
    o.err(
      `Received exception from Pulse (HTTP ${res.status}):\n` +
        `Code: ${error.code ?? res.status}. ${error.message ?? text}\n`,
    )
    return false
  }
  o.out(text.endsWith('\n') ? text : `${text}\n`)
  if (o.format === 'pretty') o.err(`\nElapsed: ${((Date.now() - started) / 1000).toFixed(3)} sec.\n\n`)
  return true
}

async function printTables(o: SqlCliOptions): Promise<boolean> {
  const res = await fetch(`${o.url}/v1/sql/tables`, { headers: { authorization: `Bearer ${o.key}` } })
  if (!res.ok) {
    o.err(`HTTP ${res.status}: ${await res.text()}\n`)
    return false
  }
  for (const t of (await res.json()) as {
    name: string
    description: string
    columns: { name: string; type: string; description?: string }[]
  }[]) {
    o.out(`${t.name}: ${t.description}\n`)
    for (const c of t.columns) o.out(`  ${c.name.padEnd(20)} ${c.type.padEnd(28)} ${c.description ?? ''}\n`)
    o.out('\n')
  }
  return true
}

function defaultKey(): string | undefined {
  const file = join(process.env.DATA_DIR ?? './.data', 'demo-tenant.json')
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')).api_key : undefined
}

async function interactive(o: SqlCliOptions): Promise<void> {
  const rl = createInterface({ input: process.stdin, output: process.stdout, prompt: 'pulse :) ' })
  let buffer = ''
  rl.prompt()
  for await (const line of rl) {
    if (buffer === '' && /^\s*(\\q|exit|quit)\s*;?\s*$/i.test(line)) break
    buffer += `${line}\n`
    if (/;\s*$/.test(line)) {
      await runQuery(buffer.replace(/;\s*$/, ''), o)
      buffer = ''
    }
    rl.setPrompt(buffer === '' ? 'pulse :) ' : 'pulse :-] ')
    rl.prompt()
  }
  rl.close()
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      key: { type: 'string' },
      format: { type: 'string', short: 'f', default: 'pretty' },
      tables: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help) {
    console.log(
      'npm run sql -- [--url URL] [--key API_KEY] [--format pretty|csv|tsv|ndjson|json] [--tables] ["SELECT …"]',
    )
    return 0
  }
  const key = values.key ?? process.env.PULSE_API_KEY ?? defaultKey()
  if (!key) {
    console.error('no API key: set PULSE_API_KEY or pass --key (npm start prints the demo tenant’s key)')
    return 2
  }
  if (!ACCEPT[values.format!]) {
    console.error(`unknown format ${values.format}: pretty, csv, tsv, ndjson or json`)
    return 2
  }
  const o: SqlCliOptions = {
    url: (values.url ?? process.env.PULSE_URL ?? 'http://127.0.0.1:8080').replace(/\/$/, ''),
    key,
    format: values.format!,
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
  }
  if (values.tables) return (await printTables(o)) ? 0 : 1
  if (positionals.length > 0) return (await runQuery(positionals.join(' '), o)) ? 0 : 1
  if (!process.stdin.isTTY) {
    let input = ''
    for await (const chunk of process.stdin) input += chunk
    const queries = input
      .split(/;\s*(?:\n|$)/)
      .map((q) => q.trim())
      .filter(Boolean)
    let ok = true
    for (const q of queries) ok = (await runQuery(q, o)) && ok
    return ok ? 0 : 1
  }
  await interactive(o)
  return 0
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().then(
    (code) => process.exit(code),
    (err) => {
      console.error(err)
      process.exit(1)
    },
  )
}
