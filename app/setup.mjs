// Runs before `npm start`, `npm test` and `npm run bench`, before `npm install` has ever run:
// plain Node, no dependencies. Silent and quick when everything is already in place.
// Usage: node app/setup.mjs [--with-browser]
import { spawnSync } from 'node:child_process'
import { accessSync, constants, existsSync, statSync } from 'node:fs'
import { delimiter, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = dirname(dirname(fileURLToPath(import.meta.url)))
// Debian keeps nats-server in /usr/sbin, which is not on a non-root user's PATH.
const EXTRA_BIN_DIRS = ['/usr/sbin', '/usr/local/sbin', '/usr/local/bin', '/usr/bin']

function fail(message) {
  console.error(`\nsetup: ${message}\n`)
  process.exit(1)
}

function run(command, args, env = process.env) {
  console.error(`setup: ${command} ${args.join(' ')}`)
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env })
  if (result.error) fail(`could not run ${command}: ${result.error.message}`)
  if (result.status !== 0) fail(`\`${command} ${args.join(' ')}\` failed; see the output above.`)
}

const mtime = (path) => statSync(path, { throwIfNoEntry: false })?.mtimeMs

function ensureNodeModules() {
  const lock = join(root, 'package-lock.json')
  // npm writes this hidden lockfile last, so it is newer than any install it describes.
  const installed = mtime(join(root, 'node_modules', '.package-lock.json'))
  const stale =
    installed === undefined || (mtime(lock) ?? 0) > installed || mtime(join(root, 'package.json')) > installed
  if (!stale) return
  const flags = ['--no-audit', '--no-fund']
  if (existsSync(lock) && npmCi(flags)) return
  run('npm', ['install', ...flags])
}

// False when npm ci refuses a lockfile it considers out of sync. One written against a registry
// mirror that lacks other platforms' optional packages (chdb's darwin builds) is refused, while
// `npm install` uses it unchanged; so only that refusal falls back, quietly.
function npmCi(flags) {
  console.error(`setup: npm ci ${flags.join(' ')}`)
  const result = spawnSync('npm', ['ci', ...flags], {
    cwd: root,
    stdio: ['inherit', 'inherit', 'pipe'],
    encoding: 'utf8',
  })
  if (result.error) fail(`could not run npm: ${result.error.message}`)
  if (result.status !== 0 && /code EUSAGE/.test(result.stderr)) {
    const missing = result.stderr.split('\n').filter((line) => /Missing:|Invalid:/.test(line)).length
    console.error(`setup: npm ci refused package-lock.json (${missing} entries out of sync); using npm install`)
    return false
  }
  process.stderr.write(result.stderr)
  if (result.status !== 0) fail('`npm ci` failed; see the output above.')
  return true
}

function isExecutable(path) {
  try {
    accessSync(path, constants.X_OK)
    return statSync(path).isFile()
  } catch {
    return false
  }
}

function onPath(name) {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...EXTRA_BIN_DIRS]
  return dirs.some((dir) => isExecutable(join(dir, name)))
}

// Installs every missing apt package in one `apt-get update`, or names the alternatives.
function ensureAptPackages(missing) {
  if (missing.length === 0) return
  const canApt = process.getuid?.() === 0 && existsSync('/etc/debian_version')
  if (!canApt) {
    fail(
      missing
        .map((m) => `${m.pkg} is not installed. Either:\n${m.alternatives.map((a) => `  - ${a}`).join('\n')}`)
        .join('\n\n'),
    )
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  run('apt-get', ['update'], env)
  // Recommends would pull systemd, samba and printer tools in with chromium.
  run('apt-get', ['install', '-y', '--no-install-recommends', ...missing.flatMap((m) => m.apt)], env)
  for (const m of missing) if (!m.present()) fail(`apt-get installed ${m.pkg} but it is still not found.`)
}

const withBrowser = process.argv.includes('--with-browser')
const wanted = [
  {
    pkg: 'nats-server',
    apt: ['nats-server'],
    needed: !process.env.NATS_URL,
    present: () => onPath('nats-server'),
    alternatives: [
      'install nats-server (as root on Debian: `apt-get install nats-server`), or',
      'run the stack in containers: `docker compose up` (docker-compose.yml in this repo),',
      'or point NATS_URL at a running `nats-server -js`.',
    ],
  },
  {
    pkg: 'chromium',
    // Without a font package headless pages render text as boxes.
    apt: ['chromium', 'fonts-liberation'],
    needed: withBrowser,
    present: () => isExecutable('/usr/bin/chromium'),
    alternatives: [
      "install Debian's chromium (as root: `apt-get install chromium`); the browser tests use /usr/bin/chromium.",
    ],
  },
]

ensureNodeModules()
ensureAptPackages(wanted.filter((w) => w.needed && !w.present()))
