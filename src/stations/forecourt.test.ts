import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signTerminalRequest, startTestServer, type TestServer } from '../../test/support/server.js';
import { expectError, newStation, ok, type TestTerminal } from '../../test/support/cards-factory.js';
import { businessDay, systemActor, type Role } from '../platform/index.js';
import { priceInForce, setPrice } from './index.js';

const NO_NEXT = { nextUnitPrice: null, nextEffectiveFrom: null };
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => server?.close());

const putNozzles = (stationId: number, items: unknown, role: Role = 'operator') => server.api('PUT', `/api/v1/stations/${stationId}/nozzles`, { role, body: { items } });
const postPrice = (body: Record<string, unknown>, role: Role = 'operator') => server.api('POST', '/api/v1/prices', { role, body });
const prices = async (query = '', role: Role = 'finance') => ok(await server.api('GET', `/api/v1/prices${query}`, { role }), 200).items as Array<Record<string, unknown>>;
async function auditRows(action: string, targetId: number | string) {
  const r = await sql<{ action: string; actor_name: string; details: any }>`select action, actor_name, details from audit_log
    where action = ${action} and target_id = ${String(targetId)} order by id`.execute(server.db.db);
  return r.rows;
}
async function forecourt(terminal: TestTerminal, opts: { nonce?: string; timestamp?: number } = {}) {
  const path = '/api/v1/pos/forecourt';
  const headers = signTerminalRequest(terminal, 'GET', path, '', opts);
  delete headers['content-type'];
  const res = await fetch(server.baseUrl + path, { headers });
  return { status: res.status, body: (await res.json()) as any };
}

describe('fuel grades', () => {
  it('lists the seeded grades in pump order, to every reader role', async () => {
    const r = ok(await server.api('GET', '/api/v1/grades', { role: 'station_staff' }), 200);
    expect(r.items).toEqual([
      { code: '92#', nameZh: '92号汽油', nameEn: 'Petrol 92', kind: 'petrol', active: true },
      { code: '95#', nameZh: '95号汽油', nameEn: 'Petrol 95', kind: 'petrol', active: true },
      { code: '98#', nameZh: '98号汽油', nameEn: 'Petrol 98', kind: 'petrol', active: true },
      { code: '0#', nameZh: '0号柴油', nameEn: 'Diesel 0', kind: 'diesel', active: true },
      { code: '-10#', nameZh: '-10号柴油', nameEn: 'Diesel -10', kind: 'diesel', active: true },
    ]);
    expectError(await server.api('GET', '/api/v1/grades', { role: 'cardholder' }), 403, 'FORBIDDEN');
    expectError(await server.api('GET', '/api/v1/grades', { role: null }), 401, 'UNAUTHENTICATED');
  });
});

describe('station nozzles', () => {
  it('replaces the list as a whole, sorted by nozzle, and audits the change', async () => {
    const { stationId } = await newStation(server);
    expect(ok(await server.api('GET', `/api/v1/stations/${stationId}/nozzles`, { role: 'finance' }), 200)).toEqual({ items: [] });
    const first = ok(await putNozzles(stationId, [{ nozzle: 3, grade: '95#' }, { nozzle: 1, grade: '92#' }, { nozzle: 2, grade: '92#' }, { nozzle: 12, grade: '0#' }]), 200);
    expect(first.items).toEqual([{ nozzle: 1, grade: '92#', pump: null }, { nozzle: 2, grade: '92#', pump: null }, { nozzle: 3, grade: '95#', pump: null }, { nozzle: 12, grade: '0#', pump: null }]);
    expect(ok(await server.api('GET', `/api/v1/stations/${stationId}/nozzles`, { role: 'station_staff' }), 200)).toEqual(first);
    const second = ok(await putNozzles(stationId, [{ nozzle: 1, grade: '98#' }, { nozzle: 99, grade: '-10#' }]), 200);
    expect(second.items).toEqual([{ nozzle: 1, grade: '98#', pump: null }, { nozzle: 99, grade: '-10#', pump: null }]);
    expect(ok(await server.api('GET', `/api/v1/stations/${stationId}/nozzles`), 200)).toEqual(second);
    // The same list again changes nothing and writes no audit row.
    ok(await putNozzles(stationId, [{ nozzle: 99, grade: '-10#' }, { nozzle: 1, grade: '98#' }]), 200);
    const rows = await auditRows('station.nozzles_set', stationId);
    expect(rows).toHaveLength(2);
    expect(rows[1]).toMatchObject({ actor_name: 't_operator', details: { before: first.items, after: second.items } });
    expect(ok(await putNozzles(stationId, []), 200)).toEqual({ items: [] });
  });

  it('refuses duplicates, unknown grades and bad numbers, naming the item, and changes nothing', async () => {
    const { stationId } = await newStation(server);
    const items = [{ nozzle: 1, grade: '92#', pump: null }];
    ok(await putNozzles(stationId, items), 200);
    const dup = await putNozzles(stationId, [{ nozzle: 4, grade: '92#' }, { nozzle: 5, grade: '95#' }, { nozzle: 4, grade: '95#' }]);
    expectError(dup, 400, 'NOZZLE_DUPLICATE');
    expect(dup.body.error.details).toMatchObject({ field: 'body.items.2.nozzle', nozzle: 4 });
    const unknown = await putNozzles(stationId, [{ nozzle: 4, grade: '92#' }, { nozzle: 5, grade: '97#' }]);
    expectError(unknown, 400, 'GRADE_UNKNOWN');
    expect(unknown.body.error.details).toMatchObject({ field: 'body.items.1.grade', grade: '97#' });
    // A pump the station does not have.
    const stray = await putNozzles(stationId, [{ nozzle: 4, grade: '92#' }, { nozzle: 5, grade: '95#', pump: 1 }]);
    expectError(stray, 400, 'PUMP_UNKNOWN');
    expect(stray.body.error.details).toMatchObject({ field: 'body.items.1.pump', pump: 1 });
    for (const bad of [[{ nozzle: 0, grade: '92#' }], [{ nozzle: 100, grade: '92#' }], [{ nozzle: 1.5, grade: '92#' }], [{ nozzle: 1 }], [{ nozzle: 1, grade: '92#', pump: 0 }], [{ nozzle: 1, grade: '92#', hose: 1 }], [{ nozzle: 1, grade: '' }]]) {
      expectError(await putNozzles(stationId, bad), 400, 'VALIDATION_FAILED');
    }
    expectError(await server.api('PUT', `/api/v1/stations/${stationId}/nozzles`, { body: { items, extra: true } }), 400, 'VALIDATION_FAILED');
    expectError(await putNozzles(stationId, Array.from({ length: 100 }, (_, i) => ({ nozzle: (i % 99) + 1, grade: '92#' }))), 400, 'VALIDATION_FAILED');
    expect(ok(await server.api('GET', `/api/v1/stations/${stationId}/nozzles`), 200).items).toEqual(items);
    expectError(await putNozzles(999_999, items), 404, 'STATION_NOT_FOUND');
    expectError(await server.api('GET', '/api/v1/stations/999999/nozzles'), 404, 'STATION_NOT_FOUND');
  });

  it('may be changed by admin and operator only', async () => {
    const { stationId } = await newStation(server);
    for (const role of ['finance', 'risk', 'station_staff'] as const) expectError(await putNozzles(stationId, [{ nozzle: 1, grade: '92#' }], role), 403, 'FORBIDDEN');
    ok(await putNozzles(stationId, [{ nozzle: 1, grade: '92#' }], 'admin'), 200);
  });
});

describe('editing nozzles while the station sells', () => {
  it('does not wait for a sale in flight: a sale holds KEY SHARE on its station, the edit only NO KEY UPDATE', async () => {
    const { stationId, terminal } = await newStation(server);
    // A sale insert not yet committed, as one is while the sale transaction runs: its foreign key
    // holds a KEY SHARE lock on the station row until the commit.
    const client = await server.db.pool.connect();
    try {
      await client.query('begin');
      await client.query(
        `insert into sales (id, card_id, card_no_masked, station_id, terminal_id, nozzle, grade, volume_ml, unit_price, amount, status, approval_code, business_day)
         values (gen_random_uuid(), null, '900001*********0000', $1, $2, 1, '92#', 1000, 800, 800, 'approved', '000001', current_date)`,
        [stationId, terminal.terminalId],
      );
      const edit = putNozzles(stationId, [{ nozzle: 1, grade: '92#' }]);
      const answer = await Promise.race([edit, new Promise<'blocked'>((resolve) => setTimeout(() => resolve('blocked'), 3_000))]);
      expect(answer === 'blocked' ? 'the edit waited for the sale' : answer.status).toBe(200);
    } finally {
      await client.query('rollback');
      client.release();
    }
  });
});

describe('prices', () => {
  it('sets a national price in force at once, keeps the old one as history, and audits both', async () => {
    const before = Date.now();
    const p = ok(await postPrice({ grade: '92#', unitPrice: 733 }), 201);
    expect(p).toMatchObject({ grade: '92#', unitPrice: 733, stationId: null, province: null, scope: 'national' });
    expect(Date.parse(p.effectiveFrom)).toBeGreaterThanOrEqual(before - 5_000);
    expect(Date.parse(p.effectiveFrom)).toBeLessThanOrEqual(Date.now() + 5_000);
    const q = ok(await postPrice({ grade: '92#', unitPrice: 745, stationId: null }, 'admin'), 201);
    expect((await prices()).filter((x) => x.grade === '92#' && x.stationId === null)).toEqual([q]);
    const history = await sql<{ unit_price: number; created_by: string }>`select unit_price, created_by from fuel_prices where grade = '92#' and station_id is null order by id`.execute(server.db.db);
    expect(history.rows).toEqual([
      { unit_price: 733, created_by: 't_operator' },
      { unit_price: 745, created_by: 'admin' },
    ]);
    const rows = await sql<{ details: any }>`select details from audit_log where action = 'price.set' and details->>'grade' = '92#' order by id`.execute(server.db.db);
    expect(rows.rows.map((r) => [r.details.unitPrice, r.details.previousUnitPrice, r.details.stationId])).toEqual([
      [733, null, null],
      [745, 733, null],
    ]);
  });

  it('puts a station’s own price before the national one, for that station only', async () => {
    const a = await newStation(server);
    const b = await newStation(server);
    ok(await postPrice({ grade: '95#', unitPrice: 793 }), 201);
    ok(await postPrice({ grade: '0#', unitPrice: 712 }), 201);
    const own = ok(await postPrice({ grade: '95#', unitPrice: 780, stationId: a.stationId }), 201);
    expect(own).toMatchObject({ grade: '95#', unitPrice: 780, stationId: a.stationId });
    // A national change after the station's own price does not replace it at that station.
    ok(await postPrice({ grade: '95#', unitPrice: 799 }), 201);
    const atA = await prices(`?stationId=${a.stationId}`);
    expect(atA.find((x) => x.grade === '95#')).toMatchObject({ unitPrice: 780, stationId: a.stationId });
    expect(atA.find((x) => x.grade === '0#')).toMatchObject({ unitPrice: 712, stationId: null });
    expect(new Set(atA.map((x) => x.grade)).size).toBe(atA.length);
    expect((await prices(`?stationId=${b.stationId}`)).find((x) => x.grade === '95#')).toMatchObject({ unitPrice: 799, stationId: null });
    // The full list shows the national price and each station's own, national first, in grade order.
    const all = await prices();
    const p95 = all.filter((x) => x.grade === '95#');
    expect(p95[0]).toMatchObject({ unitPrice: 799, stationId: null });
    expect(p95.find((x) => x.stationId === a.stationId)).toMatchObject({ unitPrice: 780 });
    const order = ['92#', '95#', '98#', '0#', '-10#'];
    const grades = all.map((x) => order.indexOf(x.grade as string));
    expect(grades).toEqual([...grades].sort((x, y) => x - y));
    expect(await priceInForce(server.db.db, a.stationId, '95#')).toBe(780);
    expect(await priceInForce(server.db.db, b.stationId, '95#')).toBe(799);
    expect(await priceInForce(server.db.db, b.stationId, '-10#')).toBeNull();
  });

  it('takes the latest effective time that has passed, not the latest row written', async () => {
    const { stationId } = await newStation(server);
    const now = Date.now();
    const day = 86_400_000;
    await setPrice(server.db.db, systemActor, { grade: '-10#', unitPrice: 760, stationId }, { effectiveFrom: new Date(now - 10 * day) });
    await setPrice(server.db.db, systemActor, { grade: '-10#', unitPrice: 770, stationId }, { effectiveFrom: new Date(now - 2 * day) });
    // Written later, but effective earlier: history, not the price in force.
    await setPrice(server.db.db, systemActor, { grade: '-10#', unitPrice: 750, stationId }, { effectiveFrom: new Date(now - 20 * day) });
    // Effective tomorrow: not yet.
    await setPrice(server.db.db, systemActor, { grade: '-10#', unitPrice: 790, stationId }, { effectiveFrom: new Date(now + day) });
    expect(await priceInForce(server.db.db, stationId, '-10#')).toBe(770);
    expect((await prices(`?stationId=${stationId}`)).find((x) => x.grade === '-10#')).toMatchObject({ unitPrice: 770, stationId });
    expect(await priceInForce(server.db.db, stationId, '-10#', new Date(now - 5 * day))).toBe(760);
    expect(await priceInForce(server.db.db, stationId, '-10#', new Date(now - 15 * day))).toBe(750);
    expect(await priceInForce(server.db.db, stationId, '-10#', new Date(now - 30 * day))).toBeNull();
  });

  it('refuses unknown grades and stations, bad prices and other roles', async () => {
    const g = await postPrice({ grade: '93#', unitPrice: 700 });
    expectError(g, 400, 'GRADE_UNKNOWN');
    expect(g.body.error.details.field).toBe('body.grade');
    expectError(await postPrice({ grade: '92#', unitPrice: 700, stationId: 999_999 }), 404, 'STATION_NOT_FOUND');
    for (const body of [{ grade: '92#', unitPrice: 0 }, { grade: '92#', unitPrice: 100_000 }, { grade: '92#', unitPrice: 7.45 }, { grade: '92#', unitPrice: 'cheap' }, { grade: '92#' }, { unitPrice: 745 }, { grade: '92#', unitPrice: 745, region: 'BJ' }]) {
      expectError(await postPrice(body), 400, 'VALIDATION_FAILED');
    }
    for (const role of ['finance', 'risk', 'station_staff'] as const) expectError(await postPrice({ grade: '92#', unitPrice: 745 }, role), 403, 'FORBIDDEN');
    expectError(await server.api('GET', '/api/v1/prices?stationId=999999'), 404, 'STATION_NOT_FOUND');
    expectError(await server.api('GET', '/api/v1/prices?stationId=abc'), 400, 'VALIDATION_FAILED');
    const n = await sql<{ n: number }>`select count(*)::int n from fuel_prices where unit_price = 700`.execute(server.db.db);
    expect(n.rows[0]!.n).toBe(0);
  });
});

describe('GET /api/v1/pos/forecourt', () => {
  it('gives the terminal its station, business day, nozzles with grade names and the price in force there', async () => {
    const { stationId, terminal } = await newStation(server);
    const other = await newStation(server);
    ok(await putNozzles(stationId, [{ nozzle: 2, grade: '95#' }, { nozzle: 1, grade: '92#' }, { nozzle: 3, grade: '-10#' }]), 200);
    ok(await putNozzles(other.stationId, [{ nozzle: 1, grade: '0#' }]), 200);
    ok(await postPrice({ grade: '92#', unitPrice: 745 }), 201);
    ok(await postPrice({ grade: '95#', unitPrice: 793 }), 201);
    ok(await postPrice({ grade: '95#', unitPrice: 788, stationId }), 201);
    await sql`delete from fuel_prices where grade = '-10#' and station_id is null`.execute(server.db.db);
    const station = ok(await server.api('GET', `/api/v1/stations/${stationId}`), 200);

    const r = await forecourt(terminal);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      terminalId: terminal.terminalId,
      station: { id: stationId, name: station.name },
      businessDay: businessDay(new Date(), server.config.timeZone),
      nozzles: [
        { nozzle: 1, pump: null, grade: '92#', gradeName: '92号汽油', gradeNameEn: 'Petrol 92', unitPrice: 745, ...NO_NEXT },
        { nozzle: 2, pump: null, grade: '95#', gradeName: '95号汽油', gradeNameEn: 'Petrol 95', unitPrice: 788, ...NO_NEXT },
        // No price for the grade yet: listed, but it cannot sell.
        { nozzle: 3, pump: null, grade: '-10#', gradeName: '-10号柴油', gradeNameEn: 'Diesel -10', unitPrice: null, ...NO_NEXT },
      ],
    });
    // A price change shows at the next call.
    ok(await postPrice({ grade: '92#', unitPrice: 750 }), 201);
    expect((await forecourt(terminal)).body.nozzles[0].unitPrice).toBe(750);
    expect((await forecourt(other.terminal)).body.nozzles).toEqual([{ nozzle: 1, pump: null, grade: '0#', gradeName: '0号柴油', gradeNameEn: 'Diesel 0', unitPrice: expect.any(Number), ...NO_NEXT }]);
  });

  it('answers only signed requests, each once', async () => {
    const { terminal } = await newStation(server);
    const unsigned = await fetch(`${server.baseUrl}/api/v1/pos/forecourt`);
    expect(unsigned.status).toBe(401);
    expect(((await unsigned.json()) as any).error.code).toBe('TERMINAL_SIGNATURE_INVALID');
    expectError(await server.api('GET', '/api/v1/pos/forecourt'), 401, 'TERMINAL_SIGNATURE_INVALID');
    const nonce = `forecourt-${Date.now()}`;
    expect((await forecourt(terminal, { nonce })).status).toBe(200);
    const again = await forecourt(terminal, { nonce });
    expect({ status: again.status, code: again.body.error.code }).toEqual({ status: 401, code: 'TERMINAL_NONCE_REPLAYED' });
    const forged = await forecourt({ ...terminal, secret: 'not-the-secret' });
    expect({ status: forged.status, code: forged.body.error.code }).toEqual({ status: 401, code: 'TERMINAL_SIGNATURE_INVALID' });
  });
});
