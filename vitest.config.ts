import { defineConfig } from 'vitest/config'
import { BaseSequencer, type TestSpecification } from 'vitest/node'

/**
 * The files that take longest (measured: the 100,000-event checkpoint test alone runs for minutes),
 * longest first. They start before everything else, so no worker is left running one of them alone
 * at the end while the other has finished (a fresh clone has no timings cached to go by).
 */
const LONGEST = [
  /checkpoints\.test\.ts$/,
  /fuzz\.test\.ts$/,
  /cluster[^/]*\.test\.ts$/,
  /dashboards\.test\.ts$/,
  /crash\.test\.ts$/,
  /rfm-intent\.test\.ts$/,
  /partitions\.test\.ts$/,
]

class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (file: TestSpecification) => {
      const i = LONGEST.findIndex((pattern) => pattern.test(file.moduleId))
      return i < 0 ? LONGEST.length : i
    }
    // Array sort is stable: the rest keep vitest's own order (cached durations, else file size).
    return (await super.sort(files)).sort((a, b) => rank(a) - rank(b))
  }
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests start real nats-server and chDB processes: one engine per process.
    pool: 'forks',
    maxWorkers: 2,
    sequence: { sequencer: LongestFirst },
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
})
