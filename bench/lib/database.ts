import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres } from '../../src/platform/index.js';

/**
 * A database of the benchmark's own, thrown away afterwards: a new database on the server
 * in DATABASE_URL, or a whole embedded PostgreSQL in a temporary directory.
 */
export interface BenchDatabase {
  url: string;
  /** For the report: where the numbers came from. */
  description: string;
  drop(): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export async function createBenchDatabase(opts: { keep: boolean }): Promise<BenchDatabase> {
  const serverUrl = process.env.DATABASE_URL;
  if (serverUrl) {
    const name = `fuelcard_bench_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: serverUrl });
    await admin.connect();
    let version: string;
    try {
      await admin.query(`create database ${name}`);
      version = (await admin.query<{ v: string }>(`select current_setting('server_version') as v`)).rows[0]?.v ?? '';
    } finally {
      await admin.end();
    }
    const host = new URL(serverUrl).host;
    return {
      url: withDatabase(serverUrl, name),
      description: `database ${name} on DATABASE_URL's server (${host}, PostgreSQL ${version})`,
      async drop() {
        if (opts.keep) return;
        const c = new pg.Client({ connectionString: serverUrl });
        await c.connect();
        try {
          await c.query(`drop database if exists ${name} with (force)`);
        } finally {
          await c.end();
        }
      },
    };
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fuelcard-bench-'));
  const embedded = await startEmbeddedPostgres({ dataDir: dir, port: 0 });
  const c = new pg.Client({ connectionString: embedded.url });
  await c.connect();
  const version = (await c.query<{ v: string }>(`select current_setting('server_version') as v`)).rows[0]?.v ?? '';
  await c.end();
  return {
    url: embedded.url,
    description: `embedded PostgreSQL ${version} in ${dir}`,
    async drop() {
      await embedded.stop();
      if (!opts.keep) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
