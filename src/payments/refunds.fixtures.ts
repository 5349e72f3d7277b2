/**
 * Test helpers for the refunds and bank transfer tests (not used by the server): credited orders
 * of each offline channel, staff actors, and account balances by system key.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { ApiResponse, TestServer } from '../../test/support/server.js';
import type { Actor } from '../platform/index.js';
import type { PaymentsDeps } from './orders.service.js';
import { enterIncomingTransfer } from './bank-transfers.service.js';

export function expectStatus<T = any>(r: ApiResponse<T>, status: number, what = 'request'): T {
  if (r.status !== status) throw new Error(`${what}: expected HTTP ${status}, got ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export function depsOf(server: TestServer): PaymentsDeps {
  return server.deps;
}

export async function staffActor(server: TestServer, role: 'finance' | 'admin' = 'finance'): Promise<Actor> {
  const username = role === 'admin' ? 'admin' : `t_${role}`;
  const r = await sql<{ id: number }>`select id from staff_users where username = ${username}`.execute(server.db.db);
  return { staffId: r.rows[0]!.id, name: username, role, ip: '127.0.0.1', requestId: null };
}

/** A cash order taken at the counter: credited at once. */
export async function cashOrder(server: TestServer, cardNo: string, amount: number): Promise<any> {
  return expectStatus(
    await server.api('POST', '/api/v1/recharge-orders', { role: 'finance', body: { cardNo, amount, channel: 'cash' }, idempotencyKey: randomUUID() }),
    201,
    'cash order',
  );
}

/** A bank transfer order waiting for the payer's transfer (status paying, with its payer code). */
export async function bankOrder(server: TestServer, cardNo: string, amount: number): Promise<any> {
  return expectStatus(
    await server.api('POST', '/api/v1/recharge-orders', { role: 'finance', body: { cardNo, amount, channel: 'bank_transfer' }, idempotencyKey: randomUUID() }),
    201,
    'bank order',
  );
}

let txn = 0;
export function newBankTxnId(): string {
  txn += 1;
  return `B${Date.now()}${String(txn).padStart(4, '0')}`;
}

/** The payer's transfer arrives with the payer code in its memo; entering it credits the order. */
export async function payBankOrder(server: TestServer, order: { amount: number; payerCode: string }, bankTxnId = newBankTxnId()): Promise<any> {
  const actor = await staffActor(server);
  const t = await server.db.db.transaction().execute((trx) =>
    enterIncomingTransfer(trx, depsOf(server), actor, { bankTxnId, valueDate: today(), amount: order.amount, payerName: '张三', payerAccount: '6222020200112233445', memo: `充值 ${order.payerCode}` }),
  );
  if (t.status !== 'matched') throw new Error(`transfer not matched: ${JSON.stringify(t)}`);
  return t;
}

export function today(): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());
}

/** Balance (credits − debits) of a system account, 0 when it does not exist yet. */
export async function systemBalance(server: TestServer, systemKey: string): Promise<number> {
  const r = await sql<{ b: string | null }>`select (credits_posted - debits_posted)::text b from ledger_accounts where system_key = ${systemKey}`.execute(server.db.db);
  return Number(r.rows[0]?.b ?? 0);
}

export async function orderRow(server: TestServer, orderNo: string): Promise<{ status: string; refunded_amount: number }> {
  const r = await sql<{ status: string; refunded_amount: number }>`select status, refunded_amount from recharge_orders where order_no = ${orderNo}`.execute(server.db.db);
  return r.rows[0]!;
}

/** Poll until `check` returns a value (or the deadline passes): for work another process finishes. */
export async function eventually<T>(check: () => Promise<T | undefined | null | false>, what: string, deadlineMs = 10_000): Promise<T> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
