-- Customers: personal data encrypted at rest (AES-256-GCM, key id inside each value);
-- phone and ID number searchable through keyed blind indexes.
create table customers (
  id               bigint generated always as identity primary key,
  kind             text not null default 'individual' check (kind in ('individual')),
  name_enc         text not null,
  phone_enc        text not null,
  phone_bidx       text not null,
  id_type          text not null check (id_type in ('resident_id','passport','hk_macau_permit','taiwan_permit','foreign_permanent','other')),
  id_number_enc    text not null,
  id_number_bidx   text not null,
  real_name_status text not null default 'unverified' check (real_name_status in ('unverified','verified','rejected')),
  key_id           text not null,
  created_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now(),
  unique (id_type, id_number_bidx)
);
create index customers_phone on customers(phone_bidx);

-- 卡账分离: a card is an access token; money lives in ledger accounts linked to it.
create table cards (
  id                 bigint generated always as identity primary key,
  card_no            text not null unique check (card_no ~ '^[0-9]{19}$'),
  kind               text not null check (kind in ('personal','anonymous','master','sub')),
  customer_id        bigint references customers(id),
  master_card_id     bigint references cards(id),
  status             text not null check (status in ('pending','active','frozen','lost','replaced','closed')),
  -- The state a frozen or lost card returns to when unfrozen or the loss is cancelled.
  resume_status      text check (resume_status in ('pending','active','frozen')),
  pin_verify         text not null,
  -- The card number the PIN's verify value was computed with; a replacement card keeps its
  -- predecessor's PIN, so it inherits both until the PIN is next set.
  pin_subject        text not null,
  pin_failures       int not null default 0,
  pin_locked_until   timestamptz,          -- 'infinity' when locked until a staff reset
  own_account_id     bigint references ledger_accounts(id),
  shared_balance     boolean not null default false,  -- sub card: may also spend the master's reserve
  replaced_by        bigint references cards(id),
  replaces           bigint references cards(id),
  lost_at            timestamptz,
  closed_at          timestamptz,
  -- Limits (null = no limit). Amounts in fen, volumes in ml.
  limit_sale_amount  bigint, limit_day_amount bigint, limit_week_amount bigint, limit_month_amount bigint,
  limit_sale_volume  bigint, limit_day_volume bigint, limit_week_volume bigint, limit_month_volume bigint,
  limit_day_fills    int, limit_week_fills int, limit_month_fills int,
  min_fill_interval_s int,
  allowed_grades     text[],               -- null = every grade
  last_sale_at       timestamptz,
  created_at         timestamptz not null default now(),
  updated_at         timestamptz not null default now(),
  check (kind <> 'sub' or master_card_id is not null),
  check (kind = 'sub' or master_card_id is null),
  check (kind = 'anonymous' or kind = 'sub' or customer_id is not null)
);
create index cards_customer on cards(customer_id);
create index cards_master on cards(master_card_id);

-- One card, several accounts, spent in priority order (一卡多户).
create table card_accounts (
  card_id    bigint not null references cards(id),
  account_id bigint not null references ledger_accounts(id),
  priority   int not null check (priority between 1 and 9),
  primary key (card_id, account_id),
  unique (card_id, priority)
);
create index card_accounts_account on card_accounts(account_id);

-- Per-card, per-business-day usage; week and month limits sum at most 31 rows.
create table card_usage_daily (
  card_id   bigint not null references cards(id),
  day       date not null,
  amount    bigint not null default 0,
  volume_ml bigint not null default 0,
  fills     int not null default 0,
  primary key (card_id, day)
);

create table card_events (
  id         bigint generated always as identity primary key,
  card_id    bigint not null references cards(id),
  action     text not null,
  from_status text,
  to_status  text not null,
  details    jsonb not null default '{}',
  created_at timestamptz not null default now()
);
create index card_events_card on card_events(card_id, id);
