import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { migrate, MIGRATIONS_DIR } from '../src/platform/migrate.js';

/** Migration 034 on a database that already has staff and open sessions (docs/access.md). */
const adminUrl = inject('pgAdminUrl');
const name = `${inject('runPrefix')}m034_${randomBytes(4).toString('hex')}`;
const url = (() => {
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
})();
let dir: string;

async function withClient<T>(connectionString: string, f: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString });
  await c.connect();
  try {
    return await f(c);
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  await withClient(adminUrl, (c) => c.query(`create database ${name}`));
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fuelcard-m034-'));
  for (const f of fs.readdirSync(MIGRATIONS_DIR).filter((f) => f < '034')) fs.copyFileSync(path.join(MIGRATIONS_DIR, f), path.join(dir, f));
  await migrate(url, dir);
}, 120_000);
afterAll(async () => {
  await withClient(adminUrl, (c) => c.query(`drop database if exists ${name} with (force)`));
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('migration 034', () => {
  it("ends the administrators' sessions opened before it (password only), and keeps the others", async () => {
    await withClient(url, async (c) => {
      for (const [username, role] of [['old.admin', 'admin'], ['old.operator', 'operator']]) {
        const u = await c.query<{ id: string }>(`insert into staff_users (username, display_name, password_hash, role) values ($1, $1, 'x', $2) returning id`, [username, role]);
        await c.query(`insert into staff_sessions (token_hash, user_id, expires_at) values ($1, $2, now() + interval '1 hour')`, [`${username}-token`, u.rows[0]!.id]);
      }
    });
    fs.copyFileSync(path.join(MIGRATIONS_DIR, '034_staff_security.sql'), path.join(dir, '034_staff_security.sql'));
    expect((await migrate(url, dir)).applied).toEqual(['034_staff_security.sql']);
    const open = await withClient(url, (c) =>
      c.query<{ username: string; scope: string }>(`select u.username, s.scope from staff_sessions s join staff_users u on u.id = s.user_id where s.revoked_at is null order by 1`),
    );
    expect(open.rows).toEqual([{ username: 'old.operator', scope: 'full' }]);
  }, 60_000);
});
