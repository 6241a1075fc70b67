-- Fees (docs/metrics.md, "Fees and net profit"): the seller's own costs of orders, refunds'
-- returned fees (negative) and fees billed apart; `fees` places fee.charged and refunds by their
-- own time, `fees_od` by their order's window (view=order_date). Old rows read 0. rollup_hour
-- copies rollup_minute's columns, so both get them, and the view that feeds it is made again so
-- that its SELECT * carries them.
ALTER TABLE pulse.rollup_minute
    ADD COLUMN IF NOT EXISTS fees Int64 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS fees_od Int64 DEFAULT 0;

ALTER TABLE pulse.rollup_hour
    ADD COLUMN IF NOT EXISTS fees Int64 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS fees_od Int64 DEFAULT 0;

DROP VIEW IF EXISTS pulse.rollup_hour_mv;

CREATE MATERIALIZED VIEW IF NOT EXISTS pulse.rollup_hour_mv TO pulse.rollup_hour AS
SELECT * REPLACE (toStartOfHour(minute) AS minute, toUInt64(0) AS flush_id)
FROM pulse.rollup_minute;
