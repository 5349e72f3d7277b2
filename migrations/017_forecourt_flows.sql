-- Issue 4, the shared schema: the station network, store goods, pump authorisations (pre-auth and
-- prepay), indoor post-pay, reversals and voids, terminal shifts, offline uploads, stock and
-- promotions. Each later migration of issue 4 builds on these tables.

-- ── Station network ────────────────────────────────────────────────────────────────────────────
-- Region: province / city / district as the operator writes them (省/市/区); the province is
-- also the scope of a regional price list (fuel prices are set per province in China).
alter table stations
  add column province text not null default '' check (length(province) <= 40),
  add column city     text not null default '' check (length(city) <= 40),
  add column district text not null default '' check (length(district) <= 40),
  add column phone    text check (phone is null or phone ~ '^[0-9+() -]{3,30}$'),
  -- {"always": true} or {"always": false, "weekly": [{"day": 1..7 (ISO, Monday = 1), "open": "HH:MM", "close": "HH:MM"}]}
  -- in the operator's time zone; close < open means the station closes after midnight.
  add column opening_hours jsonb not null default '{"always": true}',
  add column services text[] not null default '{}'
    check (services <@ array['store','car_wash','toilet','ev_charging','air','restaurant','atm','lpg']::text[]);
create index stations_province on stations(province) where province <> '';
-- The finder's box search (no PostGIS): a btree on latitude with longitude as the second key.
create index stations_lat_lng on stations(lat, lng) where status = 'active';

-- Pumps (加油机) group nozzles. A nozzle's number stays unique per station (as sales show it).
create table station_pumps (
  station_id bigint not null references stations(id),
  pump       int not null check (pump between 1 and 99),
  name       text not null default '' check (length(name) <= 40),
  primary key (station_id, pump)
);
alter table station_nozzles add column pump int check (pump between 1 and 99);

-- Grades the operator adds (LPG, CNG, AdBlue, E92 …).
alter table fuel_grades drop constraint fuel_grades_kind_check;
alter table fuel_grades add constraint fuel_grades_kind_check check (kind in ('petrol','diesel','gas','other'));
alter table fuel_grades add column active boolean not null default true;

-- Regional price lists: a price row is national (both null), a province's, or a station's own.
-- In force for a station: its own, else its province's, else the national one.
alter table fuel_prices add column province text check (province is null or length(province) between 1 and 40);
alter table fuel_prices add constraint fuel_prices_one_scope check (station_id is null or province is null);
create index fuel_prices_province on fuel_prices(grade, province, effective_from desc, id desc) where province is not null;

-- ── Store goods (便利店商品) ───────────────────────────────────────────────────────────────────
create table goods_categories (
  id         bigint generated always as identity primary key,
  code       text not null unique check (code ~ '^[A-Za-z0-9_-]{1,20}$'),
  name_zh    text not null check (length(name_zh) between 1 and 40),
  name_en    text not null check (length(name_en) between 1 and 60),
  created_at timestamptz not null default now()
);
create table goods (
  id          bigint generated always as identity primary key,
  sku         text not null unique check (sku ~ '^[A-Za-z0-9_-]{1,32}$'),
  category_id bigint not null references goods_categories(id),
  name_zh     text not null check (length(name_zh) between 1 and 60),
  name_en     text not null check (length(name_en) between 1 and 80),
  unit_price  bigint not null check (unit_price between 1 and 10000000),   -- fen per unit
  active      boolean not null default true,
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now()
);
-- A fleet card restricted to fuel: store goods are declined (GOODS_NOT_ALLOWED).
alter table cards add column fuel_only boolean not null default false;

-- ── Sales: one table for every sale, whatever its flow ─────────────────────────────────────────
-- A store-only sale has no fuel part: grade, nozzle, volume and unit price are null then.
alter table sales alter column grade drop not null,
                  alter column nozzle drop not null,
                  alter column volume_ml drop not null,
                  alter column unit_price drop not null;
alter table sales
  -- How the sale came: online (one request), completion (of a pump authorisation), postpay (a pump
  -- sale paid at the counter), offline (uploaded by the terminal after it approved it alone).
  add column flow text not null default 'online' check (flow in ('online','completion','postpay','offline')),
  -- The terminal's own reference: its Idempotency-Key for online requests, the sequence number for
  -- offline ones. A reversal names the original by it.
  add column terminal_ref text,
  add column authorisation_id uuid,
  add column pump_sale_id uuid,
  -- Store lines: [{sku, nameZh, nameEn, quantity, unitPrice, amount}]; goods_amount is their sum.
  add column items jsonb not null default '[]',
  add column goods_amount bigint not null default 0 check (goods_amount >= 0),
  -- Posted past the balance (offline upload, completion after expiry): arrears recorded, flagged.
  add column forced boolean not null default false,
  -- Why the sale needs a look: completed_after_expiry, offline_overdraft, offline_hot_card …
  add column flags text[] not null default '{}',
  -- Who bears the loss: the programme, or the station (an offline sale on a card its hot list held).
  add column liability text not null default 'programme' check (liability in ('programme','station')),
  add column shift_id bigint,
  add column offline_at timestamptz,            -- when an offline sale happened at the terminal
  add column reversed_at timestamptz;
alter table sales drop constraint sales_status_check;
alter table sales add constraint sales_status_check check (status in ('approved','declined','reversed','voided'));
alter table sales drop constraint sales_check;     -- (status = 'approved') = (approval_code is not null)
alter table sales add constraint sales_approval_code_check check ((status in ('approved','reversed','voided')) = (approval_code is not null));
alter table sales add constraint sales_fuel_part_check check (
  (grade is null) = (volume_ml is null) and (grade is null) = (unit_price is null) and (grade is not null or jsonb_array_length(items) > 0));
create unique index sales_terminal_ref on sales(terminal_id, terminal_ref) where terminal_ref is not null;
create index sales_shift on sales(shift_id) where shift_id is not null;
create index sales_flagged on sales(created_at) where flags <> '{}';

-- ── Pump authorisations: pre-authorise then complete (插卡即授权) and prepay (先付后加) ─────────
-- A hold on the card's accounts, tied to the pump and nozzle it unlocked. Resolved exactly once:
-- completed (the actual amount posted, the rest released), reversed (released), or expired
-- (released by the expiry job). A completion after expiry is a forced sale ('forced').
create table pump_authorisations (
  id               uuid primary key,
  terminal_id      text not null references terminals(id),
  terminal_ref     text not null,
  station_id       bigint not null references stations(id),
  pump             int,
  nozzle           int not null check (nozzle between 1 and 99),
  grade            text references fuel_grades(code),
  card_id          bigint not null references cards(id),
  card_no_masked   text not null,
  mode             text not null check (mode in ('preauth','prepay')),
  requested_amount bigint not null check (requested_amount > 0),
  held_amount      bigint not null check (held_amount > 0 and held_amount <= requested_amount),
  -- [{transferId (the ledger pending transfer), accountId, amount}] in the card's priority order
  holds            jsonb not null,
  status           text not null check (status in ('held','completed','reversed','expired','forced')),
  approval_code    text not null,
  expires_at       timestamptz not null,
  sale_id          uuid references sales(id),
  business_day     date not null,
  shift_id         bigint,
  created_at       timestamptz not null default now(),
  resolved_at      timestamptz,
  unique (terminal_id, terminal_ref),
  check ((status = 'held') = (resolved_at is null))
);
-- One open authorisation per nozzle: a nozzle cannot be unlocked twice.
create unique index pump_authorisations_open_nozzle on pump_authorisations(station_id, nozzle) where status = 'held';
create index pump_authorisations_due on pump_authorisations(expires_at) where status = 'held';
create index pump_authorisations_card on pump_authorisations(card_id, created_at);
alter table sales add constraint sales_authorisation_fk foreign key (authorisation_id) references pump_authorisations(id);
create unique index sales_one_completion on sales(authorisation_id) where authorisation_id is not null;

-- ── Indoor post-pay (先加后付): the pump's record of a fill not yet paid ─────────────────────────
create table pump_sales (
  id           uuid primary key,
  station_id   bigint not null references stations(id),
  terminal_id  text not null references terminals(id),   -- the terminal (or forecourt controller) that reported it
  terminal_ref text not null,
  pump         int,
  nozzle       int not null check (nozzle between 1 and 99),
  grade        text not null references fuel_grades(code),
  volume_ml    bigint not null check (volume_ml > 0),
  unit_price   bigint not null check (unit_price > 0),
  amount       bigint not null check (amount > 0),
  -- unpaid → paid (by card: sale_id) | paid_other (cash or another tender, set by the cashier) | abandoned (drive-off)
  status       text not null default 'unpaid' check (status in ('unpaid','paid','paid_other','abandoned')),
  sale_id      uuid references sales(id),
  resolved_by  text,
  created_at   timestamptz not null default now(),
  resolved_at  timestamptz,
  unique (terminal_id, terminal_ref),
  check ((status = 'paid') = (sale_id is not null))
);
create index pump_sales_unpaid on pump_sales(station_id, created_at) where status = 'unpaid';
alter table sales add constraint sales_pump_sale_fk foreign key (pump_sale_id) references pump_sales(id);
create unique index sales_one_payment_per_pump_sale on sales(pump_sale_id) where pump_sale_id is not null and status in ('approved','reversed','voided');

-- ── Reversals (冲正) and voids (撤销) ───────────────────────────────────────────────────────────
-- One row per original, whatever arrives first: a reversal for an original never seen is kept
-- (target 'none') so that the late original is refused.
create table sale_reversals (
  id               uuid primary key,
  terminal_id      text not null references terminals(id),
  original_ref     text not null,
  kind             text not null check (kind in ('reversal','void')),
  reason           text not null check (reason in ('timeout','customer_cancel','pump_failure','bad_response','cashier_void','other')),
  target           text not null check (target in ('sale','authorisation','none')),
  sale_id          uuid references sales(id),
  authorisation_id uuid references pump_authorisations(id),
  staff            text,                     -- the cashier who voided (from the terminal's request)
  amount           bigint not null default 0, -- money given back
  created_at       timestamptz not null default now(),
  unique (terminal_id, original_ref)
);
create unique index sale_reversals_sale on sale_reversals(sale_id) where sale_id is not null;
create unique index sale_reversals_authorisation on sale_reversals(authorisation_id) where authorisation_id is not null;

-- ── Terminal shifts (班次) ──────────────────────────────────────────────────────────────────────
-- A terminal always has one open shift (opened by its first transaction after a close). Every sale
-- and authorisation records the shift it happened in; the sale path takes the open shift's row
-- FOR SHARE, and closing takes it FOR UPDATE, so a close waits for in-flight sales and none
-- slips into a closed shift.
create table terminal_shifts (
  id           bigint generated always as identity primary key,
  terminal_id  text not null references terminals(id),
  station_id   bigint not null references stations(id),
  shift_no     int not null,                 -- 1, 2, 3 … per terminal
  opened_at    timestamptz not null default now(),
  closed_at    timestamptz,
  business_day date,                          -- of the close
  cashier      text,
  declared     jsonb,                         -- the terminal's totals at close
  computed     jsonb,                         -- the platform's totals for the shift
  differences  jsonb,                         -- [] when they agree
  unique (terminal_id, shift_no)
);
create unique index terminal_shifts_open on terminal_shifts(terminal_id) where closed_at is null;
create index terminal_shifts_station_day on terminal_shifts(station_id, business_day);
alter table sales add constraint sales_shift_fk foreign key (shift_id) references terminal_shifts(id);
alter table pump_authorisations add constraint pump_authorisations_shift_fk foreign key (shift_id) references terminal_shifts(id);

-- ── Offline uploads (脱机交易上送) ───────────────────────────────────────────────────────────────
-- An offline sale's identity is (terminal, seq): its sales row has flow 'offline' and
-- terminal_ref = 'offline:' || seq, so an upload twice posts once (sales_terminal_ref).
create table offline_batches (
  id           uuid primary key,
  terminal_id  text not null references terminals(id),
  batch_no     text not null,
  hotlist_version bigint,                     -- the hot-list version the terminal held
  received     int not null,
  posted       int not null,
  duplicates   int not null,
  rejected     int not null,
  forced       int not null,
  station_liability int not null,
  created_at   timestamptz not null default now(),
  unique (terminal_id, batch_no)
);

-- ── Stock (库存) ─────────────────────────────────────────────────────────────────────────────────
create table station_tanks (
  station_id   bigint not null references stations(id),
  tank         int not null check (tank between 1 and 99),
  grade        text not null references fuel_grades(code),
  capacity_ml  bigint not null check (capacity_ml > 0),
  low_level_ml bigint not null default 0 check (low_level_ml >= 0),
  primary key (station_id, tank)
);
-- Automatic tank gauge (ATG, 液位仪) readings.
create table tank_readings (
  id            bigint generated always as identity primary key,
  station_id    bigint not null,
  tank          int not null,
  grade         text not null references fuel_grades(code),
  volume_ml     bigint not null check (volume_ml >= 0),
  water_ml      bigint not null default 0 check (water_ml >= 0),
  temperature_dc int check (temperature_dc between -600 and 900),   -- tenths of a degree Celsius
  read_at       timestamptz not null,
  received_at   timestamptz not null default now(),
  foreign key (station_id, tank) references station_tanks(station_id, tank),
  unique (station_id, tank, read_at)
);
create table fuel_deliveries (
  id           bigint generated always as identity primary key,
  station_id   bigint not null,
  tank         int not null,
  grade        text not null references fuel_grades(code),
  volume_ml    bigint not null check (volume_ml > 0),
  delivered_at timestamptz not null,
  reference    text check (length(reference) <= 60),  -- the delivery note (提货单) number
  created_by   text not null,
  created_at   timestamptz not null default now(),
  foreign key (station_id, tank) references station_tanks(station_id, tank)
);
create unique index fuel_deliveries_reference on fuel_deliveries(station_id, reference) where reference is not null;
create table stock_alerts (
  id          bigint generated always as identity primary key,
  station_id  bigint not null references stations(id),
  tank        int,
  grade       text not null references fuel_grades(code),
  kind        text not null check (kind in ('low_stock','variance')),
  details     jsonb not null,
  created_at  timestamptz not null default now(),
  resolved_at timestamptz,
  resolved_by text
);
create unique index stock_alerts_open on stock_alerts(station_id, tank, kind) where resolved_at is null;

-- ── Promotions shown by the station finder (a station's own, or every station's) ─────────────
create table station_promotions (
  id          bigint generated always as identity primary key,
  station_id  bigint references stations(id),     -- null: every station
  province    text,                               -- or every station of a province
  title_zh    text not null check (length(title_zh) between 1 and 60),
  title_en    text not null check (length(title_en) between 1 and 80),
  grade       text references fuel_grades(code),  -- null: any purchase
  starts_at   timestamptz not null,
  ends_at     timestamptz not null,
  created_by  text not null,
  created_at  timestamptz not null default now(),
  check (ends_at > starts_at),
  check (station_id is null or province is null)
);
create index station_promotions_active on station_promotions(ends_at, starts_at);
