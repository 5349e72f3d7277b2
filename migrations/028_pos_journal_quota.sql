-- The exactly-once journal's per-terminal quota (host/db-replay.ts, docs/pos-journal.md): new
-- entries per terminal per fixed span of twice the DE 7 window, counted in one row per terminal
-- that the claim's own statement upserts. The row lock serialises one terminal's claims only, and
-- a claim stays one round trip instead of a locked count over the terminal's recent rows.
create table pos_journal_quota (
  terminal_id   text primary key,
  window_start  timestamptz not null,
  entries       integer not null
);
