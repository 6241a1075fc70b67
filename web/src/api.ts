// HTTP calls with the signed-in API key. The key stays in this tab (sessionStorage) and in
// Authorization headers; the WebSocket gets a short-lived token instead.
export class ApiError extends Error {
  override name = 'ApiError'
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options)
  }
}

/** A route that does not exist (yet): the panel says "not available yet". */
export const isMissingRoute = (err: unknown) => err instanceof ApiError && (err.status === 404 || err.status === 501)

export type Api = ReturnType<typeof createApi>

export function createApi(apiKey: string) {
  async function request<T>(method: string, path: string): Promise<T> {
    const res = await fetch(path, {
      method,
      headers: { authorization: `Bearer ${apiKey}`, accept: 'application/json' },
    })
    const body = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null
    if (!res.ok)
      throw new ApiError(res.status, body?.error?.code ?? `http_${res.status}`, body?.error?.message ?? res.statusText)
    return body as T
  }
  return {
    get: <T = unknown>(path: string) => request<T>('GET', path),
    async liveToken(): Promise<string> {
      return (await request<{ token: string }>('POST', '/v1/live/token')).token
    },
  }
}
