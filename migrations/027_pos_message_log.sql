-- Per-terminal support log of the ISO 8583 terminal host (issue 6 §6, docs/pos-operations.md):
-- every message the host handled, masked (host/message-log.ts), and per-minute counts for the
-- console's rates. Rows are written in batches after the answer has gone out; retention prunes
-- by received_at.

-- terminal_id carries no foreign key on purpose: it is resolved from DE 41 at write time, and a
-- batch must never fail (and lose its neighbours) because a terminal changed under it. It is
-- null when DE 41 was missing, undecodable or named no terminal (UNKNOWN_TERMINAL).
-- outcome is host/inbound-types.ts InboundOutcome; no check constraint, so a new outcome code
-- needs no migration.
create table pos_message_log (
  id               bigint generated always as identity primary key,
  terminal_id      text,
  iso_terminal_id  text,
  conn_id          text not null,
  received_at      timestamptz not null,
  mti              text,
  response_mti     text,
  stan             text,
  action_code      text,
  outcome          text not null,
  detail           text,
  duration_ms      integer not null,
  request_bytes    integer not null,
  response_bytes   integer,
  -- iso8583/mask.ts maskMessage output, or {undecodable, length, sha256, error} for garbage:
  -- never a clear PAN, track, PIN block, MAC or key.
  request_masked   jsonb not null,
  response_masked  jsonb,
  logged_at        timestamptz not null default now()
);
create index pos_message_log_terminal on pos_message_log (terminal_id, received_at desc, id desc) where terminal_id is not null;
create index pos_message_log_received on pos_message_log (received_at);

-- Messages and errors per terminal per minute, upserted with each batch: the console's 1 h / 24 h
-- counts and rates read at most 1440 rows per terminal instead of counting the log.
-- errors = outcome other than OK / DUPLICATE (a decline is an answer, not an error).
create table pos_message_stats (
  terminal_id  text not null,
  minute       timestamptz not null,
  messages     integer not null,
  errors       integer not null,
  primary key (terminal_id, minute)
);
create index pos_message_stats_minute on pos_message_stats (minute);
