import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, terminalPost, type TestServer } from '../../test/support/server.js';
import { expectError, ok, uniq } from '../../test/support/cards-factory.js';
import { haversineM, placeOnPath } from './finder.geo.js';
import { forgetFinderStock } from './finder.stock.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => server?.close());

const L = (litres: number) => litres * 1000;
/** Metres north (dy) and east (dx) of a point, as coordinates. */
const offset = (from: { lat: number; lng: number }, dxM: number, dyM: number) => ({
  lat: from.lat + dyM / 111_195,
  lng: from.lng + dxM / (111_195 * Math.cos((from.lat * Math.PI) / 180)),
});

interface StationSpec {
  at: { lat: number; lng: number };
  province?: string;
  services?: string[];
  openingHours?: unknown;
  nozzles?: Array<[number, string]>;
  tanks?: Array<{ tank: number; grade: string; lowLevelMl: number; readingMl: number }>;
  status?: 'active' | 'closed';
}

/** A station through the API; its region, services and hours set in the database (the finder reads them, it does not edit them). */
async function station(spec: StationSpec): Promise<{ id: number; code: string }> {
  const code = `F${uniq()}`.slice(0, 20);
  const st = ok(await server.api('POST', '/api/v1/stations', { body: { code, name: `寻站 ${code}`, address: '测试路 1 号', lat: spec.at.lat, lng: spec.at.lng } }), 201);
  await sql`update stations set province = ${spec.province ?? ''}, city = '测试市', district = '测试区', services = ${spec.services ?? []}::text[],
    opening_hours = ${JSON.stringify(spec.openingHours ?? { always: true })}::jsonb, status = ${spec.status ?? 'active'} where id = ${st.id}`.execute(server.db.db);
  if (spec.nozzles) {
    ok(await server.api('PUT', `/api/v1/stations/${st.id}/nozzles`, { body: { items: spec.nozzles.map(([nozzle, grade]) => ({ nozzle, grade })) } }), 200);
  }
  if (spec.tanks) {
    ok(await server.api('PUT', `/api/v1/stations/${st.id}/tanks`, { body: { items: spec.tanks.map((t) => ({ tank: t.tank, grade: t.grade, capacityMl: L(30_000), lowLevelMl: t.lowLevelMl })) } }), 200);
    const terminal = ok(await server.api('POST', `/api/v1/stations/${st.id}/terminals`), 201);
    const readAt = new Date(Date.now() - 60_000).toISOString();
    ok(await terminalPost(server, { terminalId: terminal.terminalId, secret: terminal.secret }, '/api/v1/pos/tank-readings', { readings: spec.tanks.map((t) => ({ tank: t.tank, volumeMl: t.readingMl, readAt })) }), 200);
  }
  return { id: st.id, code };
}

const price = (grade: string, unitPrice: number, scope: { stationId?: number; province?: string } = {}) =>
  sql`insert into fuel_prices (grade, station_id, province, unit_price, effective_from, created_by)
    values (${grade}, ${scope.stationId ?? null}, ${scope.province ?? null}, ${unitPrice}, now() - interval '1 hour', 'test')`.execute(server.db.db);

const find = async (query: string, role: any = null) => server.api('GET', `/api/v1/finder/stations?${query}`, { role });

describe('nearest stations', () => {
  const here = { lat: 30.25, lng: 120.15 };
  let a: { id: number }, b: { id: number }, c: { id: number }, far: { id: number };
  beforeAll(async () => {
    a = await station({
      at: offset(here, 0, 500),
      province: '浙江省',
      services: ['store', 'car_wash'],
      nozzles: [[1, '92#'], [2, '95#']],
      tanks: [
        { tank: 1, grade: '92#', lowLevelMl: L(3_000), readingMl: L(15_000) },
        { tank: 2, grade: '95#', lowLevelMl: L(3_000), readingMl: L(2_000) },
      ],
    });
    b = await station({ at: offset(here, 2000, 0), province: '江苏省', services: ['toilet'], openingHours: { always: false, weekly: [] }, nozzles: [[1, '92#'], [2, '95#']] });
    c = await station({ at: offset(here, 0, -5000), province: '浙江省', nozzles: [[1, '0#']] });
    far = await station({ at: offset(here, 20_000, 0), nozzles: [[1, '92#']] });
    await station({ at: offset(here, 100, 100), status: 'closed', nozzles: [[1, '92#']] });
    // Today's prices: the station's own before its province's before the national one.
    await price('92#', 800);
    await price('95#', 860);
    await price('0#', 760);
    await price('92#', 790, { province: '浙江省' });
    await price('95#', 850, { stationId: a.id });
    // An older station price and a scheduled one never show.
    await sql`insert into fuel_prices (grade, station_id, unit_price, effective_from, created_by) values
      ('92#', ${a.id}, 700, now() - interval '2 days', 'test'), ('92#', ${a.id}, 999, now() - interval '3 days', 'test')`.execute(server.db.db);
    await sql`delete from fuel_prices where station_id = ${a.id} and grade = '92#'`.execute(server.db.db);
    await sql`insert into fuel_prices (grade, unit_price, effective_from, created_by) values ('0#', 999, now() + interval '1 day', 'test')`.execute(server.db.db);
  });

  it('lists active stations nearest first with distance, open now, grades with price and stock — no login', async () => {
    const r = await find(`lat=${here.lat}&lng=${here.lng}`);
    expect(r.status).toBe(200);
    const items = r.body.items as any[];
    expect(items.map((s) => s.stationId)).toEqual([a.id, b.id, c.id]);
    for (const s of items) expect(Math.abs(s.distanceM - haversineM(here, s))).toBeLessThanOrEqual(1);
    expect(items.map((s) => Math.round(s.distanceM / 100) * 100)).toEqual([500, 2000, 5000]);
    expect(items[0]).toMatchObject({
      province: '浙江省',
      city: '测试市',
      openNow: true,
      openingHours: { always: true },
      services: ['store', 'car_wash'],
      grades: [
        { grade: '92#', nameZh: '92号汽油', nameEn: 'Petrol 92', unitPrice: 790, inStock: true },
        { grade: '95#', nameZh: '95号汽油', nameEn: 'Petrol 95', unitPrice: 850, inStock: false },
      ],
      promotions: [],
    });
    expect(items[1]).toMatchObject({ openNow: false, grades: [{ grade: '92#', unitPrice: 800, inStock: null }, { grade: '95#', unitPrice: 860, inStock: null }] });
    expect(items[2].grades).toEqual([{ grade: '0#', nameZh: '0号柴油', nameEn: 'Diesel 0', unitPrice: 760, inStock: null }]);
  });

  it('filters by service, grade in stock and open now; limits and widens the radius', async () => {
    const ids = async (q: string) => ((await find(`lat=${here.lat}&lng=${here.lng}&${q}`)).body.items as any[]).map((s) => s.stationId);
    expect(await ids('service=car_wash')).toEqual([a.id]);
    expect(await ids('service=toilet')).toEqual([b.id]);
    // a sells 95# but its tank is below the low level: not offered; b has no gauge: kept.
    expect(await ids('grade=95%23')).toEqual([b.id]);
    expect(await ids('grade=92%23')).toEqual([a.id, b.id]);
    expect(await ids('grade=0%23')).toEqual([c.id]);
    expect(await ids('grade=98%23')).toEqual([]);
    expect(await ids('openNow=true')).toEqual([a.id, c.id]);
    expect(await ids('openNow=true&grade=92%23')).toEqual([a.id]);
    expect(await ids('limit=2')).toEqual([a.id, b.id]);
    expect(await ids('radiusKm=1')).toEqual([a.id]);
    expect(await ids('radiusKm=30')).toEqual([a.id, b.id, c.id, far.id]);
    expect(await ids('radiusKm=30&limit=1&openNow=true&grade=0%23')).toEqual([c.id]);
  });

  it('refuses bad input with the field named', async () => {
    const field = async (q: string, code = 'VALIDATION_FAILED', status = 400) => {
      const r = await find(q);
      expectError(r, status, code);
      return r.body.error.details?.field;
    };
    expect(await field(`lat=${here.lat}&lng=${here.lng}&radiusKm=101`)).toMatch(/radiusKm/);
    expect(await field(`lat=${here.lat}&lng=${here.lng}&radiusKm=0`)).toMatch(/radiusKm/);
    expect(await field(`lat=91&lng=${here.lng}`)).toMatch(/lat/);
    expect(await field(`lat=${here.lat}&lng=181`)).toMatch(/lng/);
    expect(await field(`lng=${here.lng}`)).toMatch(/lat|querystring/);
    expect(await field(`lat=${here.lat}&lng=${here.lng}&limit=51`)).toMatch(/limit/);
    expect(await field(`lat=${here.lat}&lng=${here.lng}&service=spa`)).toMatch(/service/);
    expect(await field(`lat=${here.lat}&lng=${here.lng}&grade=E100`, 'GRADE_UNKNOWN')).toBe('querystring.grade');
  });

  it('finds stations across the antimeridian', async () => {
    const west = await station({ at: { lat: -16.8, lng: 179.99 }, nozzles: [[1, '92#']] });
    const east = await station({ at: { lat: -16.8, lng: -179.99 }, nozzles: [[1, '92#']] });
    const items = (await find('lat=-16.8&lng=179.995&radiusKm=5')).body.items as any[];
    expect(items.map((s) => s.stationId).sort()).toEqual([west.id, east.id].sort());
    expect(items.map((s) => Math.round(s.distanceM / 100) * 100).sort()).toEqual([1600, 500].sort());
  });
});

describe('stations along a route', () => {
  // West to east along latitude 40 for 0.5°, then north for 0.3°.
  const path = [
    { lat: 40.0, lng: 116.0 },
    { lat: 40.0, lng: 116.5 },
    { lat: 40.3, lng: 116.5 },
  ];
  let s1: { id: number }, s2: { id: number }, s3: { id: number }, s5: { id: number };
  beforeAll(async () => {
    s3 = await station({ at: { lat: 40.2, lng: 116.51 }, nozzles: [[1, '92#']] }); // on the second leg, ~0.85 km east
    s1 = await station({ at: { lat: 40.01, lng: 116.1 }, nozzles: [[1, '92#']] }); // ~1.1 km north of the first leg
    s2 = await station({ at: { lat: 39.995, lng: 116.4 }, nozzles: [[1, '95#']], services: ['store'] }); // ~0.56 km south
    s5 = await station({ at: { lat: 40.025, lng: 116.3 }, nozzles: [[1, '92#']] }); // ~2.8 km north
    await station({ at: { lat: 40.05, lng: 116.2 }, nozzles: [[1, '92#']] }); // ~5.6 km: never
    await station({ at: { lat: 40.0, lng: 116.7 }, nozzles: [[1, '92#']] }); // past the turn: 17 km off the route
  });

  const along = (body: Record<string, unknown>) => server.api('POST', '/api/v1/finder/along', { role: null, body: { path, ...body } });

  it('orders the stations in the corridor as the route reaches them, with the distance from the route', async () => {
    const items = ok(await along({}), 200).items as any[];
    expect(items.map((s) => s.stationId)).toEqual([s1.id, s2.id, s3.id]);
    expect(items.map((s) => Math.round(s.distanceM / 100) * 100)).toEqual([1100, 600, 800]);
    expect(Math.abs(items[2].distanceM - haversineM({ lat: 40.2, lng: 116.5 }, { lat: 40.2, lng: 116.51 }))).toBeLessThanOrEqual(2);
    expect(items[0].alongM).toBeLessThan(items[1].alongM);
    expect(items[1].alongM).toBeLessThan(items[2].alongM);
    expect(Math.abs(items[2].alongM - (42_600 + 22_200))).toBeLessThan(500);

    const wide = ok(await along({ corridorKm: 5 }), 200).items as any[];
    expect(wide.map((s) => s.stationId)).toEqual([s1.id, s5.id, s2.id, s3.id]);
    expect(ok(await along({ corridorKm: 5, limit: 2 }), 200).items.map((s: any) => s.stationId)).toEqual([s1.id, s5.id]);
    expect(ok(await along({ grade: '95#' }), 200).items.map((s: any) => s.stationId)).toEqual([s2.id]);
    expect(ok(await along({ service: 'store' }), 200).items.map((s: any) => s.stationId)).toEqual([s2.id]);
    // Driving the other way round reaches them in the other order.
    const back = ok(await server.api('POST', '/api/v1/finder/along', { role: null, body: { path: [...path].reverse() } }), 200).items as any[];
    expect(back.map((s) => s.stationId)).toEqual([s3.id, s2.id, s1.id]);
  });

  it('refuses a path too short, too long or a corridor too wide', async () => {
    expectError(await along({ corridorKm: 6 }), 400, 'VALIDATION_FAILED');
    expectError(await server.api('POST', '/api/v1/finder/along', { role: null, body: { path: [path[0]] } }), 400, 'VALIDATION_FAILED');
    const tooMany = Array.from({ length: 201 }, (_, i) => ({ lat: 40, lng: 116 + i / 1000 }));
    expectError(await server.api('POST', '/api/v1/finder/along', { role: null, body: { path: tooMany } }), 400, 'VALIDATION_FAILED');
    const long = await server.api('POST', '/api/v1/finder/along', { role: null, body: { path: [{ lat: 20, lng: 100 }, { lat: 50, lng: 130 }] } });
    expectError(long, 400, 'VALIDATION_FAILED');
    expect(long.body.error.details.field).toBe('body.path');
    expectError(await along({ grade: 'E100' }), 400, 'GRADE_UNKNOWN');
  });
});

describe('review fixes', () => {
  it('places a point on a long diagonal leg on it (one scale per 10 km piece)', () => {
    const on = (a: { lat: number; lng: number }, b: { lat: number; lng: number }, t: number) => ({ lat: a.lat + (b.lat - a.lat) * t, lng: a.lng + (b.lng - a.lng) * t });
    const a = { lat: 25, lng: 100 };
    const b = { lat: 29, lng: 104 }; // ~580 km
    const p = placeOnPath(on(a, b, 0.8), [a, b]);
    expect(p.distanceM).toBeLessThan(20);
    expect(Math.abs(p.alongM - 0.8 * haversineM(a, b))).toBeLessThan(0.01 * haversineM(a, b));
    const c = { lat: 8, lng: 98 };
    const d = { lat: 30, lng: 120 }; // ~3 300 km
    expect(placeOnPath(on(c, d, 0.9), [c, d]).distanceM).toBeLessThan(20);
    // 1.5 km off the leg reads 1.5 km off, wherever along it.
    const off = on(a, b, 0.9);
    expect(Math.abs(placeOnPath({ lat: off.lat + 1500 / 111_195, lng: off.lng }, [a, b]).distanceM - 1500 * Math.cos(Math.PI / 4))).toBeLessThan(100);
  });

  it('finds a station on a long diagonal leg of a route', async () => {
    const a = { lat: 35, lng: 80 };
    const b = { lat: 39, lng: 84 };
    const s = await station({ at: { lat: a.lat + 4 * 0.8, lng: a.lng + 4 * 0.8 }, nozzles: [[1, '92#']] });
    const items = ok(await server.api('POST', '/api/v1/finder/along', { role: null, body: { path: [a, b], corridorKm: 0.5 } }), 200).items as any[];
    expect(items.map((i) => i.stationId)).toEqual([s.id]);
    expect(items[0].distanceM).toBeLessThan(20);
  });

  it('shows stock as unknown when the gauge has been silent over 7 days, and keeps an answer a minute', async () => {
    const here = { lat: -33.9, lng: 151.2 };
    const stale = await station({ at: here, nozzles: [[1, '92#']], tanks: [{ tank: 1, grade: '92#', lowLevelMl: L(1_000), readingMl: L(10_000) }] });
    await sql`update tank_readings set read_at = now() - interval '8 days' where station_id = ${stale.id}`.execute(server.db.db);
    const fresh = await station({ at: offset(here, 300, 0), nozzles: [[1, '92#']], tanks: [{ tank: 1, grade: '92#', lowLevelMl: L(1_000), readingMl: L(10_000) }] });
    const grades = async () => {
      const items = ok(await find(`lat=${here.lat}&lng=${here.lng}&radiusKm=1`), 200).items as any[];
      return items.map((i) => [i.stationId, i.grades[0].inStock]);
    };
    expect(await grades()).toEqual([[stale.id, null], [fresh.id, true]]);
    // A low reading at the fresh station: the cached answer holds until it expires (or is forgotten).
    await sql`insert into tank_readings (station_id, tank, grade, volume_ml, water_ml, read_at) values (${fresh.id}, 1, '92#', 500, 0, now())`.execute(server.db.db);
    expect(await grades()).toEqual([[stale.id, null], [fresh.id, true]]);
    forgetFinderStock();
    expect(await grades()).toEqual([[stale.id, null], [fresh.id, false]]);
  });

  it('shows at most 5 promotions per station, soonest ending first', async () => {
    const here = { lat: 45.7, lng: 126.6 };
    const s = await station({ at: here, nozzles: [[1, '92#']] });
    const startsAt = new Date(Date.now() - 60_000).toISOString();
    const ids: number[] = [];
    for (const days of [7, 3, 6, 1, 5, 2, 4]) {
      const endsAt = new Date(Date.now() + days * 86_400_000).toISOString();
      const p = ok(await server.api('POST', '/api/v1/promotions', { body: { stationId: s.id, titleZh: `活动${days}`, titleEn: `Promo ${days}`, startsAt, endsAt } }), 201);
      ids[days] = p.id;
    }
    const items = ok(await find(`lat=${here.lat}&lng=${here.lng}&radiusKm=1`), 200).items as any[];
    expect(items[0].promotions.map((p: any) => p.id)).toEqual([ids[1], ids[2], ids[3], ids[4], ids[5]]);
  });

  it('fills a filtered page from candidates read once, beyond the first batch', async () => {
    const here = { lat: 50.45, lng: 30.52 };
    const closed = { always: false, weekly: [] };
    for (let i = 1; i <= 45; i++) await station({ at: offset(here, i * 20, 0), openingHours: closed, nozzles: [[1, '92#']] });
    const open = await station({ at: offset(here, 46 * 20, 0), nozzles: [[1, '92#']] });
    const items = ok(await find(`lat=${here.lat}&lng=${here.lng}&radiusKm=2&openNow=true&limit=1`), 200).items as any[];
    expect(items.map((i) => i.stationId)).toEqual([open.id]);
    expect(ok(await find(`lat=${here.lat}&lng=${here.lng}&radiusKm=2&limit=3`), 200).items).toHaveLength(3);
  });
});
