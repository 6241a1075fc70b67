// Live topic names, filters and their canonical form (push/topic.ts); the wire head (push/subjects.ts).
import { describe, expect, it } from 'vitest'
import { liveMessage, liveSubject } from '../../push/index.ts'
import { asSnapshot, readHead, rewriteHead, snapshotSubject, tenantOfSnapshotSubject } from '../../push/subjects.ts'
import { TopicError, parseTopic, resolveTopic } from '../../push/topic.ts'

describe('parseTopic', () => {
  it.each([
    ['kpis', 'kpis', 'kpis', {}],
    ['kpis?view=order_date', 'kpis?view=order_date', 'kpis', { view: 'order_date' }],
    [
      'timeseries:gmv:1m?view=order_date&last=5',
      'timeseries:gmv:1m?last=5&view=order_date',
      'timeseries:gmv:1m',
      { view: 'order_date', last: '5' },
    ],
    ['dashboard:rfm?segment=CHAMPIONS', 'dashboard:rfm?segment=CHAMPIONS', 'dashboard:rfm', { segment: 'CHAMPIONS' }],
    [
      'kpis?from=2026-11-20T00:00:00%2B05:30',
      'kpis?from=2026-11-20T00%3A00%3A00%2B05%3A30',
      'kpis',
      { from: '2026-11-20T00:00:00+05:30' },
    ],
    [
      'kpis?from=2026-11-20T00:00:00+05:30',
      'kpis?from=2026-11-20T00%3A00%3A00%2B05%3A30',
      'kpis',
      { from: '2026-11-20T00:00:00+05:30' },
    ],
    [
      'dashboard:intent?category=home%20%26%20garden',
      'dashboard:intent?category=home%20%26%20garden',
      'dashboard:intent',
      { category: 'home & garden' },
    ],
  ])('%s', (text, canonical, name, params) => {
    expect(parseTopic(text)).toEqual({ canonical, name, params })
  })

  it.each([
    '',
    'kpis?',
    'kpis?view',
    'kpis?=x',
    'kpis?view=a&view=b',
    'kpis.today',
    'kpis*',
    'a::b',
    ':kpis',
    'kpis?v=%zz',
    'x'.repeat(501),
  ])('refuses %j', (text) => {
    expect(() => parseTopic(text)).toThrow(TopicError)
  })
})

describe('resolveTopic', () => {
  const sources = { kpis: 1, timeseries: 2, 'dashboard:rfm': 3 }
  it.each([
    ['kpis', { key: 'kpis', source: 1, args: [] }],
    ['timeseries:gmv:1m', { key: 'timeseries', source: 2, args: ['gmv', '1m'] }],
    ['dashboard:rfm', { key: 'dashboard:rfm', source: 3, args: [] }],
    ['dashboard:intent', undefined],
    ['kpis2', undefined],
    ['toString', undefined],
  ])('%s', (name, found) => {
    expect(resolveTopic(sources, name)).toEqual(found)
  })
})

describe('wire format', () => {
  it('reads the head of a message and rewrites it without touching the data', () => {
    const text = liveMessage('update', 'kpis?view=order_date', 42, '{"gmv":"1.00","nested":{"type":"x"}}')
    const head = readHead(text)!
    expect(head).toMatchObject({ type: 'update', topic: 'kpis?view=order_date', seq: 42 })
    expect(JSON.parse(rewriteHead(text, head, 'snapshot', 'kpis?view=order_date&x=1'))).toEqual({
      type: 'snapshot',
      topic: 'kpis?view=order_date&x=1',
      seq: 42,
      data: { gmv: '1.00', nested: { type: 'x' } },
    })
    expect(readHead('{"type":"error","code":"bad_topic"}')).toBeUndefined()
  })

  it('turns an update into a snapshot without touching the rest', () => {
    const update = liveMessage('update', 'kpis', 7, '{"type":"update"}')
    expect(asSnapshot(update)).toBe(liveMessage('snapshot', 'kpis', 7, '{"type":"update"}'))
    expect(asSnapshot(asSnapshot(update))).toBe(asSnapshot(update))
  })

  it('keeps topics inside one subject token', () => {
    expect(liveSubject('acme', 'timeseries:gmv:1m?from=2026-11-20T00%3A00%3A00.5Z')).toBe(
      'pulse.live.acme.timeseries:gmv:1m?from=2026-11-20T00%3A00%3A00%2E5Z',
    )
  })

  it('reads the tenant back from a snapshot subject by its tokens', () => {
    expect(snapshotSubject('shop-1')).toBe('pulse.snapshot.shop-1')
    expect(tenantOfSnapshotSubject(snapshotSubject('shop-1'))).toBe('shop-1')
    expect(tenantOfSnapshotSubject('pulse.snapshot')).toBe('')
  })
})
