-- Personal data under PIPL (issue 7 §7): consent records and the anonymisation marker.

-- Consent, per customer and purpose, as an append-only history: granting or withdrawing adds a
-- row, so what the holder agreed to, when, in which version and through which channel stays
-- provable after they change their mind (PIPL Art. 14-15: consent can be withdrawn, and the
-- processing done before stays lawful). The current state of a purpose is its newest row.
create table privacy_consents (
  id          bigint generated always as identity primary key,
  customer_id bigint not null references customers(id),
  purpose     text not null check (purpose in ('terms','privacy_policy','marketing','location','sensitive_financial','automated_decision')),
  -- The version of the text the holder saw (e.g. '2026-01'); a new text needs a new grant.
  version     text not null check (version ~ '^[0-9A-Za-z._-]{1,32}$'),
  granted     boolean not null,
  channel     text not null check (channel in ('counter','portal','app','paper','phone')),
  -- What proves it: a signed form's archive number, a portal session, a recording id. No personal data.
  evidence    text check (length(evidence) <= 200),
  actor_id    bigint references staff_users(id),
  at          timestamptz not null default now()
);
create index privacy_consents_customer on privacy_consents(customer_id, purpose, id desc);

-- Set when the anonymisation job replaced the customer's personal fields; financial records
-- (sales, recharges, ledger, statements) are kept and still point at the row.
alter table customers add column anonymised_at timestamptz;
