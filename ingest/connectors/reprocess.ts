// Re-derives events from the raw archive with today's mappings: each archived payload goes
// through the same page pipeline as when it arrived (without archiving it again). Ids come from
// the mapped content, so an unchanged mapping re-publishes only duplicates (a no-op), while a
// fixed mapping yields new ids whose events replace what the old mapping produced: order edits
// and statements restate, and an old report never outranks a newer one (reported_at is the
// archived receipt time, not the time of reprocessing).
import type { ClickHouseClient } from '@clickhouse/client'
import { type ArchiveQuery, type Archiver, countArchived, readArchived } from './archive.ts'
import type { PagePipeline } from './pages.ts'
import type { TenantRef } from '../../tenants/index.ts'

export interface ReprocessProgress {
  type: 'start' | 'progress' | 'done'
  payloads: number
  done: number
  accepted: number
  duplicates: number
  dead_letters: number
}

export async function* reprocess(
  deps: { client: ClickHouseClient; archiver: Archiver; pages: PagePipeline },
  tenant: TenantRef,
  q: ArchiveQuery,
  every = 100,
): AsyncGenerator<ReprocessProgress> {
  // Whatever was received before this call must be in the archive before it is read.
  await deps.archiver.caughtUp(tenant.id)
  const p: ReprocessProgress = {
    type: 'start',
    payloads: await countArchived(deps.client, q),
    done: 0,
    accepted: 0,
    duplicates: 0,
    dead_letters: 0,
  }
  yield { ...p }
  for await (const page of readArchived(deps.client, q)) {
    const out = await deps.pages.process(tenant, page, { archive: false, payloadId: page.payloadId })
    p.done++
    p.accepted += out.accepted
    p.duplicates += out.duplicates
    p.dead_letters += out.deadLetters
    if (p.done % every === 0) yield { ...p, type: 'progress' }
  }
  yield { ...p, type: 'done' }
}
