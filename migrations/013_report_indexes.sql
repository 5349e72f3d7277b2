-- Reports (src/reports): keyset listings newest first on (time, id), with or without a period;
-- the dashboard's last seven days use the same index. Lists filtered by card or station use
-- sales_card, sales_station and recharges_card; the audit log by target uses audit_log_target.
-- Every sale writes the sales table, so it gets one index more, not one per filter.
create index if not exists sales_created_page on sales(created_at, id);
create index if not exists recharges_created_page on recharges(created_at, id);
create index if not exists audit_log_at_page on audit_log(at, id);
-- Dashboard counts: active cards, and cards issued today.
create index if not exists cards_active on cards(id) where status = 'active';
create index if not exists cards_created on cards(created_at);
