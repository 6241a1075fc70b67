// Pipelined JetStream publishing: every message goes out with its own reply inbox and one
// subscription collects the PubAcks. js.publish() awaited per message is ~10× slower here
// (measured in bench/README.md), and a batch of 10,000 events must be confirmed before we answer 202.
import { type MsgHdrs, type NatsConnection, createInbox } from '@nats-io/transport-node'

export interface PubAck {
  stream: string
  seq: number
  duplicate: boolean
}

export interface Outgoing {
  subject: string
  /** A message moved as stored (ingest/partitions.ts) is bytes. */
  data: string | Uint8Array
  headers: MsgHdrs
}

export class PublishError extends Error {
  override name = 'PublishError'
}

/** A message larger than the NATS server takes (its max_payload): retrying cannot help. */
export class PayloadTooLargeError extends Error {
  override name = 'PayloadTooLargeError'
  constructor(
    readonly bytes: number,
    readonly limit: number,
    options?: ErrorOptions,
  ) {
    super(`a message of ${bytes} bytes is over the NATS server's limit of ${limit} bytes`, options)
  }
}

/** Room kept for the headers we stamp (ids, receipt time, rate) within max_payload. */
const HEADER_ROOM = 4 * 1024

export function createPipelinedPublisher(nc: NatsConnection, options: { timeoutMs?: number; inFlight?: number } = {}) {
  const timeoutMs = options.timeoutMs ?? 10_000
  const inFlight = options.inFlight ?? 1_000
  const prefix = createInbox()
  const waiting = new Map<string, { resolve: (ack: PubAck) => void; reject: (err: Error) => void }>()
  let next = 0

  nc.subscribe(`${prefix}.*`, {
    callback: (err, msg) => {
      const token = msg?.subject.slice(prefix.length + 1) ?? ''
      const waiter = waiting.get(token)
      if (!waiter) return
      waiting.delete(token)
      if (err) return waiter.reject(new PublishError(err.message))
      if (msg.headers?.hasError)
        return waiter.reject(new PublishError(`JetStream answered ${msg.headers.code} ${msg.headers.description}`))
      const reply = msg.json<{ stream?: string; seq?: number; duplicate?: boolean; error?: { description?: string } }>()
      if (reply.error || reply.seq === undefined)
        return waiter.reject(new PublishError(`JetStream refused: ${reply.error?.description ?? 'no sequence'}`))
      waiter.resolve({ stream: reply.stream ?? '', seq: reply.seq, duplicate: reply.duplicate === true })
    },
  })

  function publishOne(item: Outgoing): Promise<PubAck> {
    return new Promise((resolve, reject) => {
      const token = String(next++)
      waiting.set(token, { resolve, reject })
      nc.publish(item.subject, item.data, { reply: `${prefix}.${token}`, headers: item.headers })
    })
  }

  /** Publishes all, keeping `inFlight` unconfirmed at most; rejects if any is refused or times out. */
  async function publishAll(items: Outgoing[]): Promise<PubAck[]> {
    const limit = (nc.info?.max_payload ?? 1024 * 1024) - HEADER_ROOM
    for (const item of items) {
      const bytes = Buffer.byteLength(item.data)
      if (bytes > limit) throw new PayloadTooLargeError(bytes, limit)
    }
    const acks: PubAck[] = new Array(items.length)
    let cursor = 0
    let timedOut = false
    let timer: NodeJS.Timeout | undefined
    const lane = async () => {
      while (cursor < items.length && !timedOut) {
        const i = cursor++
        acks[i] = await publishOne(items[i])
      }
    }
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true
        reject(new PublishError(`JetStream did not confirm within ${timeoutMs} ms`))
      }, timeoutMs)
    })
    try {
      await Promise.race([Promise.all(Array.from({ length: Math.min(inFlight, items.length) }, lane)), timeout])
      return acks
    } finally {
      clearTimeout(timer)
    }
  }

  return { publishAll }
}

export type PipelinedPublisher = ReturnType<typeof createPipelinedPublisher>
