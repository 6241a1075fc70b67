// The pure heart of the stream stage: one event in, the deltas it makes to rollup windows out.
// It keeps what corrections need to be exact (the order index, the standing statements, refunds
// and cancellations seen, dedup memory) and no clock: time comes in with each event.
import type { AdSpendEvent, MarketingCostEvent, OrderEvent, PulseEvent, RefundEvent } from '../common/events.ts'
import { currencyDigits, toMinor } from '../common/money.ts'
import { type Measures, addMeasures, isZero, measuresOf, zeroMeasures } from './measures.ts'
import { minuteOf } from './windows.ts'

export interface TenantInfo {
  id: string
  timezone: string
  currency: string
}

/** What arrived with the event besides its body. */
export interface Arrival {
  /** When Pulse received it (epoch ms): dedup horizon and the default `reported_at`. */
  receivedAt: number
  /** Rate from the event's currency to the tenant's, stamped at ingest (decimal string). */
  fx?: string
}

/** A change to one rollup row: the window (minute bin) and dimensions it belongs to. */
export interface Delta {
  minute: number
  source: string
  channel: string
  values: Measures
}

export type Outcome = { kind: 'applied'; deltas: Delta[]; late: boolean } | { kind: 'duplicate' }

interface OrderRecord {
  /** Window of the order: its order.created time, else the earliest edit seen. */
  windowTs: number
  created: boolean
  figuresTs: number
  source: string
  channel: string
  figures: Measures
  /** Refunds and cancellations of this order: they follow its window and channel when those change. */
  attachments: Attachment[]
}

/** A refund or cancellation: one part at its own time, one in its order's window (view=order_date). */
interface Attachment {
  source: string
  minute: number
  own: Measures
  inOrderWindow: Measures
}

/** Where an order's attachments go: its window and channel, or their own time while it is unknown. */
interface Placement {
  minute?: number
  channel: string
}

interface Statement {
  reportedAt: number
  minute: number
  source: string
  channel: string
  values: Measures
}

export interface SourceFreshness {
  latestEventAt: number
  lateEvents: number
}

interface TenantState {
  seen: Map<string, number>
  orders: Map<string, OrderRecord>
  statements: Map<string, Statement>
  refunds: Set<string>
  cancelled: Set<string>
  /** Attachments of orders not seen yet, keyed by order id. */
  waiting: Map<string, Attachment[]>
  freshness: Map<string, SourceFreshness>
}

export interface ProcessorOptions {
  /** A repeated event id within this long after its first arrival is a duplicate. */
  dedupHorizonMs: number
  /** Allowed lateness: events this far behind the newest of their source are counted as late. */
  latenessMs: number
}

export function createProcessor(options: ProcessorOptions) {
  const tenants = new Map<string, TenantState>()

  function stateOf(tenant: string): TenantState {
    let state = tenants.get(tenant)
    if (!state) {
      state = { seen: new Map(), orders: new Map(), statements: new Map(), refunds: new Set(), cancelled: new Set(), waiting: new Map(), freshness: new Map() }
      tenants.set(tenant, state)
    }
    return state
  }

  /** Forget ids first seen longer ago than the horizon; Map order is arrival order. */
  function forgetOldIds(state: TenantState, now: number): void {
    const cutoff = now - options.dedupHorizonMs
    for (const [id, firstSeen] of state.seen) {
      if (firstSeen >= cutoff) break
      state.seen.delete(id)
    }
  }

  function apply(tenant: TenantInfo, event: PulseEvent, arrival: Arrival): Outcome {
    const state = stateOf(tenant.id)
    const firstSeen = state.seen.get(event.id)
    if (firstSeen !== undefined && arrival.receivedAt - firstSeen <= options.dedupHorizonMs) return { kind: 'duplicate' }
    state.seen.delete(event.id)
    state.seen.set(event.id, arrival.receivedAt)
    if (state.seen.size % 1024 === 0) forgetOldIds(state, arrival.receivedAt)

    const late = trackFreshness(state, event)
    const digits = currencyDigits(tenant.currency)
    const minor = (amount: string) => toMinor(amount, digits, arrival.fx)
    const deltas: Delta[] = []
    switch (event.type) {
      case 'order.created':
      case 'order.updated':
        applyOrder(state, event, minor, deltas)
        break
      case 'order.cancelled':
        applyCancel(state, event.order_id, event.ts, event.source, deltas)
        break
      case 'refund.created':
        applyRefund(state, event, minor, deltas)
        break
      case 'ad.spend':
      case 'marketing.cost':
        applyStatement(state, event, minor, arrival, deltas)
        break
      default:
        break // shopper events carry no money; the metrics stage reads them from history
    }
    return { kind: 'applied', deltas, late }
  }

  function trackFreshness(state: TenantState, event: PulseEvent): boolean {
    let f = state.freshness.get(event.source)
    if (!f) {
      f = { latestEventAt: event.ts, lateEvents: 0 }
      state.freshness.set(event.source, f)
    }
    const late = event.ts < f.latestEventAt - options.latenessMs
    if (late) f.lateEvents++
    if (event.ts > f.latestEventAt) f.latestEventAt = event.ts
    return late
  }

  function orderFigures(event: OrderEvent, minor: (a: string) => number): Measures {
    const total = minor(event.total)
    const shipping = minor(event.shipping)
    return measuresOf({
      gmv: total,
      orders: 1,
      units: event.items.reduce((sum, item) => sum + item.quantity, 0),
      subtotal: minor(event.subtotal),
      discounts: minor(event.discounts),
      tax: minor(event.tax),
      shipping,
      shipping_cost: event.shipping_cost === undefined ? shipping : minor(event.shipping_cost),
      attributed_revenue: event.channel === 'organic' ? 0 : total,
    })
  }

  function applyOrder(state: TenantState, event: OrderEvent, minor: (a: string) => number, deltas: Delta[]): void {
    const figures = orderFigures(event, minor)
    const isCreation = event.type === 'order.created'
    const old = state.orders.get(event.order_id)
    if (!old) {
      const record: OrderRecord = { windowTs: event.ts, created: isCreation, figuresTs: event.ts, source: event.source, channel: event.channel, figures, attachments: [] }
      state.orders.set(event.order_id, record)
      deltas.push({ minute: minuteOf(event.ts), source: record.source, channel: record.channel, values: figures })
      const waiting = state.waiting.get(event.order_id) ?? []
      state.waiting.delete(event.order_id)
      for (const a of waiting) moveAttachment(deltas, a, { channel: 'unknown' }, placementOf(record))
      record.attachments = waiting
      return
    }
    const next: OrderRecord = { ...old }
    if (isCreation && !old.created) {
      next.windowTs = event.ts
      next.created = true
    } else if (!old.created && event.ts < old.windowTs) {
      next.windowTs = event.ts
    }
    // The newest edit by event time stands; on a tie the later arrival wins.
    if (event.ts >= old.figuresTs) {
      Object.assign(next, { figuresTs: event.ts, figures, source: event.source, channel: event.channel })
    }
    state.orders.set(event.order_id, next)
    pushReplacement(deltas, { minute: minuteOf(old.windowTs), source: old.source, channel: old.channel, values: old.figures }, {
      minute: minuteOf(next.windowTs),
      source: next.source,
      channel: next.channel,
      values: next.figures,
    })
    for (const a of next.attachments) moveAttachment(deltas, a, placementOf(old), placementOf(next))
  }

  /** Places a refund or cancellation with its order, or waits for the order to be seen. */
  function attach(state: TenantState, orderId: string, attachment: Attachment, deltas: Delta[]): void {
    const order = state.orders.get(orderId)
    if (order) order.attachments.push(attachment)
    else state.waiting.set(orderId, [...(state.waiting.get(orderId) ?? []), attachment])
    pushAttachment(deltas, attachment, order ? placementOf(order) : { channel: 'unknown' }, 1)
  }

  function applyCancel(state: TenantState, orderId: string, ts: number, source: string, deltas: Delta[]): void {
    if (state.cancelled.has(orderId)) return
    state.cancelled.add(orderId)
    attach(state, orderId, { source, minute: minuteOf(ts), own: measuresOf({ cancelled_orders: 1 }), inOrderWindow: measuresOf({ cancelled_orders_od: 1 }) }, deltas)
  }

  function applyRefund(state: TenantState, event: RefundEvent, minor: (a: string) => number, deltas: Delta[]): void {
    const key = event.refund_id ?? `event:${event.id}`
    if (state.refunds.has(key)) return
    state.refunds.add(key)
    const amount = minor(event.amount)
    const subtotal = event.subtotal === undefined ? amount : minor(event.subtotal)
    attach(
      state,
      event.order_id,
      {
        source: event.source,
        minute: minuteOf(event.ts),
        own: measuresOf({ refunds: amount, refund_subtotal: subtotal, refund_count: 1 }),
        inOrderWindow: measuresOf({ refunds_od: amount, refund_subtotal_od: subtotal, refund_count_od: 1 }),
      },
      deltas,
    )
  }

  function applyStatement(state: TenantState, event: AdSpendEvent | MarketingCostEvent, minor: (a: string) => number, arrival: Arrival, deltas: Delta[]): void {
    const isSpend = event.type === 'ad.spend'
    const key = `${event.type}|${event.platform}|${event.campaign_id ?? ''}|${event.period}|${event.ts}`
    const reportedAt = event.reported_at ?? arrival.receivedAt
    const old = state.statements.get(key)
    // Later reports restate; an older report arriving late never brings back a stale figure.
    if (old && reportedAt < old.reportedAt) return
    const values = isSpend ? measuresOf({ ad_spend: minor(event.spend) }) : measuresOf({ marketing_cost: minor(event.amount) })
    const next: Statement = { reportedAt, minute: minuteOf(event.ts), source: event.source, channel: event.platform, values }
    state.statements.set(key, next)
    if (old) pushReplacement(deltas, old, next)
    else deltas.push({ minute: next.minute, source: next.source, channel: next.channel, values })
  }

  return {
    apply,
    /** Freshness per source for one tenant (latest event time and late count). */
    freshness(tenant: string): ReadonlyMap<string, SourceFreshness> {
      return stateOf(tenant).freshness
    },
    /** Whether an id was seen within the horizon of `now` (ingest's duplicate count). */
    hasSeen(tenant: string, id: string, now: number): boolean {
      const firstSeen = tenants.get(tenant)?.seen.get(id)
      return firstSeen !== undefined && now - firstSeen <= options.dedupHorizonMs
    },
  }
}

export type Processor = ReturnType<typeof createProcessor>

const placementOf = (order: OrderRecord): Placement => ({ minute: minuteOf(order.windowTs), channel: order.channel })

function pushAttachment(deltas: Delta[], a: Attachment, at: Placement, sign: 1 | -1): void {
  const signed = (values: Measures) => {
    const out = zeroMeasures()
    addMeasures(out, values, sign)
    return out
  }
  deltas.push({ minute: a.minute, source: a.source, channel: at.channel, values: signed(a.own) })
  deltas.push({ minute: at.minute ?? a.minute, source: a.source, channel: at.channel, values: signed(a.inOrderWindow) })
}

function moveAttachment(deltas: Delta[], a: Attachment, from: Placement, to: Placement): void {
  if (from.minute === to.minute && from.channel === to.channel) return
  pushAttachment(deltas, a, from, -1)
  pushAttachment(deltas, a, to, 1)
}

/** −old at its place, +new at its place; merged to one delta when the place is the same. */
function pushReplacement(deltas: Delta[], old: Omit<Delta, 'values'> & { values: Measures }, next: Omit<Delta, 'values'> & { values: Measures }): void {
  if (old.minute === next.minute && old.source === next.source && old.channel === next.channel) {
    const values = zeroMeasures()
    addMeasures(values, next.values)
    addMeasures(values, old.values, -1)
    if (!isZero(values)) deltas.push({ minute: next.minute, source: next.source, channel: next.channel, values })
    return
  }
  const negated = zeroMeasures()
  addMeasures(negated, old.values, -1)
  deltas.push({ minute: old.minute, source: old.source, channel: old.channel, values: negated })
  deltas.push({ minute: next.minute, source: next.source, channel: next.channel, values: next.values })
}
