import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { card, expectLedgerOk, newCard, newStation, PIN, recharge, saleBody, sell } from '../../test/support/fuel.js';
import { expireAuthorisations } from './authorisations.jobs.js';
import { addGoods, authorisationRow, authorise, complete, fuel, get, holdStates, makeDue, newForecourt, post, saleRow, type Forecourt } from './authorisations.testkit.js';
import { expireHolds } from '../ledger/index.js';
import { sql } from 'kysely';

/**
 * Pump authorisations end to end: signed terminal requests over HTTP on a real PostgreSQL.
 * Pre-auth and prepay hold money tied to a nozzle; a completion posts at most the hold and
 * releases the rest; an expired hold is released by the job and a late completion is forced.
 */
let server: TestServer;
let fc: Forecourt;

beforeAll(async () => {
  // No grace after a price change: a price set in a test is enforced at once.
  server = await startTestServer({ FUELCARD_PRICE_CHANGE_GRACE_S: '0' });
  fc = await newForecourt(server);
  await addGoods(server.db.db, [{ sku: 'WATER-550', unitPrice: 300 }]);
});
afterAll(async () => server?.close());
afterEach(async () => expectLedgerOk(server));

const preauth = (cardNo: string, nozzle: number, amount?: number) => ({ cardNo, pin: PIN, nozzle, mode: 'preauth', ...(amount !== undefined ? { amount } : {}) });
const prepay = (cardNo: string, nozzle: number, amount: number) => ({ cardNo, pin: PIN, nozzle, mode: 'prepay', amount });

describe('pre-authorise then complete', () => {
  it('holds the default amount, posts the fuel delivered and releases the rest', async () => {
    const cardNo = await newCard(server, { funds: 100_000 });
    const key = randomUUID();
    const a = await authorise(server, fc.terminal, preauth(cardNo, 1), key);
    expect(a.status).toBe(200);
    expect(a.body).toMatchObject({ status: 'approved', actionCode: '000', mode: 'preauth', nozzle: 1, grade: '92#', requestedAmount: 80_000, heldAmount: 80_000, balance: 20_000 });
    expect(a.body.approvalCode).toMatch(/^\d{6}$/);
    expect(Date.parse(a.body.expiresAt)).toBeGreaterThan(Date.now() + 29 * 60_000);
    expect(await card(server, cardNo)).toMatchObject({ balance: 100_000, available: 20_000 });
    const row = await authorisationRow(server.db.db, a.body.authorisationId);
    expect(row).toMatchObject({ status: 'held', terminal_ref: key });
    expect(row.shift_id).not.toBeNull();

    // The cashier's terminal of the same station completes it.
    const doneKey = randomUUID();
    const c = await complete(server, fc.cashier, a.body.authorisationId, fuel(30_000), doneKey);
    expect(c.status).toBe(200);
    expect(c.body).toMatchObject({ status: 'approved', actionCode: '000', amount: 30_000, balance: 70_000, approvalCode: a.body.approvalCode });
    expect(await card(server, cardNo)).toMatchObject({ balance: 70_000, available: 70_000 });
    expect(await authorisationRow(server.db.db, a.body.authorisationId)).toMatchObject({ status: 'completed', sale_id: c.body.saleId });
    expect(await holdStates(server.db.db, a.body.authorisationId)).toEqual(['posted']);

    const sale = await server.api('GET', `/api/v1/sales/${c.body.saleId}`);
    expect(sale.body).toMatchObject({
      status: 'approved', flow: 'completion', authorisationId: a.body.authorisationId, terminalRef: doneKey, terminalId: fc.cashier.terminalId,
      nozzle: 1, grade: '92#', volumeMl: 37_500, unitPrice: 800, amount: 30_000, forced: false, flags: [], goodsAmount: 0,
    });
    expect(sale.body.shiftId).not.toBeNull();
    expect(sale.body.transfers.reduce((s: number, t: { amount: number }) => s + t.amount, 0)).toBe(30_000);
  });

  it('approves a pre-auth partially (002) for what the card has, and refuses a completion above the hold', async () => {
    const cardNo = await newCard(server, { funds: 50_000 });
    const a = await authorise(server, fc.terminal, preauth(cardNo, 3, 80_000));
    expect(a.body).toMatchObject({ status: 'approved', actionCode: '002', requestedAmount: 80_000, heldAmount: 50_000, balance: 0 });
    const over = await complete(server, fc.terminal, a.body.authorisationId, fuel(50_400));
    expect(over.status).toBe(409);
    expect(over.body.error.code).toBe('COMPLETION_EXCEEDS_HOLD');
    expect(await authorisationRow(server.db.db, a.body.authorisationId)).toMatchObject({ status: 'held' });
    const c = await complete(server, fc.terminal, a.body.authorisationId, fuel(50_000));
    expect(c.body).toMatchObject({ status: 'approved', amount: 50_000, balance: 0 });
    expect(await card(server, cardNo)).toMatchObject({ balance: 0, available: 0 });
  });

  it('caps a pre-auth at the card’s per-sale amount limit instead of declining it', async () => {
    const cardNo = await newCard(server, { funds: 100_000 });
    expect((await server.api('PUT', `/api/v1/cards/${cardNo}/limits`, { body: { saleAmount: 20_000 } })).status).toBe(200);
    const a = await authorise(server, fc.terminal, preauth(cardNo, 5));
    expect(a.body).toMatchObject({ status: 'approved', actionCode: '002', heldAmount: 20_000 });
    const c = await complete(server, fc.terminal, a.body.authorisationId, fuel(20_000));
    expect(c.body.status).toBe('approved');
  });

  it('adds store goods at the completion, paid from the free balance', async () => {
    const cardNo = await newCard(server, { funds: 40_000 });
    const a = await authorise(server, fc.terminal, preauth(cardNo, 6, 30_000));
    const c = await complete(server, fc.terminal, a.body.authorisationId, { ...fuel(20_000), items: [{ sku: 'WATER-550', quantity: 2 }] });
    expect(c.body).toMatchObject({ status: 'approved', amount: 20_600, balance: 19_400 });
    const sale = await saleRow(server.db.db, c.body.saleId);
    expect(sale.goods_amount).toBe(600);
    expect(sale.items).toEqual([{ sku: 'WATER-550', nameZh: '商品 WATER-550', nameEn: 'Item WATER-550', quantity: 2, unitPrice: 300, amount: 600 }]);
    expect(await card(server, cardNo)).toMatchObject({ balance: 19_400, available: 19_400 });
  });

  it('a retry with the same key answers the same; another completion is 409 AUTHORISATION_ALREADY_COMPLETED', async () => {
    const cardNo = await newCard(server, { funds: 30_000 });
    const a = await authorise(server, fc.terminal, preauth(cardNo, 7, 30_000));
    const key = randomUUID();
    const first = await complete(server, fc.terminal, a.body.authorisationId, fuel(10_000), key);
    const again = await complete(server, fc.terminal, a.body.authorisationId, fuel(10_000), key);
    expect(again.body).toEqual(first.body);
    const other = await complete(server, fc.terminal, a.body.authorisationId, fuel(10_000));
    expect(other.status).toBe(409);
    expect(other.body.error).toMatchObject({ code: 'AUTHORISATION_ALREADY_COMPLETED', details: { saleId: first.body.saleId } });
    expect(await card(server, cardNo)).toMatchObject({ balance: 20_000, available: 20_000 });
  });

  it('a price not in force declines the completion and keeps the hold for a corrected one', async () => {
    expect((await server.api('POST', '/api/v1/prices', { role: 'operator', body: { grade: '95#', unitPrice: 750 } })).status).toBe(201);
    const cardNo = await newCard(server, { funds: 30_000 });
    const a = await authorise(server, fc.terminal, preauth(cardNo, 2, 30_000));
    const wrong = await complete(server, fc.terminal, a.body.authorisationId, fuel(12_000, 800));
    expect(wrong.body).toMatchObject({ status: 'declined', declineCode: 'PRICE_MISMATCH' });
    expect(await authorisationRow(server.db.db, a.body.authorisationId)).toMatchObject({ status: 'held' });
    expect(await card(server, cardNo)).toMatchObject({ balance: 30_000, available: 0 });
    const right = await complete(server, fc.terminal, a.body.authorisationId, fuel(12_000, 750));
    expect(right.body).toMatchObject({ status: 'approved', amount: 12_000, balance: 18_000 });
  });

  it('another station’s terminal cannot see or complete it (404)', async () => {
    const cardNo = await newCard(server, { funds: 30_000 });
    const a = await authorise(server, fc.terminal, preauth(cardNo, 8, 10_000));
    const elsewhere = await newStation(server);
    const c = await complete(server, elsewhere.terminal, a.body.authorisationId, fuel(5_000));
    expect(c.status).toBe(404);
    expect(c.body.error.code).toBe('AUTHORISATION_NOT_FOUND');
    expect((await get(server, elsewhere.terminal, '/api/v1/pos/authorisations?status=held')).body.items).toEqual([]);
    // The cashier's grey-lock list at the right station shows it, masked.
    const list = await get(server, fc.cashier, '/api/v1/pos/authorisations?status=held');
    const item = list.body.items.find((i: { authorisationId: string }) => i.authorisationId === a.body.authorisationId);
    expect(item).toMatchObject({ terminalId: fc.terminal.terminalId, nozzle: 8, grade: '92#', mode: 'preauth', heldAmount: 10_000, approvalCode: a.body.approvalCode });
    expect(item.cardNo).toContain('*');
    expect((await complete(server, fc.terminal, a.body.authorisationId, fuel(5_000))).body.status).toBe('approved');
  });
});

describe('prepay', () => {
  it('holds exactly the preset or declines; the completion takes what was delivered', async () => {
    const cardNo = await newCard(server, { funds: 10_000 });
    const tooMuch = await authorise(server, fc.terminal, prepay(cardNo, 1, 20_000));
    expect(tooMuch.body).toMatchObject({ status: 'declined', declineCode: 'INSUFFICIENT_FUNDS', authorisationId: null, heldAmount: 0, balance: 10_000 });
    const a = await authorise(server, fc.terminal, prepay(cardNo, 1, 8_000));
    expect(a.body).toMatchObject({ status: 'approved', actionCode: '000', mode: 'prepay', heldAmount: 8_000, balance: 2_000 });
    const c = await complete(server, fc.terminal, a.body.authorisationId, fuel(5_000));
    expect(c.body).toMatchObject({ status: 'approved', amount: 5_000, balance: 5_000 });
    expect(await card(server, cardNo)).toMatchObject({ balance: 5_000, available: 5_000 });
  });
});

describe('refusals', () => {
  it('names what is wrong with the request', async () => {
    const cardNo = await newCard(server, { funds: 10_000 });
    const noAmount = await authorise(server, fc.terminal, { cardNo, pin: PIN, nozzle: 1, mode: 'prepay' });
    expect(noAmount.status).toBe(400);
    expect(noAmount.body.error).toMatchObject({ code: 'VALIDATION_FAILED', details: { field: 'body.amount' } });
    const big = await authorise(server, fc.terminal, prepay(cardNo, 1, 300_001));
    expect(big.status).toBe(400);
    expect(big.body.error.code).toBe('AUTHORISATION_AMOUNT_TOO_LARGE');
    const nozzle = await authorise(server, fc.terminal, preauth(cardNo, 42));
    expect(nozzle.status).toBe(404);
    expect(nozzle.body.error.code).toBe('NOZZLE_UNKNOWN');
    const noKey = await authorise(server, fc.terminal, preauth(cardNo, 1), null);
    expect(noKey.status).toBe(400);
    expect(noKey.body.error.code).toBe('IDEMPOTENCY_KEY_INVALID');
    const noKeyDone = await complete(server, fc.terminal, randomUUID(), fuel(1_000), null);
    expect(noKeyDone.status).toBe(400);
    expect(noKeyDone.body.error.code).toBe('IDEMPOTENCY_KEY_INVALID');
    const unknown = await complete(server, fc.terminal, randomUUID(), fuel(1_000));
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('AUTHORISATION_NOT_FOUND');
    expect(await card(server, cardNo)).toMatchObject({ balance: 10_000, available: 10_000 });
  });

  it('declines as a sale does (wrong PIN, grade not allowed) and holds nothing', async () => {
    const cardNo = await newCard(server, { funds: 10_000 });
    const pin = await authorise(server, fc.terminal, { ...preauth(cardNo, 1), pin: '000000' });
    expect(pin.body).toMatchObject({ status: 'declined', declineCode: 'PIN_WRONG', balance: null, authorisationId: null });
    await server.api('PUT', `/api/v1/cards/${cardNo}/limits`, { body: { allowedGrades: ['0#'] } });
    const grade = await authorise(server, fc.terminal, preauth(cardNo, 1));
    expect(grade.body).toMatchObject({ status: 'declined', declineCode: 'GRADE_NOT_ALLOWED', grade: '92#' });
    expect(await card(server, cardNo)).toMatchObject({ available: 10_000 });
  });

  it('a nozzle with an open authorisation is NOZZLE_BUSY until it is resolved', async () => {
    const [c1, c2] = [await newCard(server, { funds: 10_000 }), await newCard(server, { funds: 10_000 })];
    const a = await authorise(server, fc.terminal, prepay(c1, 4, 5_000));
    expect(a.body.status).toBe('approved');
    const busy = await authorise(server, fc.cashier, prepay(c2, 4, 5_000));
    expect(busy.body).toMatchObject({ status: 'declined', declineCode: 'NOZZLE_BUSY', actionCode: '923' });
    expect(await card(server, c2)).toMatchObject({ available: 10_000 });
    await complete(server, fc.terminal, a.body.authorisationId, fuel(5_000));
    expect((await authorise(server, fc.cashier, prepay(c2, 4, 5_000))).body.status).toBe('approved');
    // Leave nozzle 4 free for others: expire it.
    const open = (await get(server, fc.cashier, '/api/v1/pos/authorisations')).body.items.find((i: { nozzle: number }) => i.nozzle === 4);
    await makeDue(server.db.db, open.authorisationId);
    await expireAuthorisations(server.db.db);
  });
});

describe('expiry', () => {
  it('the job releases a hold past its time; a late completion is posted anyway, forced and flagged', async () => {
    const cardNo = await newCard(server, { funds: 50_000 });
    const a = await authorise(server, fc.terminal, preauth(cardNo, 1, 40_000));
    expect(await expireAuthorisations(server.db.db)).toBe(0);
    await makeDue(server.db.db, a.body.authorisationId);
    expect(await expireAuthorisations(server.db.db)).toBe(1);
    expect(await authorisationRow(server.db.db, a.body.authorisationId)).toMatchObject({ status: 'expired' });
    expect(await holdStates(server.db.db, a.body.authorisationId)).toEqual(['voided']);
    expect(await card(server, cardNo)).toMatchObject({ balance: 50_000, available: 50_000 });

    const c = await complete(server, fc.terminal, a.body.authorisationId, fuel(30_000));
    expect(c.body).toMatchObject({ status: 'approved', amount: 30_000, balance: 20_000 });
    const sale = await server.api('GET', `/api/v1/sales/${c.body.saleId}`);
    expect(sale.body).toMatchObject({ forced: true, flags: ['completed_after_expiry'], flow: 'completion' });
    expect(await authorisationRow(server.db.db, a.body.authorisationId)).toMatchObject({ status: 'forced', sale_id: c.body.saleId });
    expect(await card(server, cardNo)).toMatchObject({ balance: 20_000 });
    const staff = await server.api('GET', `/api/v1/authorisations/${a.body.authorisationId}`, { role: 'finance' });
    expect(staff.body).toMatchObject({ status: 'forced', saleId: c.body.saleId, heldAmount: 40_000 });
    const listed = await server.api('GET', `/api/v1/authorisations?stationId=${fc.stationId}&status=forced&limit=5`, { role: 'risk' });
    expect(listed.body.items.map((i: { authorisationId: string }) => i.authorisationId)).toContain(a.body.authorisationId);
  });

  it('a late completion past the balance leaves arrears: the card is CARD_IN_ARREARS until a recharge repays it', async () => {
    const cardNo = await newCard(server, { funds: 20_000 });
    const a = await authorise(server, fc.terminal, preauth(cardNo, 1, 20_000));
    await makeDue(server.db.db, a.body.authorisationId);
    await expireAuthorisations(server.db.db);
    // Meanwhile the freed balance was spent.
    expect((await sell(server, fc.terminal, saleBody(cardNo, 15_000))).body.status).toBe('approved');
    // No job has run yet when this completion arrives past the expiry time: it releases the hold itself.
    const c = await complete(server, fc.terminal, a.body.authorisationId, fuel(12_000));
    expect(c.body).toMatchObject({ status: 'approved', amount: 12_000, balance: -7_000 });
    expect(await card(server, cardNo)).toMatchObject({ balance: -7_000 });
    const refused = await sell(server, fc.terminal, saleBody(cardNo, 100));
    expect(refused.body).toMatchObject({ status: 'declined', declineCode: 'CARD_IN_ARREARS' });
    const hold = await authorise(server, fc.terminal, preauth(cardNo, 1));
    expect(hold.body).toMatchObject({ status: 'declined', declineCode: 'CARD_IN_ARREARS' });
    await recharge(server, cardNo, 10_000);
    expect((await sell(server, fc.terminal, saleBody(cardNo, 1_000))).body).toMatchObject({ status: 'approved', balance: 2_000 });
  });

  it('a completion arriving after the expiry time but before the job releases the hold inline and is forced', async () => {
    const cardNo = await newCard(server, { funds: 20_000 });
    const a = await authorise(server, fc.terminal, preauth(cardNo, 3, 20_000));
    await makeDue(server.db.db, a.body.authorisationId);
    const c = await complete(server, fc.terminal, a.body.authorisationId, fuel(8_000));
    expect(c.body).toMatchObject({ status: 'approved', balance: 12_000 });
    expect(await holdStates(server.db.db, a.body.authorisationId)).toEqual(['voided']);
    expect(await authorisationRow(server.db.db, a.body.authorisationId)).toMatchObject({ status: 'forced' });
    expect(await expireAuthorisations(server.db.db)).toBe(0);
  });
});

describe('the ledger expired the holds first (the job was down)', () => {
  /** Both clocks past: the authorisation's and its ledger holds', then the ledger's own sweeper runs. */
  async function ledgerExpiresFirst(authorisationId: string): Promise<void> {
    await makeDue(server.db.db, authorisationId);
    await sql`update ledger_pending set expires_at = clock_timestamp() - interval '1 second'
      where id in (select (h->>'transferId')::uuid from pump_authorisations a cross join jsonb_array_elements(a.holds) h where a.id = ${authorisationId})`.execute(server.db.db);
    expect(await expireHolds(server.db.db)).toBeGreaterThanOrEqual(1);
    expect(await holdStates(server.db.db, authorisationId)).toEqual(['expired']);
  }

  it('the job still expires it, frees the nozzle, and a late completion is forced (not a 500)', async () => {
    const cardNo = await newCard(server, { funds: 50_000 });
    const a = await authorise(server, fc.terminal, preauth(cardNo, 5, 20_000));
    await ledgerExpiresFirst(a.body.authorisationId);
    expect(await expireAuthorisations(server.db.db)).toBe(1);
    expect(await authorisationRow(server.db.db, a.body.authorisationId)).toMatchObject({ status: 'expired' });
    expect(await card(server, cardNo)).toMatchObject({ balance: 50_000, available: 50_000 });
    const next = await authorise(server, fc.terminal, preauth(cardNo, 5, 10_000));
    expect(next.body).toMatchObject({ status: 'approved', heldAmount: 10_000 });
    const late = await complete(server, fc.terminal, a.body.authorisationId, fuel(8_000));
    expect(late.status).toBe(200);
    expect(late.body).toMatchObject({ status: 'approved', amount: 8_000 });
    expect(await authorisationRow(server.db.db, a.body.authorisationId)).toMatchObject({ status: 'forced' });
    expect((await complete(server, fc.terminal, next.body.authorisationId, fuel(10_000))).body.status).toBe('approved');
    expect(await card(server, cardNo)).toMatchObject({ balance: 32_000, available: 32_000 });
  });

  it('a completion arriving before the job releases it inline and is forced', async () => {
    const cardNo = await newCard(server, { funds: 50_000 });
    const a = await authorise(server, fc.terminal, preauth(cardNo, 6, 20_000));
    await ledgerExpiresFirst(a.body.authorisationId);
    const late = await complete(server, fc.terminal, a.body.authorisationId, fuel(8_000));
    expect(late.status).toBe(200);
    expect(late.body).toMatchObject({ status: 'approved', amount: 8_000, balance: 42_000 });
    expect(await authorisationRow(server.db.db, a.body.authorisationId)).toMatchObject({ status: 'forced' });
  });

  it('one authorisation that cannot be released does not stop the others from expiring', async () => {
    const cardNo = await newCard(server, { funds: 50_000 });
    const broken = await authorise(server, fc.terminal, preauth(cardNo, 7, 10_000));
    const fine = await authorise(server, fc.terminal, preauth(cardNo, 8, 10_000));
    // The broken one names a hold the ledger does not know, and is the older due one (taken first).
    const holds = (await sql<{ holds: unknown }>`select holds from pump_authorisations where id = ${broken.body.authorisationId}`.execute(server.db.db)).rows[0]!.holds;
    await sql`update pump_authorisations set holds = jsonb_set(holds, '{0,transferId}', to_jsonb(${randomUUID()}::text)),
      expires_at = clock_timestamp() - interval '1 minute' where id = ${broken.body.authorisationId}`.execute(server.db.db);
    await makeDue(server.db.db, fine.body.authorisationId);
    expect(await expireAuthorisations(server.db.db)).toBe(1);
    expect(await authorisationRow(server.db.db, fine.body.authorisationId)).toMatchObject({ status: 'expired' });
    expect(await authorisationRow(server.db.db, broken.body.authorisationId)).toMatchObject({ status: 'held' });
    // Repaired, it expires on the next run.
    await sql`update pump_authorisations set holds = ${JSON.stringify(holds)}::jsonb where id = ${broken.body.authorisationId}`.execute(server.db.db);
    expect(await expireAuthorisations(server.db.db)).toBe(1);
    expect(await card(server, cardNo)).toMatchObject({ available: 50_000 });
  });
});

describe('card amount limits count the card’s open holds', () => {
  it('two holds on two nozzles cannot together pass the day limit; a sale meanwhile neither', async () => {
    const cardNo = await newCard(server, { funds: 100_000 });
    expect((await server.api('PUT', `/api/v1/cards/${cardNo}/limits`, { body: { dayAmount: 30_000 } })).status).toBe(200);
    const first = await authorise(server, fc.terminal, prepay(cardNo, 1, 30_000));
    expect(first.body).toMatchObject({ status: 'approved', heldAmount: 30_000 });
    const second = await authorise(server, fc.terminal, prepay(cardNo, 3, 30_000));
    expect(second.body).toMatchObject({ status: 'declined', declineCode: 'LIMIT_DAY_AMOUNT', heldAmount: 0 });
    const partial = await authorise(server, fc.terminal, preauth(cardNo, 3));
    expect(partial.body).toMatchObject({ status: 'declined', declineCode: 'LIMIT_DAY_AMOUNT' });
    expect((await sell(server, fc.terminal, saleBody(cardNo, 1_000))).body).toMatchObject({ status: 'declined', declineCode: 'LIMIT_DAY_AMOUNT' });
    // Its own hold does not count against the completion: fuel and goods within the limit are approved.
    const c = await complete(server, fc.terminal, first.body.authorisationId, { ...fuel(20_000), items: [{ sku: 'WATER-550', quantity: 1 }] });
    expect(c.body).toMatchObject({ status: 'approved', amount: 20_300 });
    expect((await sell(server, fc.terminal, saleBody(cardNo, 9_700))).body.status).toBe('approved');
    expect((await sell(server, fc.terminal, saleBody(cardNo, 100))).body).toMatchObject({ status: 'declined', declineCode: 'LIMIT_DAY_AMOUNT' });
  });

  it('a pre-auth is capped by what the day limit leaves besides the open holds', async () => {
    const cardNo = await newCard(server, { funds: 100_000 });
    expect((await server.api('PUT', `/api/v1/cards/${cardNo}/limits`, { body: { dayAmount: 30_000 } })).status).toBe(200);
    const first = await authorise(server, fc.terminal, prepay(cardNo, 1, 20_000));
    const second = await authorise(server, fc.terminal, preauth(cardNo, 3));
    expect(second.body).toMatchObject({ status: 'approved', actionCode: '002', heldAmount: 10_000 });
    expect((await complete(server, fc.terminal, first.body.authorisationId, fuel(20_000))).body.status).toBe('approved');
    expect((await complete(server, fc.terminal, second.body.authorisationId, fuel(10_000))).body.status).toBe('approved');
  });

  it('the per-sale limit is per authorisation', async () => {
    const cardNo = await newCard(server, { funds: 100_000 });
    expect((await server.api('PUT', `/api/v1/cards/${cardNo}/limits`, { body: { saleAmount: 20_000 } })).status).toBe(200);
    const a = await authorise(server, fc.terminal, prepay(cardNo, 1, 20_000));
    const b = await authorise(server, fc.terminal, prepay(cardNo, 3, 20_000));
    expect([a.body.status, b.body.status]).toEqual(['approved', 'approved']);
    expect((await complete(server, fc.terminal, a.body.authorisationId, fuel(20_000))).body.status).toBe('approved');
    expect((await complete(server, fc.terminal, b.body.authorisationId, fuel(20_000))).body.status).toBe('approved');
  });

  it('store goods at a completion must fit the amount limits: declined as a sale, the hold kept', async () => {
    const cardNo = await newCard(server, { funds: 100_000 });
    expect((await server.api('PUT', `/api/v1/cards/${cardNo}/limits`, { body: { dayAmount: 30_000 } })).status).toBe(200);
    const a = await authorise(server, fc.terminal, prepay(cardNo, 1, 30_000));
    const over = await complete(server, fc.terminal, a.body.authorisationId, { ...fuel(29_900), items: [{ sku: 'WATER-550', quantity: 1 }] });
    expect(over.body).toMatchObject({ status: 'declined', declineCode: 'LIMIT_DAY_AMOUNT' });
    expect(await authorisationRow(server.db.db, a.body.authorisationId)).toMatchObject({ status: 'held' });
    const c = await complete(server, fc.terminal, a.body.authorisationId, fuel(29_900));
    expect(c.body).toMatchObject({ status: 'approved', amount: 29_900 });
    expect(await card(server, cardNo)).toMatchObject({ balance: 70_100, available: 70_100 });
  });
});

describe('one terminal reference names one original', () => {
  it('a sale’s key on a completion is 409 IDEMPOTENCY_KEY_REUSED; the sale’s own retry replays it', async () => {
    const cardNo = await newCard(server, { funds: 50_000 });
    const key = randomUUID();
    const s = await sell(server, fc.terminal, saleBody(cardNo, 1_000), { idempotencyKey: key });
    expect(s.body.status).toBe('approved');
    const a = await authorise(server, fc.terminal, prepay(cardNo, 1, 5_000));
    const c = await complete(server, fc.terminal, a.body.authorisationId, fuel(5_000), key);
    expect(c.status).toBe(409);
    expect(c.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(await authorisationRow(server.db.db, a.body.authorisationId)).toMatchObject({ status: 'held' });
    expect((await sell(server, fc.terminal, saleBody(cardNo, 1_000), { idempotencyKey: key })).body).toEqual(s.body);
    expect((await complete(server, fc.terminal, a.body.authorisationId, fuel(5_000))).body.status).toBe('approved');
    expect(await card(server, cardNo)).toMatchObject({ balance: 44_000 });
  });

  it('an authorisation’s key on a sale or a pump sale is refused, so its reversal undoes exactly the authorisation', async () => {
    const cardNo = await newCard(server, { funds: 50_000 });
    const key = randomUUID();
    const a = await authorise(server, fc.terminal, prepay(cardNo, 1, 5_000), key);
    expect(a.body.status).toBe('approved');
    const s = await sell(server, fc.terminal, saleBody(cardNo, 1_000), { idempotencyKey: key });
    expect(s.status).toBe(409);
    expect(s.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    const p = await post(server, fc.terminal, '/api/v1/pos/pump-sales', { nozzle: 2, ...fuel(4_000, 800) }, key);
    expect(p.status).toBe(409);
    expect(p.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect((await authorise(server, fc.terminal, prepay(cardNo, 1, 5_000), key)).body).toEqual(a.body);
    const r = await server.api('GET', `/api/v1/authorisations/${a.body.authorisationId}`);
    expect(r.body.status).toBe('held');
    const rev = await post(server, fc.terminal, '/api/v1/pos/reversals', { originalRef: key, reason: 'timeout' });
    expect(rev.body).toMatchObject({ target: 'authorisation', authorisationId: a.body.authorisationId, status: 'reversed', amount: 5_000 });
    expect(await card(server, cardNo)).toMatchObject({ balance: 50_000, available: 50_000 });
  });

  it('a pump sale’s key on an authorisation is refused', async () => {
    const cardNo = await newCard(server, { funds: 50_000 });
    const key = randomUUID();
    const p = await post(server, fc.terminal, '/api/v1/pos/pump-sales', { nozzle: 2, ...fuel(4_000, 800) }, key);
    expect(p.status).toBe(201);
    const a = await authorise(server, fc.terminal, prepay(cardNo, 1, 5_000), key);
    expect(a.status).toBe(409);
    expect(a.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    const settled = await post(server, fc.terminal, `/api/v1/pos/pump-sales/${p.body.pumpSaleId}/settle`, { tender: 'cash' });
    expect(settled.status).toBe(200);
  });
});
