// The process-wide policy (app/process-errors.ts) in a real process: an unhandled rejection is
// logged with its stack and counted and the process goes on; an uncaught exception is logged,
// counted, and still ends the process with code 1.
import { spawnSync } from 'node:child_process'
import { resolve } from 'node:path'
import { expect, it } from 'vitest'

const child = resolve(import.meta.dirname, 'process-errors-child.ts')

it('logs and counts an unhandled rejection and carries on; logs an uncaught exception and ends the process', () => {
  const run = spawnSync(process.execPath, ['--import', 'tsx', child], { encoding: 'utf8', timeout: 60_000 })
  const lines = run.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line))
  expect(lines.map((l) => l.msg)).toEqual([
    'unhandled promise rejection',
    'still running',
    'uncaught exception: the process ends',
  ])
  const [rejection, running, exception] = lines
  expect(rejection.err.message).toBe('nobody awaited this')
  expect(rejection.err.stack).toContain('process-errors-child.ts')
  expect(running.unhandled).toBe(1)
  expect(exception.err.message).toBe('thrown from a callback')
  expect(exception.err.stack).toContain('process-errors-child.ts')
  expect(exception.origin).toBe('uncaughtException')
  // Node's default handling still ran: the error on stderr, exit code 1.
  expect(run.stderr).toContain('thrown from a callback')
  expect(run.status).toBe(1)
})
