import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, STAFF_PASSWORD, startTestServer, type TestServer } from './support/server.js';
import { base32Decode, base32Encode, hotp, matchTotp, totpCode } from '../src/staff/index.js';

// RFC 6238 appendix B, SHA-1: the ASCII secret "12345678901234567890", 8 digits.
const RFC_SECRET = Buffer.from('12345678901234567890', 'ascii');

describe('TOTP arithmetic (RFC 6238 / RFC 4226 vectors)', () => {
  it('matches the RFC 6238 SHA-1 test vectors', () => {
    const vectors: Array<[number, string]> = [
      [59, '94287082'],
      [1111111109, '07081804'],
      [1111111111, '14050471'],
      [1234567890, '89005924'],
      [2000000000, '69279037'],
      [20000000000, '65353130'],
    ];
    for (const [t, code] of vectors) expect(hotp(RFC_SECRET, Math.floor(t / 30), 8), String(t)).toBe(code);
  });
  it('accepts ±1 step (30 s) around now, only after the last used step', () => {
    const secret = base32Encode(RFC_SECRET);
    const now = 1_700_000_015_000;
    const step = Math.floor(now / 30_000);
    const at = (s: number) => hotp(RFC_SECRET, s);
    expect(matchTotp(secret, at(step), now, 0)).toBe(step);
    expect(matchTotp(secret, at(step - 1), now, 0)).toBe(step - 1);
    expect(matchTotp(secret, at(step + 1), now, 0)).toBe(step + 1);
    expect(matchTotp(secret, at(step - 2), now, 0)).toBeNull();
    expect(matchTotp(secret, at(step + 2), now, 0)).toBeNull();
    // Replay: the step already used, and any earlier one, are refused.
    expect(matchTotp(secret, at(step), now, step)).toBeNull();
    expect(matchTotp(secret, at(step - 1), now, step)).toBeNull();
    expect(matchTotp(secret, at(step + 1), now, step)).toBe(step + 1);
    for (const bad of ['', '12345', '1234567', 'abcdef', ' 123456']) expect(matchTotp(secret, bad, now, 0)).toBeNull();
    expect(base32Decode(secret).equals(RFC_SECRET)).toBe(true);
  });

  it('matches RFC 4226 HOTP 6-digit values', () => {
    expect([0, 1, 2, 9].map((c) => hotp(RFC_SECRET, c))).toEqual(['755224', '287082', '359152', '520489']);
  });
});

// Administrators must have TOTP in this file's server (the test default is optional: generated keys).
process.env.FUELCARD_ADMIN_TOTP = 'required';
let server: TestServer;
beforeAll(async () => {
  // The client address comes from X-Forwarded-For here, so tests can sign in from many addresses.
  // The login route's token bucket is hardening.md's business: this file signs in dozens of times from
  // one address, so it is lifted here and the lockouts under test are the only limits.
  server = await startTestServer({ FUELCARD_LOGIN_MAX_FAILURES: '5', FUELCARD_LOGIN_LOCK_MIN: '30', FUELCARD_TRUST_PROXY: '127.0.0.1,::1', FUELCARD_RATE_LIMITS: 'login.ip=off' });
  // The shared administrator sessions start restricted: enrolling makes them full ones.
  for (const role of ['admin', 'security_officer', 'auditor'] as const) await enrol(server.tokens[role]);
});
afterAll(async () => {
  delete process.env.FUELCARD_ADMIN_TOTP;
  await server?.close();
});

const login = (username: string, password: string, ip?: string) =>
  server.api('POST', '/api/v1/auth/login', { role: null, body: { username, password }, headers: ip ? { 'x-forwarded-for': ip } : {} });
const second = (challenge: string, code: string, ip?: string) =>
  server.api('POST', '/api/v1/auth/login/totp', { role: null, body: { challenge, code }, headers: ip ? { 'x-forwarded-for': ip } : {} });
const later = (secret: string, steps: number) => totpCode(secret, Date.now() + steps * 30_000);

async function newStaff(username: string, role: string) {
  // 三员分立: administrators are created by an administrator, everyone else here by the security officer.
  const r = await server.api('POST', '/api/v1/staff', { role: role === 'admin' ? 'admin' : 'security_officer', body: { username, password: STAFF_PASSWORD, role } });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.id as number;
}

/** Enrols TOTP in the given session and returns the secret and recovery codes. */
async function enrol(token: string) {
  const e = await server.api('POST', '/api/v1/auth/totp/enrol', { token });
  expect(e.status, JSON.stringify(e.body)).toBe(200);
  const c = await server.api('POST', '/api/v1/auth/totp/confirm', { token, body: { code: totpCode(e.body.secret, Date.now()) } });
  expect(c.status, JSON.stringify(c.body)).toBe(200);
  return { secret: e.body.secret as string, uri: e.body.otpauthUri as string, recoveryCodes: c.body.recoveryCodes as string[] };
}

describe('administrators must enrol TOTP', () => {
  it('an admin without TOTP gets a session that may only enrol; confirming makes it a full one', async () => {
    await newStaff('sys.admin2', 'admin');
    const r = await login('sys.admin2', STAFF_PASSWORD);
    expect(r.status).toBe(200);
    expect(r.body.totpEnrolmentRequired).toBe(true);
    expect(r.body.user.sessionScope).toBe('totp_enrolment');
    const token = r.body.token as string;
    // Every other route, of any module: 403 with a stable code.
    for (const [method, path] of [['GET', '/api/v1/staff'], ['GET', '/api/v1/stations'], ['GET', '/api/v1/ledger/verify'], ['POST', '/api/v1/customers']] as const) {
      const x = await server.api(method, path, { token, body: method === 'POST' ? {} : undefined });
      expect(x.status, path).toBe(403);
      expect(x.body.error.code, path).toBe('AUTH_TOTP_ENROLMENT_REQUIRED');
    }
    expect((await server.api('GET', '/api/v1/auth/me', { token })).body.sessionScope).toBe('totp_enrolment');
    const perms = await server.api('GET', '/api/v1/auth/permissions', { token });
    expect(perms.body.routes.map((x: { url: string }) => x.url).sort()).toEqual(
      ['/api/v1/auth/logout', '/api/v1/auth/me', '/api/v1/auth/permissions', '/api/v1/auth/totp', '/api/v1/auth/totp/confirm', '/api/v1/auth/totp/enrol'].sort(),
    );
    const { secret, uri, recoveryCodes } = await enrol(token);
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(base32Decode(secret).length).toBe(20);
    expect(uri).toMatch(/^otpauth:\/\/totp\/FuelCard:sys\.admin2\?secret=[A-Z2-7]{32}&issuer=FuelCard&algorithm=SHA1&digits=6&period=30$/);
    expect(recoveryCodes).toHaveLength(10);
    expect(new Set(recoveryCodes).size).toBe(10);
    // The secret is stored encrypted, the recovery codes only hashed.
    const stored = await sql<{ secret_enc: string }>`select secret_enc from staff_totp t join staff_users u on u.id = t.staff_id where u.username = 'sys.admin2'`.execute(server.db.db);
    expect(stored.rows[0]!.secret_enc.startsWith('v1.')).toBe(true);
    expect(stored.rows[0]!.secret_enc).not.toContain(secret);
    const hashes = await sql<{ code_hash: string }>`select code_hash from staff_recovery_codes r join staff_users u on u.id = r.staff_id where u.username = 'sys.admin2'`.execute(server.db.db);
    expect(hashes.rows.map((h) => h.code_hash)).not.toContain(recoveryCodes[0]);
    // The session the code was confirmed in is now a full one.
    expect((await server.api('GET', '/api/v1/staff', { token })).status).toBe(200);
    // An enabled factor is not replaced by enrolling again.
    const again = await server.api('POST', '/api/v1/auth/totp/enrol', { token });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('AUTH_TOTP_ALREADY_ENABLED');
  });

  it('a non-administrator without TOTP gets a full session', async () => {
    const r = await login('t_operator', STAFF_PASSWORD);
    expect(r.body.totpEnrolmentRequired).toBe(false);
    expect((await server.api('GET', '/api/v1/stations', { token: r.body.token })).status).toBe(200);
  });

  it('a wrong code does not confirm the enrolment', async () => {
    await newStaff('sys.admin3', 'admin');
    const token = (await login('sys.admin3', STAFF_PASSWORD)).body.token as string;
    const notPending = await server.api('POST', '/api/v1/auth/totp/confirm', { token, body: { code: '123456' } });
    expect(notPending.body.error.code).toBe('AUTH_TOTP_NOT_PENDING');
    const e = await server.api('POST', '/api/v1/auth/totp/enrol', { token });
    const wrong = String((Number(totpCode(e.body.secret, Date.now())) + 1) % 1_000_000).padStart(6, '0');
    const r = await server.api('POST', '/api/v1/auth/totp/confirm', { token, body: { code: wrong } });
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('AUTH_TOTP_INVALID');
    expect((await server.api('GET', '/api/v1/auth/totp', { token })).body).toMatchObject({ enabled: false, pending: true, required: true });
  });
});

describe('an enrolment-only session on every route', () => {
  it('every staff route the role may call refuses it with AUTH_TOTP_ENROLMENT_REQUIRED, except the enrolment routes', async () => {
    await newStaff('sys.matrix', 'admin');
    const token = (await login('sys.matrix', STAFF_PASSWORD)).body.token as string;
    const failures: string[] = [];
    let checked = 0;
    for (const route of server.routes) {
      const rule = route.access;
      if (rule?.kind !== 'staff' || !rule.roles.includes('admin') || route.url === '/api/v1/auth/logout') continue;
      const hasBody = route.method === 'POST' || route.method === 'PUT' || route.method === 'PATCH';
      const url = route.url.replace(/:[A-Za-z]+/g, '1').replace('*', 'index.html');
      const r = await server.api(route.method, url, { token, ...(hasBody ? { body: {} } : {}) });
      checked++;
      const code = r.body?.error?.code;
      if (rule.duringTotpEnrolment) {
        if (code === 'AUTH_TOTP_ENROLMENT_REQUIRED' || r.status === 401) failures.push(`${route.method} ${route.url} refused an enrolment session: ${r.status} ${code}`);
      } else if (r.status !== 403 || code !== 'AUTH_TOTP_ENROLMENT_REQUIRED') {
        failures.push(`${route.method} ${route.url}: ${r.status} ${code}`);
      }
    }
    expect(failures).toEqual([]);
    expect(checked).toBeGreaterThan(50);
    expect((await server.api('POST', '/api/v1/auth/logout', { token })).status).toBe(204);
  }, 120_000);
});

describe('signing in with TOTP', () => {
  let secret: string;
  let recoveryCodes: string[];
  beforeAll(async () => {
    await newStaff('sec.officer2', 'security_officer');
    const token = (await login('sec.officer2', STAFF_PASSWORD)).body.token as string;
    ({ secret, recoveryCodes } = await enrol(token));
  });

  it('the password step returns a challenge and no session; the code returns the session', async () => {
    const r = await login('sec.officer2', STAFF_PASSWORD);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ totpRequired: true });
    expect(r.body.token).toBeUndefined();
    // The challenge is no bearer token.
    expect((await server.api('GET', '/api/v1/auth/me', { token: r.body.challenge })).status).toBe(401);
    const ok = await second(r.body.challenge, later(secret, 1));
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.user).toMatchObject({ username: 'sec.officer2', role: 'security_officer', sessionScope: 'full' });
    expect((await server.api('GET', '/api/v1/staff', { token: ok.body.token })).status).toBe(200);
    // The challenge is single use.
    const replay = await second(r.body.challenge, later(secret, 1));
    expect(replay.status).toBe(401);
    expect(replay.body.error.code).toBe('AUTH_CHALLENGE_INVALID');
  });

  it('a code already used (or an older one) is refused; a code two steps ahead is refused', async () => {
    // The previous test used the step after now: this step and the one before are spent too.
    // Four codes: a fifth failure would lock the login (FUELCARD_LOGIN_MAX_FAILURES=5).
    for (const code of [later(secret, 1), totpCode(secret, Date.now()), later(secret, -1), later(secret, 2)]) {
      const c = (await login('sec.officer2', STAFF_PASSWORD)).body.challenge as string;
      const r = await second(c, code);
      expect(r.status, code).toBe(401);
      expect(r.body.error.code).toBe('AUTH_TOTP_INVALID');
    }
    // A successful login resets the failure count (these four wrong codes are counted, see lockout).
    const c = (await login('sec.officer2', STAFF_PASSWORD)).body.challenge as string;
    expect((await second(c, recoveryCodes[0]!)).status).toBe(200);
  });

  it('a recovery code works once', async () => {
    const c1 = (await login('sec.officer2', STAFF_PASSWORD)).body.challenge as string;
    const r1 = await second(c1, recoveryCodes[1]!.toUpperCase());
    expect(r1.status).toBe(200);
    const c2 = (await login('sec.officer2', STAFF_PASSWORD)).body.challenge as string;
    const r2 = await second(c2, recoveryCodes[1]!);
    expect(r2.body.error.code).toBe('AUTH_TOTP_INVALID');
    const status = await server.api('GET', '/api/v1/auth/totp', { token: r1.body.token });
    expect(status.body).toMatchObject({ enabled: true, pending: false, recoveryCodesLeft: 8 });
  });

  it('an expired challenge is refused', async () => {
    const c = (await login('sec.officer2', STAFF_PASSWORD)).body.challenge as string;
    await sql`update staff_login_challenges set expires_at = now() - interval '1 second' where used_at is null`.execute(server.db.db);
    const r = await second(c, recoveryCodes[2]!);
    expect(r.body.error.code).toBe('AUTH_CHALLENGE_INVALID');
  });

  it('wrong codes count towards the password lockout (5 failures, then 30 minutes)', async () => {
    await newStaff('sec.officer3', 'security_officer');
    const t = (await login('sec.officer3', STAFF_PASSWORD)).body.token as string;
    const mine = await enrol(t);
    // 2 wrong passwords + 3 wrong codes = 5 failures.
    for (let i = 0; i < 2; i++) expect((await login('sec.officer3', 'wrong-password')).body.error.code).toBe('INVALID_CREDENTIALS');
    for (let i = 0; i < 3; i++) {
      const c = (await login('sec.officer3', STAFF_PASSWORD)).body.challenge as string;
      expect((await second(c, '000000')).body.error.code).toBe('AUTH_TOTP_INVALID');
    }
    const locked = await login('sec.officer3', STAFF_PASSWORD);
    expect(locked.status).toBe(429);
    expect(locked.body.error.code).toBe('RATE_LIMITED');
    expect(locked.body.error.details.retryAfterSeconds).toBeGreaterThan(29 * 60);
    expect(locked.body.error.details.retryAfterSeconds).toBeLessThanOrEqual(30 * 60);
    const failures = await sql<{ n: number }>`select count(*)::int n from audit_log where action = 'auth.login_failed' and target_id = 'sec.officer3' and details->>'factor' = 'totp'`.execute(server.db.db);
    expect(failures.rows[0]!.n).toBe(3);
    void mine;
  });
});

describe('wrong codes are limited per account, whatever the address', () => {
  it('5 wrong codes from 5 addresses lock the second factor of the account, even for the right code', async () => {
    await newStaff('sec.rotating', 'security_officer');
    const { secret } = await enrol((await login('sec.rotating', STAFF_PASSWORD)).body.token as string);
    // A stolen password, one guess per address (an IPv6 /64 has plenty).
    for (let i = 0; i < 5; i++) {
      const ip = `2001:db8::${i + 1}`;
      const c = (await login('sec.rotating', STAFF_PASSWORD, ip)).body.challenge as string;
      const r = await second(c, '000000', ip);
      expect(r.body.error.code, ip).toBe('AUTH_TOTP_INVALID');
    }
    const ip = '2001:db8::99';
    const c = (await login('sec.rotating', STAFF_PASSWORD, ip)).body.challenge as string;
    const locked = await second(c, later(secret, 1), ip);
    expect(locked.status).toBe(429);
    expect(locked.body.error.code).toBe('RATE_LIMITED');
    expect(locked.body.error.details.retryAfterSeconds).toBeGreaterThan(29 * 60);
    // A password reset (the holder, in person) counts afresh.
    const id = (await sql<{ id: number }>`select id from staff_users where username = 'sec.rotating'`.execute(server.db.db)).rows[0]!.id;
    expect((await server.api('POST', `/api/v1/staff/${id}/password`, { role: 'security_officer', body: { password: 'holder-new-password' } })).status).toBe(204);
    const c2 = (await login('sec.rotating', 'holder-new-password', ip)).body.challenge as string;
    expect((await second(c2, later(secret, 1), ip)).status).toBe(200);
  });

  it('a challenge answers only the address that asked for it, and is burnt by another', async () => {
    await newStaff('sec.moving', 'security_officer');
    const { secret } = await enrol((await login('sec.moving', STAFF_PASSWORD)).body.token as string);
    const c = (await login('sec.moving', STAFF_PASSWORD, '198.51.100.7')).body.challenge as string;
    const elsewhere = await second(c, later(secret, 1), '203.0.113.9');
    expect(elsewhere.status).toBe(401);
    expect(elsewhere.body.error.code).toBe('AUTH_CHALLENGE_INVALID');
    const home = await second(c, later(secret, 1), '198.51.100.7');
    expect(home.body.error.code).toBe('AUTH_CHALLENGE_INVALID');
    const c2 = (await login('sec.moving', STAFF_PASSWORD, '198.51.100.7')).body.challenge as string;
    expect((await second(c2, later(secret, 1), '198.51.100.7')).status).toBe(200);
  });

  it('a password reset ends the pending sign-in challenges', async () => {
    const id = await newStaff('sec.pending', 'security_officer');
    const { secret } = await enrol((await login('sec.pending', STAFF_PASSWORD)).body.token as string);
    const c = (await login('sec.pending', STAFF_PASSWORD)).body.challenge as string;
    expect((await server.api('POST', `/api/v1/staff/${id}/password`, { role: 'security_officer', body: { password: 'holder-new-password' } })).status).toBe(204);
    const r = await second(c, later(secret, 1));
    expect(r.body.error.code).toBe('AUTH_CHALLENGE_INVALID');
  });
});

describe('a second factor is reset within the three-role split', () => {
  it("an administrator's by another administrator, never by the security officer; removes the factor, codes, sessions and challenges", async () => {
    const id = await newStaff('sys.admin4', 'admin');
    const first = (await login('sys.admin4', STAFF_PASSWORD)).body.token as string;
    const { secret } = await enrol(first);
    const pending = (await login('sys.admin4', STAFF_PASSWORD)).body.challenge as string;
    const officer = await server.api('POST', `/api/v1/staff/${id}/totp/reset`, { role: 'security_officer' });
    expect(officer.status).toBe(403);
    expect(officer.body.error.code).toBe('STAFF_ROLE_SEPARATION');
    expect((await server.api('POST', `/api/v1/staff/${id}/totp/reset`, { role: 'auditor' })).status).toBe(403);
    const r = await server.api('POST', `/api/v1/staff/${id}/totp/reset`, { role: 'admin' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.enrolmentCode).toMatch(/^[A-Z2-7]{4}(-[A-Z2-7]{4}){5}$/);
    expect((await server.api('GET', '/api/v1/auth/me', { token: first })).status).toBe(401);
    expect((await second(pending, later(secret, 1))).body.error.code).toBe('AUTH_CHALLENGE_INVALID');
    const rows = await sql<{ n: number }>`select (select count(*) from staff_totp where staff_id = ${id}) + (select count(*) from staff_recovery_codes where staff_id = ${id})
      + (select count(*) from staff_login_challenges where staff_id = ${id}) as n`.execute(server.db.db);
    expect(Number(rows.rows[0]!.n)).toBe(0);
    const audit = await sql<{ actor_role: string }>`select actor_role from audit_log where action = 'staff.totp_reset' and target_id = ${String(id)}`.execute(server.db.db);
    expect(audit.rows.map((a) => a.actor_role)).toEqual(['admin']);
    // Never one's own.
    const me = (await server.api('GET', '/api/v1/auth/me', { role: 'security_officer' })).body.id as number;
    const self = await server.api('POST', `/api/v1/staff/${me}/totp/reset`, { role: 'security_officer' });
    expect(self.body.error.code).toBe('STAFF_SELF_CHANGE');
  });

  it('after a reset, enrolling needs the enrolment code; replacing a pending secret needs the password again', async () => {
    const id = await newStaff('sys.admin5', 'admin');
    await enrol((await login('sys.admin5', STAFF_PASSWORD)).body.token as string);
    const { enrolmentCode } = (await server.api('POST', `/api/v1/staff/${id}/totp/reset`, { role: 'admin' })).body as { enrolmentCode: string };
    // Whoever signs in first with the password (perhaps stolen) gets an enrolment-only session…
    const again = await login('sys.admin5', STAFF_PASSWORD);
    expect(again.body.totpEnrolmentRequired).toBe(true);
    const token = again.body.token as string;
    // …but cannot claim the factor without the code handed over in person.
    for (const body of [undefined, {}, { enrolmentCode: 'AAAA-AAAA-AAAA-AAAA-AAAA-AAAA' }]) {
      const r = await server.api('POST', '/api/v1/auth/totp/enrol', { token, body });
      expect(r.status, JSON.stringify(body)).toBe(403);
      expect(r.body.error.code).toBe('AUTH_TOTP_ENROLMENT_CODE_INVALID');
    }
    const e1 = await server.api('POST', '/api/v1/auth/totp/enrol', { token, body: { enrolmentCode: enrolmentCode.toLowerCase().replace(/-/g, ' ') } });
    expect(e1.status, JSON.stringify(e1.body)).toBe(200);
    // A pending secret is not replaced by the session alone, nor by the code without the password.
    for (const body of [{ enrolmentCode }, { enrolmentCode, password: 'wrong-password' }]) {
      const r = await server.api('POST', '/api/v1/auth/totp/enrol', { token, body });
      expect(r.status).toBe(403);
      expect(r.body.error.code).toBe('AUTH_PASSWORD_REQUIRED');
    }
    const e2 = await server.api('POST', '/api/v1/auth/totp/enrol', { token, body: { enrolmentCode, password: STAFF_PASSWORD } });
    expect(e2.status).toBe(200);
    expect(e2.body.secret).not.toBe(e1.body.secret);
    const c = await server.api('POST', '/api/v1/auth/totp/confirm', { token, body: { code: totpCode(e2.body.secret, Date.now()) } });
    expect(c.status).toBe(200);
    const cleared = await sql<{ h: string | null }>`select totp_enrolment_code_hash as h from staff_users where id = ${id}`.execute(server.db.db);
    expect(cleared.rows[0]!.h).toBeNull();
  });

  it('with TOTP enabled, the built-in admin gets a challenge for the password', async () => {
    const r = await login('admin', ADMIN_PASSWORD);
    expect(r.body.totpRequired).toBe(true);
  });
});
