// Strings interned to dense indices 0, 1, 2, … in a few flat buffers: the ids' UTF-8 bytes one
// after another, and an open-addressing table of indices. A million ids cost ~28 MB this way;
// as a Map<string, number> they cost ~75 MB (a V8 string and a hash-table entry each), and the
// order index and customer store hold millions of them.

import { RECORD_BYTES } from './snapshot.ts'

const encoder = new TextEncoder()
const EMPTY = 0 // table cells hold index + 1

type Column = Float64Array | Int32Array | Uint32Array | Uint16Array | Uint8Array

/** A typed array grown by 1.25×: the slack stays under a quarter of what is used (doubling: up to all of it). */
export function grown<T extends Column>(array: T, needed: number): T {
  if (needed <= array.length) return array
  const next = new (array.constructor as new (n: number) => T)(Math.max(needed, Math.ceil(array.length * 1.25), 16))
  next.set(array)
  return next
}

/** `array` with `values` written from `at` on (grown as needed): a loaded chunk of a column. */
export function put<T extends Column>(array: T, at: number, values: ArrayLike<number>): T {
  const out = grown(array, at + values.length)
  out.set(values, at)
  return out
}

/** Consecutive ids of a table in a snapshot: their UTF-8 bytes, and where each ends in the table's bytes. */
export interface IdChunk {
  /** Ids in the whole table: the first chunk sizes the table for all of them. */
  size: number
  bytes: Uint8Array
  ends: Int32Array
}

export class IdTable {
  private bytes = new Uint8Array(1024)
  private used = 0
  /** starts[i] … starts[i + 1]: the bytes of id i. */
  private starts = new Int32Array(64)
  private cells = new Int32Array(64)
  /** 8 bits of each cell's hash: most probes that do not match are refused without reading bytes. */
  private tags = new Uint8Array(64)
  private scratch = new Uint8Array(256)
  private count = 0

  get size(): number {
    return this.count
  }

  /** The index of `id`, or −1. */
  find(id: string): number {
    const length = this.encode(id)
    return this.lookup(length, hashOf(this.scratch, length))
  }

  /** The index of `id`, added at the end when new. */
  intern(id: string): number {
    const length = this.encode(id)
    const hash = hashOf(this.scratch, length)
    const found = this.lookup(length, hash)
    if (found >= 0) return found
    const index = this.count++
    this.bytes = grown(this.bytes, this.used + length)
    this.bytes.set(this.scratch.subarray(0, length), this.used)
    this.used += length
    this.starts = grown(this.starts, this.count + 1)
    this.starts[this.count] = this.used
    if (this.count * 5 > this.cells.length * 4) this.rehash(this.cells.length * 2)
    else this.place(index, hash)
    return index
  }

  private lookup(length: number, hash: number): number {
    const mask = this.cells.length - 1
    for (let cell = hash & mask; ; cell = (cell + 1) & mask) {
      const held = this.cells[cell]
      if (held === EMPTY) return -1
      if (this.tags[cell] === hash >>> 24 && this.equals(held - 1, length)) return held - 1
    }
  }

  idAt(index: number): string {
    return decoder.decode(this.bytes.subarray(this.starts[index], this.starts[index + 1]))
  }

  /** Bytes held, for memory accounting. */
  byteSize(): number {
    return this.bytes.byteLength + this.starts.byteLength + this.cells.byteLength + this.tags.byteLength
  }

  /** The ids, in index order, in chunks of a few MB. */
  *exportChunks(): Generator<IdChunk> {
    for (let from = 0; from < this.count; ) {
      // Half the record for the ends, half for the bytes: fewer ids while theirs are too many bytes.
      let to = Math.min(this.count, from + RECORD_BYTES / 8)
      while (to > from + 1 && this.starts[to] - this.starts[from] > RECORD_BYTES / 2) to = (from + to) >>> 1
      yield {
        size: this.count,
        bytes: this.bytes.slice(this.starts[from], this.starts[to]),
        ends: this.starts.slice(from + 1, to + 1),
      }
      from = to
    }
  }

  /** Appends the next chunk of `exportChunks` (into an empty table first). */
  importChunk(chunk: IdChunk): void {
    if (this.count === 0) {
      // Sized at once for every id to come, as interning them one by one would have: no rehash per chunk.
      let capacity = this.cells.length
      while (chunk.size * 5 > capacity * 4) capacity *= 2
      this.rehash(capacity)
      this.starts = new Int32Array(chunk.size + 1)
    }
    this.bytes = put(this.bytes, this.used, chunk.bytes)
    this.used += chunk.bytes.length
    this.starts.set(chunk.ends, this.count + 1)
    for (const end = this.count + chunk.ends.length; this.count < end; this.count++)
      this.place(this.count, this.hashAt(this.count))
  }

  private encode(id: string): number {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    if (id.length * 3 > this.scratch.length) this.scratch = new Uint8Array(id.length * 3)
    return encoder.encodeInto(id, this.scratch).written
  }

  private equals(index: number, length: number): boolean {
    const start = this.starts[index]
    if (this.starts[index + 1] - start !== length) return false
    for (let k = 0; k < length; k++) if (this.bytes[start + k] !== this.scratch[k]) return false
    return true
  }

  private place(index: number, hash: number): void {
    const mask = this.cells.length - 1
    let cell = hash & mask
    while (this.cells[cell] !== EMPTY) cell = (cell + 1) & mask
    this.cells[cell] = index + 1
    this.tags[cell] = hash >>> 24
  }

  private rehash(capacity: number): void {
    this.cells = new Int32Array(capacity)
    this.tags = new Uint8Array(capacity)
    for (let i = 0; i < this.count; i++) this.place(i, this.hashAt(i))
  }

  private hashAt(i: number): number {
    return hashOf(this.bytes.subarray(this.starts[i], this.starts[i + 1]), this.starts[i + 1] - this.starts[i])
  }
}

const decoder = new TextDecoder()

/** FNV-1a, 32 bits, with a final mix so the top byte (the tag) is as good as the low bits. */
function hashOf(bytes: Uint8Array, length: number): number {
  let h = 0x811c9dc5
  for (let k = 0; k < length; k++) h = Math.imul(h ^ bytes[k], 0x01000193)
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  return h >>> 0
}
