-- Issue 4, offline terminals: the operator's whitelist (白名单) of cards with their own offline
-- floors, the hot list's history (to know what a terminal's list held at the version it names),
-- and what an offline batch answered (so an upload twice answers the same).

-- ── Whitelist, versioned like the hot list (migration 016) ─────────────────────────────────────
-- A row is kept when a card leaves the list (listed = false) so a delta can say "removed".
create table if not exists offline_whitelist (
  card_id     bigint primary key references cards(id),
  card_no     text not null,
  floor_sale  bigint not null check (floor_sale between 1 and 10000000),     -- fen per offline sale
  floor_day   bigint not null check (floor_day between 1 and 100000000),     -- fen per card per day at one terminal
  listed      boolean not null,
  -- The writing transaction's id (xid8 as bigint): versions are snapshot xmins, as for the hot list.
  changed_xid bigint not null,
  updated_by  text not null,
  updated_at  timestamptz not null default now(),
  check (floor_day >= floor_sale)
);
create index if not exists offline_whitelist_changed on offline_whitelist(changed_xid);
create index if not exists offline_whitelist_listed on offline_whitelist(card_no) where listed;

-- The oldest version a delta can be computed from; older ones get the full list.
create table if not exists offline_whitelist_floor (
  one   boolean primary key default true check (one),
  floor bigint not null
);
insert into offline_whitelist_floor (floor) values (pg_current_xact_id()::text::bigint) on conflict do nothing;

-- ── Hot-list history: every flip of a card's listing, by the transaction that made it ──────────
-- The hot list keeps only a card's current state; an offline upload must know whether the card
-- was listed at the version the terminal held. One row per (card, transaction): a transaction
-- that flips a card twice leaves its final state, the only one others ever saw.
create table if not exists hotlist_history (
  card_id     bigint not null,
  listed      boolean not null,
  changed_xid bigint not null,
  primary key (card_id, changed_xid)
);

create or replace function hotlist_history_track() returns trigger language plpgsql as $$
begin
  insert into hotlist_history (card_id, listed, changed_xid) values (new.card_id, new.listed, new.changed_xid)
  on conflict (card_id, changed_xid) do update set listed = excluded.listed;
  return null;
end $$;

drop trigger if exists hotlist_history_track on hotlist;
create trigger hotlist_history_track after insert or update on hotlist
  for each row execute function hotlist_history_track();

-- Changes before this migration are known only by their last flip.
insert into hotlist_history (card_id, listed, changed_xid)
select card_id, listed, changed_xid from hotlist on conflict do nothing;

-- Listed at version V: the last flip by a transaction older than V. Every transaction below a
-- version (a snapshot's xmin) had finished when the terminal got it, so the list it downloaded
-- showed that flip; a flip at or above V may have come later and is not held against the station.
create or replace function hotlist_listed_at(p_card_id bigint, p_version bigint) returns boolean
language sql stable as $$
  select coalesce((select h.listed from hotlist_history h
                    where h.card_id = p_card_id and h.changed_xid < p_version
                    order by h.changed_xid desc limit 1), false)
$$;

-- ── Offline batches: the answer given, for an upload repeated ──────────────────────────────────
alter table offline_batches add column if not exists station_id bigint references stations(id);
alter table offline_batches add column if not exists request_hash text;
-- [{seq, status, saleId?, forced?, liability?, flags?, code?}] in the batch's order.
alter table offline_batches add column if not exists results jsonb not null default '[]';
create index if not exists offline_batches_created on offline_batches(created_at, id);
create index if not exists offline_batches_station on offline_batches(station_id, created_at, id);
create index if not exists offline_batches_terminal on offline_batches(terminal_id, created_at, id);
