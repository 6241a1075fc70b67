// The funnel (docs/metrics.md), pure: per tenant-local day, distinct customers at each step (product
// viewed → cart added → checkout started → ordered), each step's conversion (its count ÷ the
// previous step's; null for the first step and when the previous count is 0) and drop-off (1 − conversion).
import { FUNNEL_STEPS } from '../../stream/index.ts'
import { ratio } from './shared.ts'

export interface FunnelStepFigures {
  step: (typeof FUNNEL_STEPS)[number]
  count: number
  conversion: number | null
  drop_off: number | null
}

export function funnelSteps(counts: readonly number[]): FunnelStepFigures[] {
  return FUNNEL_STEPS.map((step, i) => {
    const conversion = i === 0 ? null : ratio(counts[i], counts[i - 1])
    return { step, count: counts[i], conversion, drop_off: conversion === null ? null : 1 - conversion }
  })
}

/**
 * `counts`: the days that have any (as the processor keeps them); `days`: every day of the range.
 * `totals` adds the days' counts: a customer active on two days counts twice (customer-days).
 */
export function funnelOf(counts: { day: string; counts: number[] }[], days: { key: string; t: string }[]) {
  const byDay = new Map(counts.map((c) => [c.day, c.counts]))
  const zero = FUNNEL_STEPS.map(() => 0)
  const totals = [...zero]
  const out = days.map(({ key, t }) => {
    const c = byDay.get(key) ?? zero
    c.forEach((n, i) => (totals[i] += n))
    return { day: key, t, steps: funnelSteps(c) }
  })
  return {
    steps: [...FUNNEL_STEPS],
    days: out,
    totals: funnelSteps(totals),
    conversion: ratio(totals[totals.length - 1], totals[0]),
  }
}
