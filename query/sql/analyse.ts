// Static analysis of an analyst's query, on ClickHouse's own parser output. The query text is
// never trusted: ClickHouse parses it (formatQuery refuses more than one statement; EXPLAIN AST
// and EXPLAIN QUERY TREE show what it means), and this module decides from that output alone.
// Pure functions over the explain text, so they are unit-tested without an engine.
import { SQL_TABLES, allowedTable } from './tables.ts'

export class SqlRefused extends Error {
  override name = 'SqlRefused'
}

export interface AstNode {
  kind: string
  /** What follows the kind: a name, a literal, `(alias x)`. */
  text: string
  children: AstNode[]
}

const LINE = /^( *)([A-Za-z][A-Za-z0-9]*)(?: (.*))?$/
const CHILDREN = / ?\(children (\d+)\)$/

/**
 * The tree of `EXPLAIN AST` output, one row per node. Refuses any row that is not a well-formed
 * node line and any node whose child count disagrees with what ClickHouse printed: a quoted
 * identifier with a line break or a forged line can then never pass for a node.
 */
export function parseExplainAst(lines: string[]): AstNode {
  const stack: { node: AstNode; depth: number; expected: number }[] = []
  let root: AstNode | undefined
  for (const line of lines) {
    const m = LINE.exec(line)
    if (!m || line.includes('\n') || line.includes('\r'))
      throw new SqlRefused(
        'the query has an identifier or literal this service cannot analyse ' +
          '(line breaks in identifiers are not supported)',
      )
    const depth = m[1].length
    const rest = m[3] ?? ''
    const count = CHILDREN.exec(rest)
    const node: AstNode = { kind: m[2], text: count ? rest.slice(0, count.index) : rest, children: [] }
    const expected = count ? Number(count[1]) : 0
    while (stack.length > 0 && stack[stack.length - 1].depth >= depth) closeNode(stack.pop()!)
    if (stack.length === 0) {
      if (root || depth !== 0) throw new SqlRefused('the query analysis is not a single tree')
      root = node
    } else {
      const parent = stack[stack.length - 1]
      if (depth !== parent.depth + 1) throw new SqlRefused('the query analysis is malformed')
      parent.node.children.push(node)
    }
    stack.push({ node, depth, expected })
  }
  while (stack.length > 0) closeNode(stack.pop()!)
  if (!root) throw new SqlRefused('empty query')
  return root
}

function closeNode(entry: { node: AstNode; expected: number }): void {
  if (entry.node.children.length !== entry.expected) throw new SqlRefused('the query analysis is malformed')
}

/**
 * Function names (lower case) that read outside the query's tables, reach the outside world or the server, or stall.
 */
const DENIED_FUNCTIONS = new Set([
  'joinget',
  'joingetornull',
  'file',
  'catboostevaluate',
  'sleep',
  'sleepeachrow',
  'aiclassify',
  'aiembed',
  'aiextract',
  'aigenerate',
  'aitranslate',
  'getsetting',
  'getsettingordefault',
  'getserversetting',
  'getmergetreesetting',
  'getmacro',
  'getclienthttpheader',
  'getserverport',
  'getoskernelversion',
  'globalvariable',
  'hascolumnintable',
  'filesystemavailable',
  'filesystemcapacity',
  'filesystemunreserved',
  'serveruuid',
  'tcpport',
  'hostname',
  'fqdn',
  'uptime',
  'zookeepersessionuptime',
  'currentuser',
  'authenticateduser',
  'currentprofiles',
  'currentroles',
  'enabledprofiles',
  'enabledroles',
  'defaultprofiles',
  'defaultroles',
  'addresstoline',
  'addresstolinewithinlines',
  'addresstosymbol',
  'demangle',
  'logtrace',
  'transactionid',
  'transactionlatestsnapshot',
  'transactionoldestsnapshot',
  'ismergetreepartcoveredby',
  'mergetreepartinfo',
  'shardcount',
  'shardnum',
  // Blocks and their positions follow the storage (parts, granules), which hold every tenant's rows.
  'blocknumber',
  'rownumberinblock',
  'rownumberinallblocks',
  'blocksize',
  'blockserializedsize',
  'runningdifference',
  'runningdifferencestartingwithfirstvalue',
  'runningaccumulate',
  'neighbor',
])
const DENIED_PREFIXES = ['dict', 'naivebayes', '__']
const IN_FUNCTIONS = /^(global)?(not)?(null)?in$/i

/** Statement kinds a query may contain; any other `…Query` node (INSERT, ALTER, EXPLAIN, …) is refused. */
const QUERY_KINDS = new Set([
  'SelectWithUnionQuery',
  'SelectQuery',
  'SelectIntersectExceptQuery',
  'TablesInSelectQuery',
])

/** What a SELECT without FROM reads (EXPLAIN AST shows it too): one row, one column `dummy` = 0. */
const NO_DATA_TABLES = new Set(['system.one'])

/** Every readable row is the caller's: naming the tenant column can only be an attempt at others'. */
const TENANT_COLUMNS = new Set(SQL_TABLES.map((t) => t.tenantColumn))

/**
 * Virtual columns (`_part`, `_part_offset`, `_block_number`, `_table`, …) describe the storage, and a
 * part holds every tenant's rows: their values tell about others' rows. No exposed table has a real
 * column starting with `_`; one that did would be listed here.
 */
const REAL_UNDERSCORE_COLUMNS = new Set<string>()
export function virtualColumn(name: string): boolean {
  return name.startsWith('_') && !REAL_UNDERSCORE_COLUMNS.has(name)
}
const refuseVirtual = (name: string) =>
  new SqlRefused(
    `the ${name} column is not readable: ` +
      'columns starting with _ are ClickHouse storage metadata, shared by all tenants',
  )
const MATCHERS = new Set(['Identifier', 'ColumnsListMatcher', 'QualifiedColumnsListMatcher'])

/** Real columns of an exposed table that analysts may not read (`seq`: see tables.ts). */
const HIDDEN_COLUMNS = new Map(SQL_TABLES.map((t) => [t.table, new Set(Object.keys(t.hiddenColumns ?? {}))]))

const nameOf = (node: AstNode) => node.text.replace(/ \(alias .*\)$/, '')

export function deniedFunction(name: string): boolean {
  const lower = name.toLowerCase()
  return DENIED_FUNCTIONS.has(lower) || DENIED_PREFIXES.some((p) => lower.startsWith(p)) || lower.endsWith('ignoreset')
}

/**
 * Refuses anything but one read-only SELECT over the allowed tables: other statements, SETTINGS,
 * FORMAT, INTO OUTFILE, table functions, system and unknown tables, dictionaries and the
 * functions above. Unqualified names that are not allowed tables may be CTEs (EXPLAIN AST does
 * not print CTE names); the query tree check after this one resolves them.
 */
export function checkAst(root: AstNode): void {
  if (root.kind !== 'SelectWithUnionQuery')
    throw new SqlRefused(`only a single SELECT is allowed, got ${describeKind(root.kind)}`)
  if (root.children.length !== 1)
    throw new SqlRefused(
      'FORMAT, INTO OUTFILE and SETTINGS clauses are not allowed (choose the output format with the Accept header)',
    )
  const hasCte = someNode(root, (n) => n.kind === 'WithElement')
  visit(root, (node, parent) => {
    if (node.kind.endsWith('Query') && !QUERY_KINDS.has(node.kind))
      throw new SqlRefused(`only SELECT is allowed, got ${describeKind(node.kind)}`)
    if (node.kind === 'Set' || node.kind === 'SetQuery')
      throw new SqlRefused('SETTINGS clauses are not allowed: limits are set by the service')
    if (node.kind === 'Function' && parent?.kind === 'TableExpression')
      throw new SqlRefused(`table functions such as ${nameOf(node)}() are not allowed: read the documented tables`)
    if (node.kind === 'TableIdentifier') {
      const name = nameOf(node)
      if (allowedTable(name) || NO_DATA_TABLES.has(name)) return
      if (!name.includes('.') && hasCte) return
      throw new SqlRefused(`table ${name} is not readable: the tables are ${allowedList()} (GET /v1/sql/tables)`)
    }
    if (MATCHERS.has(node.kind)) {
      const virtual = nameOf(node).split('.').find(virtualColumn)
      if (virtual) throw refuseVirtual(virtual)
    }
    if (node.kind === 'Identifier' && TENANT_COLUMNS.has(nameOf(node).split('.').pop()!)) {
      throw new SqlRefused(
        `the ${nameOf(node)} column is implied: ` +
          'every row you can read is your own, so conditions, joins and groups on it are refused',
      )
    }
    if (node.kind === 'Function') {
      const name = nameOf(node)
      if (deniedFunction(name)) throw new SqlRefused(`function ${name}() is not allowed`)
      if (IN_FUNCTIONS.test(name)) {
        const rhs = node.children[0]?.children[1]
        if (rhs && (rhs.kind === 'Identifier' || rhs.kind === 'TableIdentifier'))
          throw new SqlRefused(`\`IN ${nameOf(rhs)}\` reads a table by name: write IN (SELECT … FROM …) instead`)
      }
    }
  })
}

/**
 * The backstop, on `EXPLAIN QUERY TREE` of the exact text that will run: every table ClickHouse
 * resolved must be an allowed one, and no table function or denied function may appear.
 */
export function checkQueryTree(lines: string[]): void {
  const tables = new Map<string, string>()
  const columns: { name: string; source: string }[] = []
  for (const raw of lines) {
    if (raw.includes('\n') || raw.includes('\r'))
      throw new SqlRefused(
        'the query has an identifier or literal this service cannot analyse ' +
          '(line breaks in identifiers are not supported)',
      )
    const line = raw.trimStart()
    // PREWHERE runs while reading, before the tenant filter: refused (WHERE does the same job here).
    if (line === 'PREWHERE') throw new SqlRefused('PREWHERE is not allowed: use WHERE')
    if (line.startsWith('TABLE_FUNCTION')) throw new SqlRefused('table functions are not allowed')
    if (line.startsWith('TABLE id: ')) {
      // An alias could contain "table_name: …"; ClickHouse prints the real name last.
      const at = line.lastIndexOf('table_name: ')
      const table = at < 0 ? '' : line.slice(at + 'table_name: '.length).split(', ')[0]
      if (NO_DATA_TABLES.has(table) && line.endsWith(`table_name: ${table}`)) continue
      if (!allowedTable(table) || !table.includes('.'))
        throw new SqlRefused(`table ${table || '(unnamed)'} is not readable: the tables are ${allowedList()}`)
    }
    for (const m of line.matchAll(/function_name: ([^,\s]+)/g))
      if (deniedFunction(m[1])) throw new SqlRefused(`function ${m[1]}() is not allowed`)
    const table = /^TABLE id: (\d+), .*table_name: ([^,\s]+)$/.exec(line)
    if (table) tables.set(table[1], table[2])
    // A quoted name could hold ", source_id: "; ClickHouse prints the real source last.
    const column = /^COLUMN id: \d+, column_name: (.*), result_type: .*, source_id: (\d+)$/.exec(line)
    if (column) columns.push({ name: column[1], source: column[2] })
  }
  // Checked after the whole tree: a table node is printed after the columns that read it.
  for (const { name, source } of columns) {
    const table = tables.get(source)
    if (!table) continue
    if (virtualColumn(name)) throw refuseVirtual(name)
    if (HIDDEN_COLUMNS.get(table)?.has(name)) {
      const reason = SQL_TABLES.find((t) => t.table === table)?.hiddenColumns?.[name]
      const instead = `name the columns you need, or write SELECT * EXCEPT (${name})`
      throw new SqlRefused(`the ${name} column of ${table} is not readable (${reason}): ${instead}`)
    }
  }
}

function describeKind(kind: string): string {
  const word = kind
    .replace(/Query$/, '')
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .toUpperCase()
  return word || kind
}

function allowedList(): string {
  return SQL_TABLES.map((t) => t.name).join(', ')
}

function visit(node: AstNode, fn: (node: AstNode, parent?: AstNode) => void, parent?: AstNode): void {
  fn(node, parent)
  for (const child of node.children) visit(child, fn, node)
}

function someNode(node: AstNode, test: (n: AstNode) => boolean): boolean {
  return test(node) || node.children.some((c) => someNode(c, test))
}
