// SIGINT/SIGTERM run the given graceful stop once, then exit. A stop that has not finished after
// `forceAfterMs` (a dependency not answering) is abandoned: the process exits with code 1, and
// whatever was not acknowledged is redelivered after the restart.
import type { Log } from '../common/log.ts'

export interface StopOptions {
  forceAfterMs?: number
  log: Log
}

export function stopOnSignals(stop: () => Promise<void>, options: StopOptions): void {
  const forceAfterMs = options.forceAfterMs ?? 9_000
  const { log } = options
  let stopping = false
  const onSignal = async (signal: NodeJS.Signals) => {
    if (stopping) return
    stopping = true
    setTimeout(() => {
      log.error({ signal, after_ms: forceAfterMs }, 'graceful stop did not finish in time; exiting')
      process.exit(1)
    }, forceAfterMs).unref()
    try {
      await stop()
    } catch (err) {
      log.error({ signal, err }, 'graceful stop failed')
      process.exit(1)
    }
    process.exit(0)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
}
