-- Hourly rollups for dashboards over long histories: rollup_minute's rows with the
-- minute rounded down to its UTC hour, summed by SummingMergeTree as parts merge, so whole hours
-- of any range, and 1h and 1d bins, read up to 60 times fewer rows. local_day stays in the key:
-- an hour that straddles a tenant-local midnight (18:00-19:00 UTC in Asia/Kolkata) stays two
-- rows, one per local day. Corrections are negative rows in rollup_minute, so this view stays
-- exact by inserts alone; readers still sum(), as parts may not have merged yet.
--
-- The table copies rollup_minute's columns (`minute` holds the hour; flush_id is 0). Its key must
-- be rollup_minute's key without flush_id: a dimension added there is added here in the same
-- migration (ALTER TABLE … MODIFY ORDER BY), or rows that differ only in it would be merged
-- (test/integration/sql-rollups.test.ts compares the two keys).
--
-- A retried flush insert is dropped by rollup_minute (same insert_deduplication_token) but would
-- still be pushed through the view: the flusher sets deduplicate_blocks_in_dependent_materialized_views,
-- which derives a per-view token from the insert's token, so this table needs a window too.
--
-- Orphans: rollup rows of a flush whose events never landed are deleted from rollup_minute at
-- start (clickhouse/recovery.ts), and a materialised view never sees a delete, so recovery must
-- first reconcile the hours they touch (docs/architecture.md, "Rollups"). Readers use this table once it does.
CREATE TABLE IF NOT EXISTS pulse.rollup_hour AS pulse.rollup_minute
ENGINE = SummingMergeTree
ORDER BY (tenant, minute, local_day, source, channel, campaign_id, city, brand, category)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS pulse.rollup_hour_mv TO pulse.rollup_hour AS
SELECT * REPLACE (toStartOfHour(minute) AS minute, toUInt64(0) AS flush_id)
FROM pulse.rollup_minute;

-- History from before this migration: committed flushes only (no flush runs during migrations).
-- The filter sits in a subquery: beside REPLACE (… AS flush_id) it would read the alias.
INSERT INTO pulse.rollup_hour
SELECT * REPLACE (toStartOfHour(minute) AS minute, toUInt64(0) AS flush_id)
FROM (SELECT * FROM pulse.rollup_minute WHERE flush_id <= (SELECT max(flush_id) FROM pulse.events));
