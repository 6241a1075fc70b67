import { describe, it, expect } from 'vitest'
import {
  currencyDigits,
  divRoundHalfAway,
  divideMinor,
  formatMinor,
  isCurrency,
  isDecimal,
  toDecimalString,
  toMinor,
} from '../../common/money.ts'

describe('currencyDigits', () => {
  it.each([
    ['USD', 2],
    ['INR', 2],
    ['EUR', 2],
    ['JPY', 0],
    ['KRW', 0],
    ['BHD', 3],
    ['KWD', 3],
  ])('%s has %i minor-unit digits', (code, digits) => {
    expect(currencyDigits(code)).toBe(digits)
  })

  it('answers the same from its cache on a second call', () => {
    expect(currencyDigits('BHD')).toBe(3)
    expect(currencyDigits('BHD')).toBe(3)
  })
})

describe('isCurrency', () => {
  it.each([
    ['USD', true],
    ['INR', true],
    ['JPY', true],
    ['usd', false],
    ['XYZ', false],
    ['', false],
  ])('isCurrency(%j) is %s', (code, expected) => {
    expect(isCurrency(code)).toBe(expected)
  })
})

describe('isDecimal', () => {
  it.each([
    ['0', true],
    ['299.99', true],
    ['-1.5', true],
    ['1.234567', true],
    ['1e5', false],
    ['.5', false],
    ['5.', false],
    ['+5', false],
    [' 5', false],
    ['', false],
    ['1,000.00', false],
  ])('isDecimal(%j) is %s', (text, expected) => {
    expect(isDecimal(text)).toBe(expected)
  })
})

describe('toDecimalString', () => {
  it.each<[number | string, string]>([
    ['299.99', '299.99'],
    [299.99, '299.99'],
    [0, '0'],
    [1000, '1000'],
    [1e-7, '0.0000001'],
    [1.5e-7, '0.00000015'],
    [5e-13, '0'],
    [0.1 + 0.2, '0.30000000000000004'],
  ])('%j → %j (never an exponent)', (value, expected) => {
    expect(toDecimalString(value)).toBe(expected)
  })
})

describe('divRoundHalfAway', () => {
  it.each<[bigint, bigint, bigint]>([
    [10n, 5n, 2n],
    [5n, 2n, 3n],
    [-5n, 2n, -3n],
    [7n, 3n, 2n],
    [8n, 3n, 3n],
    [-7n, 3n, -2n],
    [-8n, 3n, -3n],
    [1n, 3n, 0n],
    [-1n, 3n, 0n],
    [0n, 7n, 0n],
  ])('%s ÷ %s = %s', (numerator, denominator, expected) => {
    expect(divRoundHalfAway(numerator, denominator)).toBe(expected)
  })
})

describe('toMinor', () => {
  it.each<[string, number, number]>([
    ['299.99', 2, 29999],
    ['0', 2, 0],
    ['1', 2, 100],
    ['12.3', 2, 1230],
    ['0.005', 2, 1],
    ['0.004', 2, 0],
    ['0.015', 2, 2],
    ['0.025', 2, 3],
    ['-0.005', 2, -1],
    ['-0.004', 2, 0],
    ['2.5', 0, 3],
    ['3.5', 0, 4],
    ['-2.5', 0, -3],
    ['2.4999', 0, 2],
    ['1.234567', 2, 123],
    ['1.235', 2, 124],
    ['1.999999', 2, 200],
    ['1000', 0, 1000],
    ['1000.5', 0, 1001],
    ['1.2345', 3, 1235],
    ['1.2344', 3, 1234],
    ['12', 3, 12000],
    ['0.0005', 3, 1],
    ['123456789012.34', 2, 12345678901234],
  ])('toMinor(%j, %i) = %i (half away from zero)', (amount, digits, expected) => {
    expect(toMinor(amount, digits)).toBe(expected)
  })

  it.each<[number, number, number]>([
    [299.99, 2, 29999],
    [19.99, 2, 1999],
    [0.1 + 0.2, 2, 30],
    [1.005, 2, 101],
    [2.5, 0, 3],
    [1e-7, 2, 0],
    [1234.5678, 3, 1234568],
  ])('a JSON number %j through toDecimalString → %i minor units at %i digits', (value, digits, expected) => {
    expect(toMinor(toDecimalString(value), digits)).toBe(expected)
  })

  it.each<[string, number, string, number]>([
    // 10.00 USD × 83.1234 = 831.234 INR → 83123 paise
    ['10.00', 2, '83.1234', 83123],
    // 10.00 USD × 83.1235 = 831.235 INR → 83124 paise (half away, once, at the end)
    ['10.00', 2, '83.1235', 83124],
    ['299.99', 2, '1', 29999],
    ['0.01', 2, '0.5', 1],
    ['0.01', 2, '0.4999', 0],
    ['0.015', 2, '1.0', 2],
    // 10.00 USD → JPY at 150.555 = 1505.55 → 1506 yen
    ['10.00', 0, '150.555', 1506],
    // 1000 JPY → INR at 0.55 = 550.00 INR
    ['1000', 2, '0.55', 55000],
    // 100 USD → BHD at 0.376 = 37.600 BHD
    ['100', 3, '0.376', 37600],
  ])('toMinor(%j, %i, rate %j) = %i', (amount, digits, rate, expected) => {
    expect(toMinor(amount, digits, rate)).toBe(expected)
  })

  it('rounds once after converting, not before', () => {
    // 0.004 × 2 = 0.008 → 1 cent; rounding 0.004 first would give 0.
    expect(toMinor('0.004', 2, '2')).toBe(1)
  })

  it.each(['abc', '1e5', '', '1,5', '.5'])('throws on the non-decimal %j', (amount) => {
    expect(() => toMinor(amount, 2)).toThrow(`not a decimal number: ${amount}`)
  })

  it('throws on a non-decimal rate', () => {
    expect(() => toMinor('1.00', 2, '8e1')).toThrow('not a decimal number: 8e1')
  })
})

describe('formatMinor', () => {
  it.each<[number, number, string]>([
    [123450, 2, '1234.50'],
    [29999, 2, '299.99'],
    [5, 2, '0.05'],
    [50, 2, '0.50'],
    [0, 2, '0.00'],
    [-5, 2, '-0.05'],
    [-123456, 2, '-1234.56'],
    [1234, 0, '1234'],
    [0, 0, '0'],
    [-7, 0, '-7'],
    [1, 3, '0.001'],
    [-123456, 3, '-123.456'],
    [12000, 3, '12.000'],
  ])('formatMinor(%i, %i) = %j', (minor, digits, expected) => {
    expect(formatMinor(minor, digits)).toBe(expected)
  })

  it.each<[string, number]>([
    ['1234.50', 2],
    ['-0.05', 2],
    ['7', 0],
    ['0.001', 3],
  ])('round-trips %j through toMinor at %i digits', (text, digits) => {
    expect(formatMinor(toMinor(text, digits), digits)).toBe(text)
  })
})

describe('divideMinor', () => {
  it.each<[number, number, number]>([
    [100, 4, 25],
    [10, 4, 3],
    [-10, 4, -3],
    [7, 2, 4],
    [-7, 2, -4],
    [10, 3, 3],
    [11, 3, 4],
    [82001, 2, 41001],
    [127001, 3, 42334],
    [0, 5, 0],
  ])('divideMinor(%i, %i) = %i', (minor, count, expected) => {
    expect(divideMinor(minor, count)).toBe(expected)
  })

  it.each([0, -0])('is null when dividing by %s', (count) => {
    expect(divideMinor(100, count)).toBeNull()
  })
})
