-- Per-customer state as of its last change, for analysts. Rewritten for every customer a flush
-- touches; the row with the highest flush_id stands (query with FINAL or argMax).
CREATE TABLE IF NOT EXISTS pulse.customers
(
    tenant          LowCardinality(String),
    customer_id     String,
    orders          Int64,
    monetary        Int64,
    first_order_at  Nullable(DateTime64(3, 'UTC')),
    last_order_at   Nullable(DateTime64(3, 'UTC')),
    city            String,
    shopper_events  Int64,
    -- intent_score is as of intent_at (the newest shopper event); decays by half every half-life
    intent_score    Float64,
    intent_category String,
    intent_at       Nullable(DateTime64(3, 'UTC')),
    flush_id        UInt64
)
ENGINE = ReplacingMergeTree(flush_id)
ORDER BY (tenant, customer_id)
SETTINGS non_replicated_deduplication_window = 1000;
