-- Login failures are counted per (username, address).
drop index if exists audit_log_staff_actions;
create index audit_log_login_failures on audit_log(target_id, at) where target_type = 'login' and action = 'auth.login_failed';
create index audit_log_logins on audit_log(actor_name, at) where action = 'auth.login';

-- An account's entries are paged newest first by (created_at, id) from either side: keyset
-- indexes on each side make every page an index range read, however busy the account.
create index ledger_transfers_debit_page on ledger_transfers(debit_account_id, created_at desc, id desc);
create index ledger_transfers_credit_page on ledger_transfers(credit_account_id, created_at desc, id desc);
drop index ledger_transfers_debit;
drop index ledger_transfers_credit;
