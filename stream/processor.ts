// The pure heart of the stream stage: one event in, the deltas it makes to rollup windows out.
// It keeps what corrections need to be exact (the order index, the standing statements, refunds
// and cancellations seen, dedup memory), the per-customer state, the funnel and the activity feed,
// and no clock: time comes in with each event.
import type {
  AdSpendEvent,
  FeeChargedEvent,
  MarketingCostEvent,
  OrderEvent,
  PulseEvent,
  RefundEvent,
} from '../common/events.ts'
import { currencyDigits, divRoundHalfAway, formatMinor, toDecimalString, toMinor } from '../common/money.ts'
import { type Settings, defaultSettings } from '../common/settings.ts'
import type { TenantRef } from '../tenants/index.ts'
import { type ActivityItem, createActivityFeed } from './activity.ts'
import { type CustomerStore, createCustomerStore } from './customers.ts'
import { createFunnel } from './funnel.ts'
import { type BrandLine, orderWeights, splitAmount, splitOrder, splitRefund } from './brand-split.ts'
import { IdTable } from './id-table.ts'
import { type InventoryView, createInventory } from './inventory.ts'
import { type Measures, addMeasures, measuresOf, zeroMeasures } from './measures.ts'
import { type Attachment, type OrderIndex, type StoredOrder, createOrderIndex } from './order-index.ts'
import { type ProcessorRecord, type StateRecord, chunked } from './snapshot.ts'
import { createLocalDayOf, minuteOf } from './windows.ts'

/** What arrived with the event besides its body. */
export interface Arrival {
  /** When Pulse received it (epoch ms): dedup horizon and the default `reported_at`. */
  receivedAt: number
  /** Rate from the event's currency to the tenant's, stamped at ingest (decimal string). */
  fx?: string
}

/** Where a delta belongs: its minute and dimensions (absent dimensions are ''). */
export interface Place {
  minute: number
  source: string
  channel: string
  campaign_id?: string
  city?: string
  brand?: string
  category?: string
  store?: string
}

/** A change to one rollup row. */
export interface Delta extends Place {
  values: Measures
}

export type Outcome = { kind: 'applied'; deltas: Delta[]; late: boolean; customers: string[] } | { kind: 'duplicate' }

export interface Statement {
  reportedAt: number
  delta: Delta
}

/** A campaign's name as its newest named statement gives it (by `ts`, then `reported_at`, then arrival). */
export interface CampaignName {
  name: string
  ts: number
  reportedAt: number
}

export interface SourceFreshness {
  latestEventAt: number
  lateEvents: number
}

interface TenantState {
  settings: Settings
  seen: Map<string, number>
  orders: OrderIndex
  customers: CustomerStore
  statements: Map<string, Statement>
  /** Campaign names by campaign_id, from `ad.spend` statements that carry one. */
  campaignNames: Map<string, CampaignName>
  refunds: IdTable
  cancelled: IdTable
  /** Attachments of orders not seen yet, keyed by order id. */
  waiting: Map<string, Attachment[]>
  freshness: Map<string, SourceFreshness>
  timezone: string
  localDayOf: (minute: number) => string
}

export interface ProcessorOptions {
  /** A repeated event id within this long after its first arrival is a duplicate. */
  dedupHorizonMs: number
  /** Default allowed lateness (a tenant setting may override it). */
  latenessMs: number
}

const HOUR = 3_600_000
/** A statement weighs as much as this many map entries in a record: 10,000 took ~30 ms to serialize. */
const STATEMENT_WEIGHT = 8
const cityOf = (location: OrderEvent['location']) => (typeof location === 'string' ? location : (location?.city ?? ''))

export function createProcessor(options: ProcessorOptions) {
  const tenants = new Map<string, TenantState>()
  const funnel = createFunnel()
  const activity = createActivityFeed()
  const inventory = createInventory()

  function newState(timezone: string): TenantState {
    const settings = defaultSettings()
    settings.allowed_lateness_seconds = options.latenessMs / 1000
    const orders = createOrderIndex()
    return {
      settings,
      seen: new Map(),
      orders,
      customers: createCustomerStore(orders),
      statements: new Map(),
      campaignNames: new Map(),
      refunds: new IdTable(),
      cancelled: new IdTable(),
      waiting: new Map(),
      freshness: new Map(),
      timezone,
      localDayOf: createLocalDayOf(timezone),
    }
  }

  function stateOf(tenant: TenantRef): TenantState {
    let state = tenants.get(tenant.id)
    if (!state) tenants.set(tenant.id, (state = newState(tenant.timezone)))
    return state
  }

  /** A tenant's state for reading; a tenant with no events yet reads as empty, with defaults. */
  // One shared empty state for every tenant not seen yet: readers never change what they peek at,
  // and building a state per call (a new order index) costs ingest dearly on a new tenant's first batch.
  let empty: TenantState | undefined
  const peek = (tenant: string): TenantState => tenants.get(tenant) ?? (empty ??= newState('UTC'))

  /** Forget ids first seen longer ago than the horizon; Map order is arrival order. */
  function forgetOldIds(state: TenantState, now: number): void {
    const cutoff = now - options.dedupHorizonMs
    for (const [id, firstSeen] of state.seen) {
      if (firstSeen >= cutoff) break
      state.seen.delete(id)
    }
  }

  function apply(tenant: TenantRef, event: PulseEvent, arrival: Arrival): Outcome {
    const state = stateOf(tenant)
    const firstSeen = state.seen.get(event.id)
    if (firstSeen !== undefined && arrival.receivedAt - firstSeen <= options.dedupHorizonMs)
      return { kind: 'duplicate' }
    state.seen.delete(event.id)
    state.seen.set(event.id, arrival.receivedAt)
    if (state.seen.size % 1024 === 0) forgetOldIds(state, arrival.receivedAt)

    const late = trackFreshness(state, event)
    const digits = currencyDigits(tenant.currency)
    const ctx: Context = {
      tenant,
      state,
      digits,
      minor: (amount: string) => toMinor(amount, digits, arrival.fx),
      deltas: [],
      customers: [],
    }
    switch (event.type) {
      case 'order.created':
      case 'order.updated':
        applyOrder(ctx, event)
        break
      case 'order.cancelled':
        applyCancel(ctx, event.order_id, event.ts, event.source, event.store ?? '')
        feed(ctx, event.id, event.type, event.ts, null, null, `Order ${event.order_id} cancelled`)
        break
      case 'refund.created':
        applyRefund(ctx, event)
        break
      case 'fee.charged':
        applyFee(ctx, event)
        break
      case 'inventory.level':
        inventory.level(tenant.id, event.sku, event.location_id, event.available, event.ts)
        break
      case 'ad.spend':
      case 'marketing.cost':
        applyStatement(ctx, event, arrival)
        break
      default:
        applyShopperEvent(ctx, event)
    }
    return { kind: 'applied', deltas: ctx.deltas, late, customers: ctx.customers }
  }

  interface Context {
    tenant: TenantRef
    state: TenantState
    digits: number
    minor: (amount: string) => number
    deltas: Delta[]
    customers: string[]
  }

  function feed(
    ctx: Context,
    id: string,
    type: string,
    ts: number,
    customer: string | null,
    amountMinor: number | null,
    description: string,
  ): void {
    const item: ActivityItem = {
      event_id: id,
      type,
      ts: new Date(ts).toISOString(),
      customer_id: customer,
      amount: amountMinor === null ? null : formatMinor(amountMinor, ctx.digits),
      description,
    }
    activity.push(ctx.tenant.id, item)
  }

  function trackFreshness(state: TenantState, event: PulseEvent): boolean {
    let f = state.freshness.get(event.source)
    if (!f) {
      f = { latestEventAt: event.ts, lateEvents: 0 }
      state.freshness.set(event.source, f)
    }
    const late = event.ts < f.latestEventAt - state.settings.allowed_lateness_seconds * 1000
    if (late) f.lateEvents++
    if (event.ts > f.latestEventAt) f.latestEventAt = event.ts
    return late
  }

  /** A line's COGS: an uploaded SKU cost, else the item's cost, else the default rate of its price. */
  function lineCogs(ctx: Context, item: OrderEvent['items'][number], lineRevenue: number): number {
    const skuCost = ctx.state.settings.sku_costs[item.sku]
    if (skuCost !== undefined) return toMinor(skuCost, ctx.digits) * item.quantity
    if (item.cost !== undefined) return ctx.minor(item.cost) * item.quantity
    const [mantissa, divisor] = exactRate(ctx.state.settings.default_cogs_rate)
    return Number(divRoundHalfAway(BigInt(lineRevenue) * mantissa, divisor))
  }

  /** An order event's place, figures and lines (minor units). */
  function figuresOf(ctx: Context, event: OrderEvent): Pick<StoredOrder, 'place' | 'figures' | 'lines'> {
    const shipping = ctx.minor(event.shipping)
    return {
      place: {
        source: event.source,
        channel: event.channel,
        campaign_id: event.campaign_id ?? '',
        city: cityOf(event.location),
        store: event.store ?? '',
      },
      figures: {
        gmv: ctx.minor(event.total),
        subtotal: ctx.minor(event.subtotal),
        discounts: ctx.minor(event.discounts),
        tax: ctx.minor(event.tax),
        shipping,
        shippingCost: event.shipping_cost === undefined ? shipping : ctx.minor(event.shipping_cost),
        fees: event.fees === undefined ? 0 : ctx.minor(event.fees),
      },
      lines: event.items.map((item) => {
        const revenue = ctx.minor(item.price) * item.quantity
        return {
          sku: item.sku,
          brand: item.brand ?? '',
          category: item.category ?? '',
          revenue,
          units: item.quantity,
          cogs: lineCogs(ctx, item, revenue),
        }
      }),
    }
  }

  function isHighIntent(ctx: Context, customer: number, ts: number): boolean {
    if (customer < 0) return false
    const { intent } = ctx.state.settings
    return ctx.state.customers.intent(customer, ts, intent.half_life_hours * HOUR).score >= intent.high
  }

  /** The order counts as "ordered" in the funnel on its window's day, for its customer. */
  function followInFunnel(ctx: Context, from: StoredOrder | undefined, to: StoredOrder): void {
    const { state } = ctx
    const toDay = state.localDayOf(to.windowTs)
    if (from && from.customer === to.customer && state.localDayOf(from.windowTs) === toDay) return
    if (to.customer >= 0) funnel.add(ctx.tenant.id, toDay, 'ordered', to.customer)
    if (!from || from.customer < 0) return
    const fromDay = state.localDayOf(from.windowTs)
    for (const slot of state.orders.ordersOf(from.customer))
      if (state.localDayOf(state.orders.windowTs(slot)) === fromDay) return
    funnel.remove(ctx.tenant.id, fromDay, 'ordered', from.customer)
  }

  function applyOrder(ctx: Context, event: OrderEvent): void {
    const { state } = ctx
    const isCreation = event.type === 'order.created'
    const customerOf = () => (event.customer_id ? state.customers.intern(event.customer_id) : -1)
    const slot = state.orders.find(event.order_id)
    if (slot < 0) {
      const customer = customerOf()
      const order: StoredOrder = {
        windowTs: event.ts,
        figuresTs: event.ts,
        created: isCreation,
        highIntent: isHighIntent(ctx, customer, event.ts),
        customer,
        revisions: 1,
        ...figuresOf(ctx, event),
      }
      const added = state.orders.add(event.order_id, order)
      if (state.cancelled.find(event.order_id) < 0)
        inventory.moveOrder(ctx.tenant.id, state.localDayOf, undefined, order)
      ctx.deltas.push(...rowsOf(order))
      const waiting = state.waiting.get(event.order_id) ?? []
      state.waiting.delete(event.order_id)
      for (const a of waiting) moveAttachment(ctx.deltas, a, undefined, order)
      state.orders.attach(added, waiting)
      followInFunnel(ctx, undefined, order)
      if (customer >= 0) {
        state.customers.noteCity(customer, order.place.city)
        ctx.customers.push(event.customer_id!)
      }
      const items = unitsOf(order)
      const by = event.customer_id ? ` by ${event.customer_id}` : ' (guest)'
      feed(
        ctx,
        event.id,
        event.type,
        event.ts,
        event.customer_id || null,
        order.figures.gmv,
        `Order ${event.order_id}${by}: ${items} item${items === 1 ? '' : 's'} via ${event.channel}` +
          (order.place.city ? ` from ${order.place.city}` : ''),
      )
      return
    }
    const old = state.orders.get(slot)
    let windowTs = old.windowTs
    let created = old.created
    if (isCreation && !old.created) {
      windowTs = event.ts
      created = true
    } else if (!old.created && event.ts < old.windowTs) {
      windowTs = event.ts
    }
    // The newest edit by event time stands; on a tie the later arrival wins.
    const takesFigures = event.ts >= old.figuresTs
    const revisions = old.revisions + 1
    const next: StoredOrder = takesFigures
      ? { ...old, ...figuresOf(ctx, event), windowTs, created, revisions, figuresTs: event.ts, customer: customerOf() }
      : { ...old, windowTs, created, revisions }
    state.orders.set(slot, next)
    if (state.cancelled.find(event.order_id) < 0) inventory.moveOrder(ctx.tenant.id, state.localDayOf, old, next)
    for (const r of rowsOf(old)) ctx.deltas.push({ ...r, values: negate(r.values) })
    ctx.deltas.push(...rowsOf(next))
    for (const a of state.orders.attachments(slot)) moveAttachment(ctx.deltas, a, old, next)
    followInFunnel(ctx, old, next)
    if (next.customer >= 0) {
      state.customers.noteCity(next.customer, next.place.city)
      ctx.customers.push(state.customers.idAt(next.customer))
    }
    if (old.customer >= 0 && old.customer !== next.customer) ctx.customers.push(state.customers.idAt(old.customer))
  }

  /** Places a refund or cancellation with its order, or waits for the order to be seen. */
  function attach(ctx: Context, orderId: string, attachment: Attachment): void {
    const slot = ctx.state.orders.find(orderId)
    if (slot >= 0) ctx.state.orders.attach(slot, [attachment])
    else ctx.state.waiting.set(orderId, [...(ctx.state.waiting.get(orderId) ?? []), attachment])
    pushAttachment(ctx.deltas, attachment, slot >= 0 ? ctx.state.orders.get(slot) : undefined, 1)
  }

  function applyCancel(ctx: Context, orderId: string, ts: number, source: string, store: string): void {
    const before = ctx.state.cancelled.size
    if (ctx.state.cancelled.intern(orderId) < before) return
    const sold = ctx.state.orders.find(orderId)
    if (sold >= 0) inventory.moveOrder(ctx.tenant.id, ctx.state.localDayOf, ctx.state.orders.get(sold), undefined)
    const minute = minuteOf(ts)
    attach(ctx, orderId, { kind: 'cancel', source, minute, amount: 0, subtotal: 0, fees: 0, feeKind: '', store })
  }

  function applyRefund(ctx: Context, event: RefundEvent): void {
    const before = ctx.state.refunds.size
    if (ctx.state.refunds.intern(event.refund_id ?? `event:${event.id}`) < before) return
    const amount = ctx.minor(event.amount)
    const subtotal = event.subtotal === undefined ? amount : ctx.minor(event.subtotal)
    const fees = event.fees === undefined ? 0 : ctx.minor(event.fees)
    const minute = minuteOf(event.ts)
    const refund: Attachment = {
      kind: 'refund',
      source: event.source,
      minute,
      amount,
      subtotal,
      fees,
      feeKind: '',
      store: event.store ?? '',
    }
    if (event.items && event.items.length > 0)
      refund.items = event.items.map((i) => ({ sku: i.sku, quantity: i.quantity, subtotal: ctx.minor(i.subtotal) }))
    attach(ctx, event.order_id, refund)
    const slot = ctx.state.orders.find(event.order_id)
    const c = slot >= 0 ? ctx.state.orders.customer(slot) : -1
    const customer = c >= 0 ? ctx.state.customers.idAt(c) : null
    feed(
      ctx,
      event.id,
      event.type,
      event.ts,
      customer,
      amount,
      `Refund on order ${event.order_id}${customer ? ` for ${customer}` : ''}`,
    )
  }

  /**
   * A fee billed apart. With an order it is that order's cost: kept with the order (its answer lists
   * it) and placed like a refund, at its own minute and, for view=order_date, at the order's window.
   * Without one it belongs to no order, channel or campaign: one row at its own minute, channel ''.
   */
  function applyFee(ctx: Context, event: FeeChargedEvent): void {
    const fees = ctx.minor(event.amount)
    const minute = minuteOf(event.ts)
    if (event.order_id !== undefined) {
      const fee: Attachment = {
        kind: 'fee',
        source: event.source,
        minute,
        amount: 0,
        subtotal: 0,
        fees,
        feeKind: event.kind,
        store: event.store ?? '',
      }
      attach(ctx, event.order_id, fee)
    } else {
      const values = measuresOf({ fees, fees_od: fees })
      ctx.deltas.push({ minute, source: event.source, channel: '', store: event.store ?? '', values })
    }
    const order = event.order_id === undefined ? '' : ` on order ${event.order_id}`
    feed(ctx, event.id, event.type, event.ts, null, fees, `Fee ${event.kind}${order}`)
  }

  function applyStatement(ctx: Context, event: AdSpendEvent | MarketingCostEvent, arrival: Arrival): void {
    const isSpend = event.type === 'ad.spend'
    // The store is part of the key: two stores' reports of one campaign and period stand side by side.
    const store = event.store ?? ''
    const key = `${event.type}|${event.platform}|${event.campaign_id ?? ''}|${event.period}|${event.ts}|${store}`
    const reportedAt = event.reported_at ?? arrival.receivedAt
    const old = ctx.state.statements.get(key)
    // Later reports restate; an older report arriving late never brings back a stale figure.
    if (old && reportedAt < old.reportedAt) return
    const values = isSpend ? adMeasures(ctx, event) : measuresOf({ marketing_cost: ctx.minor(event.amount) })
    if (isSpend && event.campaign_id && event.campaign_name) nameCampaign(ctx.state, event, reportedAt)
    const delta: Delta = {
      minute: minuteOf(event.ts),
      source: event.source,
      channel: event.platform,
      campaign_id: event.campaign_id ?? '',
      brand: isSpend ? (event.brand ?? '') : '',
      store,
      values,
    }
    ctx.state.statements.set(key, { reportedAt, delta })
    if (old) ctx.deltas.push({ ...old.delta, values: negate(old.delta.values) })
    ctx.deltas.push(delta)
  }

  /** Spend and what the platform reports beside it (docs/metrics.md, "Ad metrics"). */
  function adMeasures(ctx: Context, event: AdSpendEvent): Measures {
    return measuresOf({
      ad_spend: ctx.minor(event.spend),
      ad_impressions: event.impressions ?? 0,
      ad_clicks: event.clicks ?? 0,
      ad_conversions_milli: event.conversions === undefined ? 0 : toMinor(toDecimalString(event.conversions), 3),
      ad_conversion_value: event.conversion_value === undefined ? 0 : ctx.minor(event.conversion_value),
    })
  }

  /** The newest named statement of a campaign names it: by `ts`, then `reported_at`, then arrival. */
  function nameCampaign(state: TenantState, event: AdSpendEvent, reportedAt: number): void {
    const id = event.campaign_id
    const name = event.campaign_name as string
    const old = state.campaignNames.get(id)
    if (old && (event.ts < old.ts || (event.ts === old.ts && reportedAt < old.reportedAt))) return
    state.campaignNames.set(id, { name, ts: event.ts, reportedAt })
  }

  function applyShopperEvent(
    ctx: Context,
    event: Extract<PulseEvent, { customer_id: string; category?: string }>,
  ): void {
    const { intent } = ctx.state.settings
    const weight = intent.weights[event.type as keyof typeof intent.weights] ?? 0
    const customer = ctx.state.customers.intern(event.customer_id)
    ctx.state.customers.shopperEvent(customer, event.ts, weight, event.category, intent.half_life_hours * HOUR)
    ctx.customers.push(event.customer_id)
    const day = ctx.state.localDayOf(event.ts)
    if (event.type === 'product.viewed') funnel.add(ctx.tenant.id, day, 'product_viewed', customer)
    if (event.type === 'cart.added') funnel.add(ctx.tenant.id, day, 'cart_added', customer)
    if (event.type === 'checkout.started') funnel.add(ctx.tenant.id, day, 'checkout_started', customer)
    if (event.type === 'cart.added' || event.type === 'checkout.started') {
      const what = event.type === 'cart.added' ? 'added to cart' : 'started checkout'
      feed(
        ctx,
        event.id,
        event.type,
        event.ts,
        event.customer_id,
        null,
        `${event.customer_id} ${what}${event.product_id ? ` ${event.product_id}` : ''}` +
          (event.category ? ` (${event.category})` : ''),
      )
    }
  }

  /** The state of every tenant `include` accepts, as records (stream/snapshot.ts), all copies or never changed in place. */
  function* exportRecords(include: (tenantId: string) => boolean = () => true): Generator<ProcessorRecord> {
    for (const [tenant, state] of tenants) {
      if (!include(tenant)) continue
      const freshness = new Map([...state.freshness].map(([source, f]) => [source, { ...f }]))
      const settings = { ...state.settings, sku_costs: {} }
      yield { tenant, part: 'tenant', data: { timezone: state.timezone, settings, freshness } }
      for (const chunk of chunked(Object.entries(state.settings.sku_costs)))
        yield { tenant, part: 'skuCosts', data: new Map(chunk) }
      for (const chunk of chunked(state.seen)) yield { tenant, part: 'seen', data: new Map(chunk) }
      for (const chunk of chunked(state.statements, () => STATEMENT_WEIGHT))
        yield { tenant, part: 'statements', data: new Map(chunk) }
      for (const chunk of chunked(state.campaignNames))
        yield { tenant, part: 'campaignNames', data: new Map([...chunk].map(([id, n]) => [id, { ...n }])) }
      for (const chunk of chunked(state.waiting, ([, list]) => list.length))
        yield { tenant, part: 'waiting', data: new Map(chunk) }
      for (const data of state.refunds.exportChunks()) yield { tenant, part: 'refunds', data }
      for (const data of state.cancelled.exportChunks()) yield { tenant, part: 'cancelled', data }
      for (const data of state.orders.exportChunks()) yield { tenant, part: 'orders', data }
      for (const data of state.customers.exportChunks()) yield { tenant, part: 'customers', data }
      for (const data of funnel.exportTenant(tenant)) yield { tenant, part: 'funnel', data }
      for (const data of inventory.exportTenant(tenant)) yield { tenant, part: 'inventory', data }
      const items = activity.exportTenant(tenant)
      if (items.length > 0) yield { tenant, part: 'activity', data: items }
    }
  }

  /** Applies one record of `exportRecords`; records come in the order they were exported. */
  function importRecord(stateRecord: StateRecord): void {
    const record = stateRecord as ProcessorRecord
    const { tenant } = record
    if (record.part === 'tenant') {
      const state = newState(record.data.timezone)
      // Settings added since the snapshot was written take their defaults.
      state.settings = { ...defaultSettings(), ...record.data.settings, sku_costs: {} }
      for (const [source, f] of record.data.freshness) state.freshness.set(source, { ...f })
      tenants.set(tenant, state)
      return
    }
    const state = tenants.get(tenant)
    if (!state) throw new Error(`a '${record.part}' record of tenant ${tenant} before its 'tenant' record`)
    switch (record.part) {
      case 'skuCosts':
        for (const [sku, cost] of record.data) state.settings.sku_costs[sku] = cost
        break
      case 'seen':
        for (const [id, firstSeen] of record.data) state.seen.set(id, firstSeen)
        break
      case 'statements':
        for (const [key, statement] of record.data) state.statements.set(key, statement)
        break
      case 'campaignNames':
        for (const [id, name] of record.data) state.campaignNames.set(id, { ...name })
        break
      case 'waiting':
        for (const [orderId, list] of record.data) state.waiting.set(orderId, list)
        break
      case 'refunds':
      case 'cancelled':
        state[record.part].importChunk(record.data)
        break
      case 'orders':
        state.orders.importChunk(record.data)
        break
      case 'customers':
        state.customers.importChunk(record.data)
        break
      case 'funnel':
        funnel.importTenant(tenant, record.data)
        break
      case 'inventory':
        inventory.importTenant(tenant, record.data)
        break
      case 'activity':
        activity.importTenant(tenant, record.data)
        break
      default:
        throw new Error(`not a record of the processor: '${(record as StateRecord).part}'`)
    }
  }

  /**
   * Forgets the whole state of every tenant `include` accepts (funnel and activity too): the node
   * no longer owns their partition, or a load of it failed half-way. Other tenants are untouched.
   */
  function dropTenants(include: (tenantId: string) => boolean): void {
    // Funnel and activity entries exist only for tenants with a state (apply and import make it first).
    for (const tenant of [...tenants.keys()]) {
      if (!include(tenant)) continue
      tenants.delete(tenant)
      funnel.drop(tenant)
      inventory.drop(tenant)
      activity.drop(tenant)
    }
  }

  return {
    apply,
    exportRecords,
    importRecord,
    dropTenants,
    /** Settings take effect for events processed after them (they travel in the stream too). */
    applySettings(tenant: TenantRef, settings: Settings): void {
      stateOf(tenant).settings = settings
    },
    settings: (tenant: string): Settings => peek(tenant).settings,
    /** Freshness per source for one tenant (latest event time and late count). */
    freshness(tenant: string): ReadonlyMap<string, SourceFreshness> {
      return peek(tenant).freshness
    },
    /** Whether an id was seen within the horizon of `now` (ingest's duplicate count). */
    hasSeen(tenant: string, id: string, now: number): boolean {
      const firstSeen = tenants.get(tenant)?.seen.get(id)
      return firstSeen !== undefined && now - firstSeen <= options.dedupHorizonMs
    },
    orders: (tenant: string): OrderIndex => peek(tenant).orders,
    customers: (tenant: string): CustomerStore => peek(tenant).customers,
    /** The standing ad spend and marketing cost statements, by their key (an order's share of ad spend). */
    statements: (tenant: string): ReadonlyMap<string, Statement> => peek(tenant).statements,
    /** Campaign names by campaign_id, as the newest named `ad.spend` statement of each gives it. */
    campaignNames: (tenant: string): ReadonlyMap<string, CampaignName> => peek(tenant).campaignNames,
    funnel,
    activity,
    /** Stock and cover per SKU over the 28 local days ending with the tenant's newest event day (docs/inventory.md). */
    inventory(tenant: string): InventoryView {
      const state = peek(tenant)
      let newest = Number.NEGATIVE_INFINITY
      for (const f of state.freshness.values()) newest = Math.max(newest, f.latestEventAt)
      return inventory.view(tenant, Number.isFinite(newest) ? state.localDayOf(minuteOf(newest)) : undefined)
    },
  }
}

export type Processor = ReturnType<typeof createProcessor>

const rates = new Map<number, [bigint, bigint]>()

/** A rate as an exact fraction (mantissa / divisor), cached: it is needed for every line item. */
function exactRate(rate: number): [bigint, bigint] {
  let exact = rates.get(rate)
  if (!exact) {
    // toFixed, not String: a rate like 1e-7 would print with an exponent.
    const [whole, fraction = ''] = rate.toFixed(12).replace(/0+$/, '').split('.')
    rates.set(rate, (exact = [BigInt(whole + fraction), 10n ** BigInt(fraction.length)]))
  }
  return exact
}

function negate(values: Measures): Measures {
  const out = zeroMeasures()
  addMeasures(out, values, -1)
  return out
}

const unitsOf = (o: StoredOrder) => o.lines.reduce((sum, l) => sum + l.units, 0)

/** Where an order's rows are: its window's minute and its place. */
const placeAt = (o: StoredOrder): Place => ({ minute: minuteOf(o.windowTs), ...o.place })

/** An order's lines as the split reads them: unit price = revenue ÷ units, exact (revenue is price × units). */
const brandLines = (o: StoredOrder): BrandLine[] =>
  o.lines.map((l) => ({
    sku: l.sku,
    brand: l.brand,
    price: l.units === 0 ? 0 : l.revenue / l.units,
    quantity: l.units,
  }))

/**
 * The rows an order adds at its window: one per brand it holds with that brand's share of its
 * figures (docs/brands.md), one per line item. `orders` counts the order once, on its first held
 * brand's row (code-unit order); `brand_orders` once on each. A brand whose lines weigh nothing
 * beside brands that do holds no money, but its units still count, on a row of their own.
 */
function rowsOf(o: StoredOrder): Delta[] {
  const place = placeAt(o)
  const f = o.figures
  const attributed = o.place.channel !== 'organic'
  const units = new Map<string, number>()
  for (const line of o.lines) units.set(line.brand, (units.get(line.brand) ?? 0) + line.units)
  const shares = splitOrder({
    lines: brandLines(o),
    total: f.gmv,
    subtotal: f.subtotal,
    discounts: f.discounts,
    tax: f.tax,
    shipping: f.shipping,
    shipping_cost: f.shippingCost,
    fees: f.fees,
  })
  const rows: Delta[] = shares.map((share, i) => ({
    ...place,
    brand: share.brand,
    values: measuresOf({
      gmv: share.total,
      orders: i === 0 ? 1 : 0,
      brand_orders: 1,
      units: units.get(share.brand) ?? 0,
      subtotal: share.subtotal,
      discounts: share.discounts,
      tax: share.tax,
      shipping: share.shipping,
      shipping_cost: share.shipping_cost,
      fees: share.fees,
      fees_od: share.fees,
      attributed_revenue: attributed ? share.total : 0,
      high_intent_revenue: attributed && o.highIntent ? share.total : 0,
    }),
  }))
  for (const [brand, n] of units)
    if (n !== 0 && !shares.some((share) => share.brand === brand))
      rows.push({ ...place, brand, values: measuresOf({ units: n }) })
  for (const line of o.lines)
    rows.push({
      ...place,
      brand: line.brand,
      category: line.category,
      values: measuresOf({ item_revenue: line.revenue, item_units: line.units, cogs: line.cogs }),
    })
  return rows
}

/** One brand's part of an attachment: at its own minute, and at the order's window (`*_od`). */
interface AttachmentShare {
  brand: string
  own: Measures
  od: Measures
}

/**
 * An attachment's parts per brand. Without its order (not seen yet) it is whole on brand ''. A
 * refund splits by `splitRefund` (its items' brands, the rest like the order); its fees were given
 * back, so they count against fees; `refund_count` counts it once, on the first brand it is about,
 * `brand_refund_count` on each brand it is about. A fee.charged splits like the order. A
 * cancellation counts once in `cancelled_orders` (first held brand) and once per held brand in
 * `brand_cancelled_orders`.
 */
function attachmentShares(a: Attachment, order: StoredOrder | undefined): AttachmentShare[] {
  const lines = order ? brandLines(order) : undefined
  if (a.kind === 'refund') {
    const shares = lines
      ? splitRefund({ amount: a.amount, subtotal: a.subtotal, fees: a.fees, items: a.items }, lines)
      : [{ brand: '', refund_count: 1, amount: a.amount, subtotal: a.subtotal, fees: a.fees }]
    const first = shares.find((s) => s.refund_count === 1)
    return shares.map((s) => {
      const count = s === first ? 1 : 0
      return {
        brand: s.brand,
        own: measuresOf({
          refunds: s.amount,
          refund_subtotal: s.subtotal,
          refund_count: count,
          brand_refund_count: s.refund_count,
          fees: -s.fees,
        }),
        od: measuresOf({
          refunds_od: s.amount,
          refund_subtotal_od: s.subtotal,
          refund_count_od: count,
          brand_refund_count_od: s.refund_count,
          fees_od: -s.fees,
        }),
      }
    })
  }
  if (a.kind === 'fee') {
    const shares = lines ? splitAmount(a.fees, orderWeights(lines)) : new Map([['', a.fees]])
    return [...shares].map(([brand, fees]) => ({ brand, own: measuresOf({ fees }), od: measuresOf({ fees_od: fees }) }))
  }
  const brands = lines ? [...orderWeights(lines).keys()] : ['']
  return brands.map((brand, i) => ({
    brand,
    own: measuresOf({ cancelled_orders: i === 0 ? 1 : 0, brand_cancelled_orders: 1 }),
    od: measuresOf({ cancelled_orders_od: i === 0 ? 1 : 0, brand_cancelled_orders_od: 1 }),
  }))
}

/**
 * Its own part at its own time; the order-window part at the order (or its own time while the
 * order is unknown, on channel `unknown` and the attachment's own store).
 */
function pushAttachment(deltas: Delta[], a: Attachment, order: StoredOrder | undefined, sign: 1 | -1): void {
  const p = order?.place
  const dims = p
    ? { channel: p.channel, campaign_id: p.campaign_id, city: p.city, store: p.store }
    : { channel: 'unknown', store: a.store }
  const odMinute = order ? minuteOf(order.windowTs) : a.minute
  const signed = (values: Measures) => (sign === 1 ? values : negate(values))
  for (const share of attachmentShares(a, order)) {
    deltas.push({ minute: a.minute, source: a.source, ...dims, brand: share.brand, values: signed(share.own) })
    deltas.push({ minute: odMinute, source: a.source, ...dims, brand: share.brand, values: signed(share.od) })
  }
}

/** Whether two versions of an order split alike: the same lines (SKU, brand, revenue, units) in the same order. */
function sameLines(a: StoredOrder, b: StoredOrder): boolean {
  return (
    a.lines.length === b.lines.length &&
    a.lines.every((l, i) => {
      const m = b.lines[i]
      return l.sku === m.sku && l.brand === m.brand && l.revenue === m.revenue && l.units === m.units
    })
  )
}

function samePlace(a: StoredOrder, b: StoredOrder): boolean {
  const p = a.place
  const q = b.place
  return p.channel === q.channel && p.campaign_id === q.campaign_id && p.city === q.city && p.store === q.store
}

/** Whether an attachment splits alike over two versions of its order. */
function sameSplit(a: Attachment, from: StoredOrder, to: StoredOrder): boolean {
  if (sameLines(from, to)) return true
  const before = attachmentShares(a, from)
  const after = attachmentShares(a, to)
  return (
    before.length === after.length &&
    before.every(
      (x, i) =>
        x.brand === after[i].brand &&
        x.own.every((v, k) => v === after[i].own[k]) &&
        x.od.every((v, k) => v === after[i].od[k]),
    )
  )
}

/**
 * Moves an attachment from its order as it stood (or from `unknown`) to the order as it stands:
 * nothing to move when the window's minute, the place and the attachment's split are unchanged.
 */
function moveAttachment(deltas: Delta[], a: Attachment, from: StoredOrder | undefined, to: StoredOrder): void {
  if (from && minuteOf(from.windowTs) === minuteOf(to.windowTs) && samePlace(from, to) && sameSplit(a, from, to)) return
  pushAttachment(deltas, a, from, -1)
  pushAttachment(deltas, a, to, 1)
}
