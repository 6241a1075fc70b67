-- Ad metrics (docs/metrics.md, "Ad metrics"): what platforms report beside spend, on the ad spend
-- rows, restated like it (a restatement is a negative row and a new one). Conversions are kept in
-- thousandths. Old rows read 0. rollup_hour copies rollup_minute's columns, so both get them, and
-- the view that feeds it is made again so that its SELECT * carries them.
ALTER TABLE pulse.rollup_minute
    ADD COLUMN IF NOT EXISTS ad_impressions Int64 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS ad_clicks Int64 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS ad_conversions_milli Int64 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS ad_conversion_value Int64 DEFAULT 0;

ALTER TABLE pulse.rollup_hour
    ADD COLUMN IF NOT EXISTS ad_impressions Int64 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS ad_clicks Int64 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS ad_conversions_milli Int64 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS ad_conversion_value Int64 DEFAULT 0;

DROP VIEW IF EXISTS pulse.rollup_hour_mv;

CREATE MATERIALIZED VIEW IF NOT EXISTS pulse.rollup_hour_mv TO pulse.rollup_hour AS
SELECT * REPLACE (toStartOfHour(minute) AS minute, toUInt64(0) AS flush_id)
FROM pulse.rollup_minute;
