import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrolTotp, login, totpStatus } from '../staff/index.js';
import { fieldCipherFor, loadConfig } from '../platform/index.js';
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/fuelcard.js');

function fuelcard(args: string[], env: Record<string, string> = {}, stdin?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

describe('fuelcard CLI', () => {
  let tdb: TestDatabase;
  let env: Record<string, string>;

  beforeAll(async () => {
    tdb = await createTestDatabase(2);
    env = { DATABASE_URL: tdb.url, LOG_LEVEL: 'silent' };
  });
  afterAll(async () => {
    await tdb.close();
  });

  it('prints help and exits 0', async () => {
    const r = await fuelcard(['help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('seed-demo');
  });

  it('exits 2 with a stable code on bad arguments, before touching the database', async () => {
    const cases = [['frobnicate'], [], ['seed-demo', '--customers', 'lots'], ['ledger', 'balance'], ['create-admin', '--password', 'short'], ['create-admin', '--role', 'risk'], ['migrate', '--force']];
    // A database that does not exist: a usage error must be found before any connection is tried.
    const results = await Promise.all(cases.map((args) => fuelcard(args, { ...env, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' })));
    for (const [i, r] of results.entries()) {
      expect(r.code, JSON.stringify(cases[i])).toBe(2);
      expect(r.stderr).toMatch(/\[(CLI_USAGE|STAFF_PASSWORD_WEAK)\]/);
    }
  });

  it('migrates, creates an admin with a generated password, resets it, and verifies the ledger', async () => {
    const m = await fuelcard(['migrate'], env);
    expect(m.code).toBe(0);
    expect(m.stdout).toContain('up to date');

    const created = await fuelcard(['create-admin', '--username', 'ops.admin'], env);
    expect(created.code).toBe(0);
    const password = /password \(shown once, keep it\): (\S+)/.exec(created.stdout)?.[1];
    expect(password).toBeDefined();
    expect((await login(tdb.db, { username: 'ops.admin', password: password!, ip: null, requestId: null, ttlMs: 60_000 })).user.role).toBe('admin');

    const reset = await fuelcard(['create-admin', '--username', 'ops.admin', '--password-stdin'], env, 'a-new-password-123\n');
    expect(reset.code).toBe(0);
    expect((await login(tdb.db, { username: 'ops.admin', password: 'a-new-password-123', ip: null, requestId: null, ttlMs: 60_000 })).user.role).toBe('admin');

    // 三员分立: the first security officer and auditor come from here, since admin may not create them.
    for (const role of ['security_officer', 'auditor'] as const) {
      const made = await fuelcard(['create-admin', '--username', `ops.${role}`, '--role', role, '--password-stdin'], env, 'a-role-password-123\n');
      expect(made.code, made.stderr).toBe(0);
      expect((await login(tdb.db, { username: `ops.${role}`, password: 'a-role-password-123', ip: null, requestId: null, ttlMs: 60_000 })).user.role).toBe(role);
    }
    // Not a way to change a role: ops.admin stays admin.
    const clash = await fuelcard(['create-admin', '--username', 'ops.admin', '--role', 'auditor', '--password-stdin'], env, 'another-password-123\n');
    expect(clash.code).not.toBe(0);
    expect(clash.stderr).toContain('CLI_NOT_ADMIN');
    expect((await login(tdb.db, { username: 'ops.admin', password: 'a-new-password-123', ip: null, requestId: null, ttlMs: 60_000 })).user.role).toBe('admin');

    // The way back in for an administrator who lost phone and recovery codes: the code printed here, and only it, lets them enrol again.
    const unknown = await fuelcard(['reset-totp', 'nobody.here'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('[CLI_UNKNOWN_USER]');
    const bare = await fuelcard(['reset-totp'], env);
    expect(bare.code).toBe(2);
    const resetTotp = await fuelcard(['reset-totp', 'ops.admin'], env);
    expect(resetTotp.code, resetTotp.stderr).toBe(0);
    const enrolmentCode = /enrolment code \(shown once, hand it over in person\): (\S+)/.exec(resetTotp.stdout)?.[1];
    expect(enrolmentCode).toMatch(/^[A-Z2-7]{4}(-[A-Z2-7]{4})+$/);
    const session = await login(tdb.db, { username: 'ops.admin', password: 'a-new-password-123', ip: null, requestId: null, ttlMs: 60_000 });
    const me = { staffId: Number(session.user.id), name: 'ops.admin', role: 'admin' as const, ip: null, requestId: null };
    const cipher = fieldCipherFor(loadConfig({ ...process.env, LOG_LEVEL: 'silent' }));
    await expect(enrolTotp(tdb.db, cipher, me)).rejects.toMatchObject({ code: 'AUTH_TOTP_ENROLMENT_CODE_INVALID' });
    await expect(enrolTotp(tdb.db, cipher, me, { ip: null, requestId: null, enrolmentCode: 'AAAA-BBBB-CCCC' })).rejects.toMatchObject({ code: 'AUTH_TOTP_ENROLMENT_CODE_INVALID' });
    expect((await enrolTotp(tdb.db, cipher, me, { ip: null, requestId: null, enrolmentCode: enrolmentCode! })).secret).toMatch(/^[A-Z2-7]+$/);
    expect((await totpStatus(tdb.db, me.staffId)).pending).toBe(true);

    const v = await fuelcard(['ledger', 'verify', '--json'], env);
    expect(v.code).toBe(0);
    expect(JSON.parse(v.stdout).ok).toBe(true);
  });
});
