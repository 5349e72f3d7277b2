import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { signTerminalRequest, startTestServer, type TestServer } from '../../test/support/server.js';
import { expectError, issueCard, newStation, ok, sell, uniq, type TestTerminal } from '../../test/support/cards-factory.js';
import { expectLedgerOk } from '../../test/support/fuel.js';
import { systemActor } from '../platform/index.js';
import { priceInForce, setPrice } from './index.js';

// Each test prices a grade of its own (added here) in provinces of its own, so national prices
// set by one test never reach another's stations.
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => server?.close());
afterEach(async () => expectLedgerOk(server));

const inMinutes = (m: number) => new Date(Date.now() + m * 60_000);
const postPrice = (body: Record<string, unknown>) => server.api('POST', '/api/v1/prices', { role: 'operator', body });
const prices = async (query: string) => ok(await server.api('GET', `/api/v1/prices${query}`, { role: 'finance' }), 200) as { items: any[]; next: any[] };

async function newGrade(): Promise<string> {
  const code = `G${uniq().slice(-8)}`;
  ok(await server.api('POST', '/api/v1/grades', { body: { code, nameZh: `测试油品 ${code}`, nameEn: `Test grade ${code}`, kind: 'petrol' } }), 201);
  return code;
}
const newProvince = () => `省${uniq()}`.slice(0, 40);
async function stationIn(province: string, grade: string): Promise<{ stationId: number; terminal: TestTerminal }> {
  const st = await newStation(server);
  ok(await server.api('PATCH', `/api/v1/stations/${st.stationId}`, { body: { province } }), 200);
  ok(await server.api('PUT', `/api/v1/stations/${st.stationId}/nozzles`, { body: { items: [{ nozzle: 1, grade }] } }), 200);
  return st;
}
async function forecourt(terminal: TestTerminal) {
  const path = '/api/v1/pos/forecourt';
  const headers = signTerminalRequest(terminal, 'GET', path, '');
  delete headers['content-type'];
  return (await (await fetch(server.baseUrl + path, { headers })).json()) as any;
}
const of = (list: any[], grade: string) => list.filter((p) => p.grade === grade);

describe('regional price lists: station > province > national', () => {
  it('gives each station its own price, else its province’s, else the national one — in every list and on the forecourt', async () => {
    const g = await newGrade();
    const p = newProvince();
    const q = newProvince();
    const a = await stationIn(p, g); // in P, no own price
    const b = await stationIn(p, g); // in P, its own price
    const c = await stationIn(q, g); // in Q: no province price

    const national = ok(await postPrice({ grade: g, unitPrice: 800 }), 201);
    const provincial = ok(await postPrice({ grade: g, unitPrice: 820, province: p }), 201);
    expect(provincial).toMatchObject({ grade: g, unitPrice: 820, province: p, stationId: null, scope: 'province' });
    ok(await postPrice({ grade: g, unitPrice: 810, stationId: b.stationId }), 201);
    // A later national change does not undo the province's price.
    ok(await postPrice({ grade: g, unitPrice: 830 }), 201);

    expect(of((await prices(`?stationId=${a.stationId}`)).items, g)).toEqual([provincial]);
    expect(of((await prices(`?stationId=${b.stationId}`)).items, g)).toMatchObject([{ unitPrice: 810, scope: 'station', stationId: b.stationId }]);
    expect(of((await prices(`?stationId=${c.stationId}`)).items, g)).toMatchObject([{ unitPrice: 830, scope: 'national' }]);
    expect(of((await prices(`?province=${encodeURIComponent(p)}`)).items, g)).toEqual([provincial]);
    expect(of((await prices(`?province=${encodeURIComponent(q)}`)).items, g)).toMatchObject([{ unitPrice: 830, scope: 'national' }]);
    // Without a filter: the national price, then each province's, then each station's own.
    expect(of((await prices('')).items, g).map((x) => [x.scope, x.unitPrice])).toEqual([['national', 830], ['province', 820], ['station', 810]]);
    expect(await priceInForce(server.db.db, a.stationId, g)).toBe(820);
    expect(await priceInForce(server.db.db, c.stationId, g)).toBe(830);
    expect((await forecourt(a.terminal)).nozzles[0]).toMatchObject({ grade: g, unitPrice: 820 });
    expect((await forecourt(b.terminal)).nozzles[0]).toMatchObject({ grade: g, unitPrice: 810 });
    expect((await forecourt(c.terminal)).nozzles[0]).toMatchObject({ grade: g, unitPrice: 830 });

    // History by scope: what could apply to A (national and P's), not B's own.
    const history = ok(await server.api('GET', `/api/v1/prices/history?grade=${encodeURIComponent(g)}&stationId=${a.stationId}`), 200).items;
    expect(history.map((x: any) => [x.scope, x.unitPrice, x.status])).toEqual([
      ['national', 830, 'in_force'],
      ['province', 820, 'in_force'],
      ['national', 800, 'superseded'],
    ]);
    expect(ok(await server.api('GET', `/api/v1/prices/history?grade=${encodeURIComponent(g)}&province=${encodeURIComponent(q)}`), 200).items.map((x: any) => x.scope)).toEqual(['national', 'national']);
    expect(national.scope).toBe('national');
    const audit = await sql<{ details: any }>`select details from audit_log where action = 'price.set' and target_id = ${String(provincial.id)}`.execute(server.db.db);
    expect(audit.rows[0]!.details).toMatchObject({ province: p, stationId: null, unitPrice: 820, previousUnitPrice: null });

    // Moving A to Q puts it on the national price at once.
    ok(await server.api('PATCH', `/api/v1/stations/${a.stationId}`, { body: { province: q } }), 200);
    expect((await forecourt(a.terminal)).nozzles[0].unitPrice).toBe(830);
  });

  it('refuses a price for a station and a province at once, and bad provinces', async () => {
    const { stationId } = await newStation(server);
    const both = await postPrice({ grade: '92#', unitPrice: 745, stationId, province: '广东省' });
    expectError(both, 400, 'PRICE_SCOPE_CONFLICT');
    expect(both.body.error.details.field).toBe('body.province');
    expectError(await server.api('GET', `/api/v1/prices?stationId=${stationId}&province=x`), 400, 'PRICE_SCOPE_CONFLICT');
    for (const province of ['', 'x'.repeat(41)]) expectError(await postPrice({ grade: '92#', unitPrice: 745, province }), 400, 'VALIDATION_FAILED');
    const n = await sql<{ n: number }>`select count(*)::int n from fuel_prices where province is not null and grade = '92#'`.execute(server.db.db);
    expect(n.rows[0]!.n).toBe(0);
  });

  it('says what changes next for each station: a scheduled province price unless the station has its own, a national one until the province’s begins', async () => {
    const g = await newGrade();
    const p = newProvince();
    const a = await stationIn(p, g);
    const b = await stationIn(p, g);
    const c = await stationIn(newProvince(), g);
    ok(await postPrice({ grade: g, unitPrice: 700 }), 201);
    ok(await postPrice({ grade: g, unitPrice: 710, stationId: b.stationId }), 201);
    const at30 = inMinutes(30).toISOString();
    const scheduled = ok(await postPrice({ grade: g, unitPrice: 720, province: p, effectiveFrom: at30 }), 201);

    expect(of((await prices(`?stationId=${a.stationId}`)).next, g)).toEqual([scheduled]);
    expect(of((await prices(`?stationId=${b.stationId}`)).next, g)).toEqual([]);
    expect(of((await prices(`?stationId=${c.stationId}`)).next, g)).toEqual([]);
    expect(of((await prices(`?province=${encodeURIComponent(p)}`)).next, g)).toEqual([scheduled]);
    expect((await forecourt(a.terminal)).nozzles[0]).toMatchObject({ unitPrice: 700, nextUnitPrice: 720, nextEffectiveFrom: at30 });
    expect((await forecourt(b.terminal)).nozzles[0]).toMatchObject({ unitPrice: 710, nextUnitPrice: null });

    // A national change before the province's begins is A's next change; after it, it would never apply to A.
    const at20 = inMinutes(20).toISOString();
    ok(await postPrice({ grade: g, unitPrice: 705, effectiveFrom: at20 }), 201);
    ok(await postPrice({ grade: g, unitPrice: 706, effectiveFrom: inMinutes(40).toISOString() }), 201);
    expect(of((await prices(`?stationId=${a.stationId}`)).next, g)).toMatchObject([{ unitPrice: 705, scope: 'national', effectiveFrom: at20 }]);
    expect(of((await prices(`?stationId=${c.stationId}`)).next, g)).toMatchObject([{ unitPrice: 705, scope: 'national' }]);
    expect(of((await prices(`?stationId=${b.stationId}`)).next, g)).toEqual([]);
    // Every scope's next row when unfiltered.
    expect(of((await prices('')).next, g).map((x) => [x.scope, x.unitPrice])).toEqual([['national', 705], ['province', 720]]);

    // The scheduled province price is cancelled like any other; A's next is the national one again.
    expect(ok(await server.api('DELETE', `/api/v1/prices/${scheduled.id}`, { role: 'operator' }), 200)).toEqual(scheduled);
    ok(await server.api('DELETE', `/api/v1/prices/${(await prices('')).next.find((x) => x.grade === g && x.unitPrice === 705).id}`, { role: 'admin' }), 200);
    expect(of((await prices(`?stationId=${a.stationId}`)).next, g)).toMatchObject([{ unitPrice: 706, scope: 'national' }]);
  });

  it('checks a sale’s unit price against the station’s province price, with the grace after a province change', async () => {
    const g = await newGrade();
    const p = newProvince();
    const a = await stationIn(p, g);
    const c = await stationIn(newProvince(), g);
    await setPrice(server.db.db, systemActor, { grade: g, unitPrice: 800 }, { effectiveFrom: inMinutes(-60) });
    await setPrice(server.db.db, systemActor, { grade: g, unitPrice: 820, province: p }, { effectiveFrom: inMinutes(-60) });
    const card = await issueCard(server, { funds: 200_000 });
    const at = (unitPrice: number) => ({ grade: g, unitPrice, volumeMl: 10_000, amount: unitPrice * 10 });

    expect(await sell(server, a.terminal, card.cardNo, 0, at(800))).toMatchObject({ status: 'declined', declineCode: 'PRICE_MISMATCH' });
    expect(await sell(server, a.terminal, card.cardNo, 0, at(820))).toMatchObject({ status: 'approved' });
    expect(await sell(server, c.terminal, card.cardNo, 0, at(820))).toMatchObject({ status: 'declined', declineCode: 'PRICE_MISMATCH' });
    expect(await sell(server, c.terminal, card.cardNo, 0, at(800))).toMatchObject({ status: 'approved' });

    // The province changes its price now: the new one sells, the old one within the grace, the national one still not.
    ok(await postPrice({ grade: g, unitPrice: 835, province: p }), 201);
    expect(await sell(server, a.terminal, card.cardNo, 0, at(835))).toMatchObject({ status: 'approved' });
    expect(await sell(server, a.terminal, card.cardNo, 0, at(820))).toMatchObject({ status: 'approved' });
    expect(await sell(server, a.terminal, card.cardNo, 0, at(800))).toMatchObject({ status: 'declined', declineCode: 'PRICE_MISMATCH' });
    const approved = await sql<{ n: number; amount: number }>`select count(*)::int n, sum(amount)::int amount from sales where grade = ${g} and status = 'approved'`.execute(server.db.db);
    expect(approved.rows[0]).toEqual({ n: 4, amount: 8200 + 8000 + 8350 + 8200 });
  });
});
