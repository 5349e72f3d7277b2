import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { sha256Hex } from './crypto.js';

export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../migrations');

export interface MigrationResult {
  applied: string[];
  alreadyApplied: number;
}

/**
 * A migration whose first line is this marker runs statement by statement outside a transaction:
 * for `create index concurrently`, which builds an index on a busy table (sales) without
 * blocking the writes of every sale for the length of the build, and cannot run in a transaction.
 */
const NO_TRANSACTION = /^--\s*fuelcard:no-transaction\b/;

/**
 * Runs each statement on its own. Such a migration must be safe to run again after a failure
 * halfway (`if not exists` / `if exists`); a concurrent index build that failed leaves an
 * invalid index behind, which `if not exists` would then keep, so it is dropped first.
 */
async function applyWithoutTransaction(client: pg.Client, sql: string): Promise<void> {
  const statements = sql
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.replace(/^\s*--.*$/gm, '').trim())
    .filter((s) => s !== '');
  for (const statement of statements) {
    const index = /create\s+(?:unique\s+)?index\s+concurrently\s+if\s+not\s+exists\s+([a-z0-9_]+)/i.exec(statement)?.[1];
    if (index) {
      const invalid = await client.query(
        `select 1 from pg_index i join pg_class c on c.oid = i.indexrelid where c.relname = $1 and not i.indisvalid`,
        [index],
      );
      if (invalid.rowCount) await client.query(`drop index concurrently if exists ${index}`);
    }
    await client.query(statement);
  }
}

/**
 * Applies plain SQL migrations in file-name order, each in its own transaction (unless marked
 * no-transaction, above),
 * under an advisory lock so two starting instances never race. A migration that
 * was edited after it ran is refused: migrations are history, not source.
 */
export async function migrate(connectionString: string, dir = MIGRATIONS_DIR): Promise<MigrationResult> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    await client.query('select pg_advisory_lock(7301001)');
    await client.query(`create table if not exists schema_migrations (
      name text primary key, checksum text not null, applied_at timestamptz not null default now())`);
    const done = new Map(
      (await client.query<{ name: string; checksum: string }>('select name, checksum from schema_migrations')).rows.map(
        (r) => [r.name, r.checksum],
      ),
    );
    const files = fs.readdirSync(dir).filter((f) => /^\d{3}_.+\.sql$/.test(f)).sort();
    const applied: string[] = [];
    for (const file of files) {
      const sql = fs.readFileSync(path.join(dir, file), 'utf8');
      const checksum = sha256Hex(sql);
      const previous = done.get(file);
      if (previous !== undefined) {
        if (previous !== checksum) throw new Error(`migration ${file} changed after it was applied`);
        continue;
      }
      if (NO_TRANSACTION.test(sql)) {
        try {
          await applyWithoutTransaction(client, sql);
        } catch (err) {
          throw new Error(`migration ${file} failed: ${(err as Error).message}`, { cause: err });
        }
        await client.query('insert into schema_migrations (name, checksum) values ($1, $2)', [file, checksum]);
        applied.push(file);
        continue;
      }
      await client.query('begin');
      try {
        await client.query(sql);
        await client.query('insert into schema_migrations (name, checksum) values ($1, $2)', [file, checksum]);
        await client.query('commit');
      } catch (err) {
        await client.query('rollback');
        throw new Error(`migration ${file} failed: ${(err as Error).message}`, { cause: err });
      }
      applied.push(file);
    }
    return { applied, alreadyApplied: done.size };
  } finally {
    await client.query('select pg_advisory_unlock(7301001)').catch(() => {});
    await client.end();
  }
}
