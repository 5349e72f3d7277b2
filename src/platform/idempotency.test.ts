import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js';
import type { Trx } from './db.js';
import { AppError } from './errors.js';
import { checkIdempotencyKey, pruneIdempotencyKeys, runIdempotent, stableStringify } from './idempotency.js';
import { publish } from './outbox.js';

let h: TestDatabase;
beforeAll(async () => {
  h = await createTestDatabase(8);
});
afterAll(async () => h?.close());

let counter = 0;
const scope = () => `test-${++counter}`;

/** A use case with a visible effect: one outbox row per run. */
function work(tag: string, answer: unknown = { ok: tag }) {
  return async (trx: Trx) => {
    await publish(trx, 'test.work', tag, {});
    return { status: 201, body: answer };
  };
}
async function runs(tag: string): Promise<number> {
  const r = await sql<{ n: number }>`select count(*)::int n from outbox_events where aggregate_id = ${tag}`.execute(h.db);
  return r.rows[0]!.n;
}
function codeOf(err: unknown): string {
  expect(err).toBeInstanceOf(AppError);
  return (err as AppError).code;
}

describe('checkIdempotencyKey', () => {
  it('accepts absent and well-formed keys', () => {
    expect(checkIdempotencyKey(undefined)).toBeUndefined();
    for (const k of ['a', '550e8400-e29b-41d4-a716-446655440000', 'pos:T0001:000123', 'x'.repeat(128), 'A.b_c-d:e']) {
      expect(checkIdempotencyKey(k)).toBe(k);
    }
  });
  it.each(['', ' ', 'has space', 'x'.repeat(129), 'ünï', 'a/b', 'a\nb'])('refuses %j with IDEMPOTENCY_KEY_INVALID', (k) => {
    let err: unknown;
    try {
      checkIdempotencyKey(k);
    } catch (e) {
      err = e;
    }
    expect(codeOf(err)).toBe('IDEMPOTENCY_KEY_INVALID');
    expect((err as AppError).status).toBe(400);
  });
});

describe('stableStringify', () => {
  it('is independent of key order and drops undefined, keeps arrays in order', () => {
    expect(stableStringify({ b: 1, a: { d: [2, 1], c: null } })).toBe(stableStringify({ a: { c: null, d: [2, 1] }, b: 1 }));
    expect(stableStringify({ a: 1, b: undefined })).toBe(stableStringify({ a: 1 }));
    expect(stableStringify([1, 2])).not.toBe(stableStringify([2, 1]));
    expect(stableStringify({ a: '1' })).not.toBe(stableStringify({ a: 1 }));
    expect(stableStringify('张三')).toBe('"张三"');
    expect(stableStringify(undefined)).toBe('null');
  });
});

describe('runIdempotent', () => {
  it('runs once per key and returns the stored answer to a retry', async () => {
    const s = scope();
    const first = await runIdempotent(h.db, s, 'k1', { amount: 100 }, work('once', { id: 1 }));
    expect(first).toEqual({ status: 201, body: { id: 1 }, replayed: false });
    const again = await runIdempotent(h.db, s, 'k1', { amount: 100 }, work('once', { id: 2 }));
    expect(again).toEqual({ status: 201, body: { id: 1 }, replayed: true });
    expect(await runs('once')).toBe(1);
  });

  it('treats the same request with keys in another order as the same request', async () => {
    const s = scope();
    await runIdempotent(h.db, s, 'k', { a: 1, b: { c: 2, d: 3 } }, work('order'));
    const again = await runIdempotent(h.db, s, 'k', { b: { d: 3, c: 2 }, a: 1 }, work('order'));
    expect(again.replayed).toBe(true);
    expect(await runs('order')).toBe(1);
  });

  it('refuses the same key with a different request (409 IDEMPOTENCY_KEY_REUSED)', async () => {
    const s = scope();
    await runIdempotent(h.db, s, 'k', { amount: 100 }, work('reuse'));
    const err = await runIdempotent(h.db, s, 'k', { amount: 101 }, work('reuse')).catch((e: unknown) => e);
    expect(codeOf(err)).toBe('IDEMPOTENCY_KEY_REUSED');
    expect((err as AppError).status).toBe(409);
    expect(await runs('reuse')).toBe(1);
  });

  it('keeps scopes apart', async () => {
    await runIdempotent(h.db, scope(), 'same', { x: 1 }, work('scoped'));
    const other = await runIdempotent(h.db, scope(), 'same', { x: 2 }, work('scoped'));
    expect(other.replayed).toBe(false);
    expect(await runs('scoped')).toBe(2);
  });

  it('runs every time without a key', async () => {
    const s = scope();
    await runIdempotent(h.db, s, undefined, {}, work('nokey'));
    await runIdempotent(h.db, s, undefined, {}, work('nokey'));
    expect(await runs('nokey')).toBe(2);
  });

  it('stores nothing when the use case throws: the effect rolls back and a retry runs', async () => {
    const s = scope();
    const failing = async (trx: Trx) => {
      await publish(trx, 'test.work', 'throws', {});
      throw new Error('boom');
    };
    await expect(runIdempotent(h.db, s, 'k', { a: 1 }, failing)).rejects.toThrow('boom');
    expect(await runs('throws')).toBe(0);
    const retry = await runIdempotent(h.db, s, 'k', { a: 1 }, work('throws'));
    expect(retry.replayed).toBe(false);
    expect(await runs('throws')).toBe(1);
  });

  it('runs once under concurrent retries; each caller gets the same answer', async () => {
    const s = scope();
    let calls = 0;
    const slow = async (trx: Trx) => {
      calls++;
      await publish(trx, 'test.work', 'concurrent', {});
      await new Promise((r) => setTimeout(r, 50));
      return { status: 200, body: { call: calls } };
    };
    const results = await Promise.all(Array.from({ length: 6 }, () => runIdempotent(h.db, s, 'k', { a: 1 }, slow)));
    expect(calls).toBe(1);
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
    expect(new Set(results.map((r) => JSON.stringify(r.body)))).toEqual(new Set([JSON.stringify({ call: 1 })]));
    expect(await runs('concurrent')).toBe(1);
  });

  it('a concurrent retry waiting on a first attempt that fails runs in its place', async () => {
    const s = scope();
    let calls = 0;
    const firstFails = async (trx: Trx) => {
      calls++;
      await publish(trx, 'test.work', 'takeover', {});
      if (calls === 1) {
        await new Promise((r) => setTimeout(r, 100));
        throw new Error('first attempt failed');
      }
      return { status: 200, body: { call: calls } };
    };
    const first = runIdempotent(h.db, s, 'k', { a: 1 }, firstFails);
    await new Promise((r) => setTimeout(r, 20));
    const second = runIdempotent(h.db, s, 'k', { a: 1 }, firstFails);
    await expect(first).rejects.toThrow('first attempt failed');
    expect(await second).toEqual({ status: 200, body: { call: 2 }, replayed: false });
    expect(await runs('takeover')).toBe(1);
  });
});

describe('a transaction PostgreSQL aborts to break a deadlock', () => {
  it('is run again: two use cases locking two rows in opposite orders both succeed, each effect once', async () => {
    await sql`create table if not exists deadlock_probe (id int primary key)`.execute(h.db);
    await sql`insert into deadlock_probe values (1), (2) on conflict do nothing`.execute(h.db);
    const calls = { a: 0, b: 0 };
    let bothHoldOne!: () => void;
    const bothLocked = new Promise<void>((r) => (bothHoldOne = r));
    let holding = 0;
    const crosswise = (tag: 'a' | 'b', first: number, second: number) => async (trx: Trx) => {
      calls[tag]++;
      await publish(trx, 'test.work', `deadlock-${tag}`, {});
      await sql`select id from deadlock_probe where id = ${first} for update`.execute(trx);
      // Only the first attempts meet here; a retry goes straight on.
      if (calls[tag] === 1) {
        if (++holding === 2) bothHoldOne();
        await bothLocked;
      }
      await sql`select id from deadlock_probe where id = ${second} for update`.execute(trx);
      return { status: 200, body: { tag } };
    };
    const [a, b] = await Promise.all([runIdempotent(h.db, scope(), 'k', { t: 'a' }, crosswise('a', 1, 2)), runIdempotent(h.db, scope(), 'k', { t: 'b' }, crosswise('b', 2, 1))]);
    expect(a.body).toEqual({ tag: 'a' });
    expect(b.body).toEqual({ tag: 'b' });
    // PostgreSQL chose one victim; it ran a second time.
    expect(calls.a + calls.b).toBe(3);
    expect(await runs('deadlock-a')).toBe(1);
    expect(await runs('deadlock-b')).toBe(1);
  });

  it('is run again at most twice, then the abort is thrown; other errors are never retried', async () => {
    let deadlocks = 0;
    const alwaysDeadlocks = async () => {
      deadlocks++;
      throw Object.assign(new Error('deadlock detected'), { code: '40P01' });
    };
    await expect(runIdempotent(h.db, scope(), 'k', { a: 1 }, alwaysDeadlocks)).rejects.toThrow('deadlock detected');
    expect(deadlocks).toBe(3);
    let failures = 0;
    const unique = async () => {
      failures++;
      throw Object.assign(new Error('duplicate key'), { code: '23505' });
    };
    await expect(runIdempotent(h.db, scope(), undefined, { a: 1 }, unique)).rejects.toThrow('duplicate key');
    expect(failures).toBe(1);
  });
});

describe('refusals and retention', () => {
  it('stores a business refusal as the answer: the retry is refused the same way and the work runs once', async () => {
    const s = scope();
    const refuse = async (trx: Trx) => {
      await publish(trx, 'test.work', 'refused-1', {});
      throw new AppError('CARD_FROZEN_TEST', { status: 409, iso: '119', zh: '冻结', en: 'frozen' }, { why: 'test' });
    };
    const first = await runIdempotent(h.db, s, 'r-1', { a: 1 }, refuse).catch((e: unknown) => e);
    expect(codeOf(first)).toBe('CARD_FROZEN_TEST');
    // The retry would succeed now, but the key's answer is the refusal.
    const again = await runIdempotent(h.db, s, 'r-1', { a: 1 }, work('refused-1')).catch((e: unknown) => e);
    expect(codeOf(again)).toBe('CARD_FROZEN_TEST');
    expect((again as AppError).status).toBe(409);
    expect(await runs('refused-1')).toBe(0);
    // A different body under the key is still a conflict.
    expect(codeOf(await runIdempotent(h.db, s, 'r-1', { a: 2 }, work('refused-1')).catch((e: unknown) => e))).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it('does not store bugs (5xx): the retry runs afresh', async () => {
    const s = scope();
    const bug = async () => {
      throw new Error('boom');
    };
    await expect(runIdempotent(h.db, s, 'b-1', {}, bug)).rejects.toThrow('boom');
    const ok = await runIdempotent(h.db, s, 'b-1', {}, work('bug-then-ok'));
    expect(ok.replayed).toBe(false);
    expect(await runs('bug-then-ok')).toBe(1);
  });

  it('prunes answers older than the retention period', async () => {
    const s = scope();
    await runIdempotent(h.db, s, 'old', {}, work('old'));
    await runIdempotent(h.db, s, 'new', {}, work('new'));
    await sql`update idempotency_keys set created_at = now() - interval '40 days' where scope = ${s} and key = 'old'`.execute(h.db);
    expect(await pruneIdempotencyKeys(h.db, 30 * 86_400_000)).toBeGreaterThanOrEqual(1);
    const left = await sql<{ key: string }>`select key from idempotency_keys where scope = ${s} order by key`.execute(h.db);
    expect(left.rows.map((r) => r.key)).toEqual(['new']);
  });
});
