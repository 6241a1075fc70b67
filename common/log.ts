// Structured logs: one JSON line per event (pino), fields first and a short fixed message, so an
// operator can filter on `tenant`, `stage` or `err` instead of parsing sentences (docs/observability.md).
// Components take the small `Log` interface below, which pino's Logger satisfies; tests pass
// `silentLog` or a pino logger writing to a stream of their own to read the lines.
import { type DestinationStream, type Logger, pino } from 'pino'

export type { Logger }

/** Fields of one log line: `tenant`, `err` (an Error, serialised with its stack), ids, counts. */
export type LogFields = Record<string, unknown>

export interface Log {
  info(fields: LogFields, message: string): void
  warn(fields: LogFields, message: string): void
  error(fields: LogFields, message: string): void
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

/**
 * The app's logger: JSON lines on stdout (or `destination`), at `level` and above. Written
 * synchronously: lines keep their order and none is lost when the process ends on an uncaught
 * exception (the app logs little, so the cost is small).
 */
export function createLogger(level: LogLevel = 'info', destination?: DestinationStream): Logger {
  return pino({ level }, destination ?? pino.destination({ dest: 1, sync: true }))
}

export const silentLog: Log = { info() {}, warn() {}, error() {} }
