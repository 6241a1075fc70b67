// Checkpoints of the stream stage's state: a snapshot file, and where snapshots are kept.
//
// A snapshot is of one partition (scope `p<N>`): the state of the partition's tenants after exactly
// its events up to JetStream sequence `last_seq`. Within a partition, stream sequence order is
// apply order (one durable consumer per partition), so a node that takes the partition over loads
// the newest valid one and replays only the partition's events after `last_seq`, whichever node
// (and ClickHouse) took it. The file is a sequence of frames (u32 length, one byte of kind,
// `v8.serialize` bytes): a header, then `[section, record]` pairs, then a trailer with the record
// count and the SHA-256 of every byte before it, so a torn or corrupt file is recognised before
// any of it is used.
//
// Snapshots live in the JetStream Object Store (`pulse_checkpoints`), which every node reaches, as
// `<scope>/<last_seq>`; `DATA_DIR/checkpoints/` keeps a copy of each one this node wrote or read,
// so a restart on the same machine reads it from disk.
import { createHash } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { deserialize, serialize } from 'node:v8'
import type { ObjectInfo, ObjectStore } from '@nats-io/obj'
import type { NatsConnection } from '@nats-io/transport-node'
import { messageOf } from '../common/errors.ts'
import { openObjectStore } from '../common/jetstream-replicas.ts'
import { type Log, silentLog } from '../common/log.ts'
import type { TenantRef } from '../tenants/index.ts'
import type { Delta, Processor } from './processor.ts'
import { STATE_FORMAT, type StateRecord } from './snapshot.ts'

export const CHECKPOINT_BUCKET = 'pulse_checkpoints'

/** What a snapshot is of, and up to where. */
export interface SnapshotHeader {
  /** The state's format (stream/snapshot.ts); another format cannot be loaded. */
  format: number
  /** Which state: a partition (`p3`, see `scopeOf`). */
  scope: string
  /** The highest JetStream sequence among the partition's events the state holds: replay starts after it. */
  last_seq: number
  /** The ClickHouse history of the node that took it (for operators: positions do not depend on it). */
  history: string
  created_at: string
}

/** A part of the state that can be written as records and rebuilt from them. */
export interface Snapshottable {
  exportRecords(): Iterable<StateRecord>
  importRecord(record: StateRecord): void
}

/** A part of the state kept per tenant, whose tenants can be forgotten (a partition given up). */
export interface Droppable {
  dropTenants(include: (tenantId: string) => boolean): void
}

/** The snapshot scope of a partition. */
export const scopeOf = (partition: number) => `p${partition}`

/** The stream stage's state as a whole: what a snapshot holds and a replay rebuilds. */
export interface StreamState {
  processor: Processor
  /** Every part a snapshot holds, by section name (the processor among them). */
  sections: Record<string, Snapshottable & Droppable>
  /** Told the deltas of every event applied in a replay, as the consumer's hook is (alerts' aggregate). */
  onApplied?: (tenant: TenantRef, deltas: Delta[]) => void
}

/** A snapshot that cannot be used: torn, corrupt, or of another format. */
export class SnapshotError extends Error {
  override name = 'SnapshotError'
}

/** What a frame holds. */
const Kind = { header: 0, record: 1, trailer: 2 } as const
type Kind = (typeof Kind)[keyof typeof Kind]

// Records are serialised in turns of this long at most, so taking a snapshot never holds the loop.
const TURN_MS = 10

/** Writes a snapshot of `sections` to `path`; returns its size and digest. */
export async function writeSnapshot(
  path: string,
  header: SnapshotHeader,
  sections: Record<string, Snapshottable>,
): Promise<{ bytes: number; records: number; sha256: string }> {
  const out = createWriteStream(path)
  const done = new Promise<void>((resolve, reject) => {
    out.on('error', reject)
    out.on('finish', resolve)
  })
  const hash = createHash('sha256')
  let bytes = 0
  const frame = async (kind: Kind, value: unknown) => {
    const body = serialize(value)
    const head = Buffer.allocUnsafe(5)
    head.writeUInt32LE(body.length)
    head.writeUInt8(kind, 4)
    if (kind !== Kind.trailer) hash.update(head).update(body)
    bytes += head.length + body.length
    const ok = out.write(head) && out.write(body)
    if (!ok) await new Promise<void>((resolve) => out.once('drain', () => resolve()))
  }
  let records = 0
  let turn = performance.now()
  await frame(Kind.header, header)
  for (const [name, section] of Object.entries(sections)) {
    for (const record of section.exportRecords()) {
      await frame(Kind.record, [name, record])
      records++
      if (performance.now() - turn > TURN_MS) {
        await nextTurn()
        turn = performance.now()
      }
    }
  }
  const sha256 = hash.digest('hex')
  await frame(Kind.trailer, { records, sha256 })
  out.end()
  await done
  return { bytes, records, sha256 }
}

interface Frame {
  kind: Kind
  /** The whole frame, as hashed. */
  bytes: Buffer
}

/** Reads the frames of a snapshot file one at a time. */
async function* frames(path: string): AsyncGenerator<Frame> {
  let pending: Buffer = Buffer.alloc(0)
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    pending = pending.length === 0 ? (chunk as Buffer) : Buffer.concat([pending, chunk as Buffer])
    let at = 0
    while (pending.length - at >= 5) {
      const length = pending.readUInt32LE(at)
      if (pending.length - at - 5 < length) break
      yield { kind: pending.readUInt8(at + 4) as Kind, bytes: pending.subarray(at, at + 5 + length) }
      at += 5 + length
    }
    pending = pending.subarray(at)
  }
  if (pending.length > 0) throw new SnapshotError('snapshot is torn: it ends inside a frame')
}

const bodyOf = (frame: Frame): unknown => deserialize(frame.bytes.subarray(5))

/**
 * Checks a snapshot whole (format, trailer, digest) before anything is applied, then feeds its
 * records to `sections`, yielding to the loop between turns. Throws SnapshotError when it cannot be used.
 */
export async function loadSnapshot(path: string, sections: Record<string, Snapshottable>): Promise<SnapshotHeader> {
  const header = await verify(path)
  let turn = performance.now()
  for await (const frame of frames(path)) {
    if (frame.kind !== Kind.record) continue
    const [name, record] = bodyOf(frame) as [string, StateRecord]
    const section = sections[name]
    if (!section) throw new SnapshotError(`snapshot has a section this build does not know: ${name}`)
    section.importRecord(record)
    if (performance.now() - turn > TURN_MS) {
      await nextTurn()
      turn = performance.now()
    }
  }
  return header
}

async function verify(path: string): Promise<SnapshotHeader> {
  const hash = createHash('sha256')
  let header: SnapshotHeader | undefined
  let trailer: { records: number; sha256: string } | undefined
  let records = 0
  try {
    for await (const frame of frames(path)) {
      if (trailer) throw new SnapshotError('snapshot has frames after its trailer')
      if (frame.kind === Kind.trailer) {
        trailer = bodyOf(frame) as typeof trailer
        continue
      }
      hash.update(frame.bytes)
      if (frame.kind === Kind.header) header ??= bodyOf(frame) as SnapshotHeader
      else records++
    }
  } catch (err) {
    if (err instanceof SnapshotError) throw err
    throw new SnapshotError(`snapshot cannot be read: ${messageOf(err)}`)
  }
  if (!header || typeof header.format !== 'number') throw new SnapshotError('snapshot has no header')
  if (header.format !== STATE_FORMAT)
    throw new SnapshotError(`snapshot is of state format ${header.format}; this build reads format ${STATE_FORMAT}`)
  if (!trailer) throw new SnapshotError('snapshot is torn: it has no trailer')
  if (trailer.records !== records || trailer.sha256 !== hash.digest('hex'))
    throw new SnapshotError('snapshot is corrupt: its checksum does not match')
  return header
}

/** A snapshot as listed: where it is and what it holds. */
export interface SnapshotEntry {
  name: string
  scope: string
  last_seq: number
  format: number
  history: string
  created_at: string
  size: number
}

const objectName = (scope: string, lastSeq: number) => `${scope}/${String(lastSeq).padStart(16, '0')}`
const fileOf = (dir: string, name: string) => join(dir, `${name.replace('/', '.')}.snap`)

export interface CheckpointStoreOptions {
  nc: NatsConnection
  /** The local copies (`DATA_DIR/checkpoints`). */
  dir: string
  /** How many snapshots of a scope are kept; older ones are deleted after each new one. */
  keep?: number
  log?: Log
  /** JETSTREAM_REPLICAS (common/jetstream-replicas.ts). */
  replicas?: number
}

export async function openCheckpointStore(options: CheckpointStoreOptions) {
  const { dir } = options
  const keep = options.keep ?? 3
  const log = options.log ?? silentLog
  await mkdir(dir, { recursive: true })
  const bucket: ObjectStore = await openObjectStore(
    options.nc,
    CHECKPOINT_BUCKET,
    { description: 'Pulse stream state snapshots' },
    options.replicas,
  )

  const entryOf = (info: ObjectInfo): SnapshotEntry | undefined => {
    const m = info.metadata
    if (info.deleted || !m) return undefined
    return {
      name: info.name,
      scope: m.scope ?? '',
      last_seq: Number(m.last_seq),
      format: Number(m.format),
      history: m.history ?? '',
      created_at: m.created_at ?? '',
      size: info.size,
    }
  }

  /** Snapshots of `scope`, newest (highest `last_seq`) first; those of before partitions (scope `all`) are never listed. */
  async function list(scope: string): Promise<SnapshotEntry[]> {
    return (await byScope()).get(scope) ?? []
  }

  /** Every scope's snapshots, newest first, from one listing of the bucket. */
  async function byScope(): Promise<Map<string, SnapshotEntry[]>> {
    const out = new Map<string, SnapshotEntry[]>()
    for (const e of (await bucket.list()).map(entryOf)) {
      if (!e || !Number.isSafeInteger(e.last_seq)) continue
      const list = out.get(e.scope) ?? []
      out.set(e.scope, list)
      list.push(e)
    }
    for (const list of out.values()) list.sort((a, b) => b.last_seq - a.last_seq)
    return out
  }

  /** A local file holding the snapshot: the cached copy when it is whole, else downloaded. */
  async function fetch(entry: SnapshotEntry): Promise<string> {
    const file = fileOf(dir, entry.name)
    const cached = await stat(file).catch(() => undefined)
    if (cached?.size === entry.size) return file
    const result = await bucket.get(entry.name)
    if (!result) throw new SnapshotError(`snapshot ${entry.name} is no longer in the object store`)
    const partial = `${file}.part`
    await new Promise<void>((resolve, reject) => {
      const out = createWriteStream(partial)
      Readable.fromWeb(result.data as never)
        .on('error', reject)
        .pipe(out)
        .on('error', reject)
        .on('finish', resolve)
    })
    // The object store checks its own digest once the whole object has been read.
    if (!(await result.error)) await rename(partial, file)
    else throw new SnapshotError(`snapshot ${entry.name} could not be downloaded: ${await result.error}`)
    return file
  }

  /** Writes a snapshot of `sections` locally, uploads it, and prunes the scope's old ones. */
  async function save(header: SnapshotHeader, sections: Record<string, Snapshottable>) {
    const name = objectName(header.scope, header.last_seq)
    const file = fileOf(dir, name)
    const written = await writeSnapshot(`${file}.part`, header, sections)
    await rename(`${file}.part`, file)
    await bucket.put(
      {
        name,
        metadata: {
          scope: header.scope,
          last_seq: String(header.last_seq),
          format: String(header.format),
          history: header.history,
          created_at: header.created_at,
        },
      },
      Readable.toWeb(createReadStream(file)) as ReadableStream<Uint8Array>,
    )
    await prune(header.scope)
    return { name, ...written }
  }

  async function prune(scope: string): Promise<void> {
    const old = (await list(scope)).slice(keep)
    for (const entry of old) {
      await bucket.delete(entry.name).catch((err) => log.warn({ err, name: entry.name }, 'checkpoint prune failed'))
    }
    const names = new Set((await list(scope)).map((e) => `${e.name.replace('/', '.')}.snap`))
    for (const file of await readdir(dir)) {
      if (file.startsWith(`${scope}.`) && file.endsWith('.snap') && !names.has(file)) await rm(join(dir, file))
    }
  }

  return { list, byScope, fetch, save, bucket }
}

export type CheckpointStore = Awaited<ReturnType<typeof openCheckpointStore>>
