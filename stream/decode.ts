// Turns a stream message body back into a typed event or a settings change; used by the consumer
// and by replay, so both read the stream the same way.
import { messageOf } from '../common/errors.ts'
import { type PulseEvent, event } from '../common/events.ts'
import { type Settings, settingsSchema } from '../common/settings.ts'

/** Settings travel in the event stream, so replaying history applies them at the same point. */
export const SETTINGS_TYPE = 'settings.updated'

export type Decoded =
  | { ok: true; kind: 'event'; event: PulseEvent }
  | { ok: true; kind: 'settings'; id: string; ts: number; source: string; settings: Settings }
  | { ok: false; reason: 'bad_json' | 'invalid_event'; detail: string }

export function decodeEvent(body: string): Decoded {
  let json: unknown
  try {
    json = JSON.parse(body)
  } catch (err) {
    return { ok: false, reason: 'bad_json', detail: messageOf(err) }
  }
  if ((json as { type?: unknown })?.type === SETTINGS_TYPE) {
    const { id, ts, settings } = json as { id: string; ts: number; settings: unknown }
    const parsed = settingsSchema.safeParse(settings)
    if (parsed.success && typeof id === 'string' && typeof ts === 'number')
      return { ok: true, kind: 'settings', id, ts, source: 'pulse', settings: parsed.data }
    return {
      ok: false,
      reason: 'invalid_event',
      detail: parsed.success ? 'settings message without id or ts' : issues(parsed.error.issues),
    }
  }
  const parsed = event.safeParse(json)
  if (parsed.success) return { ok: true, kind: 'event', event: parsed.data }
  return { ok: false, reason: 'invalid_event', detail: issues(parsed.error.issues) }
}

const issues = (list: { path: PropertyKey[]; message: string }[]) =>
  list.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')
