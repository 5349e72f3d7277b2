import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js';
import type { Db } from '../platform/index.js';
import { accountEntries } from './ledger.entries.js';
import { concurrently, expectOk, expectRefused, expectVerified, fundedCustomer, newId, tx } from './ledger.fixtures.js';
import { expireHolds, getAccount, hold, lockAccounts, openAccount, postHold, systemAccount, transfer, voidHold } from './ledger.service.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const N = 20;
let h: TestDatabase;
let db: Db;

beforeAll(async () => {
  h = await createTestDatabase(N + 1);
  db = h.db;
});
afterAll(async () => h.close());
afterEach(async () => expectVerified(db));

const station = () => systemAccount(db, 'station_settlement', 'st1', 'Station 1');

describe('concurrency on a real PostgreSQL', () => {
  it(`${N} concurrent posts of the same hold: exactly one wins`, async () => {
    const cust = await fundedCustomer(db, 5000);
    const st = await station();
    const held = expectOk(await tx(db, (trx) => hold(trx, { id: newId(), debitAccountId: cust.id, creditAccountId: st.id, amount: 5000, code: 'preauth', timeoutMs: 60_000 })));
    const results = await concurrently(db, N, (trx, i) => postHold(trx, { id: newId(), pendingId: held.transferId, amount: 1000 + i, code: 'sale' }));
    const winners = results.filter((r) => r.ok);
    expect(winners).toHaveLength(1);
    for (const r of results) if (!r.ok) expect(r.code).toBe('LEDGER_PENDING_ALREADY_POSTED');
    const posted = winners[0]?.amount ?? 0;
    expect(await getAccount(db, cust.id)).toMatchObject({ balance: 5000 - posted, debitsPending: 0, debitsPosted: posted });
  });

  it(`post and void racing on one hold from ${N} connections: exactly one resolution`, async () => {
    const cust = await fundedCustomer(db, 800);
    const st = await station();
    const held = expectOk(await tx(db, (trx) => hold(trx, { id: newId(), debitAccountId: cust.id, creditAccountId: st.id, amount: 800, code: 'preauth', timeoutMs: 60_000 })));
    const results = await concurrently(db, N, (trx, i) =>
      i % 2 === 0
        ? postHold(trx, { id: newId(), pendingId: held.transferId, amount: null, code: 'sale' })
        : voidHold(trx, { id: newId(), pendingId: held.transferId, code: 'cancel' }),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    const n = await db.selectFrom('ledger_transfers').select((eb) => eb.fn.countAll<string>().as('n')).where('pending_id', '=', held.transferId).executeTakeFirstOrThrow();
    expect(Number(n.n)).toBe(1);
    expect((await getAccount(db, cust.id)).debitsPending).toBe(0);
  });

  it(`the same transfer id from ${N} connections is applied once; the others are replays`, async () => {
    const cust = await fundedCustomer(db, 1000);
    const st = await station();
    const req = { id: newId(), debitAccountId: cust.id, creditAccountId: st.id, amount: 700, code: 'sale' };
    const results = (await concurrently(db, N, (trx) => transfer(trx, req))).map(expectOk);
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
    expect((await getAccount(db, cust.id)).balance).toBe(300);
  });

  it(`the same failing id from ${N} connections: every reply is the same refusal`, async () => {
    const cust = await fundedCustomer(db, 100);
    const st = await station();
    const req = { id: newId(), debitAccountId: cust.id, creditAccountId: st.id, amount: 700, code: 'sale' };
    const results = await concurrently(db, N, (trx) => transfer(trx, req));
    for (const r of results) expect(r).toMatchObject({ ok: false, code: 'LEDGER_INSUFFICIENT_FUNDS' });
    expect(results.filter((r) => !r.ok && !r.alreadyFailed)).toHaveLength(1);
  });

  it('concurrent credits to one destination lose no update (Blnk #238)', async () => {
    const dest = await openAccount(db, { kind: 'reserve', name: 'master reserve' });
    const sources = await Promise.all(Array.from({ length: N }, (_, i) => fundedCustomer(db, 1000, `src${i}`)));
    const rounds = 3;
    for (let r = 0; r < rounds; r++) {
      await concurrently(db, N, async (trx, i) => {
        const src = sources[i];
        if (!src) throw new Error('no source');
        return expectOk(await transfer(trx, { id: newId(), debitAccountId: src.id, creditAccountId: dest.id, amount: 10 + i, code: 'allocation' }));
      });
    }
    const expected = rounds * Array.from({ length: N }, (_, i) => 10 + i).reduce((a, b) => a + b, 0);
    expect(await getAccount(db, dest.id)).toMatchObject({ balance: expected, creditsPosted: expected });
  });

  it('opposite transfers A→B and B→A concurrently do not deadlock', async () => {
    const a = await fundedCustomer(db, 10_000, 'A');
    const b = await fundedCustomer(db, 10_000, 'B');
    const rounds = 5;
    for (let r = 0; r < rounds; r++) {
      const results = await concurrently(db, N, (trx, i) =>
        i % 2 === 0
          ? transfer(trx, { id: newId(), debitAccountId: a.id, creditAccountId: b.id, amount: 7, code: 'allocation' })
          : transfer(trx, { id: newId(), debitAccountId: b.id, creditAccountId: a.id, amount: 3, code: 'recall' }),
      );
      results.forEach(expectOk);
    }
    const moved = rounds * (N / 2) * (7 - 3);
    expect((await getAccount(db, a.id)).balance).toBe(10_000 - moved);
    expect((await getAccount(db, b.id)).balance).toBe(10_000 + moved);
  });

  it('under contention, each account statement is a running balance: balance_after follows entry order', async () => {
    const cust = await fundedCustomer(db, 100_000);
    const st = await openAccount(db, { kind: 'station_settlement', name: 'busy station', noOverdraft: false });
    for (let r = 0; r < 2; r++) {
      await concurrently(db, N, async (trx, i) => expectOk(await transfer(trx, { id: newId(), debitAccountId: cust.id, creditAccountId: st.id, amount: i + 1, code: 'sale' })));
    }
    for (const id of [cust.id, st.id]) {
      const entries = (await accountEntries(db, id, { limit: 200 })).items.reverse(); // oldest first
      let running = 0;
      for (const e of entries) {
        running += e.amount;
        expect(e.balanceAfter).toBe(running);
      }
    }
  });

  it('a post that waited for the account lock until after the hold expired is refused', async () => {
    const cust = await fundedCustomer(db, 1000);
    const st = await station();
    const held = expectOk(await tx(db, (trx) => hold(trx, { id: newId(), debitAccountId: cust.id, creditAccountId: st.id, amount: 100, code: 'preauth', timeoutMs: 1000 })));
    let release = () => {};
    const released = new Promise<void>((r) => (release = r));
    const locker = tx(db, async (trx) => {
      await lockAccounts(trx, [cust.id]);
      await released;
    });
    await sleep(50);
    // Checked before the wait the hold is live; by the time the lock is granted it has expired.
    const post = tx(db, (trx) => postHold(trx, { id: newId(), pendingId: held.transferId, amount: 100, code: 'sale' }));
    await sleep(1200);
    release();
    await locker;
    expectRefused(await post, 'LEDGER_PENDING_EXPIRED');
    expect(await getAccount(db, cust.id)).toMatchObject({ balance: 1000, debitsPending: 100 });
    expect(await expireHolds(db)).toBeGreaterThanOrEqual(1);
  });

  it('concurrent debits and holds never overdraw: exactly the affordable number succeed', async () => {
    const cust = await fundedCustomer(db, 1000);
    const st = await station();
    const results = await concurrently(db, N, (trx, i) =>
      i % 2 === 0
        ? transfer(trx, { id: newId(), debitAccountId: cust.id, creditAccountId: st.id, amount: 100, code: 'sale' })
        : hold(trx, { id: newId(), debitAccountId: cust.id, creditAccountId: st.id, amount: 100, code: 'preauth', timeoutMs: 60_000 }),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(10);
    for (const r of results) if (!r.ok) expect(r.code).toBe('LEDGER_INSUFFICIENT_FUNDS');
    expect(await getAccount(db, cust.id)).toMatchObject({ available: 0 });
  });

  it('one lock order: a void that locked nothing first waits for the card\'s account, so a sale holding it gets the settlement account (no deadlock)', async () => {
    // The station's settlement account is older than the card's account, as on a real server.
    const st = await systemAccount(db, 'station_settlement', `order-${newId().slice(0, 8)}`, 'Station opened first');
    const cust = await fundedCustomer(db, 5000);
    expect(st.id).toBeLessThan(cust.id);
    const held = expectOk(await tx(db, (trx) => hold(trx, { id: newId(), debitAccountId: cust.id, creditAccountId: st.id, amount: 1000, code: 'preauth', timeoutMs: 60_000 })));

    // The sale: the card's accounts locked first, the debit to the settlement account last.
    let go!: () => void;
    const gate = new Promise<void>((r) => (go = r));
    let locked = false;
    const sale = tx(db, async (trx) => {
      await lockAccounts(trx, [cust.id]);
      locked = true;
      await gate;
      return transfer(trx, { id: newId(), debitAccountId: cust.id, creditAccountId: st.id, amount: 500, code: 'sale' });
    });
    while (!locked) await sleep(5);
    // The reversal: voids the hold without locking anything first. It must queue behind the card's
    // account before it takes the settlement account the sale is about to ask for.
    const reversal = tx(db, (trx) => voidHold(trx, { id: newId(), pendingId: held.transferId, code: 'reversal' }));
    const waiting = async () =>
      Number((await sql<{ n: number }>`select count(*)::int n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`.execute(db)).rows[0]!.n);
    for (let i = 0; i < 400 && (await waiting()) === 0; i++) await sleep(5);
    expect(await waiting()).toBe(1);
    go();
    // With the accounts locked in plain id order, one of the two was chosen as a deadlock victim (40P01).
    const [s, r] = await Promise.all([sale, reversal]);
    expectOk(s);
    expectOk(r);
    expect(await getAccount(db, cust.id)).toMatchObject({ balance: 4500, debitsPending: 0 });
  });
});
