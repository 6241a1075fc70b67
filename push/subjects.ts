// NATS subjects between the process that owns live state (publisher) and the WebSocket hubs.
export const liveSubject = (tenant: string, topic: string) => `pulse.live.${tenant}.${topic}`
export const LIVE_WILDCARD = 'pulse.live.*.>'
export const snapshotSubject = (tenant: string, topic: string) => `pulse.snapshot.${tenant}.${topic}`
export const SNAPSHOT_WILDCARD = 'pulse.snapshot.*.>'

/** `pulse.live.<tenant>.<topic…>` → [tenant, topic]; topics may contain ':' but never '.'. */
export function splitSubject(subject: string): [string, string] {
  const [, , tenant, ...topic] = subject.split('.')
  return [tenant, topic.join('.')]
}

/** What travels on a live subject: the topic's new data and its sequence number. */
export interface LiveMessage {
  seq: number
  data: unknown
}
