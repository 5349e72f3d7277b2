import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signTerminalRequest, startTestServer, type TestServer } from '../../test/support/server.js';
import { expectError, newStation, ok, uniq, type TestTerminal } from '../../test/support/cards-factory.js';
import { isOpenAt } from './index.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => server?.close());

const createStation = (over: Record<string, unknown> = {}) =>
  server.api('POST', '/api/v1/stations', {
    role: 'operator',
    body: { code: `N-${uniq()}`.slice(0, 20), name: '示范能源 测试站', address: '广州市天河区黄埔大道西 1 号', lat: 23.13, lng: 113.33, ...over },
  });
const patch = (id: number, body: unknown, role: 'admin' | 'operator' | 'finance' = 'operator') => server.api('PATCH', `/api/v1/stations/${id}`, { role, body });
const putPumps = (id: number, items: unknown) => server.api('PUT', `/api/v1/stations/${id}/pumps`, { role: 'operator', body: { items } });
const putNozzles = (id: number, items: unknown) => server.api('PUT', `/api/v1/stations/${id}/nozzles`, { role: 'operator', body: { items } });

async function forecourt(terminal: TestTerminal) {
  const path = '/api/v1/pos/forecourt';
  const headers = signTerminalRequest(terminal, 'GET', path, '');
  delete headers['content-type'];
  return (await (await fetch(server.baseUrl + path, { headers })).json()) as any;
}

describe('isOpenAt (pure)', () => {
  const tz = 'Asia/Shanghai';
  // 2026-11-30 is a Monday; 08:00 in Shanghai is 00:00 UTC.
  const at = (isoLocal: string) => new Date(`${isoLocal}+08:00`);
  const hours = {
    always: false as const,
    weekly: [
      { day: 1, open: '06:00', close: '22:00' },
      { day: 5, open: '22:00', close: '02:00' }, // Friday night, past midnight
      { day: 7, open: '08:00', close: '24:00' },
    ],
  };

  it('is always open for a 24-hour station', () => {
    expect(isOpenAt({ always: true }, at('2026-11-30T03:00:00'), tz)).toBe(true);
  });

  it('follows the weekly windows on the time zone’s wall clock, past midnight included', () => {
    expect(isOpenAt(hours, at('2026-11-30T05:59:00'), tz)).toBe(false);
    expect(isOpenAt(hours, at('2026-11-30T06:00:00'), tz)).toBe(true);
    expect(isOpenAt(hours, at('2026-11-30T21:59:00'), tz)).toBe(true);
    expect(isOpenAt(hours, at('2026-11-30T22:00:00'), tz)).toBe(false);
    expect(isOpenAt(hours, at('2026-12-01T10:00:00'), tz)).toBe(false); // Tuesday: no window
    expect(isOpenAt(hours, at('2026-12-04T23:30:00'), tz)).toBe(true); // Friday night
    expect(isOpenAt(hours, at('2026-12-05T01:59:00'), tz)).toBe(true); // Saturday early morning, Friday's window
    expect(isOpenAt(hours, at('2026-12-05T02:00:00'), tz)).toBe(false);
    expect(isOpenAt(hours, at('2026-12-06T23:59:00'), tz)).toBe(true); // Sunday to 24:00
    expect(isOpenAt(hours, at('2026-12-07T00:00:00'), tz)).toBe(false);
    // The same instant in another zone is another wall-clock time.
    expect(isOpenAt(hours, at('2026-11-30T13:00:00'), tz)).toBe(true); // Monday 13:00 in Shanghai …
    expect(isOpenAt(hours, at('2026-11-30T13:00:00'), 'UTC')).toBe(false); // … is Monday 05:00 UTC
    expect(isOpenAt(hours, at('2026-11-30T15:00:00'), 'UTC')).toBe(true); // Monday 07:00 UTC
  });
});

describe('station network: region, hours, services', () => {
  it('creates and edits a station’s region, phone, hours and services, audits the change and filters the list', async () => {
    const province = `广东省${uniq()}`.slice(0, 40);
    const s = ok(
      await createStation({
        province,
        city: '广州市',
        district: '天河区',
        phone: '020-3868 0638',
        openingHours: { always: false, weekly: [{ day: 2, open: '06:00', close: '23:00' }, { day: 1, open: '06:00', close: '23:00' }] },
        services: ['toilet', 'store', 'store'],
      }),
      201,
    );
    expect(s).toMatchObject({
      province,
      city: '广州市',
      district: '天河区',
      phone: '020-3868 0638',
      openingHours: { always: false, weekly: [{ day: 1, open: '06:00', close: '23:00' }, { day: 2, open: '06:00', close: '23:00' }] },
      services: ['store', 'toilet'],
    });
    const plain = ok(await createStation(), 201);
    expect(plain).toMatchObject({ province: '', city: '', district: '', phone: null, openingHours: { always: true }, services: [] });

    const edited = ok(await patch(s.id, { city: '深圳市', district: '南山区', services: ['ev_charging', 'store'], openingHours: { always: true }, status: 'closed' }), 200);
    expect(edited).toMatchObject({ province, city: '深圳市', district: '南山区', services: ['store', 'ev_charging'], openingHours: { always: true }, status: 'closed', name: s.name });
    expect(ok(await server.api('GET', `/api/v1/stations/${s.id}`, { role: 'finance' }), 200)).toEqual(edited);
    const audit = await sql<{ details: any; actor_name: string }>`select details, actor_name from audit_log where action = 'station.update' and target_id = ${String(s.id)}`.execute(server.db.db);
    expect(audit.rows).toHaveLength(1);
    expect(audit.rows[0]!.actor_name).toBe('t_operator');
    expect(Object.keys(audit.rows[0]!.details.after).sort()).toEqual(['city', 'district', 'openingHours', 'services', 'status']);
    expect(audit.rows[0]!.details.before).toMatchObject({ city: '广州市', status: 'active' });
    // The same values again: nothing changes, nothing is audited.
    ok(await patch(s.id, { city: '深圳市' }), 200);
    expect((await sql`select 1 from audit_log where action = 'station.update' and target_id = ${String(s.id)}`.execute(server.db.db)).rows).toHaveLength(1);
    ok(await patch(s.id, { phone: null, status: 'active' }), 200);

    const byProvince = ok(await server.api('GET', `/api/v1/stations?province=${encodeURIComponent(province)}`, { role: 'station_staff' }), 200);
    expect(byProvince.items.map((x: any) => x.id)).toEqual([s.id]);
    expect(byProvince.total).toBe(1);
    expect(ok(await server.api('GET', `/api/v1/stations?province=${encodeURIComponent(province)}&city=${encodeURIComponent('广州市')}`), 200).items).toEqual([]);
    expect(ok(await server.api('GET', `/api/v1/stations?q=${encodeURIComponent(s.code.toLowerCase())}`), 200).items.map((x: any) => x.id)).toEqual([s.id]);
    const closed = ok(await server.api('GET', '/api/v1/stations?status=closed&limit=200'), 200);
    expect(closed.items.every((x: any) => x.status === 'closed')).toBe(true);
    // A wildcard in q is a character, not a pattern.
    expect(ok(await server.api('GET', '/api/v1/stations?q=%25'), 200).items).toEqual([]);
    const regions = ok(await server.api('GET', '/api/v1/stations/regions'), 200);
    expect(regions.items.find((r: any) => r.province === province)).toEqual({ province, stations: 1, cities: [{ city: '深圳市', stations: 1 }] });
  });

  it('refuses bad hours, services, phones and regions, naming the field, and changes nothing', async () => {
    const s = ok(await createStation(), 201);
    const bad: Array<[unknown, string, string]> = [
      [{ openingHours: { always: false } }, 'OPENING_HOURS_INVALID', 'body.openingHours.weekly'],
      [{ openingHours: { always: true, weekly: [] } }, 'OPENING_HOURS_INVALID', 'body.openingHours.weekly'],
      [{ openingHours: { always: false, weekly: [{ day: 8, open: '06:00', close: '22:00' }] } }, 'OPENING_HOURS_INVALID', 'body.openingHours.weekly.0.day'],
      [{ openingHours: { always: false, weekly: [{ day: 1, open: '06:00', close: '22:00' }, { day: 1, open: '25:00', close: '22:00' }] } }, 'OPENING_HOURS_INVALID', 'body.openingHours.weekly.1.open'],
      [{ openingHours: { always: false, weekly: [{ day: 1, open: '06:00', close: '24:30' }] } }, 'OPENING_HOURS_INVALID', 'body.openingHours.weekly.0.close'],
      [{ openingHours: { always: false, weekly: [{ day: 1, open: '06:00', close: '06:00' }] } }, 'OPENING_HOURS_INVALID', 'body.openingHours.weekly.0.close'],
      [{ openingHours: { always: false, weekly: [{ day: 1, open: '6:00', close: '22:00' }] } }, 'OPENING_HOURS_INVALID', 'body.openingHours.weekly.0.open'],
      [{ openingHours: { always: false, weekly: [{ day: 1, open: '06:00' }] } }, 'VALIDATION_FAILED', 'body.openingHours.weekly.0.close'],
      [{ openingHours: { always: 'yes' } }, 'VALIDATION_FAILED', 'body.openingHours.always'],
      [{ services: ['store', 'casino'] }, 'VALIDATION_FAILED', 'body.services.1'],
      [{ phone: 'call us' }, 'VALIDATION_FAILED', 'body.phone'],
      [{ province: 'x'.repeat(41) }, 'VALIDATION_FAILED', 'body.province'],
      [{ status: 'open' }, 'VALIDATION_FAILED', 'body.status'],
      [{ code: 'NEW' }, 'VALIDATION_FAILED', 'body.code'],
      [{}, 'VALIDATION_FAILED', 'body'],
    ];
    for (const [body, code, field] of bad) {
      const r = await patch(s.id, body);
      expectError(r, 400, code);
      expect(r.body.error.details.field, JSON.stringify(body)).toBe(field);
    }
    const onCreate = await createStation({ openingHours: { always: false, weekly: [{ day: 0, open: '06:00', close: '22:00' }] } });
    expectError(onCreate, 400, 'OPENING_HOURS_INVALID');
    expect(onCreate.body.error.details.field).toBe('body.openingHours.weekly.0.day');
    expect(ok(await server.api('GET', `/api/v1/stations/${s.id}`), 200)).toEqual(s);
    expectError(await patch(999_999, { city: '广州市' }), 404, 'STATION_NOT_FOUND');
    expectError(await patch(s.id, { city: '广州市' }, 'finance'), 403, 'FORBIDDEN');
  });
});

describe('pumps and nozzles', () => {
  it('groups nozzles by pump, binds each nozzle to a pump the station has, and shows the pump on the POS forecourt', async () => {
    const { stationId, terminal } = await newStation(server);
    const pumps = ok(await putPumps(stationId, [{ pump: 2, name: '2号机' }, { pump: 1, name: '1号机' }]), 200);
    expect(pumps).toEqual({ items: [{ pump: 1, name: '1号机', nozzles: [] }, { pump: 2, name: '2号机', nozzles: [] }], unassigned: [] });
    ok(await putNozzles(stationId, [{ nozzle: 1, grade: '92#', pump: 1 }, { nozzle: 2, grade: '95#', pump: 1 }, { nozzle: 3, grade: '0#', pump: 2 }, { nozzle: 4, grade: '92#' }]), 200);
    expect(ok(await server.api('GET', `/api/v1/stations/${stationId}/pumps`, { role: 'station_staff' }), 200)).toEqual({
      items: [
        { pump: 1, name: '1号机', nozzles: [{ nozzle: 1, grade: '92#' }, { nozzle: 2, grade: '95#' }] },
        { pump: 2, name: '2号机', nozzles: [{ nozzle: 3, grade: '0#' }] },
      ],
      unassigned: [{ nozzle: 4, grade: '92#' }],
    });
    const fc = await forecourt(terminal);
    expect(fc.nozzles.map((n: any) => [n.nozzle, n.pump])).toEqual([[1, 1], [2, 1], [3, 2], [4, null]]);

    // A nozzle on a pump the station does not have; a pump removed while nozzles hang on it.
    const stray = await putNozzles(stationId, [{ nozzle: 1, grade: '92#', pump: 3 }]);
    expectError(stray, 400, 'PUMP_UNKNOWN');
    expect(stray.body.error.details).toMatchObject({ field: 'body.items.0.pump', pump: 3 });
    const inUse = await putPumps(stationId, [{ pump: 1, name: '1号机' }]);
    expectError(inUse, 409, 'PUMP_IN_USE');
    expect(inUse.body.error.details).toMatchObject({ pump: 2 });
    const dup = await putPumps(stationId, [{ pump: 1 }, { pump: 1 }]);
    expectError(dup, 400, 'PUMP_DUPLICATE');
    expect(dup.body.error.details.field).toBe('body.items.1.pump');
    expectError(await putPumps(stationId, [{ pump: 100 }]), 400, 'VALIDATION_FAILED');
    expectError(await putPumps(999_999, []), 404, 'STATION_NOT_FOUND');
    // Move nozzle 3 off pump 2, then pump 2 can go; renames are audited.
    ok(await putNozzles(stationId, [{ nozzle: 1, grade: '92#', pump: 1 }, { nozzle: 2, grade: '95#', pump: 1 }, { nozzle: 3, grade: '0#', pump: 1 }]), 200);
    expect(ok(await putPumps(stationId, [{ pump: 1, name: '1号机（A 岛）' }]), 200).items).toEqual([
      { pump: 1, name: '1号机（A 岛）', nozzles: [{ nozzle: 1, grade: '92#' }, { nozzle: 2, grade: '95#' }, { nozzle: 3, grade: '0#' }] },
    ]);
    const audit = await sql<{ n: number }>`select count(*)::int n from audit_log where action = 'station.pumps_set' and target_id = ${String(stationId)}`.execute(server.db.db);
    expect(audit.rows[0]!.n).toBe(2);
  });
});

describe('fuel grades added, renamed and deactivated by the operator', () => {
  it('adds a grade that can be priced and put on nozzles, renames it, and deactivates it only when no nozzle sells it', async () => {
    const code = `E${uniq().slice(-6)}`;
    const g = ok(await server.api('POST', '/api/v1/grades', { role: 'operator', body: { code, nameZh: '乙醇汽油 E92', nameEn: 'Ethanol petrol E92', kind: 'petrol' } }), 201);
    expect(g).toEqual({ code, nameZh: '乙醇汽油 E92', nameEn: 'Ethanol petrol E92', kind: 'petrol', active: true });
    const list = ok(await server.api('GET', '/api/v1/grades', { role: 'finance' }), 200).items;
    expect(list.at(-1)).toEqual(g); // after the built-in grades
    expectError(await server.api('POST', '/api/v1/grades', { body: { code, nameZh: '重复', nameEn: 'Dup', kind: 'gas' } }), 409, 'GRADE_CODE_TAKEN');
    const badKind = await server.api('POST', '/api/v1/grades', { body: { code: 'LNG', nameZh: '液化天然气', nameEn: 'LNG', kind: 'cryogenic' } });
    expectError(badKind, 400, 'VALIDATION_FAILED');
    expect(badKind.body.error.details.field).toBe('body.kind');
    expectError(await server.api('POST', '/api/v1/grades', { role: 'finance', body: { code: 'LNG', nameZh: '液化天然气', nameEn: 'LNG', kind: 'gas' } }), 403, 'FORBIDDEN');

    const { stationId } = await newStation(server);
    ok(await server.api('POST', '/api/v1/prices', { body: { grade: code, unitPrice: 730, stationId } }), 201);
    ok(await putNozzles(stationId, [{ nozzle: 1, grade: code }]), 200);

    const renamed = ok(await server.api('PATCH', `/api/v1/grades/${encodeURIComponent(code)}`, { role: 'operator', body: { nameEn: 'E92 ethanol blend' } }), 200);
    expect(renamed).toEqual({ ...g, nameEn: 'E92 ethanol blend' });
    const inUse = await server.api('PATCH', `/api/v1/grades/${encodeURIComponent(code)}`, { body: { active: false } });
    expectError(inUse, 409, 'GRADE_IN_USE');
    expect(inUse.body.error.details).toMatchObject({ field: 'body.active', nozzles: 1 });
    ok(await putNozzles(stationId, []), 200);
    expect(ok(await server.api('PATCH', `/api/v1/grades/${encodeURIComponent(code)}`, { body: { active: false } }), 200).active).toBe(false);
    expect(ok(await server.api('GET', '/api/v1/grades?active=true'), 200).items.map((x: any) => x.code)).not.toContain(code);

    // A deactivated grade takes no new price and no nozzle.
    const price = await server.api('POST', '/api/v1/prices', { body: { grade: code, unitPrice: 735, stationId } });
    expectError(price, 409, 'GRADE_INACTIVE');
    expect(price.body.error.details.field).toBe('body.grade');
    const nozzle = await putNozzles(stationId, [{ nozzle: 1, grade: '92#' }, { nozzle: 2, grade: code }]);
    expectError(nozzle, 409, 'GRADE_INACTIVE');
    expect(nozzle.body.error.details.field).toBe('body.items.1.grade');
    expectError(await server.api('PATCH', '/api/v1/grades/NOPE', { body: { active: true } }), 404, 'GRADE_NOT_FOUND');
    expectError(await server.api('PATCH', `/api/v1/grades/${encodeURIComponent(code)}`, { body: {} }), 400, 'VALIDATION_FAILED');

    const audit = await sql<{ action: string }>`select action from audit_log where target_type = 'fuel_grade' and target_id = ${code} order by id`.execute(server.db.db);
    expect(audit.rows.map((r) => r.action)).toEqual(['grade.create', 'grade.update', 'grade.update']);
  });
});
