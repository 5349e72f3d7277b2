import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { signTerminalRequest, startTestServer, terminalPost, type TestServer } from '../../test/support/server.js';
import { expectLedgerOk, newCard, newStation, PIN, saleBody, sell, type Terminal } from '../../test/support/fuel.js';
import { cardOp } from '../../test/support/cards-factory.js';
import { approvedSale, closeShift, reverse, settlementBalance, voidSale } from './reversals.fixtures.js';

/**
 * The station's daily settlement statement against the ledger: what it says the programme owes
 * the station must be what the station's settlement account actually received.
 */
let server: TestServer;
let station: { stationId: number; settlementAccountId: number; terminal: Terminal };
let today: string;

beforeAll(async () => {
  server = await startTestServer({ FUELCARD_LOSS_WAIT_HOURS: '0' });
  station = await newStation(server);
  const nozzles = await server.api('PUT', `/api/v1/stations/${station.stationId}/nozzles`, {
    body: { items: [{ nozzle: 1, grade: '92#' }, { nozzle: 2, grade: '92#' }] },
  });
  expect(nozzles.status).toBe(200);
  const r = await sql<{ d: string }>`select to_char(now() at time zone ${server.config.timeZone}, 'YYYY-MM-DD') as d`.execute(server.db.db);
  today = r.rows[0]!.d;
});
afterAll(async () => server?.close());
afterEach(async () => expectLedgerOk(server));

async function signedGet(path: string, t: Terminal) {
  const headers = signTerminalRequest(t, 'GET', path, '');
  delete headers['content-type'];
  const res = await fetch(server.baseUrl + path, { headers });
  return { status: res.status, body: (await res.json()) as any };
}

/** A card lost and seen so by the terminal's hot list: the version it then holds. */
async function hotListedCard(t: Terminal): Promise<{ cardNo: string; version: number }> {
  const cardNo = await newCard(server, { funds: 10_000 });
  const before = await signedGet('/api/v1/pos/hotlist', t);
  expect((await cardOp(server, cardNo, 'report-loss')).status).toBe(200);
  const lostXid = (await sql<{ x: string }>`select changed_xid::text x from hotlist where card_no = ${cardNo}`.execute(server.db.db)).rows[0]!.x;
  let delta = await signedGet(`/api/v1/pos/hotlist?since=${before.body.version}`, t);
  // A version counts a change once every older transaction has ended (cluster-wide): poll, as a terminal does.
  for (let i = 0; i < 600 && delta.body.version <= Number(lostXid); i++) {
    await new Promise((r) => setTimeout(r, 50));
    delta = await signedGet(`/api/v1/pos/hotlist?since=${before.body.version}`, t);
  }
  expect(delta.body.added).toContain(cardNo);
  return { cardNo, version: delta.body.version };
}

describe('station settlement statement (结算单)', () => {
  it('lists the day’s sales by flow and grade, nets reversals and voids, and matches the ledger', async () => {
    const t = station.terminal;
    const settlementBefore = await settlementBalance(server, station.settlementAccountId);
    expect(settlementBefore).toBe(0);
    const cardNo = await newCard(server, { funds: 100_000 });

    // Online: one kept, one reversed, one voided, one declined.
    await approvedSale(server, t, cardNo, 5_000);
    const reversed = await approvedSale(server, t, cardNo, 3_000);
    expect((await reverse(server, t, reversed.ref)).body.status).toBe('reversed');
    const voided = await approvedSale(server, t, cardNo, 2_000);
    expect((await voidSale(server, t, voided.saleId)).status).toBe(200);
    expect((await sell(server, t, saleBody(cardNo, 900_000), { idempotencyKey: randomUUID() })).body.status).toBe('declined');

    // Store goods only.
    const cat = await server.api('POST', '/api/v1/goods-categories', { body: { code: `C${Date.now() % 1e9}`, nameZh: '饮料', nameEn: 'Drinks' } });
    expect(cat.status).toBe(201);
    const sku = `W${Date.now() % 1e9}`;
    expect((await server.api('POST', '/api/v1/goods', { body: { sku, categoryId: cat.body.id, nameZh: '矿泉水', nameEn: 'Water', unitPrice: 1_500 } })).status).toBe(201);
    const goods = await sell(server, t, { cardNo, pin: PIN, amount: 3_000, items: [{ sku, quantity: 2 }] }, { idempotencyKey: randomUUID() });
    expect(goods.body.status).toBe('approved');

    // Pre-authorisation completed for 40 yuan.
    const auth = await terminalPost(server, t, '/api/v1/pos/authorisations', { cardNo, pin: PIN, nozzle: 1, mode: 'preauth', amount: 20_000 }, { idempotencyKey: randomUUID() });
    expect(auth.body.status).toBe('approved');
    const done = await terminalPost(server, t, `/api/v1/pos/authorisations/${auth.body.authorisationId}/completion`, { volumeMl: 5_000, unitPrice: 800, amount: 4_000 }, { idempotencyKey: randomUUID() });
    expect(done.body.status).toBe('approved');

    // Indoor post-pay: the pump's fill paid at the counter.
    const ps = await terminalPost(server, t, '/api/v1/pos/pump-sales', { nozzle: 2, volumeMl: 3_000, unitPrice: 800, amount: 2_400 }, { idempotencyKey: randomUUID() });
    expect(ps.status).toBe(201);
    expect((await sell(server, t, { cardNo, pin: PIN, amount: 2_400, pumpSaleId: ps.body.pumpSaleId }, { idempotencyKey: randomUUID() })).body.status).toBe('approved');

    // One shift closed for the day, out of balance (nothing declared).
    const close = await closeShift(server, t, []);
    expect(close.body.balanced).toBe(false);

    const r = await server.api('GET', `/api/v1/stations/${station.stationId}/settlements/${today}`, { role: 'finance' });
    expect(r.status).toBe(200);
    const s = r.body;
    expect(s).toMatchObject({ stationId: station.stationId, businessDay: today, openAuthorisations: 0, unpaidPumpSales: 0 });
    expect(s.lines).toEqual([
      { flow: 'completion', grade: '92#', count: 1, volumeMl: 5_000, amount: 4_000 },
      { flow: 'online', grade: '92#', count: 3, volumeMl: 12_500, amount: 10_000 },
      { flow: 'online', grade: null, count: 1, volumeMl: 0, amount: 3_000 },
      { flow: 'postpay', grade: '92#', count: 1, volumeMl: 3_000, amount: 2_400 },
    ]);
    expect(s.goods).toEqual({ count: 1, amount: 3_000 });
    expect(s.gross).toBe(19_400);
    expect(s.reversed).toEqual({ count: 1, amount: 3_000 });
    expect(s.voided).toEqual({ count: 1, amount: 2_000 });
    expect(s.stationLiability).toEqual({ count: 0, amount: 0 });
    expect(s.forced).toEqual({ count: 0, amount: 0 });
    expect(s.owedToStation).toBe(19_400 - 3_000 - 2_000);
    expect(s.shifts).toEqual([{ shiftId: close.body.shiftId, terminalId: t.terminalId, shiftNo: 1, closedAt: close.body.closedAt, balanced: false }]);
    // The statement is what the ledger did: the station's settlement account received exactly that.
    expect(await settlementBalance(server, station.settlementAccountId)).toBe(s.owedToStation);
  });

  it('counts forced offline sales as owed and station-liability ones as not, as the ledger moved them', async () => {
    const st = await newStation(server);
    const t = st.terminal;
    const poor = await newCard(server, { funds: 1_000 });
    const hot = await hotListedCard(t);
    const occurredAt = new Date(Date.now() - 5_000).toISOString();
    const offline = (seq: number, card: string, amount: number) => ({ seq, cardNo: card, grade: '92#', volumeMl: amount, unitPrice: 1_000, amount, nozzle: 2, occurredAt, approvalCode: '123123' });
    const batch = await terminalPost(server, t, '/api/v1/pos/offline-batches', {
      batchNo: `B${Date.now()}`,
      hotlistVersion: hot.version,
      sales: [offline(1, poor, 3_000), offline(2, hot.cardNo, 2_000), offline(3, poor, 500)],
    });
    expect(batch.status).toBe(200);
    expect(batch.body.summary).toMatchObject({ posted: 3, forced: 2, stationLiability: 1 });
    // The terminal then reverses the last one: the forced debt shrinks by it.
    expect((await reverse(server, t, 'offline:3', 'customer_cancel')).body).toMatchObject({ target: 'sale', amount: 500, status: 'reversed' });
    const s = (await server.api('GET', `/api/v1/stations/${st.stationId}/settlements/${today}`)).body;
    expect(s.lines).toEqual([{ flow: 'offline', grade: '92#', count: 3, volumeMl: 5_500, amount: 5_500 }]);
    expect(s.gross).toBe(5_500);
    expect(s.reversed).toEqual({ count: 1, amount: 500 });
    expect(s.stationLiability).toEqual({ count: 1, amount: 2_000 });
    expect(s.forced).toEqual({ count: 1, amount: 3_000 });
    expect(s.owedToStation).toBe(3_000);
    expect(await settlementBalance(server, st.settlementAccountId)).toBe(3_000);
  });

  it('shows open authorisations and unpaid pump sales of the day, and an empty day as zeros', async () => {
    const st = await newStation(server);
    await server.api('PUT', `/api/v1/stations/${st.stationId}/nozzles`, { body: { items: [{ nozzle: 1, grade: '92#' }, { nozzle: 2, grade: '92#' }] } });
    const cardNo = await newCard(server, { funds: 50_000 });
    const auth = await terminalPost(server, st.terminal, '/api/v1/pos/authorisations', { cardNo, pin: PIN, nozzle: 1, mode: 'prepay', amount: 5_000 }, { idempotencyKey: randomUUID() });
    expect(auth.body.status).toBe('approved');
    await terminalPost(server, st.terminal, '/api/v1/pos/pump-sales', { nozzle: 2, volumeMl: 1_000, unitPrice: 800, amount: 800 }, { idempotencyKey: randomUUID() });
    const r = await server.api('GET', `/api/v1/stations/${st.stationId}/settlements/${today}`);
    expect(r.body).toMatchObject({ gross: 0, owedToStation: 0, lines: [], openAuthorisations: 1, unpaidPumpSales: 1 });
    const empty = await server.api('GET', `/api/v1/stations/${st.stationId}/settlements/2001-01-01`);
    expect(empty.body).toMatchObject({ gross: 0, owedToStation: 0, lines: [], shifts: [], openAuthorisations: 0, unpaidPumpSales: 0 });
  });

  it('refuses a day that does not exist, an unknown station, and another station’s statement to its station staff', async () => {
    for (const day of ['2026-02-30', '2026-1-01', 'today', '1999-12-31']) {
      const r = await server.api('GET', `/api/v1/stations/${station.stationId}/settlements/${day}`);
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe('SETTLEMENT_DAY_INVALID');
    }
    expect((await server.api('GET', `/api/v1/stations/999999/settlements/${today}`)).body.error.code).toBe('STATION_NOT_FOUND');
    const other = await newStation(server);
    const staff = await server.api('POST', '/api/v1/staff', { body: { username: `st${Date.now()}`, password: 'staff-test-password', role: 'station_staff', stationId: other.stationId } });
    const token = (await server.api('POST', '/api/v1/auth/login', { role: null, body: { username: staff.body.username, password: 'staff-test-password' } })).body.token;
    expect((await server.api('GET', `/api/v1/stations/${station.stationId}/settlements/${today}`, { token })).status).toBe(403);
    expect((await server.api('GET', `/api/v1/stations/${other.stationId}/settlements/${today}`, { token })).status).toBe(200);
    expect((await server.api('GET', `/api/v1/settlements?day=${today}`, { token })).status).toBe(403);
    expect((await server.api('GET', `/api/v1/stations/${station.stationId}/settlements/${today}`, { role: 'cardholder' })).status).toBe(403);
  });
});

describe('all stations for a day', () => {
  it('gives one row per station that sold, pages in station order, and totals them all', async () => {
    const second = await newStation(server);
    const cardNo = await newCard(server, { funds: 20_000 });
    await approvedSale(server, second.terminal, cardNo, 1_100);
    const all = await server.api('GET', `/api/v1/settlements?day=${today}&limit=200`, { role: 'finance' });
    expect(all.status).toBe(200);
    const mine = all.body.items.find((x: any) => x.stationId === station.stationId);
    const statement = (await server.api('GET', `/api/v1/stations/${station.stationId}/settlements/${today}`)).body;
    expect(mine).toMatchObject({ gross: statement.gross, owedToStation: statement.owedToStation, reversed: statement.reversed, unbalancedShifts: 1 });
    expect(all.body.items.find((x: any) => x.stationId === second.stationId)).toMatchObject({ count: 1, gross: 1_100, owedToStation: 1_100, unbalancedShifts: 0 });
    const sum = (k: string) => all.body.items.reduce((a: number, x: any) => a + x[k], 0);
    expect(all.body.totals).toMatchObject({ stations: all.body.items.length, gross: sum('gross'), owedToStation: sum('owedToStation'), count: sum('count') });

    const p1 = await server.api('GET', `/api/v1/settlements?day=${today}&limit=1`, { role: 'admin' });
    expect(p1.body.items).toHaveLength(1);
    expect(p1.body.nextCursor).toBe(String(p1.body.items[0].stationId));
    const p2 = await server.api('GET', `/api/v1/settlements?day=${today}&limit=1&cursor=${p1.body.nextCursor}`);
    expect(p2.body.items[0].stationId).toBeGreaterThan(p1.body.items[0].stationId);
    expect((await server.api('GET', `/api/v1/settlements?day=${today}&cursor=abc`)).status).toBe(400);
    expect((await server.api('GET', '/api/v1/settlements')).status).toBe(400);
    expect((await server.api('GET', '/api/v1/settlements?day=2001-01-01')).body).toMatchObject({ items: [], nextCursor: null, totals: { stations: 0, gross: 0 } });
  });
});
