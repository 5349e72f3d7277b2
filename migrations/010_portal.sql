-- Messaging: every message the platform sends (sign-in codes, alerts), recorded in the
-- transaction of the change that caused it and delivered afterwards by the dispatcher.
-- Recipient and text are personal data (a phone number, a one-time code): encrypted like
-- customers' fields, with the key id inside each value.
create table messages (
  id              bigint generated always as identity primary key,
  to_enc          text not null,
  template        text not null check (template ~ '^[a-z0-9_.]{1,64}$'),
  text_enc        text not null,
  status          text not null default 'pending' check (status in ('pending','sent','failed','expired')),
  attempts        int not null default 0,
  -- While pending: when the dispatcher may take it next (also its lease while a send is under way).
  next_attempt_at timestamptz not null default now(),
  -- A message that is useless after this time (a sign-in code) is not sent late.
  expires_at      timestamptz,
  last_error      text,
  sender          text,
  created_at      timestamptz not null default now(),
  sent_at         timestamptz,
  check ((status = 'sent') = (sent_at is not null))
);
create index messages_due on messages(next_attempt_at) where status = 'pending';
create index messages_created on messages(created_at);

-- Cardholder portal. The portal identity is the phone number (its blind index, the same value
-- as customers.phone_bidx): a code sent to the phone proves control of it.
create table portal_accounts (
  phone_bidx      text primary key,
  password_hash   text not null,
  password_set_at timestamptz not null default now(),
  created_at      timestamptz not null default now()
);

-- One row per code request, for known and unknown phones alike (the 60 s spacing must not tell
-- them apart). code_hash is null when no customer has the phone, so nothing can match.
create table portal_codes (
  id          bigint generated always as identity primary key,
  phone_bidx  text not null,
  code_hash   text,
  attempts    int not null default 0,
  expires_at  timestamptz not null,
  consumed_at timestamptz,
  ip          text,
  created_at  timestamptz not null default now()
);
create index portal_codes_phone on portal_codes(phone_bidx, created_at desc);

-- Wrong passwords per phone (known or not): after the limit, logins are refused until locked_until.
create table portal_login_failures (
  phone_bidx       text primary key,
  failures         int not null,
  first_failure_at timestamptz not null,
  locked_until     timestamptz
);

-- Cardholder sessions, apart from staff sessions: a token of one kind is unknown to the other.
-- Only the token's SHA-256 is stored.
create table portal_sessions (
  token_hash  text primary key,
  phone_bidx  text not null,
  -- The customer shown as "me" (the oldest customer with the phone).
  customer_id bigint not null references customers(id),
  created_at  timestamptz not null default now(),
  expires_at  timestamptz not null,
  revoked_at  timestamptz,
  ip          text
);
create index portal_sessions_phone on portal_sessions(phone_bidx);
create index portal_sessions_expires on portal_sessions(expires_at);

-- Low-balance alert per card: a message when an approved sale takes the card's available total
-- from >= low_balance to < low_balance. Only sales after updated_at count.
create table portal_card_alerts (
  card_id     bigint primary key references cards(id),
  low_balance bigint not null check (low_balance > 0 and low_balance <= 1000000000000),
  updated_at  timestamptz not null default now()
);

-- Each sale alerts at most once, however often the job looks at it.
create table portal_alerts_sent (
  sale_id     uuid primary key references sales(id),
  card_id     bigint not null references cards(id),
  low_balance bigint not null,
  message_id  bigint references messages(id) on delete set null,
  created_at  timestamptz not null default now()
);

-- How far the alert job has read the sales (it re-reads a margin before this: sales commit in
-- an order slightly different from their timestamps).
create table portal_alert_watermark (
  id      int primary key check (id = 1),
  last_at timestamptz not null
);
insert into portal_alert_watermark (id, last_at) values (1, now());
