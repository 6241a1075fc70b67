// Live topic names and their filters, written like a URL path and query:
//
//   topic  = name [ "?" filter *( "&" filter ) ]
//   name   = part *( ":" part )          part: letters, digits, '_' or '-'
//   filter = key "=" value               value percent-encoded ('+' is a plus: write %2B or leave it)
//
// e.g. `kpis`, `kpis?view=order_date`, `timeseries:gmv:1m`, `dashboard:rfm?segment=CHAMPIONS`.
// The canonical form sorts the filters by key and re-encodes the values, so two clients that write
// the same filters in another order share one computation and one stream of updates.
export class TopicError extends Error {
  override name = 'TopicError'
  constructor(
    readonly code: 'bad_topic' | 'unknown_topic' | 'too_large',
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options)
  }
}

export interface ParsedTopic {
  canonical: string
  name: string
  params: Record<string, string>
}

const NAME = /^[A-Za-z0-9_-]+(?::[A-Za-z0-9_-]+)*$/
const KEY = /^[A-Za-z0-9_-]+$/
export const MAX_TOPIC_LENGTH = 500

export function parseTopic(text: string): ParsedTopic {
  if (text.length === 0 || text.length > MAX_TOPIC_LENGTH)
    throw new TopicError('bad_topic', `a topic has 1 to ${MAX_TOPIC_LENGTH} characters`)
  const q = text.indexOf('?')
  const name = q < 0 ? text : text.slice(0, q)
  if (!NAME.test(name))
    throw new TopicError(
      'bad_topic',
      `bad topic name ${JSON.stringify(name)}: parts of letters, digits, '_' or '-' separated by ':'`,
    )
  const params: Record<string, string> = {}
  if (q >= 0) {
    for (const pair of text.slice(q + 1).split('&')) {
      const eq = pair.indexOf('=')
      if (eq <= 0)
        throw new TopicError('bad_topic', `bad filter ${JSON.stringify(pair)} in ${text}: expected key=value`)
      const key = pair.slice(0, eq)
      let value: string
      try {
        value = decodeURIComponent(pair.slice(eq + 1))
      } catch {
        throw new TopicError('bad_topic', `bad percent-encoding in filter ${key}`)
      }
      if (!KEY.test(key)) throw new TopicError('bad_topic', `bad filter key ${JSON.stringify(key)}`)
      if (Object.hasOwn(params, key)) throw new TopicError('bad_topic', `filter ${key} given twice`)
      params[key] = value
    }
  }
  return { canonical: formatTopic(name, params), name, params }
}

export function formatTopic(name: string, params: Record<string, string> = {}): string {
  const keys = Object.keys(params).sort()
  return keys.length === 0 ? name : `${name}?${keys.map((k) => `${k}=${encodeURIComponent(params[k])}`).join('&')}`
}

/** The registered source for a name: an exact match, else the longest registered prefix before ':'. */
export function resolveTopic<S>(
  sources: Record<string, S>,
  name: string,
): { key: string; source: S; args: string[] } | undefined {
  if (Object.hasOwn(sources, name)) return { key: name, source: sources[name], args: [] }
  for (let end = name.lastIndexOf(':'); end > 0; end = name.lastIndexOf(':', end - 1)) {
    const key = name.slice(0, end)
    if (Object.hasOwn(sources, key)) return { key, source: sources[key], args: name.slice(end + 1).split(':') }
  }
  return undefined
}
