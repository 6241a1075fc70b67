// Every order a tenant has, as the processor needs it for corrections (an edit replaces its rows,
// a refund or cancellation joins its window) and as RFM needs it (customer, time, money), stored
// in columns of typed arrays rather than an object per order: ~85 bytes an order with its id,
// where objects holding their rollup rows took ~2 KB. Orders are never removed: an edit or a
// refund may come years later. Figures are integer minor units; an order with a figure beyond
// ±2^31 or more than 255 lines keeps its figures in an object instead (rare), so nothing is
// ever rounded to fit.
import { IdTable, grown } from './id-table.ts'

export interface OrderPlace {
  source: string
  channel: string
  campaign_id: string
  city: string
}

export interface OrderLine {
  brand: string
  category: string
  revenue: number
  units: number
  cogs: number
}

export interface OrderFigures {
  gmv: number
  units: number
  subtotal: number
  discounts: number
  tax: number
  shipping: number
  shippingCost: number
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
  place: OrderPlace
  figures: OrderFigures
  lines: OrderLine[]
}

/** A refund or cancellation of an order, kept with it so it can follow the order's window. */
export interface Attachment {
  kind: 'refund' | 'cancel'
  source: string
  /** Its own minute (transaction date). */
  minute: number
  amount: number
  subtotal: number
}

const CREATED = 1
const HIGH_INTENT = 2
/** Figures and lines are in `big`, not in the columns. */
const BIG = 4
const FIGURES = ['gmv', 'units', 'subtotal', 'discounts', 'tax', 'shipping', 'shippingCost'] as const
const fitsInt32 = (v: number) => (v | 0) === v

/** Interns small records (places, brand × category pairs) by their fields. */
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
  }
}

export function createOrderIndex() {
  const ids = new IdTable()
  const places = createInterner<OrderPlace>((p) => `${p.source}\u0000${p.channel}\u0000${p.campaign_id}\u0000${p.city}`)
  const pairs = createInterner<{ brand: string; category: string }>((p) => `${p.brand}\u0000${p.category}`)
  let windowTs = new Float64Array(0)
  let figuresTs = new Float64Array(0)
  let customer = new Int32Array(0)
  /** Slot + 1 of the customer's next order (0: none): each customer's orders form a chain. */
  let nextOfCustomer = new Int32Array(0)
  let place = new Int32Array(0)
  let flags = new Uint8Array(0)
  let figures = new Int32Array(0)
  let lineStart = new Int32Array(0)
  let lineCount = new Uint8Array(0)
  /** Per line: pair id, revenue, units, cogs. */
  let lines = new Int32Array(0)
  let linesUsed = 0
  /** Slot + 1 of the customer's first order in its chain, by customer index. */
  let customerHead = new Int32Array(0)
  const big = new Map<number, { figures: OrderFigures; lines: OrderLine[] }>()
  const attachments = new Map<number, Attachment[]>()

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

  function write(slot: number, o: StoredOrder): void {
    windowTs[slot] = o.windowTs
    figuresTs[slot] = o.figuresTs
    place[slot] = places.id(o.place)
    const fits = o.lines.length <= 255 && FIGURES.every((f) => fitsInt32(o.figures[f])) && o.lines.every((l) => fitsInt32(l.revenue) && fitsInt32(l.units) && fitsInt32(l.cogs))
    flags[slot] = (o.created ? CREATED : 0) | (o.highIntent ? HIGH_INTENT : 0) | (fits ? 0 : BIG)
    big.delete(slot)
    if (!fits) {
      big.set(slot, { figures: { ...o.figures }, lines: o.lines.map((l) => ({ ...l })) })
      lineCount[slot] = 0
      return
    }
    FIGURES.forEach((f, k) => (figures[slot * FIGURES.length + k] = o.figures[f]))
    // An edit with no more lines than before reuses its lines' place.
    if (o.lines.length > lineCount[slot]) {
      lineStart[slot] = linesUsed
      linesUsed += o.lines.length
      lines = grown(lines, linesUsed * 4)
    }
    lineCount[slot] = o.lines.length
    o.lines.forEach((l, k) => lines.set([pairs.id(l), l.revenue, l.units, l.cogs], (lineStart[slot] + k) * 4))
  }

  function figuresOf(slot: number): OrderFigures {
    const base = slot * FIGURES.length
    return { gmv: figures[base], units: figures[base + 1], subtotal: figures[base + 2], discounts: figures[base + 3], tax: figures[base + 4], shipping: figures[base + 5], shippingCost: figures[base + 6] }
  }

  function linesOf(slot: number): OrderLine[] {
    const out: OrderLine[] = []
    for (let k = 0; k < lineCount[slot]; k++) {
      const at = (lineStart[slot] + k) * 4
      out.push({ ...pairs.at(lines[at]), revenue: lines[at + 1], units: lines[at + 2], cogs: lines[at + 3] })
    }
    return out
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
      figuresTs = grown(figuresTs, n)
      customer = grown(customer, n)
      nextOfCustomer = grown(nextOfCustomer, n)
      place = grown(place, n)
      flags = grown(flags, n)
      figures = grown(figures, n * FIGURES.length)
      lineStart = grown(lineStart, n)
      lineCount = grown(lineCount, n)
      write(slot, order)
      link(slot, order.customer)
      return slot
    },
    get(slot: number): StoredOrder {
      const stored = big.get(slot)
      return {
        windowTs: windowTs[slot],
        figuresTs: figuresTs[slot],
        created: (flags[slot] & CREATED) !== 0,
        highIntent: (flags[slot] & HIGH_INTENT) !== 0,
        customer: customer[slot],
        place: places.at(place[slot]),
        figures: stored ? { ...stored.figures } : figuresOf(slot),
        lines: stored ? stored.lines.map((l) => ({ ...l })) : linesOf(slot),
      }
    },
    /** Replaces an order's record (an edit); a change of customer moves it to the other's chain. */
    set(slot: number, order: StoredOrder): void {
      if (order.customer !== customer[slot]) {
        unlink(slot)
        link(slot, order.customer)
      }
      write(slot, order)
    },
    attachments: (slot: number): readonly Attachment[] => attachments.get(slot) ?? [],
    attach(slot: number, added: readonly Attachment[]): void {
      if (added.length > 0) attachments.set(slot, [...(attachments.get(slot) ?? []), ...added])
    },

    // Column reads for RFM, by slot, without building records.
    windowTs: (slot: number) => windowTs[slot],
    customer: (slot: number) => customer[slot],
    gmv: (slot: number) => big.get(slot)?.figures.gmv ?? figures[slot * FIGURES.length],
    units: (slot: number) => big.get(slot)?.figures.units ?? figures[slot * FIGURES.length + 1],
    /** Subtotal − COGS: the order's gross profit before refunds. */
    grossBeforeRefunds(slot: number): number {
      const stored = big.get(slot)
      if (stored) return stored.figures.subtotal - stored.lines.reduce((sum, l) => sum + l.cogs, 0)
      let gross = figures[slot * FIGURES.length + 2]
      for (let k = 0; k < lineCount[slot]; k++) gross -= lines[(lineStart[slot] + k) * 4 + 3]
      return gross
    },
    /** Σ merchandise part of the order's refunds made before `at`. */
    refundedBefore(slot: number, at: number): number {
      let sum = 0
      for (const a of attachments.get(slot) ?? []) if (a.kind === 'refund' && a.minute < at) sum += a.subtotal
      return sum
    },
    /** Slots of a customer's orders (no particular order). */
    *ordersOf(c: number): Generator<number> {
      for (let at = customerHead[c] ?? 0; at !== 0; at = nextOfCustomer[at - 1]) yield at - 1
    },
    /** Bytes held in columns, for memory accounting (the big and attachment maps excluded). */
    byteSize(): number {
      return ids.byteSize() + [windowTs, figuresTs, customer, nextOfCustomer, place, flags, figures, lineStart, lineCount, lines, customerHead].reduce((sum, a) => sum + a.byteLength, 0)
    },
  }
}

export type OrderIndex = ReturnType<typeof createOrderIndex>
