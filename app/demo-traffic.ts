// Demo traffic for `npm start`: an Indian marketplace (INR, Asia/Kolkata) whose shoppers browse,
// order and ask for refunds, while ad platforms keep restating today's spend. Everything comes
// from a seeded PRNG and an injected clock, so the same seed and times give the same events.
import { type Log, silentLog } from '../common/log.ts'
import { formatMinor } from '../common/money.ts'

type RawEvent = Record<string, unknown>

export interface DemoTrafficOptions {
  /** Sends a batch of raw event objects (event JSON, `common/events.ts`) to the app; resolves when accepted. */
  send: (events: Record<string, unknown>[]) => Promise<void>
  /** Injectable clock (epoch ms) */
  now?: () => number
  /** Seeded PRNG seed so runs are reproducible */
  seed?: number
  /** Mean events per second of live traffic, default ~20 */
  rate?: number
  log?: Log
}

const SECOND = 1000
const MINUTE = 60 * SECOND
const DAY = 24 * 60 * MINUTE
// India has kept +05:30 all year since 1945, so local time is a fixed offset.
const IST_OFFSET = 330 * MINUTE

const DEFAULT_RATE = 20
const DEFAULT_SEED = 2026
const TICK_MS = SECOND
// Enough history to draw today's charts, few enough to send as one request.
const BACKFILL_EVENTS = 2_200
// While the app is unreachable, keep at most this many unsent events (the oldest go first).
const MAX_PENDING = 5_000

const GST_PERCENT = 18
const FREE_SHIPPING_ABOVE = 499_00
const SHIPPING_FEE = 40_00

// The shopper funnel: who searches, how many products they look at, and who goes on.
const SEARCH_SHARE = 0.35
const MIN_VIEWS = 1
const MAX_VIEWS = 6
const CART_SHARE = 0.3
const CHECKOUT_SHARE = 0.65
const ORDER_SHARE = 0.7
const EVENTS_PER_SESSION =
  SEARCH_SHARE + (MIN_VIEWS + MAX_VIEWS) / 2 + CART_SHARE * (1 + CHECKOUT_SHARE * (1 + ORDER_SHARE))

const GUEST_SHARE = 0.1
const MARKETPLACE_SHARE = 0.02
const LATE_SHARE = 0.02
const DISCOUNT_SHARE = 0.25
const CANCEL_SHARE = 0.015
const REFUND_SHARE = 0.04

interface Product {
  product_id: string
  sku: string
  name: string
  brand: string
  category: string
  /** paise */
  price: number
  /** paise; absent for some products so the tenant's default COGS applies */
  cost?: number
}

function product(
  name: string,
  brand: string,
  category: string,
  rupees: number,
  costPercent?: number,
): Omit<Product, 'sku'> {
  const price = rupees * 100
  return {
    product_id: name.toLowerCase().replace(/[^a-z0-9]+/g, '-'),
    name,
    brand,
    category,
    price,
    ...(costPercent !== undefined && { cost: Math.round((price * costPercent) / 100) }),
  }
}

const CATALOGUE: Product[] = [
  product('Lakme 9to5 Primer Matte Lipstick', 'lakme', 'beauty', 599, 60),
  product('Lakme Absolute Matte Melt Liquid Lip Color', 'lakme', 'beauty', 650, 58),
  product('Lakme Enrich Satin Lipstick', 'lakme', 'beauty', 380, 62),
  product('Lakme Eyeconic Kajal', 'lakme', 'beauty', 350, 55),
  product('Lakme Sun Expert SPF 50 Sunscreen', 'lakme', 'beauty', 399),
  product('Maybelline Fit Me Foundation', 'maybelline', 'beauty', 599, 62),
  product('Mamaearth Onion Hair Oil', 'mamaearth', 'beauty', 419),
  product('Nike Air Zoom Pegasus 41', 'nike', 'footwear', 11_895, 68),
  product('Nike Downshifter 13', 'nike', 'footwear', 4_295, 65),
  product('Nike Air Max SC', 'nike', 'footwear', 6_495, 66),
  product('Nike Court Vision Low', 'nike', 'footwear', 5_995),
  product('Adidas Runfalcon 3.0', 'adidas', 'footwear', 3_999, 64),
  product('Adidas Duramo SL', 'adidas', 'footwear', 4_599, 63),
  product('Puma Smash v2 Sneakers', 'puma', 'footwear', 2_999, 60),
  product('Adidas Essentials 3-Stripes T-Shirt', 'adidas', 'apparel', 1_299, 58),
  product('Adidas Own The Run Tee', 'adidas', 'apparel', 1_999, 60),
  product('Adidas Tiro 24 Training Jersey', 'adidas', 'apparel', 2_999),
  product('Nike Dri-FIT Legend T-Shirt', 'nike', 'apparel', 1_795, 60),
  product('Levis 511 Slim Fit Jeans', 'levis', 'apparel', 2_799, 55),
  product('Nivia Storm Football', 'nivia', 'sports', 799, 60),
  product('Yonex Mavis 350 Shuttlecock', 'yonex', 'sports', 1_250, 70),
  product('SG Kashmir Willow Cricket Bat', 'sg', 'sports', 2_499, 62),
  product('Nike Fundamental Yoga Mat', 'nike', 'sports', 2_495, 65),
  product('Adidas Tiro League Football', 'adidas', 'sports', 1_499),
  product('Amul Butter 100g', 'amul', 'groceries', 56, 74),
  product('Amul Butter 500g', 'amul', 'groceries', 285, 72),
  product('Amul Cheese Slices 200g', 'amul', 'groceries', 145, 70),
  product('Amul Pure Ghee 1L', 'amul', 'groceries', 650),
  product('Britannia Marie Gold 250g', 'britannia', 'groceries', 35, 70),
  product('Britannia Good Day Cashew 200g', 'britannia', 'groceries', 40, 68),
  product('Britannia NutriChoice Digestive 250g', 'britannia', 'groceries', 90, 66),
  product('Britannia Fruit Cake 250g', 'britannia', 'groceries', 120),
  product('Aashirvaad Whole Wheat Atta 5kg', 'itc', 'groceries', 285, 72),
  product('Aashirvaad Whole Wheat Atta 10kg', 'itc', 'groceries', 549, 71),
  product('Sunfeast Dark Fantasy Choco Fills 300g', 'itc', 'groceries', 99, 64),
  product('Sunfeast Yippee Noodles Pack of 12', 'itc', 'groceries', 168, 66),
  product('boAt Airdopes 141', 'boat', 'electronics', 1_299, 60),
  product('boAt Rockerz 450 Headphones', 'boat', 'electronics', 1_499, 58),
  product('boAt Stone 352 Speaker', 'boat', 'electronics', 1_799),
  product('Samsung Galaxy M15 5G', 'samsung', 'electronics', 12_999, 75),
  product('Samsung Galaxy Buds FE', 'samsung', 'electronics', 6_999, 70),
  product('Samsung Galaxy Tab S6 Lite', 'samsung', 'electronics', 24_999, 74),
  product('Redmi Note 13 5G', 'mi', 'electronics', 17_999, 74),
  product('Mi Power Bank 3i 20000mAh', 'mi', 'electronics', 2_199, 65),
].map((p, i) => ({ ...p, sku: `${p.brand.toUpperCase()}-${String(i + 1).padStart(3, '0')}` }))

// Cheap things sell more often: without this an average basket would hold a phone.
const POPULARITY = CATALOGUE.map((p): [Product, number] => [p, 1 / Math.sqrt(p.price)])

const CITIES = ['Mumbai', 'Bangalore', 'Delhi', 'Hyderabad', 'Chennai', 'Pune', 'Kolkata', 'Ahmedabad', 'Jaipur']

type Platform = 'facebook' | 'instagram' | 'google' | 'zepto'
type Channel = Platform | 'organic'

const CHANNELS: [Channel, number][] = [
  ['organic', 35],
  ['facebook', 20],
  ['instagram', 15],
  ['google', 20],
  ['zepto', 10],
]

/** Costs in paise: cpm per 1,000 impressions. */
const PLATFORMS: Record<Platform, { source: string; cpm: number; ctr: number }> = {
  facebook: { source: 'meta_ads', cpm: 120_00, ctr: 0.012 },
  instagram: { source: 'meta_ads', cpm: 150_00, ctr: 0.009 },
  google: { source: 'google_ads', cpm: 250_00, ctr: 0.035 },
  zepto: { source: 'custom', cpm: 300_00, ctr: 0.015 },
}

interface Campaign {
  id: string
  platform: Platform
  /** Only orders with this brand's items are won by the campaign, and its statements carry it. */
  brand?: string
  /** Spend per rupee of attributed revenue is 1 / roas. */
  roas: number
  /** paise per day spent whether or not anything sells */
  baseDaily: number
}

// Each platform has at least one unbranded campaign, so every paid order finds one.
const CAMPAIGNS: Campaign[] = [
  { id: 'fb_diwali_sale', platform: 'facebook', roas: 3.2, baseDaily: 3_000_00 },
  { id: 'fb_retarget_cart', platform: 'facebook', roas: 5.5, baseDaily: 1_200_00 },
  { id: 'fb_nike_running', platform: 'facebook', brand: 'nike', roas: 2.8, baseDaily: 1_500_00 },
  { id: 'ig_reels_beauty', platform: 'instagram', brand: 'lakme', roas: 2.4, baseDaily: 1_800_00 },
  { id: 'ig_adidas_originals', platform: 'instagram', brand: 'adidas', roas: 2.6, baseDaily: 1_500_00 },
  { id: 'ig_story_sale', platform: 'instagram', roas: 3.0, baseDaily: 1_000_00 },
  { id: 'g_search_brand', platform: 'google', roas: 7.5, baseDaily: 800_00 },
  { id: 'g_pmax_electronics', platform: 'google', roas: 4.0, baseDaily: 2_500_00 },
  { id: 'g_shopping_britannia', platform: 'google', brand: 'britannia', roas: 3.5, baseDaily: 500_00 },
  { id: 'zepto_banner', platform: 'zepto', roas: 2.2, baseDaily: 1_000_00 },
  { id: 'zepto_amul_sampling', platform: 'zepto', brand: 'amul', roas: 3.0, baseDaily: 600_00 },
  { id: 'zepto_itc_atta_search', platform: 'zepto', brand: 'itc', roas: 3.8, baseDaily: 600_00 },
]

// Relative traffic by hour of the day in India: quiet nights, a lunch bump, a busy evening.
const HOURLY_TRAFFIC = [3, 2, 1, 1, 1, 2, 4, 6, 8, 10, 11, 12, 13, 12, 11, 10, 10, 11, 13, 15, 17, 18, 15, 8]
const PEAK_TRAFFIC = Math.max(...HOURLY_TRAFFIC)

function startOfLocalDay(ms: number): number {
  return Math.floor((ms + IST_OFFSET) / DAY) * DAY - IST_OFFSET
}

function localIso(ms: number): string {
  return new Date(ms + IST_OFFSET).toISOString().replace('Z', '+05:30')
}

function localHour(ms: number): number {
  return new Date(ms + IST_OFFSET).getUTCHours()
}

const rupees = (paise: number): string => formatMinor(paise, 2)

/** mulberry32: tiny, fast, and good enough for demo data. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32
  }
}

interface Customer {
  id: string
  city: string
}

interface Line {
  product: Product
  quantity: number
  /** paise after the order's discount */
  net: number
}

interface Scheduled {
  at: number
  emit: () => RawEvent[]
}

/**
 * The same seed and the same calls give the same events, so tests can pin them down.
 * `rate` is the mean events per second of live ticks.
 */
export function createDemoGenerator(
  seed: number,
  rate = DEFAULT_RATE,
): {
  backfill(fromMs: number, toMs: number): Record<string, unknown>[]
  tick(nowMs: number, dtMs: number): Record<string, unknown>[]
} {
  const random = seededRandom(seed)
  const chance = (p: number): boolean => random() < p
  const int = (min: number, max: number): number => min + Math.floor(random() * (max - min + 1))
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]
  function weighted<T>(entries: readonly [T, number][]): T {
    let r = random() * entries.reduce((sum, [, w]) => sum + w, 0)
    for (const [item, w] of entries) if ((r -= w) < 0) return item
    return entries[entries.length - 1][0]
  }
  function poisson(mean: number): number {
    // Knuth's method in slices of at most 30, so exp(-mean) never underflows.
    let n = 0
    for (let left = mean; left > 0; left -= 30) {
      const limit = Math.exp(-Math.min(left, 30))
      for (let p = random(); p > limit; p *= random()) n++
    }
    return n
  }

  const customers: Customer[] = Array.from({ length: 500 }, (_, i) => ({
    id: `cust_${String(i + 1).padStart(4, '0')}`,
    city: pick(CITIES),
  }))
  // Squaring skews towards the first ids: a core of loyal customers orders again and again.
  const someCustomer = (): Customer => customers[Math.floor(random() ** 2 * customers.length)]
  const popularProduct = (): Product => weighted(POPULARITY)
  const similarProduct = (p: Product): Product => weighted(POPULARITY.filter(([q]) => q.category === p.category))

  // A sorted queue of what happens when: a shopper's later steps, refunds, late syncs.
  const queue: Scheduled[] = []
  function schedule(at: number, emit: () => RawEvent[]): void {
    let lo = 0
    let hi = queue.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (queue[mid].at <= at) lo = mid + 1
      else hi = mid
    }
    queue.splice(lo, 0, { at, emit })
  }
  function drain(until: number): RawEvent[] {
    const out: RawEvent[] = []
    while (queue.length > 0 && queue[0].at <= until) out.push(...queue.shift()!.emit())
    return out
  }

  // Ids carry the time of the generator's first call: a restart on the same data directory
  // must not have its events dropped as duplicates of the previous run's (dedup is by id).
  let run = ''
  const startRun = (ms: number): void => {
    run ||= Math.floor(ms / SECOND).toString(36)
  }
  let eventSeq = 0
  let orderSeq = 0
  let refundSeq = 0
  const base = (type: string, source: string, ts: string | number): RawEvent => ({
    id: `evt_${run}_${++eventSeq}`,
    type,
    ts,
    source,
  })

  function shopper(type: string, at: number, visitor: string, fields: RawEvent): void {
    // The storefront's JavaScript tracker stamps events in epoch milliseconds.
    schedule(at, () => [{ ...base(type, 'custom', at), customer_id: visitor, ...fields }])
  }
  const about = (p: Product): RawEvent => ({ category: p.category, product_id: p.product_id })

  function session(start: number): void {
    const customer = chance(GUEST_SHARE) ? undefined : someCustomer()
    const visitor = customer?.id ?? `guest_${int(10_000, 99_999)}`
    const channel = weighted(CHANNELS)
    let at = start
    const thinkTime = (): number => int(10, 90) * SECOND
    let p = popularProduct()
    if (chance(SEARCH_SHARE)) {
      const query = p.name.toLowerCase().split(' ').slice(0, int(2, 3)).join(' ')
      shopper('search', at, visitor, { category: p.category, query })
      at += thinkTime()
    }
    const viewed: Product[] = []
    for (let i = int(MIN_VIEWS, MAX_VIEWS); i > 0; i--) {
      shopper('product.viewed', at, visitor, about(p))
      viewed.push(p)
      at += thinkTime()
      p = chance(0.7) ? similarProduct(p) : popularProduct()
    }
    if (!chance(CART_SHARE)) return
    const carted = pick(viewed)
    shopper('cart.added', at, visitor, about(carted))
    at += thinkTime()
    if (!chance(CHECKOUT_SHARE)) return
    shopper('checkout.started', at, visitor, about(carted))
    at += thinkTime()
    if (!chance(ORDER_SHARE)) return
    const orderAt = at
    schedule(orderAt, () => order(orderAt, 'shopify', customer, channel, carted))
  }

  function marketplaceOrder(at: number): void {
    // Amazon and Walmart orders arrive through a poller, minutes after they were placed, and
    // their shoppers never browsed our storefront.
    const customer = chance(GUEST_SHARE) ? undefined : someCustomer()
    const source = chance(0.7) ? 'amazon' : 'walmart'
    schedule(at + int(1, 20) * MINUTE, () => order(at, source, customer, 'organic', popularProduct()))
  }

  function order(
    at: number,
    source: string,
    customer: Customer | undefined,
    channel: Channel,
    first: Product,
  ): RawEvent[] {
    const products = [first]
    const count = weighted<number>([
      [1, 50],
      [2, 30],
      [3, 15],
      [4, 5],
    ])
    while (products.length < count) {
      const p = popularProduct()
      if (!products.includes(p)) products.push(p)
    }
    const discountPercent = chance(DISCOUNT_SHARE) ? int(5, 20) : 0
    const lines: Line[] = products.map((p) => {
      const quantity =
        p.price > 3_000_00
          ? 1
          : weighted<number>([
              [1, 70],
              [2, 22],
              [3, 8],
            ])
      const gross = p.price * quantity
      return { product: p, quantity, net: gross - Math.round((gross * discountPercent) / 100) }
    })
    const items = lines.reduce((sum, l) => sum + l.product.price * l.quantity, 0)
    const subtotal = lines.reduce((sum, l) => sum + l.net, 0)
    const tax = Math.round((subtotal * GST_PERCENT) / 100)
    const shipping = subtotal > FREE_SHIPPING_ABOVE ? 0 : SHIPPING_FEE
    const total = subtotal + tax + shipping
    const orderId = `ord_${run}_${++orderSeq}`
    const campaign = channel === 'organic' ? undefined : campaignFor(channel, products)
    if (campaign) accrue(campaign, at, total)

    const event: RawEvent = {
      ...base('order.created', source, localIso(at)),
      order_id: orderId,
      ...(customer && { customer_id: customer.id }),
      total: rupees(total),
      subtotal: rupees(subtotal),
      discounts: rupees(items - subtotal),
      tax: rupees(tax),
      shipping: rupees(shipping),
      shipping_cost: rupees(int(35, 60) * 100 + pick([0, 50])),
      items: lines.map(({ product: p, quantity }) => ({
        sku: p.sku,
        product_id: p.product_id,
        brand: p.brand,
        category: p.category,
        quantity,
        price: rupees(p.price),
        ...(p.cost !== undefined && { cost: rupees(p.cost) }),
      })),
      channel,
      ...(campaign && { campaign_id: campaign.id }),
      location: customer?.city ?? pick(CITIES),
    }

    const refund = (refundAt: number, amount: number, merchandise: number): RawEvent => ({
      ...base('refund.created', source, localIso(refundAt)),
      order_id: orderId,
      refund_id: `rf_${run}_${++refundSeq}`,
      amount: rupees(amount),
      subtotal: rupees(merchandise),
    })
    if (chance(CANCEL_SHARE)) {
      // Most orders are prepaid (UPI, cards): a cancellation comes with a full refund.
      const cancelAt = at + int(1, 30) * MINUTE
      schedule(cancelAt, () => [
        { ...base('order.cancelled', source, localIso(cancelAt)), order_id: orderId },
        refund(cancelAt, total, subtotal),
      ])
    } else if (chance(REFUND_SHARE)) {
      const refundAt = at + int(10, 360) * MINUTE
      const line = lines.length > 1 && chance(0.5) ? pick(lines) : undefined
      // A returned line gets back its discounted price plus its GST.
      schedule(refundAt, () => [
        line
          ? refund(refundAt, line.net + Math.round((line.net * GST_PERCENT) / 100), line.net)
          : refund(refundAt, total, subtotal),
      ])
    }
    return [event]
  }

  function campaignFor(platform: Platform, products: Product[]): Campaign {
    return pick(
      CAMPAIGNS.filter((c) => c.platform === platform && (!c.brand || products.some((p) => p.brand === c.brand))),
    )
  }

  // Today's figures per campaign as the ad platform sees them; yesterday's are never restated.
  const accrued = new Map<string, { day: number; spend: number; conversions: number; value: number }>()
  function accrue(campaign: Campaign, at: number, total: number): void {
    const day = startOfLocalDay(at)
    let today = accrued.get(campaign.id)
    if (!today || today.day < day) accrued.set(campaign.id, (today = { day, spend: 0, conversions: 0, value: 0 }))
    if (today.day !== day) return // a late order from an earlier day
    today.spend += Math.round((total / campaign.roas) * (0.7 + 0.6 * random()))
    today.conversions++
    today.value += total
  }

  function statement(campaign: Campaign, at: number): RawEvent {
    const day = startOfLocalDay(at)
    const today = accrued.get(campaign.id)
    const current = today?.day === day ? today : { spend: 0, conversions: 0, value: 0 }
    const spend = Math.round((campaign.baseDaily * (at - day)) / DAY) + current.spend
    const platform = PLATFORMS[campaign.platform]
    const impressions = Math.round((spend / platform.cpm) * 1000)
    return {
      ...base('ad.spend', platform.source, localIso(day)),
      platform: campaign.platform,
      campaign_id: campaign.id,
      ...(campaign.brand && { brand: campaign.brand }),
      spend: rupees(spend),
      impressions,
      clicks: Math.round(impressions * platform.ctr),
      conversions: current.conversions,
      conversion_value: rupees(current.value),
      period: 'day',
      reported_at: localIso(at),
    }
  }

  function arrive(at: number): void {
    if (chance(MARKETPLACE_SHARE)) marketplaceOrder(at)
    else session(at)
  }

  const nextReport = new Map<string, number>()
  const scheduleNextReports = (after: number): void => {
    for (const c of CAMPAIGNS) nextReport.set(c.id, after + int(45, 75) * SECOND)
  }

  return {
    /** History over [fromMs, toMs) within one day, at a lower rate, shaped by the hour of day. */
    backfill(fromMs, toMs) {
      startRun(fromMs)
      const span = Math.max(0, toMs - fromMs)
      const sessions = poisson(Math.min(BACKFILL_EVENTS, (rate * span) / SECOND) / EVENTS_PER_SESSION)
      for (let i = 0; i < sessions; i++) {
        let at: number
        do at = fromMs + Math.floor(random() * span)
        while (random() * PEAK_TRAFFIC >= HOURLY_TRAFFIC[localHour(at)])
        arrive(at)
      }
      // Only the latest statement of the day stands, so history needs just one per campaign.
      schedule(toMs, () => CAMPAIGNS.map((c) => statement(c, toMs)))
      scheduleNextReports(toMs)
      return drain(toMs)
    },

    tick(nowMs, dtMs) {
      startRun(nowMs)
      const arrivals = poisson((rate * dtMs) / SECOND / EVENTS_PER_SESSION)
      for (let i = 0; i < arrivals; i++) arrive(chance(LATE_SHARE) ? nowMs - int(2, 180) * MINUTE : nowMs)
      // Platforms restate today's spend about once a minute, each campaign on its own beat.
      for (const c of CAMPAIGNS) {
        if (nowMs < (nextReport.get(c.id) ?? 0)) continue
        schedule(nowMs, () => [statement(c, nowMs)])
        nextReport.set(c.id, nowMs + int(45, 75) * SECOND)
      }
      return drain(nowMs)
    },
  }
}

export function startDemoTraffic(options: DemoTrafficOptions): { stop(): Promise<void> } {
  const now = options.now ?? Date.now
  const log = options.log ?? silentLog
  const rate = options.rate ?? DEFAULT_RATE
  const generator = createDemoGenerator(options.seed ?? DEFAULT_SEED, rate)
  let last = now()
  let pending = generator.backfill(startOfLocalDay(last), last)
  let announced = false
  let failing = false
  let stopped = false
  let timer: NodeJS.Timeout | undefined
  let inFlight: Promise<void> = Promise.resolve()

  async function step(): Promise<void> {
    const at = now()
    const batch = pending.concat(generator.tick(at, at - last))
    last = at
    if (batch.length === 0) return
    try {
      await options.send(batch)
    } catch (error) {
      // Resend next tick: ids are stable, so whatever the app did accept is deduplicated.
      pending = batch.slice(-MAX_PENDING)
      if (!failing) log.warn({ err: error }, 'demo traffic: send failed, retrying every second')
      failing = true
      return
    }
    pending = []
    if (failing) log.info({}, 'demo traffic: sending again')
    failing = false
    if (!announced) log.info({ events: batch.length, rate }, "demo traffic: sent today's history, now streaming")
    announced = true
  }

  const loop = (): void => {
    inFlight = step()
      .catch((error: unknown) => log.error({ err: error }, 'demo traffic failed'))
      .finally(() => {
        if (!stopped) timer = setTimeout(loop, TICK_MS)
      })
  }
  loop()

  return {
    async stop() {
      stopped = true
      clearTimeout(timer)
      await inFlight
    },
  }
}
