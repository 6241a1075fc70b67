// Output formats of POST /v1/sql, chosen with the Accept header (JSON when absent or */*).

export type SqlFormat = 'json' | 'ndjson' | 'csv' | 'tsv' | 'pretty'

const SPECS: Record<SqlFormat, { clickhouse: string; contentType: string; mediaTypes: string[] }> = {
  // ClickHouse's JSON: {meta: [{name, type}], data: [{…}], rows, statistics}. 64-bit integers are strings.
  json: { clickhouse: 'JSON', contentType: 'application/json', mediaTypes: ['application/json'] },
  ndjson: {
    clickhouse: 'JSONEachRow',
    contentType: 'application/x-ndjson',
    mediaTypes: ['application/x-ndjson', 'application/jsonl', 'application/ndjson'],
  },
  csv: { clickhouse: 'CSVWithNames', contentType: 'text/csv; charset=utf-8', mediaTypes: ['text/csv'] },
  tsv: {
    clickhouse: 'TabSeparatedWithNames',
    contentType: 'text/tab-separated-values; charset=utf-8',
    mediaTypes: ['text/tab-separated-values'],
  },
  // The table clickhouse-client prints (`npm run sql` asks for it).
  pretty: {
    clickhouse: 'PrettyCompactMonoBlock',
    contentType: 'text/plain; charset=utf-8',
    mediaTypes: ['text/plain'],
  },
}

export const SQL_MEDIA_TYPES = Object.values(SPECS).flatMap((s) => s.mediaTypes)

export function formatSpec(format: SqlFormat) {
  return SPECS[format]
}

/** The best format the Accept header allows, by q-value then order; JSON when nothing matches. */
export function negotiateFormat(accept: string | undefined): SqlFormat {
  if (!accept) return 'json'
  const ranges = accept
    .split(',')
    .map((part, index) => {
      const [type, ...params] = part.trim().toLowerCase().split(';')
      const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)).find(Boolean)
      return { type: type.trim(), q: q ? Number(q[1]) : 1, index }
    })
    .filter((r) => r.q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index)
  for (const range of ranges) {
    for (const [format, spec] of Object.entries(SPECS) as [SqlFormat, (typeof SPECS)[SqlFormat]][]) {
      if (spec.mediaTypes.includes(range.type)) return format
    }
    if (range.type === '*/*' || range.type === 'application/*') return 'json'
  }
  return 'json'
}
