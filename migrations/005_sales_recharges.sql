create table sales (
  id             uuid primary key,
  card_id        bigint references cards(id),     -- null when the card number was unknown
  card_no_masked text not null,
  station_id     bigint not null references stations(id),
  terminal_id    text not null references terminals(id),
  nozzle         int not null,
  grade          text not null,
  volume_ml      bigint not null,
  unit_price     bigint not null,
  amount         bigint not null,
  status         text not null check (status in ('approved','declined')),
  approval_code  text,
  decline_code   text,
  transfers      jsonb not null default '[]',   -- [{transferId, accountId, amount}]
  balance_after  bigint,
  business_day   date not null,
  created_at     timestamptz not null default now(),
  check ((status = 'approved') = (approval_code is not null)),
  check ((status = 'declined') = (decline_code is not null))
);
create index sales_card on sales(card_id, created_at);
create index sales_station on sales(station_id, created_at);

create sequence recharge_receipt_seq;
create table recharges (
  id          uuid primary key,
  receipt_no  text not null unique,
  card_id     bigint not null references cards(id),
  account_id  bigint not null references ledger_accounts(id),
  amount      bigint not null check (amount > 0),
  channel     text not null check (channel in ('cash','bank_transfer')),
  reference   text,
  staff_id    bigint references staff_users(id),
  transfer_id uuid not null references ledger_transfers(id),
  balance_after bigint not null,
  created_at  timestamptz not null default now()
);
create index recharges_card on recharges(card_id, created_at);

-- Money paid back to a cardholder when a card closes.
create table card_refunds (
  id          uuid primary key,
  card_id     bigint not null references cards(id),
  account_id  bigint not null references ledger_accounts(id),
  amount      bigint not null check (amount > 0),
  method      text not null check (method in ('cash','original_channel')),
  transfer_id uuid not null references ledger_transfers(id),
  status      text not null default 'paid' check (status in ('paid','payable')),
  staff_id    bigint references staff_users(id),
  created_at  timestamptz not null default now()
);
-- A bank transfer is credited once: its bank reference may not be used twice.
create unique index recharges_bank_reference on recharges(channel, reference) where channel = 'bank_transfer';
