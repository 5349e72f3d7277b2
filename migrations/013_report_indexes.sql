-- fuelcard:no-transaction
-- Built concurrently, statement by statement (see platform/migrate.ts): on a live database a plain
-- CREATE INDEX on sales would hold up every sale until the build finished.
-- Reports (src/reports): keyset listings newest first on (time, id), with or without a period;
-- the dashboard's last seven days use the same index. Lists filtered by card or station use
-- sales_card, sales_station and recharges_card; the audit log by target uses audit_log_target.
-- Every sale writes the sales table, so it gets one index more, not one per filter.
create index concurrently if not exists sales_created_page on sales(created_at, id);
create index concurrently if not exists recharges_created_page on recharges(created_at, id);
create index concurrently if not exists audit_log_at_page on audit_log(at, id);
-- audit_log(at) alone is covered by (at, id).
drop index concurrently if exists audit_log_at;
-- Dashboard counts: active cards, and cards issued today.
create index concurrently if not exists cards_active on cards(id) where status = 'active';
create index concurrently if not exists cards_created on cards(created_at);
