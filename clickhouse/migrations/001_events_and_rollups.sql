-- Every accepted event, as received, with where it came from in the stream. One INSERT of one
-- unpartitioned block per flush is atomic: this table is the record of what has landed.
CREATE TABLE IF NOT EXISTS pulse.events
(
    tenant      LowCardinality(String),
    event_id    String,
    type        LowCardinality(String),
    source      LowCardinality(String),
    ts          DateTime64(3, 'UTC'),
    received_at DateTime64(3, 'UTC'),
    seq         UInt64,
    flush_id    UInt64,
    fx          String,
    raw         String
)
ENGINE = MergeTree
ORDER BY (tenant, type, ts, event_id)
SETTINGS non_replicated_deduplication_window = 1000;

-- Signed deltas per event-time minute: a correction (an order edit, a restated ad spend) is a new
-- row that subtracts what the old figure added, so sums over any range are exact without FINAL.
-- flush_id is in the key so rows of a flush that never committed can be found and removed.
-- Order figures sit on rows with brand = category = ''; line-item figures (item_*, cogs) on rows
-- with the item's brand and category; ad spend rows carry the statement's campaign and brand.
CREATE TABLE IF NOT EXISTS pulse.rollup_minute
(
    tenant              LowCardinality(String),
    minute              DateTime('UTC'),
    local_day           Date,
    source              LowCardinality(String),
    channel             LowCardinality(String),
    campaign_id         String,
    city                LowCardinality(String),
    brand               LowCardinality(String),
    category            LowCardinality(String),
    flush_id            UInt64,
    gmv                 Int64,
    orders              Int64,
    units               Int64,
    subtotal            Int64,
    discounts           Int64,
    tax                 Int64,
    shipping            Int64,
    shipping_cost       Int64,
    attributed_revenue  Int64,
    refunds             Int64,
    refund_subtotal     Int64,
    refund_count        Int64,
    cancelled_orders    Int64,
    refunds_od          Int64,
    refund_subtotal_od  Int64,
    refund_count_od     Int64,
    cancelled_orders_od Int64,
    ad_spend            Int64,
    marketing_cost      Int64,
    item_revenue        Int64,
    item_units          Int64,
    cogs                Int64,
    high_intent_revenue Int64
)
ENGINE = MergeTree
ORDER BY (tenant, minute, source, channel, campaign_id, city, brand, category, flush_id)
SETTINGS non_replicated_deduplication_window = 1000;
