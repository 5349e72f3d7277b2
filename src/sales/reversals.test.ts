import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, terminalPost, type TestServer } from '../../test/support/server.js';
import { balanceOf, card, expectLedgerOk, moneySnapshot, newCard, newStation, newTerminal, saleBody, sell, type Terminal } from '../../test/support/fuel.js';
import { approvedSale, reverse, saleRow, settlementBalance, usageOf } from './reversals.fixtures.js';
import { addGoods } from './authorisations.testkit.js';

/**
 * Terminal reversals (冲正) end to end: signed requests over HTTP on a real PostgreSQL, the
 * original found by its terminal reference (the Idempotency-Key it was sent with).
 */
let server: TestServer;
let terminal: Terminal;
let other: Terminal;
let stationId: number;
let settlementAccountId: number;

beforeAll(async () => {
  server = await startTestServer();
  const st = await newStation(server);
  terminal = st.terminal;
  stationId = st.stationId;
  settlementAccountId = st.settlementAccountId;
  other = await newTerminal(server, stationId);
  const nozzles = await server.api('PUT', `/api/v1/stations/${stationId}/nozzles`, {
    body: { items: [1, 2, 3, 4, 5, 6].map((nozzle) => ({ nozzle, grade: '92#' })) },
  });
  expect(nozzles.status).toBe(200);
});
afterAll(async () => server?.close());
afterEach(async () => expectLedgerOk(server));

describe('reversal of a sale', () => {
  it('gives an approved sale’s money back once, releases the card’s usage, and answers a repeat as the first', async () => {
    const cardNo = await newCard(server, { funds: 50_000 });
    const settlementBefore = await settlementBalance(server, settlementAccountId);
    const { saleId, ref } = await approvedSale(server, terminal, cardNo, 12_000);
    expect(await balanceOf(server, cardNo)).toBe(38_000);
    expect(await usageOf(server, cardNo)).toEqual({ amount: 12_000, fills: 1 });

    const r = await reverse(server, terminal, ref, 'timeout');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ originalRef: ref, target: 'sale', saleId, amount: 12_000, status: 'reversed', actionCode: '400' });
    expect(r.body.authorisationId).toBeUndefined();
    expect(await balanceOf(server, cardNo)).toBe(50_000);
    expect(await settlementBalance(server, settlementAccountId)).toBe(settlementBefore);
    expect(await usageOf(server, cardNo)).toEqual({ amount: 0, fills: 0 });
    const row = await saleRow(server, saleId);
    expect(row.status).toBe('reversed');
    expect(row.reversed_at).not.toBeNull();

    const before = await moneySnapshot(server.db.db);
    const again = await reverse(server, terminal, ref, 'other', randomUUID());
    expect(again.status).toBe(200);
    expect(again.body).toEqual(r.body);
    expect(await moneySnapshot(server.db.db)).toEqual(before);
    expect(await balanceOf(server, cardNo)).toBe(50_000);

    const rec = await server.api('GET', `/api/v1/sales/${saleId}`);
    expect(rec.body.status).toBe('reversed');
    const events = await sql<{ topic: string }>`select topic from outbox_events where aggregate_id = ${saleId} order by id`.execute(server.db.db);
    expect(events.rows.map((e) => e.topic)).toEqual(['sale.approved', 'sale.reversed']);
  });

  it('spreads the money back over the accounts exactly as the sale took it', async () => {
    const master = await newCard(server, { kind: 'master' });
    const sub = await newCard(server, { kind: 'sub', masterCardNo: master, sharedBalance: true });
    const c = await card(server, sub);
    expect(c.accounts.length).toBe(2);
    await server.api('POST', `/api/v1/cards/${sub}/recharges`, { body: { amount: 3_000, channel: 'cash' }, idempotencyKey: randomUUID() });
    await server.api('POST', `/api/v1/cards/${master}/recharges`, { body: { amount: 10_000, channel: 'cash' }, idempotencyKey: randomUUID() });
    const accountsBefore = (await card(server, sub)).accounts.map((a: any) => [a.accountId, a.balance]);
    const { ref, saleId } = await approvedSale(server, terminal, sub, 5_000);
    const transfers = (await server.api('GET', `/api/v1/sales/${saleId}`)).body.transfers;
    expect(transfers.length).toBe(2);
    const r = await reverse(server, terminal, ref);
    expect(r.body.amount).toBe(5_000);
    expect((await card(server, sub)).accounts.map((a: any) => [a.accountId, a.balance])).toEqual(accountsBefore);
  });

  it('records a reversal of a declined sale and moves nothing', async () => {
    const cardNo = await newCard(server, { funds: 1_000 });
    const ref = randomUUID();
    const s = await sell(server, terminal, saleBody(cardNo, 5_000), { idempotencyKey: ref });
    expect(s.body).toMatchObject({ status: 'declined', declineCode: 'INSUFFICIENT_FUNDS' });
    const before = await moneySnapshot(server.db.db);
    const r = await reverse(server, terminal, ref, 'bad_response');
    expect(r.body).toMatchObject({ target: 'sale', saleId: s.body.saleId, amount: 0, status: 'recorded', actionCode: '400' });
    expect(await moneySnapshot(server.db.db)).toEqual(before);
    expect((await saleRow(server, s.body.saleId)).status).toBe('declined');
  });

  it('knows only this terminal’s originals: another terminal’s reference is an unknown one here', async () => {
    const cardNo = await newCard(server, { funds: 10_000 });
    const { ref, saleId } = await approvedSale(server, other, cardNo, 2_000);
    const r = await reverse(server, terminal, ref);
    expect(r.body).toMatchObject({ target: 'none', status: 'recorded', amount: 0 });
    expect((await saleRow(server, saleId)).status).toBe('approved');
    expect(await balanceOf(server, cardNo)).toBe(8_000);
  });

  it('refuses a bad body with 400 naming the field, and a bad reason', async () => {
    const bad = await terminalPost(server, terminal, '/api/v1/pos/reversals', { originalRef: 'a b', reason: 'timeout' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('VALIDATION_FAILED');
    const reason = await terminalPost(server, terminal, '/api/v1/pos/reversals', { originalRef: 'abc', reason: 'because' });
    expect(reason.status).toBe(400);
    const extra = await terminalPost(server, terminal, '/api/v1/pos/reversals', { originalRef: 'abc', reason: 'timeout', amount: 5 });
    expect(extra.status).toBe(400);
  });
});

describe('reversal before the original (network reordering)', () => {
  it('is recorded with target none; the late original is declined ALREADY_REVERSED and moves nothing', async () => {
    const cardNo = await newCard(server, { funds: 20_000 });
    const ref = randomUUID();
    const r = await reverse(server, terminal, ref, 'timeout');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ originalRef: ref, target: 'none', amount: 0, status: 'recorded', actionCode: '400' });
    expect(r.body.saleId).toBeUndefined();

    const before = await moneySnapshot(server.db.db);
    const late = await sell(server, terminal, saleBody(cardNo, 3_000), { idempotencyKey: ref });
    expect(late.status).toBe(200);
    expect(late.body).toMatchObject({ status: 'declined', declineCode: 'ALREADY_REVERSED' });
    expect(await moneySnapshot(server.db.db)).toEqual(before);
    expect(await balanceOf(server, cardNo)).toBe(20_000);

    // The reversal again: still the first answer (it did not start pointing at the declined original).
    expect((await reverse(server, terminal, ref)).body).toEqual(r.body);
  });
});

describe('races through the server', () => {
  it('a reversal racing its original: either approved then reversed, or declined ALREADY_REVERSED; money back once', async () => {
    const outcomes = { approvedThenReversed: 0, declinedAlreadyReversed: 0 };
    for (let round = 0; round < 12; round++) {
      const cardNo = await newCard(server, { funds: 30_000 });
      const ref = randomUUID();
      const [s, r] = await Promise.all([sell(server, terminal, saleBody(cardNo, 7_000), { idempotencyKey: ref }), reverse(server, terminal, ref)]);
      expect(s.status).toBe(200);
      expect(r.status).toBe(200);
      if (s.body.status === 'approved') {
        expect(r.body).toMatchObject({ target: 'sale', saleId: s.body.saleId, amount: 7_000, status: 'reversed' });
        expect((await saleRow(server, s.body.saleId)).status).toBe('reversed');
        outcomes.approvedThenReversed++;
      } else {
        expect(s.body.declineCode).toBe('ALREADY_REVERSED');
        expect(r.body).toMatchObject({ target: 'none', amount: 0, status: 'recorded' });
        outcomes.declinedAlreadyReversed++;
      }
      expect(await balanceOf(server, cardNo)).toBe(30_000);
      // Retries of either side change nothing.
      expect((await sell(server, terminal, saleBody(cardNo, 7_000), { idempotencyKey: ref })).body).toEqual(s.body);
      expect((await reverse(server, terminal, ref)).body).toEqual(r.body);
      expect(await balanceOf(server, cardNo)).toBe(30_000);
    }
    expect(outcomes.approvedThenReversed + outcomes.declinedAlreadyReversed).toBe(12);
  });

  it('the same reversal twice at once gives the money back once, with one reversal id', async () => {
    for (let round = 0; round < 6; round++) {
      const cardNo = await newCard(server, { funds: 10_000 });
      const { ref, saleId } = await approvedSale(server, terminal, cardNo, 4_000);
      const [a, b, c] = await Promise.all([reverse(server, terminal, ref), reverse(server, terminal, ref, 'other'), reverse(server, terminal, ref, 'timeout', randomUUID())]);
      for (const x of [a, b, c]) expect(x.status).toBe(200);
      expect(b.body).toEqual(a.body);
      expect(c.body).toEqual(a.body);
      expect(a.body).toMatchObject({ saleId, amount: 4_000, status: 'reversed' });
      expect(await balanceOf(server, cardNo)).toBe(10_000);
      const rows = await sql<{ n: number }>`select count(*)::int as n from sale_reversals where sale_id = ${saleId}`.execute(server.db.db);
      expect(rows.rows[0]!.n).toBe(1);
    }
  });
});

describe('reversal of a pump authorisation', () => {
  async function authorise(cardNo: string, nozzle: number, amount = 20_000, mode: 'preauth' | 'prepay' = 'preauth') {
    const ref = randomUUID();
    const r = await terminalPost(server, terminal, '/api/v1/pos/authorisations', { cardNo, pin: '123456', nozzle, mode, amount }, { idempotencyKey: ref });
    if (r.status !== 200 || r.body.status !== 'approved') throw new Error(`authorisation: ${r.status} ${JSON.stringify(r.body)}`);
    return { ref, authorisationId: r.body.authorisationId as string, held: r.body.heldAmount as number };
  }
  const authStatus = async (id: string) =>
    (await sql<{ status: string }>`select status from pump_authorisations where id = ${id}`.execute(server.db.db)).rows[0]!.status;

  it('releases an open hold: the card’s available balance is whole again, the nozzle free', async () => {
    const cardNo = await newCard(server, { funds: 30_000 });
    const { ref, authorisationId, held } = await authorise(cardNo, 1);
    expect((await card(server, cardNo)).available).toBe(30_000 - held);
    const r = await reverse(server, terminal, ref, 'pump_failure');
    expect(r.body).toMatchObject({ target: 'authorisation', authorisationId, amount: held, status: 'reversed' });
    expect(r.body.saleId).toBeUndefined();
    expect(await authStatus(authorisationId)).toBe('reversed');
    const c = await card(server, cardNo);
    expect(c.available).toBe(30_000);
    expect(c.balance).toBe(30_000);
    // The completion after the reversal is refused; the nozzle can be authorised again.
    const done = await terminalPost(server, terminal, `/api/v1/pos/authorisations/${authorisationId}/completion`, { volumeMl: 1000, unitPrice: 800, amount: 800 }, { idempotencyKey: randomUUID() });
    expect(done.status).toBe(409);
    expect(done.body.error.code).toBe('AUTHORISATION_REVERSED');
    const again = await authorise(cardNo, 1, 5_000);
    await reverse(server, terminal, again.ref);
    expect((await card(server, cardNo)).available).toBe(30_000);
  });

  it('reverses a completed authorisation through its completion sale', async () => {
    const cardNo = await newCard(server, { funds: 30_000 });
    const { ref, authorisationId } = await authorise(cardNo, 2);
    const completionRef = randomUUID();
    const done = await terminalPost(server, terminal, `/api/v1/pos/authorisations/${authorisationId}/completion`, { volumeMl: 10_000, unitPrice: 800, amount: 8_000 }, { idempotencyKey: completionRef });
    expect(done.body.status).toBe('approved');
    expect(await balanceOf(server, cardNo)).toBe(22_000);
    const r = await reverse(server, terminal, ref, 'customer_cancel');
    expect(r.body).toMatchObject({ target: 'authorisation', authorisationId, saleId: done.body.saleId, amount: 8_000, status: 'reversed' });
    expect(await balanceOf(server, cardNo)).toBe(30_000);
    expect((await card(server, cardNo)).available).toBe(30_000);
    expect(await authStatus(authorisationId)).toBe('reversed');
    expect((await saleRow(server, done.body.saleId)).status).toBe('reversed');
    // Naming the completion now finds its sale already reversed: recorded, nothing moves twice.
    const viaCompletion = await reverse(server, terminal, completionRef);
    expect(viaCompletion.body).toMatchObject({ target: 'sale', saleId: done.body.saleId, amount: 0, status: 'recorded' });
    expect(await balanceOf(server, cardNo)).toBe(30_000);
  });

  it('reverses a completion sale by its own reference and closes its authorisation too', async () => {
    const cardNo = await newCard(server, { funds: 30_000 });
    const { ref, authorisationId } = await authorise(cardNo, 3);
    const completionRef = randomUUID();
    const done = await terminalPost(server, terminal, `/api/v1/pos/authorisations/${authorisationId}/completion`, { volumeMl: 5_000, unitPrice: 800, amount: 4_000 }, { idempotencyKey: completionRef });
    expect(done.body.status).toBe('approved');
    const r = await reverse(server, terminal, completionRef);
    expect(r.body).toMatchObject({ target: 'sale', saleId: done.body.saleId, amount: 4_000, status: 'reversed' });
    expect(await authStatus(authorisationId)).toBe('reversed');
    const viaAuth = await reverse(server, terminal, ref);
    expect(viaAuth.body).toMatchObject({ target: 'authorisation', authorisationId, amount: 0, status: 'recorded' });
    expect(await balanceOf(server, cardNo)).toBe(30_000);
  });

  it('an expired authorisation is recorded; nothing is left to move', async () => {
    const cardNo = await newCard(server, { funds: 30_000 });
    const { ref, authorisationId } = await authorise(cardNo, 4);
    // Expire it as the expiry job would once its time has passed.
    await sql`update pump_authorisations set expires_at = now() - interval '1 second' where id = ${authorisationId}`.execute(server.db.db);
    const { expireAuthorisations } = await import('./authorisations.jobs.js');
    await expireAuthorisations(server.db.db, 100);
    expect(await authStatus(authorisationId)).toBe('expired');
    const before = await moneySnapshot(server.db.db);
    const r = await reverse(server, terminal, ref);
    expect(r.body).toMatchObject({ target: 'authorisation', authorisationId, amount: 0, status: 'recorded' });
    expect(await moneySnapshot(server.db.db)).toEqual(before);
    expect((await card(server, cardNo)).available).toBe(30_000);
    // The terminal said the fill did not happen: a late completion is refused, not posted as a forced sale.
    expect(await authStatus(authorisationId)).toBe('reversed');
    const late = await terminalPost(server, terminal, `/api/v1/pos/authorisations/${authorisationId}/completion`, { volumeMl: 1000, unitPrice: 800, amount: 800 }, { idempotencyKey: randomUUID() });
    expect(late.status).toBe(409);
    expect(late.body.error.code).toBe('AUTHORISATION_REVERSED');
    expect(await moneySnapshot(server.db.db)).toEqual(before);
    expect((await reverse(server, terminal, ref)).body).toEqual(r.body);
  });

  it('a reversal racing the completion: exactly one wins, the money ends where one of them left it', async () => {
    for (let round = 0; round < 5; round++) {
      const cardNo = await newCard(server, { funds: 30_000 });
      const { ref, authorisationId } = await authorise(cardNo, 5);
      const [done, r] = await Promise.all([
        terminalPost(server, terminal, `/api/v1/pos/authorisations/${authorisationId}/completion`, { volumeMl: 5_000, unitPrice: 800, amount: 4_000 }, { idempotencyKey: randomUUID() }),
        reverse(server, terminal, ref),
      ]);
      expect(r.status).toBe(200);
      expect(r.body.status).toBe('reversed');
      if (done.status === 200) {
        // Completed first: the reversal then gave the completion's money back.
        expect(r.body).toMatchObject({ saleId: done.body.saleId, amount: 4_000 });
      } else {
        expect(done.body.error.code).toBe('AUTHORISATION_REVERSED');
        expect(r.body.saleId).toBeUndefined();
      }
      const c = await card(server, cardNo);
      expect([c.balance, c.available]).toEqual([30_000, 30_000]);
      expect(await authStatus(authorisationId)).toBe('reversed');
    }
  });
});

describe('reversal of a post-pay sale', () => {
  it('puts the pump sale back to unpaid, so it can be paid again', async () => {
    const cardNo = await newCard(server, { funds: 30_000 });
    const ps = await terminalPost(server, terminal, '/api/v1/pos/pump-sales', { nozzle: 6, volumeMl: 10_000, unitPrice: 800, amount: 8_000 }, { idempotencyKey: randomUUID() });
    expect(ps.status).toBe(201);
    const pumpSaleId = ps.body.pumpSaleId as string;
    const payRef = randomUUID();
    const paid = await sell(server, terminal, { cardNo, pin: '123456', amount: 8_000, pumpSaleId }, { idempotencyKey: payRef });
    expect(paid.body.status).toBe('approved');
    const r = await reverse(server, terminal, payRef, 'customer_cancel');
    expect(r.body).toMatchObject({ target: 'sale', amount: 8_000, status: 'reversed' });
    const row = await sql<{ status: string; sale_id: string | null }>`select status, sale_id from pump_sales where id = ${pumpSaleId}`.execute(server.db.db);
    expect(row.rows[0]).toEqual({ status: 'unpaid', sale_id: null });
    expect(await balanceOf(server, cardNo)).toBe(30_000);
    const again = await sell(server, terminal, { cardNo, pin: '123456', amount: 8_000, pumpSaleId }, { idempotencyKey: randomUUID() });
    expect(again.body.status).toBe('approved');
    expect(await balanceOf(server, cardNo)).toBe(22_000);
  });
});

describe('card usage after a reversal', () => {
  it('a reversed fill no longer counts against the card’s daily limit', async () => {
    const cardNo = await newCard(server, { funds: 50_000 });
    const limits = await server.api('PUT', `/api/v1/cards/${cardNo}/limits`, { body: { dayAmount: 10_000 } });
    expect(limits.status).toBe(200);
    const { ref } = await approvedSale(server, terminal, cardNo, 9_000);
    const over = await sell(server, terminal, saleBody(cardNo, 2_000), { idempotencyKey: randomUUID() });
    expect(over.body.status).toBe('declined');
    await reverse(server, terminal, ref);
    const fits = await sell(server, terminal, saleBody(cardNo, 9_500), { idempotencyKey: randomUUID() });
    expect(fits.body.status).toBe('approved');
  });

  it('a reversed goods-only sale gives back no fill: it never counted one', async () => {
    await addGoods(server.db.db, [{ sku: 'REV-GUM', unitPrice: 500 }]);
    const cardNo = await newCard(server, { funds: 50_000 });
    expect((await server.api('PUT', `/api/v1/cards/${cardNo}/limits`, { body: { dayFills: 1 } })).status).toBe(200);
    await approvedSale(server, terminal, cardNo, 4_000);
    const goodsRef = randomUUID();
    const goods = await sell(server, terminal, { cardNo, pin: '123456', amount: 500, items: [{ sku: 'REV-GUM', quantity: 1 }] }, { idempotencyKey: goodsRef });
    expect(goods.body.status).toBe('approved');
    expect(await usageOf(server, cardNo)).toMatchObject({ amount: 4_500, fills: 1 });
    expect((await reverse(server, terminal, goodsRef)).body).toMatchObject({ target: 'sale', status: 'reversed', amount: 500 });
    expect(await usageOf(server, cardNo)).toMatchObject({ amount: 4_000, fills: 1 });
    const second = await sell(server, terminal, saleBody(cardNo, 1_000), { idempotencyKey: randomUUID() });
    expect(second.body).toMatchObject({ status: 'declined', declineCode: 'LIMIT_DAY_FILLS' });
  });
});

describe('staff list', () => {
  it('lists reversals and voids newest first, pages with a cursor, filters by station and kind', async () => {
    const page1 = await server.api('GET', `/api/v1/reversals?stationId=${stationId}&limit=2`);
    expect(page1.status).toBe(200);
    expect(page1.body.items).toHaveLength(2);
    expect(page1.body.nextCursor).not.toBeNull();
    const page2 = await server.api('GET', `/api/v1/reversals?stationId=${stationId}&limit=2&cursor=${page1.body.nextCursor}`);
    expect(page2.body.items[0].createdAt <= page1.body.items[1].createdAt).toBe(true);
    expect(page2.body.items.map((x: any) => x.reversalId)).not.toContain(page1.body.items[0].reversalId);
    const kinds = await server.api('GET', '/api/v1/reversals?kind=reversal&limit=200');
    expect(kinds.body.items.every((x: any) => x.kind === 'reversal')).toBe(true);
    expect((await server.api('GET', '/api/v1/reversals?cursor=nonsense')).status).toBe(400);
    expect((await server.api('GET', '/api/v1/reversals', { role: 'cardholder' })).status).toBe(403);
  });
});
