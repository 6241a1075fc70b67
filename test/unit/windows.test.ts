import { describe, it, expect } from 'vitest'
import {
  HOUR,
  MINUTE,
  createLocalDayOf,
  hourOf,
  localDay,
  localDayRange,
  minuteOf,
  startOfLocalDay,
} from '../../stream/windows.ts'

const utc = (iso: string) => Date.parse(iso)

describe('minuteOf / hourOf', () => {
  it.each<[number, number]>([
    [0, 0],
    [1, 0],
    [59_999, 0],
    [60_000, 60_000],
    [60_001, 60_000],
    [utc('2026-11-22T10:37:59.999Z'), utc('2026-11-22T10:37:00Z')],
    [utc('2026-11-22T10:38:00Z'), utc('2026-11-22T10:38:00Z')],
    [-1, -60_000],
    [-60_000, -60_000],
    [-60_001, -120_000],
  ])('minuteOf(%i) = %i', (ts, expected) => {
    expect(minuteOf(ts)).toBe(expected)
  })

  it.each<[number, number]>([
    [0, 0],
    [HOUR - 1, 0],
    [HOUR, HOUR],
    [utc('2026-11-22T10:59:59.999Z'), utc('2026-11-22T10:00:00Z')],
    [utc('2026-11-22T11:00:00Z'), utc('2026-11-22T11:00:00Z')],
    // UTC-aligned, not local: 10:00 in India is 04:30 UTC, which bins at 04:00 UTC.
    [utc('2026-11-22T10:00:00+05:30'), utc('2026-11-22T04:00:00Z')],
    [-1, -HOUR],
    [-HOUR, -HOUR],
  ])('hourOf(%i) = %i', (ts, expected) => {
    expect(hourOf(ts)).toBe(expected)
  })

  it('every minute and hour bin is aligned and holds its instant', () => {
    for (const ts of [0, 1, 12_345_678, utc('2026-03-08T07:00:00.001Z'), -987_654_321]) {
      const m = minuteOf(ts)
      const h = hourOf(ts)
      expect(m % MINUTE === 0).toBe(true)
      expect(h % HOUR === 0).toBe(true)
      expect(m <= ts && ts < m + MINUTE).toBe(true)
      expect(h <= ts && ts < h + HOUR).toBe(true)
    }
  })
})

describe('localDay', () => {
  it.each<[string, string, string]>([
    ['2026-11-21T18:29:59.999Z', 'Asia/Kolkata', '2026-11-21'],
    ['2026-11-21T18:30:00Z', 'Asia/Kolkata', '2026-11-22'],
    ['2026-11-22T18:29:59.999Z', 'Asia/Kolkata', '2026-11-22'],
    ['2026-11-22T18:30:00Z', 'Asia/Kolkata', '2026-11-23'],
    ['2026-11-22T00:00:00Z', 'UTC', '2026-11-22'],
    // America/New_York, spring forward on 2026-03-08 (EST −05:00 → EDT −04:00 at 07:00Z)
    ['2026-03-08T04:59:59.999Z', 'America/New_York', '2026-03-07'],
    ['2026-03-08T05:00:00Z', 'America/New_York', '2026-03-08'],
    ['2026-03-08T07:00:00Z', 'America/New_York', '2026-03-08'],
    ['2026-03-09T03:59:59.999Z', 'America/New_York', '2026-03-08'],
    ['2026-03-09T04:00:00Z', 'America/New_York', '2026-03-09'],
    // America/New_York, fall back on 2026-11-01 (EDT −04:00 → EST −05:00 at 06:00Z)
    ['2026-11-01T03:59:59.999Z', 'America/New_York', '2026-10-31'],
    ['2026-11-01T04:00:00Z', 'America/New_York', '2026-11-01'],
    ['2026-11-01T06:30:00Z', 'America/New_York', '2026-11-01'],
    ['2026-11-02T04:59:59.999Z', 'America/New_York', '2026-11-01'],
    ['2026-11-02T05:00:00Z', 'America/New_York', '2026-11-02'],
    // Asia/Kathmandu, +05:45
    ['2026-11-21T18:14:59.999Z', 'Asia/Kathmandu', '2026-11-21'],
    ['2026-11-21T18:15:00Z', 'Asia/Kathmandu', '2026-11-22'],
  ])('%s in %s is local day %s', (iso, timezone, day) => {
    expect(localDay(utc(iso), timezone)).toBe(day)
  })
})

describe('startOfLocalDay / localDayRange', () => {
  it.each<[string, string, string, string, number]>([
    ['2026-11-22', 'Asia/Kolkata', '2026-11-21T18:30:00Z', '2026-11-22T18:30:00Z', 24],
    ['2026-11-22', 'Asia/Kathmandu', '2026-11-21T18:15:00Z', '2026-11-22T18:15:00Z', 24],
    ['2026-03-08', 'America/New_York', '2026-03-08T05:00:00Z', '2026-03-09T04:00:00Z', 23],
    ['2026-11-01', 'America/New_York', '2026-11-01T04:00:00Z', '2026-11-02T05:00:00Z', 25],
    ['2026-03-07', 'America/New_York', '2026-03-07T05:00:00Z', '2026-03-08T05:00:00Z', 24],
  ])('local day %s in %s is [%s, %s), %i hours', (day, timezone, start, end, hours) => {
    const [from, to] = localDayRange(day, timezone)
    expect(from).toBe(utc(start))
    expect(to).toBe(utc(end))
    expect((to - from) / HOUR).toBe(hours)
    expect(startOfLocalDay(from, timezone)).toBe(from)
    expect(startOfLocalDay(to - 1, timezone)).toBe(from)
    expect(startOfLocalDay(from + 12 * HOUR, timezone)).toBe(from)
    expect(localDay(from, timezone)).toBe(day)
    expect(localDay(to - 1, timezone)).toBe(day)
  })
})

describe('createLocalDayOf', () => {
  /** Every minute of the local day, with an hour of margin either side. */
  function everyMinuteAround(day: string, timezone: string): number[] {
    const [from, to] = localDayRange(day, timezone)
    const minutes: number[] = []
    for (let m = from - HOUR; m < to + HOUR; m += MINUTE) minutes.push(m)
    return minutes
  }

  it.each<[string, string]>([
    ['Asia/Kathmandu', '2026-11-22'],
    ['Asia/Kolkata', '2026-11-22'],
    ['America/New_York', '2026-03-08'],
    ['America/New_York', '2026-11-01'],
    ['Australia/Lord_Howe', '2026-04-05'], // 30-minute DST shift
    ['Pacific/Chatham', '2026-11-22'], // +13:45
    ['America/St_Johns', '2026-11-01'], // −03:30 after fall back
    ['America/Santiago', '2026-04-05'], // DST ends at local midnight
    ['America/Santiago', '2026-09-06'], // DST starts at local midnight
    ['UTC', '2026-11-22'],
  ])('equals localDay for every minute of a day in %s (%s)', (timezone, day) => {
    const dayOf = createLocalDayOf(timezone)
    const minutes = everyMinuteAround(day, timezone)
    const mismatches = minutes.filter((m) => dayOf(m) !== localDay(m, timezone))
    expect(mismatches).toEqual([])
    // Asking again (from the cache) answers the same.
    expect(minutes.filter((m) => dayOf(m) !== localDay(m, timezone))).toEqual([])
  })

  it('answers the local day across the Kathmandu midnight, which falls at 18:15 UTC', () => {
    const dayOf = createLocalDayOf('Asia/Kathmandu')
    expect(dayOf(utc('2026-11-21T18:00:00Z'))).toBe('2026-11-21')
    expect(dayOf(utc('2026-11-21T18:14:00Z'))).toBe('2026-11-21')
    expect(dayOf(utc('2026-11-21T18:15:00Z'))).toBe('2026-11-22')
    expect(dayOf(utc('2026-11-21T18:59:00Z'))).toBe('2026-11-22')
  })
})
