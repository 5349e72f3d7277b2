import { sql } from 'kysely';
import { PgCode, pgErrorCode, type Db, type Trx } from './db.js';
import { sha256Hex } from './crypto.js';
import { AppError, platformError } from './errors.js';

export interface Outcome<T> {
  status: number;
  body: T;
  /**
   * Work that must commit with the answer but is best done last, after the answer is stored:
   * updates of hot rows, so their locks are held for as short a time as possible before commit.
   */
  last?: (trx: Trx) => Promise<void>;
}

export interface IdempotencyOptions {
  /** Runs first in the transaction, before a stored answer is looked up (e.g. spending a terminal nonce). */
  first?: (trx: Trx) => Promise<void>;
}

const KEY_PATTERN = /^[A-Za-z0-9_\-:.]{1,128}$/;

/**
 * Reserved: an offline sale's terminal reference is `offline:<seq>`, in the same namespace as the
 * Idempotency-Keys that name online sales; an online key of that form would make the offline sale
 * with that sequence look already posted.
 */
const RESERVED_PREFIX = 'offline:';

export function checkIdempotencyKey(key: string | undefined): string | undefined {
  if (key === undefined) return undefined;
  if (!KEY_PATTERN.test(key) || key.startsWith(RESERVED_PREFIX)) throw platformError('IDEMPOTENCY_KEY_INVALID', { header: 'Idempotency-Key' });
  return key;
}

/**
 * Forget answers older than the retention period (runs periodically; index on created_at), in
 * batches so no single statement holds locks for long, until a batch comes back short.
 */
export async function pruneIdempotencyKeys(db: Db, retentionMs: number, batch = 5000, maxBatches = 1000): Promise<number> {
  let total = 0;
  for (let i = 0; i < maxBatches; i++) {
    const r = await sql`delete from idempotency_keys where ctid in (
      select ctid from idempotency_keys where created_at < now() - ${retentionMs} * interval '1 millisecond' limit ${batch})`.execute(db);
    const n = Number(r.numAffectedRows ?? 0);
    total += n;
    if (n < batch) break;
  }
  return total;
}

/** Stable JSON: object keys sorted, so the same request always hashes the same. */
export function stableStringify(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
}

/**
 * Runs a money-moving use case at most once per (scope, key). The key row is
 * inserted first inside the use case's own transaction: a concurrent retry
 * waits on it, and either finds the committed answer or, if the first attempt
 * rolled back, runs in its place. The answer is stored in the same transaction
 * as the movement, so a crash can never leave one without the other.
 * A refusal is an answer too: when the use case refuses with a business error
 * (4xx), its work rolls back and the refusal is stored under the key, so a retry
 * can never turn a refusal into a success (a new attempt needs a new key).
 * Authentication failures and bugs (5xx) are not stored: the retry runs afresh.
 * A transaction PostgreSQL aborts as a deadlock victim is run again here, up to twice (ABORT_RETRIES).
 */
export async function runIdempotent<T>(
  db: Db,
  scope: string,
  key: string | undefined,
  request: unknown,
  work: (trx: Trx) => Promise<Outcome<T>>,
  options: IdempotencyOptions = {},
): Promise<{ status: number; body: T; replayed: boolean }> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await runIdempotentOnce(db, scope, key, request, work, options);
    } catch (err) {
      if (attempt >= ABORT_RETRIES || !isRetryableAbort(err)) throw err;
      // Deadlock victims retrying in lockstep would meet again: a short random pause first.
      await new Promise((resolve) => setTimeout(resolve, 5 + Math.floor(Math.random() * 20)));
    }
  }
}

/**
 * How often a use case PostgreSQL aborted to break a deadlock (40P01) or a serialization conflict
 * (40001) is run again. Such an abort rolled back everything, the key row included, so running it
 * again is exactly what the client's own retry with the same key would do, without a 909 or a 500
 * on the terminal first. The lock order (docs/architecture.md) keeps the known paths free of
 * deadlocks; this is for a cycle nobody has found yet. PostgreSQL logs each one ("deadlock detected").
 */
const ABORT_RETRIES = 2;

function isRetryableAbort(err: unknown): boolean {
  const code = pgErrorCode(err);
  return code === PgCode.deadlockDetected || code === PgCode.serializationFailure;
}

async function runIdempotentOnce<T>(
  db: Db,
  scope: string,
  key: string | undefined,
  request: unknown,
  work: (trx: Trx) => Promise<Outcome<T>>,
  options: IdempotencyOptions,
): Promise<{ status: number; body: T; replayed: boolean }> {
  if (key === undefined) {
    return db.transaction().execute(async (trx) => {
      await options.first?.(trx);
      const out = await work(trx);
      await out.last?.(trx);
      return { status: out.status, body: out.body, replayed: false };
    });
  }
  const requestHash = sha256Hex(stableStringify(request));
  let firstDone = false;
  try {
    return await db.transaction().execute(async (trx) => {
      await options.first?.(trx);
      firstDone = true;
      const inserted = await sql<{ key: string }>`insert into idempotency_keys (scope, key, request_hash)
        values (${scope}, ${key}, ${requestHash}) on conflict do nothing returning key`.execute(trx);
      if (inserted.rows.length === 0) return replay<T>(trx, scope, key, requestHash);
      const out = await work(trx);
      await sql`update idempotency_keys set status_code = ${out.status}, response = ${JSON.stringify(out.body)}::jsonb
        where scope = ${scope} and key = ${key}`.execute(trx);
      await out.last?.(trx);
      return { status: out.status, body: out.body, replayed: false };
    });
  } catch (err) {
    if (!firstDone || !isStorableRefusal(err)) throw err;
    // The work rolled back; record the refusal as the key's answer in a transaction of its own.
    // If a concurrent retry recorded an answer in between, that first recorded answer wins.
    const response = { error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) }, iso: err.spec.iso };
    const inserted = await sql<{ key: string }>`insert into idempotency_keys (scope, key, request_hash, status_code, response)
      values (${scope}, ${key}, ${requestHash}, ${err.status}, ${JSON.stringify(response)}::jsonb) on conflict do nothing returning key`.execute(db);
    if (inserted.rows.length > 0) throw err;
    return replay<T>(db, scope, key, requestHash);
  }
}

/** A refusal read back from the key's record (already stored; never stored again). */
class ReplayedRefusal extends AppError {}

function isStorableRefusal(err: unknown): err is AppError {
  return (
    err instanceof AppError &&
    !(err instanceof ReplayedRefusal) &&
    err.status >= 400 &&
    err.status < 500 &&
    ![401, 403, 413, 415, 429].includes(err.status) &&
    !err.code.startsWith('IDEMPOTENCY_')
  );
}

/** The stored answer for a key: returned when it was an answer, thrown again when it was a refusal. */
async function replay<T>(trx: Db | Trx, scope: string, key: string, requestHash: string): Promise<{ status: number; body: T; replayed: boolean }> {
  const stored = await sql<{ request_hash: string; status_code: number; response: unknown }>`
    select request_hash, status_code, response from idempotency_keys where scope = ${scope} and key = ${key}`.execute(trx);
  const row = stored.rows[0];
  if (!row || row.request_hash !== requestHash) throw platformError('IDEMPOTENCY_KEY_REUSED', { key });
  if (row.status_code >= 400) {
    const refusal = row.response as { error: { code: string; message: string; details?: Record<string, unknown> }; iso?: string };
    throw new ReplayedRefusal(refusal.error.code, { status: row.status_code, iso: refusal.iso ?? '', zh: '', en: '' }, refusal.error.details, refusal.error.message);
  }
  return { status: row.status_code, body: row.response as T, replayed: true };
}
