import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { luhnCheckDigit } from '../src/cards/index.js';
import { STAFF_PASSWORD, startTestServer, type TestServer } from './support/server.js';
import { expectLedgerOk, newCard, newCustomer, newStation } from './support/fuel.js';

/**
 * Owner scoping (issue 7 §5): enterprise administrators see their own customer's cards, sub-cards
 * and statements; station staff their own station's settlements, shifts and reversals. Another
 * owner's object is refused exactly like a missing one (404) where the route looks an object up by
 * id or number, so direct object references tell nothing.
 */
let server: TestServer;
const ent = {} as Record<'X' | 'Y', { customerId: number; master: string; sub: string; personal: string; token: string }>;
const st = {} as Record<'A' | 'B', { stationId: number; token: string }>;

async function signIn(username: string): Promise<string> {
  const r = await server.api('POST', '/api/v1/auth/login', { role: null, body: { username, password: STAFF_PASSWORD } });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.token as string;
}

beforeAll(async () => {
  server = await startTestServer();
  for (const k of ['X', 'Y'] as const) {
    const customerId = await newCustomer(server);
    const master = await newCard(server, { kind: 'master', customerId, funds: 10_000 });
    const sub = await newCard(server, { kind: 'sub', masterCardNo: master });
    const personal = await newCard(server, { kind: 'personal', customerId });
    const username = `ent.${k.toLowerCase()}`;
    const created = await server.api('POST', '/api/v1/staff', { body: { username, password: STAFF_PASSWORD, role: 'enterprise_admin', customerId } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.customerId).toBe(customerId);
    ent[k] = { customerId, master, sub, personal, token: await signIn(username) };
  }
  for (const k of ['A', 'B'] as const) {
    const { stationId } = await newStation(server);
    const username = `cashier.${k.toLowerCase()}`;
    expect((await server.api('POST', '/api/v1/staff', { body: { username, password: STAFF_PASSWORD, role: 'station_staff', stationId } })).status).toBe(201);
    st[k] = { stationId, token: await signIn(username) };
  }
});
afterAll(async () => {
  if (server) await expectLedgerOk(server);
  await server?.close();
});

const get = (token: string, path: string) => server.api('GET', path, { token });
const today = () => new Date().toLocaleDateString('sv-SE', { timeZone: 'Asia/Shanghai' });

describe('enterprise administrators: their own customer only', () => {
  const cardRoutes = (cardNo: string) => [`/api/v1/cards/${cardNo}`, `/api/v1/cards/${cardNo}/statement`];

  it('own: master card, sub-cards, personal card, statements, customer, card list → 200', async () => {
    const x = ent.X;
    for (const cardNo of [x.master, x.sub, x.personal]) {
      for (const path of cardRoutes(cardNo)) expect((await get(x.token, path)).status, path).toBe(200);
    }
    const subs = await get(x.token, `/api/v1/cards/${x.master}/sub-cards`);
    expect(subs.status).toBe(200);
    expect(subs.body.items).toHaveLength(1);
    expect((await get(x.token, `/api/v1/customers/${x.customerId}`)).status).toBe(200);
    const list = await get(x.token, `/api/v1/cards?customerId=${x.customerId}`);
    expect(list.status).toBe(200);
    expect(list.body.items.length).toBeGreaterThanOrEqual(2);
    // Card numbers stay masked for the enterprise administrator (not a role that sees them in clear).
    expect(JSON.stringify(list.body)).not.toContain(x.master);
  });

  it("another customer's objects → 404, the same answer as for objects that do not exist", async () => {
    const x = ent.X;
    const y = ent.Y;
    const body = '900001' + '9'.repeat(12);
    const missing = body + String(luhnCheckDigit(body));
    for (const cardNo of [y.master, y.sub, y.personal, missing]) {
      for (const path of [...cardRoutes(cardNo), `/api/v1/cards/${cardNo}/sub-cards`]) {
        const r = await get(x.token, path);
        expect(r.status, path).toBe(404);
        expect(r.body.error.code, path).toBe('CARD_NOT_FOUND');
        expect(r.body.error.details ?? {}, path).not.toHaveProperty('customerId');
      }
    }
    for (const path of [`/api/v1/customers/${y.customerId}`, `/api/v1/cards?customerId=${y.customerId}`, '/api/v1/customers/99999999', '/api/v1/cards?customerId=99999999']) {
      const r = await get(x.token, path);
      expect(r.status, path).toBe(404);
      expect(r.body.error.code, path).toBe('CUSTOMER_NOT_FOUND');
    }
    // And the other way round.
    expect((await get(y.token, `/api/v1/cards/${x.master}`)).status).toBe(404);
    expect((await get(y.token, `/api/v1/cards/${y.master}`)).status).toBe(200);
  });

  it('may not search customers, read accounts or change cards (403)', async () => {
    const x = ent.X;
    for (const [method, path] of [
      ['GET', '/api/v1/customers'],
      ['GET', '/api/v1/accounts/1'],
      ['POST', `/api/v1/cards/${x.master}/freeze`],
      ['POST', '/api/v1/cards'],
    ] as const) {
      const r = await server.api(method, path, { token: x.token, body: method === 'POST' ? {} : undefined });
      expect(r.status, path).toBe(403);
      expect(r.body.error.code).toBe('FORBIDDEN');
    }
  });

  it('staff accounts: an enterprise administrator needs a customer, other roles may not have one', async () => {
    const none = await server.api('POST', '/api/v1/staff', { role: 'security_officer', body: { username: 'ent.none', password: STAFF_PASSWORD, role: 'enterprise_admin' } });
    expect(none.status).toBe(400);
    expect(none.body.error.code).toBe('STAFF_CUSTOMER_REQUIRED');
    const wrong = await server.api('POST', '/api/v1/staff', { body: { username: 'op.cust', password: STAFF_PASSWORD, role: 'operator', customerId: ent.X.customerId } });
    expect(wrong.body.error.code).toBe('STAFF_CUSTOMER_NOT_ALLOWED');
    const ghost = await server.api('POST', '/api/v1/staff', { body: { username: 'ent.ghost', password: STAFF_PASSWORD, role: 'enterprise_admin', customerId: 99_999_999 } });
    expect(ghost.body.error.code).toBe('CUSTOMER_NOT_FOUND');
  });

  it('an enterprise administrator bound to no customer (created by the system, e.g. the test fixture) sees nothing', async () => {
    for (const path of [`/api/v1/cards/${ent.X.master}`, `/api/v1/customers/${ent.X.customerId}`, `/api/v1/cards/${ent.X.master}/statement`]) {
      expect((await server.api('GET', path, { role: 'enterprise_admin' })).status, path).toBe(404);
    }
  });

  it('other readers are not confined: an operator reads both customers', async () => {
    for (const k of ['X', 'Y'] as const) expect((await server.api('GET', `/api/v1/cards/${ent[k].master}`, { role: 'operator' })).status).toBe(200);
  });
});

describe('station staff: their own station only', () => {
  it('own station → 200; another station → 403; unbound readers see both', async () => {
    const a = st.A;
    const b = st.B;
    const own = [`/api/v1/stations/${a.stationId}/settlements/${today()}`, `/api/v1/shifts?stationId=${a.stationId}`, `/api/v1/reversals?stationId=${a.stationId}`];
    const other = [`/api/v1/stations/${b.stationId}/settlements/${today()}`, `/api/v1/shifts?stationId=${b.stationId}`, `/api/v1/reversals?stationId=${b.stationId}`];
    for (const path of own) expect((await get(a.token, path)).status, path).toBe(200);
    for (const path of other) {
      const r = await get(a.token, path);
      expect(r.status, path).toBe(403);
      expect(r.body.error.code).toBe('FORBIDDEN');
    }
    for (const path of other) expect((await get(b.token, path)).status, path).toBe(200);
    for (const path of [...own, ...other]) expect((await server.api('GET', path, { role: 'finance' })).status, path).toBe(200);
  });
});
