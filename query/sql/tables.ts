// The tables and views a tenant may read with POST /v1/sql: the only list of them. Every read of
// one of these is filtered to the caller's tenant (a forced filter on chDB, a row policy on a
// ClickHouse server); anything not listed here — system tables, other databases, table
// functions — is refused before the query runs. A table added by another stage is one entry
// here; its column types come from ClickHouse itself (GET /v1/sql/tables), so only the meaning
// of columns that need one is written down.

export interface SqlTable {
  /** The name analysts write: `events`; `pulse.events` works too. */
  name: string
  /** Database and table in ClickHouse. */
  table: string
  /** The column holding the tenant id: the isolation filter is `<column> = '<tenant>'`. */
  tenantColumn: string
  description: string
  /** Columns analysts may not read, with the reason; refused by name and through `*`, left out of the catalogue. */
  hiddenColumns?: Record<string, string>
  /** Notes on columns whose meaning is not obvious from the name and type. */
  columns?: Record<string, string>
}

export const SQL_TABLES: readonly SqlTable[] = [
  {
    name: 'events',
    table: 'pulse.events',
    tenantColumn: 'tenant',
    description: 'Every accepted event, as received. Read fields with JSONExtract*(raw, ...).',
    // One sequence numbers every tenant's events: the gaps in a tenant's numbers are others' volume.
    hiddenColumns: { seq: "the stream sequence is shared by all tenants, so its gaps count other tenants' events" },
    columns: {
      tenant: 'your tenant id (always yours)',
      event_id: 'the event `id`',
      type:
        'order.created, order.updated, order.cancelled, refund.created, fee.charged, ad.spend, marketing.cost, ' +
        'product.viewed, search, cart.added, checkout.started',
      ts: 'event time, UTC',
      received_at: 'when Pulse received it, UTC',
      flush_id: 'the flush that landed it in history',
      fx: 'the exchange rate used for an event in another currency, else empty',
      raw: 'the event JSON as sent (money in major units, as sent)',
    },
  },
  {
    name: 'rollup_minute',
    table: 'pulse.rollup_minute',
    tenantColumn: 'tenant',
    description:
      'Signed deltas per event-time minute, source and channel: always sum() them. ' +
      'Money in minor units of the tenant currency; corrections are negative rows.',
    columns: {
      minute: 'start of the event-time minute, UTC',
      local_day: 'the tenant-local day of that minute',
      channel: 'the ad channel that won the order (organic, facebook, …), or the ad platform for ad_spend',
      flush_id: 'the flush that wrote the row',
      refunds_od: '*_od: the same refund/cancellation figures placed in the window of their order (view=order_date)',
      brand:
        "on rows of category '': that brand's share of the order, refund or fee; '' is the unbranded share " +
        '(before migration 009: the whole order)',
      store: "the event's store ('' when none was given)",
      brand_orders:
        'brand_*: counts once per brand an order (cancellation, refund) holds: read for one brand, never sum over ' +
        'brands; orders, cancelled_orders and refund_count count each order once',
    },
  },
  {
    name: 'customers',
    table: 'pulse.customers',
    tenantColumn: 'tenant',
    description:
      'Per-customer state as of its last change (orders, monetary in minor units, first and last order, intent). ' +
      'Rewritten on change: the row with the highest flush_id stands, so read it with FINAL or argMax(…, flush_id).',
  },
  {
    name: 'alerts',
    table: 'pulse.alerts',
    tenantColumn: 'tenant',
    description:
      'Every alert state change (firing, resolved) with the figures that caused it, as GET /v1/alerts lists them. ' +
      "An alert's current state is its newest row: argMax(state, recorded_at) by alert_id.",
    columns: {
      subject: 'the campaign or connector id for per-subject rules, else empty',
      at: 'when the state changed: the event time the window ended at (wall clock for timer rules), UTC',
      fired_at: 'when the alert first fired, UTC',
      recorded_at: 'when Pulse recorded the change, UTC',
      figures: 'JSON: the window and the amounts (decimal strings) and ratios that caused the change',
    },
  },
  {
    name: 'alert_deliveries',
    table: 'pulse.alert_deliveries',
    tenantColumn: 'tenant',
    description: 'The outbound webhook delivery log: one row per attempt.',
    columns: {
      delivery_id: 'one id per alert change (the X-Pulse-Delivery header)',
      status: 'the HTTP status answered; 0 when none came or the send was refused',
      ok: '1 when delivered',
    },
  },
  // pulse.rollup_hour (migration 004) joins this list once recovery compensates orphan flushes in it.
]

const byName = new Map<string, SqlTable>()
for (const t of SQL_TABLES) {
  byName.set(t.name, t)
  byName.set(t.table, t)
}

/** The allowed table a reference names (`events` or `pulse.events`), or undefined. */
export function allowedTable(reference: string): SqlTable | undefined {
  return byName.get(reference)
}

/** The database the short names live in: the SQL session's current database. */
export const SQL_DATABASE = 'pulse'
