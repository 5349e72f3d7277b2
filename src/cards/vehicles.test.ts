import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App, Role } from '../platform/index.js';
import { createHttp, createLogger } from '../platform/index.js';
import { staffAuthenticator } from '../staff/index.js';
import { startTestServer, type ApiResponse, type TestServer } from '../../test/support/server.js';
import { cardOp, expectError, expectLedgerVerified, issueCard, newCustomer, ok } from '../../test/support/cards-factory.js';
import { maskPlate, normalisePlate, vehicleOfCard } from './vehicles.js';
import { vehiclesRoutes } from './vehicles.routes.js';

let server: TestServer;
/** Until server.ts registers vehiclesRoutes, the routes run on an app of their own over the same database and sessions. */
let own: App | null = null;

beforeAll(async () => {
  server = await startTestServer();
  if (!server.routes.some((r) => r.url === '/api/v1/vehicles')) {
    const refuse = { authenticate: async () => null };
    ({ app: own } = await createHttp({
      logger: createLogger('silent'),
      staffAuth: staffAuthenticator(server.db.db),
      terminalAuth: { authenticate: async () => Promise.reject(new Error('no terminals here')) },
      cardholderAuth: refuse,
    }));
    vehiclesRoutes(own, { db: server.db.db });
    await own.ready();
  }
});
afterAll(async () => {
  await own?.close();
  await server?.close();
});

async function api(method: string, url: string, opts: { role?: Role; body?: unknown } = {}): Promise<ApiResponse> {
  if (!own) return server.api(method, url, opts);
  const res = await own.inject({
    method: method as 'GET',
    url,
    headers: { authorization: `Bearer ${server.tokens[opts.role ?? 'operator']}`, ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(opts.body !== undefined ? { payload: JSON.stringify(opts.body) } : {}),
  });
  return { status: res.statusCode, body: res.body === '' ? null : res.json(), headers: new Headers() };
}

let plateSeq = 10_000;
/** A fresh ordinary plate, so tests sharing the database never collide. */
const newPlate = () => `沪A${++plateSeq}`;

async function newVehicle(customerId: number, over: Record<string, unknown> = {}): Promise<any> {
  return ok(await api('POST', '/api/v1/vehicles', { body: { customerId, plate: newPlate(), tankCapacityMl: 60_000, grades: ['92#', '95#'], ...over } }), 201, 'create vehicle');
}

const cardId = async (cardNo: string) => (await sql<{ id: number }>`select id from cards where card_no = ${cardNo}`.execute(server.db.db)).rows[0]!.id;
const bind = (cardNo: string, vehicleId: number, role: Role = 'operator') => api('PUT', `/api/v1/cards/${cardNo}/vehicle`, { role, body: { vehicleId } });

/** A fleet: a customer, its master card and one sub card (the driver's). */
async function fleet(): Promise<{ customerId: number; masterNo: string; subNo: string }> {
  const customer = await newCustomer(server);
  const master = await issueCard(server, { kind: 'master', customerId: customer.id });
  const sub = await issueCard(server, { kind: 'sub', masterCardNo: master.cardNo });
  return { customerId: customer.id, masterNo: master.cardNo, subNo: sub.cardNo };
}

describe('plates', () => {
  it('normalises what people type and accepts the plate families', () => {
    expect(normalisePlate(' 沪a·12345 ')).toBe('沪A12345');
    expect(normalisePlate('京Ａ－１２３４５')).toBe('京A12345');
    expect(normalisePlate('粤B D12345')).toBe('粤BD12345');
    expect(normalisePlate('苏E12345F')).toBe('苏E12345F');
    expect(normalisePlate('粤Z1234港')).toBe('粤Z1234港');
    expect(normalisePlate('鲁B1234挂')).toBe('鲁B1234挂');
  });

  it('refuses what is not a plate', () => {
    for (const bad of ['', '沪A1234', '沪A1234567', 'XA12345', 'A沪12345', '沪112345', '沪AI2345', '沪AO2345', '沪AX12345', '沪A1234D5', '沪A12345\u0000']) {
      expect(normalisePlate(bad), bad).toBeNull();
    }
  });
});

describe('vehicles', () => {
  it('registers a vehicle with the plate normalised, and lists the customer’s vehicles', async () => {
    const c = await newCustomer(server);
    const v = await newVehicle(c.id, { plate: '浙b·d24688', tankCapacityMl: 45_000, grades: ['95#', '95#', '98#'] });
    expect(v).toMatchObject({ customerId: c.id, plate: '浙BD24688', tankCapacityMl: 45_000, grades: ['95#', '98#'], status: 'active', cardCount: 0, retiredAt: null });
    const other = await newVehicle(c.id, { grades: ['0#'], tankCapacityMl: 400_000 });
    const list = ok(await api('GET', `/api/v1/vehicles?customerId=${c.id}`, { role: 'operator' }), 200);
    expect(list.items.map((x: any) => x.id).sort()).toEqual([v.id, other.id].sort());
    expect(ok(await api('GET', `/api/v1/vehicles/${v.id}`, { role: 'risk' }), 200).plate).toBe('浙BD24688');
    expect(ok(await api('GET', `/api/v1/vehicles/${v.id}`, { role: 'finance' }), 200).plate).toBe('浙B***88');
    const audited = await sql<{ n: number }>`select count(*)::int as n from audit_log where action = 'vehicle.create' and target_id = ${String(v.id)}`.execute(server.db.db);
    expect(audited.rows[0]!.n).toBe(1);
  });

  it('refuses bad input with stable codes', async () => {
    const c = await newCustomer(server);
    const post = (over: Record<string, unknown>) => api('POST', '/api/v1/vehicles', { body: { customerId: c.id, plate: newPlate(), tankCapacityMl: 60_000, grades: ['92#'], ...over } });
    expectError(await post({ plate: '沪A1234' }), 400, 'VEHICLE_PLATE_INVALID');
    expectError(await post({ plate: 'ABC12345' }), 400, 'VEHICLE_PLATE_INVALID');
    expectError(await post({ tankCapacityMl: 0 }), 400, 'VEHICLE_TANK_INVALID');
    expectError(await post({ tankCapacityMl: 2_000_001 }), 400, 'VEHICLE_TANK_INVALID');
    expectError(await post({ tankCapacityMl: 2.5 }), 400, 'VALIDATION_FAILED');
    expectError(await post({ grades: ['92#', 'E99'] }), 400, 'VEHICLE_GRADE_UNKNOWN');
    expectError(await post({ grades: [] }), 400, 'VALIDATION_FAILED');
    expectError(await post({ customerId: 999_999_999 }), 404, 'CUSTOMER_NOT_FOUND');
    // The largest tank is fine.
    ok(await post({ tankCapacityMl: 2_000_000, grades: ['0#'] }), 201);
  });

  it('keeps one vehicle in service per plate and customer; retiring frees the plate', async () => {
    const a = await newCustomer(server);
    const b = await newCustomer(server);
    const plate = newPlate();
    const first = await newVehicle(a.id, { plate });
    expectError(await api('POST', '/api/v1/vehicles', { body: { customerId: a.id, plate: plate.toLowerCase(), tankCapacityMl: 1, grades: ['92#'] } }), 409, 'VEHICLE_PLATE_TAKEN');
    await newVehicle(b.id, { plate }); // another customer's register is its own
    const second = await newVehicle(a.id);
    expectError(await api('PATCH', `/api/v1/vehicles/${second.id}`, { body: { plate } }), 409, 'VEHICLE_PLATE_TAKEN');
    ok(await api('POST', `/api/v1/vehicles/${first.id}/retire`), 200);
    expect(ok(await api('PATCH', `/api/v1/vehicles/${second.id}`, { body: { plate } }), 200).plate).toBe(plate);
  });

  it('corrects a vehicle, audited with before and after; a retired one cannot change', async () => {
    const c = await newCustomer(server);
    const v = await newVehicle(c.id);
    const changed = ok(await api('PATCH', `/api/v1/vehicles/${v.id}`, { role: 'admin', body: { tankCapacityMl: 70_000, grades: ['0#'] } }), 200);
    expect(changed).toMatchObject({ plate: v.plate, tankCapacityMl: 70_000, grades: ['0#'] });
    const row = await sql<{ details: any }>`select details from audit_log where action = 'vehicle.update' and target_id = ${String(v.id)}`.execute(server.db.db);
    expect(row.rows[0]!.details).toEqual({ before: { plate: v.plate, tankCapacityMl: 60_000, grades: ['92#', '95#'] }, after: { plate: v.plate, tankCapacityMl: 70_000, grades: ['0#'] } });
    expectError(await api('PATCH', `/api/v1/vehicles/${v.id}`, { body: { grades: ['E99'] } }), 400, 'VEHICLE_GRADE_UNKNOWN');
    ok(await api('POST', `/api/v1/vehicles/${v.id}/retire`), 200);
    expectError(await api('PATCH', `/api/v1/vehicles/${v.id}`, { body: { tankCapacityMl: 1 } }), 409, 'VEHICLE_RETIRED');
    expectError(await api('POST', `/api/v1/vehicles/${v.id}/retire`), 409, 'VEHICLE_RETIRED');
    expectError(await api('GET', '/api/v1/vehicles/999999999'), 404, 'VEHICLE_NOT_FOUND');
  });

  it('lets admin and operator change vehicles, readers only read, others nothing', async () => {
    const c = await newCustomer(server);
    const v = await newVehicle(c.id);
    for (const role of ['finance', 'risk', 'station_staff', 'enterprise_admin', 'cardholder'] as const) {
      expectError(await api('POST', '/api/v1/vehicles', { role, body: { customerId: c.id, plate: newPlate(), tankCapacityMl: 1, grades: ['92#'] } }), 403, 'FORBIDDEN');
      expectError(await api('POST', `/api/v1/vehicles/${v.id}/retire`, { role }), 403, 'FORBIDDEN');
    }
    for (const role of ['finance', 'station_staff', 'enterprise_admin', 'department_admin', 'cardholder'] as const) {
      expectError(await api('GET', `/api/v1/vehicles?customerId=${c.id}`, { role }), 403, 'FORBIDDEN');
    }
    ok(await api('GET', `/api/v1/vehicles?customerId=${c.id}`, { role: 'risk' }), 200);
  });
});

describe('plates are personal data (PIPL)', () => {
  const viewsOf = async (vehicleId: number) =>
    (
      await sql<{ actor_role: string; target_id: string | null; details: any }>`
        select actor_role, target_id, details from audit_log
        where action = 'privacy.view_unmasked' and target_type = 'vehicle'
          and (target_id = ${String(vehicleId)} or details->'targets' @> ${JSON.stringify([vehicleId])}::jsonb)
        order by id`.execute(server.db.db)
    ).rows;

  it('masks a plate to region and last two, never telling its length', () => {
    expect(maskPlate('沪A12345')).toBe('沪A***45');
    expect(maskPlate('沪AD12345')).toBe('沪A***45');
    expect(maskPlate('粤Z1234港')).toBe('粤Z***4港');
  });

  it('lists a fleet only to personal-data roles, one audit row per list naming every vehicle shown', async () => {
    const c = await newCustomer(server);
    const a = await newVehicle(c.id);
    const b = await newVehicle(c.id);
    for (const role of ['station_staff', 'finance'] as const) {
      expectError(await api('GET', `/api/v1/vehicles?customerId=${c.id}`, { role }), 403, 'FORBIDDEN');
    }
    expect(await viewsOf(a.id)).toEqual([]);
    const list = ok(await api('GET', `/api/v1/vehicles?customerId=${c.id}`, { role: 'risk' }), 200);
    expect(list.items.map((v: any) => v.plate).sort()).toEqual([a.plate, b.plate].sort());
    const rows = await viewsOf(a.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ actor_role: 'risk', target_id: null, details: { fields: ['vehicles.plate'], route: 'GET /api/v1/vehicles' } });
    expect([...rows[0]!.details.targets].sort()).toEqual([a.id, b.id].sort());
    // A list that shows nothing shows no plate.
    const empty = await newCustomer(server);
    ok(await api('GET', `/api/v1/vehicles?customerId=${empty.id}`, { role: 'operator' }), 200);
    const none = await sql<{ n: number }>`select count(*)::int as n from audit_log where action = 'privacy.view_unmasked' and target_type = 'vehicle' and details->'targets' = '[]'::jsonb`.execute(server.db.db);
    expect(none.rows[0]!.n).toBe(0);
  });

  it('shows one vehicle masked to station staff and finance (no audit), in clear to the others with one audit row per view', async () => {
    const f = await fleet();
    const truck = await newVehicle(f.customerId, { tankCapacityMl: 400_000, grades: ['0#'] });
    ok(await bind(f.subNo, truck.id), 200);
    for (const role of ['station_staff', 'finance'] as const) {
      expect(ok(await api('GET', `/api/v1/vehicles/${truck.id}`, { role }), 200)).toMatchObject({ id: truck.id, plate: maskPlate(truck.plate) });
      expect(ok(await api('GET', `/api/v1/cards/${f.subNo}/vehicle`, { role }), 200).vehicle).toMatchObject({ id: truck.id, plate: maskPlate(truck.plate) });
    }
    expect(maskPlate(truck.plate)).not.toBe(truck.plate);
    expect(await viewsOf(truck.id)).toEqual([]);

    expect(ok(await api('GET', `/api/v1/vehicles/${truck.id}`, { role: 'admin' }), 200).plate).toBe(truck.plate);
    expect(ok(await api('GET', `/api/v1/cards/${f.subNo}/vehicle`, { role: 'operator' }), 200).vehicle.plate).toBe(truck.plate);
    const rows = await viewsOf(truck.id);
    expect(rows).toEqual([
      { actor_role: 'admin', target_id: String(truck.id), details: { fields: ['vehicles.plate'], route: 'GET /api/v1/vehicles/:id' } },
      { actor_role: 'operator', target_id: String(truck.id), details: { fields: ['vehicles.plate'], route: 'GET /api/v1/cards/:cardNo/vehicle' } },
    ]);
  });
});

describe('binding cards', () => {
  it('binds a sub card to its own customer’s vehicle, audited, and the risk engine reads it', async () => {
    const f = await fleet();
    const truck = await newVehicle(f.customerId, { tankCapacityMl: 400_000, grades: ['0#'] });
    expect(ok(await api('GET', `/api/v1/cards/${f.subNo}/vehicle`, { role: 'station_staff' }), 200)).toEqual({ vehicle: null });
    expect(await vehicleOfCard(server.db.db, await cardId(f.subNo))).toBeNull();

    const bound = ok(await bind(f.subNo, truck.id), 200);
    expect(bound.vehicle).toMatchObject({ id: truck.id, cardCount: 1 });
    expect(ok(await api('GET', `/api/v1/cards/${f.subNo}/vehicle`, { role: 'finance' }), 200).vehicle).toMatchObject({ id: truck.id, plate: maskPlate(truck.plate) });
    expect(await vehicleOfCard(server.db.db, await cardId(f.subNo))).toEqual({ plate: truck.plate, tankCapacityMl: 400_000, grades: ['0#'] });

    const id = await cardId(f.subNo);
    const audit = await sql<{ details: any }>`select details from audit_log where action = 'card.bind_vehicle' and target_id like ${f.subNo.slice(0, 6) + '%' + f.subNo.slice(-4)}`.execute(server.db.db);
    expect(audit.rows.map((r) => r.details)).toEqual([{ vehicleId: truck.id, plate: truck.plate, previousVehicleId: null }]);
    const events = await sql<{ action: string }>`select action from card_events where card_id = ${id} and action = 'bind-vehicle'`.execute(server.db.db);
    expect(events.rows).toHaveLength(1);

    // The same binding again is a no-op: no second audit row.
    ok(await bind(f.subNo, truck.id), 200);
    const again = await sql<{ n: number }>`select count(*)::int as n from card_events where card_id = ${id} and action = 'bind-vehicle'`.execute(server.db.db);
    expect(again.rows[0]!.n).toBe(1);
  });

  it('binds only a fuel-buying card of the vehicle’s own customer', async () => {
    const f = await fleet();
    const stranger = await fleet();
    const truck = await newVehicle(f.customerId);
    expectError(await bind(stranger.subNo, truck.id), 409, 'VEHICLE_CARD_OTHER_CUSTOMER');
    expectError(await bind(f.masterNo, truck.id), 409, 'VEHICLE_CARD_KIND');
    const anonymous = await issueCard(server, { kind: 'anonymous' });
    expectError(await bind(anonymous.cardNo, truck.id), 409, 'VEHICLE_CARD_OTHER_CUSTOMER');
    expectError(await bind(f.subNo, 999_999_999), 404, 'VEHICLE_NOT_FOUND');
    expectError(await bind('6200000000000000000', truck.id), 404, 'CARD_NOT_FOUND');
    expectError(await bind(f.subNo, truck.id, 'station_staff'), 403, 'FORBIDDEN');
    // The database refuses a cross-customer binding even if code forgot to check.
    await expect(sql`update cards set vehicle_id = ${truck.id} where card_no = ${stranger.subNo}`.execute(server.db.db)).rejects.toThrow(/cards_vehicle_same_customer/);
    expect(await vehicleOfCard(server.db.db, await cardId(stranger.subNo))).toBeNull();
    // A personal card of the customer is fine (a private car).
    const own = await issueCard(server, { kind: 'personal', customerId: f.customerId });
    ok(await bind(own.cardNo, truck.id), 200);
  });

  it('moves a card to another vehicle, unbinds it, and unbinding again changes nothing', async () => {
    const f = await fleet();
    const old = await newVehicle(f.customerId);
    const replacement = await newVehicle(f.customerId, { grades: ['98#'] });
    ok(await bind(f.subNo, old.id), 200);
    expect(ok(await bind(f.subNo, replacement.id), 200).vehicle.cardCount).toBe(1);
    expect(ok(await api('GET', `/api/v1/vehicles/${old.id}`), 200).cardCount).toBe(0);
    expect((await vehicleOfCard(server.db.db, await cardId(f.subNo)))?.grades).toEqual(['98#']);

    expect((await api('DELETE', `/api/v1/cards/${f.subNo}/vehicle`)).status).toBe(204);
    expect(ok(await api('GET', `/api/v1/cards/${f.subNo}/vehicle`), 200).vehicle).toBeNull();
    expect(await vehicleOfCard(server.db.db, await cardId(f.subNo))).toBeNull();
    expect((await api('DELETE', `/api/v1/cards/${f.subNo}/vehicle`)).status).toBe(204);
    const actions = await sql<{ action: string; details: any }>`select action, details from card_events where card_id = ${await cardId(f.subNo)} and action like '%vehicle' order by id`.execute(server.db.db);
    expect(actions.rows).toEqual([
      { action: 'bind-vehicle', details: { vehicleId: old.id, plate: old.plate, previousVehicleId: null } },
      { action: 'bind-vehicle', details: { vehicleId: replacement.id, plate: replacement.plate, previousVehicleId: old.id } },
      { action: 'unbind-vehicle', details: { previousVehicleId: replacement.id } },
    ]);
  });

  it('refuses to retire a vehicle while an open card is bound, and never binds to a retired one', async () => {
    const f = await fleet();
    const truck = await newVehicle(f.customerId);
    ok(await bind(f.subNo, truck.id), 200);
    expectError(await api('POST', `/api/v1/vehicles/${truck.id}/retire`), 409, 'VEHICLE_HAS_CARDS');
    expect((await api('DELETE', `/api/v1/cards/${f.subNo}/vehicle`)).status).toBe(204);
    const retired = ok(await api('POST', `/api/v1/vehicles/${truck.id}/retire`), 200);
    expect(retired).toMatchObject({ status: 'retired', cardCount: 0 });
    expect(retired.retiredAt).not.toBeNull();
    expectError(await bind(f.subNo, truck.id), 409, 'VEHICLE_RETIRED');
    expect((await api('GET', `/api/v1/vehicles?customerId=${f.customerId}&status=active`)).body.items).toEqual([]);
  });

  it('a replacement card keeps the vehicle; the replaced card’s binding is history and does not block retiring', async () => {
    const c = await newCustomer(server);
    const card = await issueCard(server, { kind: 'personal', customerId: c.id });
    const car = await newVehicle(c.id);
    ok(await bind(card.cardNo, car.id), 200);
    const replaced = ok(await cardOp(server, card.cardNo, 'replace'), 200);
    const newNo: string = replaced.newCard.cardNo;
    expect(ok(await api('GET', `/api/v1/cards/${newNo}/vehicle`), 200).vehicle).toMatchObject({ id: car.id, cardCount: 1 });
    expect(await vehicleOfCard(server.db.db, await cardId(newNo))).toMatchObject({ plate: car.plate });
    expectError(await bind(card.cardNo, car.id), 409, 'CARD_OPERATION_NOT_ALLOWED');
    expectError(await api('DELETE', `/api/v1/cards/${card.cardNo}/vehicle`), 409, 'CARD_OPERATION_NOT_ALLOWED');

    expect((await api('DELETE', `/api/v1/cards/${newNo}/vehicle`)).status).toBe(204);
    ok(await api('POST', `/api/v1/vehicles/${car.id}/retire`), 200);
    // The old card still points at the retired vehicle; the risk engine sees none.
    expect(ok(await api('GET', `/api/v1/cards/${card.cardNo}/vehicle`), 200).vehicle).toMatchObject({ id: car.id, status: 'retired' });
    expect(await vehicleOfCard(server.db.db, await cardId(card.cardNo))).toBeNull();
    await expectLedgerVerified(server);
  });

  it('a bind racing a retire never leaves an open card on a retired vehicle', async () => {
    for (let round = 0; round < 5; round++) {
      const f = await fleet();
      const truck = await newVehicle(f.customerId);
      const [b, r] = await Promise.all([bind(f.subNo, truck.id), api('POST', `/api/v1/vehicles/${truck.id}/retire`)]);
      // Exactly one wins.
      expect([b.status, r.status].sort()).toEqual([200, 409]);
      const state = await sql<{ status: string; bound: boolean }>`select v.status, exists(select 1 from cards c where c.vehicle_id = v.id) as bound from vehicles v where v.id = ${truck.id}`.execute(server.db.db);
      expect(state.rows[0]).toEqual(b.status === 200 ? { status: 'active', bound: true } : { status: 'retired', bound: false });
    }
  });
});
