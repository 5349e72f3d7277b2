create table stations (
  id                    bigint generated always as identity primary key,
  code                  text not null unique check (code ~ '^[A-Za-z0-9_-]{2,20}$'),
  name                  text not null,
  address               text not null,
  lat                   double precision not null check (lat between -90 and 90),
  lng                   double precision not null check (lng between -180 and 180),
  status                text not null default 'active' check (status in ('active','closed')),
  settlement_account_id bigint not null references ledger_accounts(id),
  created_at            timestamptz not null default now()
);

create table terminals (
  id          text primary key check (id ~ '^T[0-9]{8}$'),
  station_id  bigint not null references stations(id),
  secret_enc  text not null,             -- encrypted with the data key; needed to verify HMACs
  status      text not null default 'active' check (status in ('active','disabled')),
  created_at  timestamptz not null default now(),
  last_seen_at timestamptz
);
create index terminals_station on terminals(station_id);
create sequence terminal_no_seq;

-- Nonces seen inside the replay window; older rows are pruned.
create table terminal_nonces (
  terminal_id text not null,
  nonce       text not null,
  seen_at     timestamptz not null default now(),
  primary key (terminal_id, nonce)
);
create index terminal_nonces_seen on terminal_nonces(seen_at);
