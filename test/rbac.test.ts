import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROLES, type Role, type RouteInfo } from '../src/platform/index.js';
import { luhnCheckDigit } from '../src/cards/index.js';
import { ADMIN_PASSWORD, STAFF_PASSWORD, startTestServer, type TestServer } from './support/server.js';
import { login as staffLogin, setPassword } from '../src/staff/index.js';
import { registeredRoutes } from './support/route-list.js';
import { expectLedgerOk, newCard, newCustomer, newStation, recharge } from './support/fuel.js';

let server: TestServer;
let routes: RouteInfo[];

beforeAll(async () => {
  server = await startTestServer();
  routes = (await registeredRoutes(server)).routes;
});
afterAll(async () => {
  // The audit tests recharge a card: the ledger must still verify.
  if (server) await expectLedgerOk(server);
  await server?.close();
});

async function login(username: string, password: string) {
  return server.api('POST', '/api/v1/auth/login', { role: null, body: { username, password } });
}
const usernameOf = (role: Role) => (role === 'admin' ? 'admin' : `t_${role}`);
const passwordOf = (role: Role) => (role === 'admin' ? ADMIN_PASSWORD : STAFF_PASSWORD);

describe('login, logout and sessions', () => {
  it('login returns a bearer token, its expiry and the user', async () => {
    const r = await login('t_operator', STAFF_PASSWORD);
    expect(r.status).toBe(200);
    expect(r.body.token).toMatch(/^[A-Za-z0-9_-]{32,}$/);
    expect(r.body.user).toMatchObject({ username: 't_operator', role: 'operator' });
    const ttl = Date.parse(r.body.expiresAt) - Date.now();
    expect(ttl).toBeGreaterThan(server.config.sessionTtlMs - 60_000);
    expect(ttl).toBeLessThanOrEqual(server.config.sessionTtlMs);
    const me = await server.api('GET', '/api/v1/auth/me', { token: r.body.token });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ username: 't_operator', role: 'operator' });
    // Only a hash of the token is stored.
    const stored = await sql<{ n: number }>`select count(*)::int n from staff_sessions where token_hash = ${r.body.token}`.execute(server.db.db);
    expect(stored.rows[0]!.n).toBe(0);
  });

  it('a wrong password or an unknown user is 401 INVALID_CREDENTIALS, the same answer for both', async () => {
    const wrong = await login('t_operator', 'not-the-password');
    const unknown = await login('nobody', 'whatever-password');
    for (const r of [wrong, unknown]) {
      expect(r.status).toBe(401);
      expect(r.body.error.code).toBe('INVALID_CREDENTIALS');
      expect(r.body.token).toBeUndefined();
    }
    expect(Object.keys(wrong.body.error).sort()).toEqual(Object.keys(unknown.body.error).sort());
  });

  it('logout revokes that token only', async () => {
    const a = (await login('t_finance', STAFF_PASSWORD)).body.token as string;
    const b = (await login('t_finance', STAFF_PASSWORD)).body.token as string;
    const out = await server.api('POST', '/api/v1/auth/logout', { token: a });
    expect(out.status).toBe(204);
    const after = await server.api('GET', '/api/v1/auth/me', { token: a });
    expect(after.status).toBe(401);
    expect(after.body.error.code).toBe('UNAUTHENTICATED');
    expect((await server.api('GET', '/api/v1/auth/me', { token: b })).status).toBe(200);
    // Logging out twice is refused as unauthenticated, not an error.
    expect((await server.api('POST', '/api/v1/auth/logout', { token: a })).status).toBe(401);
  });

  it('an expired session is 401 UNAUTHENTICATED', async () => {
    const token = (await login('t_risk', STAFF_PASSWORD)).body.token as string;
    expect((await server.api('GET', '/api/v1/auth/me', { token })).status).toBe(200);
    // FUELCARD_SESSION_TTL_MIN cannot go below a minute: move the expiry instead.
    await sql`update staff_sessions set expires_at = now() - interval '1 second'
      where user_id = (select id from staff_users where username = 't_risk') and revoked_at is null`.execute(server.db.db);
    const r = await server.api('GET', '/api/v1/auth/me', { token });
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('UNAUTHENTICATED');
    // A new login works again.
    const fresh = (await login('t_risk', STAFF_PASSWORD)).body.token as string;
    expect((await server.api('GET', '/api/v1/auth/me', { token: fresh })).status).toBe(200);
    server.tokens.risk = fresh;
  });

  it('a disabled user can neither log in nor use an open session', async () => {
    const created = await server.api('POST', '/api/v1/staff', { body: { username: 'li.si', password: 'correct-horse-battery', role: 'operator' } });
    expect(created.status).toBe(201);
    const token = (await login('li.si', 'correct-horse-battery')).body.token as string;
    await sql`update staff_users set status = 'disabled' where username = 'li.si'`.execute(server.db.db);
    expect((await server.api('GET', '/api/v1/auth/me', { token })).status).toBe(401);
    const r = await login('li.si', 'correct-horse-battery');
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('INVALID_CREDENTIALS');
  });

  it('malformed bearer headers are 401 UNAUTHENTICATED', async () => {
    for (const authorization of ['Bearer', 'Bearer ', 'Basic YWRtaW46eA==', `Bearer ${'x'.repeat(500)}`, 'Bearer not-a-token', server.tokens.admin]) {
      const r = await server.api('GET', '/api/v1/auth/me', { role: null, headers: { authorization } });
      expect(r.status, authorization.slice(0, 20)).toBe(401);
      expect(r.body.error.code).toBe('UNAUTHENTICATED');
    }
  });

  it('staff users: admin creates them; names are unique; passwords have a minimum length', async () => {
    const ok = await server.api('POST', '/api/v1/staff', { body: { username: 'wang.wu', password: 'long-enough-pass', role: 'station_staff', displayName: '王五' } });
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ username: 'wang.wu', role: 'station_staff', displayName: '王五', status: 'active' });
    expect(JSON.stringify(ok.body)).not.toContain('long-enough-pass');
    const dup = await server.api('POST', '/api/v1/staff', { body: { username: 'wang.wu', password: 'long-enough-pass', role: 'operator' } });
    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe('STAFF_USERNAME_TAKEN');
    const weak = await server.api('POST', '/api/v1/staff', { body: { username: 'zhao.liu', password: 'short', role: 'operator' } });
    expect(weak.status).toBe(400);
    expect(weak.body.error.code).toBe('VALIDATION_FAILED');
    expect(weak.body.error.details.field).toBe('body.password');
    const noStation = await server.api('POST', '/api/v1/staff', { body: { username: 'zhao.qi', password: 'long-enough-pass', role: 'station_staff', stationId: 999_999 } });
    expect(noStation.status).toBe(404);
    expect(noStation.body.error.code).toBe('STATION_NOT_FOUND');
    const st = await newStation(server);
    const atStation = await server.api('POST', '/api/v1/staff', { body: { username: 'zhao.qi', password: 'long-enough-pass', role: 'station_staff', stationId: st.stationId } });
    expect(atStation.status).toBe(201);
    expect(atStation.body.stationId).toBe(st.stationId);
    const list = await server.api('GET', '/api/v1/staff');
    expect(list.body.items.map((u: { username: string }) => u.username)).toContain('wang.wu');
    expect(JSON.stringify(list.body)).not.toMatch(/argon2|password/i);
  });
});

describe('audit log', () => {
  let n = 0;
  const rid = () => `audit-test-${++n}-${Date.now()}`;
  async function auditRows(requestId: string) {
    const r = await sql<{ actor_id: number | null; actor_name: string; actor_role: string; action: string; target_type: string; target_id: string | null; ip: string | null; at: Date; details: unknown }>`
      select actor_id, actor_name, actor_role, action, target_type, target_id, ip, at, details from audit_log where request_id = ${requestId}`.execute(server.db.db);
    return r.rows;
  }

  it('records who, what, when and from where for every staff action that changes something', async () => {
    const started = Date.now() - 1_000;
    const st = await newStation(server);
    const customerId = await newCustomer(server);
    const cardNo = await newCard(server, { customerId });
    await recharge(server, cardNo, 100);
    const operatorId = (await server.api('GET', '/api/v1/auth/me', { role: 'operator' })).body.id as number;
    const adminId = (await server.api('GET', '/api/v1/auth/me')).body.id as number;

    const actions: Array<{ role: Role; method: string; path: string; body?: unknown; action: RegExp; actorId: number }> = [
      { role: 'operator', method: 'POST', path: '/api/v1/customers', body: { name: '李四', phone: '13700001111', idType: 'resident_id', idNumber: '110101199003071234' }, action: /customer/, actorId: operatorId },
      { role: 'operator', method: 'POST', path: '/api/v1/cards', body: { kind: 'personal', customerId, pin: '135790' }, action: /card/, actorId: operatorId },
      { role: 'operator', method: 'POST', path: `/api/v1/cards/${cardNo}/recharges`, body: { amount: 500, channel: 'cash' }, action: /recharge/, actorId: operatorId },
      { role: 'operator', method: 'PUT', path: `/api/v1/cards/${cardNo}/limits`, body: { saleAmount: 100_000 }, action: /limit/, actorId: operatorId },
      { role: 'operator', method: 'POST', path: `/api/v1/cards/${cardNo}/freeze`, body: { reason: 'test' }, action: /freeze/, actorId: operatorId },
      { role: 'operator', method: 'POST', path: `/api/v1/cards/${cardNo}/unfreeze`, body: {}, action: /unfreeze/, actorId: operatorId },
      { role: 'operator', method: 'POST', path: `/api/v1/cards/${cardNo}/pin/reset`, body: { newPin: '112233' }, action: /pin/, actorId: operatorId },
      { role: 'admin', method: 'POST', path: '/api/v1/stations', body: { code: `AUD${n}${Date.now() % 1000}`, name: '审计站', address: '北京市', lat: 39.9, lng: 116.4 }, action: /station/, actorId: adminId },
      { role: 'admin', method: 'POST', path: `/api/v1/stations/${st.stationId}/terminals`, action: /terminal/, actorId: adminId },
      { role: 'admin', method: 'POST', path: `/api/v1/terminals/${st.terminal.terminalId}/disable`, action: /terminal/, actorId: adminId },
      { role: 'admin', method: 'POST', path: '/api/v1/staff', body: { username: `aud.${Date.now() % 100000}`, password: 'long-enough-pass', role: 'finance' }, action: /staff/, actorId: adminId },
    ];
    for (const a of actions) {
      const requestId = rid();
      const r = await server.api(a.method, a.path, { role: a.role, body: a.body, headers: { 'x-request-id': requestId }, ...(a.path.endsWith('recharges') ? { idempotencyKey: requestId } : {}) });
      expect(r.status, `${a.method} ${a.path}: ${JSON.stringify(r.body)}`).toBeLessThan(300);
      const rows = await auditRows(requestId);
      expect(rows.length, `${a.method} ${a.path} left no audit row`).toBeGreaterThanOrEqual(1);
      const row = rows.find((x) => a.action.test(x.action));
      expect(row, `${a.method} ${a.path}: actions ${rows.map((x) => x.action).join(', ')}`).toBeDefined();
      expect(row).toMatchObject({ actor_id: a.actorId, actor_name: usernameOf(a.role), actor_role: a.role });
      expect(row!.ip).toMatch(/^(::ffff:)?127\.0\.0\.1$|^::1$/);
      expect(row!.at.getTime()).toBeGreaterThanOrEqual(started);
      expect(row!.at.getTime()).toBeLessThanOrEqual(Date.now() + 1_000);
      expect(row!.target_type.length).toBeGreaterThan(0);
      // Personal data and secrets stay out of the audit trail.
      expect(JSON.stringify(row!.details)).not.toMatch(/13700001111|110101199003071234|135790|112233|long-enough-pass/);
    }
  });

  it('records logins, failed logins and logouts', async () => {
    const ok = rid();
    const r = await server.api('POST', '/api/v1/auth/login', { role: null, body: { username: 't_finance', password: STAFF_PASSWORD }, headers: { 'x-request-id': ok } });
    expect((await auditRows(ok)).map((x) => x.action)).toEqual(['auth.login']);
    const bad = rid();
    await server.api('POST', '/api/v1/auth/login', { role: null, body: { username: 't_finance', password: 'wrong-password' }, headers: { 'x-request-id': bad } });
    expect((await auditRows(bad)).map((x) => [x.action, x.actor_name])).toEqual([['auth.login_failed', 't_finance']]);
    const out = rid();
    await server.api('POST', '/api/v1/auth/logout', { token: r.body.token, headers: { 'x-request-id': out } });
    expect((await auditRows(out)).map((x) => [x.action, x.actor_name])).toEqual([['auth.logout', 't_finance']]);
  });

  it('reads leave no audit rows', async () => {
    const requestId = rid();
    await server.api('GET', '/api/v1/stations', { headers: { 'x-request-id': requestId } });
    expect(await auditRows(requestId)).toEqual([]);
  });

  it('is append-only: UPDATE and DELETE fail', async () => {
    const before = await sql<{ n: number; max: number }>`select count(*)::int n, max(id)::bigint max from audit_log`.execute(server.db.db);
    expect(before.rows[0]!.n).toBeGreaterThan(0);
    const upd = await sql`update audit_log set actor_name = 'someone else' where id = ${before.rows[0]!.max}`.execute(server.db.db).catch((e: unknown) => e);
    expect(upd).toBeInstanceOf(Error);
    expect((upd as { code?: string }).code).toBe('42501');
    const del = await sql`delete from audit_log`.execute(server.db.db).catch((e: unknown) => e);
    expect(del).toBeInstanceOf(Error);
    expect((del as { code?: string }).code).toBe('42501');
    const after = await sql<{ n: number }>`select count(*)::int n from audit_log where actor_name = 'someone else'`.execute(server.db.db);
    expect(after.rows[0]!.n).toBe(0);
    const count = await sql<{ n: number }>`select count(*)::int n from audit_log`.execute(server.db.db);
    expect(count.rows[0]!.n).toBeGreaterThanOrEqual(before.rows[0]!.n);
  });
});

describe('every route × every role', () => {
  const validCardNo = (() => {
    const body = '900001000000000000';
    return body + String(luhnCheckDigit(body));
  })();
  const fill = (url: string) =>
    url
      .replace(':cardNo', validCardNo)
      .replace(':saleId', '00000000-0000-4000-8000-000000000001')
      .replace(':terminalId', 'T00000001')
      .replace(/:[A-Za-z]+/g, '1')
      .replace('*', 'index.html');

  // Routes that end somebody's sessions act on a throwaway account, not on the shared ones (id 1 is admin).
  let throwawayId = 0;
  async function call(route: RouteInfo, token: string | undefined) {
    const hasBody = route.method === 'POST' || route.method === 'PUT' || route.method === 'PATCH';
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    let url = fill(route.url);
    if (route.url === '/api/v1/staff/:id/totp/reset') {
      if (throwawayId === 0) throwawayId = (await server.api('POST', '/api/v1/staff', { body: { username: 'matrix.throwaway', password: STAFF_PASSWORD, role: 'operator' } })).body.id;
      url = url.replace('/staff/1/', `/staff/${throwawayId}/`);
    }
    return server.api(route.method, url, { token, role: token ? undefined : null, headers, ...(hasBody ? { body: {} } : {}) });
  }

  it('every route has an access rule (only the documentation page is implicitly public)', () => {
    expect(routes.length).toBeGreaterThan(30);
    for (const r of routes) {
      if (r.access === undefined) expect(r.url.startsWith('/docs'), `${r.method} ${r.url} has no access rule`).toBe(true);
    }
  });

  it('refuses roles a route does not list (403), anonymous callers (401), and lets listed roles through', async () => {
    // Logout would end the shared sessions: give it fresh ones.
    const fresh: Partial<Record<Role, string>> = {};
    for (const role of ROLES) fresh[role] = (await login(usernameOf(role), passwordOf(role))).body.token;
    const failures: string[] = [];
    let checked = 0;
    for (const route of routes) {
      const label = `${route.method} ${route.url}`;
      const anon = await call(route, undefined);
      checked++;
      // 503 WEB_NOT_BUILT is the pages' stated answer when vitest runs without `npm run build:web`.
      if (anon.status >= 500 && anon.body?.error?.code !== 'WEB_NOT_BUILT') failures.push(`${label} anonymous: ${anon.status}`);
      const rule = route.access;
      if (rule === undefined || rule.kind === 'public') {
        // Provider-facing routes (the sandbox providers' APIs, the channels' notify URL) check the provider's signature, not a session.
        const signedByProvider = route.url.startsWith('/sandbox/') || route.url.startsWith('/api/v1/payments/notify/');
        if ((anon.status === 401 || anon.status === 403) && !signedByProvider) failures.push(`${label} is public but refused anonymous: ${anon.status}`);
        continue;
      }
      if (rule.kind === 'terminal') {
        if (anon.status !== 401) failures.push(`${label} terminal route without signature: ${anon.status}`);
        for (const role of ROLES) {
          const r = await call(route, server.tokens[role]);
          checked++;
          if (r.status !== 401) failures.push(`${label} terminal route accepted a ${role} token: ${r.status}`);
        }
        continue;
      }
      if (rule.kind === 'cardholder') {
        // Self-service routes take a cardholder's session: every staff token is unknown there.
        if (anon.status !== 401) failures.push(`${label} cardholder route without a token: ${anon.status}`);
        for (const role of ROLES) {
          const r = await call(route, server.tokens[role]);
          checked++;
          if (r.status !== 401 || r.body?.error?.code !== 'UNAUTHENTICATED') failures.push(`${label} cardholder route accepted a ${role} token: ${r.status}`);
        }
        continue;
      }
      if (anon.status !== 401 || anon.body?.error?.code !== 'UNAUTHENTICATED') failures.push(`${label} anonymous: ${anon.status} ${anon.body?.error?.code}`);
      for (const role of ROLES) {
        const token = route.url === '/api/v1/auth/logout' ? fresh[role]! : server.tokens[role];
        const r = await call(route, token);
        checked++;
        const allowed = rule.roles.includes(role);
        if (r.status >= 500) failures.push(`${label} as ${role}: ${r.status}`);
        if (allowed && (r.status === 401 || r.status === 403)) failures.push(`${label} as ${role} (allowed): ${r.status} ${r.body?.error?.code}`);
        if (!allowed && (r.status !== 403 || r.body?.error?.code !== 'FORBIDDEN')) failures.push(`${label} as ${role} (not allowed): ${r.status} ${r.body?.error?.code}`);
      }
    }
    expect(failures).toEqual([]);
    expect(checked).toBeGreaterThan(routes.length * 5);
  }, 240_000);

  it('a forbidden caller learns nothing about the resource (403 before 404)', async () => {
    const r = await server.api('GET', '/api/v1/ledger/verify', { role: 'cardholder' });
    expect(r.status).toBe(403);
    const missing = await server.api('GET', `/api/v1/cards/${validCardNo}`, { role: 'cardholder' });
    expect(missing.status).toBe(403);
  });

  it('only admin may verify the ledger', async () => {
    const ok = await server.api('GET', '/api/v1/ledger/verify');
    expect(ok.status).toBe(200);
    expect(ok.body.ok).toBe(true);
    for (const role of ROLES.filter((r) => r !== 'admin')) {
      expect((await server.api('GET', '/api/v1/ledger/verify', { role })).status, role).toBe(403);
    }
  });
});

describe('password guessing', () => {
  it('locks a staff login after FUELCARD_LOGIN_MAX_FAILURES wrong passwords, even for the right one, until the window passes', async () => {
    const s = await startTestServer({ FUELCARD_LOGIN_MAX_FAILURES: '3', FUELCARD_LOGIN_LOCK_MIN: '30' });
    try {
      const login = (password: string) => s.api('POST', '/api/v1/auth/login', { role: null, body: { username: 't_operator', password } });
      for (let i = 0; i < 3; i++) expect((await login('wrong-password')).body.error.code).toBe('INVALID_CREDENTIALS');
      const locked = await login(STAFF_PASSWORD);
      expect(locked.status).toBe(429);
      expect(locked.body.error.code).toBe('RATE_LIMITED');
      expect(locked.body.error.details.retryAfterSeconds).toBeGreaterThan(0);
      // The lock is per client address: the same user from elsewhere still gets in.
      const elsewhere = await staffLogin(s.db.db, { username: 't_operator', password: STAFF_PASSWORD, ip: '10.1.2.3', requestId: null, ttlMs: 60_000, maxFailures: 3, lockMs: 60_000 });
      expect(elsewhere.user.username).toBe('t_operator');
      // Unknown usernames lock the same way, so the answer does not tell which names exist.
      const ghost = (password: string) => s.api('POST', '/api/v1/auth/login', { role: null, body: { username: 'no.such.user', password } });
      for (let i = 0; i < 3; i++) expect((await ghost('x-wrong-password')).body.error.code).toBe('INVALID_CREDENTIALS');
      expect((await ghost('x-wrong-password')).body.error.code).toBe('RATE_LIMITED');
      // Other users are not affected.
      expect((await s.api('POST', '/api/v1/auth/login', { role: null, body: { username: 't_finance', password: STAFF_PASSWORD } })).status).toBe(200);
      // A password reset by an administrator ends the lock (the audit log is append-only, so the
      // window is not aged here; its length is covered by the count query's time bound).
      await setPassword(s.db.db, { staffId: null, name: 'test', role: 'system', ip: null, requestId: null }, 't_operator', 'a-brand-new-password');
      expect((await login('a-brand-new-password')).status).toBe(200);
    } finally {
      await s.close();
    }
  });
});
