import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { access, createHttp, createLogger, platformError, ROLES, type App, type RouteInfo } from '../platform/index.js';
import { permissionsRoute, permittedRoutes, staffAuthenticator } from './index.js';

let server: TestServer;
let app: App;
let appRoutes: RouteInfo[];

beforeAll(async () => {
  server = await startTestServer();
  // A small app on the same database: the test server is built by server.ts, which registers
  // this route only once the lead wires it in; the rule itself is tested on the real route list below.
  const options = {
    logger: createLogger('silent'),
    staffAuth: staffAuthenticator(server.db.db),
    terminalAuth: {
      authenticate: async () => {
        throw platformError('TERMINAL_UNKNOWN');
      },
    },
    cardholderAuth: { authenticate: async () => null },
  };
  const made = await createHttp(options);
  app = made.app;
  appRoutes = made.routes;
  const ok = async () => ({ ok: true });
  app.get('/api/v1/things', { config: { access: access.roles('admin', 'finance') } }, ok);
  app.post('/api/v1/things/:id/freeze', { config: { access: access.roles('admin', 'risk') } }, ok);
  app.get('/api/v1/pos/things', { config: { access: access.terminal } }, ok);
  app.get('/api/v1/open', { config: { access: access.public } }, ok);
  permissionsRoute(app, appRoutes);
  // Registered after the permissions route: still listed, the list is read per request.
  app.delete('/api/v1/things/:id', { config: { access: access.roles('admin') } }, ok);
  await app.ready();
});
afterAll(async () => {
  await app?.close();
  await server?.close();
});

const ask = async (token: string | undefined) => {
  const r = await app.inject({ method: 'GET', url: '/api/v1/auth/permissions', headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: r.statusCode, body: r.json() };
};

describe('GET /api/v1/auth/permissions', () => {
  it('lists the staff routes the caller’s role may call, sorted, and nothing else', async () => {
    const admin = await ask(server.tokens.admin);
    expect(admin.status).toBe(200);
    expect(admin.body).toEqual({
      role: 'admin',
      routes: [
        { method: 'GET', url: '/api/v1/auth/permissions' },
        { method: 'GET', url: '/api/v1/things' },
        { method: 'DELETE', url: '/api/v1/things/:id' },
        { method: 'POST', url: '/api/v1/things/:id/freeze' },
      ],
    });
    expect((await ask(server.tokens.finance)).body).toEqual({
      role: 'finance',
      routes: [
        { method: 'GET', url: '/api/v1/auth/permissions' },
        { method: 'GET', url: '/api/v1/things' },
      ],
    });
    expect((await ask(server.tokens.risk)).body.routes.map((r: { url: string }) => r.url)).toEqual(['/api/v1/auth/permissions', '/api/v1/things/:id/freeze']);
  });

  it('answers every staff role, and nobody without a session', async () => {
    for (const role of ROLES) {
      const r = await ask(server.tokens[role]);
      expect(r.status, role).toBe(200);
      expect(r.body.role).toBe(role);
    }
    const none = await ask(undefined);
    expect({ status: none.status, code: none.body.error.code }).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
  });
});

describe('permittedRoutes on the real server’s routes', () => {
  it('follows each route’s access rule', () => {
    const has = (role: (typeof ROLES)[number], method: string, url: string) => permittedRoutes(server.routes, role).some((r) => r.method === method && r.url === url);
    expect(has('finance', 'GET', '/api/v1/customers')).toBe(true);
    expect(has('finance', 'POST', '/api/v1/customers')).toBe(false);
    expect(has('risk', 'POST', '/api/v1/cards/:cardNo/freeze')).toBe(true);
    expect(has('station_staff', 'POST', '/api/v1/cards/:cardNo/freeze')).toBe(false);
    expect(has('admin', 'PATCH', '/api/v1/staff/:id')).toBe(true);
    expect(has('operator', 'PATCH', '/api/v1/staff/:id')).toBe(false);
    expect(has('admin', 'POST', '/api/v1/staff/:id/password')).toBe(true);
    // Terminal and public routes are never listed.
    for (const role of ROLES) {
      const urls = permittedRoutes(server.routes, role).map((r) => r.url);
      expect(urls.some((u) => u.startsWith('/api/v1/pos/') || u === '/api/v1/auth/login' || u === '/healthz')).toBe(false);
    }
    // Exactly the staff routes whose rule names the role.
    for (const role of ROLES) {
      const expected = server.routes.filter((r) => r.access?.kind === 'staff' && r.access.roles.includes(role)).length;
      expect(permittedRoutes(server.routes, role)).toHaveLength(expected);
    }
  });
});
