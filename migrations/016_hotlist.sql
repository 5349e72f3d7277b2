-- The hot-card list (黑名单) offline terminals download: card numbers to refuse without the host.
-- Kept by a trigger on cards, so every writer of a card's status (today's operations, and any later
-- one such as a forced offline post freezing a card) keeps it right without knowing it exists.
-- A row is written only when a card is first listed and whenever its listing flips; a card that
-- was never listed has no row. Rows are kept (listed = false) so a delta can say "removed".
create table hotlist (
  card_id     bigint primary key references cards(id),
  card_no     text not null,
  listed      boolean not null,
  -- The writing transaction's 64-bit id (xid8 as bigint). Versions are derived from the
  -- snapshot's xmin, not from a sequence: see docs/terminals.md "Offline parameters".
  changed_xid bigint not null
);
create index hotlist_changed on hotlist(changed_xid);

-- The oldest version a delta can be computed from; older ones get the full list.
create table hotlist_floor (
  one   boolean primary key default true check (one),
  floor bigint not null
);

-- Listed: the card's own status refuses it, or it is a sub card of a frozen master (the sale
-- path declines those with MASTER_CARD_FROZEN; a lost master does not suspend its sub cards online,
-- so not offline either).
create function hotlist_refresh(p_card_id bigint) returns void language plpgsql as $$
declare
  v_no  text;
  v_hot boolean;
begin
  select c.card_no, (c.status in ('lost', 'frozen', 'closed', 'replaced') or coalesce(m.status = 'frozen', false))
    into v_no, v_hot
    from cards c left join cards m on c.kind = 'sub' and m.id = c.master_card_id
   where c.id = p_card_id;
  if not found then return; end if;
  if not v_hot and not exists (select 1 from hotlist where card_id = p_card_id) then return; end if;
  insert into hotlist (card_id, card_no, listed, changed_xid)
  values (p_card_id, v_no, v_hot, pg_current_xact_id()::text::bigint)
  on conflict (card_id) do update set listed = excluded.listed, changed_xid = excluded.changed_xid
   where hotlist.listed is distinct from excluded.listed;
end $$;

create function hotlist_track() returns trigger language plpgsql as $$
begin
  -- One lock per fleet (master and its sub cards): a master's status change and a sub card's own
  -- change, committing concurrently, would each decide the sub card's listing from a snapshot
  -- without the other's change. Under this lock the second one's statements see the first's commit
  -- (READ COMMITTED: a fresh snapshot per statement). Taken before any hotlist write, so it cannot
  -- deadlock with another fleet's writer.
  perform pg_advisory_xact_lock(7302, (coalesce(new.master_card_id, new.id) % 2147483647)::int);
  perform hotlist_refresh(new.id);
  if new.kind = 'master' and tg_op = 'UPDATE' and old.status is distinct from new.status then
    perform hotlist_refresh(s.id) from cards s where s.master_card_id = new.id;
  end if;
  return null;
end $$;

create trigger cards_hotlist after insert or update of status, master_card_id on cards
  for each row execute function hotlist_track();

insert into hotlist (card_id, card_no, listed, changed_xid)
select c.id, c.card_no, true, pg_current_xact_id()::text::bigint
  from cards c left join cards m on c.kind = 'sub' and m.id = c.master_card_id
 where c.status in ('lost', 'frozen', 'closed', 'replaced') or m.status = 'frozen';

insert into hotlist_floor (floor) values (pg_current_xact_id()::text::bigint);
