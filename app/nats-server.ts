// The nats-server the app runs for itself when NATS_URL is unset (docs/operations.md): one per DATA_DIR,
// on loopback, restarted on the same port if it dies, so clients simply reconnect.
import { type ChildProcess, spawn } from 'node:child_process'
import { accessSync, constants, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { type AddressInfo, type Socket, connect, createServer } from 'node:net'
import { basename, delimiter, join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Log } from '../common/log.ts'

export interface EmbeddedNats {
  url: string
  stop(): Promise<void>
}

export interface EmbeddedNatsOptions {
  dataDir: string
  log: Log
}

// Debian installs nats-server in /usr/sbin, which is not on a non-root user's PATH.
const EXTRA_BIN_DIRS = ['/usr/sbin', '/usr/local/sbin', '/usr/local/bin', '/usr/bin']
const POLL_MS = 20
const READY_TIMEOUT_MS = 10_000
const STOP_GRACE_MS = 5_000
const FIRST_BACKOFF_MS = 250
const MAX_BACKOFF_MS = 5_000
const STDERR_TAIL_LINES = 12
const STDERR_KEEP_CHARS = 8_000
export const MAX_PAYLOAD_BYTES = 8 * 1024 * 1024

const NATS_SERVER_MISSING =
  'nats-server was not found on PATH nor in /usr/sbin, /usr/local/sbin, /usr/local/bin, /usr/bin. ' +
  'Either install nats-server (e.g. `apt-get install nats-server`, as root), ' +
  'or run the stack with `docker compose up` (docker-compose.yml in the repo), ' +
  'or set NATS_URL to a running `nats-server -js`.'

export function findNatsServer(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...EXTRA_BIN_DIRS]
  return dirs.map((dir) => resolve(dir, 'nats-server')).find(isExecutableFile)
}

export async function startEmbeddedNats(options: EmbeddedNatsOptions): Promise<EmbeddedNats> {
  const { log } = options
  const bin = findNatsServer()
  if (!bin) throw new Error(NATS_SERVER_MISSING)
  const storeDir = resolve(options.dataDir, 'nats')
  const serverFile = join(storeDir, 'server.json')
  await mkdir(storeDir, { recursive: true })
  await stopLeftover(serverFile, storeDir, log)

  const port = await freePort()
  // The current process's last lines of output, for error messages: its own log ends with the cause.
  let stderrTail = ''
  const tail = () => stderrTail.trimEnd().split('\n').slice(-STDERR_TAIL_LINES).join('\n') || '(no output)'
  // A Shopify webhook or a SKU-cost upload can exceed NATS's default 1 MB message: allow 8 MB
  // (the most NATS advises), which the request body limit stays under.
  const configFile = join(storeDir, 'nats.conf')
  writeFileSync(configFile, `max_payload: ${MAX_PAYLOAD_BYTES}\n`)
  const launch = (): Running => {
    stderrTail = ''
    const args = ['-c', configFile, '-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir]
    const running = launchServer(bin, args, (chunk) => {
      stderrTail = (stderrTail + chunk).slice(-STDERR_KEEP_CHARS)
    })
    try {
      if (running.child.pid) writeFileSync(serverFile, JSON.stringify({ pid: running.child.pid, port }))
    } catch (err) {
      // Only the clean-up after a crash depends on it: keep the server up.
      log.warn({ file: serverFile, err }, 'nats-server: could not write its pid file')
    }
    return running
  }

  let current = launch()
  try {
    await waitUntilListening(port, current, tail)
  } catch (err) {
    await terminate(current)
    throw err
  }

  let stopping = false
  let backoff = FIRST_BACKOFF_MS
  let restartTimer: NodeJS.Timeout | undefined
  const supervise = (running: Running) => {
    void running.exited.then((how) => {
      if (stopping) return
      // A server that ran for a while crashed for a new reason: start the back-off over.
      const delay = Date.now() - running.startedAt > MAX_BACKOFF_MS ? FIRST_BACKOFF_MS : backoff
      backoff = Math.min(delay * 2, MAX_BACKOFF_MS)
      log.error({ how, port, delay_ms: delay, output: tail() }, 'nats-server exited unexpectedly; restarting')
      restartTimer = setTimeout(() => {
        current = launch()
        log.info({ pid: current.child.pid }, 'nats-server restarted')
        supervise(current)
      }, delay).unref()
    })
  }
  supervise(current)

  // The server runs in its own process group (see launchServer), so it must not outlive a
  // process.exit() or an uncaught exception; a SIGKILL leaves it behind for stopLeftover.
  const killOnExit = () => current.child.kill('SIGTERM')
  process.on('exit', killOnExit)

  let stopped: Promise<void> | undefined
  return {
    url: `nats://127.0.0.1:${port}`,
    stop() {
      stopped ??= (async () => {
        stopping = true
        clearTimeout(restartTimer)
        process.off('exit', killOnExit)
        await terminate(current)
        rmSync(serverFile, { force: true })
      })()
      return stopped
    },
  }
}

interface Running {
  child: ChildProcess
  startedAt: number
  /** Resolves (never rejects) with how the process ended, including a failed spawn. */
  exited: Promise<string>
}

function launchServer(bin: string, args: string[], onStderr: (chunk: string) => void): Running {
  // Its own process group: a Ctrl-C in the terminal reaches the app, which then drains its
  // connections before stopping the server, instead of the server vanishing first.
  const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true })
  child.stderr?.setEncoding('utf8').on('data', onStderr)
  // Never the reason the app stays alive: stop() or the exit hook ends it.
  child.unref()
  ;(child.stderr as Socket | null)?.unref()
  const exited = new Promise<string>((done) => {
    child.once('error', (err) => done(`failed to start: ${err.message}`))
    // 'close' rather than 'exit': by then the last of stderr has been read into the tail.
    child.once('close', (code, signal) => done(signal ? `signal ${signal}` : `exit code ${code}`))
  })
  return { child, startedAt: Date.now(), exited }
}

async function waitUntilListening(port: number, running: Running, tail: () => string): Promise<void> {
  let ended: string | undefined
  void running.exited.then((how) => {
    ended = how
  })
  const deadline = Date.now() + READY_TIMEOUT_MS
  while (Date.now() < deadline) {
    if (ended) throw new Error(`nats-server ${ended} before accepting connections on port ${port}:\n${tail()}`)
    if (await acceptsConnections(port)) return
    await sleep(POLL_MS)
  }
  throw new Error(
    `nats-server did not accept connections on 127.0.0.1:${port} within ${READY_TIMEOUT_MS / 1000} s:\n${tail()}`,
  )
}

async function terminate(running: Running): Promise<void> {
  if (running.child.exitCode !== null || running.child.signalCode !== null || !running.child.pid) return
  // The child is unref'd: without this, a caller awaiting stop() could see Node exit mid-await.
  running.child.ref()
  running.child.kill('SIGTERM')
  const grace = sleep(STOP_GRACE_MS, false, { ref: false })
  const graceful = await Promise.race([running.exited.then(() => true), grace])
  if (graceful) return
  running.child.kill('SIGKILL')
  await running.exited
}

/** Stops the server an earlier run left behind (the app was killed), so two never share a store. */
async function stopLeftover(serverFile: string, storeDir: string, log: Log): Promise<void> {
  const pid = readPid(serverFile)
  if (!pid || !isServerFor(pid, storeDir)) return
  const parent = parentPid(pid)
  if (parent !== undefined && parent > 1 && isNode(parent)) {
    throw new Error(
      `${storeDir} is in use by nats-server pid ${pid} of the running process ${parent}: ` +
        'another Pulse process uses this DATA_DIR; stop it or choose another DATA_DIR.',
    )
  }
  log.warn({ pid }, 'stopping a nats-server left running by an earlier run')
  signal(pid, 'SIGTERM')
  if (await gone(pid, storeDir, STOP_GRACE_MS)) return
  signal(pid, 'SIGKILL')
  if (!(await gone(pid, storeDir, STOP_GRACE_MS)))
    throw new Error(`nats-server pid ${pid} survived SIGKILL; not starting a second server on ${storeDir}`)
}

function readPid(serverFile: string): number | undefined {
  try {
    const { pid } = JSON.parse(readFileSync(serverFile, 'utf8')) as { pid?: unknown }
    return Number.isInteger(pid) && (pid as number) > 0 ? (pid as number) : undefined
  } catch {
    return undefined
  }
}

// Matching the store dir too means a recycled pid, even another project's nats-server, is never
// killed. A zombie has an empty cmdline, so it counts as gone.
function isServerFor(pid: number, storeDir: string): boolean {
  const args = readProc(pid, 'cmdline').split('\0')
  return basename(args[0] ?? '').startsWith('nats-server') && args.includes(storeDir)
}

async function gone(pid: number, storeDir: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (isServerFor(pid, storeDir)) {
    if (Date.now() >= deadline) return false
    await sleep(POLL_MS)
  }
  return true
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name)
  } catch {
    // Already gone between the check and the signal.
  }
}

// An orphan is re-parented to init or a sub-reaper; a live node parent means another app owns it.
function parentPid(pid: number): number | undefined {
  const afterName = readProc(pid, 'stat').split(')').pop() ?? ''
  const ppid = Number(afterName.trim().split(' ')[1])
  return ppid > 0 ? ppid : undefined
}

function isNode(pid: number): boolean {
  try {
    return basename(readlinkSync(`/proc/${pid}/exe`)).startsWith('node')
  } catch {
    return false
  }
}

function readProc(pid: number, file: string): string {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8')
  } catch {
    return ''
  }
}

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return statSync(path).isFile()
  } catch {
    return false
  }
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer()
    server.once('error', fail)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo
      server.close(() => done(port))
    })
  })
}

function acceptsConnections(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host: '127.0.0.1', port })
    socket.once('connect', () => {
      socket.destroy()
      done(true)
    })
    socket.once('error', () => done(false))
  })
}
