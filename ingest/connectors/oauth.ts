// OAuth refresh: the sources whose access tokens are short-lived (Google Ads, Amazon SP-API,
// QuickBooks) trade their long-lived refresh token for an access token at the start of a sync.
import type { SyncContext } from './types.ts'

export interface RefreshGrant {
  url: string
  /** The rate-limit bucket of the call (`token`, `lwa`). */
  operation: string
  refreshToken: string
  clientId: string
  clientSecret: string
  /** The client's id and secret in a Basic authorization header (QuickBooks), not in the form. */
  basicAuth?: boolean
}

/** The new access token, and the refresh token the server rotated to, when it sent one. */
export async function refreshAccessToken(
  ctx: Pick<SyncContext<unknown>, 'request'>,
  grant: RefreshGrant,
): Promise<{ accessToken: string; refreshToken?: string }> {
  const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: grant.refreshToken })
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' }
  if (grant.basicAuth) {
    headers.authorization = `Basic ${Buffer.from(`${grant.clientId}:${grant.clientSecret}`).toString('base64')}`
    headers.accept = 'application/json'
  } else {
    form.set('client_id', grant.clientId)
    form.set('client_secret', grant.clientSecret)
  }
  const res = await ctx.request({
    method: 'POST',
    url: grant.url,
    operation: grant.operation,
    headers,
    body: form.toString(),
  })
  const token = JSON.parse(res.text) as { access_token: string; refresh_token?: string }
  return { accessToken: token.access_token, refreshToken: token.refresh_token }
}
