-- Issue 5: money in. Recharge orders over every channel (cash, bank transfer, WeChat Pay, Alipay,
-- UnionPay), the notifications the channels send, refunds, incoming bank transfers, the channels'
-- statements and their reconciliation.
--
-- Money itself still moves only in the ledger: an order is credited by a transfer from the
-- channel's clearing account (channel_clearing:<channel>) to the card's account, recorded as a
-- `recharges` row (the receipt) in the same transaction as the order's change to `credited`.

-- ── Recharges: the credit record now serves every channel and points at its order ─────────────
alter table recharges drop constraint if exists recharges_channel_check;
alter table recharges add constraint recharges_channel_check
  check (channel in ('cash','bank_transfer','wechat','alipay','unionpay'));
alter table recharges add column if not exists order_id uuid;

-- ── Recharge orders (充值订单) ───────────────────────────────────────────────────────────────────
-- One state machine whatever the channel (src/payments/orders.state.ts):
--   created → paying → paid → credited ; created/paying → closed | failed ; credited → refunded
-- `paid` without `credited` is a payment the card could not take (closed meanwhile): it waits for
-- staff (refund it, or credit it once the card can take it).
create sequence if not exists recharge_order_seq;
create table recharge_orders (
  id               uuid primary key,
  order_no         text not null unique,        -- our out_trade_no / orderId: 'P' + yyyymmdd + 11 digits
  card_id          bigint not null references cards(id),
  account_id       bigint not null references ledger_accounts(id),
  amount           bigint not null check (amount > 0),
  channel          text not null check (channel in ('cash','bank_transfer','wechat','alipay','unionpay')),
  method           text not null check (method in ('counter','transfer','native','jsapi','precreate','page','online')),
  origin           text not null check (origin in ('portal','counter','api')),
  status           text not null check (status in ('created','paying','paid','credited','closed','failed','refunded')),
  customer_id      bigint references customers(id),
  staff_id         bigint references staff_users(id),
  -- Bank transfer: the code the payer writes on the transfer (附言), e.g. 'FC7K3M9Q2A'.
  payer_code       text unique,
  -- The channel's own id of the payment: transaction_id / trade_no / queryId / bank transaction id.
  channel_txn_id   text,
  -- The order number the provider knows the payment by, when it is not ours: a payment found only on
  -- the statement and credited by reconciliation. Refunds and queries name it to the provider.
  channel_order_no text,
  paid_amount      bigint check (paid_amount is null or paid_amount > 0),
  paid_at          timestamptz,
  -- UnionPay clears by its settleDate (MMDD); kept to bucket the order on the channel's day.
  channel_settle_date date,
  -- What the payer needs to pay: code_url, JSAPI parameters, page URL or form, transfer instructions.
  channel_payload  jsonb not null default '{}',
  subject          text not null default '加油卡充值',
  expires_at       timestamptz not null,
  recharge_id      uuid references recharges(id),
  refunded_amount  bigint not null default 0 check (refunded_amount >= 0 and refunded_amount <= amount),
  close_reason     text,
  -- Why a paid order could not be credited, or why it failed.
  note             text,
  created_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now(),
  check ((status in ('paid','credited','refunded')) = (paid_at is not null)),
  -- A credited order has its recharge; a refunded one may not (paid → refunded: the card never had it).
  check (status <> 'credited' or recharge_id is not null)
);
create unique index recharge_orders_channel_txn on recharge_orders(channel, channel_txn_id) where channel_txn_id is not null;
create unique index recharge_orders_channel_order on recharge_orders(channel, channel_order_no) where channel_order_no is not null;
create index recharge_orders_card on recharge_orders(card_id, created_at desc);
create index recharge_orders_open on recharge_orders(expires_at) where status in ('created','paying');
create index recharge_orders_paid on recharge_orders(channel, paid_at) where paid_at is not null;
create index recharge_orders_page on recharge_orders(created_at, id);
alter table recharges add constraint recharges_order_fk foreign key (order_id) references recharge_orders(id);
create unique index recharges_order on recharges(order_id) where order_id is not null;

-- Every transition, with who or what caused it (the audit trail of an order).
create table recharge_order_events (
  id          bigint generated always as identity primary key,
  order_id    uuid not null references recharge_orders(id),
  from_status text,
  to_status   text not null,
  source      text not null check (source in ('api','portal','counter','notification','query','job','staff','reconciliation','refund','bank_match')),
  staff_id    bigint references staff_users(id),
  details     jsonb not null default '{}',
  created_at  timestamptz not null default now()
);
create index recharge_order_events_order on recharge_order_events(order_id, id);

-- ── Notifications the channels sent (every one, accepted or not) ────────────────────────────────
create table payment_notifications (
  id           bigint generated always as identity primary key,
  channel      text not null check (channel in ('wechat','alipay','unionpay')),
  kind         text check (kind in ('payment','refund')),
  received_at  timestamptz not null default now(),
  headers      jsonb not null default '{}',
  body         bytea not null,
  -- applied: changed an order or refund; duplicate: already known, nothing changed;
  -- rejected: refused (signature, stale, replay, amount, merchant, unknown order) — nothing changed.
  outcome      text not null check (outcome in ('applied','duplicate','rejected')),
  reason       text,
  order_no     text,
  refund_no    text,
  -- The channel's id of this notification (WeChat event id, Alipay notify_id, UnionPay queryId+respCode).
  notify_id    text,
  remote_addr  text
);
create index payment_notifications_received on payment_notifications(channel, received_at desc);
create index payment_notifications_order on payment_notifications(order_no) where order_no is not null;
create index payment_notifications_notify_id on payment_notifications(channel, notify_id) where notify_id is not null;

-- ── Refunds (退款): of a recharge, to its channel; of a closed card's balance (销户退资) ──────────
-- Ledger: a recharge refund moves the amount from the card's account to refunds_payable:recharge
-- when requested; the channel's confirmation moves it on to the channel's clearing account; a
-- failure moves it back to the card. A card-close payout starts from refunds_payable:card_close
-- (the card close already moved the balance there) and ends in the channel's clearing account.
create sequence if not exists payment_refund_seq;
create table payment_refunds (
  id                 uuid primary key,
  refund_no          text not null unique,      -- our out_refund_no / out_request_no: 'F' + yyyymmdd + 11 digits
  kind               text not null check (kind in ('recharge','card_close')),
  order_id           uuid references recharge_orders(id),
  card_refund_id     uuid references card_refunds(id),
  card_id            bigint not null references cards(id),
  account_id         bigint not null references ledger_accounts(id),
  channel            text not null check (channel in ('cash','bank_transfer','wechat','alipay','unionpay')),
  amount             bigint not null check (amount > 0),
  status             text not null check (status in ('requested','processing','succeeded','failed')),
  channel_refund_id  text,
  reason             text,
  failure_reason     text,
  -- Bank transfer payouts: where finance sends the money (payee account encrypted; masked copy shown).
  payee              jsonb,
  hold_transfer_id   uuid references ledger_transfers(id),
  settle_transfer_id uuid references ledger_transfers(id),
  staff_id           bigint references staff_users(id),
  customer_id        bigint references customers(id),
  completed_at       timestamptz,
  created_at         timestamptz not null default now(),
  updated_at         timestamptz not null default now(),
  check ((kind = 'recharge') = (order_id is not null)),
  check ((kind = 'card_close') = (card_refund_id is not null)),
  check ((status in ('succeeded','failed')) = (completed_at is not null))
);
create unique index payment_refunds_channel_id on payment_refunds(channel, channel_refund_id) where channel_refund_id is not null;
create index payment_refunds_order on payment_refunds(order_id) where order_id is not null;
create index payment_refunds_card_refund on payment_refunds(card_refund_id) where card_refund_id is not null;
create index payment_refunds_open on payment_refunds(status, created_at) where status in ('requested','processing');
create index payment_refunds_page on payment_refunds(created_at, id);

create table payment_refund_events (
  id          bigint generated always as identity primary key,
  refund_id   uuid not null references payment_refunds(id),
  from_status text,
  to_status   text not null,
  source      text not null check (source in ('api','portal','staff','notification','query','job','reconciliation')),
  staff_id    bigint references staff_users(id),
  details     jsonb not null default '{}',
  created_at  timestamptz not null default now()
);
create index payment_refund_events_refund on payment_refund_events(refund_id, id);

-- Money a channel holds that reconciliation wrote off (booked as the programme's, not a card's): the
-- payment may never be credited afterwards, however it turns up again (notification, query, match).
create table payment_write_offs (
  id             bigint generated always as identity primary key,
  channel        text not null check (channel in ('cash','bank_transfer','wechat','alipay','unionpay')),
  channel_txn_id text not null,
  amount         bigint not null check (amount > 0),
  recon_item_id  bigint,
  note           text,
  staff_id       bigint references staff_users(id),
  created_at     timestamptz not null default now(),
  unique (channel, channel_txn_id)
);

-- ── Incoming bank transfers (入账流水), entered or imported by finance ────────────────────────────
create table bank_transfers_in (
  id             bigint generated always as identity primary key,
  bank_txn_id    text not null unique,          -- the bank's transaction reference
  value_date     date not null,
  amount         bigint not null check (amount > 0),
  payer_name     text,
  payer_account  text,                           -- masked (first 4, last 4)
  memo           text,                           -- 附言: where the payer writes the order's payer code
  status         text not null check (status in ('unmatched','matched','ignored','returned')),
  order_id       uuid references recharge_orders(id),
  statement_id   bigint,                         -- the bank statement it came in (null: entered by hand)
  staff_id       bigint references staff_users(id),
  note           text,
  created_at     timestamptz not null default now(),
  updated_at     timestamptz not null default now(),
  check ((status = 'matched') = (order_id is not null))
);
create unique index bank_transfers_in_order on bank_transfers_in(order_id) where order_id is not null;
create index bank_transfers_in_open on bank_transfers_in(status, value_date) where status = 'unmatched';

-- ── Channel statements (对账单) and their lines ───────────────────────────────────────────────────
create table channel_statements (
  id             bigint generated always as identity primary key,
  channel        text not null check (channel in ('wechat','alipay','unionpay','bank_transfer')),
  bill_date      date not null,                  -- the channel's business day (Asia/Shanghai)
  source         text not null check (source in ('job','import')),
  file_name      text not null,
  sha256         text not null,
  size_bytes     integer not null,
  content        bytea not null,                 -- the file exactly as received (audit)
  status         text not null check (status in ('accepted','rejected')),
  rejection      text,                           -- RECON_FILE_* code when rejected
  line_count     integer not null default 0,
  payment_count  integer not null default 0,
  payment_total  bigint not null default 0,      -- fen
  refund_count   integer not null default 0,
  refund_total   bigint not null default 0,      -- fen, positive
  fee_total_mfen bigint not null default 0,      -- fees in thousandths of a fen (WeChat gives 5 decimals of a yuan)
  staff_id       bigint references staff_users(id),
  created_at     timestamptz not null default now()
);
create unique index channel_statements_accepted on channel_statements(channel, bill_date) where status = 'accepted';
create index channel_statements_page on channel_statements(created_at, id);
alter table bank_transfers_in add constraint bank_transfers_in_statement_fk foreign key (statement_id) references channel_statements(id);

create table statement_lines (
  id               bigint generated always as identity primary key,
  statement_id     bigint not null references channel_statements(id),
  line_no          integer not null,
  kind             text not null check (kind in ('payment','refund')),
  channel_txn_id   text,
  order_no         text,
  refund_no        text,
  channel_refund_id text,
  amount           bigint not null check (amount >= 0),   -- fen, positive for refunds too
  fee_mfen         bigint not null default 0,
  status           text not null,                          -- the channel's word: SUCCESS, REFUND, 交易, 退款, 00 …
  occurred_at      timestamptz,
  raw              text not null,
  unique (statement_id, line_no)
);
create index statement_lines_order on statement_lines(order_no) where order_no is not null;
create index statement_lines_refund on statement_lines(refund_no) where refund_no is not null;

-- ── Reconciliation runs (对账批次), discrepancies (差错) and the cross-day pool ───────────────────
create table recon_runs (
  id               bigint generated always as identity primary key,
  channel          text not null check (channel in ('wechat','alipay','unionpay','bank_transfer')),
  bill_date        date not null,
  statement_id     bigint references channel_statements(id),
  status           text not null check (status in ('running','done','failed')),
  source           text not null check (source in ('job','import','staff')),
  matched_count    integer not null default 0,
  item_count       integer not null default 0,
  pending_count    integer not null default 0,
  platform_payment_total bigint not null default 0,
  platform_refund_total  bigint not null default 0,
  channel_payment_total  bigint not null default 0,
  channel_refund_total   bigint not null default 0,
  -- Net movement of the channel's clearing account on the day, from the ledger (credits to cards
  -- debit it, confirmed refunds credit it): must equal platform payments − refunds.
  ledger_clearing_net    bigint not null default 0,
  fee_total_mfen   bigint not null default 0,
  failure          text,
  staff_id         bigint references staff_users(id),
  started_at       timestamptz not null default now(),
  finished_at      timestamptz
);
create index recon_runs_day on recon_runs(channel, bill_date, id desc);

create table recon_items (
  id                bigint generated always as identity primary key,
  run_id            bigint not null references recon_runs(id),
  channel           text not null,
  bill_date         date not null,
  -- Neutral codes (see docs/reconciliation.md): CHANNEL_ONLY, PLATFORM_ONLY, AMOUNT_DIFFERS,
  -- FEE_DIFFERS, STATUS_DIFFERS, DUPLICATE, and REFUND_… for refunds.
  code              text not null,
  kind              text not null check (kind in ('payment','refund')),
  order_id          uuid references recharge_orders(id),
  refund_id         uuid references payment_refunds(id),
  statement_line_id bigint references statement_lines(id),
  channel_txn_id    text,
  order_no          text,
  refund_no         text,
  platform_amount   bigint,
  channel_amount    bigint,
  platform_status   text,
  channel_status    text,
  fee_diff_mfen     bigint,
  suggested_action  text not null check (suggested_action in ('credit_card','refund','write_off','explain','investigate')),
  status            text not null check (status in ('open','resolved')),
  resolution        text check (resolution in ('credit_card','refund','write_off','explained')),
  resolution_note   text,
  -- The money the resolution moved (a credit, a refund, a write-off), if any.
  resolution_ref    text,
  resolved_by       bigint references staff_users(id),
  resolved_at       timestamptz,
  -- One open item per discrepancy: a re-run finds the same one instead of adding another.
  dedupe_key        text not null,
  created_at        timestamptz not null default now(),
  check ((status = 'resolved') = (resolution is not null))
);
create unique index recon_items_open_key on recon_items(dedupe_key) where status = 'open';
create index recon_items_day on recon_items(channel, bill_date);
create index recon_items_open on recon_items(status, created_at) where status = 'open';

create table recon_item_events (
  id         bigint generated always as identity primary key,
  item_id    bigint not null references recon_items(id),
  action     text not null,          -- opened, seen_again, credit_card, refund, write_off, explained, note
  staff_id   bigint references staff_users(id),
  note       text,
  details    jsonb not null default '{}',
  created_at timestamptz not null default now()
);
create index recon_item_events_item on recon_item_events(item_id, id);

-- Platform records a statement did not (yet) show: absorbed when a later day's statement shows
-- them (midnight cut-over), reported as PLATFORM_ONLY once older than the pool's days.
create table recon_pending (
  id          bigint generated always as identity primary key,
  channel     text not null,
  kind        text not null check (kind in ('payment','refund')),
  order_id    uuid references recharge_orders(id),
  refund_id   uuid references payment_refunds(id),
  first_seen  date not null,
  check ((order_id is null) <> (refund_id is null))
);
create unique index recon_pending_order on recon_pending(channel, order_id) where order_id is not null;
create unique index recon_pending_refund on recon_pending(channel, refund_id) where refund_id is not null;
