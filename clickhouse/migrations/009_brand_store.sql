-- Brand and store (docs/brands.md). `store` is one more rollup dimension, appended to both sorting
-- keys in the ALTER that adds it (ClickHouse lets a key grow only by columns added in that same
-- ALTER), so the two keys stay alike as 004 requires (test/integration/sql-rollups.test.ts
-- compares them). Rows written before it read store ''.
--
-- The per-brand counts: an order, cancellation or refund counts once on each brand's row it holds,
-- where orders / cancelled_orders / refund_count count it once in all. Before this migration a
-- whole order sat on one row of brand '', so there an old row's per-brand count is its count:
-- the DEFAULT expressions say so for old parts (computed on read, kept by merges); every new row
-- is written with its own value.
--
-- rollup_hour copies rollup_minute's columns, so both get them, and the view that feeds it is made
-- again so that its SELECT * carries them.
ALTER TABLE pulse.rollup_minute
    ADD COLUMN IF NOT EXISTS store LowCardinality(String) AFTER category,
    ADD COLUMN IF NOT EXISTS brand_orders Int64 DEFAULT orders,
    ADD COLUMN IF NOT EXISTS brand_cancelled_orders Int64 DEFAULT cancelled_orders,
    ADD COLUMN IF NOT EXISTS brand_cancelled_orders_od Int64 DEFAULT cancelled_orders_od,
    ADD COLUMN IF NOT EXISTS brand_refund_count Int64 DEFAULT refund_count,
    ADD COLUMN IF NOT EXISTS brand_refund_count_od Int64 DEFAULT refund_count_od,
    MODIFY ORDER BY (tenant, minute, source, channel, campaign_id, city, brand, category, flush_id, store);

ALTER TABLE pulse.rollup_hour
    ADD COLUMN IF NOT EXISTS store LowCardinality(String) AFTER category,
    ADD COLUMN IF NOT EXISTS brand_orders Int64 DEFAULT orders,
    ADD COLUMN IF NOT EXISTS brand_cancelled_orders Int64 DEFAULT cancelled_orders,
    ADD COLUMN IF NOT EXISTS brand_cancelled_orders_od Int64 DEFAULT cancelled_orders_od,
    ADD COLUMN IF NOT EXISTS brand_refund_count Int64 DEFAULT refund_count,
    ADD COLUMN IF NOT EXISTS brand_refund_count_od Int64 DEFAULT refund_count_od,
    MODIFY ORDER BY (tenant, minute, local_day, source, channel, campaign_id, city, brand, category, store);

DROP VIEW IF EXISTS pulse.rollup_hour_mv;

CREATE MATERIALIZED VIEW IF NOT EXISTS pulse.rollup_hour_mv TO pulse.rollup_hour AS
SELECT * REPLACE (toStartOfHour(minute) AS minute, toUInt64(0) AS flush_id)
FROM pulse.rollup_minute;
