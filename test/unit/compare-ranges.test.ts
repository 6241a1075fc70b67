// The comparison range of /v1/metrics/compare (query/dashboards/compare.ts): which one the
// parameters ask for, and how previous_period and previous_year place it in the tenant's zone.
import { DateTime } from 'luxon'
import { describe, expect, it } from 'vitest'
import { HttpError } from '../../common/errors.ts'
import { comparisonOf, comparisonRange, yearEarlier } from '../../query/dashboards/compare.ts'

const NY = 'America/New_York'
const BERLIN = 'Europe/Berlin'
const utc = (iso: string) => Date.parse(iso)
/** A tenant-local wall-clock time → epoch ms. */
const local = (text: string, zone: string) => DateTime.fromISO(text, { zone }).toMillis()
/** Epoch ms → the tenant-local wall-clock time with its offset. */
const wall = (ms: number, zone: string) => DateTime.fromMillis(ms, { zone }).toISO({ suppressMilliseconds: true })

const yearBefore = (from: string, to: string, zone: string) => {
  const r = comparisonRange({ from: local(from, zone), to: local(to, zone) }, { mode: 'previous_year' }, zone)
  return { mode: r.mode, from: wall(r.from, zone), to: wall(r.to, zone) }
}

/** The error a call throws (fails the test when it does not). */
function thrown(call: () => unknown): HttpError {
  try {
    call()
  } catch (err) {
    expect(err).toBeInstanceOf(HttpError)
    return err as HttpError
  }
  throw new Error('expected an error')
}

describe('previous_year: the same calendar dates one year earlier, in the tenant’s zone', () => {
  it('29 February 2028 → 28 February 2027; the day after stays 1 March', () => {
    expect(yearBefore('2028-02-29', '2028-03-01', NY)).toEqual({
      mode: 'previous_year',
      from: '2027-02-28T00:00:00-05:00',
      to: '2027-03-01T00:00:00-05:00',
    })
    // 1–29 February 2028 (to exclusive) → 1–28 February 2027: 28 February is not in it, as 29 February is not here.
    expect(yearBefore('2028-02-01', '2028-02-29', NY)).toMatchObject({
      from: '2027-02-01T00:00:00-05:00',
      to: '2027-02-28T00:00:00-05:00',
    })
    // The whole of February 2028 (29 days) → the whole of February 2027 (28 days).
    expect(yearBefore('2028-02-01', '2028-03-01', BERLIN)).toMatchObject({
      from: '2027-02-01T00:00:00+01:00',
      to: '2027-03-01T00:00:00+01:00',
    })
    expect(yearEarlier(local('2028-02-29T23:59:30', NY), NY)).toBe(local('2027-02-28T23:59:30', NY))
  })

  it('a range ending on 29 February 2028 ends on 28 February 2027; from 28 February keeps 28 February', () => {
    expect(yearBefore('2028-02-28T12:00', '2028-02-29T18:00', NY)).toMatchObject({
      from: '2027-02-28T12:00:00-05:00',
      to: '2027-02-28T18:00:00-05:00',
    })
  })

  it('a range that leaves nothing a year earlier is refused with a 400 naming compare', () => {
    const err = thrown(() =>
      comparisonRange(
        { from: local('2028-02-28T10:00', NY), to: local('2028-02-29T10:00', NY) },
        { mode: 'previous_year' },
        NY,
      ),
    )
    expect(err.status).toBe(400)
    expect(err.message).toContain('compare:')
    expect(err.details).toEqual([{ path: 'compare', message: expect.stringContaining('compare_from and compare_to') }])
  })

  it('month ends: 31 March → 31 March, 30 April → 30 April, a month’s last instant stays in that month', () => {
    expect(yearBefore('2027-03-31', '2027-05-01', BERLIN)).toMatchObject({
      from: '2026-03-31T00:00:00+02:00',
      to: '2026-05-01T00:00:00+02:00',
    })
    expect(yearBefore('2027-04-30T23:00', '2027-05-31T23:59:59', NY)).toMatchObject({
      from: '2026-04-30T23:00:00-04:00',
      to: '2026-05-31T23:59:59-04:00',
    })
    // 29 February 2028 is a month end; 28 February 2027 is too.
    expect(yearBefore('2028-01-31', '2028-02-29', NY)).toMatchObject({
      from: '2027-01-31T00:00:00-05:00',
      to: '2027-02-28T00:00:00-05:00',
    })
  })

  it('year boundaries: a range across New Year moves both years back', () => {
    expect(yearBefore('2027-12-15', '2028-01-15', NY)).toMatchObject({
      from: '2026-12-15T00:00:00-05:00',
      to: '2027-01-15T00:00:00-05:00',
    })
    expect(yearBefore('2027-01-01', '2028-01-01', BERLIN)).toMatchObject({
      from: '2026-01-01T00:00:00+01:00',
      to: '2027-01-01T00:00:00+01:00',
    })
    // The last second of a year in the tenant's zone is the last second of the year before, not UTC's.
    expect(wall(yearEarlier(local('2027-12-31T23:59:59', 'Asia/Kolkata'), 'Asia/Kolkata'), 'Asia/Kolkata')).toBe(
      '2026-12-31T23:59:59+05:30',
    )
  })

  it('across daylight-saving changes: the same local dates and times, so lengths in ms may differ by the hour', () => {
    // Daylight saving starts 14 March 2027 in New York, 8 March 2026: the week holds it in 2027, not in 2026.
    const current = { from: local('2027-03-10', NY), to: local('2027-03-17', NY) }
    const r = comparisonRange(current, { mode: 'previous_year' }, NY)
    expect([wall(r.from, NY), wall(r.to, NY)]).toEqual(['2026-03-10T00:00:00-04:00', '2026-03-17T00:00:00-04:00'])
    expect(current.to - current.from).toBe(7 * 86_400_000 - 3_600_000)
    expect(r.to - r.from).toBe(7 * 86_400_000)
    // …but 3 March to 10 March holds 8 March 2026 and no 2027 change.
    const early = comparisonRange(
      { from: local('2027-03-03', NY), to: local('2027-03-10', NY) },
      { mode: 'previous_year' },
      NY,
    )
    expect([wall(early.from, NY), wall(early.to, NY)]).toEqual([
      '2026-03-03T00:00:00-05:00',
      '2026-03-10T00:00:00-04:00',
    ])
    expect(early.to - early.from).toBe(7 * 86_400_000 - 3_600_000)
    expect(local('2027-03-10', NY) - local('2027-03-03', NY)).toBe(7 * 86_400_000)
    // Europe: October 2027 (ends 31 October) → October 2026 (ends 25 October): both hold the 25-hour day.
    expect(yearBefore('2027-10-01', '2027-11-01', BERLIN)).toMatchObject({
      from: '2026-10-01T00:00:00+02:00',
      to: '2026-11-01T00:00:00+01:00',
    })
  })

  it('a wall-clock time that does not exist a year earlier moves forward by the gap; a repeated one keeps its offset', () => {
    // 8 March 2027 02:30 exists in New York; on 8 March 2026 clocks jump from 02:00 to 03:00.
    expect(wall(yearEarlier(local('2027-03-08T02:30', NY), NY), NY)).toBe('2026-03-08T03:30:00-04:00')
    // 1 November 2027 01:30 EDT → 1 November 2026 01:30, which happens twice: the first (EDT) one.
    expect(wall(yearEarlier(utc('2027-11-01T05:30:00Z'), NY), NY)).toBe('2026-11-01T01:30:00-04:00')
    // 7 November 2027 01:30 happens twice; a year earlier it happens once (EST).
    expect(wall(yearEarlier(utc('2027-11-07T05:30:00Z'), NY), NY)).toBe('2026-11-07T01:30:00-05:00')
    expect(wall(yearEarlier(utc('2027-11-07T06:30:00Z'), NY), NY)).toBe('2026-11-07T01:30:00-05:00')
  })

  it('reaches before 1970 from early 1970 (the read starts at 1970)', () => {
    expect(yearEarlier(0, 'UTC')).toBe(utc('1969-01-01T00:00:00Z'))
  })
})

describe('previous_period and custom ranges', () => {
  it('previous_period: equal length in ms, ending at from, across a daylight-saving change too', () => {
    const current = { from: local('2027-03-14', NY), to: local('2027-03-21', NY) } // holds the change: 167 h
    const r = comparisonRange(current, { mode: 'previous_period' }, NY)
    expect(r).toEqual({ mode: 'previous_period', from: current.from - 167 * 3_600_000, to: current.from })
    expect(wall(r.from, NY)).toBe('2027-03-07T01:00:00-05:00') // not local midnight: equal length in ms
  })

  it('custom: compare_from and compare_to as given', () => {
    const r = comparisonRange(
      { from: 5_000, to: 9_000 },
      { mode: 'custom', from: utc('2025-01-01T00:00:00Z'), to: utc('2025-02-01T00:00:00Z') },
      NY,
    )
    expect(r).toEqual({ mode: 'custom', from: utc('2025-01-01T00:00:00Z'), to: utc('2025-02-01T00:00:00Z') })
  })
})

describe('comparisonOf: what the parameters ask for', () => {
  it('defaults to previous_period; compare= picks one; compare_from with compare_to is custom', () => {
    expect(comparisonOf({})).toEqual({ mode: 'previous_period' })
    expect(comparisonOf({ compare: 'previous_period' })).toEqual({ mode: 'previous_period' })
    expect(comparisonOf({ compare: 'previous_year' })).toEqual({ mode: 'previous_year' })
    expect(comparisonOf({ compare_from: 1_000, compare_to: 2_000 })).toEqual({ mode: 'custom', from: 1_000, to: 2_000 })
  })

  it.each([
    [{ compare_from: 1_000 }, 'compare_to', 'compare_from needs compare_to'],
    [{ compare_to: 1_000 }, 'compare_from', 'compare_to needs compare_from'],
    [{ compare_from: 2_000, compare_to: 2_000 }, 'compare_to', 'must be after compare_from'],
    [{ compare_from: 2_000, compare_to: 1_000 }, 'compare_to', 'must be after compare_from'],
    [{ compare: 'previous_year' as const, compare_from: 1_000, compare_to: 2_000 }, 'compare', 'not both'],
    [{ compare: 'previous_period' as const, compare_to: 2_000 }, 'compare', 'not both'],
  ])('%o → 400 naming %s', (params, path, text) => {
    const err = thrown(() => comparisonOf(params))
    expect(err.status).toBe(400)
    expect(err.message).toContain(`${path}:`)
    expect(err.message).toContain(text)
    expect(err.details).toEqual([{ path, message: expect.stringContaining(text) }])
  })
})
