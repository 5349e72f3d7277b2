import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js';

let h: TestDatabase;
beforeAll(async () => {
  h = await createTestDatabase(1); // one connection: every query below reuses it
});
afterAll(async () => h?.close());

describe('prepared statements', () => {
  it('leaves pg-pool’s own query (with its callback) working on a pooled connection Kysely used', async () => {
    await sql`select 1 as one`.execute(h.db);
    const r = await Promise.race([h.pool.query('select 2 as two'), new Promise((_, reject) => setTimeout(() => reject(new Error('pool.query hung')), 3000))]);
    expect((r as pg.QueryResult).rows[0]).toEqual({ two: 2 });
  });

  it('survives a table changed under it: after one failure the statement runs unprepared', async () => {
    await sql`create table prep_probe (a int)`.execute(h.db);
    await sql`insert into prep_probe values (1)`.execute(h.db);
    const read = () => sql<Record<string, number>>`select * from prep_probe where a = ${1}`.execute(h.db);
    expect((await read()).rows).toEqual([{ a: 1 }]);
    const other = new pg.Client({ connectionString: h.url });
    await other.connect();
    await other.query('alter table prep_probe add column b int default 7');
    await other.end();
    const first = await read().then(
      (r) => r.rows,
      (err: { code?: string }) => err.code,
    );
    // Either PostgreSQL replanned transparently or it refused once with 0A000…
    expect([[{ a: 1, b: 7 }], '0A000']).toContainEqual(first);
    // …and from then on the query works.
    expect((await read()).rows).toEqual([{ a: 1, b: 7 }]);
  });
});
