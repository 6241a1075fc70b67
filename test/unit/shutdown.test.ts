// SIGTERM ends the process: with code 0 once the graceful stop is done, and with code 1 and a log
// line when the stop does not finish in time. A child process, as the handler calls process.exit.
import { spawn } from 'node:child_process'
import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

const root = resolve(import.meta.dirname, '../..')

/** Starts a process whose graceful stop is `stopBody`, sends SIGTERM once it is ready, waits for its exit. */
async function terminate(stopBody: string): Promise<{ code: number | null; output: string }> {
  const script = `
    import { pino } from 'pino'
    import { stopOnSignals } from './app/shutdown.ts'
    const log = pino({ base: null, timestamp: false })
    stopOnSignals(() => ${stopBody}, { forceAfterMs: 200, log })
    setInterval(() => {}, 1_000)
    console.log('ready')`
  const args = ['--import', 'tsx', '--input-type=module', '-e', script]
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stderr!.on('data', (d) => (output += d))
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)))
  child.stdout!.on('data', (d) => {
    output += d
    if (String(d).includes('ready')) child.kill('SIGTERM')
  })
  return { code: await exited, output }
}

describe('stopOnSignals', () => {
  it('exits with 0 once the graceful stop is done', async () => {
    const { code, output } = await terminate('Promise.resolve()')
    expect({ code, output }).toEqual({ code: 0, output: 'ready\n' })
  })

  it('exits with 1, saying so, when the graceful stop does not finish', async () => {
    const { code, output } = await terminate('new Promise(() => {})')
    const said = { level: 50, signal: 'SIGTERM', after_ms: 200, msg: 'graceful stop did not finish in time; exiting' }
    expect({ code, output }).toEqual({ code: 1, output: `ready\n${JSON.stringify(said)}\n` })
  })
})
