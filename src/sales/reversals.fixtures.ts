import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { signTerminalRequest, terminalPost, type ApiResponse, type TestServer } from '../../test/support/server.js';
import { saleBody, sell, type Terminal } from '../../test/support/fuel.js';

/** Test helpers for reversals, voids, shifts and settlement (used by their *.test.ts only). */

export const REVERSAL_PATH = '/api/v1/pos/reversals';
export const CLOSE_PATH = '/api/v1/pos/shifts/close';

export async function terminalGet(server: TestServer, terminal: Terminal, path: string): Promise<ApiResponse> {
  const headers = signTerminalRequest(terminal, 'GET', path, '');
  delete headers['content-type'];
  const res = await fetch(server.baseUrl + path, { method: 'GET', headers });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
}

export function reverse(server: TestServer, terminal: Terminal, originalRef: string, reason = 'timeout', key?: string): Promise<ApiResponse> {
  return terminalPost(server, terminal, REVERSAL_PATH, { originalRef, reason }, key ? { idempotencyKey: key } : {});
}

export function voidSale(server: TestServer, terminal: Terminal, saleId: string, body: Record<string, unknown> = { cashier: '王芳' }, key?: string): Promise<ApiResponse> {
  return terminalPost(server, terminal, `/api/v1/pos/sales/${saleId}/void`, body, key ? { idempotencyKey: key } : {});
}

export function closeShift(server: TestServer, terminal: Terminal, declared: unknown[], extra: Record<string, unknown> = {}, key: string | null = randomUUID()): Promise<ApiResponse> {
  return terminalPost(server, terminal, CLOSE_PATH, { declared, ...extra }, key ? { idempotencyKey: key } : {});
}

/** An approved online sale made with `ref` as its Idempotency-Key (its terminal reference). */
export async function approvedSale(server: TestServer, terminal: Terminal, cardNo: string, amount: number, ref: string = randomUUID()): Promise<{ saleId: string; ref: string }> {
  const r = await sell(server, terminal, saleBody(cardNo, amount), { idempotencyKey: ref });
  if (r.status !== 200 || r.body.status !== 'approved') throw new Error(`sale not approved: ${r.status} ${JSON.stringify(r.body)}`);
  return { saleId: r.body.saleId, ref };
}

export async function saleRow(server: TestServer, saleId: string): Promise<{ status: string; shift_id: number | null; terminal_ref: string | null; reversed_at: Date | null }> {
  const r = await sql<{ status: string; shift_id: number | null; terminal_ref: string | null; reversed_at: Date | null }>`
    select status, shift_id, terminal_ref, reversed_at from sales where id = ${saleId}`.execute(server.db.db);
  return r.rows[0]!;
}

/** The station settlement account's balance (credits − debits, fen). */
export async function settlementBalance(server: TestServer, accountId: number): Promise<number> {
  const r = await sql<{ b: number }>`select (credits_posted - debits_posted)::bigint as b from ledger_accounts where id = ${accountId}`.execute(server.db.db);
  return r.rows[0]!.b;
}

export async function usageOf(server: TestServer, cardNo: string): Promise<{ amount: number; fills: number }> {
  const r = await sql<{ amount: number; fills: number }>`select coalesce(sum(u.amount), 0)::bigint as amount, coalesce(sum(u.fills), 0)::int as fills
    from card_usage_daily u join cards c on c.id = u.card_id where c.card_no = ${cardNo}`.execute(server.db.db);
  return r.rows[0]!;
}
