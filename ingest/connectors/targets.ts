// Where a connector may call. Its configured URLs (api_base_url, and the token endpoints of some
// APIs) go through the SSRF guard at creation, for a clear 400, and again before every sync (the
// HTTP client checks every call too). The sources append paths and queries to api_base_url, so a
// query or fragment in it would take over the path of every call: refused, like credentials.
import { type Resolver, UnsafeTargetError, checkTarget } from '../../common/url-guard.ts'

export const URL_FIELDS = ['api_base_url', 'token_url', 'lwa_endpoint'] as const

export interface TargetOptions {
  /** Loopback, private and link-local targets pass (CONNECTOR_ALLOW_PRIVATE=1). */
  allowPrivate: boolean
  resolve?: Resolver
}

async function checkApiUrl(raw: string, options: TargetOptions): Promise<void> {
  let url: URL | undefined
  try {
    url = new URL(raw)
  } catch {
    // checkTarget below says it is not a URL
  }
  const appended = 'paths and queries are appended to it'
  if (url?.username || url?.password) throw new UnsafeTargetError('credentials in the URL are not allowed')
  if (raw.includes('?')) throw new UnsafeTargetError(`a query (?) is not allowed: ${appended}`)
  if (raw.includes('#')) throw new UnsafeTargetError(`a fragment (#) is not allowed: ${appended}`)
  await checkTarget(raw, options)
}

/** What is wrong with the config's URLs, by config path; empty when every one may be called. */
export async function urlProblems(config: Record<string, unknown>, options: TargetOptions) {
  const problems: { path: string; message: string }[] = []
  for (const field of URL_FIELDS) {
    const raw = config[field]
    if (typeof raw !== 'string') continue
    try {
      await checkApiUrl(raw, options)
    } catch (err) {
      if (!(err instanceof UnsafeTargetError)) throw err
      const hint = err.privateTarget ? ' (set CONNECTOR_ALLOW_PRIVATE=1 to allow private targets)' : ''
      problems.push({ path: `config.${field}`, message: `not an allowed API address: ${err.message}${hint}` })
    }
  }
  return problems
}
