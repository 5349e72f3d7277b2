-- Issue 4, reversals (冲正), voids (撤销), shift close and settlement statements, on top of 017.

-- What a reversal or void did to its original: gave money back / released holds ('reversed'),
-- undid a sale by the cashier ('voided'), or only took note ('recorded': the original was
-- unknown, declined, expired or already undone). The answer to a repeated reversal is rebuilt
-- from this row, so it must say which it was.
alter table sale_reversals
  add column if not exists outcome text not null default 'recorded' check (outcome in ('reversed','voided','recorded')),
  -- The terminal's open shift when it sent the reversal: a shift close waits for it like for a sale.
  add column if not exists shift_id bigint references terminal_shifts(id),
  add column if not exists station_id bigint references stations(id),
  -- The cashier's free-text reason for a void (the reason column keeps the closed set).
  add column if not exists note text check (note is null or length(note) <= 200);

-- A sale (an authorisation) is undone at most once; rows that only took note may name it too
-- (a reversal by the completion's reference after the authorisation's own reversal gave the money back).
drop index if exists sale_reversals_sale;
create unique index if not exists sale_reversals_sale_once on sale_reversals(sale_id) where sale_id is not null and outcome <> 'recorded';
drop index if exists sale_reversals_authorisation;
create unique index if not exists sale_reversals_authorisation_once on sale_reversals(authorisation_id)
  where authorisation_id is not null and outcome <> 'recorded';
create index if not exists sale_reversals_listing on sale_reversals(created_at desc, id desc);
create index if not exists sale_reversals_station on sale_reversals(station_id, created_at desc, id desc);
create index if not exists sale_reversals_shift on sale_reversals(shift_id) where shift_id is not null;

-- A reversed post-pay sale puts its pump sale back to unpaid, so it may be paid again: one
-- approved payment per pump sale at a time (017 counted reversed and voided payments too).
drop index if exists sales_one_payment_per_pump_sale;
create unique index if not exists sales_one_approved_payment_per_pump_sale on sales(pump_sale_id)
  where pump_sale_id is not null and status = 'approved';

-- The terminal says whether the close also ends its business day (日结).
alter table terminal_shifts add column if not exists end_of_day boolean not null default false;
create index if not exists terminal_shifts_listing on terminal_shifts(opened_at desc, id desc);
create index if not exists terminal_shifts_terminal on terminal_shifts(terminal_id, opened_at desc);

-- Settlement statements read one business day's sales, of one station or of all: one index
-- serves both (every sale writes this table, so one index more, not two).
create index if not exists sales_business_day on sales(business_day, station_id);
