import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js';
import type { Db } from '../platform/index.js';
import {
  expectOk,
  expectRefused,
  expectVerified,
  cashClearing,
  fund,
  fundedCustomer,
  newId,
  thrownCode,
  tx,
} from './ledger.fixtures.js';
import {
  closeAccount,
  expireHolds,
  getAccount,
  hold,
  openAccount,
  postHold,
  systemAccount,
  transfer,
  uuidFrom,
  voidHold,
} from './ledger.service.js';

let h: TestDatabase;
let db: Db;

beforeAll(async () => {
  h = await createTestDatabase(4);
  db = h.db;
});
afterAll(async () => h.close());
// Every test that moves money ends by proving the invariants.
afterEach(async () => expectVerified(db));

const station = (key = 'st1') => systemAccount(db, 'station_settlement', key, `Station ${key}`);

describe('posted transfers', () => {
  it('moves the four counters and records balance_after on both sides', async () => {
    const cash = await cashClearing(db);
    const cust = await openAccount(db, { kind: 'customer', name: 'Zhang San' });
    const id = newId();
    const res = expectOk(await tx(db, (trx) => transfer(trx, { id, debitAccountId: cash.id, creditAccountId: cust.id, amount: 300, code: 'recharge' })));
    expect(res).toMatchObject({ replayed: false, transferId: id, amount: 300, debitBalanceAfter: cash.balance - 300, creditBalanceAfter: 300, debitAvailableAfter: cash.balance - 300 });

    const after = await getAccount(db, cust.id);
    expect(after).toMatchObject({ creditsPosted: 300, debitsPosted: 0, debitsPending: 0, creditsPending: 0, balance: 300, available: 300, arrears: 0 });
    expect((await getAccount(db, cash.id)).debitsPosted).toBe(cash.debitsPosted + 300);

    const row = await db.selectFrom('ledger_transfers').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ kind: 'posted', amount: 300, debit_balance_after: cash.balance - 300, credit_balance_after: 300, forced: false, currency: 'CNY' });

    const st = await station();
    const spend = expectOk(await tx(db, (trx) => transfer(trx, { id: newId(), debitAccountId: cust.id, creditAccountId: st.id, amount: 120, code: 'sale' })));
    expect(spend.debitBalanceAfter).toBe(180);
    expect(spend.debitAvailableAfter).toBe(180);
  });

  it('a retry with the same id is replayed and moves nothing', async () => {
    const cust = await fundedCustomer(db, 1000);
    const st = await station();
    const req = { id: newId(), debitAccountId: cust.id, creditAccountId: st.id, amount: 250, code: 'sale' };
    const first = expectOk(await tx(db, (trx) => transfer(trx, req)));
    const again = expectOk(await tx(db, (trx) => transfer(trx, req)));
    expect(again.replayed).toBe(true);
    expect(again).toMatchObject({ transferId: first.transferId, amount: 250, debitBalanceAfter: 750, createdAt: first.createdAt });
    expect((await getAccount(db, cust.id)).balance).toBe(750);
    const n = await db.selectFrom('ledger_transfers').select((eb) => eb.fn.countAll<string>().as('n')).where('id', '=', req.id).executeTakeFirstOrThrow();
    expect(Number(n.n)).toBe(1);
  });

  it('the same id with different fields throws LEDGER_TRANSFER_CONFLICT and moves nothing', async () => {
    const cust = await fundedCustomer(db, 1000);
    const st = await station();
    const other = await station('st2');
    const req = { id: newId(), debitAccountId: cust.id, creditAccountId: st.id, amount: 100, code: 'sale' };
    expectOk(await tx(db, (trx) => transfer(trx, req)));
    for (const changed of [{ amount: 101 }, { code: 'refund' }, { creditAccountId: other.id }]) {
      expect(await thrownCode(() => tx(db, (trx) => transfer(trx, { ...req, ...changed })))).toBe('LEDGER_TRANSFER_CONFLICT');
    }
    // A hold cannot reuse a posted transfer's id either.
    expect(await thrownCode(() => tx(db, (trx) => hold(trx, { ...req, timeoutMs: 60_000 })))).toBe('LEDGER_TRANSFER_CONFLICT');
    expect((await getAccount(db, cust.id)).balance).toBe(900);
  });

  it('refuses insufficient funds, and the refusal is final for that id (id_already_failed)', async () => {
    const cust = await fundedCustomer(db, 500);
    const st = await station();
    const req = { id: newId(), debitAccountId: cust.id, creditAccountId: st.id, amount: 800, code: 'sale' };
    expectRefused(await tx(db, (trx) => transfer(trx, req)), 'LEDGER_INSUFFICIENT_FUNDS', false);
    await fund(db, cust.id, 1000);
    // Funded now, but a retry can never turn the refusal into a success.
    expectRefused(await tx(db, (trx) => transfer(trx, req)), 'LEDGER_INSUFFICIENT_FUNDS', true);
    expect(await thrownCode(() => tx(db, (trx) => transfer(trx, { ...req, amount: 10 })))).toBe('LEDGER_TRANSFER_CONFLICT');
    expect((await getAccount(db, cust.id)).balance).toBe(1500);
    expectOk(await tx(db, (trx) => transfer(trx, { ...req, id: newId() })));
    expect((await getAccount(db, cust.id)).balance).toBe(700);
  });

  it('refuses bad input with stable codes', async () => {
    const cust = await fundedCustomer(db, 100);
    const st = await station();
    const points = await systemAccount(db, 'points_liability', 'main', 'Points', 'POINTS');
    const base = { debitAccountId: cust.id, creditAccountId: st.id, code: 'sale' };
    expectRefused(await tx(db, (trx) => transfer(trx, { ...base, id: newId(), amount: 0 })), 'LEDGER_AMOUNT_INVALID');
    expectRefused(await tx(db, (trx) => transfer(trx, { ...base, id: newId(), amount: -5 })), 'LEDGER_AMOUNT_INVALID');
    expectRefused(await tx(db, (trx) => transfer(trx, { ...base, id: newId(), amount: 1, creditAccountId: cust.id })), 'LEDGER_ACCOUNTS_INVALID');
    expectRefused(await tx(db, (trx) => transfer(trx, { ...base, id: newId(), amount: 1, creditAccountId: points.id })), 'LEDGER_CURRENCY_MISMATCH');
    expectRefused(await tx(db, (trx) => transfer(trx, { ...base, id: newId(), amount: 1, creditAccountId: 2 ** 40 })), 'LEDGER_ACCOUNT_NOT_FOUND');
    expectRefused(await tx(db, (trx) => postHold(trx, { id: newId(), pendingId: newId(), amount: null, code: 'sale' })), 'LEDGER_PENDING_NOT_FOUND');
    expect(await thrownCode(() => tx(db, (trx) => transfer(trx, { ...base, id: newId(), amount: 0.5 })))).toBe('LEDGER_AMOUNT_INVALID');
    expect(await thrownCode(() => tx(db, (trx) => transfer(trx, { ...base, id: newId(), amount: 2 ** 60 })))).toBe('LEDGER_AMOUNT_INVALID');
    expect(await thrownCode(() => tx(db, (trx) => hold(trx, { ...base, id: newId(), amount: 1, timeoutMs: 0 })))).toBe('LEDGER_AMOUNT_INVALID');
    expect((await getAccount(db, cust.id)).balance).toBe(100);
  });
});

describe('holds (pending transfers)', () => {
  const holdOf = (debit: number, credit: number, amount: number, timeoutMs = 600_000) =>
    tx(db, (trx) => hold(trx, { id: newId(), debitAccountId: debit, creditAccountId: credit, amount, code: 'preauth', timeoutMs }));

  it('count against available: 6 holds of 1000 against 5000, the 6th is refused (Blnk #181)', async () => {
    const cust = await fundedCustomer(db, 5000);
    const st = await station();
    for (let i = 0; i < 5; i++) expectOk(await holdOf(cust.id, st.id, 1000));
    expectRefused(await holdOf(cust.id, st.id, 1000), 'LEDGER_INSUFFICIENT_FUNDS');
    expectRefused(await tx(db, (trx) => transfer(trx, { id: newId(), debitAccountId: cust.id, creditAccountId: st.id, amount: 1, code: 'sale' })), 'LEDGER_INSUFFICIENT_FUNDS');
    const a = await getAccount(db, cust.id);
    expect(a).toMatchObject({ balance: 5000, available: 0, debitsPending: 5000, debitsPosted: 0 });
    expect((await getAccount(db, st.id)).creditsPending).toBeGreaterThanOrEqual(5000);
  });

  it('post for less than held releases the rest', async () => {
    const cust = await fundedCustomer(db, 10_000);
    const st = await station();
    const stBefore = await getAccount(db, st.id);
    const held = expectOk(await holdOf(cust.id, st.id, 10_000));
    expect(held.debitAvailableAfter).toBe(0);
    const posted = expectOk(await tx(db, (trx) => postHold(trx, { id: newId(), pendingId: held.transferId, amount: 6327, code: 'sale' })));
    expect(posted).toMatchObject({ amount: 6327, debitAccountId: cust.id, creditAccountId: st.id, debitBalanceAfter: 3673, debitAvailableAfter: 3673 });
    expect(await getAccount(db, cust.id)).toMatchObject({ balance: 3673, available: 3673, debitsPending: 0, debitsPosted: 6327 });
    const stAfter = await getAccount(db, st.id);
    expect(stAfter.creditsPending).toBe(stBefore.creditsPending);
    expect(stAfter.creditsPosted).toBe(stBefore.creditsPosted + 6327);
    const p = await db.selectFrom('ledger_pending').selectAll().where('id', '=', held.transferId).executeTakeFirstOrThrow();
    expect(p.state).toBe('posted');
  });

  it('post with amount null posts the whole hold; post above the hold is refused and the hold stays open', async () => {
    const cust = await fundedCustomer(db, 2000);
    const st = await station();
    const held = expectOk(await holdOf(cust.id, st.id, 1500));
    expectRefused(await tx(db, (trx) => postHold(trx, { id: newId(), pendingId: held.transferId, amount: 1501, code: 'sale' })), 'LEDGER_EXCEEDS_PENDING_AMOUNT');
    expect((await getAccount(db, cust.id)).debitsPending).toBe(1500);
    const posted = expectOk(await tx(db, (trx) => postHold(trx, { id: newId(), pendingId: held.transferId, amount: null, code: 'sale' })));
    expect(posted.amount).toBe(1500);
    expect(await getAccount(db, cust.id)).toMatchObject({ balance: 500, available: 500, debitsPending: 0 });
  });

  it('resolves at most once: double void, post after void, void after post are refused (Blnk #41)', async () => {
    const cust = await fundedCustomer(db, 3000);
    const st = await station();
    const a = expectOk(await holdOf(cust.id, st.id, 1000));
    expectOk(await tx(db, (trx) => voidHold(trx, { id: newId(), pendingId: a.transferId, code: 'cancel' })));
    expectRefused(await tx(db, (trx) => voidHold(trx, { id: newId(), pendingId: a.transferId, code: 'cancel' })), 'LEDGER_PENDING_ALREADY_VOIDED');
    expectRefused(await tx(db, (trx) => postHold(trx, { id: newId(), pendingId: a.transferId, amount: 10, code: 'sale' })), 'LEDGER_PENDING_ALREADY_VOIDED');
    const b = expectOk(await holdOf(cust.id, st.id, 1000));
    const postReq = { id: newId(), pendingId: b.transferId, amount: 400, code: 'sale' };
    expectOk(await tx(db, (trx) => postHold(trx, postReq)));
    expect(expectOk(await tx(db, (trx) => postHold(trx, postReq))).replayed).toBe(true);
    expectRefused(await tx(db, (trx) => voidHold(trx, { id: newId(), pendingId: b.transferId, code: 'cancel' })), 'LEDGER_PENDING_ALREADY_POSTED');
    expectRefused(await tx(db, (trx) => postHold(trx, { ...postReq, id: newId() })), 'LEDGER_PENDING_ALREADY_POSTED');
    expect(await getAccount(db, cust.id)).toMatchObject({ balance: 2600, available: 2600, debitsPending: 0 });
    // The database itself refuses a second resolution, whatever the code does.
    expect(
      await thrownCode(() =>
        sql`insert into ledger_transfers (id, kind, debit_account_id, credit_account_id, amount, currency, code, pending_id)
            values (${newId()}::uuid, 'void_pending', ${cust.id}, ${st.id}, 1000, 'CNY', 'x', ${b.transferId}::uuid)`.execute(db),
      ),
    ).toBe('23505');
    expect(await thrownCode(() => sql`update ledger_pending set state = 'voided' where id = ${b.transferId}::uuid`.execute(db))).toBe('23514');
  });

  it('expire via expireHolds; a post after expiry is refused, also before the sweeper ran', async () => {
    const cust = await fundedCustomer(db, 1000);
    const st = await station();
    const a = expectOk(await holdOf(cust.id, st.id, 300, 150));
    const b = expectOk(await holdOf(cust.id, st.id, 200, 150));
    const c = expectOk(await holdOf(cust.id, st.id, 100, 600_000));
    expect((await getAccount(db, cust.id)).available).toBe(400);
    // The sweeper's id for a hold is derived; trying it too early must not poison it for later.
    const early = await sql<{ status: string }>`select status from ledger_apply(${uuidFrom(`expire:${a.transferId}`)}::uuid, 'expire_pending',
      null, null, null, 'hold_expiry', ${a.transferId}::uuid, null, false, '{}', 'h')`.execute(db);
    expect(early.rows[0]?.status).toBe('pending_not_expired');
    await new Promise((r) => setTimeout(r, 300));
    // b expired but is not swept yet: it can no longer be posted.
    expectRefused(await tx(db, (trx) => postHold(trx, { id: newId(), pendingId: b.transferId, amount: 200, code: 'sale' })), 'LEDGER_PENDING_EXPIRED');
    expect(await expireHolds(db)).toBeGreaterThanOrEqual(2);
    expect(await expireHolds(db)).toBe(0);
    expect(await getAccount(db, cust.id)).toMatchObject({ balance: 1000, available: 900, debitsPending: 100 });
    for (const held of [a, b]) {
      const p = await db.selectFrom('ledger_pending').selectAll().where('id', '=', held.transferId).executeTakeFirstOrThrow();
      expect(p.state).toBe('expired');
      const exp = await db.selectFrom('ledger_transfers').selectAll().where('id', '=', uuidFrom(`expire:${held.transferId}`)).executeTakeFirstOrThrow();
      expect(exp).toMatchObject({ kind: 'expire_pending', pending_id: held.transferId, code: 'hold_expiry' });
    }
    expectRefused(await tx(db, (trx) => postHold(trx, { id: newId(), pendingId: a.transferId, amount: 1, code: 'sale' })), 'LEDGER_PENDING_ALREADY_EXPIRED');
    expectOk(await tx(db, (trx) => postHold(trx, { id: newId(), pendingId: c.transferId, amount: 100, code: 'sale' })));
  });
});

describe('account lifecycle', () => {
  it('closeAccount refuses with a balance or a hold; a closed account refuses transfers both ways', async () => {
    const st = await station();
    const cash = await cashClearing(db);
    const cust = await fundedCustomer(db, 100);
    expect(await thrownCode(() => tx(db, (trx) => closeAccount(trx, cust.id)))).toBe('LEDGER_ACCOUNTS_INVALID');
    expectOk(await tx(db, (trx) => transfer(trx, { id: newId(), debitAccountId: cust.id, creditAccountId: st.id, amount: 100, code: 'sale' })));

    // Zero balance but a hold outstanding: still refused.
    const busy = await fundedCustomer(db, 50);
    const held = expectOk(await tx(db, (trx) => hold(trx, { id: newId(), debitAccountId: busy.id, creditAccountId: st.id, amount: 50, code: 'preauth', timeoutMs: 60_000 })));
    expect(await thrownCode(() => tx(db, (trx) => closeAccount(trx, busy.id)))).toBe('LEDGER_ACCOUNTS_INVALID');
    expectOk(await tx(db, (trx) => postHold(trx, { id: newId(), pendingId: held.transferId, amount: null, code: 'sale' })));
    await tx(db, (trx) => closeAccount(trx, busy.id));

    await tx(db, (trx) => closeAccount(trx, cust.id));
    await tx(db, (trx) => closeAccount(trx, cust.id)); // closing twice is harmless
    expect((await getAccount(db, cust.id)).status).toBe('closed');
    expectRefused(await tx(db, (trx) => transfer(trx, { id: newId(), debitAccountId: cash.id, creditAccountId: cust.id, amount: 10, code: 'recharge' })), 'LEDGER_ACCOUNT_CLOSED');
    expectRefused(await tx(db, (trx) => transfer(trx, { id: newId(), debitAccountId: cust.id, creditAccountId: st.id, amount: 1, code: 'sale' })), 'LEDGER_ACCOUNT_CLOSED');
    expectRefused(await tx(db, (trx) => hold(trx, { id: newId(), debitAccountId: cust.id, creditAccountId: st.id, amount: 1, code: 'preauth', timeoutMs: 1000 })), 'LEDGER_ACCOUNT_CLOSED');
    expect(await getAccount(db, cust.id)).toMatchObject({ balance: 0, debitsPending: 0, creditsPending: 0 });
  });
});
