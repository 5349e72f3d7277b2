import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isAppError, type TerminalPrincipal } from '../platform/index.js';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { card, expectLedgerOk, newCard, PIN, recharge, saleBody, sell } from '../../test/support/fuel.js';
import { completeAuthorisation, type CompletionRequest } from './authorisations.completion.js';
import { addGoods, authorisationRow, authorise, complete, fuel, holdStates, makeDue, newForecourt, post, saleRow, type Forecourt } from './authorisations.testkit.js';
import type { SaleAnswer } from './sales.service.js';

/**
 * ISO 8583 completion advices (1220) through the use case the terminal host calls, on a real
 * PostgreSQL: the fuel is out of the nozzle, so nothing the pump delivered is refused; what does
 * not fit is posted and flagged (overrun, price) or left out and flagged (goods).
 */
let server: TestServer;
let fc: Forecourt;
let pump: TerminalPrincipal;

beforeAll(async () => {
  // No grace after a price change: a price set in a test is enforced at once.
  server = await startTestServer({ FUELCARD_PRICE_CHANGE_GRACE_S: '0' });
  fc = await newForecourt(server);
  pump = { id: fc.terminal.terminalId, stationId: fc.stationId };
  await addGoods(server.db.db, [{ sku: 'TEA-500', unitPrice: 300 }]);
});
afterAll(async () => server?.close());
afterEach(async () => expectLedgerOk(server));

const preauth = (cardNo: string, nozzle: number, amount: number) => ({ cardNo, pin: PIN, nozzle, mode: 'preauth', amount });

/** The host's call: one transaction, the ledger step last, as runTerminalRequest does. */
function advise(authorisationId: string, req: CompletionRequest, terminalTotal: number, ref: string = randomUUID()): Promise<SaleAnswer> {
  return server.db.db.transaction().execute(async (trx) => {
    const done = await completeAuthorisation(trx, server.deps, pump, authorisationId, req, ref, { advice: { terminalTotal } });
    await done.last?.(trx);
    return done.answer;
  });
}

async function held(cardNo: string, nozzle: number, amount: number): Promise<string> {
  const a = await authorise(server, fc.terminal, preauth(cardNo, nozzle, amount));
  expect(a.body).toMatchObject({ status: 'approved', heldAmount: amount });
  return a.body.authorisationId as string;
}

async function saleEvent(saleId: string): Promise<Record<string, any>> {
  const r = await sql<{ payload: Record<string, any> }>`select payload from outbox_events where topic = 'sale.approved' and aggregate_id = ${saleId}`.execute(server.db.db);
  return r.rows[0]!.payload;
}

const transferSum = (sale: Record<string, any>) => (sale.transfers as Array<{ amount: number }>).reduce((s, t) => s + t.amount, 0);

describe('pump overrun (delivered more than held)', () => {
  it('within the balance: the holds posted in full, the excess from the free balance, forced and flagged', async () => {
    const cardNo = await newCard(server, { funds: 50_000 });
    const id = await held(cardNo, 1, 20_000);
    const answer = await advise(id, fuel(25_000), 25_000);
    expect(answer).toMatchObject({ status: 'approved', actionCode: '000', amount: 25_000, balance: 25_000 });
    expect(await card(server, cardNo)).toMatchObject({ balance: 25_000, available: 25_000 });
    expect(await holdStates(server.db.db, id)).toEqual(['posted']);
    expect(await authorisationRow(server.db.db, id)).toMatchObject({ status: 'completed', sale_id: answer.saleId });
    const sale = await saleRow(server.db.db, answer.saleId);
    expect(sale).toMatchObject({ status: 'approved', amount: 25_000, forced: true, flags: ['pump_overrun'] });
    expect(transferSum(sale)).toBe(25_000);
    // The outbox event carries the flag as it carries 'completed_after_expiry'.
    expect(await saleEvent(answer.saleId)).toMatchObject({ forced: true, flags: ['pump_overrun'], amount: 25_000 });
  });

  it('beyond the balance: what the accounts lack is arrears on the first account, alerted; a reversal repays it', async () => {
    const cardNo = await newCard(server, { funds: 20_000 });
    const id = await held(cardNo, 3, 20_000);
    const ref = randomUUID();
    const answer = await advise(id, fuel(26_000), 26_000, ref);
    expect(answer).toMatchObject({ status: 'approved', amount: 26_000, balance: -6_000 });
    const c = await card(server, cardNo);
    expect(c).toMatchObject({ balance: -6_000 });
    const sale = await saleRow(server.db.db, answer.saleId);
    expect(sale).toMatchObject({ forced: true, flags: ['pump_overrun'] });
    expect(transferSum(sale)).toBe(26_000);
    const alerts = await sql<{ shortfall: number; reason: string }>`select shortfall::int, reason from ledger_arrears_alerts
      where account_id = ${c.accounts[0]!.accountId}`.execute(server.db.db);
    expect(alerts.rows).toEqual([{ shortfall: 6_000, reason: 'pump_overrun' }]);
    // The card is in arrears online until repaid.
    expect((await sell(server, fc.terminal, saleBody(cardNo, 100))).body).toMatchObject({ status: 'declined', declineCode: 'CARD_IN_ARREARS' });
    // The terminal voids it: every debit, the forced one included, is given back.
    const rev = await post(server, fc.terminal, '/api/v1/pos/reversals', { originalRef: ref, reason: 'timeout' });
    expect(rev.body).toMatchObject({ status: 'reversed', amount: 26_000 });
    expect(await card(server, cardNo)).toMatchObject({ balance: 20_000, available: 20_000 });
  });

  it('is recorded even past the card’s per-sale limit (the hold was within it)', async () => {
    const cardNo = await newCard(server, { funds: 50_000 });
    expect((await server.api('PUT', `/api/v1/cards/${cardNo}/limits`, { body: { saleAmount: 20_000 } })).status).toBe(200);
    const id = await held(cardNo, 5, 20_000);
    const answer = await advise(id, fuel(22_000), 22_000);
    expect(answer).toMatchObject({ status: 'approved', amount: 22_000, balance: 28_000 });
    expect((await saleRow(server.db.db, answer.saleId)).flags).toEqual(['pump_overrun']);
    const usage = await sql<{ amount: number }>`select amount::int from card_usage_daily where card_id = (select id from cards where card_no = ${cardNo})`.execute(server.db.db);
    expect(usage.rows).toEqual([{ amount: 22_000 }]);
  });

  it('after expiry: the whole fuel is forced, flagged both ways, the authorisation forced', async () => {
    const cardNo = await newCard(server, { funds: 30_000 });
    const id = await held(cardNo, 6, 10_000);
    await makeDue(server.db.db, id);
    const answer = await advise(id, fuel(12_000), 12_000);
    expect(answer).toMatchObject({ status: 'approved', amount: 12_000, balance: 18_000 });
    expect(await holdStates(server.db.db, id)).toEqual(['voided']);
    expect(await authorisationRow(server.db.db, id)).toMatchObject({ status: 'forced' });
    expect(await saleRow(server.db.db, answer.saleId)).toMatchObject({ forced: true, flags: ['completed_after_expiry', 'pump_overrun'] });
  });

  it('over HTTP the same overrun is still refused 409 COMPLETION_EXCEEDS_HOLD, and so is the use case without advice', async () => {
    const cardNo = await newCard(server, { funds: 50_000 });
    const id = await held(cardNo, 7, 20_000);
    const over = await complete(server, fc.terminal, id, fuel(20_400));
    expect(over.status).toBe(409);
    expect(over.body.error).toMatchObject({ code: 'COMPLETION_EXCEEDS_HOLD', details: { heldAmount: 20_000 } });
    const direct = await server.db.db
      .transaction()
      .execute((trx) => completeAuthorisation(trx, server.deps, pump, id, fuel(20_400), randomUUID()))
      .then(() => null, (e: unknown) => e);
    expect(isAppError(direct) && direct.code).toBe('COMPLETION_EXCEEDS_HOLD');
    expect(await authorisationRow(server.db.db, id)).toMatchObject({ status: 'held' });
    expect(await card(server, cardNo)).toMatchObject({ balance: 50_000, available: 30_000 });
    expect((await advise(id, fuel(20_000), 20_000)).status).toBe('approved');
  });
});

describe('price and amounts', () => {
  it('a price not in force is posted at the delivered amount and flagged, not declined', async () => {
    expect((await server.api('POST', '/api/v1/prices', { role: 'operator', body: { grade: '95#', unitPrice: 750 } })).status).toBe(201);
    const cardNo = await newCard(server, { funds: 30_000 });
    const id = await held(cardNo, 2, 30_000);
    const answer = await advise(id, fuel(12_000, 800), 12_000);
    expect(answer).toMatchObject({ status: 'approved', amount: 12_000, balance: 18_000 });
    expect(await saleRow(server.db.db, answer.saleId)).toMatchObject({ forced: false, flags: ['price_mismatch'], unit_price: 800 });
    expect(await authorisationRow(server.db.db, id)).toMatchObject({ status: 'completed' });
    expect(await card(server, cardNo)).toMatchObject({ balance: 18_000, available: 18_000 });
  });

  it('a fuel amount that is not volume × price is posted as the pump counted it, flagged', async () => {
    const cardNo = await newCard(server, { funds: 30_000 });
    const id = await held(cardNo, 8, 20_000);
    const answer = await advise(id, { volumeMl: 10_000, unitPrice: 800, amount: 8_100 }, 8_100);
    expect(answer).toMatchObject({ status: 'approved', amount: 8_100, balance: 21_900 });
    expect((await saleRow(server.db.db, answer.saleId)).flags).toEqual(['fuel_amount_mismatch']);
  });
});

describe('store goods on an advice', () => {
  const tea = (quantity: number) => [{ sku: 'TEA-500', quantity }];

  it('goods that fit and match the terminal’s total are posted with the fuel', async () => {
    const cardNo = await newCard(server, { funds: 40_000 });
    const id = await held(cardNo, 1, 20_000);
    const answer = await advise(id, { ...fuel(10_000), items: tea(2) }, 10_600);
    expect(answer).toMatchObject({ status: 'approved', amount: 10_600, balance: 29_400 });
    const sale = await saleRow(server.db.db, answer.saleId);
    expect(sale).toMatchObject({ forced: false, flags: [], goods_amount: 600 });
    expect(transferSum(sale)).toBe(10_600);
    expect(await card(server, cardNo)).toMatchObject({ balance: 29_400, available: 29_400 });
  });

  it('goods the terminal priced otherwise are left out: the fuel alone, flagged, the answer says what was posted', async () => {
    const cardNo = await newCard(server, { funds: 40_000 });
    const id = await held(cardNo, 3, 20_000);
    // The terminal rang the tea up at 2.50 元; the catalogue says 3.00 元.
    const answer = await advise(id, { ...fuel(10_000), items: tea(2) }, 10_500);
    expect(answer).toMatchObject({ status: 'approved', amount: 10_000, balance: 30_000 });
    const sale = await saleRow(server.db.db, answer.saleId);
    expect(sale).toMatchObject({ amount: 10_000, goods_amount: 0, items: [], flags: ['goods_not_posted'] });
    expect(transferSum(sale)).toBe(10_000);
    expect(await card(server, cardNo)).toMatchObject({ balance: 30_000 });
  });

  it('goods on a fuel-only card are left out, the fuel posted', async () => {
    const cardNo = await newCard(server, { funds: 40_000 });
    expect((await server.api('PUT', `/api/v1/cards/${cardNo}/limits`, { body: { fuelOnly: true } })).status).toBe(200);
    const id = await held(cardNo, 5, 20_000);
    const answer = await advise(id, { ...fuel(15_000), items: tea(1) }, 15_300);
    expect(answer).toMatchObject({ status: 'approved', amount: 15_000, balance: 25_000 });
    expect(await saleRow(server.db.db, answer.saleId)).toMatchObject({ goods_amount: 0, flags: ['goods_not_posted'] });
  });

  it('goods the free balance cannot pay, or past a day limit, or of an unknown SKU, are left out', async () => {
    const poor = await newCard(server, { funds: 20_100 });
    const a = await held(poor, 6, 20_000);
    const noFunds = await advise(a, { ...fuel(20_000), items: tea(1) }, 20_300);
    expect(noFunds).toMatchObject({ status: 'approved', amount: 20_000, balance: 100 });
    expect((await saleRow(server.db.db, noFunds.saleId)).flags).toEqual(['goods_not_posted']);

    const limited = await newCard(server, { funds: 50_000 });
    expect((await server.api('PUT', `/api/v1/cards/${limited}/limits`, { body: { dayAmount: 20_000 } })).status).toBe(200);
    const b = await held(limited, 7, 20_000);
    const overLimit = await advise(b, { ...fuel(19_900), items: tea(1) }, 20_200);
    expect(overLimit).toMatchObject({ status: 'approved', amount: 19_900, balance: 30_100 });
    expect((await saleRow(server.db.db, overLimit.saleId)).flags).toEqual(['goods_not_posted']);
    const usage = await sql<{ amount: number }>`select amount::int from card_usage_daily where card_id = (select id from cards where card_no = ${limited})`.execute(server.db.db);
    expect(usage.rows).toEqual([{ amount: 19_900 }]);

    const c = await held(limited, 8, 100);
    const unknown = await advise(c, { ...fuel(100), items: [{ sku: 'NO-SUCH-SKU', quantity: 1 }] }, 500);
    expect(unknown).toMatchObject({ status: 'approved', amount: 100 });
    expect((await saleRow(server.db.db, unknown.saleId)).flags).toEqual(['goods_not_posted']);
  });

  it('over HTTP the same goods on a fuel-only card are still declined GOODS_NOT_ALLOWED and the hold kept', async () => {
    const cardNo = await newCard(server, { funds: 40_000 });
    expect((await server.api('PUT', `/api/v1/cards/${cardNo}/limits`, { body: { fuelOnly: true } })).status).toBe(200);
    const id = await held(cardNo, 1, 20_000);
    const c = await complete(server, fc.terminal, id, { ...fuel(15_000), items: tea(1) });
    expect(c.body).toMatchObject({ status: 'declined', declineCode: 'GOODS_NOT_ALLOWED' });
    expect(await authorisationRow(server.db.db, id)).toMatchObject({ status: 'held' });
    expect((await advise(id, fuel(15_000), 15_000)).status).toBe('approved');
  });
});

describe('what an advice still refuses, and repeats', () => {
  it('a repeat of a completed advice answers the first sale, under a new reference or the same one; money moves once', async () => {
    const cardNo = await newCard(server, { funds: 30_000 });
    const id = await held(cardNo, 3, 20_000);
    const ref = randomUUID();
    const first = await advise(id, fuel(12_000), 12_000, ref);
    expect(first).toMatchObject({ status: 'approved', amount: 12_000, balance: 18_000 });
    const again = await advise(id, fuel(12_000), 12_000);
    expect(again).toEqual(first);
    const sameRef = await advise(id, fuel(12_000), 12_000, ref);
    expect(sameRef).toEqual(first);
    expect(await card(server, cardNo)).toMatchObject({ balance: 18_000, available: 18_000 });
    const sales = await sql<{ n: number }>`select count(*)::int as n from sales where authorisation_id = ${id}`.execute(server.db.db);
    expect(sales.rows[0]!.n).toBe(1);
    // Over HTTP a second completion is still 409.
    const other = await complete(server, fc.terminal, id, fuel(12_000));
    expect(other.body.error).toMatchObject({ code: 'AUTHORISATION_ALREADY_COMPLETED', details: { saleId: first.saleId } });
  });

  it('an unknown or reversed authorisation is refused; a reversal of the advice’s reference first declines it', async () => {
    const missing = await server.db.db
      .transaction()
      .execute((trx) => completeAuthorisation(trx, server.deps, pump, randomUUID(), fuel(1_000), randomUUID(), { advice: { terminalTotal: 1_000 } }))
      .then(() => null, (e: unknown) => e);
    expect(isAppError(missing) && missing.code).toBe('AUTHORISATION_NOT_FOUND');

    const cardNo = await newCard(server, { funds: 30_000 });
    const authKey = randomUUID();
    const a = await authorise(server, fc.terminal, preauth(cardNo, 5, 10_000), authKey);
    expect((await post(server, fc.terminal, '/api/v1/pos/reversals', { originalRef: authKey, reason: 'timeout' })).body.status).toBe('reversed');
    const reversed = await server.db.db
      .transaction()
      .execute((trx) => completeAuthorisation(trx, server.deps, pump, a.body.authorisationId, fuel(5_000), randomUUID(), { advice: { terminalTotal: 5_000 } }))
      .then(() => null, (e: unknown) => e);
    expect(isAppError(reversed) && reversed.code).toBe('AUTHORISATION_REVERSED');

    const id = await held(cardNo, 6, 10_000);
    const ref = randomUUID();
    expect((await post(server, fc.terminal, '/api/v1/pos/reversals', { originalRef: ref, reason: 'timeout' })).status).toBe(200);
    const late = await advise(id, fuel(5_000), 5_000, ref);
    expect(late).toMatchObject({ status: 'declined', declineCode: 'ALREADY_REVERSED' });
    expect(await authorisationRow(server.db.db, id)).toMatchObject({ status: 'held' });
    expect(await card(server, cardNo)).toMatchObject({ balance: 30_000, available: 20_000 });
    expect((await advise(id, fuel(5_000), 5_000)).status).toBe('approved');
  });

  it('arrears left by an overrun are repaid by a recharge', async () => {
    const cardNo = await newCard(server, { funds: 10_000 });
    const id = await held(cardNo, 7, 10_000);
    expect((await advise(id, fuel(10_500), 10_500)).balance).toBe(-500);
    await recharge(server, cardNo, 1_000);
    expect((await sell(server, fc.terminal, saleBody(cardNo, 200))).body).toMatchObject({ status: 'approved', balance: 300 });
  });
});
