// Hot dashboard answers (KPIs, timeseries) cached in an LRU, per tenant generation. The stream
// stage's change signal (the same one the live publisher gets) bumps the tenant's generation
// before anyone can read the new state, so every answer computed before an applied event becomes
// unreachable at once: a cache hit is never older than the latest applied event. A flush changes
// no figure (history + live is the same sum), so it invalidates nothing.
//
// Ranges are resolved to the minute by the reader (a minute bin counts when its start lies in
// [floor_to_minute(from), to)), so every `to` inside the same minute gives the same figures:
// keys use floor(from) and ceil(to) to the minute, and `from`, `to` and `as_of` of the answer are
// re-stamped from the request. That is what lets "today up to now" hit at all.
import { LRUCache } from 'lru-cache'
import type { MetricsReader } from '../clickhouse/index.ts'

const MINUTE = 60_000
const floorMinute = (ms: number) => Math.floor(ms / MINUTE) * MINUTE
const ceilMinute = (ms: number) => Math.ceil(ms / MINUTE) * MINUTE

export interface CachedReaderOptions {
  /** Answers kept, over all tenants. */
  max?: number
  /** A backstop only: invalidation is what keeps answers fresh. */
  ttlMs?: number
}

export function createCachedReader(reader: MetricsReader, options: CachedReaderOptions = {}) {
  const generations = new Map<string, number>()
  // Promises, so concurrent identical requests share one computation.
  const cache = new LRUCache<string, Promise<unknown>>({ max: options.max ?? 2_000, ttl: options.ttlMs ?? 60_000 })
  let hits = 0
  let misses = 0

  function cached<T>(
    tenant: { id: string; timezone: string; currency: string },
    key: string,
    compute: () => Promise<T>,
  ): Promise<T> {
    const full = [tenant.id, generations.get(tenant.id) ?? 0, tenant.timezone, tenant.currency, key].join('\u0000')
    const hit = cache.get(full) as Promise<T> | undefined
    if (hit) {
      hits++
      return hit
    }
    misses++
    const answer = compute()
    cache.set(full, answer)
    answer.catch(() => cache.delete(full))
    return answer
  }

  const kpis: MetricsReader['kpis'] = async (tenant, range) => {
    const filter = `${range.brand ?? '\u0001'}\u0000${range.store ?? '\u0001'}`
    const key = `kpis\u0000${floorMinute(range.from)}\u0000${ceilMinute(range.to)}\u0000${range.view}\u0000${filter}`
    const answer = await cached(tenant, key, () => reader.kpis(tenant, range))
    return {
      ...answer,
      from: new Date(range.from).toISOString(),
      to: new Date(range.to).toISOString(),
      as_of: new Date(range.asOf).toISOString(),
    }
  }

  const timeseries: MetricsReader['timeseries'] = (tenant, range) => {
    // A brand or store absent is \u0001, which no name is.
    const key = [
      'timeseries',
      floorMinute(range.from),
      ceilMinute(range.to),
      range.view,
      range.interval,
      range.brand ?? '\u0001',
      range.store ?? '\u0001',
    ].join('\u0000')
    return cached(tenant, key, () => reader.timeseries(tenant, range))
  }

  return {
    ...reader,
    kpis,
    timeseries,
    /** The change signal: call it for every applied event (or settings change) of the tenant. */
    invalidate(tenant: string): void {
      generations.set(tenant, (generations.get(tenant) ?? 0) + 1)
    },
    stats: () => ({ hits, misses, size: cache.size }),
  }
}

export type CachedReader = ReturnType<typeof createCachedReader>
