-- One lock order for every money movement: a transfer's customer account before its system
-- account (the station's settlement account, a channel's clearing account), then id order.
--
-- ledger_apply (002) locked a transfer's two accounts in plain id order. The station's settlement
-- account is older than most customer accounts, so a reversal voiding a pre-auth's hold took the
-- settlement account first and then the card's account, while a pre-auth on the same card had
-- locked the card's account (lockAccounts) and then asked for the settlement account: a deadlock,
-- answered 909 to the terminal, under load. The function below is 002's with only that order
-- changed. See docs/architecture.md (the ledger's lock order).

create or replace function ledger_apply(
  p_id uuid, p_kind text, p_debit bigint, p_credit bigint, p_amount bigint, p_code text,
  p_pending_id uuid, p_timeout_ms bigint, p_forced boolean, p_metadata jsonb, p_request_hash text)
returns table (status text, already_failed boolean, transfer_id uuid, amount bigint,
               debit_account_id bigint, credit_account_id bigint,
               debit_balance_after bigint, credit_balance_after bigint, debit_available_after bigint,
               created_at timestamptz)
language plpgsql as $$
declare
  t ledger_transfers%rowtype;
  f ledger_transfer_failures%rowtype;
  p ledger_pending%rowtype;
  pt ledger_transfers%rowtype;
  d ledger_accounts%rowtype;
  c ledger_accounts%rowtype;
  v_amount bigint := p_amount;
  v_debit bigint := p_debit;
  v_credit bigint := p_credit;
  v_fail text;
  v_shortfall bigint := 0;
  v_dpe bigint := 0;   -- deltas: debit account's debits_pending / debits_posted,
  v_dpo bigint := 0;
  v_cpe bigint := 0;   -- credit account's credits_pending / credits_posted
  v_cpo bigint := 0;
  v_now timestamptz := clock_timestamp();
begin
  if p_kind not in ('posted','pending','post_pending','void_pending','expire_pending') then
    raise exception 'unknown transfer kind %', p_kind using errcode = '22023';
  end if;
  -- Same id at the same time: the second waits here and then sees the first.
  perform pg_advisory_xact_lock(7301002, hashtext(p_id::text));

  select * into t from ledger_transfers lt where lt.id = p_id;
  if found then
    if t.kind <> p_kind
       or (p_debit is not null and t.debit_account_id <> p_debit)
       or (p_credit is not null and t.credit_account_id <> p_credit)
       or (p_amount is not null and p_kind not in ('void_pending','expire_pending') and t.amount <> p_amount)
       or t.code <> p_code
       or t.pending_id is distinct from p_pending_id
       or t.forced <> coalesce(p_forced, false) then
      return query select 'exists_with_different_fields'::text, false, t.id, t.amount, t.debit_account_id, t.credit_account_id,
        null::bigint, null::bigint, null::bigint, t.created_at;
      return;
    end if;
    return query select 'exists'::text, false, t.id, t.amount, t.debit_account_id, t.credit_account_id,
      t.debit_balance_after, t.credit_balance_after, null::bigint, t.created_at;
    return;
  end if;

  select * into f from ledger_transfer_failures lf where lf.id = p_id;
  if found then
    if f.request_hash <> p_request_hash then
      return query select 'exists_with_different_fields'::text, true, p_id, p_amount, p_debit, p_credit,
        null::bigint, null::bigint, null::bigint, f.created_at;
    else
      return query select f.code, true, p_id, p_amount, p_debit, p_credit, null::bigint, null::bigint, null::bigint, f.created_at;
    end if;
    return;
  end if;

  -- Resolving a hold: the pending transfer supplies accounts and the ceiling.
  if p_kind in ('post_pending','void_pending','expire_pending') then
    select * into p from ledger_pending lp where lp.id = p_pending_id for update;
    if not found then
      v_fail := 'pending_not_found';
    elsif p.state <> 'pending' then
      v_fail := 'pending_already_' || p.state;
    else
      select * into pt from ledger_transfers lt where lt.id = p_pending_id;
      if (p_debit is not null and p_debit <> pt.debit_account_id) or (p_credit is not null and p_credit <> pt.credit_account_id) then
        v_fail := 'pending_accounts_mismatch';
      elsif p_kind = 'post_pending' and p.expires_at is not null and p.expires_at <= v_now then
        v_fail := 'pending_expired';
      elsif p_kind = 'expire_pending' and (p.expires_at is null or p.expires_at > v_now) then
        v_fail := 'pending_not_expired';
      end if;
      v_debit := pt.debit_account_id;
      v_credit := pt.credit_account_id;
      if p_kind = 'post_pending' then
        if v_amount is null then v_amount := p.amount; end if;
        if v_amount < 0 then v_fail := coalesce(v_fail, 'amount_invalid'); end if;
        if v_amount > p.amount then v_fail := coalesce(v_fail, 'exceeds_pending_amount'); end if;
      else
        v_amount := p.amount;
      end if;
    end if;
  elsif v_amount is null or v_amount <= 0 then
    v_fail := 'amount_invalid';
  elsif v_debit is null or v_credit is null or v_debit = v_credit then
    v_fail := 'accounts_invalid';
  end if;

  if v_fail is null then
    -- Lock both accounts, the customer's before any system account, then in id order: the order
    -- every caller uses when it locks a card's accounts (lockAccounts) before moving money, so a
    -- transfer that locks nothing first cannot deadlock with one that did.
    perform 1 from ledger_accounts la where la.id in (v_debit, v_credit) order by (la.kind <> 'customer'), la.id for update;
    -- The transfer's time is taken once its accounts are locked, so on every account the order
    -- of created_at is the order of application and balance_after reads as a running balance.
    v_now := clock_timestamp();
    select * into d from ledger_accounts la where la.id = v_debit;
    if not found then v_fail := 'debit_account_not_found'; end if;
    select * into c from ledger_accounts la where la.id = v_credit;
    if v_fail is null and not found then v_fail := 'credit_account_not_found'; end if;
    if v_fail is null and d.currency <> c.currency then v_fail := 'currency_mismatch'; end if;
    -- A hold may have run out while we waited for the account locks.
    if v_fail is null and p_kind = 'post_pending' and p.expires_at is not null and p.expires_at <= v_now then
      v_fail := 'pending_expired';
    end if;
    if v_fail is null and p_kind in ('posted','pending') then
      if d.status = 'closed' then v_fail := 'debit_account_closed';
      elsif c.status = 'closed' then v_fail := 'credit_account_closed';
      elsif (d.flags & 1) = 1 and d.debits_pending + d.debits_posted + v_amount > d.credits_posted then
        if p_kind = 'posted' and p_forced then
          v_shortfall := least(v_amount, d.debits_pending + d.debits_posted + v_amount - d.credits_posted - d.arrears);
          if v_shortfall < 0 then v_shortfall := 0; end if;
        else
          v_fail := 'exceeds_credits';
        end if;
      end if;
    end if;
  end if;

  if v_fail is not null then
    -- Expiry ids are derived by the sweeper, not chosen by a client: recording a refusal would
    -- only risk a hold the sweeper can never expire (e.g. 'pending_not_expired' after a clock step).
    if p_kind <> 'expire_pending' then
      insert into ledger_transfer_failures (id, code, request_hash) values (p_id, v_fail, p_request_hash);
    end if;
    return query select v_fail, false, p_id, v_amount, v_debit, v_credit, null::bigint, null::bigint, null::bigint, v_now;
    return;
  end if;

  if p_kind = 'posted' then
    v_dpo := v_amount; v_cpo := v_amount;
  elsif p_kind = 'pending' then
    v_dpe := v_amount; v_cpe := v_amount;
  elsif p_kind = 'post_pending' then
    v_dpe := -p.amount; v_dpo := v_amount; v_cpe := -p.amount; v_cpo := v_amount;
  else
    v_dpe := -p.amount; v_cpe := -p.amount;
  end if;
  -- Arrears follow the real shortfall (debits beyond credits, holds included) and never exceed
  -- what they were plus this forced post's shortfall: a credit repays them, a released hold
  -- shrinks them, and only a forced post raises them.
  update ledger_accounts la set debits_pending = la.debits_pending + v_dpe, debits_posted = la.debits_posted + v_dpo,
      arrears = least(la.arrears + v_shortfall,
                      greatest(0, la.debits_pending + v_dpe + la.debits_posted + v_dpo - la.credits_posted))
    where la.id = v_debit returning * into d;
  update ledger_accounts la set credits_pending = la.credits_pending + v_cpe, credits_posted = la.credits_posted + v_cpo,
      arrears = least(la.arrears, greatest(0, la.debits_pending + la.debits_posted - la.credits_posted - v_cpo))
    where la.id = v_credit returning * into c;

  insert into ledger_transfers (id, kind, debit_account_id, credit_account_id, amount, currency, code, pending_id,
                                expires_at, forced, debit_balance_after, credit_balance_after, metadata, created_at)
  values (p_id, p_kind, v_debit, v_credit, v_amount, d.currency, p_code, p_pending_id,
          case when p_kind = 'pending' and p_timeout_ms is not null then v_now + p_timeout_ms * interval '1 millisecond' end,
          coalesce(p_forced, false) and p_kind = 'posted', d.credits_posted - d.debits_posted, c.credits_posted - c.debits_posted,
          coalesce(p_metadata, '{}'::jsonb), v_now);

  if p_kind = 'pending' then
    insert into ledger_pending (id, amount, expires_at)
    values (p_id, v_amount, case when p_timeout_ms is not null then v_now + p_timeout_ms * interval '1 millisecond' end);
  elsif p_kind in ('post_pending','void_pending','expire_pending') then
    update ledger_pending lp set state = case p_kind when 'post_pending' then 'posted' when 'void_pending' then 'voided' else 'expired' end,
      resolved_at = v_now where lp.id = p_pending_id;
  end if;

  if v_shortfall > 0 then
    insert into ledger_arrears_alerts (account_id, transfer_id, shortfall, reason)
    values (v_debit, p_id, v_shortfall, coalesce(p_metadata->>'forcedReason', p_code));
  end if;

  return query select 'created'::text, false, p_id, v_amount, v_debit, v_credit,
    d.credits_posted - d.debits_posted, c.credits_posted - c.debits_posted,
    d.credits_posted - d.debits_posted - d.debits_pending, v_now;
end $$;
