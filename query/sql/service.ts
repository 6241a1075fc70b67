// POST /v1/sql behind the route: one read-only SELECT over the tenant's own rows, bounded.
//
// 1. ClickHouse's parser turns the text into one canonical statement (formatQuery refuses a
//    second statement; comments and heredocs are gone). The text goes in as a bound parameter,
//    never as SQL: on chDB a `;` in raw text would run a second statement.
// 2. EXPLAIN AST of the canonical text is checked (analyse.ts): SELECT only, allowed tables only,
//    no table functions, dictionaries, SETTINGS, FORMAT or INTO OUTFILE.
// 3. The query that runs is `SELECT * FROM (<canonical>) SETTINGS <ours>`: the tenant filter on
//    every allowed table (additional_table_filters, applied by ClickHouse to every read of the
//    table: subqueries, joins, CTEs, UNION branches), the limits, readonly.
// 4. EXPLAIN QUERY TREE of exactly that text must resolve to allowed tables only; then it runs.
import PQueue from 'p-queue'
import { ANALYST_PRIORITY } from '../../clickhouse/index.ts'
import { clickHouseFailure } from '../../clickhouse/errors.ts'
import { HttpError } from '../../common/errors.ts'
import { isTenantId } from '../../tenants/index.ts'
import { SqlRefused, checkAst, checkQueryTree, parseExplainAst } from './analyse.ts'
import type { SqlEngine } from './engine.ts'
import { type SqlFormat, formatSpec } from './formats.ts'
import type { SqlLimits } from './limits.ts'
import { SQL_TABLES } from './tables.ts'

export interface SqlResult {
  body: string
  contentType: string
}

export interface RunOptions {
  format: SqlFormat
  /** Lower than the service's limit, never higher. */
  timeoutSeconds?: number
}

export const refused = (message: string) => new HttpError(400, 'sql_not_allowed', message)
const invalid = (message: string, details?: unknown) => new HttpError(400, 'invalid_sql', message, details)

/** ClickHouse error types that mean a bound was hit. */
const LIMIT_ERRORS: Record<string, string> = {
  TIMEOUT_EXCEEDED: 'time',
  TOO_SLOW: 'time',
  QUERY_WAS_CANCELLED: 'time',
  MEMORY_LIMIT_EXCEEDED: 'memory',
  TOO_MANY_ROWS_OR_BYTES: 'result',
  TOO_MANY_ROWS: 'rows read',
  TOO_MANY_BYTES: 'bytes read',
  SET_SIZE_LIMIT_EXCEEDED: 'memory',
  QUOTA_EXCEEDED: 'quota',
  QUOTA_EXPIRED: 'quota',
}

export function createSqlService(options: { engine: SqlEngine; limits: SqlLimits }) {
  const { engine, limits } = options
  // Every query passes its tenant's queue, then the shared one: a tenant holds at most
  // perTenantConcurrency of the totalConcurrency slots, the rest stay free for the others.
  const shared = new PQueue({ concurrency: limits.totalConcurrency })
  const tenantQueues = new Map<string, PQueue>()

  function settingsFor(tenant: string, timeoutSeconds: number, format: SqlFormat): string {
    if (!isTenantId(tenant)) throw new Error(`not a tenant id: ${tenant}`)
    // A tenant id is lower-case letters, digits and -: nothing in it needs escaping inside these literals.
    const filters = SQL_TABLES.map((t) => `'${t.table}': '${t.tenantColumn} = \\'${tenant}\\''`).join(', ')
    const s = [
      `additional_table_filters = {${filters}}`,
      `max_execution_time = ${timeoutSeconds}`,
      `timeout_overflow_mode = 'throw'`,
      `max_memory_usage = ${limits.maxMemoryBytes}`,
      `max_result_rows = ${limits.maxResultRows}`,
      `max_result_bytes = ${limits.maxResultBytes}`,
      `result_overflow_mode = 'throw'`,
      `max_rows_in_join = ${limits.maxRowsInJoin}`,
      `max_bytes_in_join = ${limits.maxBytesInJoin}`,
      `join_overflow_mode = 'throw'`,
      `max_threads = ${limits.maxThreads}`,
      // Below the app's own reads: an analyst's heavy query yields the engine to every dashboard.
      `priority = ${ANALYST_PRIORITY}`,
      `os_thread_priority = 19`,
      `allow_introspection_functions = 0`,
      // The tenant filter is applied after reading; nothing of the analyst's may be evaluated
      // before it, or an error (throwIf, a failed cast) would tell about other tenants' rows:
      // no conditions moved into PREWHERE, no filters pushed below it.
      `optimize_move_to_prewhere = 0`,
      `query_plan_filter_push_down = 0`,
      // The same JSON on both engines (chDB's default differs): 64-bit integers as strings, exact in JavaScript.
      `output_format_json_quote_64bit_integers = 1`,
      // rows_read and bytes_read count what was read before the tenant filter: other tenants' rows too.
      `output_format_write_statistics = 0`,
    ]
    if (format === 'pretty')
      s.push('output_format_pretty_color = 0', `output_format_pretty_max_rows = ${limits.maxResultRows}`)
    // On a server the tenant's user is readonly = 2 already, and readonly cannot be set again there.
    if (engine.mode === 'embedded') s.push('readonly = 2')
    return s.join(', ')
  }

  function lines(query: string, params?: Record<string, unknown>): Promise<string[]> {
    return engine
      .analyse(async (client) => {
        const result = await client.query({ query, query_params: params, format: 'JSONEachRow' })
        return (await result.json<Record<string, string>>()).map((row) => Object.values(row)[0])
      })
      .catch((err) => {
        throw clickHouseError(err)
      })
  }

  /** Steps 1-4: the exact text that may run for this tenant, or a 400. */
  async function prepare(tenant: string, query: string, timeoutSeconds: number, format: SqlFormat): Promise<string> {
    if (query.trim() === '') throw invalid('the query is empty')
    if (query.length > limits.maxQueryChars)
      throw invalid(`the query is longer than ${limits.maxQueryChars} characters`)
    checkCharacters(query)
    const [canonical] = await lines('SELECT formatQuery({q:String}) AS q', { q: query })
    if (!/^(WITH|SELECT|\()/i.test(canonical))
      throw refused(`only a single SELECT is allowed, got ${canonical.split(/\s/)[0].toUpperCase()}`)
    const ast = await lines(`SELECT explain FROM (EXPLAIN AST ${canonical})`)
    guard(() => checkAst(parseExplainAst(ast)))
    const text = `SELECT * FROM (\n${canonical}\n)\nSETTINGS ${settingsFor(tenant, timeoutSeconds, format)}`
    const tree = await lines(`SELECT explain FROM (EXPLAIN QUERY TREE ${text})`)
    guard(() => checkQueryTree(tree))
    return text
  }

  /** Runs `task` in the tenant's turn and a shared slot, or refuses it (429) when both queues are full. */
  function admit<T>(tenant: string, task: () => Promise<T>): Promise<T> {
    let mine = tenantQueues.get(tenant)
    if (!mine) tenantQueues.set(tenant, (mine = new PQueue({ concurrency: limits.perTenantConcurrency })))
    if (mine.pending + mine.size >= limits.perTenantConcurrency + limits.perTenantQueue) {
      const { perTenantConcurrency: running, perTenantQueue: waiting } = limits
      const message = `at most ${running} SQL queries of a tenant run at once and ${waiting} more wait`
      throw new HttpError(429, 'too_many_queries', `${message}; retry when one has finished`)
    }
    if (shared.size >= limits.totalQueue) {
      const busy = `${limits.totalConcurrency} queries running, ${limits.totalQueue} waiting`
      throw new HttpError(429, 'too_many_queries', `the SQL service is busy (${busy}); retry shortly`)
    }
    const queue = mine
    const done = queue.add(() => shared.add(task)) as Promise<T>
    // Forget an idle tenant's queue: the map holds only tenants with queries in flight.
    return done.finally(() => {
      if (queue.pending + queue.size === 0 && tenantQueues.get(tenant) === queue) tenantQueues.delete(tenant)
    })
  }

  return {
    limits,
    async run(tenant: string, query: string, options: RunOptions): Promise<SqlResult> {
      const timeout = Math.max(
        1,
        Math.min(limits.maxExecutionSeconds, Math.ceil(options.timeoutSeconds ?? limits.maxExecutionSeconds)),
      )
      return admit(tenant, async () => {
        const text = await prepare(tenant, query, timeout, options.format)
        const spec = formatSpec(options.format)
        const body = await engine
          .execute(tenant, async (client) =>
            (await client.query({ query: text, format: spec.clickhouse as 'JSON' })).text(),
          )
          .catch((err) => {
            throw clickHouseError(err, timeout)
          })
        return { body, contentType: spec.contentType }
      })
    },
    /** Only the analysis: what would run, for tests and for explaining a refusal. */
    prepare: (tenant: string, query: string) => prepare(tenant, query, limits.maxExecutionSeconds, 'json'),
  }

  /** A ClickHouse error is the query's fault (4xx); anything else is ours (5xx). */
  function clickHouseError(err: unknown, timeoutSeconds = limits.maxExecutionSeconds): unknown {
    const failure = clickHouseFailure(err)
    if (!failure) return err
    const { code, type } = failure
    const message = cleanMessage(failure.message)
    const bound = type ? LIMIT_ERRORS[type] : undefined
    if (bound) {
      const hint =
        bound === 'time'
          ? `the query ran past its ${timeoutSeconds} s limit`
          : bound === 'result'
            ? `the result is larger than ${limits.maxResultRows} rows or ${limits.maxResultBytes} bytes: ` +
              'aggregate, filter or add a LIMIT'
            : bound === 'memory'
              ? `the query needs more than ${limits.maxMemoryBytes} bytes of memory`
              : `the ${bound} limit was hit`
      return new HttpError(422, 'sql_limit', hint, { limit: bound, clickhouse: message })
    }
    if (type === 'READONLY' || type === 'ACCESS_DENIED') return refused(message)
    // ClickHouse's own hint (raise max_parser_depth) is not the analyst's to follow.
    if (type === 'TOO_DEEP_RECURSION' || type === 'TOO_DEEP_AST') {
      const message = 'the query is nested too deeply: use fewer nested parentheses, subqueries or expressions'
      return invalid(message, { type })
    }
    return invalid(message, { clickhouse_code: code, type })
  }
}

/**
 * Control characters other than tab and line breaks have no place in SQL, and U+0000 ends the
 * text where the engine's C API reads it: refused with their position before ClickHouse sees them.
 */
export function checkCharacters(query: string): void {
  const at = query.search(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/)
  if (at < 0) return
  const code = `U+${query.charCodeAt(at).toString(16).toUpperCase().padStart(4, '0')}`
  const named = code === 'U+0000' ? `${code} (NUL)` : code
  throw invalid(`the query contains the control character ${named} at character ${at + 1}: remove it`)
}

function guard(check: () => void): void {
  try {
    check()
  } catch (err) {
    if (err instanceof SqlRefused) throw refused(err.message)
    throw err
  }
}

/** ClickHouse's message without the echo of the whole query (which carries our settings). */
function cleanMessage(message: string): string {
  return message
    .replace(/\s*In scope [\s\S]*$/, '')
    .replace(/:?\s*While executing [\s\S]*$/, '')
    .replace(/\s*\(version [^)]*\)\s*$/, '')
    .replace(/SETTINGS additional_table_filters[\s\S]*$/, '')
    .trim()
}

export type SqlService = ReturnType<typeof createSqlService>
