// NATS failures recognised by their class and JetStream API error code, never by message text
// (messages change between client and server versions; the codes are the server's API).
// nats.js v3 throws: RequestError (its `cause` says why: NoRespondersError, TimeoutError),
// TimeoutError on its own, and JetStreamApiError carrying the server's `err_code` as `code`.
// KV operations are JetStream requests underneath, so they fail the same ways.
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream'
import { NoRespondersError, RequestError, TimeoutError } from '@nats-io/transport-node'

/** The JetStream API error code (10014, 10059, ...), or undefined for any other failure. */
export function jetStreamApiCode(err: unknown): number | undefined {
  return err instanceof JetStreamApiError ? err.code : undefined
}

export const isStreamNotFound = (err: unknown): boolean => jetStreamApiCode(err) === JetStreamApiCodes.StreamNotFound

export const isConsumerNotFound = (err: unknown): boolean =>
  jetStreamApiCode(err) === JetStreamApiCodes.ConsumerNotFound

/** A write expecting a last sequence that is not the key's: `kv.create` of a key that exists. */
export function isWrongLastSequence(err: unknown): boolean {
  const code = jetStreamApiCode(err)
  return code === JetStreamApiCodes.StreamWrongLastSequence || code === JetStreamApiCodes.StreamWrongLastSequenceUnknown
}

/** Nobody subscribes to the subject a request went to. */
export function isNoResponders(err: unknown): boolean {
  return err instanceof NoRespondersError || (err instanceof RequestError && err.isNoResponders())
}

/** No answer came in time. */
export function isTimeout(err: unknown): boolean {
  return err instanceof TimeoutError || (err instanceof RequestError && err.cause instanceof TimeoutError)
}
