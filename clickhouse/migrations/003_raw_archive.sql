-- The raw archive (docs/connectors.md): every Shopify webhook body and every polled API page as received,
-- with its connector, tenant and receipt time, so events can be derived again after a mapping fix
-- (`npm run reprocess`). Rows arrive through the PULSE_RAW stream at least once: payload_id says
-- which rows are the same payload (readers take one per payload_id) and each insert carries a
-- deduplication token, so a retried insert adds nothing.
CREATE TABLE IF NOT EXISTS pulse.raw_archive
(
    tenant       LowCardinality(String),
    connector    LowCardinality(String),
    connector_id String,
    kind         LowCardinality(String),
    payload_id   String,
    received_at  DateTime64(3, 'UTC'),
    meta         String,
    body         String CODEC(ZSTD(3)),
    stream_seq   UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(received_at)
ORDER BY (tenant, received_at, payload_id)
SETTINGS non_replicated_deduplication_window = 1000;
