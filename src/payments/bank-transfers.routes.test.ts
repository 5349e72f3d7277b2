import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { expectError, expectLedgerVerified, getCard, issueCard, ok } from '../../test/support/cards-factory.js';
import { maskCardNo } from '../platform/index.js';
import { bankOrder, newBankTxnId, today } from './refunds.fixtures.js';

// HTTP tests of the incoming bank transfer routes (bankTransfersRoutes), registered by src/server.ts.
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => server?.close());
afterEach(async () => expectLedgerVerified(server));

const enter = (body: Record<string, unknown>, opts: { key?: string; role?: 'admin' | 'finance' | 'operator' } = {}) =>
  server.api('POST', '/api/v1/bank-transfers', { role: opts.role ?? 'finance', body: { bankTxnId: newBankTxnId(), valueDate: today(), ...body }, ...(opts.key ? { idempotencyKey: opts.key } : {}) });

describe('incoming bank transfer routes', () => {
  it('enters a transfer that matches itself by payer code; a retry with the same key is the same answer; the id serves once', async () => {
    const c = await issueCard(server);
    const o = await bankOrder(server, c.cardNo, 12_300);
    const key = randomUUID();
    const body = { bankTxnId: newBankTxnId(), amount: 12_300, payerName: '张三', payerAccount: '6222020200112233445', memo: `充值 ${o.payerCode}` };
    const t = ok(await enter(body, { key }), 201);
    expect(t).toMatchObject({ status: 'matched', orderNo: o.orderNo, cardNo: maskCardNo(c.cardNo), amount: 12_300, payerAccount: '6222****3445', valueDate: today() });
    expect(ok(await enter(body, { key }), 201).id).toBe(t.id);
    expectError(await enter(body), 409, 'BANK_TRANSFER_DUPLICATE');
    expect((await getCard(server, c.cardNo)).balance).toBe(12_300);
    expect(ok(await server.api('GET', `/api/v1/bank-transfers/${t.id}`), 200)).toMatchObject({ id: t.id, status: 'matched' });
  });

  it('matches by hand, refuses a different amount, ignores and returns; only admin and finance', async () => {
    const c = await issueCard(server);
    const o = await bankOrder(server, c.cardNo, 800);
    const wrong = ok(await enter({ amount: 700, memo: o.payerCode }), 201);
    expect(wrong.status).toBe('unmatched');
    expectError(await server.api('POST', `/api/v1/bank-transfers/${wrong.id}/match`, { body: { orderNo: o.orderNo } }), 422, 'BANK_TRANSFER_AMOUNT_MISMATCH');
    ok(await server.api('POST', `/api/v1/bank-transfers/${wrong.id}/return`, { body: { note: '金额不符，退回' } }), 200);
    const right = ok(await enter({ amount: 800 }), 201);
    expect((await server.api('POST', `/api/v1/bank-transfers/${right.id}/match`, { role: 'operator', body: { orderNo: o.orderNo } })).status).toBe(403);
    expectError(await server.api('POST', `/api/v1/bank-transfers/${right.id}/match`, { body: { orderNo: 'nope' } }), 400, 'VALIDATION_FAILED');
    const matched = ok(await server.api('POST', `/api/v1/bank-transfers/${right.id}/match`, { body: { orderNo: o.orderNo } }), 200);
    expect(matched).toMatchObject({ status: 'matched', orderNo: o.orderNo });
    expect((await getCard(server, c.cardNo)).balance).toBe(800);
    const stray = ok(await enter({ amount: 5 }), 201);
    expectError(await server.api('POST', `/api/v1/bank-transfers/${stray.id}/ignore`, { body: {} }), 400, 'VALIDATION_FAILED');
    expect(ok(await server.api('POST', `/api/v1/bank-transfers/${stray.id}/ignore`, { body: { note: '利息' } }), 200).status).toBe('ignored');
    expectError(await server.api('POST', `/api/v1/bank-transfers/${stray.id}/match`, { body: { orderNo: o.orderNo } }), 409, 'BANK_TRANSFER_STATE');
    expectError(await server.api('POST', '/api/v1/bank-transfers/999999999/ignore', { body: { note: 'x' } }), 404, 'BANK_TRANSFER_NOT_FOUND');
    expectError(await enter({ amount: 0 }), 400, 'VALIDATION_FAILED');
    expectError(await enter({ amount: 1, valueDate: '2026-13-01' }), 400, 'VALIDATION_FAILED');
    expect((await enter({ amount: 1 }, { role: 'operator' })).status).toBe(403);
  });

  it('lists transfers newest first by status and value date, page by page', async () => {
    for (let i = 0; i < 3; i++) ok(await enter({ amount: 100 + i, memo: 'list-test' }), 201);
    const p1 = ok(await server.api('GET', `/api/v1/bank-transfers?status=unmatched&from=${today()}&to=${today()}&limit=2`), 200);
    expect(p1.items).toHaveLength(2);
    expect(p1.nextCursor).not.toBeNull();
    const p2 = ok(await server.api('GET', `/api/v1/bank-transfers?status=unmatched&limit=2&cursor=${p1.nextCursor}`), 200);
    const ids = [...p1.items, ...p2.items].map((t: { id: number }) => t.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect(ok(await server.api('GET', '/api/v1/bank-transfers?from=2000-01-01&to=2000-01-02'), 200).items).toEqual([]);
    expectError(await server.api('GET', '/api/v1/bank-transfers?cursor=zzz'), 400, 'VALIDATION_FAILED');
    expect((await server.api('GET', '/api/v1/bank-transfers', { role: 'risk' })).status).toBe(403);
  });
});
