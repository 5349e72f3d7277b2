import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js';
import { migrate, MIGRATIONS_DIR } from './migrate.js';

let db: TestDatabase;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase(2);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fuelcard-migrations-'));
  // The real migrations (already applied to the test database), plus one of our own.
  for (const f of fs.readdirSync(MIGRATIONS_DIR)) fs.copyFileSync(path.join(MIGRATIONS_DIR, f), path.join(dir, f));
});
afterAll(async () => {
  await db?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const valid = async (name: string) =>
  (await sql<{ valid: boolean }>`select i.indisvalid as valid from pg_index i join pg_class c on c.oid = i.indexrelid where c.relname = ${name}`.execute(db.db)).rows[0]?.valid;

describe('migrations marked no-transaction', () => {
  it('built the report indexes concurrently, valid, and dropped the index they replace', async () => {
    for (const name of ['sales_created_page', 'recharges_created_page', 'audit_log_at_page', 'cards_active', 'cards_created']) expect(await valid(name), name).toBe(true);
    expect(await valid('audit_log_at')).toBeUndefined();
  });

  it('run statement by statement outside a transaction, and recover from a concurrent build that failed halfway', async () => {
    await sql`create table migrate_probe (x int)`.execute(db.db);
    await sql`insert into migrate_probe values (1), (1)`.execute(db.db);
    const file = path.join(dir, '900_probe.sql');
    fs.writeFileSync(file, '-- fuelcard:no-transaction\n-- a comment line\ncreate unique index concurrently if not exists migrate_probe_x on migrate_probe(x);\n');
    // The duplicate makes the build fail: PostgreSQL leaves an invalid index behind.
    await expect(migrate(db.url, dir)).rejects.toThrow(/900_probe\.sql failed/);
    expect(await valid('migrate_probe_x')).toBe(false);
    const recorded = await sql<{ n: number }>`select count(*)::int n from schema_migrations where name = '900_probe.sql'`.execute(db.db);
    expect(recorded.rows[0]!.n).toBe(0);
    // Fixed data, next start: the invalid index is dropped and built again, valid.
    await sql`delete from migrate_probe`.execute(db.db);
    const r = await migrate(db.url, dir);
    expect(r.applied).toEqual(['900_probe.sql']);
    expect(await valid('migrate_probe_x')).toBe(true);
    expect((await migrate(db.url, dir)).applied).toEqual([]);
  });
});
