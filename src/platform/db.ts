import { createHash } from 'node:crypto';
import pg from 'pg';
import { Kysely, PostgresDialect, type Transaction } from 'kysely';

/**
 * The database shape. Each module adds its own tables by module augmentation
 * in its `*.tables.ts`, so platform never imports a module.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface Database {}

export type Db = Kysely<Database>;
export type Trx = Transaction<Database>;
/** Anything that can run a query: the pool-backed db or an open transaction. */
export type Executor = Db | Trx;

// bigint columns come back as strings by default; our amounts fit in a JS number
// (2^53 fen is 90 trillion yuan), and we check that on the way in.
pg.types.setTypeParser(20, (v) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new Error(`bigint out of safe range: ${v}`);
  return n;
});
// int8[] (e.g. array_agg of ids) likewise. 1016 is missing from pg's TypeId enum, hence the cast.
const INT8_ARRAY = 1016 as unknown as Parameters<typeof pg.types.getTypeParser>[0];
const parseBigintArray = pg.types.getTypeParser(INT8_ARRAY);
pg.types.setTypeParser(INT8_ARRAY, (v: string) => (parseBigintArray(v) as Array<string | null>).map((x) => (x === null ? null : Number(x))));
// numeric stays a string (never used for money).

export interface DbHandle {
  db: Db;
  pool: pg.Pool;
  close(): Promise<void>;
}

export function openDb(connectionString: string, poolSize: number): DbHandle {
  const pool = new pg.Pool({
    connectionString,
    max: poolSize,
    // Business days follow the operator's zone; the session zone only affects display
    // of timestamptz and date_trunc, which we always pass the zone to explicitly.
    options: '-c TimeZone=UTC',
  });
  // An idle client losing its connection must not crash the process.
  pool.on('error', () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: preparingPool(pool) }) });
  return {
    db,
    pool,
    async close() {
      await db.destroy();
    },
  };
}

/**
 * Every query Kysely sends becomes a named prepared statement on its connection, so PostgreSQL
 * parses and plans each distinct SQL text once per connection instead of on every call — on the
 * sale path that is most of the database's CPU. Names are derived from the text, so the same text
 * always has the same name. Transaction control is left alone, and the number of distinct texts
 * prepared is capped (texts built from variable-length lists stay unprepared beyond the cap).
 */
const MAX_PREPARED_TEXTS = 2000;
const preparedNames = new Map<string, string>();
const PATCHED = Symbol('fuelcard.preparing');

function preparedName(text: string): string | undefined {
  const known = preparedNames.get(text);
  if (known !== undefined) return known;
  if (preparedNames.size >= MAX_PREPARED_TEXTS || /^\s*(begin|commit|rollback|savepoint|release)\b/i.test(text)) return undefined;
  const name = `fc_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
  preparedNames.set(text, name);
  return name;
}

function preparingPool(pool: pg.Pool) {
  return {
    async connect() {
      const client = (await pool.connect()) as pg.PoolClient & { [PATCHED]?: Set<string> };
      if (!client[PATCHED]) {
        // Names whose cached plan went stale on this connection (a migration changed a table
        // under a running server: 0A000 "cached plan must not change result type"); their text
        // runs unprepared from then on.
        const stale = new Set<string>();
        const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
        (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
          // Only Kysely's form (text, values) is prepared; pg-pool's (text, values, callback) and
          // config objects pass through untouched.
          const [text, values] = args;
          const name = args.length === 2 && typeof text === 'string' && Array.isArray(values) ? preparedName(text) : undefined;
          if (name === undefined || stale.has(name)) return query(...args);
          return query({ name, text, values }).catch((err: unknown) => {
            if ((err as { code?: string }).code === '0A000') stale.add(name);
            throw err;
          });
        };
        client[PATCHED] = stale;
      }
      return client;
    },
    end: () => pool.end(),
  };
}

/** PostgreSQL error codes we react to. */
export const PgCode = {
  uniqueViolation: '23505',
  checkViolation: '23514',
  foreignKeyViolation: '23503',
  serializationFailure: '40001',
  deadlockDetected: '40P01',
} as const;

export function pgErrorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

export function pgConstraint(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'constraint' in err
    ? String((err as { constraint: unknown }).constraint)
    : undefined;
}
