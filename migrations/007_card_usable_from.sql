-- A replacement for a lost card is issued at once, but may spend only once the operator's
-- waiting period after the loss report has passed (offline terminals learn of a loss late).
alter table cards add column usable_from timestamptz;
