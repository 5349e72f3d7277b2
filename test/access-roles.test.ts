import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../src/platform/index.js';
import { ROLES } from '../src/platform/index.js';
import { createStaff, mayManageRole, permittedRoutes } from '../src/staff/index.js';
import { STAFF_PASSWORD, startTestServer, type TestServer } from './support/server.js';

/** The three-role split (三员分立, 等保 2.0 level 3): docs/access.md. */
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

let n = 0;
const create = (as: Role, role: Role, extra: Record<string, unknown> = {}) =>
  server.api('POST', '/api/v1/staff', { role: as, body: { username: `split.${++n}`, password: STAFF_PASSWORD, role, ...extra } });
const idOf = async (role: Role) => (await server.api('GET', '/api/v1/auth/me', { role })).body.id as number;

describe('who may manage whom', () => {
  it('the policy table: security officer any role but admin, admin not the security officer or auditor, nobody else anything', () => {
    for (const target of ROLES) {
      expect(mayManageRole('security_officer', target), target).toBe(target !== 'admin');
      expect(mayManageRole('admin', target), target).toBe(target !== 'security_officer' && target !== 'auditor');
      for (const other of ROLES.filter((r) => r !== 'admin' && r !== 'security_officer')) expect(mayManageRole(other, target), `${other} → ${target}`).toBe(false);
    }
  });

  it('the staff list tells the caller which accounts it may manage (the console hides the other actions)', async () => {
    for (const as of ['admin', 'security_officer'] as const) {
      const r = await server.api('GET', '/api/v1/staff', { role: as });
      expect(r.status).toBe(200);
      const items = r.body.items as { role: Role; mayManage: boolean }[];
      for (const role of ['admin', 'security_officer', 'auditor', 'operator'] as const) {
        const rows = items.filter((u) => u.role === role);
        expect(rows.length, `${as} sees a ${role}`).toBeGreaterThan(0);
        for (const u of rows) expect(u.mayManage, `${as} → ${role}`).toBe(mayManageRole(as, role));
      }
    }
  });

  it('the administrator may not create a security officer or an auditor', async () => {
    for (const role of ['security_officer', 'auditor'] as const) {
      const r = await create('admin', role);
      expect(r.status, role).toBe(403);
      expect(r.body.error.code).toBe('STAFF_ROLE_SEPARATION');
    }
    expect((await create('admin', 'operator')).status).toBe(201);
    expect((await create('admin', 'admin')).status).toBe(201);
  });

  it('the security officer creates any role but an administrator, including another security officer and an auditor', async () => {
    for (const role of ['security_officer', 'auditor', 'finance'] as const) expect((await create('security_officer', role)).status, role).toBe(201);
  });

  it('the security officer may neither create, promote to, change, reset the password of nor reset the second factor of an administrator', async () => {
    const target = (await create('admin', 'admin')).body as { id: number; username: string };
    const adminId = target.id;
    const op = (await create('security_officer', 'operator')).body.id as number;
    const as = { role: 'security_officer' as const };
    const attempts = [
      create('security_officer', 'admin'),
      server.api('PATCH', `/api/v1/staff/${op}`, { ...as, body: { role: 'admin' } }),
      server.api('PATCH', `/api/v1/staff/${adminId}`, { ...as, body: { displayName: '改名' } }),
      server.api('POST', `/api/v1/staff/${adminId}/password`, { ...as, body: { password: 'officer-chosen-password' } }),
      server.api('POST', `/api/v1/staff/${adminId}/totp/reset`, as),
    ];
    for (const r of await Promise.all(attempts)) {
      expect(r.status).toBe(403);
      expect(r.body.error.code).toBe('STAFF_ROLE_SEPARATION');
    }
    // The administrator's password still works; administrators manage each other.
    const login = await server.api('POST', '/api/v1/auth/login', { role: null, body: { username: target.username, password: STAFF_PASSWORD } });
    expect(login.status).toBe(200);
    expect((await server.api('POST', `/api/v1/staff/${adminId}/password`, { body: { password: 'admin-chosen-password' } })).status).toBe(204);
    expect((await server.api('POST', `/api/v1/staff/${adminId}/totp/reset`)).status).toBe(200);
  });

  it('the administrator may neither change, disable nor reset the password of a security officer or auditor, nor promote to those roles', async () => {
    const auditorId = await idOf('auditor');
    const officerId = await idOf('security_officer');
    const op = (await create('admin', 'operator')).body.id as number;
    const attempts = [
      server.api('PATCH', `/api/v1/staff/${auditorId}`, { body: { displayName: '改名' } }),
      server.api('PATCH', `/api/v1/staff/${officerId}`, { body: { status: 'disabled' } }),
      server.api('POST', `/api/v1/staff/${officerId}/password`, { body: { password: 'another-long-password' } }),
      server.api('PATCH', `/api/v1/staff/${op}`, { body: { role: 'auditor' } }),
      server.api('PATCH', `/api/v1/staff/${op}`, { body: { role: 'security_officer' } }),
    ];
    for (const r of await Promise.all(attempts)) {
      expect(r.status).toBe(403);
      expect(r.body.error.code).toBe('STAFF_ROLE_SEPARATION');
    }
    // The accounts are untouched and their sessions still work.
    expect((await server.api('GET', '/api/v1/auth/me', { role: 'security_officer' })).status).toBe(200);
  });

  it('the security officer may change roles and reset passwords of anyone but their own role', async () => {
    const u = (await create('security_officer', 'operator')).body.id as number;
    const r = await server.api('PATCH', `/api/v1/staff/${u}`, { role: 'security_officer', body: { role: 'auditor' } });
    expect(r.status).toBe(200);
    expect(r.body.role).toBe('auditor');
    expect((await server.api('POST', `/api/v1/staff/${u}/password`, { role: 'security_officer', body: { password: 'another-long-password' } })).status).toBe(204);
    const self = await server.api('PATCH', `/api/v1/staff/${await idOf('security_officer')}`, { role: 'security_officer', body: { role: 'admin' } });
    expect(self.status).toBe(409);
    expect(self.body.error.code).toBe('STAFF_SELF_CHANGE');
    const adminSelf = await server.api('PATCH', `/api/v1/staff/${await idOf('admin')}`, { body: { role: 'operator' } });
    expect(adminSelf.body.error.code).toBe('STAFF_SELF_CHANGE');
  });

  it('becoming an administrator ends the sessions opened without a second factor', async () => {
    const created = (await create('admin', 'operator')).body;
    const login = await server.api('POST', '/api/v1/auth/login', { role: null, body: { username: created.username, password: STAFF_PASSWORD } });
    const token = login.body.token as string;
    expect((await server.api('PATCH', `/api/v1/staff/${created.id}`, { body: { role: 'admin' } })).status).toBe(200);
    expect((await server.api('GET', '/api/v1/auth/me', { token })).status).toBe(401);
  });

  it('the auditor and the other roles manage no staff', async () => {
    for (const role of ROLES.filter((r) => r !== 'admin' && r !== 'security_officer')) {
      const r = await create(role, 'operator');
      expect(r.status, role).toBe(403);
      expect(r.body.error.code).toBe('FORBIDDEN');
    }
  });

  it('the system (CLI, first start, demo seed) creates the first security officer and auditor', async () => {
    const system = { staffId: null, name: 'cli', role: 'system' as const, ip: null, requestId: null };
    const u = await createStaff(server.db.db, system, { username: 'first.auditor', password: STAFF_PASSWORD, role: 'auditor' });
    expect(u.role).toBe('auditor');
  });
});

describe('what each of the three may call (declared access)', () => {
  const isAuth = (url: string) => url.startsWith('/api/v1/auth/');
  const isAudit = (url: string) => url.startsWith('/api/v1/audit');

  it('the auditor: the audit log and its chain, and signing in — nothing else', () => {
    const mine = permittedRoutes(server.routes, 'auditor');
    const other = mine.filter((r) => !isAuth(r.url) && !isAudit(r.url));
    expect(other).toEqual([]);
    expect(mine.filter((r) => isAudit(r.url)).length).toBeGreaterThanOrEqual(2);
    // Read-only: the one POST re-verifies the chain, it changes no entry.
    expect(mine.filter((r) => !isAuth(r.url) && r.method !== 'GET').map((r) => r.url)).toEqual(['/api/v1/audit/chain/verify']);
  });

  it('the administrator reads no audit log; staff management is shared with the security officer', () => {
    const admin = permittedRoutes(server.routes, 'admin');
    expect(admin.filter((r) => isAudit(r.url))).toEqual([]);
    // Both reset second factors, each only of the accounts it manages (staff.policy.ts).
    expect(admin.map((r) => `${r.method} ${r.url}`)).toContain('POST /api/v1/staff/:id/totp/reset');
    const officer = permittedRoutes(server.routes, 'security_officer').map((r) => `${r.method} ${r.url}`);
    for (const route of ['GET /api/v1/staff', 'POST /api/v1/staff', 'PATCH /api/v1/staff/:id', 'POST /api/v1/staff/:id/password', 'POST /api/v1/staff/:id/totp/reset']) {
      expect(officer, route).toContain(route);
    }
    // The security officer does not run the business: no money, cards or ledger.
    expect(officer.filter((r) => /\/(cards|ledger|recharges|refunds|settlements)\b/.test(r))).toEqual([]);
  });
});
