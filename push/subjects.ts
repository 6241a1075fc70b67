// NATS subjects and wire format between the process that owns live state (the publisher) and the
// WebSocket hubs. Messages travel in exactly the form a client receives, so a hub relays a string
// without parsing the data: it reads only the head (type, topic, seq).
//
//   pulse.live.<tenant>.<topic token>   updates, published once, received by every hub with clients of the tenant
//   pulse.snapshot.<tenant>             request/reply: body {"topic"}, reply a snapshot or an error message
//   pulse.interest                      hubs say which topics they serve: {"tenant","topics":[…]}, renewed
export const LIVE_PREFIX = 'pulse.live'
export const liveTenantWildcard = (tenant: string) => `${LIVE_PREFIX}.${tenant}.>`
export const LIVE_WILDCARD = `${LIVE_PREFIX}.*.>`
const SNAPSHOT_PREFIX = 'pulse.snapshot'
export const snapshotSubject = (tenant: string) => `${SNAPSHOT_PREFIX}.${tenant}`
export const SNAPSHOT_WILDCARD = `${SNAPSHOT_PREFIX}.*`
/** The tenant a snapshot request is for: the token after `pulse.snapshot` (a tenant id has no '.'). */
export const tenantOfSnapshotSubject = (subject: string) => subject.split('.')[2] ?? ''
export const INTEREST_SUBJECT = 'pulse.interest'
/** A publisher forgets a topic nobody renewed for this long; hubs renew at a third of it. */
export const INTEREST_TTL_MS = 60_000

/** Topics are canonical (see topic.ts): percent-encoded values, so only '.', '*' need escaping here. */
export const liveSubject = (tenant: string, topic: string) =>
  `${LIVE_PREFIX}.${tenant}.${topic.replace(/\./g, '%2E').replace(/\*/g, '%2A')}`

export type MessageType = 'snapshot' | 'update'

/** A server → client message with the data already serialised. */
export const liveMessage = (type: MessageType, topic: string, seq: number, json: string) =>
  `{"type":"${type}","topic":${JSON.stringify(topic)},"seq":${seq},"data":${json}}`

/** How liveMessage starts an update. */
const UPDATE_START = '{"type":"update"'

/** The same message as a snapshot (for a client still owed one); everything after the type is copied. */
export const asSnapshot = (text: string) =>
  text.startsWith(UPDATE_START) ? `{"type":"snapshot"${text.slice(UPDATE_START.length)}` : text

export interface Head {
  type: MessageType
  topic: string
  seq: number
  /** Length of the head: the rest of the text is `"data":…}`. */
  length: number
}

const HEAD = /^\{"type":"(update|snapshot)","topic":("(?:[^"\\]|\\.)*"),"seq":(\d+),/

export function readHead(text: string): Head | undefined {
  const m = HEAD.exec(text)
  if (!m) return undefined
  return { type: m[1] as MessageType, topic: JSON.parse(m[2]) as string, seq: Number(m[3]), length: m[0].length }
}

/** The same message with another type or topic label; the data is copied, never parsed. */
export function rewriteHead(text: string, head: Head, type: MessageType, topic: string): string {
  return `{"type":"${type}","topic":${JSON.stringify(topic)},"seq":${head.seq},${text.slice(head.length)}`
}

export const errorMessage = (code: string, message: string, topic?: string) =>
  JSON.stringify(topic === undefined ? { type: 'error', code, message } : { type: 'error', code, topic, message })
