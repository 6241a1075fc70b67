import { readFileSync } from 'node:fs'
import { startEmbeddedNats } from '../app/nats-server.ts'
const dataDir = '/tmp/nd7'
const t0 = Date.now()
const nats = await startEmbeddedNats({ dataDir, log: (l) => console.log(`+${Date.now() - t0}ms LOG`, l.split('\n')[0]) })
const pidNow = () => JSON.parse(readFileSync(`${dataDir}/nats/server.json`, 'utf8')).pid as number
let pid = pidNow()
for (let i = 0; i < 4; i++) {
  process.kill(pid, 'SIGKILL')
  while (pidNow() === pid) await new Promise((r) => setTimeout(r, 10))
  pid = pidNow()
  await new Promise((r) => setTimeout(r, 100))
}
process.kill(pid, 'SIGKILL')
await new Promise((r) => setTimeout(r, 100))
await nats.stop() // during the pending 5000 ms (capped) restart
console.log(`+${Date.now() - t0}ms stopped during back-off; waiting 6 s to see no restart`)
await new Promise((r) => setTimeout(r, 6000))
console.log('servers:', (await import('node:child_process')).execSync("pgrep -f 'nats-server.*/tmp/nd7' || true").toString() || 'none')
