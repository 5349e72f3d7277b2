import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { migrate } from '../../src/platform/migrate.js';
import { startEmbeddedPostgres, type EmbeddedDb } from '../../src/platform/embedded.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
    templateDb: string;
    /** Prefix of every database this run creates; teardown drops only these. */
    runPrefix: string;
  }
}

/**
 * One PostgreSQL for the whole run: the server in DATABASE_URL, or an embedded one
 * in a temporary directory. Migrations run once into a template database; each test
 * file then clones it (CREATE DATABASE … TEMPLATE), which takes milliseconds.
 */
let embedded: EmbeddedDb | null = null;
let adminUrl = '';
let template = '';
let tmpDir = '';
let runPrefix = '';

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export async function setup(project: TestProject): Promise<void> {
  if (process.env.DATABASE_URL) {
    adminUrl = process.env.DATABASE_URL;
  } else {
    tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fuelcard-test-'));
    embedded = await startEmbeddedPostgres({ dataDir: tmpDir, port: 0 });
    adminUrl = embedded.url;
  }
  // Several runs may share one server (developers, CI): each drops only its own databases.
  runPrefix = `fc_t_${process.pid.toString(36)}${Date.now().toString(36)}_`;
  template = `${runPrefix}tpl`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${template}`);
  } finally {
    await admin.end();
  }
  await migrate(withDatabase(adminUrl, template));
  project.provide('pgAdminUrl', adminUrl);
  project.provide('templateDb', template);
  project.provide('runPrefix', runPrefix);
}

export async function teardown(): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const dbs = await admin.query<{ datname: string }>(
      `select datname from pg_database where starts_with(datname, $1)`,
      [runPrefix],
    );
    for (const { datname } of dbs.rows) {
      await admin.query(`drop database if exists ${datname} with (force)`).catch(() => {});
    }
  } finally {
    await admin.end();
  }
  if (embedded) await embedded.stop();
  if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
}
