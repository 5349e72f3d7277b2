-- The ISO 8583 terminal host (issue 6, docs/pos-gateway.md): per-terminal wire and key profile,
-- the key store's sealed keys, and the exactly-once journal of answered requests.

-- A platform terminal that speaks ISO 8583. DE 41 is 8 characters, our ids are 9 ('T' + 8 digits):
-- iso_terminal_id is what the terminal sends in DE 41 (the 8 digits by default, set at the key ceremony).
create table pos_terminals (
  terminal_id      text primary key references terminals(id),
  iso_terminal_id  text not null unique check (iso_terminal_id ~ '^[ -~]{8}$'),
  framing          text not null default 'auto' check (framing in ('binary2','ascii4','auto')),
  mac_algorithm    text not null,
  pin_format       smallint not null check (pin_format in (0, 4)),
  key_algorithm    text not null check (key_algorithm in ('tdes','aes','sm4')),
  enabled          boolean not null default true,
  -- Session state (sign-on 801 / sign-off 802); key versions are what the last sign-on or key change delivered.
  signed_on        boolean not null default false,
  signed_on_at     timestamptz,
  signed_off_at    timestamptz,
  tak_version      integer,
  tpk_version      integer,
  last_message_at  timestamptz,
  created_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now()
);

-- The software key store's entries, sealed (AES-256-GCM under a KEK derived from the data key
-- kek_id names). Never a clear key: the row is exactly what SoftwareKeyStore.exportState() yields.
create table pos_keys (
  ref         text primary key,
  kek_id      text not null,
  sealed      jsonb not null,
  updated_at  timestamptz not null default now()
);

-- Exactly-once journal (host/replay.ts ReplayGuard): one row per terminal + STAN (DE 11) + local
-- time (DE 12). in_progress while the request is handled; done with the answer's bytes, which a
-- repeat gets again byte for byte. message_class is the MTI with the repeat digit folded (1221 → 1220):
-- the same STAN and time under another class is a different request, hence a conflict (913).
create table pos_exchanges (
  terminal_id    text not null,
  stan           text not null,
  local_time     text not null,
  message_class  text not null,
  fingerprint    text not null,
  status         text not null check (status in ('in_progress','done')),
  response       bytea,
  mti            text,
  created_at     timestamptz not null default now(),
  completed_at   timestamptz,
  primary key (terminal_id, stan, local_time),
  check ((status = 'done') = (response is not null))
);
create index pos_exchanges_created on pos_exchanges(created_at);
