// Run by process-errors.test.ts in a process of its own: installs the policy, leaves a rejection
// unhandled, reports the count, then throws from a callback.
import { handleProcessErrors, unhandledCount } from '../../app/process-errors.ts'
import { createLogger } from '../../common/log.ts'

const log = createLogger('info')
handleProcessErrors(log)
void Promise.reject(new Error('nobody awaited this'))
// Rejections nobody handled are reported once the current turn's promise jobs have run.
setImmediate(() => {
  log.info({ unhandled: unhandledCount() }, 'still running')
  setImmediate(() => {
    throw new Error('thrown from a callback')
  })
  setImmediate(() => log.info({}, 'not reached: the process has ended'))
})
