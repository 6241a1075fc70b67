import { connect } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'
import { readFileSync, existsSync } from 'node:fs'
import { execSync } from 'node:child_process'
import { startEmbeddedNats } from '../app/nats-server.ts'
const dataDir = process.argv[2]!
const t0 = Date.now()
const nats = await startEmbeddedNats({ dataDir, log: (l) => console.log('LOG', l) })
console.log('started in', Date.now() - t0, 'ms', nats.url, readFileSync(`${dataDir}/nats/server.json`, 'utf8'))
const nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 })
const jsm = await jetstreamManager(nc)
await jsm.streams.add({ name: 'T', subjects: ['t.>'] })
console.log('jetstream ok, streams:', (await jsm.streams.list().next()).map((s) => s.config.name))
const { pid } = JSON.parse(readFileSync(`${dataDir}/nats/server.json`, 'utf8'))
console.log('kill -9 server', pid)
process.kill(pid, 'SIGKILL')
await new Promise((r) => setTimeout(r, 1500))
const after = JSON.parse(readFileSync(`${dataDir}/nats/server.json`, 'utf8'))
console.log('server.json now', after, 'new pid differs:', after.pid !== pid)
console.log('stream survives restart:', (await jsm.streams.info('T')).config.name)
await nc.close()
await nats.stop()
console.log('stopped; server.json exists:', existsSync(`${dataDir}/nats/server.json`), 'pid alive:', existsSync(`/proc/${after.pid}`))
console.log('leftover nats-servers:', execSync(`ps -eo args | grep '^/usr/sbin/nats-server.*${dataDir}' || true`).toString().trim() || 'none')
