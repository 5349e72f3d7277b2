-- Issue 4 review fixes for offline terminals: what each terminal downloaded (so liability does not
-- rest on the version a terminal claims alone) and the whitelist's history (so a sale is judged by
-- the floors the terminal held, not today's).

-- ── Hot-list and whitelist downloads, per terminal ─────────────────────────────────────────────
-- Written when GET /api/v1/pos/hotlist or /api/v1/pos/whitelist answers; the last 50 per
-- (terminal, kind) are kept (pruned by the insert itself), plenty to cover 7 days of offline sales
-- for a terminal that polls every few minutes only while it is online.
create table if not exists terminal_list_downloads (
  id            bigserial primary key,
  terminal_id   text not null references terminals(id),
  kind          text not null check (kind in ('hotlist','whitelist')),
  version       bigint not null,
  downloaded_at timestamptz not null default now()
);
create index if not exists terminal_list_downloads_recent on terminal_list_downloads(terminal_id, kind, id desc);

-- ── Whitelist history: every change of a card's entry, by the transaction that made it ─────────
create table if not exists offline_whitelist_history (
  card_id     bigint not null,
  listed      boolean not null,
  floor_sale  bigint not null,
  floor_day   bigint not null,
  changed_xid bigint not null,
  primary key (card_id, changed_xid)
);

create or replace function offline_whitelist_history_track() returns trigger language plpgsql as $$
begin
  insert into offline_whitelist_history (card_id, listed, floor_sale, floor_day, changed_xid)
  values (new.card_id, new.listed, new.floor_sale, new.floor_day, new.changed_xid)
  on conflict (card_id, changed_xid) do update set listed = excluded.listed, floor_sale = excluded.floor_sale, floor_day = excluded.floor_day;
  return null;
end $$;

drop trigger if exists offline_whitelist_history_track on offline_whitelist;
create trigger offline_whitelist_history_track after insert or update on offline_whitelist
  for each row execute function offline_whitelist_history_track();

-- Changes before this migration are known only by their last state.
insert into offline_whitelist_history (card_id, listed, floor_sale, floor_day, changed_xid)
select card_id, listed, floor_sale, floor_day, changed_xid from offline_whitelist on conflict do nothing;
