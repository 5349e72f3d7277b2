import { Writable } from 'node:stream';
import { sql } from 'kysely';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js';
import { access } from './rbac.js';
import { createHttp, type App } from './http.js';

// The backstop: a value a route's schema let through but PostgreSQL refuses is the caller's
// mistake (400), not a server failure — and a warning, because that schema is too loose.
let db: TestDatabase;
let app: App;
const logLines: Array<{ level: number; msg: string; sqlState?: string; route?: string }> = [];

beforeAll(async () => {
  db = await createTestDatabase(2);
  await sql`create table t_short (v varchar(3))`.execute(db.db);
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') logLines.push(JSON.parse(line));
      done();
    },
  });
  ({ app } = await createHttp({
    logger: pino({ level: 'warn' }, sink),
    staffAuth: { authenticate: async () => null },
    terminalAuth: { authenticate: async () => { throw new Error('no terminals here'); } },
    cardholderAuth: { authenticate: async () => null },
  }));
  // Deliberately schema-less routes that hand the raw value to PostgreSQL.
  const loose = { config: { access: access.public } };
  app.get('/t/:type', loose, async (req) => {
    const v = (req.query as { v: string }).v;
    const type = (req.params as { type: string }).type;
    const casts: Record<string, () => Promise<unknown>> = {
      bigint: () => sql`select ${v}::bigint as x`.execute(db.db),
      int: () => sql`select ${v}::int as x`.execute(db.db),
      text: () => sql`select ${v}::text as x`.execute(db.db),
      timestamptz: () => sql`select ${v}::timestamptz as x`.execute(db.db),
      uuid: () => sql`select ${v}::uuid as x`.execute(db.db),
      jsonb: () => sql`select ${JSON.stringify({ v })}::jsonb as x`.execute(db.db),
      varchar: () => sql`insert into t_short (v) values (${v})`.execute(db.db),
      divide: () => sql`select 1 / ${Number(v)}::int as x`.execute(db.db),
      table: () => sql`select * from no_such_table_${sql.raw(String(Number(v)))}`.execute(db.db),
    };
    await casts[type]!();
    return { ok: true };
  });
  await app.ready();
});
afterAll(async () => {
  await app?.close();
  await db?.close();
});

describe('PostgreSQL data exceptions', () => {
  it.each([
    ['bigint', '99999999999999999999', '22003'],
    ['int', '99999999999', '22003'],
    ['text', 'a\u0000b', '22021'],
    ['timestamptz', '0000-01-01T00:00:00Z', '22008'],
    ['timestamptz', '2026-01-01T00:00:00-23:59', '22009'],
    ['timestamptz', 'yesterday-ish', '22007'],
    ['uuid', 'not-a-uuid', '22P02'],
    ['jsonb', 'a\u0000b', '22P05'],
    ['varchar', 'abcd', '22001'],
  ])('a %s refusing %j (%s) is 400 VALIDATION_FAILED, logged as a warning', async (type, value, sqlState) => {
    const before = logLines.length;
    const r = await app.inject({ method: 'GET', url: `/t/${type}?v=${encodeURIComponent(value)}` });
    expect(r.statusCode, r.body).toBe(400);
    expect(r.json()).toEqual({ error: { code: 'VALIDATION_FAILED', message: expect.any(String), details: { reason: 'a value is malformed or out of range' } } });
    const logged = logLines.slice(before);
    expect(logged.map((l) => [l.level, l.sqlState, l.route])).toContainEqual([40, sqlState, '/t/:type']);
    expect(logged.some((l) => l.level >= 50)).toBe(false);
  });

  it('other database errors stay 500 INTERNAL, logged as errors', async () => {
    for (const url of ['/t/divide?v=0', '/t/table?v=1']) {
      const before = logLines.length;
      const r = await app.inject({ method: 'GET', url });
      expect(r.statusCode, `${url}: ${r.body}`).toBe(500);
      expect(r.json().error.code).toBe('INTERNAL');
      expect(logLines.slice(before).some((l) => l.level === 50)).toBe(true);
    }
  });
});
