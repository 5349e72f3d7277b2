-- Key rotation (docs/keys.md). Keys themselves never live here: only which key each value used.
--
-- The blind-index key (and hash) a customer's phone / ID number / name indexes were computed with,
-- as "<hash>:<key id>", so rotating the blind-index key can recompute exactly the rows still under
-- the old one. Null: computed before this column existed (the rotation job recomputes them once).
alter table customers add column bidx_key text;

-- Keys taken out of service, refused while any value still used them (fuelcard keys retire).
create table key_retirements (
  kind        text not null check (kind in ('data','blind_index')),
  key_id      text not null,
  retired_at  timestamptz not null default now(),
  retired_by  text not null,
  primary key (kind, key_id)
);
