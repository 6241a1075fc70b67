// Versioned schema migrations: files NNN_name.sql, applied once each, in order, at start.
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import type { ClickHouseClient } from '@clickhouse/client'
import { rows } from './client.ts'

const dir = join(import.meta.dirname, 'migrations')

export async function migrate(client: ClickHouseClient): Promise<number[]> {
  await client.command({ query: 'CREATE DATABASE IF NOT EXISTS pulse' })
  await client.command({
    query:
      'CREATE TABLE IF NOT EXISTS pulse.schema_migrations ' +
      '(version UInt32, name String, applied_at DateTime DEFAULT now()) ENGINE = MergeTree ORDER BY version',
  })
  const done = new Set(
    (await rows<{ version: number }>(client, 'SELECT version FROM pulse.schema_migrations')).map((r) =>
      Number(r.version),
    ),
  )
  const applied: number[] = []
  for (const file of readdirSync(dir)
    .filter((f) => /^\d+_.*\.sql$/.test(f))
    .sort()) {
    const version = Number.parseInt(file, 10)
    if (done.has(version)) continue
    const sql = readFileSync(join(dir, file), 'utf8').replace(/^\s*--.*$/gm, '')
    for (const statement of sql
      .split(/;\s*$/m)
      .map((s) => s.trim())
      .filter(Boolean))
      await client.command({ query: statement })
    await client.insert({ table: 'pulse.schema_migrations', values: [{ version, name: file }], format: 'JSONEachRow' })
    applied.push(version)
  }
  return applied
}
