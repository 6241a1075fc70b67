// SIGINT/SIGTERM run the given graceful stop once, then exit. A stop that has not finished after
// `forceAfterMs` (a dependency not answering) is abandoned: the process exits with code 1, and
// whatever was not acknowledged is redelivered after the restart.
export interface StopOptions {
  forceAfterMs?: number
  log?: (line: string) => void
}

export function stopOnSignals(stop: () => Promise<void>, options: StopOptions = {}): void {
  const forceAfterMs = options.forceAfterMs ?? 9_000
  const log = options.log ?? ((line: string) => console.error(`[pulse] ${line}`))
  let stopping = false
  const onSignal = async (signal: NodeJS.Signals) => {
    if (stopping) return
    stopping = true
    setTimeout(() => {
      log(`graceful stop after ${signal} did not finish in ${forceAfterMs / 1000} s; exiting`)
      process.exit(1)
    }, forceAfterMs).unref()
    try {
      await stop()
    } catch (err) {
      log(`graceful stop failed: ${(err as Error).stack ?? (err as Error).message}`)
      process.exit(1)
    }
    process.exit(0)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
}
