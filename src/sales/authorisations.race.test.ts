import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { card, expectLedgerOk, newCard, PIN, saleBody, sell } from '../../test/support/fuel.js';
import { expireAuthorisations } from './authorisations.jobs.js';
import { authorisationRow, authorise, complete, fuel, holdStates, makeDue, newForecourt, type Forecourt } from './authorisations.testkit.js';
import { lockTerminalRef } from './forecourt-locks.js';

/**
 * The races the issue names, through the running server on PostgreSQL: each resolves once, the
 * money moves once, and the ledger's invariants hold after each.
 */
let server: TestServer;
let fc: Forecourt;

beforeAll(async () => {
  server = await startTestServer();
  fc = await newForecourt(server);
});
afterAll(async () => server?.close());
afterEach(async () => expectLedgerOk(server));

const ROUNDS = 5;

async function completionSales(authorisationId: string) {
  const r = await sql<{ id: string; status: string; forced: boolean; amount: number }>`
    select id, status, forced, amount from sales where authorisation_id = ${authorisationId} and status <> 'declined'`.execute(server.db.db);
  return r.rows;
}

describe('two completions of one hold at once', () => {
  it('one wins, the other is 409 AUTHORISATION_ALREADY_COMPLETED, the money is posted once', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const cardNo = await newCard(server, { funds: 50_000 });
      const a = await authorise(server, fc.terminal, { cardNo, pin: PIN, nozzle: 1, mode: 'preauth', amount: 40_000 });
      expect(a.body.status).toBe('approved');
      const [x, y] = await Promise.all([
        complete(server, fc.terminal, a.body.authorisationId, fuel(30_000)),
        complete(server, fc.cashier, a.body.authorisationId, fuel(25_000)),
      ]);
      const statuses = [x.status, y.status].sort();
      expect(statuses).toEqual([200, 409]);
      const loser = x.status === 409 ? x : y;
      const winner = x.status === 200 ? x : y;
      expect(loser.body.error.code).toBe('AUTHORISATION_ALREADY_COMPLETED');
      expect(loser.body.error.details.saleId).toBe(winner.body.saleId);
      const sales = await completionSales(a.body.authorisationId);
      expect(sales).toHaveLength(1);
      expect(await card(server, cardNo)).toMatchObject({ balance: 50_000 - winner.body.amount, available: 50_000 - winner.body.amount });
      expect(await holdStates(server.db.db, a.body.authorisationId)).toEqual(['posted']);
      await expectLedgerOk(server);
    }
  });
});

describe('a completion racing the expiry job', () => {
  it('resolves once: completed from the hold, or expired then forced — never both', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const cardNo = await newCard(server, { funds: 50_000 });
      const a = await authorise(server, fc.terminal, { cardNo, pin: PIN, nozzle: 2, mode: 'preauth', amount: 40_000 });
      // Alternate: a hold still in time (the job must leave it alone) and one past its time.
      const due = round % 2 === 0;
      if (due) await makeDue(server.db.db, a.body.authorisationId);
      const [c, expired] = await Promise.all([complete(server, fc.terminal, a.body.authorisationId, fuel(30_000)), expireAuthorisations(server.db.db)]);
      expect(c.status).toBe(200);
      expect(c.body.status).toBe('approved');
      const row = await authorisationRow(server.db.db, a.body.authorisationId);
      const sales = await completionSales(a.body.authorisationId);
      expect(sales).toHaveLength(1);
      if (due) {
        expect(row.status).toBe('forced');
        expect(sales[0]!.forced).toBe(true);
        expect(await holdStates(server.db.db, a.body.authorisationId)).toEqual(['voided']);
        expect(expired).toBeLessThanOrEqual(1);
      } else {
        expect(row.status).toBe('completed');
        expect(sales[0]!.forced).toBe(false);
        expect(await holdStates(server.db.db, a.body.authorisationId)).toEqual(['posted']);
        expect(expired).toBe(0);
      }
      expect(await card(server, cardNo)).toMatchObject({ balance: 20_000, available: 20_000 });
      expect(await expireAuthorisations(server.db.db)).toBe(0);
      await expectLedgerOk(server);
    }
  });
});

describe('one nozzle authorised twice at once', () => {
  it('one is approved, the other declined NOZZLE_BUSY, and only one hold is placed', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const nozzle = 3 + round;
      const [c1, c2] = [await newCard(server, { funds: 10_000 }), await newCard(server, { funds: 10_000 })];
      const [x, y] = await Promise.all([
        authorise(server, fc.terminal, { cardNo: c1, pin: PIN, nozzle, mode: 'prepay', amount: 6_000 }),
        authorise(server, fc.cashier, { cardNo: c2, pin: PIN, nozzle, mode: 'prepay', amount: 6_000 }),
      ]);
      expect([x.status, y.status]).toEqual([200, 200]);
      expect([x.body.status, y.body.status].sort()).toEqual(['approved', 'declined']);
      const loser = x.body.status === 'declined' ? x : y;
      expect(loser.body.declineCode).toBe('NOZZLE_BUSY');
      const avail = [(await card(server, c1)).available, (await card(server, c2)).available].sort((p, q) => p - q);
      expect(avail).toEqual([4_000, 10_000]);
      const open = await sql<{ n: number }>`select count(*)::int as n from pump_authorisations where station_id = ${fc.stationId} and nozzle = ${nozzle} and status = 'held'`.execute(server.db.db);
      expect(open.rows[0]!.n).toBe(1);
    }
  });
});

describe('a late original after its reversal', () => {
  async function recordReversal(terminalId: string, ref: string): Promise<void> {
    await sql`insert into sale_reversals (id, terminal_id, original_ref, kind, reason, target) values (${randomUUID()}, ${terminalId}, ${ref}, 'reversal', 'timeout', 'none')`.execute(server.db.db);
  }

  it('a sale whose reference was reversed first is declined ALREADY_REVERSED and moves nothing', async () => {
    const cardNo = await newCard(server, { funds: 10_000 });
    const key = randomUUID();
    await recordReversal(fc.terminal.terminalId, key);
    const r = await sell(server, fc.terminal, saleBody(cardNo, 2_000), { idempotencyKey: key });
    expect(r.body).toMatchObject({ status: 'declined', declineCode: 'ALREADY_REVERSED', balance: null });
    expect(await card(server, cardNo)).toMatchObject({ balance: 10_000, available: 10_000 });
    // Only this terminal's reference: another terminal's sale with the same key is its own.
    expect((await sell(server, fc.cashier, saleBody(cardNo, 2_000), { idempotencyKey: key })).body.status).toBe('approved');
  });

  it('an authorisation and a completion whose references were reversed first are declined ALREADY_REVERSED', async () => {
    const cardNo = await newCard(server, { funds: 10_000 });
    const key = randomUUID();
    await recordReversal(fc.terminal.terminalId, key);
    const a = await authorise(server, fc.terminal, { cardNo, pin: PIN, nozzle: 1, mode: 'prepay', amount: 5_000 }, key);
    expect(a.body).toMatchObject({ status: 'declined', declineCode: 'ALREADY_REVERSED', heldAmount: 0 });
    const ok = await authorise(server, fc.terminal, { cardNo, pin: PIN, nozzle: 1, mode: 'prepay', amount: 5_000 });
    const doneKey = randomUUID();
    await recordReversal(fc.terminal.terminalId, doneKey);
    const c = await complete(server, fc.terminal, ok.body.authorisationId, fuel(4_000), doneKey);
    expect(c.body).toMatchObject({ status: 'declined', declineCode: 'ALREADY_REVERSED' });
    expect(await authorisationRow(server.db.db, ok.body.authorisationId)).toMatchObject({ status: 'held' });
    expect((await complete(server, fc.terminal, ok.body.authorisationId, fuel(4_000))).body.status).toBe('approved');
    expect(await card(server, cardNo)).toMatchObject({ balance: 6_000, available: 6_000 });
  });

  it('an original arriving while its reversal is being recorded waits for it, then is declined', async () => {
    const cardNo = await newCard(server, { funds: 10_000 });
    const key = randomUUID();
    let pending: Promise<Awaited<ReturnType<typeof sell>>> | undefined;
    await server.db.db.transaction().execute(async (trx) => {
      // The reversal's side: the reference lock first, as the reversal route takes it.
      await lockTerminalRef(trx, fc.terminal.terminalId, key);
      await sql`insert into sale_reversals (id, terminal_id, original_ref, kind, reason, target) values (${randomUUID()}, ${fc.terminal.terminalId}, ${key}, 'reversal', 'timeout', 'none')`.execute(trx);
      pending = sell(server, fc.terminal, saleBody(cardNo, 2_000), { idempotencyKey: key });
      // Commit only once the original is queued behind the lock.
      for (;;) {
        const w = await sql<{ n: number }>`select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted`.execute(server.db.db);
        if (w.rows[0]!.n > 0) break;
      }
    });
    const r = await pending!;
    expect(r.body).toMatchObject({ status: 'declined', declineCode: 'ALREADY_REVERSED' });
    expect(await card(server, cardNo)).toMatchObject({ balance: 10_000, available: 10_000 });
  });
});
