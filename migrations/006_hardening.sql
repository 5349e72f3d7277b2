-- Append-only tables refuse TRUNCATE too (row triggers do not fire on it).
create trigger audit_log_no_truncate before truncate on audit_log
  for each statement execute function forbid_change();
create trigger ledger_transfers_no_truncate before truncate on ledger_transfers
  for each statement execute function forbid_change();
create trigger ledger_transfer_failures_no_truncate before truncate on ledger_transfer_failures
  for each statement execute function forbid_change();

-- A station staff user belongs to a real station.
alter table staff_users add constraint staff_users_station_fk foreign key (station_id) references stations(id);
create trigger ledger_pending_no_truncate before truncate on ledger_pending
  for each statement execute function forbid_change();
