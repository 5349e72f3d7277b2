import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js';
import type { Db } from '../platform/index.js';
import { accountEntries } from './ledger.entries.js';
import { cashClearing, expectOk, expectRefused, expectVerified, fund, fundedCustomer, newId, thrownCode, tx } from './ledger.fixtures.js';
import { forceTransfer, getAccount, hold, openAccount, systemAccount, transfer, voidHold } from './ledger.service.js';
import { verifyLedger } from './ledger.verify.js';

let h: TestDatabase;
let db: Db;

beforeAll(async () => {
  h = await createTestDatabase(4);
  db = h.db;
});
afterAll(async () => h.close());
afterEach(async () => expectVerified(db));

const station = () => systemAccount(db, 'station_settlement', 'st1', 'Station 1');
const alertsOf = (accountId: number) =>
  db.selectFrom('ledger_arrears_alerts').select(['transfer_id', 'shortfall', 'reason']).where('account_id', '=', accountId).execute();

/** Roll back whatever `fn` did: lets a test break the ledger on purpose without leaving it broken. */
async function inRolledBackTx(fn: Parameters<typeof tx>[1]): Promise<void> {
  const rollback = new Error('rollback');
  await expect(tx(db, async (trx) => { await fn(trx); throw rollback; })).rejects.toBe(rollback);
}

describe('forced posts and arrears', () => {
  it('a forced post takes an account negative, records arrears and an alert; verify stays ok; a credit repays', async () => {
    const cust = await fundedCustomer(db, 1000);
    const st = await station();
    const id = newId();
    const res = expectOk(await tx(db, (trx) => forceTransfer(trx, { id, debitAccountId: cust.id, creditAccountId: st.id, amount: 1500, code: 'offline_sale', reason: 'offline_upload' })));
    expect(res).toMatchObject({ debitBalanceAfter: -500, debitAvailableAfter: -500 });
    expect(await getAccount(db, cust.id)).toMatchObject({ balance: -500, available: -500, arrears: 500 });
    expect(await alertsOf(cust.id)).toMatchObject([{ transfer_id: id, shortfall: 500, reason: 'offline_upload' }]);
    const row = await db.selectFrom('ledger_transfers').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    expect(row.forced).toBe(true);

    const report = await verifyLedger(db);
    expect(report.ok).toBe(true);
    expect(report.arrearsAccounts).toBeGreaterThanOrEqual(1);

    // In arrears, an ordinary debit is refused; a retry of the forced post is a replay.
    expectRefused(await tx(db, (trx) => transfer(trx, { id: newId(), debitAccountId: cust.id, creditAccountId: st.id, amount: 1, code: 'sale' })), 'LEDGER_INSUFFICIENT_FUNDS');
    const again = expectOk(await tx(db, (trx) => forceTransfer(trx, { id, debitAccountId: cust.id, creditAccountId: st.id, amount: 1500, code: 'offline_sale', reason: 'offline_upload' })));
    expect(again.replayed).toBe(true);
    // Same id without the force flag is a different request.
    expect(await thrownCode(() => tx(db, (trx) => transfer(trx, { id, debitAccountId: cust.id, creditAccountId: st.id, amount: 1500, code: 'offline_sale' })))).toBe('LEDGER_TRANSFER_CONFLICT');

    await fund(db, cust.id, 200);
    expect(await getAccount(db, cust.id)).toMatchObject({ balance: -300, arrears: 300 });
    await fund(db, cust.id, 1000);
    expect(await getAccount(db, cust.id)).toMatchObject({ balance: 700, arrears: 0 });
  });

  it('a forced post within the balance records no arrears', async () => {
    const cust = await fundedCustomer(db, 1000);
    const st = await station();
    expectOk(await tx(db, (trx) => forceTransfer(trx, { id: newId(), debitAccountId: cust.id, creditAccountId: st.id, amount: 400, code: 'offline_sale', reason: 'offline' })));
    expect(await getAccount(db, cust.id)).toMatchObject({ balance: 600, arrears: 0 });
    expect(await alertsOf(cust.id)).toEqual([]);
  });

  it('arrears follow the real shortfall: voiding a hold that a forced post overran shrinks them', async () => {
    const cust = await fundedCustomer(db, 100);
    const st = await station();
    const held = expectOk(await tx(db, (trx) => hold(trx, { id: newId(), debitAccountId: cust.id, creditAccountId: st.id, amount: 60, code: 'preauth', timeoutMs: 60_000 })));
    expectOk(await tx(db, (trx) => forceTransfer(trx, { id: newId(), debitAccountId: cust.id, creditAccountId: st.id, amount: 50, code: 'offline_sale', reason: 'offline' })));
    expect(await getAccount(db, cust.id)).toMatchObject({ balance: 50, available: -10, arrears: 10 });
    expectOk(await tx(db, (trx) => voidHold(trx, { id: newId(), pendingId: held.transferId, code: 'cancel' })));
    // Nothing is owed any more, so the overdraft backstop must be back at zero.
    expect(await getAccount(db, cust.id)).toMatchObject({ balance: 50, available: 50, arrears: 0 });
    expect(await thrownCode(() => sql`update ledger_accounts set debits_posted = credits_posted + 1 where id = ${cust.id}`.execute(db))).toBe('23514');
  });
});

describe('database backstops', () => {
  it('the CHECK constraint refuses a direct overdraft of a no-overdraft account', async () => {
    const cust = await fundedCustomer(db, 500);
    expect(await thrownCode(() => sql`update ledger_accounts set debits_posted = credits_posted + 1 where id = ${cust.id}`.execute(db))).toBe('23514');
    expect(await thrownCode(() => sql`update ledger_accounts set debits_pending = 501 where id = ${cust.id}`.execute(db))).toBe('23514');
    // A system account (no flag) may run negative.
    const sys = await openAccount(db, { kind: 'suspense', name: 'suspense', noOverdraft: false });
    await inRolledBackTx((trx) => sql`update ledger_accounts set debits_posted = credits_posted + 1 where id = ${sys.id}`.execute(trx));
  });

  it('ledger_transfers and ledger_transfer_failures are append-only', async () => {
    const cust = await fundedCustomer(db, 100);
    const st = await station();
    const ok = expectOk(await tx(db, (trx) => transfer(trx, { id: newId(), debitAccountId: cust.id, creditAccountId: st.id, amount: 10, code: 'sale' })));
    const failedId = newId();
    expectRefused(await tx(db, (trx) => transfer(trx, { id: failedId, debitAccountId: cust.id, creditAccountId: st.id, amount: 1000, code: 'sale' })), 'LEDGER_INSUFFICIENT_FUNDS');
    expect(await thrownCode(() => sql`update ledger_transfers set amount = 1 where id = ${ok.transferId}::uuid`.execute(db))).toBe('42501');
    expect(await thrownCode(() => sql`delete from ledger_transfers where id = ${ok.transferId}::uuid`.execute(db))).toBe('42501');
    expect(await thrownCode(() => sql`update ledger_transfer_failures set code = 'x' where id = ${failedId}::uuid`.execute(db))).toBe('42501');
    expect(await thrownCode(() => sql`delete from ledger_transfer_failures where id = ${failedId}::uuid`.execute(db))).toBe('42501');
    const held = expectOk(await tx(db, (trx) => hold(trx, { id: newId(), debitAccountId: cust.id, creditAccountId: st.id, amount: 10, code: 'preauth', timeoutMs: 60_000 })));
    expect(await thrownCode(() => sql`delete from ledger_pending where id = ${held.transferId}::uuid`.execute(db))).toBe('42501');
    expectOk(await tx(db, (trx) => voidHold(trx, { id: newId(), pendingId: held.transferId, code: 'cancel' })));
  });
});

describe('verify', () => {
  it('reports a tampered counter with the account named', async () => {
    const cust = await fundedCustomer(db, 700);
    const cash = await cashClearing(db);
    await inRolledBackTx(async (trx) => {
      await sql`update ledger_accounts set credits_posted = credits_posted + 5 where id = ${cust.id}`.execute(trx);
      const report = await verifyLedger(trx);
      expect(report.ok).toBe(false);
      expect(report.problems).toContainEqual(expect.objectContaining({ check: 'account_counters_match_transfers', accountId: cust.id }));
      expect(report.problems).toContainEqual(expect.objectContaining({ check: 'posted_totals_balance', currency: 'CNY' }));
    });
    await inRolledBackTx(async (trx) => {
      // Balanced tampering (both sides) still breaks "counters equal the sum of transfers".
      await sql`update ledger_accounts set debits_posted = debits_posted + 5 where id = ${cash.id}`.execute(trx);
      await sql`update ledger_accounts set credits_posted = credits_posted + 5 where id = ${cust.id}`.execute(trx);
      const report = await verifyLedger(trx);
      expect(report.ok).toBe(false);
      expect(report.problems.map((p) => p.accountId).sort()).toEqual([cash.id, cust.id].sort());
    });
    await inRolledBackTx(async (trx) => {
      // Arrears that no forced post explains weaken the CHECK backstop: verify names them.
      await sql`update ledger_accounts set arrears = 50 where id = ${cust.id}`.execute(trx);
      const report = await verifyLedger(trx);
      expect(report.problems).toContainEqual(expect.objectContaining({ check: 'arrears_match_overdraft', accountId: cust.id }));
    });
  });
});

describe('accountEntries', () => {
  it('pages newest first with a cursor, every entry exactly once', async () => {
    const cust = await fundedCustomer(db, 10_000);
    const st = await station();
    const ids: string[] = [];
    for (let i = 1; i <= 7; i++) {
      const r = expectOk(await tx(db, (trx) => transfer(trx, { id: newId(), debitAccountId: cust.id, creditAccountId: st.id, amount: i * 10, code: 'sale' })));
      ids.push(r.transferId);
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await accountEntries(db, cust.id, { limit: 3, cursor });
      seen.push(...page.items.map((e) => e.transferId));
      cursor = page.nextCursor ?? undefined;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toHaveLength(8); // the funding credit + 7 sales
    expect(seen.slice(0, 7)).toEqual([...ids].reverse());
    const first = await accountEntries(db, cust.id, { limit: 1 });
    expect(first.items[0]).toMatchObject({ transferId: ids[6], amount: -70, direction: 'debit', counterpartyAccountId: st.id, balanceAfter: 10_000 - 280, pending: false });
    const last = await accountEntries(db, cust.id, { limit: 200, cursor: first.nextCursor ?? undefined });
    expect(last.items.at(-1)).toMatchObject({ amount: 10_000, direction: 'credit', balanceAfter: 10_000 });
    expect(last.nextCursor).toBeNull();
    expect(await thrownCode(() => accountEntries(db, cust.id, { cursor: 'bm90LWEtY3Vyc29y' }))).toBe('VALIDATION_FAILED');
  });

  it('loses no entry when several share the same millisecond', async () => {
    const cust = await fundedCustomer(db, 10_000);
    const st = await station();
    // 30 transfers from one statement: their clock_timestamp()s differ by microseconds only.
    await sql`select ledger_apply(gen_random_uuid(), 'posted', ${cust.id}::bigint, ${st.id}::bigint, 1::bigint, 'sale', null, null, false, '{}', md5(random()::text))
              from generate_series(1, 30)`.execute(db);
    const seen = new Set<string>();
    let cursor: string | undefined;
    for (let guard = 0; guard < 100; guard++) {
      const page = await accountEntries(db, cust.id, { limit: 1, cursor });
      for (const e of page.items) seen.add(e.transferId);
      cursor = page.nextCursor ?? undefined;
      if (!cursor) break;
    }
    expect(seen.size).toBe(31);
  });
});
