import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { card, expectLedgerOk, newCard, newStation, PIN, sell } from '../../test/support/fuel.js';
import { addGoods, fuel, get, newForecourt, post, type Forecourt } from './authorisations.testkit.js';

/** Indoor post-pay (先加后付): the pump records an unpaid fill; the counter pays it by card or settles it otherwise. */
let server: TestServer;
let fc: Forecourt;

beforeAll(async () => {
  server = await startTestServer();
  fc = await newForecourt(server);
  await addGoods(server.db.db, [{ sku: 'GUM', unitPrice: 500 }]);
});
afterAll(async () => server?.close());
afterEach(async () => expectLedgerOk(server));

const pumpSale = (nozzle: number, amount: number, key: string | null = randomUUID()) => post(server, fc.terminal, '/api/v1/pos/pump-sales', { nozzle, ...fuel(amount) }, key);
const pay = (cardNo: string, pumpSaleId: string, amount: number, extra: Record<string, unknown> = {}, key = randomUUID()) =>
  sell(server, fc.cashier, { cardNo, pin: PIN, amount, pumpSaleId, ...extra }, { idempotencyKey: key });

async function pumpSaleRow(id: string) {
  const r = await sql<{ status: string; sale_id: string | null }>`select status, sale_id from pump_sales where id = ${id}`.execute(server.db.db);
  return r.rows[0]!;
}

describe('pump sales', () => {
  it('records an unpaid fill with the nozzle’s grade; lists it; a retry with the key records it once', async () => {
    const key = randomUUID();
    const r = await pumpSale(2, 8_000, key);
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ stationId: fc.stationId, nozzle: 2, grade: '95#', volumeMl: 10_000, unitPrice: 800, amount: 8_000, status: 'unpaid' });
    const again = await pumpSale(2, 8_000, key);
    expect(again.status).toBe(201);
    expect(again.body.pumpSaleId).toBe(r.body.pumpSaleId);
    const list = await get(server, fc.cashier, '/api/v1/pos/pump-sales?status=unpaid');
    expect(list.body.items.filter((i: { pumpSaleId: string }) => i.pumpSaleId === r.body.pumpSaleId)).toHaveLength(1);
    const staff = await server.api('GET', `/api/v1/pump-sales?stationId=${fc.stationId}&status=unpaid`, { role: 'finance' });
    expect(staff.body.items.map((i: { pumpSaleId: string }) => i.pumpSaleId)).toContain(r.body.pumpSaleId);
  });

  it('refuses a fill without a key, on an unknown nozzle, or with a wrong amount', async () => {
    expect((await pumpSale(1, 1_000, null)).body.error.code).toBe('IDEMPOTENCY_KEY_INVALID');
    expect((await post(server, fc.terminal, '/api/v1/pos/pump-sales', { nozzle: 77, ...fuel(1_000) })).body.error.code).toBe('NOZZLE_UNKNOWN');
    const bad = await post(server, fc.terminal, '/api/v1/pos/pump-sales', { nozzle: 1, volumeMl: 1_000, unitPrice: 800, amount: 900 });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('SALE_AMOUNT_MISMATCH');
  });
});

describe('paying at the counter', () => {
  it('pays a pump sale by card with store goods: sale flow postpay, pump sale paid', async () => {
    const cardNo = await newCard(server, { funds: 20_000 });
    const ps = (await pumpSale(1, 6_000)).body;
    const r = await pay(cardNo, ps.pumpSaleId, 6_000 + 1_000, { items: [{ sku: 'GUM', quantity: 2 }] });
    expect(r.body).toMatchObject({ status: 'approved', amount: 7_000, balance: 13_000 });
    const rec = (await server.api('GET', `/api/v1/sales/${r.body.saleId}`)).body;
    expect(rec).toMatchObject({ flow: 'postpay', pumpSaleId: ps.pumpSaleId, grade: '92#', volumeMl: 7_500, unitPrice: 800, nozzle: 1, goodsAmount: 1_000, terminalId: fc.cashier.terminalId });
    expect(await pumpSaleRow(ps.pumpSaleId)).toEqual({ status: 'paid', sale_id: r.body.saleId });
    const twice = await pay(cardNo, ps.pumpSaleId, 6_000);
    expect(twice.status).toBe(409);
    expect(twice.body.error.code).toBe('PUMP_SALE_NOT_UNPAID');
    expect(await card(server, cardNo)).toMatchObject({ balance: 13_000 });
  });

  it('a declined payment leaves the pump sale unpaid; the amount must match; fuel fields are refused', async () => {
    const poor = await newCard(server, { funds: 1_000 });
    const ps = (await pumpSale(3, 5_000)).body;
    const d = await pay(poor, ps.pumpSaleId, 5_000);
    expect(d.body).toMatchObject({ status: 'declined', declineCode: 'INSUFFICIENT_FUNDS' });
    expect(await pumpSaleRow(ps.pumpSaleId)).toEqual({ status: 'unpaid', sale_id: null });
    const wrong = await pay(poor, ps.pumpSaleId, 4_999);
    expect(wrong.body.error).toMatchObject({ code: 'SALE_AMOUNT_MISMATCH', details: { expected: 5_000 } });
    const mixed = await pay(poor, ps.pumpSaleId, 5_000, { grade: '92#' });
    expect(mixed.body.error).toMatchObject({ code: 'VALIDATION_FAILED', details: { field: 'body.grade' } });
    const rich = await newCard(server, { funds: 9_000 });
    expect((await pay(rich, ps.pumpSaleId, 5_000)).body.status).toBe('approved');
  });

  it('another station’s pump sale, or none, is 404 PUMP_SALE_NOT_FOUND', async () => {
    const cardNo = await newCard(server, { funds: 9_000 });
    const ps = (await pumpSale(1, 1_000)).body;
    const other = await newStation(server);
    const r = await sell(server, other.terminal, { cardNo, pin: PIN, amount: 1_000, pumpSaleId: ps.pumpSaleId }, { idempotencyKey: randomUUID() });
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('PUMP_SALE_NOT_FOUND');
    expect((await pay(cardNo, randomUUID(), 1_000)).body.error.code).toBe('PUMP_SALE_NOT_FOUND');
  });

  it('two cards paying one pump sale at once: one pays, the other is refused, the card debited once', async () => {
    for (let round = 0; round < 4; round++) {
      const [a, b] = [await newCard(server, { funds: 9_000 }), await newCard(server, { funds: 9_000 })];
      const ps = (await pumpSale(4, 3_000)).body;
      const [x, y] = await Promise.all([pay(a, ps.pumpSaleId, 3_000), pay(b, ps.pumpSaleId, 3_000)]);
      expect([x.status, y.status].sort()).toEqual([200, 409]);
      const balances = [(await card(server, a)).balance, (await card(server, b)).balance].sort((p, q) => p - q);
      expect(balances).toEqual([6_000, 9_000]);
      const winner = x.status === 200 ? x : y;
      expect(await pumpSaleRow(ps.pumpSaleId)).toEqual({ status: 'paid', sale_id: winner.body.saleId });
    }
  });

  it('the cashier settles one in cash or records a drive-off (audited); settled ones cannot be paid', async () => {
    const cash = (await pumpSale(1, 2_000)).body;
    const s = await post(server, fc.cashier, `/api/v1/pos/pump-sales/${cash.pumpSaleId}/settle`, { tender: 'cash', cashier: '王芳' });
    expect(s.status).toBe(200);
    expect(s.body).toMatchObject({ status: 'paid_other', resolvedBy: '王芳' });
    const gone = (await pumpSale(1, 2_000)).body;
    expect((await post(server, fc.cashier, `/api/v1/pos/pump-sales/${gone.pumpSaleId}/settle`, { tender: 'abandoned' }, null)).body.status).toBe('abandoned');
    const again = await post(server, fc.cashier, `/api/v1/pos/pump-sales/${gone.pumpSaleId}/settle`, { tender: 'cash' });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('PUMP_SALE_NOT_UNPAID');
    const cardNo = await newCard(server, { funds: 5_000 });
    expect((await pay(cardNo, cash.pumpSaleId, 2_000)).body.error.code).toBe('PUMP_SALE_NOT_UNPAID');
    const audit = await sql<{ action: string }>`select action from audit_log where target_id in (${cash.pumpSaleId}, ${gone.pumpSaleId}) order by id`.execute(server.db.db);
    expect(audit.rows.map((r) => r.action)).toEqual(['pump_sale.paid_other', 'pump_sale.abandoned']);
    const other = await newStation(server);
    expect((await post(server, other.terminal, `/api/v1/pos/pump-sales/${cash.pumpSaleId}/settle`, { tender: 'cash' })).status).toBe(404);
  });
});
