import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, signTerminalRequest, startTestServer, type TestServer } from '../../test/support/server.js';
import { card, newCard, newStation, saleBody, sell, type Terminal } from '../../test/support/fuel.js';
import type { Role } from './rbac.js';

// Values that pass a loose schema but that JS Date or PostgreSQL refuse. Each must be a clear
// 400 VALIDATION_FAILED, never a 500.
const LEAP_SECOND = '2016-12-31T23:59:60Z';
const YEAR_ZERO = '0000-01-01T00:00:00Z';
const FAR_OFFSET = '2026-01-01T00:00:00-23:59';
const HUGE_ID = '99999999999999999999';
const forged = (text: string) => Buffer.from(text).toString('base64url');
const MONTH_13_UUID_CURSOR = forged(`2026-13-01T00:00:00.000000Z|${randomUUID()}`);
const MONTH_13_BIGINT_CURSOR = forged('2026-13-01T00:00:00.000000Z|1');
const YEAR_0_CURSOR = forged(`0000-01-01T00:00:00.000000Z|${randomUUID()}`);

let server: TestServer;
let station: { stationId: number; terminal: Terminal };
let cardNo: string;
let customerId: number;
let accountId: number;
let saleId: string;
let adminId: number;

beforeAll(async () => {
  server = await startTestServer();
  station = await newStation(server);
  cardNo = await newCard(server, { funds: 50_000 });
  const view = await card(server, cardNo);
  customerId = view.customerId;
  accountId = view.accounts[0]!.accountId;
  const sale = await sell(server, station.terminal, saleBody(cardNo, 1_000));
  expect(sale.body.status).toBe('approved');
  saleId = sale.body.saleId;
  const staff = await server.api('GET', '/api/v1/staff');
  adminId = staff.body.items.find((u: { username: string }) => u.username === 'admin').id;
});
afterAll(async () => server?.close());

const enc = encodeURIComponent;

interface Case {
  what: string;
  method: string;
  path: () => string;
  body?: () => unknown;
  field?: string;
}

/** The audit log is read by the auditor (三员分立), never admin: other paths are called as admin. */
const readerOf = (path: string) => (path.startsWith('/api/v1/audit') ? ('auditor' as const) : ('admin' as const));

function expect400(r: { status: number; body: any }, c: Case): void {
  expect(r.status, `${c.what}: ${JSON.stringify(r.body)}`).toBe(400);
  expect(r.body.error.code).toBe('VALIDATION_FAILED');
  if (c.field !== undefined) expect(r.body.error.details?.field, c.what).toBe(c.field);
}

// First: the malformed-input walk below posts to the login route often enough to meet its rate limit.
describe('CSRF: no session rides on a cookie', () => {
  it('sign-in sets no cookie; a state-changing route with only a cookie is 401', async () => {
    const login = await server.api('POST', '/api/v1/auth/login', { role: null, body: { username: 'admin', password: ADMIN_PASSWORD } });
    expect(login.status).toBe(200);
    expect(login.headers.get('set-cookie')).toBeNull();
    const cookie = `token=${server.tokens.admin}; session=${server.tokens.admin}; authorization=Bearer%20${server.tokens.admin}`;
    const r = await server.api('POST', '/api/v1/customers', { role: null, headers: { cookie }, body: { name: '跨站', phone: '13900000000', idType: 'passport', idNumber: 'E12345678' } });
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('UNAUTHENTICATED');
    const freeze = await server.api('POST', `/api/v1/cards/${cardNo}/freeze`, { role: null, headers: { cookie }, body: { reason: 'csrf' } });
    expect(freeze.status).toBe(401);
    expect((await card(server, cardNo)).status).not.toBe('frozen');
  });
});

describe('times no database can hold', () => {
  const cases: Case[] = [];
  for (const path of ['/api/v1/sales', '/api/v1/recharges', '/api/v1/audit', '/api/v1/sales/export', '/api/v1/recharges/export', '/api/v1/audit/export']) {
    for (const name of ['from', 'to']) {
      for (const value of [LEAP_SECOND, YEAR_ZERO]) {
        cases.push({ what: `${path}?${name}=${value}`, method: 'GET', path: () => `${path}?${name}=${enc(value)}`, field: `querystring.${name}` });
      }
    }
  }
  for (const value of [LEAP_SECOND, YEAR_ZERO]) {
    cases.push({ what: `statement from=${value}`, method: 'GET', path: () => `/api/v1/cards/${cardNo}/statement?from=${enc(value)}`, field: 'querystring.from' });
    cases.push({ what: `entries to=${value}`, method: 'GET', path: () => `/api/v1/accounts/${accountId}/entries?to=${enc(value)}`, field: 'querystring.to' });
  }
  it.each(cases.map((c) => [c.what, c] as const))('%s', async (_w, c) => expect400(await server.api(c.method, c.path(), { role: readerOf(c.path()) }), c));

  it('an offset PostgreSQL would not read as text is just an instant: it filters', async () => {
    for (const path of ['/api/v1/sales', '/api/v1/audit', '/api/v1/recharges']) {
      const r = await server.api('GET', `${path}?from=${enc(FAR_OFFSET)}`, { role: readerOf(path) });
      expect(r.status, `${path}: ${JSON.stringify(r.body)}`).toBe(200);
      expect(r.body.items.length).toBeGreaterThan(0);
    }
    const r = await server.api('GET', `/api/v1/sales/export?to=${enc(FAR_OFFSET)}`);
    expect(r.status).toBe(200);
    // 2026-01-01T00:00:00-23:59 is 2026-01-02 07:59 in Beijing.
    expect(r.headers.get('content-disposition')).toMatch(/^attachment; filename="sales-start-20260102T0759\.xlsx"$/);
  });
});

describe('forged cursors', () => {
  const cases: Case[] = [
    { what: 'sales, month 13', method: 'GET', path: () => `/api/v1/sales?cursor=${MONTH_13_UUID_CURSOR}`, field: 'cursor' },
    { what: 'sales, year 0', method: 'GET', path: () => `/api/v1/sales?cursor=${YEAR_0_CURSOR}`, field: 'cursor' },
    { what: 'sales of an unknown card, month 13', method: 'GET', path: () => `/api/v1/sales?cardNo=${'9'.repeat(19)}&cursor=${MONTH_13_UUID_CURSOR}`, field: 'cursor' },
    { what: 'recharges, month 13', method: 'GET', path: () => `/api/v1/recharges?cursor=${MONTH_13_UUID_CURSOR}`, field: 'cursor' },
    { what: 'audit, month 13', method: 'GET', path: () => `/api/v1/audit?cursor=${MONTH_13_BIGINT_CURSOR}`, field: 'cursor' },
    { what: 'card statement, month 13', method: 'GET', path: () => `/api/v1/cards/${cardNo}/statement?cursor=${MONTH_13_UUID_CURSOR}`, field: 'cursor' },
    { what: 'account entries, month 13', method: 'GET', path: () => `/api/v1/accounts/${accountId}/entries?cursor=${MONTH_13_UUID_CURSOR}`, field: 'cursor' },
  ];
  it.each(cases.map((c) => [c.what, c] as const))('%s', async (_w, c) => expect400(await server.api(c.method, c.path(), { role: readerOf(c.path()) }), c));
});

describe('ids past bigint', () => {
  const cases: Case[] = [
    { what: 'PATCH /staff/:id', method: 'PATCH', path: () => `/api/v1/staff/${HUGE_ID}`, body: () => ({ displayName: 'x' }), field: 'params.id' },
    { what: 'POST /staff/:id/password', method: 'POST', path: () => `/api/v1/staff/${HUGE_ID}/password`, body: () => ({ password: 'long-enough-password' }), field: 'params.id' },
    { what: 'POST /staff stationId', method: 'POST', path: () => '/api/v1/staff', body: () => ({ username: 'huge.station', password: 'long-enough-password', role: 'station_staff', stationId: 1e20 }) },
    { what: 'PATCH /staff stationId', method: 'PATCH', path: () => `/api/v1/staff/${adminId}`, body: () => ({ stationId: 1e20 }) },
    { what: 'GET /stations/:id', method: 'GET', path: () => `/api/v1/stations/${HUGE_ID}`, field: 'params.id' },
    { what: 'GET /stations/:id/nozzles', method: 'GET', path: () => `/api/v1/stations/${HUGE_ID}/nozzles`, field: 'params.id' },
    { what: 'PUT /stations/:id/nozzles', method: 'PUT', path: () => `/api/v1/stations/${HUGE_ID}/nozzles`, body: () => ({ items: [] }), field: 'params.id' },
    { what: 'GET /stations/:id/terminals', method: 'GET', path: () => `/api/v1/stations/${HUGE_ID}/terminals`, field: 'params.id' },
    { what: 'POST /stations/:id/terminals', method: 'POST', path: () => `/api/v1/stations/${HUGE_ID}/terminals`, field: 'params.id' },
    { what: 'GET /stations offset', method: 'GET', path: () => `/api/v1/stations?offset=${HUGE_ID}`, field: 'querystring.offset' },
    { what: 'GET /prices?stationId', method: 'GET', path: () => `/api/v1/prices?stationId=${HUGE_ID}`, field: 'querystring.stationId' },
    { what: 'POST /prices stationId', method: 'POST', path: () => '/api/v1/prices', body: () => ({ grade: '92#', unitPrice: 800, stationId: 1e20 }) },
    { what: 'GET /sales?stationId', method: 'GET', path: () => `/api/v1/sales?stationId=${HUGE_ID}`, field: 'querystring.stationId' },
    { what: 'GET /sales/export?stationId', method: 'GET', path: () => `/api/v1/sales/export?stationId=${HUGE_ID}`, field: 'querystring.stationId' },
    { what: 'GET /customers/:id', method: 'GET', path: () => `/api/v1/customers/${HUGE_ID}`, field: 'params.id' },
    { what: 'POST /customers/:id/real-name', method: 'POST', path: () => `/api/v1/customers/${HUGE_ID}/real-name`, body: () => ({ status: 'verified' }), field: 'params.id' },
    { what: 'GET /cards?customerId', method: 'GET', path: () => `/api/v1/cards?customerId=${HUGE_ID}`, field: 'querystring.customerId' },
    { what: 'POST /cards customerId', method: 'POST', path: () => '/api/v1/cards', body: () => ({ kind: 'personal', customerId: 1e20, pin: '123456' }) },
    { what: 'POST /cards/:cardNo/accounts accountId', method: 'POST', path: () => `/api/v1/cards/${cardNo}/accounts`, body: () => ({ accountId: 1e20 }) },
    { what: 'PUT /cards/:cardNo/accounts order', method: 'PUT', path: () => `/api/v1/cards/${cardNo}/accounts`, body: () => ({ order: [1e20] }) },
    { what: 'GET /accounts/:accountId', method: 'GET', path: () => `/api/v1/accounts/${HUGE_ID}`, field: 'params.accountId' },
    { what: 'GET /accounts/:accountId/entries', method: 'GET', path: () => `/api/v1/accounts/${HUGE_ID}/entries`, field: 'params.accountId' },
    // Just past the largest exact JSON integer: still refused, not rounded to a neighbour.
    { what: 'GET /customers/:id, 2^53', method: 'GET', path: () => `/api/v1/customers/${2 ** 53}`, field: 'params.id' },
  ];
  it.each(cases.map((c) => [c.what, c] as const))('%s', async (_w, c) => expect400(await server.api(c.method, c.path(), { role: readerOf(c.path()), ...(c.body ? { body: c.body() } : {}) }), c));

  it('the largest exact id is a valid id that names nothing', async () => {
    const r = await server.api('GET', `/api/v1/customers/${Number.MAX_SAFE_INTEGER}`);
    expect(r.status).toBe(404);
  });
});

describe('NUL in text', () => {
  const cases: Case[] = [
    { what: 'audit actor', method: 'GET', path: () => '/api/v1/audit?actor=a%00b', field: 'querystring.actor' },
    { what: 'audit targetId', method: 'GET', path: () => '/api/v1/audit?targetId=%00', field: 'querystring.targetId' },
    { what: 'audit targetType', method: 'GET', path: () => '/api/v1/audit?targetType=card%00', field: 'querystring.targetType' },
    { what: 'audit export actor', method: 'GET', path: () => '/api/v1/audit/export?actor=a%00b', field: 'querystring.actor' },
    { what: 'sales grade', method: 'GET', path: () => '/api/v1/sales?grade=92%00', field: 'querystring.grade' },
    { what: 'POST /prices grade', method: 'POST', path: () => '/api/v1/prices', body: () => ({ grade: '92\u0000', unitPrice: 800 }), field: 'body.grade' },
    { what: 'PUT nozzles grade', method: 'PUT', path: () => `/api/v1/stations/${station.stationId}/nozzles`, body: () => ({ items: [{ nozzle: 1, grade: '\u0000' }] }), field: 'body.items.0.grade' },
    { what: 'customers name filter', method: 'GET', path: () => '/api/v1/customers?name=%00', field: 'querystring.name' },
    { what: 'POST /customers name', method: 'POST', path: () => '/api/v1/customers', body: () => ({ name: '张\u0000三', phone: '13912345678', idNumber: '310101199001011234' }), field: 'body.name' },
    { what: 'POST /stations name', method: 'POST', path: () => '/api/v1/stations', body: () => ({ code: 'NUL1', name: 'a\u0000', address: 'x', lat: 31, lng: 121 }), field: 'body.name' },
    { what: 'POST /staff displayName', method: 'POST', path: () => '/api/v1/staff', body: () => ({ username: 'nul.name', password: 'long-enough-password', role: 'finance', displayName: 'a\u0000' }), field: 'body.displayName' },
    { what: 'PATCH /staff displayName', method: 'PATCH', path: () => `/api/v1/staff/${adminId}`, body: () => ({ displayName: 'a\u0000b' }), field: 'body.displayName' },
    { what: 'login username', method: 'POST', path: () => '/api/v1/auth/login', body: () => ({ username: 'admin\u0000', password: 'x' }), field: 'body.username' },
    { what: 'card freeze reason', method: 'POST', path: () => `/api/v1/cards/${cardNo}/freeze`, body: () => ({ reason: 'a\u0000b' }), field: 'body.reason' },
  ];
  it.each(cases.map((c) => [c.what, c] as const))('%s', async (_w, c) => expect400(await server.api(c.method, c.path(), { role: readerOf(c.path()), ...(c.body ? { body: c.body() } : {}) }), c));

  it('a displayName of blanks is still refused, and a normal one still accepted', async () => {
    expect((await server.api('PATCH', `/api/v1/staff/${adminId}`, { body: { displayName: '   ' } })).status).toBe(400);
    expect((await server.api('PATCH', `/api/v1/staff/${adminId}`, { body: { displayName: ' 管理员 ' } })).status).toBe(200);
  });
});

/**
 * Every staff GET route, every parameter its OpenAPI schema declares, the hostile values for
 * that parameter's type: nothing may answer 500. Path parameters not under test name real rows,
 * so a query parameter is not hidden behind a 404.
 */
describe('walk: hostile values on every staff GET route', () => {
  interface Param {
    in: 'path' | 'query';
    name: string;
    schema: { type?: string; format?: string; enum?: unknown[]; anyOf?: unknown[] };
  }

  function hostileValues(p: Param): string[] {
    const t = p.schema.type;
    if (p.name === 'cursor') return [MONTH_13_UUID_CURSOR, MONTH_13_BIGINT_CURSOR, YEAR_0_CURSOR, 'x'];
    if (t === 'integer' || t === 'number') return [HUGE_ID, String(2 ** 53), '-1', '1.5'];
    if (t === 'boolean') return ['maybe'];
    if (p.schema.format === 'date-time') return [LEAP_SECOND, YEAR_ZERO, FAR_OFFSET, '2026-02-30T00:00:00Z', '2026-01-01T00:00:00'];
    return ['a\u0000b', '\u0000', 'x'.repeat(300)];
  }

  function realValue(path: string, p: Param): string {
    const byName: Record<string, () => string> = {
      cardNo: () => cardNo,
      accountId: () => String(accountId),
      saleId: () => saleId,
      terminalId: () => station.terminal.terminalId,
      day: () => '2026-11-27',
      authorisationId: () => '00000000-0000-4000-8000-000000000000',
      pumpSaleId: () => '00000000-0000-4000-8000-000000000000',
      batchId: () => '00000000-0000-4000-8000-000000000000',
      sku: () => 'NO-SUCH-SKU',
      code: () => '92#',
      id: () => (path.startsWith('/api/v1/stations/') ? String(station.stationId) : path.startsWith('/api/v1/customers/') ? String(customerId) : String(adminId)),
    };
    const v = byName[p.name];
    if (!v) throw new Error(`no real value for path parameter ${p.name} of ${path}: add one to the walk`);
    return v();
  }

  it('answers every hostile value with a 4xx', async () => {
    const doc = (await server.api('GET', '/api/v1/openapi.json', { role: null })).body as { paths: Record<string, Record<string, { parameters?: Param[] }>> };
    const failures: string[] = [];
    let requests = 0;
    const walked = new Set<string>();
    for (const route of server.routes) {
      if (route.method !== 'GET' || route.access?.kind !== 'staff') continue;
      const template = route.url.replace(/:([A-Za-z]+)/g, '{$1}');
      const params = doc.paths[template]?.get?.parameters ?? [];
      if (params.length === 0) continue;
      walked.add(route.url);
      const role: Role = route.access.roles.includes('admin') ? 'admin' : route.access.roles[0]!;
      for (const target of params) {
        for (const value of hostileValues(target)) {
          let path = template;
          const query: string[] = [];
          for (const p of params) {
            if (p.in === 'path') path = path.replace(`{${p.name}}`, enc(p === target ? value : realValue(template, p)));
            else if (p === target) query.push(`${p.name}=${enc(value)}`);
          }
          const url = query.length ? `${path}?${query.join('&')}` : path;
          const r = await server.api('GET', url, { role });
          requests++;
          if (r.status >= 500) failures.push(`${url} → ${r.status} ${JSON.stringify(r.body)}`);
          else if (r.status === 200 && typeof value === 'string' && value.includes('\u0000')) failures.push(`${url} → 200 with NUL`);
        }
      }
    }
    expect(failures).toEqual([]);
    // The walk must actually cover the routes this suite is about.
    for (const url of ['/api/v1/sales', '/api/v1/recharges', '/api/v1/audit', '/api/v1/audit/export', '/api/v1/prices', '/api/v1/customers/:id', '/api/v1/cards/:cardNo/statement', '/api/v1/stations/:id/nozzles']) {
      expect(walked, url).toContain(url);
    }
    expect(requests).toBeGreaterThan(200);
  });
});

/**
 * Every API route, whoever may call it (staff, terminal, cardholder, public), fed malformed input
 * by fast-check: bodies that are not JSON, JSON of the wrong shape, hostile path values, wrong
 * media types. Nothing may answer 5xx; a malformed body is a 4xx. Path parameters carry hostile
 * values, so no real row is touched; sign-out routes are left out (they would end the sessions
 * the walk runs on).
 */
describe('property: malformed input on every API route is a 4xx, never a 5xx', () => {
  const junkText = fc.oneof(
    fc.constantFrom('{', '{"a":', '[1,2', 'null', 'true', '"x"', '12', '{"__proto__":{"x":1}}', '\u0000', '{"a":"\u0000"}', '1e999', '{"amount":1e400}'),
    fc.string({ maxLength: 40 }),
  );
  const junkJson = fc.oneof(
    fc.constantFrom<unknown>([], [1], 'text', -1, 1e20, { amount: -1 }, { amount: '100' }, { id: 2 ** 64 }, { name: '\u0000' }, { nested: { deep: [[[[{}]]]] } }),
    fc.dictionary(fc.string({ maxLength: 12 }), fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.double(), fc.constant(null), fc.boolean()), { maxKeys: 4 }),
  );
  const hostileSegment = fc.constantFrom('0', '-1', HUGE_ID, '1.5', '%00', 'a%00b', '..%2F..%2Fetc', 'x'.repeat(300), '%E4%B8%AD', 'null', '00000000-0000-0000-0000-00000000000g');
  const body = fc.oneof(
    junkText.map((text) => ({ text, type: 'application/json' })),
    junkJson.map((v) => ({ text: JSON.stringify(v), type: 'application/json' })),
    junkText.map((text) => ({ text, type: fc.sample(fc.constantFrom('text/plain', 'application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x'), 1)[0]! })),
  );

  let cardholderToken: string;
  beforeAll(async () => {
    const { customerWithPhone, signIn } = await import('../portal/portal.fixtures.js');
    cardholderToken = await signIn(server, (await customerWithPhone(server)).phone);
  });

  // Sign-out would end the walk's own sessions; an event stream never ends its answer.
  const skip = (url: string) => /\/(auth\/)?logout$/.test(url) || /\/stream$/.test(url) || !url.startsWith('/api/');

  it('walks every route', async () => {
    const routes = server.routes.filter((r) => !skip(r.url) && r.access !== undefined);
    const kinds = new Set(routes.map((r) => r.access!.kind));
    expect([...kinds].sort()).toEqual(['cardholder', 'public', 'staff', 'terminal']);
    const failures: string[] = [];
    const send = async (route: (typeof routes)[number], segment: string, b: { text: string; type: string } | null) => {
      const url = route.url.replace(/:[A-Za-z]+/g, segment).replace(/\*$/, segment);
      const hasBody = !['GET', 'DELETE'].includes(route.method) && b !== null;
      const headers: Record<string, string> = hasBody ? { 'content-type': b.type } : {};
      const a = route.access!;
      if (a.kind === 'staff') headers.authorization = `Bearer ${server.tokens[a.roles.includes('admin') ? 'admin' : a.roles[0]!]}`;
      if (a.kind === 'cardholder') headers.authorization = `Bearer ${cardholderToken}`;
      if (a.kind === 'terminal') Object.assign(headers, signTerminalRequest(station.terminal, route.method, url, hasBody ? b.text : ''), hasBody ? { 'content-type': b.type } : {});
      const res = await fetch(server.baseUrl + url, { method: route.method, headers, body: hasBody ? b.text : undefined });
      const text = await res.text();
      if (res.status >= 500) failures.push(`${route.method} ${url} [${hasBody ? `${b.type} ${JSON.stringify(b.text).slice(0, 80)}` : 'no body'}] → ${res.status} ${text.slice(0, 200)}`);
      return res.status;
    };
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: routes.length - 1 }), hostileSegment, body, async (i, segment, b) => {
        await send(routes[i]!, segment, b);
        return true;
      }),
      { numRuns: Math.max(800, routes.length * 4), seed: 7 },
    );
    // And deterministically: every body-taking route, a body that is not JSON at all, must be a 4xx.
    for (const route of routes) {
      if (['GET', 'DELETE'].includes(route.method)) continue;
      const status = await send(route, '1', { text: '{"unterminated', type: 'application/json' });
      if (status >= 500 || status < 400) failures.push(`${route.method} ${route.url} with broken JSON → ${status}`);
    }
    expect(failures).toEqual([]);
    const ledger = await server.verify();
    expect(ledger.ok, JSON.stringify(ledger)).toBe(true);
  }, 300_000);
});

describe('headers on the real server', () => {
  it('API answers, the API page and a sandbox or dev page all carry the hardening headers', async () => {
    const api = await server.api('GET', '/api/v1/sales');
    expect(api.headers.get('cache-control')).toBe('no-store');
    expect(api.headers.get('x-frame-options')).toBe('DENY');
    const docs = await fetch(`${server.baseUrl}/docs/static/index.html`);
    expect(docs.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(docs.headers.get('x-content-type-options')).toBe('nosniff');
    const outbox = await fetch(`${server.baseUrl}/dev/outbox`);
    expect(outbox.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(outbox.headers.get('referrer-policy')).toBe('no-referrer');
  });
});
