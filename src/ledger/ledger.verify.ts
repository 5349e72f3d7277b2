import { sql } from 'kysely';
import type { Executor } from '../platform/index.js';

// A type alias (not an interface) so a report is assignable to the route's JSON schema type.
export type VerifyProblem = {
  check: string;
  accountId?: number;
  transferId?: string;
  currency?: string;
  expected?: number | string;
  actual?: number | string;
};

export interface VerifyReport {
  ok: boolean;
  accounts: number;
  transfers: number;
  pendingOpen: number;
  arrearsAccounts: number;
  problems: VerifyProblem[];
  checkedAt: string;
}

const MAX_PROBLEMS = 100;

/**
 * Proves the ledger's invariants from the database alone:
 *  1. each account's four counters equal the sums of its transfers and open holds;
 *  2. per currency, total debits equal total credits (posted and pending);
 *  3. no no-overdraft account is below zero unless a forced post flagged it (arrears + alert), and
 *     arrears equal the real shortfall (so the CHECK backstop allows no more than forced posts took);
 *  4. each hold resolved at most once, by a transfer of the matching kind, never above its amount,
 *     and never posted once it had expired.
 * Runs in one REPEATABLE READ snapshot so a busy system still yields a consistent answer.
 */
export async function verifyLedger(db: Executor): Promise<VerifyReport> {
  const run = async (q: Executor): Promise<VerifyReport> => {
    const problems: VerifyProblem[] = [];
    const counters = await sql<{
      id: number;
      dpo: number;
      cpo: number;
      dpe: number;
      cpe: number;
      x_dpo: number;
      x_cpo: number;
      x_dpe: number;
      x_cpe: number;
    }>`
      with posted as (
        select debit_account_id as account_id, amount as d, 0::bigint as c from ledger_transfers where kind in ('posted','post_pending')
        union all
        select credit_account_id, 0, amount from ledger_transfers where kind in ('posted','post_pending')
      ), pend as (
        select t.debit_account_id as account_id, p.amount as d, 0::bigint as c from ledger_pending p join ledger_transfers t on t.id = p.id where p.state = 'pending'
        union all
        select t.credit_account_id, 0, p.amount from ledger_pending p join ledger_transfers t on t.id = p.id where p.state = 'pending'
      ), ps as (select account_id, sum(d)::bigint d, sum(c)::bigint c from posted group by account_id),
         pp as (select account_id, sum(d)::bigint d, sum(c)::bigint c from pend group by account_id)
      select a.id, a.debits_posted dpo, a.credits_posted cpo, a.debits_pending dpe, a.credits_pending cpe,
             coalesce(ps.d,0)::bigint x_dpo, coalesce(ps.c,0)::bigint x_cpo, coalesce(pp.d,0)::bigint x_dpe, coalesce(pp.c,0)::bigint x_cpe
      from ledger_accounts a left join ps on ps.account_id = a.id left join pp on pp.account_id = a.id
      where a.debits_posted <> coalesce(ps.d,0) or a.credits_posted <> coalesce(ps.c,0)
         or a.debits_pending <> coalesce(pp.d,0) or a.credits_pending <> coalesce(pp.c,0)
      limit ${MAX_PROBLEMS}`.execute(q);
    for (const r of counters.rows) {
      problems.push({
        check: 'account_counters_match_transfers',
        accountId: r.id,
        expected: `dp=${r.x_dpo} cp=${r.x_cpo} dpe=${r.x_dpe} cpe=${r.x_cpe}`,
        actual: `dp=${r.dpo} cp=${r.cpo} dpe=${r.dpe} cpe=${r.cpe}`,
      });
    }

    const totals = await sql<{ currency: string; dpo: number; cpo: number; dpe: number; cpe: number }>`
      select currency, sum(debits_posted)::bigint dpo, sum(credits_posted)::bigint cpo,
             sum(debits_pending)::bigint dpe, sum(credits_pending)::bigint cpe
      from ledger_accounts group by currency`.execute(q);
    for (const t of totals.rows) {
      if (t.dpo !== t.cpo) problems.push({ check: 'posted_totals_balance', currency: t.currency, expected: t.dpo, actual: t.cpo });
      if (t.dpe !== t.cpe) problems.push({ check: 'pending_totals_balance', currency: t.currency, expected: t.dpe, actual: t.cpe });
    }

    const negative = await sql<{ id: number; available: number; arrears: number; alerts: number }>`
      select a.id, a.credits_posted - a.debits_posted - a.debits_pending as available, a.arrears,
             (select count(*) from ledger_arrears_alerts al where al.account_id = a.id)::int as alerts
      from ledger_accounts a
      where (a.flags & 1) = 1 and a.debits_posted + a.debits_pending > a.credits_posted
      limit ${MAX_PROBLEMS}`.execute(q);
    let arrearsAccounts = 0;
    for (const n of negative.rows) {
      if (n.arrears > 0 && n.alerts > 0) {
        arrearsAccounts++;
        continue;
      }
      problems.push({ check: 'no_unflagged_negative_balance', accountId: n.id, expected: 0, actual: n.available });
    }

    const arrears = await sql<{ id: number; arrears: number; shortfall: number }>`
      select a.id, a.arrears,
             case when (a.flags & 1) = 1 then greatest(0, a.debits_pending + a.debits_posted - a.credits_posted) else 0 end::bigint shortfall
      from ledger_accounts a
      where a.arrears <> case when (a.flags & 1) = 1 then greatest(0, a.debits_pending + a.debits_posted - a.credits_posted) else 0 end
      limit ${MAX_PROBLEMS}`.execute(q);
    for (const r of arrears.rows) {
      problems.push({ check: 'arrears_match_overdraft', accountId: r.id, expected: r.shortfall, actual: r.arrears });
    }

    const holds = await sql<{ id: string; state: string; amount: number; resolved_kind: string | null; resolved_amount: number | null; n: number }>`
      select p.id, p.state, p.amount, min(r.kind) resolved_kind, max(r.amount)::bigint resolved_amount, count(r.id)::int n
      from ledger_pending p left join ledger_transfers r on r.pending_id = p.id
      group by p.id, p.state, p.amount
      having (p.state = 'pending' and count(r.id) <> 0)
          or (p.state <> 'pending' and count(r.id) <> 1)
          or (p.state = 'posted' and (min(r.kind) <> 'post_pending' or max(r.amount) > p.amount
                                      or (p.expires_at is not null and max(r.created_at) >= p.expires_at)))
          or (p.state = 'voided' and min(r.kind) <> 'void_pending')
          or (p.state = 'expired' and min(r.kind) <> 'expire_pending')
      limit ${MAX_PROBLEMS}`.execute(q);
    for (const h of holds.rows) {
      problems.push({ check: 'hold_resolved_once', transferId: h.id, expected: h.state, actual: `${h.n} × ${h.resolved_kind ?? 'none'} (${h.resolved_amount ?? 0})` });
    }

    const counts = await sql<{ accounts: number; transfers: number; pending_open: number }>`
      select (select count(*) from ledger_accounts)::int accounts, (select count(*) from ledger_transfers)::int transfers,
             (select count(*) from ledger_pending where state = 'pending')::int pending_open`.execute(q);
    const c = counts.rows[0] ?? { accounts: 0, transfers: 0, pending_open: 0 };
    return {
      ok: problems.length === 0,
      accounts: c.accounts,
      transfers: c.transfers,
      pendingOpen: c.pending_open,
      arrearsAccounts,
      problems: problems.slice(0, MAX_PROBLEMS),
      checkedAt: new Date().toISOString(),
    };
  };
  if ('isTransaction' in db && db.isTransaction) return run(db);
  return (db as import('../platform/index.js').Db).transaction().setIsolationLevel('repeatable read').execute(run);
}
