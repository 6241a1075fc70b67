// Every order a tenant has, as the processor needs it for corrections (an edit replaces its rows,
// a refund or cancellation joins its window) and as RFM needs it (customer, time, money), stored
// in typed-array columns rather than an object per order; its figures and lines are one record
// of variable-length integers in a byte arena. ~90 bytes an order with its id and a line item,
// where objects holding their rollup rows took ~2 KB (bench/rfm.ts). Orders are never removed:
// an edit or a refund may come years later. Money is integer minor units, any size (exact to
// 2^53, like every sum in Pulse).
import { type IdChunk, IdTable, grown, put } from './id-table.ts'
import { chunked, rowRanges } from './snapshot.ts'
import type { RefundItem } from './brand-split.ts'

export interface OrderPlace {
  source: string
  channel: string
  campaign_id: string
  city: string
  /** The order's store ('' when none was given). */
  store: string
}

export interface OrderLine {
  sku: string
  brand: string
  category: string
  revenue: number
  units: number
  cogs: number
}

/** An order's own figures (units are its lines' Σ units). */
export interface OrderFigures {
  gmv: number
  subtotal: number
  discounts: number
  tax: number
  shipping: number
  shippingCost: number
  /** The seller's fees of the order (the `fees` of its standing event). */
  fees: number
}

export interface StoredOrder {
  /** Window of the order: its order.created time, else the earliest edit seen. */
  windowTs: number
  /** Event time of the figures that stand (the newest edit by event time). */
  figuresTs: number
  created: boolean
  highIntent: boolean
  /** Index in the tenant's customer store; −1 for a guest checkout. */
  customer: number
  /** How many order.created / order.updated events were applied to it (1: never edited). */
  revisions: number
  place: OrderPlace
  figures: OrderFigures
  lines: OrderLine[]
}

/** A refund, cancellation or fee.charged of an order, kept with it so it can follow the order's window. */
export interface Attachment {
  kind: 'refund' | 'cancel' | 'fee'
  source: string
  /** Its own minute (transaction date). */
  minute: number
  amount: number
  subtotal: number
  /** A refund's fees given back, or a fee.charged's amount (0 for a cancellation). */
  fees: number
  /** A fee.charged's `kind`; '' otherwise. */
  feeKind: string
  /** Its own store: where it is placed while its order is not seen yet. */
  store: string
  /** A refund's items (minor units), when it listed them: its split follows them (docs/brands.md). */
  items?: RefundItem[]
}

/** A piece of an order index in a snapshot: ids, interned values, or a range of rows of its columns. */
export type OrderIndexChunk =
  | { ids: IdChunk }
  | { places: OrderPlace[] }
  | { lineKeys: { sku: string; brand: string; category: string }[] }
  | { sources: string[] }
  | { figuresTs: Map<number, number> }
  | { records: { at: number; bytes: Uint8Array } }
  | { customerHeads: { at: number; heads: Int32Array } }
  | {
      slots: {
        at: number
        windowTs: Float64Array
        customer: Int32Array
        nextOfCustomer: Int32Array
        place: Int32Array
        flags: Uint8Array
        recordAt: Uint32Array
        attachmentHead: Int32Array
      }
    }
  | {
      attachments: {
        at: number
        next: Int32Array
        kind: Uint8Array
        source: Int32Array
        minute: Float64Array
        amount: Float64Array
        subtotal: Float64Array
        fees: Float64Array
        feeKind: Int32Array
        store: Int32Array
      }
    }
  /** Refunds' items by attachment entry (most refunds list none). */
  | { refundItems: Map<number, RefundItem[]> }

const CREATED = 1
const HIGH_INTENT = 2
const FIGURES = ['gmv', 'subtotal', 'discounts', 'tax', 'shipping', 'shippingCost', 'fees'] as const
/** A record opens with the FIGURES and the revision count, then the lines. */
const HEAD_LENGTH = FIGURES.length + 1
const ATTACHMENT_KINDS = ['refund', 'cancel', 'fee'] as const

/**
 * Appends and reads variable-length integers: the first byte holds a continuation bit, the sign and
 * the magnitude's low 6 bits, then LEB128 (7 bits a byte). Arithmetic, not 32-bit bit operations,
 * so any magnitude up to 2^53 stays exact; most figures take 2 or 3 bytes.
 */
function createRecordArena() {
  let bytes = new Uint8Array(1024)
  let used = 0
  let at = 0
  return {
    byteSize: () => bytes.byteLength,
    get used() {
      return used
    },
    slice: (from: number, to: number) => bytes.slice(from, to),
    /** Loads a chunk of another arena's bytes at `at` (chunks arrive in order). */
    load(at: number, chunk: Uint8Array): void {
      bytes = put(bytes, at, chunk)
      used = at + chunk.length
    },
    /** Writes the values at `offset`, or at the end when undefined; returns where they start. */
    write(values: readonly number[], offset?: number): number {
      const start = offset ?? used
      bytes = grown(bytes, start + values.length * 9)
      let pos = start
      for (const v of values) {
        let m = Math.abs(v)
        let first = (m % 64) | (v < 0 ? 64 : 0)
        m = Math.floor(m / 64)
        if (m > 0) first |= 128
        bytes[pos++] = first
        while (m > 0) {
          const low = m % 128
          m = Math.floor(m / 128)
          bytes[pos++] = low | (m > 0 ? 128 : 0)
        }
      }
      if (offset === undefined) used = pos
      return start
    },
    /** Positions the reader. */
    seek(offset: number): void {
      at = offset
    },
    next(): number {
      let b = bytes[at++]
      const negative = (b & 64) !== 0
      let m = b & 63
      let scale = 64
      while (b & 128) {
        b = bytes[at++]
        m += (b & 127) * scale
        scale *= 128
      }
      return negative ? -m : m
    },
    get position() {
      return at
    },
  }
}

/** Bytes the arena takes for `values`. */
function encodedLength(values: readonly number[]): number {
  let n = 0
  for (const v of values) {
    n++
    for (let m = Math.floor(Math.abs(v) / 64); m > 0; m = Math.floor(m / 128)) n++
  }
  return n
}

/** Interns small records (places, sku × brand × category of lines) by their fields. */
function createInterner<T>(keyOf: (value: T) => string) {
  const ids = new Map<string, number>()
  const values: T[] = []
  return {
    id(value: T): number {
      const key = keyOf(value)
      let id = ids.get(key)
      if (id === undefined) ids.set(key, (id = values.push(value) - 1))
      return id
    },
    at: (id: number) => values[id],
    values: values as readonly T[],
  }
}

export function createOrderIndex() {
  const ids = new IdTable()
  const places = createInterner<OrderPlace>(
    (p) => `${p.source}\u0000${p.channel}\u0000${p.campaign_id}\u0000${p.city}\u0000${p.store}`,
  )
  // A line's sku, brand and category as one id: an order's answer (GET /v1/orders/:id) names its lines' SKUs.
  const lineKeys = createInterner<{ sku: string; brand: string; category: string }>(
    (k) => `${k.sku}\u0000${k.brand}\u0000${k.category}`,
  )
  let windowTs = new Float64Array(0)
  /** figuresTs of the orders whose figures came from an edit later than their window (most have none). */
  const figuresTs = new Map<number, number>()
  let customer = new Int32Array(0)
  /** Slot + 1 of the customer's next order (0: none): each customer's orders form a chain. */
  let nextOfCustomer = new Int32Array(0)
  let place = new Int32Array(0)
  let flags = new Uint8Array(0)
  /** Where the order's record starts: its FIGURES, revisions, line count, then per line key id, revenue, units, cogs. */
  let recordAt = new Uint32Array(0)
  const records = createRecordArena()
  /** Slot + 1 of the customer's first order in its chain, by customer index. */
  let customerHead = new Int32Array(0)
  // Attachments, a chain per order (head: entry + 1; 0: none): kind, source, minute, amount, subtotal, fees, fee kind.
  let attachmentHead = new Int32Array(0)
  let attachmentNext = new Int32Array(0)
  let attachmentKind = new Uint8Array(0)
  let attachmentSource = new Int32Array(0)
  let attachmentMinute = new Float64Array(0)
  let attachmentAmount = new Float64Array(0)
  let attachmentSubtotal = new Float64Array(0)
  let attachmentFees = new Float64Array(0)
  /** A fee.charged's kind, interned with the sources. */
  let attachmentFeeKind = new Int32Array(0)
  /** An attachment's own store, interned with the sources. */
  let attachmentStore = new Int32Array(0)
  /** A refund's items by its entry, for the refunds that listed some. */
  const attachmentItems = new Map<number, RefundItem[]>()
  let attachmentsUsed = 0
  /** The order (slot) of each attachment, for reads by time; rebuilt from the chains after a snapshot load. */
  let attachmentSlot = new Int32Array(0)
  let attachmentSlotsStale = false
  const sources = createInterner<string>((s) => s)

  function link(slot: number, c: number): void {
    customer[slot] = c
    if (c < 0) return
    customerHead = grown(customerHead, c + 1)
    nextOfCustomer[slot] = customerHead[c]
    customerHead[c] = slot + 1
  }

  function unlink(slot: number): void {
    const c = customer[slot]
    if (c < 0) return
    if (customerHead[c] === slot + 1) customerHead[c] = nextOfCustomer[slot]
    else {
      let at = customerHead[c] - 1
      while (nextOfCustomer[at] !== slot + 1) at = nextOfCustomer[at] - 1
      nextOfCustomer[at] = nextOfCustomer[slot]
    }
    nextOfCustomer[slot] = 0
  }

  function write(slot: number, o: StoredOrder, isNew: boolean): void {
    windowTs[slot] = o.windowTs
    if (o.figuresTs !== o.windowTs) figuresTs.set(slot, o.figuresTs)
    else figuresTs.delete(slot)
    place[slot] = places.id(o.place)
    flags[slot] = (o.created ? CREATED : 0) | (o.highIntent ? HIGH_INTENT : 0)
    const values = [
      ...FIGURES.map((f) => o.figures[f]),
      o.revisions,
      o.lines.length,
      ...o.lines.flatMap((l) => [
        lineKeys.id({ sku: l.sku, brand: l.brand, category: l.category }),
        l.revenue,
        l.units,
        l.cogs,
      ]),
    ]
    // An edit whose record is no longer than the one it replaces takes its place.
    const fitsInPlace = !isNew && encodedLength(values) <= recordLength(slot)
    recordAt[slot] = records.write(values, fitsInPlace ? recordAt[slot] : undefined)
  }

  function recordLength(slot: number): number {
    records.seek(recordAt[slot])
    for (let k = 0; k < HEAD_LENGTH; k++) records.next()
    for (let k = records.next() * 4; k > 0; k--) records.next()
    return records.position - recordAt[slot]
  }

  function read(slot: number): { figures: OrderFigures; revisions: number; lines: OrderLine[] } {
    records.seek(recordAt[slot])
    const figures = Object.fromEntries(FIGURES.map((f) => [f, records.next()])) as unknown as OrderFigures
    const revisions = records.next()
    const lines: OrderLine[] = []
    for (let k = records.next(); k > 0; k--)
      lines.push({
        ...lineKeys.at(records.next()),
        revenue: records.next(),
        units: records.next(),
        cogs: records.next(),
      })
    return { figures, revisions, lines }
  }

  /** What RFM reads of an order, decoded in one pass: [gmv, units, subtotal − COGS]. */
  const rfm: [number, number, number] = [0, 0, 0]
  function rfmFigures(slot: number): readonly [number, number, number] {
    records.seek(recordAt[slot])
    rfm[0] = records.next()
    rfm[2] = records.next()
    for (let k = 2; k < HEAD_LENGTH; k++) records.next()
    rfm[1] = 0
    for (let k = records.next(); k > 0; k--) {
      records.next()
      records.next()
      rfm[1] += records.next()
      rfm[2] -= records.next()
    }
    return rfm
  }

  const money: [number, number] = [0, 0]

  function* attachmentEntries(slot: number): Generator<number> {
    for (let e = attachmentHead[slot]; e !== 0; e = attachmentNext[e - 1]) yield e - 1
  }

  return {
    get size(): number {
      return ids.size
    },
    /** The order's slot, or −1 when it was never seen. */
    find: (orderId: string): number => ids.find(orderId),
    add(orderId: string, order: StoredOrder): number {
      const slot = ids.intern(orderId)
      const n = slot + 1
      windowTs = grown(windowTs, n)
      customer = grown(customer, n)
      nextOfCustomer = grown(nextOfCustomer, n)
      place = grown(place, n)
      flags = grown(flags, n)
      recordAt = grown(recordAt, n)
      attachmentHead = grown(attachmentHead, n)
      write(slot, order, true)
      link(slot, order.customer)
      return slot
    },
    get(slot: number): StoredOrder {
      return {
        windowTs: windowTs[slot],
        figuresTs: figuresTs.get(slot) ?? windowTs[slot],
        created: (flags[slot] & CREATED) !== 0,
        highIntent: (flags[slot] & HIGH_INTENT) !== 0,
        customer: customer[slot],
        place: places.at(place[slot]),
        ...read(slot),
      }
    },
    /** Replaces an order's record (an edit); a change of customer moves it to the other's chain. */
    set(slot: number, order: StoredOrder): void {
      if (order.customer !== customer[slot]) {
        unlink(slot)
        link(slot, order.customer)
      }
      write(slot, order, false)
    },
    /** The order's refunds and cancellations, in the order they were attached. */
    attachments(slot: number): Attachment[] {
      const out: Attachment[] = []
      for (const e of attachmentEntries(slot))
        out.push({
          kind: ATTACHMENT_KINDS[attachmentKind[e]],
          source: sources.at(attachmentSource[e]),
          minute: attachmentMinute[e],
          amount: attachmentAmount[e],
          subtotal: attachmentSubtotal[e],
          fees: attachmentFees[e],
          feeKind: sources.at(attachmentFeeKind[e]),
          store: sources.at(attachmentStore[e]),
          ...(attachmentItems.has(e) ? { items: attachmentItems.get(e) } : {}),
        })
      return out.reverse()
    },
    attach(slot: number, added: readonly Attachment[]): void {
      for (const a of added) {
        const e = attachmentsUsed++
        attachmentNext = grown(attachmentNext, attachmentsUsed)
        attachmentKind = grown(attachmentKind, attachmentsUsed)
        attachmentSource = grown(attachmentSource, attachmentsUsed)
        attachmentMinute = grown(attachmentMinute, attachmentsUsed)
        attachmentAmount = grown(attachmentAmount, attachmentsUsed)
        attachmentSubtotal = grown(attachmentSubtotal, attachmentsUsed)
        attachmentFees = grown(attachmentFees, attachmentsUsed)
        attachmentFeeKind = grown(attachmentFeeKind, attachmentsUsed)
        attachmentStore = grown(attachmentStore, attachmentsUsed)
        attachmentSlot = grown(attachmentSlot, attachmentsUsed)
        attachmentSlot[e] = slot
        attachmentKind[e] = ATTACHMENT_KINDS.indexOf(a.kind)
        attachmentSource[e] = sources.id(a.source)
        attachmentMinute[e] = a.minute
        attachmentAmount[e] = a.amount
        attachmentSubtotal[e] = a.subtotal
        attachmentFees[e] = a.fees
        attachmentFeeKind[e] = sources.id(a.feeKind)
        attachmentStore[e] = sources.id(a.store)
        if (a.items && a.items.length > 0) attachmentItems.set(e, a.items)
        attachmentNext[e] = attachmentHead[slot]
        attachmentHead[slot] = e + 1
      }
    },

    /** The order id of a slot. */
    idAt: (slot: number): string => ids.idAt(slot),
    /** Where the order's rows are (source, channel, campaign, city), without decoding its record. */
    placeOf: (slot: number): OrderPlace => places.at(place[slot]),
    // Column reads for RFM, by slot, without building records.
    windowTs: (slot: number) => windowTs[slot],
    customer: (slot: number) => customer[slot],
    gmv: (slot: number) => rfmFigures(slot)[0],
    /** [gmv, units, subtotal − COGS (gross profit before refunds)]; the array is reused by the next call. */
    rfmFigures,
    /** [gmv, subtotal] of the order (new and returning customers); the array is reused by the next call. */
    money(slot: number): readonly [number, number] {
      records.seek(recordAt[slot])
      money[0] = records.next()
      money[1] = records.next()
      return money
    },
    /** Calls `fn` with each refund of the order: its minute, amount and merchandise part (subtotal). */
    forEachRefund(slot: number, fn: (minute: number, amount: number, subtotal: number) => void): void {
      for (let e = attachmentHead[slot]; e !== 0; e = attachmentNext[e - 1])
        if (attachmentKind[e - 1] === 0) fn(attachmentMinute[e - 1], attachmentAmount[e - 1], attachmentSubtotal[e - 1])
    },
    /** Calls `fn` with each order whose window time lies in [from, to) (a scan of one column). */
    forEachOrderIn(from: number, to: number, fn: (slot: number) => void): void {
      const n = ids.size
      for (let slot = 0; slot < n; slot++) {
        const ts = windowTs[slot]
        if (ts >= from && ts < to) fn(slot)
      }
    },
    /** Calls `fn` with each refund whose own minute lies in [from, to): its order's slot, minute, amount, subtotal. */
    forEachRefundIn(
      from: number,
      to: number,
      fn: (slot: number, minute: number, amount: number, subtotal: number) => void,
    ): void {
      if (attachmentSlotsStale) {
        attachmentSlot = new Int32Array(attachmentNext.length)
        for (let slot = 0; slot < ids.size; slot++)
          for (let e = attachmentHead[slot]; e !== 0; e = attachmentNext[e - 1]) attachmentSlot[e - 1] = slot
        attachmentSlotsStale = false
      }
      for (let e = 0; e < attachmentsUsed; e++) {
        const minute = attachmentMinute[e]
        if (attachmentKind[e] === 0 && minute >= from && minute < to)
          fn(attachmentSlot[e], minute, attachmentAmount[e], attachmentSubtotal[e])
      }
    },
    /** Σ merchandise part of the order's refunds made before `at`. */
    refundedBefore(slot: number, at: number): number {
      let sum = 0
      for (const e of attachmentEntries(slot))
        if (attachmentKind[e] === 0 && attachmentMinute[e] < at) sum += attachmentSubtotal[e]
      return sum
    },
    /** One more than the highest customer index with an order (customers' indices lie below it). */
    customerBound(): number {
      let n = customerHead.length
      while (n > 0 && customerHead[n - 1] === 0) n--
      return n
    },
    /** The earliest window time of a customer's orders (their first order), +∞ without one. */
    firstWindowTs(c: number): number {
      let first = Number.POSITIVE_INFINITY
      for (let at = customerHead[c] ?? 0; at !== 0; at = nextOfCustomer[at - 1])
        if (windowTs[at - 1] < first) first = windowTs[at - 1]
      return first
    },
    /** Slots of a customer's orders (no particular order). */
    *ordersOf(c: number): Generator<number> {
      for (let at = customerHead[c] ?? 0; at !== 0; at = nextOfCustomer[at - 1]) yield at - 1
    },
    /** The whole index in chunks for a snapshot; copies, so later changes leave them as they were. */
    *exportChunks(): Generator<OrderIndexChunk> {
      for (const chunk of ids.exportChunks()) yield { ids: chunk }
      for (const chunk of chunked(places.values)) yield { places: chunk }
      for (const chunk of chunked(lineKeys.values))
        yield { lineKeys: chunk.map(({ sku, brand, category }) => ({ sku, brand, category })) }
      for (const chunk of chunked(sources.values)) yield { sources: chunk }
      for (const chunk of chunked(figuresTs)) yield { figuresTs: new Map(chunk) }
      for (const [from, to] of rowRanges(records.used, 1))
        yield { records: { at: from, bytes: records.slice(from, to) } }
      // Customer heads up to the last customer with an order (the column is grown ahead).
      let heads = customerHead.length
      while (heads > 0 && customerHead[heads - 1] === 0) heads--
      for (const [from, to] of rowRanges(heads, 4))
        yield { customerHeads: { at: from, heads: customerHead.slice(from, to) } }
      for (const [from, to] of rowRanges(ids.size, 29))
        yield {
          slots: {
            at: from,
            windowTs: windowTs.slice(from, to),
            customer: customer.slice(from, to),
            nextOfCustomer: nextOfCustomer.slice(from, to),
            place: place.slice(from, to),
            flags: flags.slice(from, to),
            recordAt: recordAt.slice(from, to),
            attachmentHead: attachmentHead.slice(from, to),
          },
        }
      for (const [from, to] of rowRanges(attachmentsUsed, 49))
        yield {
          attachments: {
            at: from,
            next: attachmentNext.slice(from, to),
            kind: attachmentKind.slice(from, to),
            source: attachmentSource.slice(from, to),
            minute: attachmentMinute.slice(from, to),
            amount: attachmentAmount.slice(from, to),
            subtotal: attachmentSubtotal.slice(from, to),
            fees: attachmentFees.slice(from, to),
            feeKind: attachmentFeeKind.slice(from, to),
            store: attachmentStore.slice(from, to),
          },
        }
      for (const chunk of chunked(attachmentItems, ([, items]) => items.length))
        yield { refundItems: new Map(chunk.map(([e, items]) => [e, items.map((i) => ({ ...i }))])) }
    },
    /** Loads the next chunk of `exportChunks` (into an empty index first). */
    importChunk(chunk: OrderIndexChunk): void {
      if ('ids' in chunk) ids.importChunk(chunk.ids)
      else if ('places' in chunk) for (const p of chunk.places) places.id(p)
      else if ('lineKeys' in chunk) for (const k of chunk.lineKeys) lineKeys.id(k)
      else if ('sources' in chunk) for (const s of chunk.sources) sources.id(s)
      else if ('figuresTs' in chunk) for (const [slot, ts] of chunk.figuresTs) figuresTs.set(slot, ts)
      else if ('records' in chunk) records.load(chunk.records.at, chunk.records.bytes)
      else if ('refundItems' in chunk) for (const [e, items] of chunk.refundItems) attachmentItems.set(e, items)
      else if ('customerHeads' in chunk)
        customerHead = put(customerHead, chunk.customerHeads.at, chunk.customerHeads.heads)
      else if ('slots' in chunk) {
        const c = chunk.slots
        windowTs = put(windowTs, c.at, c.windowTs)
        customer = put(customer, c.at, c.customer)
        nextOfCustomer = put(nextOfCustomer, c.at, c.nextOfCustomer)
        place = put(place, c.at, c.place)
        flags = put(flags, c.at, c.flags)
        recordAt = put(recordAt, c.at, c.recordAt)
        attachmentHead = put(attachmentHead, c.at, c.attachmentHead)
      } else {
        const c = chunk.attachments
        attachmentNext = put(attachmentNext, c.at, c.next)
        attachmentKind = put(attachmentKind, c.at, c.kind)
        attachmentSource = put(attachmentSource, c.at, c.source)
        attachmentMinute = put(attachmentMinute, c.at, c.minute)
        attachmentAmount = put(attachmentAmount, c.at, c.amount)
        attachmentSubtotal = put(attachmentSubtotal, c.at, c.subtotal)
        attachmentFees = put(attachmentFees, c.at, c.fees)
        attachmentFeeKind = put(attachmentFeeKind, c.at, c.feeKind)
        attachmentStore = put(attachmentStore, c.at, c.store)
        attachmentsUsed = c.at + c.next.length
        attachmentSlotsStale = true
      }
    },
    /** Bytes held in columns, for memory accounting (the map of edited orders' figuresTs excluded). */
    byteSize(): number {
      const columns = [
        windowTs,
        customer,
        nextOfCustomer,
        place,
        flags,
        recordAt,
        customerHead,
        attachmentHead,
        attachmentNext,
        attachmentKind,
        attachmentSource,
        attachmentMinute,
        attachmentAmount,
        attachmentSubtotal,
        attachmentFees,
        attachmentFeeKind,
        attachmentStore,
        attachmentSlot,
      ]
      return ids.byteSize() + records.byteSize() + columns.reduce((sum, a) => sum + a.byteLength, 0)
    },
  }
}

export type OrderIndex = ReturnType<typeof createOrderIndex>
