-- Issue 4, stock and finder (on top of 017): a promotion can be ended early (ended_at, so its
-- planned period stays as it was announced), a stock alert keeps who resolved it with a note and
-- when it last fired while open, and the stock queries read deliveries and readings by tank and time.

alter table station_promotions
  add column if not exists ended_at timestamptz,
  add column if not exists ended_by text;
-- The finder reads the promotions of the stations it returns; a station's own are found by station.
create index if not exists station_promotions_station on station_promotions(station_id) where station_id is not null;

alter table stock_alerts
  add column if not exists updated_at timestamptz not null default now(),
  add column if not exists resolution_note text check (resolution_note is null or length(resolution_note) <= 500);
create index if not exists stock_alerts_page on stock_alerts(id) where resolved_at is null;

-- Deliveries since a reading, per tank.
create index if not exists fuel_deliveries_tank_time on fuel_deliveries(station_id, tank, delivered_at);

-- The national price rows, read by the finder for every page (the other scopes have their own indexes).
create index if not exists fuel_prices_national on fuel_prices(grade, effective_from desc, id desc) where station_id is null and province is null;
