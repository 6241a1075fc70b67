// The pure half of POST /v1/sql's guard: parsing ClickHouse's EXPLAIN output and deciding on it.
import { describe, expect, it } from 'vitest'
import { HttpError } from '../../common/errors.ts'
import {
  SqlRefused,
  checkAst,
  checkCharacters,
  checkQueryTree,
  deniedFunction,
  negotiateFormat,
  parseExplainAst,
  virtualColumn,
} from '../../query/sql/index.ts'

// EXPLAIN AST of `SELECT count() FROM events` (one row per line, as ClickHouse prints it).
const selectFromEvents = [
  'SelectWithUnionQuery (children 1)',
  ' ExpressionList (children 1)',
  '  SelectQuery (children 2)',
  '   ExpressionList (children 1)',
  '    Function count (children 1)',
  '     ExpressionList',
  '   TablesInSelectQuery (children 1)',
  '    TablesInSelectQueryElement (children 1)',
  '     TableExpression (children 1)',
  '      TableIdentifier events',
]
const withTable = (name: string) => [...selectFromEvents.slice(0, -1), `      TableIdentifier ${name}`]
const check = (lines: string[]) => () => checkAst(parseExplainAst(lines))

describe('EXPLAIN AST parsing', () => {
  it('builds the tree with its child counts', () => {
    const root = parseExplainAst(selectFromEvents)
    expect(root.kind).toBe('SelectWithUnionQuery')
    expect(root.children[0].children[0].children[1].children[0].children[0].children[0]).toMatchObject({
      kind: 'TableIdentifier',
      text: 'events',
    })
  })

  it.each([
    [
      'a line forged by an identifier with a line break',
      [...selectFromEvents.slice(0, -1), '      TableIdentifier pulse.ev', 'ents'],
    ],
    ['a node more than ClickHouse counted', [...selectFromEvents, '      TableIdentifier pulse.events']],
    ['a child under a leaf', [...selectFromEvents, '       Identifier x']],
    ['a second root', [...selectFromEvents, 'SelectWithUnionQuery']],
    [
      'a row holding a newline',
      [...selectFromEvents.slice(0, -1), '      TableIdentifier events\nTableIdentifier system.tables'],
    ],
  ])('refuses %s', (_what, lines) => {
    expect(() => parseExplainAst(lines)).toThrow(SqlRefused)
  })
})

describe('the AST check', () => {
  it('accepts the allowed tables, short or qualified', () => {
    expect(check(selectFromEvents)).not.toThrow()
    expect(check(withTable('pulse.rollup_minute'))).not.toThrow()
  })

  it.each(['system.tables', 'pulse.schema_migrations', 'INFORMATION_SCHEMA.TABLES', 'secrets'])(
    'refuses table %s',
    (name) => {
      expect(check(withTable(name))).toThrow(/not readable/)
    },
  )

  it('refuses table functions, denied functions, SETTINGS, other statements and the tenant column', () => {
    const tableFunction = [
      ...selectFromEvents.slice(0, -1),
      '      Function url (children 1)',
      '       ExpressionList (children 1)',
      "        Literal 'http://x'",
    ]
    expect(check(tableFunction)).toThrow(/table functions/)
    const dict = [
      'SelectWithUnionQuery (children 1)',
      ' ExpressionList (children 1)',
      '  SelectQuery (children 1)',
      '   ExpressionList (children 1)',
      '    Function dictGet (children 1)',
      '     ExpressionList',
    ]
    expect(check(dict)).toThrow(/dictGet/)
    const settings = [
      'SelectWithUnionQuery (children 1)',
      ' ExpressionList (children 1)',
      '  SelectQuery (children 2)',
      '   ExpressionList (children 1)',
      '    Literal UInt64_1',
      '   Set',
    ]
    expect(check(settings)).toThrow(/SETTINGS/)
    expect(check(['InsertQuery'])).toThrow(/only a single SELECT/)
    expect(check(['SelectWithUnionQuery (children 2)', ' ExpressionList', " Literal '/tmp/x'"])).toThrow(/INTO OUTFILE/)
    const tenant = [
      'SelectWithUnionQuery (children 1)',
      ' ExpressionList (children 1)',
      '  SelectQuery (children 1)',
      '   ExpressionList (children 1)',
      '    Identifier e.tenant',
    ]
    expect(check(tenant)).toThrow(/implied/)
  })

  it('refuses IN with a table name', () => {
    const lines = [
      'SelectWithUnionQuery (children 1)',
      ' ExpressionList (children 1)',
      '  SelectQuery (children 1)',
      '   ExpressionList (children 1)',
      '    Function in (children 1)',
      '     ExpressionList (children 2)',
      '      Identifier event_id',
      '      Identifier events',
    ]
    expect(check(lines)).toThrow(/IN events/)
  })

  it.each([
    'dictGetString',
    'joinGet',
    'file',
    'FILE',
    'sleepEachRow',
    '__getScalar',
    'getSetting',
    'aiGenerate',
    'inIgnoreSet',
  ])('denies %s()', (name) => {
    expect(deniedFunction(name)).toBe(true)
  })
  const storageFunctions = [
    'blockNumber',
    'rowNumberInBlock',
    'rowNumberInAllBlocks',
    'blockSize',
    'runningDifference',
    'neighbor',
  ]
  it.each([...storageFunctions, 'hostName', 'shardNum'])(
    'denies %s(), which shows the storage other tenants share',
    (name) => {
      expect(deniedFunction(name)).toBe(true)
    },
  )
  it('refuses virtual columns by name, qualified or not, naming the column', () => {
    const select = (identifier: string) => [
      'SelectWithUnionQuery (children 1)',
      ' ExpressionList (children 1)',
      '  SelectQuery (children 1)',
      '   ExpressionList (children 1)',
      `    Identifier ${identifier}`,
    ]
    const virtual = [
      '_part',
      '_part_offset',
      '_partition_id',
      '_block_number',
      '_row_exists',
      '_table',
      '_shard_num',
      '_etag',
    ]
    for (const name of virtual) {
      expect(check(select(name))).toThrow(`the ${name} column is not readable`)
      expect(check(select(`e.${name}`))).toThrow(`the ${name} column is not readable`)
    }
    expect(check(select('type'))).not.toThrow()
    expect(virtualColumn('_part_uuid')).toBe(true)
    expect(virtualColumn('part')).toBe(false)
  })
  it.each(['count', 'sum', 'JSONExtractString', 'row_number', 'toStartOfDay', 'fileExtension'])(
    'allows %s()',
    (name) => {
      expect(deniedFunction(name)).toBe(false)
    },
  )
})

describe('the query tree check', () => {
  it('accepts resolved allowed tables and system.one', () => {
    expect(() =>
      checkQueryTree([
        'QUERY id: 0',
        '  JOIN TREE',
        '    TABLE id: 3, alias: __table1, table_name: pulse.events',
        '    TABLE id: 4, table_name: system.one',
      ]),
    ).not.toThrow()
  })
  it('takes the last table_name, so an alias cannot hide a table', () => {
    expect(() =>
      checkQueryTree(['    TABLE id: 3, alias: x, table_name: pulse.events, table_name: system.tables']),
    ).toThrow(/system.tables/)
  })
  it('refuses PREWHERE, which runs before the tenant filter, and rows with line breaks', () => {
    expect(() => checkQueryTree(['QUERY id: 0', '  PREWHERE', '    FUNCTION id: 4, function_name: equals'])).toThrow(
      /PREWHERE/,
    )
    expect(() => checkQueryTree(['    TABLE id: 3, alias: `a\nTABLE id: 4`, table_name: pulse.events'])).toThrow(
      /line breaks/,
    )
  })
  it('refuses table functions and unresolved names', () => {
    expect(() => checkQueryTree(['    TABLE_FUNCTION id: 3, table_function_name: numbers'])).toThrow(/table functions/)
    expect(() => checkQueryTree(['    TABLE id: 3, table_name: pulse.schema_migrations'])).toThrow(/not readable/)
    expect(() => checkQueryTree(['      FUNCTION id: 2, function_name: dictGet, function_type: ordinary'])).toThrow(
      /dictGet/,
    )
  })
})

describe('the query tree check on columns', () => {
  const tree = (column: string, source = 3) => [
    'QUERY id: 0',
    '  PROJECTION',
    '    LIST id: 1, nodes: 1',
    `      COLUMN id: 2, column_name: ${column}, result_type: UInt64, source_id: ${source}`,
    '  JOIN TREE',
    '    TABLE id: 3, alias: __table1, table_name: pulse.events',
    '    QUERY id: 4, alias: __table2, is_subquery: 1',
  ]
  it('refuses the shared stream sequence of events, however it is reached', () => {
    const refusal = /the seq column of pulse.events is not readable .*SELECT \* EXCEPT \(seq\)/
    expect(() => checkQueryTree(tree('seq'))).toThrow(refusal)
  })
  it('refuses a virtual column ClickHouse resolved on a table', () => {
    expect(() => checkQueryTree(tree('_part_offset'))).toThrow('the _part_offset column is not readable')
  })
  it('accepts other columns, and a subquery column that is only named seq', () => {
    expect(() => checkQueryTree(tree('event_id'))).not.toThrow()
    expect(() => checkQueryTree(tree('seq', 4))).not.toThrow()
  })
})

describe('characters in the query text', () => {
  it.each([
    ['\u0000', 'U+0000 (NUL)'],
    ['\u0001', 'U+0001'],
    ['\u001B', 'U+001B'],
    ['\u007F', 'U+007F'],
  ])('refuses %j with a 400 naming it and its position', (char, named) => {
    const query = `SELECT 1${char}`
    const message = `the query contains the control character ${named} at character 9: remove it`
    expect(() => checkCharacters(query)).toThrow(message)
    try {
      checkCharacters(query)
    } catch (err) {
      expect(err).toBeInstanceOf(HttpError)
      expect((err as HttpError).status).toBe(400)
    }
  })
  it('accepts tabs, line breaks and other Unicode', () => {
    expect(() => checkCharacters("SELECT\t1\r\n, 'é ✓ \u2028'")).not.toThrow()
  })
})

describe('output formats', () => {
  it.each([
    [undefined, 'json'],
    ['*/*', 'json'],
    ['text/csv', 'csv'],
    ['application/x-ndjson', 'ndjson'],
    ['text/plain', 'pretty'],
    ['text/tab-separated-values', 'tsv'],
    ['text/csv;q=0.5, application/x-ndjson', 'ndjson'],
    ['image/png', 'json'],
  ])('Accept %s → %s', (accept, format) => {
    expect(negotiateFormat(accept)).toBe(format)
  })
})
