-- Fleet vehicles (车辆) and the card bound to each (车辆卡): the risk rules tank_capacity and
-- grade_mismatch read the tank and the fuels of the vehicle a card is bound to. See docs/vehicles.md.

create table vehicles (
  id               bigint generated always as identity primary key,
  customer_id      bigint not null references customers(id),
  -- Normalised by the service (upper case, no spaces or separators); the pattern is the last guard.
  plate            text not null check (char_length(plate) between 7 and 8),
  -- Up to 2,000 litres: a tanker truck's own tanks, not its cargo.
  tank_capacity_ml bigint not null check (tank_capacity_ml > 0 and tank_capacity_ml <= 2000000),
  -- fuel_grades codes; an array cannot carry a foreign key, so the service checks each code.
  grades           text[] not null check (cardinality(grades) between 1 and 8 and array_position(grades, null) is null),
  status           text not null default 'active' check (status in ('active','retired')),
  retired_at       timestamptz,
  created_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now(),
  check ((status = 'retired') = (retired_at is not null)),
  -- The target of cards' (vehicle_id, customer_id) key: a card binds only its own customer's vehicle.
  unique (id, customer_id)
);
-- A plate identifies one vehicle in service per customer; a retired one frees the plate (the
-- vehicle sold and bought back, or re-registered after a mistake).
create unique index vehicles_active_plate on vehicles(customer_id, plate) where status = 'active';
create index vehicles_customer on vehicles(customer_id, id);

-- A card is bound to at most one vehicle; a vehicle may carry several cards (a replacement, a
-- second driver's card). The binding stays on a closed or replaced card as history.
alter table cards add column vehicle_id bigint;
alter table cards add constraint cards_vehicle_same_customer
  foreign key (vehicle_id, customer_id) references vehicles(id, customer_id);
create index cards_vehicle on cards(vehicle_id) where vehicle_id is not null;

-- A replacement card (补卡) carries the plate printed on the card it replaces: keep the binding,
-- whatever path replaced it, in the same transaction as the replacement.
create function cards_replacement_keeps_vehicle() returns trigger language plpgsql as $$
begin
  update cards set vehicle_id = new.vehicle_id where id = new.replaced_by and vehicle_id is null;
  return null;
end $$;
create trigger cards_replacement_keeps_vehicle after update of replaced_by on cards
  for each row when (old.replaced_by is null and new.replaced_by is not null and new.vehicle_id is not null)
  execute function cards_replacement_keeps_vehicle();
