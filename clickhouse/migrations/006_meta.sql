-- Facts about this ClickHouse history itself. `history_id` names it: flush ids count within one
-- history, so a state snapshot (stream/checkpoints.ts) is loaded only onto the history it was taken
-- from (an embedded chDB per node is its own history; nodes sharing a server share one).
CREATE TABLE IF NOT EXISTS pulse.meta
(
    key   String,
    value String
)
ENGINE = MergeTree
ORDER BY key
