// One error type crosses every HTTP route; app.onError turns it into the error body (docs/api.md).

export interface ErrorDetail {
  index?: number
  path?: string
  message: string
}

export class HttpError extends Error {
  override name = 'HttpError'
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 415 | 422 | 429 | 500 | 503,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    options?: ErrorOptions,
  ) {
    super(message, options)
  }
}

/** The message of anything thrown: an Error's message, else the value as text (`throw 'x'` happens). */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

export function errorBody(code: string, message: string, details?: unknown) {
  return { error: details === undefined ? { code, message } : { code, message, details } }
}

export const badRequest = (message: string, details?: unknown) => new HttpError(400, 'bad_request', message, details)
export const unauthorized = (message = 'missing or invalid API key') => new HttpError(401, 'unauthorized', message)
export const notFound = (message: string) => new HttpError(404, 'not_found', message)
export const unavailable = (message: string) => new HttpError(503, 'unavailable', message)
