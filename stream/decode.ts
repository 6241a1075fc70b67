// Turns a stream message body back into a typed event; used by the consumer and by replay.
import { type PulseEvent, event } from '../common/events.ts'

export type Decoded = { ok: true; event: PulseEvent } | { ok: false; reason: 'bad_json' | 'invalid_event'; detail: string }

export function decodeEvent(body: string): Decoded {
  let json: unknown
  try {
    json = JSON.parse(body)
  } catch (err) {
    return { ok: false, reason: 'bad_json', detail: (err as Error).message }
  }
  const parsed = event.safeParse(json)
  if (parsed.success) return { ok: true, event: parsed.data }
  const detail = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')
  return { ok: false, reason: 'invalid_event', detail }
}
