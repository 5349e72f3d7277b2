import { sql } from 'kysely';
import type { Db, Trx } from './db.js';
import { sha256Hex } from './crypto.js';
import { platformError } from './errors.js';

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

export function checkIdempotencyKey(key: string | undefined): string | undefined {
  if (key === undefined) return undefined;
  if (!KEY_PATTERN.test(key)) throw platformError('IDEMPOTENCY_KEY_INVALID', { header: 'Idempotency-Key' });
  return key;
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
 * A use case that throws leaves no record: errors are not cached, answers are
 * (a decline is an answer).
 */
export async function runIdempotent<T>(
  db: Db,
  scope: string,
  key: string | undefined,
  request: unknown,
  work: (trx: Trx) => Promise<Outcome<T>>,
  options: IdempotencyOptions = {},
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
  return db.transaction().execute(async (trx) => {
    await options.first?.(trx);
    const inserted = await sql<{ key: string }>`insert into idempotency_keys (scope, key, request_hash)
      values (${scope}, ${key}, ${requestHash}) on conflict do nothing returning key`.execute(trx);
    if (inserted.rows.length === 0) {
      const stored = await sql<{ request_hash: string; status_code: number; response: T }>`
        select request_hash, status_code, response from idempotency_keys where scope = ${scope} and key = ${key}`.execute(trx);
      const row = stored.rows[0];
      if (!row || row.request_hash !== requestHash) {
        throw platformError('IDEMPOTENCY_KEY_REUSED', { key });
      }
      return { status: row.status_code, body: row.response, replayed: true };
    }
    const out = await work(trx);
    await sql`update idempotency_keys set status_code = ${out.status}, response = ${JSON.stringify(out.body)}::jsonb
      where scope = ${scope} and key = ${key}`.execute(trx);
    await out.last?.(trx);
    return { status: out.status, body: out.body, replayed: false };
  });
}
