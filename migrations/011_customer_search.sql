-- Customers searchable by their exact full name through a keyed blind index (HMAC of the
-- normalised name), like phone and ID number: the database never sees the name in clear.
-- Rows written before this migration have no index yet; the server fills them in batches
-- at start (customers: backfillCustomerNameIndex), so the column stays nullable.
alter table customers add column name_bidx text;
create index customers_name on customers(name_bidx);
-- Rows still to fill, found without a scan once the backfill is done.
create index customers_name_missing on customers(id) where name_bidx is null;
