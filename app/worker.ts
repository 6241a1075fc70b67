// Entry of a stream worker thread (app/workers.ts): a node of role `worker` without an HTTP port,
// reached over NATS like any other node. Answers the main thread's asks and stops on its word.
import { parentPort, workerData } from 'node:worker_threads'
import { messageOf } from '../common/errors.ts'
import { createLogger } from '../common/log.ts'
import { startPulse } from './main.ts'
import { handleProcessErrors } from './process-errors.ts'
import type { FromWorker, ToWorker, WorkerData } from './workers.ts'

const { config, peers } = workerData as WorkerData
const port = parentPort!
const tell = (msg: FromWorker) => port.postMessage(msg)
const log = createLogger(config.logLevel).child({ node: config.nodeId })
handleProcessErrors(log)

try {
  const pulse = await startPulse(config, { log, listen: false, peers })
  port.on('message', async (msg: ToWorker) => {
    if (msg.type === 'ask') {
      // Always answered, if only with nothing: the main thread is waiting.
      const value = await pulse.answer(msg.what).catch((err) => {
        log.error({ err, what: msg.what }, 'stream worker could not answer')
        return undefined
      })
      tell({ type: 'answer', id: msg.id, value })
    } else if (msg.type === 'stop') {
      await pulse.stop()
      tell({ type: 'stopped' })
      port.close()
    }
  })
  tell({ type: 'ready' })
} catch (err) {
  log.error({ err }, 'stream worker could not start')
  tell({ type: 'failed', message: messageOf(err) })
  port.close()
}
