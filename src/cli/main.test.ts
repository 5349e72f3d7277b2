import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login } from '../staff/index.js';
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
    const cases = [['frobnicate'], [], ['seed-demo', '--customers', 'lots'], ['ledger', 'balance'], ['create-admin', '--password', 'short'], ['migrate', '--force']];
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

    const v = await fuelcard(['ledger', 'verify', '--json'], env);
    expect(v.code).toBe(0);
    expect(JSON.parse(v.stdout).ok).toBe(true);
  });
});
