-- One sale authorisation, statement for statement as the server runs it for
-- POST /api/v1/pos/sales with an Idempotency-Key and a PIN-checked card without limits:
--   idempotency.ts     BEGIN
--   terminal-auth.ts   spendTerminalNonce: nonce insert (+ last_seen_at), in the sale's transaction
--   idempotency.ts     idempotency_keys insert … on conflict do nothing returning key
--   cards.sale.ts      the card row locked, then read with its links in a fresh statement (lockCardByNo)
--   sales.service.ts   the card's accounts locked (ledger.service.ts lockAccounts)
--   cards.sale.ts      card_usage_daily upsert + cards.last_sale_at (recordCardUse)
--   sales.service.ts   insert into sales + insert into outbox_events, one statement (publishWith)
--   idempotency.ts     update idempotency_keys with the answer
--   ledger.service.ts  ledger_apply(…) last (migrations/002_ledger.sql), so the station's
--                      settlement row is locked only for it and the commit; COMMIT
-- What the server keeps in memory (terminal secret and station, both cached) is not queried
-- again; the bench_* lookup tables only map pgbench's random numbers onto real cards and
-- terminals, folded into statements the server runs anyway, so the round trips are the same.
-- Values the server computes in JavaScript (uuids, hashes, approval code, JSON) are computed
-- by PostgreSQL here.
\set i random(:lo, :hi)
\set t random(1, :nterm)
\set vol random(5000, 40000)
\set amt (:vol * :price + 500) / 1000
BEGIN;
with t as (select terminal_id, station_id, settle from bench_terminals where i = :t),
     spent as (insert into terminal_nonces (terminal_id, nonce) select terminal_id, gen_random_uuid()::text from t on conflict do nothing returning 1),
     seen as (update terminals set last_seen_at = now() where id = (select terminal_id from t) and exists (select 1 from spent)
              and (last_seen_at is null or last_seen_at < now() - interval '1 minute'))
select terminal_id as tid, station_id as station, settle from t \gset
insert into idempotency_keys (scope, key, request_hash) values ('pos-sale:' || :tid::text, gen_random_uuid()::text, md5(random()::text))
  on conflict do nothing returning key as idem_key, gen_random_uuid() as sale_id, gen_random_uuid() as transfer_id \gset
select id as lock_id from cards where card_no = (select card_no from bench_cards where i = :i) for update \gset
select c.*,
  coalesce((select array_agg(ca.account_id order by ca.priority) from card_accounts ca where ca.card_id = c.id), '{}') as account_ids,
  (select m.card_no from cards m where m.id = c.master_card_id) as master_card_no,
  (select m.status from cards m where m.id = c.master_card_id) as master_status,
  clock_timestamp() as read_at
  from cards c where c.id = :lock_id \gset card_
select *, credits_posted - debits_posted - debits_pending as available from ledger_accounts
  where id = any(:card_account_ids::bigint[]) order by id for update \gset acct_
\if :acct_available >= :amt
with u as (
  insert into card_usage_daily (card_id, day, amount, volume_ml, fills) values (:card_id::bigint, (now() at time zone 'Asia/Shanghai')::date, :amt::bigint, :vol::bigint, 1)
  on conflict (card_id, day) do update set amount = card_usage_daily.amount + excluded.amount,
    volume_ml = card_usage_daily.volume_ml + excluded.volume_ml, fills = card_usage_daily.fills + 1
  returning 1)
update cards set last_sale_at = now() where id = :card_id::bigint;
with change as (insert into sales (id, card_id, card_no_masked, station_id, terminal_id, nozzle, grade, volume_ml, unit_price, amount, status,
    approval_code, decline_code, transfers, balance_after, business_day, created_at)
  values (:sale_id::uuid, :card_id::bigint, left(:card_card_no::text, 6) || '*********' || right(:card_card_no::text, 4), :station::bigint, :tid::text, 1, '92',
    :vol::bigint, :price::bigint, :amt::bigint, 'approved', lpad(floor(random() * 1000000)::int::text, 6, '0'), null,
    jsonb_build_array(jsonb_build_object('transferId', :transfer_id::text, 'accountId', :card_own_account_id::bigint, 'amount', :amt::bigint)),
    :acct_available::bigint - :amt::bigint, (now() at time zone 'Asia/Shanghai')::date, now()))
insert into outbox_events (topic, aggregate_id, payload) values ('sale.approved', :sale_id::text,
  jsonb_build_object('saleId', :sale_id::text, 'cardId', :card_id::bigint, 'stationId', :station::bigint, 'terminalId', :tid::text, 'grade', '92',
    'volumeMl', :vol::bigint, 'amount', :amt::bigint));
update idempotency_keys set status_code = 200, response = jsonb_build_object('saleId', :sale_id::text, 'status', 'approved', 'approvalCode', '000000',
    'actionCode', '000', 'amount', :amt::bigint, 'balance', :acct_available::bigint - :amt::bigint)
  where scope = 'pos-sale:' || :tid::text and key = :idem_key::text;
select * from ledger_apply(:transfer_id::uuid, 'posted', :card_own_account_id::bigint, :settle::bigint, :amt::bigint, 'sale', null::uuid, null::bigint,
  false, jsonb_build_object('saleId', :sale_id::text, 'terminalId', :tid::text, 'nozzle', 1), md5(random()::text));
\else
with change as (insert into sales (id, card_id, card_no_masked, station_id, terminal_id, nozzle, grade, volume_ml, unit_price, amount, status,
    approval_code, decline_code, transfers, balance_after, business_day, created_at)
  values (:sale_id::uuid, :card_id::bigint, left(:card_card_no::text, 6) || '*********' || right(:card_card_no::text, 4), :station::bigint, :tid::text, 1, '92',
    :vol::bigint, :price::bigint, :amt::bigint, 'declined', null, 'INSUFFICIENT_FUNDS', '[]'::jsonb,
    :acct_available::bigint, (now() at time zone 'Asia/Shanghai')::date, now()))
insert into outbox_events (topic, aggregate_id, payload) values ('sale.declined', :sale_id::text,
  jsonb_build_object('saleId', :sale_id::text, 'cardId', :card_id::bigint, 'stationId', :station::bigint, 'terminalId', :tid::text, 'grade', '92',
    'volumeMl', :vol::bigint, 'amount', :amt::bigint, 'declineCode', 'INSUFFICIENT_FUNDS'));
update idempotency_keys set status_code = 200, response = jsonb_build_object('saleId', :sale_id::text, 'status', 'declined',
    'declineCode', 'INSUFFICIENT_FUNDS', 'actionCode', '116', 'amount', :amt::bigint, 'balance', :acct_available::bigint)
  where scope = 'pos-sale:' || :tid::text and key = :idem_key::text;
\endif
COMMIT;
