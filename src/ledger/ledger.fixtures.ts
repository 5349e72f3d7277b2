/**
 * Test helpers for the ledger's tests (imported only by *.test.ts files).
 * Everything runs against a real PostgreSQL; nothing here fakes the database.
 */
import { randomUUID } from 'node:crypto';
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

/** Run `fn` concurrently `n` times, each call on its own pooled connection and transaction. */
export function concurrently<T>(db: Db, n: number, fn: (trx: Trx, i: number) => Promise<T>): Promise<T[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => tx(db, (trx) => fn(trx, i))));
}
