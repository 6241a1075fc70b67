-- Alerting (docs/alerts.md): every alert state change (firing, resolved) with the figures that caused
-- it, and the delivery log of outbound webhooks (one row per attempt). Both are append-only logs;
-- the current state of an alert is its newest row (argMax by recorded_at).
CREATE TABLE IF NOT EXISTS pulse.alerts
(
    tenant      LowCardinality(String),
    alert_id    String,
    rule_id     String,
    kind        LowCardinality(String),
    subject     String,
    severity    LowCardinality(String),
    state       LowCardinality(String),
    at          DateTime64(3, 'UTC'),
    fired_at    DateTime64(3, 'UTC'),
    recorded_at DateTime64(3, 'UTC'),
    message     String,
    figures     String
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(recorded_at)
ORDER BY (tenant, recorded_at, alert_id);

CREATE TABLE IF NOT EXISTS pulse.alert_deliveries
(
    tenant      LowCardinality(String),
    delivery_id String,
    alert_id    String,
    rule_id     String,
    state       LowCardinality(String),
    url         String,
    attempt     UInt16,
    status      UInt16,
    ok          UInt8,
    error       String,
    at          DateTime64(3, 'UTC')
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (tenant, at, delivery_id, attempt);
