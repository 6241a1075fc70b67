// A real pino logger (the app's, common/log.ts) whose JSON lines a test can read back, parsed.
import { type Logger, createLogger } from '../../common/log.ts'

export function logLines(): { log: Logger; lines: Record<string, any>[] } {
  const lines: Record<string, any>[] = []
  return { log: createLogger('info', { write: (line: string) => void lines.push(JSON.parse(line)) }), lines }
}
