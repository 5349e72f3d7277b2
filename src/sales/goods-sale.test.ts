import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { card, expectLedgerOk, moneySnapshot, newCard, PIN, saleBody, sell } from '../../test/support/fuel.js';
import { addGoods, newForecourt, saleRow, type Forecourt } from './authorisations.testkit.js';

/** Store goods on the sale path, the fuel-only restriction, and what a sale row now records. */
let server: TestServer;
let fc: Forecourt;

beforeAll(async () => {
  server = await startTestServer();
  fc = await newForecourt(server);
  await addGoods(server.db.db, [
    { sku: 'COLA-330', unitPrice: 350 },
    { sku: 'WIPES', unitPrice: 1_200 },
    { sku: 'OLD-MAP', unitPrice: 900, active: false },
  ]);
});
afterAll(async () => server?.close());
afterEach(async () => expectLedgerOk(server));

describe('store goods on a sale', () => {
  it('fuel and goods in one sale: amount = fuel + goods, lines priced by the catalogue and recorded', async () => {
    const cardNo = await newCard(server, { funds: 20_000 });
    const key = randomUUID();
    const r = await sell(server, fc.terminal, { ...saleBody(cardNo, 5_000), amount: 5_000 + 2 * 350 + 1_200, items: [{ sku: 'COLA-330', quantity: 2 }, { sku: 'WIPES', quantity: 1 }] }, { idempotencyKey: key });
    expect(r.body).toMatchObject({ status: 'approved', amount: 6_900, balance: 13_100 });
    const rec = await server.api('GET', `/api/v1/sales/${r.body.saleId}`);
    expect(rec.body).toMatchObject({ flow: 'online', terminalRef: key, goodsAmount: 1_900, amount: 6_900, grade: '92#', liability: 'programme', forced: false });
    expect(rec.body.items.map((i: { sku: string; amount: number }) => [i.sku, i.amount])).toEqual([['COLA-330', 700], ['WIPES', 1_200]]);
    expect(rec.body.shiftId).not.toBeNull();
    expect(await card(server, cardNo)).toMatchObject({ balance: 13_100 });
  });

  it('goods alone: no fuel fields, no fill counted', async () => {
    const cardNo = await newCard(server, { funds: 5_000 });
    await server.api('PUT', `/api/v1/cards/${cardNo}/limits`, { body: { dayFills: 0 } });
    const r = await sell(server, fc.terminal, { cardNo, pin: PIN, amount: 1_050, items: [{ sku: 'COLA-330', quantity: 3 }] });
    expect(r.body).toMatchObject({ status: 'approved', amount: 1_050, balance: 3_950 });
    const row = await saleRow(server.db.db, r.body.saleId);
    expect([row.grade, row.volume_ml, row.nozzle]).toEqual([null, null, null]);
  });

  it('refuses a wrong total, an unknown or withdrawn SKU, a partial fuel part, and an empty sale — moving nothing', async () => {
    const cardNo = await newCard(server, { funds: 5_000 });
    const before = await moneySnapshot(server.db.db);
    const wrong = await sell(server, fc.terminal, { ...saleBody(cardNo, 1_000), items: [{ sku: 'COLA-330', quantity: 1 }] });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error).toMatchObject({ code: 'SALE_AMOUNT_MISMATCH', details: { field: 'amount', expected: 1_350 } });
    const unknown = await sell(server, fc.terminal, { cardNo, pin: PIN, amount: 100, items: [{ sku: 'COLA-330', quantity: 1 }, { sku: 'NOPE', quantity: 1 }] });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toMatchObject({ code: 'GOODS_UNKNOWN', details: { field: 'body.items.1.sku' } });
    const inactive = await sell(server, fc.terminal, { cardNo, pin: PIN, amount: 900, items: [{ sku: 'OLD-MAP', quantity: 1 }] });
    expect(inactive.status).toBe(409);
    expect(inactive.body.error.code).toBe('GOODS_INACTIVE');
    const { grade: _g, ...noGrade } = saleBody(cardNo, 1_000);
    const partial = await sell(server, fc.terminal, noGrade);
    expect(partial.status).toBe(400);
    expect(partial.body.error).toMatchObject({ code: 'VALIDATION_FAILED', details: { field: 'body.grade' } });
    const empty = await sell(server, fc.terminal, { cardNo, pin: PIN, amount: 100 });
    expect(empty.status).toBe(400);
    expect(empty.body.error).toMatchObject({ code: 'VALIDATION_FAILED', details: { field: 'body.items' } });
    const tooMany = await sell(server, fc.terminal, { cardNo, pin: PIN, amount: 100, items: Array.from({ length: 51 }, () => ({ sku: 'COLA-330', quantity: 1 })) });
    expect(tooMany.status).toBe(400);
    expect(await moneySnapshot(server.db.db)).toEqual(before);
  });

  it('amount limits count the whole amount; volume limits the fuel part', async () => {
    const cardNo = await newCard(server, { funds: 20_000 });
    await server.api('PUT', `/api/v1/cards/${cardNo}/limits`, { body: { saleAmount: 5_000, saleVolumeMl: 6_000 } });
    const over = await sell(server, fc.terminal, { ...saleBody(cardNo, 4_800), amount: 4_800 + 350, items: [{ sku: 'COLA-330', quantity: 1 }] });
    expect(over.body).toMatchObject({ status: 'declined', declineCode: 'LIMIT_SALE_AMOUNT' });
    const ok = await sell(server, fc.terminal, { ...saleBody(cardNo, 4_000), amount: 4_350, items: [{ sku: 'COLA-330', quantity: 1 }] });
    expect(ok.body.status).toBe('approved');
  });
});

describe('fuel-only cards', () => {
  it('the limits API sets fuelOnly (audited, shown, kept when omitted); goods are then declined GOODS_NOT_ALLOWED', async () => {
    const cardNo = await newCard(server, { funds: 10_000 });
    const set = await server.api('PUT', `/api/v1/cards/${cardNo}/limits`, { body: { fuelOnly: true, dayAmount: 50_000 } });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ fuelOnly: true, limits: { dayAmount: 50_000 } });
    // A form editing only the amounts does not lift the restriction.
    const kept = await server.api('PUT', `/api/v1/cards/${cardNo}/limits`, { body: { dayAmount: 60_000 } });
    expect(kept.body).toMatchObject({ fuelOnly: true, limits: { dayAmount: 60_000 } });
    const audit = await sql<{ details: { after: Record<string, unknown> } }>`select details from audit_log where action = 'card.limits' order by id desc limit 2`.execute(server.db.db);
    expect(audit.rows.map((r) => r.details.after.fuelOnly)).toEqual([undefined, true]);

    const goods = await sell(server, fc.terminal, { ...saleBody(cardNo, 1_000), amount: 1_350, items: [{ sku: 'COLA-330', quantity: 1 }] });
    expect(goods.body).toMatchObject({ status: 'declined', declineCode: 'GOODS_NOT_ALLOWED', balance: 10_000 });
    expect((await sell(server, fc.terminal, saleBody(cardNo, 1_000))).body.status).toBe('approved');
    const off = await server.api('PUT', `/api/v1/cards/${cardNo}/limits`, { body: { fuelOnly: false } });
    expect(off.body.fuelOnly).toBe(false);
    expect((await sell(server, fc.terminal, { cardNo, pin: PIN, amount: 350, items: [{ sku: 'COLA-330', quantity: 1 }] })).body.status).toBe('approved');
    expect((await server.api('PUT', `/api/v1/cards/${cardNo}/limits`, { role: 'finance', body: { fuelOnly: true } })).status).toBe(403);
  });
});
