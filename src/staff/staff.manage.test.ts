import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { expectError, newStation, ok, uniq } from '../../test/support/cards-factory.js';
import { isAppError, systemActor, type Role } from '../platform/index.js';
import { createStaff, updateStaff } from './index.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => server?.close());

const PASSWORD = 'first-password-123';
async function newUser(role: Role = 'operator', over: Record<string, unknown> = {}) {
  const username = `u.${uniq()}`.slice(0, 32);
  const user = ok(await server.api('POST', '/api/v1/staff', { body: { username, password: PASSWORD, role, ...over } }), 201, 'create staff');
  return { ...user, token: await login(username, PASSWORD) };
}
async function login(username: string, password: string): Promise<string> {
  return ok(await server.api('POST', '/api/v1/auth/login', { role: null, body: { username, password } }), 200, `login ${username}`).token;
}
const patch = (id: number, body: unknown, opts: { role?: Role | null; token?: string } = {}) => server.api('PATCH', `/api/v1/staff/${id}`, { ...opts, body });
const me = (token: string) => server.api('GET', '/api/v1/auth/me', { token });
async function auditOf(id: number) {
  const r = await sql<{ action: string; actor_name: string; details: any }>`select action, actor_name, details from audit_log
    where target_type = 'staff' and target_id = ${String(id)} and action <> 'auth.login' order by id`.execute(server.db.db);
  return r.rows;
}
async function expectAppError(p: Promise<unknown>, code: string) {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(isAppError(err) ? err.code : err).toBe(code);
}

describe('PATCH /api/v1/staff/:id', () => {
  it('changes the name, role and station, answers the user and audits each change', async () => {
    const u = await newUser('operator');
    const st = await newStation(server);
    const r = ok(await patch(u.id, { displayName: ' 王晓燕 ', role: 'station_staff', stationId: st.stationId }), 200);
    expect(r).toMatchObject({ id: u.id, username: u.username, displayName: '王晓燕', role: 'station_staff', stationId: st.stationId, status: 'active' });
    // The list says the same, and that the caller (an administrator) may manage this account.
    expect(ok(await server.api('GET', '/api/v1/staff'), 200).items.find((x: { id: number }) => x.id === u.id)).toEqual({ ...r, mayManage: true });
    // The open session follows the new role and station at once.
    expect(ok(await me(u.token), 200)).toMatchObject({ role: 'station_staff', stationId: st.stationId });
    expectError(await server.api('POST', '/api/v1/stations', { token: u.token, body: {} }), 403, 'FORBIDDEN');
    // Clearing the station.
    expect(ok(await patch(u.id, { stationId: null }), 200).stationId).toBeNull();
    const rows = await auditOf(u.id);
    expect(rows.map((a) => a.action)).toEqual(['staff.create', 'staff.update', 'staff.update']);
    expect(rows[1]!.details.changes).toEqual({
      displayName: { from: u.username, to: '王晓燕' },
      role: { from: 'operator', to: 'station_staff' },
      stationId: { from: null, to: st.stationId },
    });
    expect(rows[1]!.actor_name).toBe('admin');
  });

  it('writes nothing when nothing changes', async () => {
    const u = await newUser('risk');
    const r = ok(await patch(u.id, { role: 'risk', status: 'active' }), 200);
    expect(r).toMatchObject({ role: 'risk', status: 'active' });
    expect((await auditOf(u.id)).map((a) => a.action)).toEqual(['staff.create']);
  });

  it('disabling ends the user’s sessions; enabling again does not bring them back', async () => {
    const u = await newUser('finance');
    const second = await login(u.username, PASSWORD);
    ok(await me(u.token), 200);
    expect(ok(await patch(u.id, { status: 'disabled' }), 200).status).toBe('disabled');
    expectError(await me(u.token), 401, 'UNAUTHENTICATED');
    expectError(await me(second), 401, 'UNAUTHENTICATED');
    expectError(await server.api('POST', '/api/v1/auth/login', { role: null, body: { username: u.username, password: PASSWORD } }), 401, 'INVALID_CREDENTIALS');
    const open = await sql<{ n: number }>`select count(*)::int n from staff_sessions where user_id = ${u.id} and revoked_at is null`.execute(server.db.db);
    expect(open.rows[0]!.n).toBe(0);

    expect(ok(await patch(u.id, { status: 'active' }), 200).status).toBe('active');
    expectError(await me(u.token), 401, 'UNAUTHENTICATED');
    ok(await me(await login(u.username, PASSWORD)), 200);
    const rows = await auditOf(u.id);
    expect(rows.map((a) => a.action)).toEqual(['staff.create', 'staff.disable', 'staff.enable']);
    expect(rows[1]!.details).toMatchObject({ changes: { status: { from: 'active', to: 'disabled' } }, sessionsEnded: 2 });
  });

  it('refuses to disable yourself or change your own role (STAFF_SELF_CHANGE), but lets you rename yourself', async () => {
    const a = await newUser('admin');
    const r1 = await patch(a.id, { status: 'disabled' }, { token: a.token });
    expectError(r1, 409, 'STAFF_SELF_CHANGE');
    expect(r1.body.error.details.field).toBe('status');
    expectError(await patch(a.id, { role: 'operator' }, { token: a.token }), 409, 'STAFF_SELF_CHANGE');
    expectError(await patch(a.id, { role: 'operator', displayName: '新名字' }, { token: a.token }), 409, 'STAFF_SELF_CHANGE');
    expect(ok(await patch(a.id, { displayName: '新名字', role: 'admin' }, { token: a.token }), 200)).toMatchObject({ displayName: '新名字', role: 'admin', status: 'active' });
    ok(await me(a.token), 200);
  });

  it('is for admins only, and names what is wrong with the request', async () => {
    const u = await newUser('operator');
    for (const role of ['operator', 'risk', 'station_staff', 'cardholder'] as const) expectError(await patch(u.id, { displayName: 'x' }, { role }), 403, 'FORBIDDEN');
    expectError(await patch(u.id, { displayName: 'x' }, { role: null }), 401, 'UNAUTHENTICATED');
    expectError(await patch(999_999, { displayName: 'x' }), 404, 'STAFF_NOT_FOUND');
    expectError(await patch(u.id, { stationId: 999_999 }), 404, 'STATION_NOT_FOUND');
    for (const [body, field] of [
      [{}, 'body'],
      [{ role: 'superuser' }, 'role'],
      [{ status: 'deleted' }, 'status'],
      [{ displayName: '' }, 'displayName'],
      [{ displayName: '   ' }, 'displayName'],
      [{ username: 'renamed' }, 'username'],
      [{ stationId: -1 }, 'stationId'],
    ] as const) {
      const r = await patch(u.id, body);
      expectError(r, 400, 'VALIDATION_FAILED');
      expect(r.body.error.details.field, JSON.stringify(body)).toContain(field);
    }
    expectError(await server.api('PATCH', '/api/v1/staff/abc', { body: { displayName: 'x' } }), 400, 'VALIDATION_FAILED');
    expect((await auditOf(u.id)).map((a) => a.action)).toEqual(['staff.create']);
  });
});

describe('POST /api/v1/staff/:id/password', () => {
  it('sets the password, ends the user’s sessions and audits it without the password', async () => {
    const u = await newUser('operator');
    const r = await server.api('POST', `/api/v1/staff/${u.id}/password`, { body: { password: 'brand-new-password' } });
    expect(r.status).toBe(204);
    expect(r.body).toBeNull();
    expectError(await me(u.token), 401, 'UNAUTHENTICATED');
    expectError(await server.api('POST', '/api/v1/auth/login', { role: null, body: { username: u.username, password: PASSWORD } }), 401, 'INVALID_CREDENTIALS');
    ok(await me(await login(u.username, 'brand-new-password')), 200);
    const rows = await auditOf(u.id);
    expect(rows.map((a) => a.action)).toEqual(['staff.create', 'staff.set_password']);
    expect(rows[1]!.details).toMatchObject({ username: u.username, sessionsEnded: 1 });
    const all = await sql<{ t: string }>`select coalesce(string_agg(a::text, ' '), '') t from audit_log a`.execute(server.db.db);
    expect(all.rows[0]!.t).not.toContain('brand-new-password');
  });

  it('lifts a login lock, as a password reset should', async () => {
    const u = await newUser('finance');
    for (let i = 0; i < server.config.loginMaxFailures; i++) {
      await server.api('POST', '/api/v1/auth/login', { role: null, body: { username: u.username, password: 'wrong-password-x' } });
    }
    expectError(await server.api('POST', '/api/v1/auth/login', { role: null, body: { username: u.username, password: PASSWORD } }), 429, 'RATE_LIMITED');
    expect((await server.api('POST', `/api/v1/staff/${u.id}/password`, { body: { password: 'after-the-lock-1' } })).status).toBe(204);
    await login(u.username, 'after-the-lock-1');
  });

  it('refuses weak passwords, unknown users and other roles', async () => {
    const u = await newUser('risk');
    const weak = await server.api('POST', `/api/v1/staff/${u.id}/password`, { body: { password: 'short' } });
    expectError(weak, 400, 'STAFF_PASSWORD_WEAK');
    expect(weak.body.error.details.field).toBe('password');
    expectError(await server.api('POST', `/api/v1/staff/${u.id}/password`, { body: {} }), 400, 'VALIDATION_FAILED');
    expectError(await server.api('POST', `/api/v1/staff/${u.id}/password`, { body: { password: 'long-enough-pass', extra: 1 } }), 400, 'VALIDATION_FAILED');
    expectError(await server.api('POST', '/api/v1/staff/999999/password', { body: { password: 'long-enough-pass' } }), 404, 'STAFF_NOT_FOUND');
    expectError(await server.api('POST', `/api/v1/staff/${u.id}/password`, { role: 'operator', body: { password: 'long-enough-pass' } }), 403, 'FORBIDDEN');
    // Nothing changed: the old password and session still work.
    ok(await me(u.token), 200);
  });
});

// Last in the file: these tests disable and re-enable the test server's own admin.
describe('the last active admin', () => {
  it('cannot be disabled or given another role (STAFF_LAST_ADMIN)', async () => {
    const second = await newUser('admin');
    // Another admin disables every other admin: allowed while one is left.
    const others = await sql<{ id: number; username: string }>`select id, username from staff_users where role = 'admin' and status = 'active' and id <> ${second.id}`.execute(server.db.db);
    expect(others.rows.length).toBeGreaterThan(0);
    for (const o of others.rows) ok(await patch(o.id, { status: 'disabled' }, { token: second.token }), 200, `disable ${o.username}`);
    // Now `second` is the last active admin: no path may remove it.
    await expectAppError(updateStaff(server.db.db, systemActor, second.id, { status: 'disabled' }), 'STAFF_LAST_ADMIN');
    await expectAppError(updateStaff(server.db.db, systemActor, second.id, { role: 'operator' }), 'STAFF_LAST_ADMIN');
    expectError(await patch(second.id, { status: 'disabled' }, { token: second.token }), 409, 'STAFF_SELF_CHANGE');
    // Disabled admins do not count; renaming the last admin is fine.
    expect((await updateStaff(server.db.db, systemActor, second.id, { displayName: '唯一管理员' })).displayName).toBe('唯一管理员');
    // With the first admin enabled again, `second` may be demoted.
    const adminId = others.rows.find((o) => o.username === 'admin')!.id;
    ok(await patch(adminId, { status: 'active' }, { token: second.token }), 200);
    expect((await updateStaff(server.db.db, systemActor, second.id, { role: 'operator' })).role).toBe('operator');
    server.tokens.admin = await login('admin', 'admin-test-password');
    ok(await me(server.tokens.admin), 200);
  });

  it('survives two admins disabling each other at the same moment: one wins, one admin remains', async () => {
    const a = await newUser('admin');
    const b = await newUser('admin');
    // Only these two are active admins.
    const adminId = ok(await me(server.tokens.admin), 200).id as number;
    ok(await patch(adminId, { status: 'disabled' }, { token: a.token }), 200);
    const [ra, rb] = await Promise.all([patch(b.id, { status: 'disabled' }, { token: a.token }), patch(a.id, { status: 'disabled' }, { token: b.token })]);
    expect([ra.status, rb.status].filter((s) => s === 200)).toHaveLength(1);
    const loser = ra.status === 200 ? rb : ra;
    expect(['UNAUTHENTICATED', 'STAFF_LAST_ADMIN']).toContain(loser.body.error.code);
    const active = await sql<{ n: number }>`select count(*)::int n from staff_users where role = 'admin' and status = 'active'`.execute(server.db.db);
    expect(active.rows[0]!.n).toBe(1);
  });

  it('holds when the two changes meet inside the database too', async () => {
    // The test server's admin was disabled above: make these two directly.
    const direct = async () => {
      const username = `u.${uniq()}`.slice(0, 32);
      const u = await createStaff(server.db.db, systemActor, { username, password: PASSWORD, role: 'admin' });
      return { ...u, token: await login(username, PASSWORD) };
    };
    const c = await direct();
    const d = await direct();
    const others = await sql<{ id: number }>`select id from staff_users where role = 'admin' and status = 'active' and id not in (${c.id}, ${d.id})`.execute(server.db.db);
    for (const o of others.rows) ok(await patch(o.id, { status: 'disabled' }, { token: c.token }), 200);
    const actor = (u: { id: number; username: string }) => ({ staffId: u.id, name: u.username, role: 'admin' as const, ip: null, requestId: null });
    const results = await Promise.allSettled([
      updateStaff(server.db.db, actor(c), d.id, { status: 'disabled' }),
      updateStaff(server.db.db, actor(d), c.id, { role: 'operator' }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const refused = results.find((r) => r.status === 'rejected')!.reason;
    expect(['UNAUTHENTICATED', 'FORBIDDEN', 'STAFF_LAST_ADMIN']).toContain(isAppError(refused) ? refused.code : refused);
    const active = await sql<{ n: number }>`select count(*)::int n from staff_users where role = 'admin' and status = 'active'`.execute(server.db.db);
    expect(active.rows[0]!.n).toBe(1);
  });
});
