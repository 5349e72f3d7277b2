-- The exactly-once journal's per-terminal quota (host/db-replay.ts) counts a terminal's recent rows
-- on every new message: an index on (terminal, time) keeps that a range scan, not a read of all the
-- rows kept for the retention period (docs/pos-journal.md).
create index pos_exchanges_terminal_created on pos_exchanges (terminal_id, created_at);
