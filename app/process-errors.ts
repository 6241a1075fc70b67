// What the process does with a failure that nothing handled, never silently. An unhandled promise
// rejection (a promise nobody awaited or caught) is logged with its stack and counted, and the
// process carries on: one forgotten path must not stop ingest for every tenant; the count is there
// for GET /metrics. An uncaught exception leaves the process in a state nobody planned for: it is
// logged and counted here too, then Node's default ends the process (code 1), which is right.
import type { Log } from '../common/log.ts'

let unhandled = 0

/** Unhandled rejections and uncaught exceptions since the process started. */
export const unhandledCount = (): number => unhandled

/** Installs the policy (app/start.ts at start; tests too); returns what removes it again. */
export function handleProcessErrors(log: Log): () => void {
  const onRejection = (reason: unknown) => {
    unhandled++
    log.error({ err: reason }, 'unhandled promise rejection')
  }
  // The monitor only watches: Node's own handling (print, exit) still follows.
  const onException = (err: Error, origin: NodeJS.UncaughtExceptionOrigin) => {
    unhandled++
    log.error({ err, origin }, 'uncaught exception: the process ends')
  }
  process.on('unhandledRejection', onRejection)
  process.on('uncaughtExceptionMonitor', onException)
  return () => {
    process.off('unhandledRejection', onRejection)
    process.off('uncaughtExceptionMonitor', onException)
  }
}
