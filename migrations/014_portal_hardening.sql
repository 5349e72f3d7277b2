-- Portal hardening: limits per (phone, client address) so that nobody without the phone can lock
-- its holder out, codes bound to the request that got them, and low-balance alerts that belong to
-- the phone that set them (a fleet owner and a driver can both watch a sub card).

-- The code request's challenge (SHA-256 of a random token handed back to the requester): a code is
-- checked only with its own challenge, or — without one — as the newest code requested from the
-- same address. Either way nobody can replace or use up a code someone else requested.
alter table portal_codes add column challenge_hash text;
create unique index portal_codes_challenge on portal_codes(challenge_hash) where challenge_hash is not null;

-- Wrong passwords, one row each, so they can be counted per (phone, address) and per phone over
-- different windows. The old per-phone counters are at most a lock period old: they are dropped.
drop table portal_login_failures;
create table portal_login_failures (
  id         bigint generated always as identity primary key,
  phone_bidx text not null,
  -- The client address ('' when unknown).
  ip         text not null,
  at         timestamptz not null default now()
);
create index portal_login_failures_phone on portal_login_failures(phone_bidx, at desc);
create index portal_login_failures_at on portal_login_failures(at);

-- An alert is one phone's threshold on one card: the phone that set it gets the message. Existing
-- alerts go on to the card customer's phone, as before.
alter table portal_card_alerts add column phone_bidx text;
update portal_card_alerts a set phone_bidx = cu.phone_bidx
  from cards c join customers cu on cu.id = c.customer_id where c.id = a.card_id;
delete from portal_card_alerts where phone_bidx is null;
alter table portal_card_alerts alter column phone_bidx set not null;
alter table portal_card_alerts drop constraint portal_card_alerts_pkey;
alter table portal_card_alerts add primary key (card_id, phone_bidx);

-- One alert per sale and phone, ever.
alter table portal_alerts_sent add column phone_bidx text;
update portal_alerts_sent x set phone_bidx = cu.phone_bidx
  from cards c join customers cu on cu.id = c.customer_id where c.id = x.card_id;
update portal_alerts_sent set phone_bidx = '' where phone_bidx is null;
alter table portal_alerts_sent alter column phone_bidx set not null;
alter table portal_alerts_sent drop constraint portal_alerts_sent_pkey;
alter table portal_alerts_sent add primary key (sale_id, phone_bidx);
