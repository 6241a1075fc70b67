// Starts an embedded server and waits forever (to be SIGKILLed), or exits via process.exit.
import { startEmbeddedNats } from '../app/nats-server.ts'
const nats = await startEmbeddedNats({ dataDir: process.argv[2]!, log: (l) => console.log('LOG', l) })
console.log('READY', nats.url, process.pid)
if (process.argv[3] === 'exit') process.exit(0)
setInterval(() => {}, 1000)
