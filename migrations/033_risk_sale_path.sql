-- The risk engine in the sale path (issue 7 §1–§2, docs/risk-sale-path.md).

-- The decision a sale was taken under, and its outcome, so staff lists can show a flag without a join.
-- An offline sale is always posted: a decline or freeze there is only this flag (and a case).
alter table sales add column risk_decision_id uuid references risk_decisions(id);
alter table sales add column risk_outcome text
  check (risk_outcome in ('approve','approve_flag','step_up','delay','decline','freeze'));
create index sales_risk_flagged on sales(created_at) where risk_outcome is not null and risk_outcome <> 'approve';

-- What the sale path adds to a decision: a satisfied step-up ('pin' re-entered and verified, or
-- 'staff' checked the holder's ID), and a note when the engine could not decide (budget guard).
alter table risk_decisions add column step_up text check (step_up in ('pin','staff'));
alter table risk_decisions add column note text;
-- Which money event the decision was taken for (the engine's context has the channel too; this is for lists).
alter table risk_decisions add column authorisation_id uuid;

-- A pump authorisation held for a reviewer: money held as for 'held', pump not released. A reviewer
-- releases it (→ held, new expiry) or refuses it (→ declined, holds voided); nobody deciding expires it.
alter table pump_authorisations drop constraint pump_authorisations_status_check;
alter table pump_authorisations add constraint pump_authorisations_status_check
  check (status in ('held','review','completed','reversed','expired','forced','declined'));
-- (pump_authorisations_check is held_amount's two-column check; _check1 is the open/resolved one.)
alter table pump_authorisations drop constraint pump_authorisations_check1;
alter table pump_authorisations add constraint pump_authorisations_open_check check ((status in ('held','review')) = (resolved_at is null));
alter table pump_authorisations add column risk_decision_id uuid references risk_decisions(id);
alter table pump_authorisations add column review_note text;
-- A nozzle with an authorisation in review is not free: one open authorisation per nozzle still.
drop index pump_authorisations_open_nozzle;
create unique index pump_authorisations_open_nozzle on pump_authorisations(station_id, nozzle) where status in ('held','review');
drop index pump_authorisations_due;
create index pump_authorisations_due on pump_authorisations(expires_at) where status in ('held','review');
-- When the pump was released: at approval, or at a reviewer's release of one in review; null for
-- one that was never released (in review, refused, or expired / reversed while in review). Such a
-- one has no approval code to show and cannot be completed (docs/risk-sale-path.md). Rows before
-- this migration were all approved outright; the default covers every insert that is not a review.
alter table pump_authorisations add column released_at timestamptz default clock_timestamp();
alter table pump_authorisations add constraint pump_authorisations_review_unreleased check (status <> 'review' or released_at is null);
