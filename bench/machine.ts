// What every bench prints first: the code, the machine and its load, since other work on a 2-core
// VM moves every figure (compare ratios from one run, not absolute figures across runs).
import { execFileSync } from 'node:child_process'
import { availableParallelism, cpus, loadavg } from 'node:os'

export const loadAverage = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')

/** The short revision, marked when the work tree has uncommitted changes. */
export function codeRevision(): string {
  const git = (args: string[]) =>
    execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  try {
    return `${git(['rev-parse', '--short', 'HEAD'])}${git(['status', '--porcelain']) ? ' + uncommitted changes' : ''}`
  } catch {
    return 'not a git checkout'
  }
}

/** `N CPUs (model), Node vX` and any `extra` facts, then the load average. */
export const machineLine = (extra = '') =>
  `${availableParallelism()} CPUs (${cpus()[0]?.model}), Node ${process.version}${extra}; load average ${loadAverage()}`
