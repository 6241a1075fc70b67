// The alert state machine, pure and clock-free: time is the `at` passed in (event time for rules
// evaluated on change, the wall clock for timer rules). Hysteresis lives in the observation
// (breached vs cleared are two thresholds apart); the cooldown lives here: after a resolve the
// same alert cannot fire again until `cooldownMs` of that time have passed, so a series that
// oscillates around a threshold gives one alert, not one per swing.
import type { Figures, Observation } from './evaluate.ts'

export type AlertStatus = 'firing' | 'resolved'

export interface AlertState {
  status: 'ok' | 'firing'
  /** The firing alert's id and its first figures. */
  alertId?: string
  firedAt?: number
  figures?: Figures
  message?: string
  resolvedAt?: number
}

export interface Step {
  next: AlertState
  /** A change worth recording and delivering. */
  change?: AlertStatus
  /** Breached, but inside the cooldown of the last resolve. */
  suppressed?: boolean
}

export function step(
  prev: AlertState | undefined,
  obs: Pick<Observation, 'breached' | 'cleared' | 'figures' | 'message'>,
  at: number,
  cooldownMs: number,
  newId: () => string,
): Step {
  const state: AlertState = prev ?? { status: 'ok' }
  if (state.status === 'firing') {
    if (obs.cleared && !obs.breached)
      return {
        next: {
          status: 'ok',
          resolvedAt: at,
          figures: obs.figures,
          message: obs.message,
          alertId: state.alertId,
          firedAt: state.firedAt,
        },
        change: 'resolved',
      }
    return { next: state }
  }
  if (!obs.breached) return { next: state }
  if (state.resolvedAt !== undefined && at < state.resolvedAt + cooldownMs) return { next: state, suppressed: true }
  return {
    next: { status: 'firing', alertId: newId(), firedAt: at, figures: obs.figures, message: obs.message },
    change: 'firing',
  }
}
