/**
 * Test helpers for the ledger's tests (imported only by *.test.ts files).
 * Everything runs against a real PostgreSQL; nothing here fakes the database.
 */
import { randomInt, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { expect } from 'vitest';
import type { Db, Trx } from '../platform/index.js';
import { isAppError } from '../platform/index.js';
import {
  openAccount,
  systemAccount,
  transfer,
  type Account,
  type TransferRefusal,
  type TransferResult,
} from './ledger.service.js';
import { verifyLedger } from './ledger.verify.js';

export const newId = (): string => randomUUID();

export function tx<T>(db: Db, fn: (trx: Trx) => Promise<T>): Promise<T> {
  return db.transaction().execute(fn);
}

export function expectOk(res: TransferResult | TransferRefusal): TransferResult {
  if (!res.ok) expect.fail(`expected success, got ${res.code}`);
  return res;
}

export function expectRefused(res: TransferResult | TransferRefusal, code: string, alreadyFailed?: boolean): TransferRefusal {
  if (res.ok) expect.fail(`expected refusal ${code}, got success`);
  expect(res.code).toBe(code);
  if (alreadyFailed !== undefined) expect(res.alreadyFailed).toBe(alreadyFailed);
  return res;
}

/** The stable code of whatever `fn` throws (AppError code or PostgreSQL SQLSTATE). */
export async function thrownCode(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (err) {
    if (isAppError(err)) return err.code;
    if (typeof err === 'object' && err !== null && 'code' in err) return String((err as { code: unknown }).code);
    throw err;
  }
  return expect.fail('expected an error, none was thrown');
}

export async function expectVerified(db: Db | Trx): Promise<void> {
  const report = await verifyLedger(db);
  expect(report.problems).toEqual([]);
  expect(report.ok).toBe(true);
}

/** A customer account (no overdraft) funded from the cash clearing account. */
export async function fundedCustomer(db: Db, amount: number, name = 'customer'): Promise<Account> {
  const acct = await openAccount(db, { kind: 'customer', name });
  if (amount > 0) await fund(db, acct.id, amount);
  return acct;
}

export async function cashClearing(db: Db): Promise<Account> {
  return systemAccount(db, 'channel_clearing', 'cash', 'Cash clearing');
}

export async function fund(db: Db, accountId: number, amount: number): Promise<TransferResult> {
  const cash = await cashClearing(db);
  return expectOk(
    await tx(db, (trx) => transfer(trx, { id: newId(), debitAccountId: cash.id, creditAccountId: accountId, amount, code: 'recharge' })),
  );
}

const GATE_LOCK_CLASS = 7301999;

/**
 * Run `fn` `n` times at once, each on its own pooled connection and transaction, and
 * report how each one settled. A start gate makes the overlap real rather than hoped for:
 * every worker first waits on a shared advisory lock that a gate connection holds
 * exclusively, and the gate opens only when all `n` are waiting. Needs a pool of n + 1.
 */
export async function concurrentlySettled<T>(db: Db, n: number, fn: (trx: Trx, i: number) => Promise<T>): Promise<PromiseSettledResult<T>[]> {
  const key = randomInt(1, 2 ** 31 - 1);
  return db.connection().execute(async (gate) => {
    await sql`select pg_advisory_lock(${GATE_LOCK_CLASS}::int, ${key}::int)`.execute(gate);
    let settled: Promise<PromiseSettledResult<T>[]>;
    try {
      const workers = Array.from({ length: n }, (_, i) =>
        tx(db, async (trx) => {
          await sql`select pg_advisory_xact_lock_shared(${GATE_LOCK_CLASS}::int, ${key}::int)`.execute(trx);
          return fn(trx, i);
        }),
      );
      settled = Promise.allSettled(workers);
      for (let tries = 0; tries < 1000; tries++) {
        const r = await sql<{ waiting: number }>`select count(*)::int as waiting from pg_locks
          where locktype = 'advisory' and classid = ${GATE_LOCK_CLASS}::int::oid and objid = ${key}::int::oid and objsubid = 2 and not granted`.execute(gate);
        if ((r.rows[0]?.waiting ?? 0) >= n) break;
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    } finally {
      await sql`select pg_advisory_unlock(${GATE_LOCK_CLASS}::int, ${key}::int)`.execute(gate);
    }
    return settled;
  });
}

/** As concurrentlySettled, failing if any worker threw. */
export async function concurrently<T>(db: Db, n: number, fn: (trx: Trx, i: number) => Promise<T>): Promise<T[]> {
  return (await concurrentlySettled(db, n, fn)).map((s) => {
    if (s.status === 'rejected') throw s.reason;
    return s.value;
  });
}
