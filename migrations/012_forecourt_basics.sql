-- Forecourt basics: fuel grades, each station's nozzles and their grades, and unit prices.
-- Issue 4 adds pumps, regions, scheduled price changes and stock on top of these tables.

create table fuel_grades (
  code       text primary key check (code ~ '^[A-Za-z0-9#+_-]{1,16}$'),
  name_zh    text not null,
  name_en    text not null,
  kind       text not null check (kind in ('petrol','diesel')),
  sort_order int not null default 100,
  created_at timestamptz not null default now()
);
insert into fuel_grades (code, name_zh, name_en, kind, sort_order) values
  ('92#',  '92号汽油',   'Petrol 92',   'petrol', 10),
  ('95#',  '95号汽油',   'Petrol 95',   'petrol', 20),
  ('98#',  '98号汽油',   'Petrol 98',   'petrol', 30),
  ('0#',   '0号柴油',    'Diesel 0',    'diesel', 40),
  ('-10#', '-10号柴油',  'Diesel -10',  'diesel', 50);

-- A nozzle (油枪) is numbered per station, as the pump display and the sale request show it.
create table station_nozzles (
  station_id bigint not null references stations(id),
  nozzle     int not null check (nozzle between 1 and 99),
  grade      text not null references fuel_grades(code),
  primary key (station_id, nozzle)
);
create index station_nozzles_grade on station_nozzles(grade);

-- Prices in fen per litre. A row is never changed: a new price is a new row, so the history is
-- the table. The price in force for a station and grade is the latest row with
-- effective_from <= now, a station's own row (override) before the national one (station_id null).
create table fuel_prices (
  id             bigint generated always as identity primary key,
  grade          text not null references fuel_grades(code),
  station_id     bigint references stations(id),
  unit_price     int not null check (unit_price between 1 and 99999),
  effective_from timestamptz not null,
  created_by     text not null,
  created_by_id  bigint,
  created_at     timestamptz not null default now()
);
create index fuel_prices_in_force on fuel_prices(grade, station_id, effective_from desc, id desc);
create index fuel_prices_station on fuel_prices(station_id) where station_id is not null;
