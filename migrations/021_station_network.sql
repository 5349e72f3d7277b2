-- Issue 4, station network: the push channel's change signal.
-- Whatever changes what a terminal's forecourt answer says (prices, nozzles, the station's name or
-- province, grade names) notifies 'forecourt_changed' in the same transaction, so listeners hear it
-- at commit and never before. PostgreSQL folds identical notifications of one transaction into one,
-- so replacing a nozzle list row by row still sends a single signal.
-- Payload: 's:<station id>' (one station), 'p:<province>' (a province's stations), '*' (every station).

create or replace function forecourt_notify_price() returns trigger language plpgsql as $$
declare r fuel_prices;
begin
  r := case when tg_op = 'DELETE' then old else new end;
  perform pg_notify('forecourt_changed',
    case when r.station_id is not null then 's:' || r.station_id
         when r.province is not null then 'p:' || r.province
         else '*' end);
  return null;
end $$;
drop trigger if exists fuel_prices_forecourt_notify on fuel_prices;
create trigger fuel_prices_forecourt_notify after insert or delete or update on fuel_prices
  for each row execute function forecourt_notify_price();

create or replace function forecourt_notify_nozzles() returns trigger language plpgsql as $$
begin
  perform pg_notify('forecourt_changed', 's:' || (case when tg_op = 'DELETE' then old.station_id else new.station_id end));
  return null;
end $$;
drop trigger if exists station_nozzles_forecourt_notify on station_nozzles;
create trigger station_nozzles_forecourt_notify after insert or delete or update on station_nozzles
  for each row execute function forecourt_notify_nozzles();

create or replace function forecourt_notify_station() returns trigger language plpgsql as $$
begin
  if new.name is distinct from old.name or new.province is distinct from old.province or new.status is distinct from old.status then
    perform pg_notify('forecourt_changed', 's:' || new.id);
  end if;
  return null;
end $$;
drop trigger if exists stations_forecourt_notify on stations;
create trigger stations_forecourt_notify after update on stations
  for each row execute function forecourt_notify_station();

create or replace function forecourt_notify_grades() returns trigger language plpgsql as $$
begin
  perform pg_notify('forecourt_changed', '*');
  return null;
end $$;
drop trigger if exists fuel_grades_forecourt_notify on fuel_grades;
create trigger fuel_grades_forecourt_notify after update on fuel_grades
  for each statement execute function forecourt_notify_grades();

-- The terminal's store catalogue is versioned by its content (ETag); goods are listed by category and name.
create index if not exists goods_category on goods(category_id, name_zh);
