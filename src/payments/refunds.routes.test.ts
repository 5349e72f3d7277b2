import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { cardOp, expectError, expectLedgerVerified, getCard, issueCard, ok } from '../../test/support/cards-factory.js';
import { maskCardNo } from '../platform/index.js';
import { bankOrder, cashOrder, payBankOrder } from './refunds.fixtures.js';

// HTTP tests of the refund routes (refundsRoutes), registered by src/server.ts.
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => server?.close());
afterEach(async () => expectLedgerVerified(server));

const PAYEE = { name: '张三', account: '6222020200112233445', bank: '工商银行' };
const refundPost = (orderNo: string, body: unknown, opts: { key?: string; role?: 'admin' | 'finance' | 'operator' | 'station_staff' | 'risk' } = {}) =>
  server.api('POST', `/api/v1/recharge-orders/${orderNo}/refunds`, { role: opts.role ?? 'finance', body, ...(opts.key ? { idempotencyKey: opts.key } : {}) });

describe('refund routes', () => {
  it('refunds an order for finance; a retry with the same key finds the same refund; the order shows it', async () => {
    const c = await issueCard(server);
    const o = await cashOrder(server, c.cardNo, 5_000);
    const key = randomUUID();
    const r = ok(await refundPost(o.orderNo, { amount: 2_000, reason: '多充' }, { key }), 201);
    expect(r).toMatchObject({ kind: 'recharge', orderNo: o.orderNo, cardNo: maskCardNo(c.cardNo), channel: 'cash', amount: 2_000, status: 'succeeded', payee: null });
    const again = ok(await refundPost(o.orderNo, { amount: 2_000, reason: '多充' }, { key }), 201);
    expect(again.refundNo).toBe(r.refundNo);
    expect((await getCard(server, c.cardNo)).balance).toBe(3_000);
    const order = ok(await server.api('GET', `/api/v1/recharge-orders/${o.orderNo}`), 200);
    expect(order.refundedAmount).toBe(2_000);
    expect(order.refunds.map((x: { refundNo: string }) => x.refundNo)).toEqual([r.refundNo]);
  });

  it('money actions are for admin and finance; bad input is a 400 with a stable code, never a 500', async () => {
    const c = await issueCard(server);
    const o = await cashOrder(server, c.cardNo, 1_000);
    for (const role of ['operator', 'station_staff', 'risk'] as const) expect((await refundPost(o.orderNo, { reason: 'x' }, { role })).status).toBe(403);
    expect((await server.api('POST', `/api/v1/recharge-orders/${o.orderNo}/refunds`, { role: null, body: { reason: 'x' } })).status).toBe(401);
    expectError(await refundPost(o.orderNo, { reason: 'x', extra: 1 }), 400, 'VALIDATION_FAILED');
    expectError(await refundPost(o.orderNo, { amount: 0, reason: 'x' }), 400, 'VALIDATION_FAILED');
    expectError(await refundPost(o.orderNo, {}), 400, 'VALIDATION_FAILED');
    expectError(await refundPost('P123', { reason: 'x' }), 400, 'VALIDATION_FAILED');
    expectError(await refundPost(o.orderNo, { amount: 1_001, reason: 'x' }), 422, 'PAYMENT_REFUND_EXCEEDS');
    expectError(await server.api('GET', '/api/v1/refunds/F2099010100000000001'), 404, 'PAYMENT_REFUND_NOT_FOUND');
    expectError(await server.api('GET', '/api/v1/refunds?cursor=nonsense'), 400, 'VALIDATION_FAILED');
    expectError(await server.api('GET', '/api/v1/refunds?from=2026-02-30T00:00:00Z'), 400, 'VALIDATION_FAILED');
    expect((await server.api('GET', '/api/v1/refunds', { role: 'station_staff' })).status).toBe(403);
  });

  it('lists refunds newest first with filters and a cursor; the detail has the trail, and the full payee only for finance', async () => {
    const c = await issueCard(server);
    const o = await bankOrder(server, c.cardNo, 9_000);
    await payBankOrder(server, o);
    const made = [];
    for (const amount of [1_000, 2_000, 3_000]) made.push(ok(await refundPost(o.orderNo, { amount, reason: '分次退款', payee: PAYEE }), 201));
    const p1 = ok(await server.api('GET', `/api/v1/refunds?orderNo=${o.orderNo}&limit=2`), 200);
    expect(p1.items.map((r: { amount: number }) => r.amount)).toEqual([3_000, 2_000]);
    const p2 = ok(await server.api('GET', `/api/v1/refunds?orderNo=${o.orderNo}&limit=2&cursor=${p1.nextCursor}`), 200);
    expect(p2.items.map((r: { amount: number }) => r.amount)).toEqual([1_000]);
    expect(p2.nextCursor).toBeNull();
    const byCard = ok(await server.api('GET', `/api/v1/refunds?cardNo=${c.cardNo}&status=processing&channel=bank_transfer&kind=recharge`, { role: 'risk' }), 200);
    expect(byCard.items).toHaveLength(3);
    expect(ok(await server.api('GET', `/api/v1/refunds?cardNo=${c.cardNo}&status=succeeded`), 200).items).toHaveLength(0);

    const forFinance = ok(await server.api('GET', `/api/v1/refunds/${made[0].refundNo}`, { role: 'finance' }), 200);
    expect(forFinance.payee).toEqual({ name: '张三', account: '6222****3445', bank: '工商银行' });
    expect(forFinance.payout).toEqual({ name: '张三', account: '6222020200112233445', bank: '工商银行' });
    expect(forFinance.events.map((e: { toStatus: string }) => e.toStatus)).toEqual(['requested', 'processing']);
    const forOperator = ok(await server.api('GET', `/api/v1/refunds/${made[0].refundNo}`, { role: 'operator' }), 200);
    expect(forOperator.payout).toBeUndefined();
    expect(JSON.stringify(forOperator)).not.toContain('2233445');
  });

  it('confirms and fails bank payouts; a payout of another channel cannot be confirmed by hand', async () => {
    const c = await issueCard(server);
    const o = await bankOrder(server, c.cardNo, 4_000);
    await payBankOrder(server, o);
    const a = ok(await refundPost(o.orderNo, { amount: 1_500, reason: 'r', payee: PAYEE }), 201);
    const b = ok(await refundPost(o.orderNo, { amount: 2_500, reason: 'r', payee: PAYEE }), 201);
    expect((await server.api('POST', `/api/v1/refunds/${a.refundNo}/confirm`, { role: 'operator', body: { bankReference: 'X' } })).status).toBe(403);
    expectError(await server.api('POST', `/api/v1/refunds/${a.refundNo}/confirm`, { body: {} }), 400, 'VALIDATION_FAILED');
    const done = ok(await server.api('POST', `/api/v1/refunds/${a.refundNo}/confirm`, { role: 'finance', body: { bankReference: `OUT${a.refundNo}` } }), 200);
    expect(done).toMatchObject({ status: 'succeeded', channelRefundId: `OUT${a.refundNo}` });
    expectError(await server.api('POST', `/api/v1/refunds/${b.refundNo}/fail`, { body: {} }), 400, 'VALIDATION_FAILED');
    const failed = ok(await server.api('POST', `/api/v1/refunds/${b.refundNo}/fail`, { role: 'finance', body: { reason: '退票' } }), 200);
    expect(failed).toMatchObject({ status: 'failed', failureReason: '退票' });
    expect((await getCard(server, c.cardNo)).balance).toBe(2_500);
    expectError(await server.api('POST', `/api/v1/refunds/${b.refundNo}/confirm`, { body: { bankReference: 'Y' } }), 409, 'PAYMENT_REFUND_STATE');
    const queried = ok(await server.api('POST', `/api/v1/refunds/${b.refundNo}/query`, { role: 'finance' }), 200);
    expect(queried.status).toBe('failed');
    const cash = await cashOrder(server, c.cardNo, 100);
    const cr = ok(await refundPost(cash.orderNo, { reason: 'r' }), 201);
    expectError(await server.api('POST', `/api/v1/refunds/${cr.refundNo}/confirm`, { body: { bankReference: 'Z' } }), 409, 'PAYMENT_REFUND_STATE');
  });

  it('lists closed cards’ payouts and starts one on demand', async () => {
    const c = await issueCard(server);
    const o = await bankOrder(server, c.cardNo, 2_000);
    await payBankOrder(server, o);
    await cashOrder(server, c.cardNo, 500);
    const closed = ok(await cardOp(server, c.cardNo, 'close', { refundMethod: 'original_channel' }), 200);
    const id = closed.refund.refundId;
    const before = ok(await server.api('GET', '/api/v1/card-refunds?status=payable&limit=200', { role: 'finance' }), 200);
    expect(before.items.find((x: { id: string }) => x.id === id)).toMatchObject({ amount: 2_500, remaining: 2_500, parts: [] });
    expect((await server.api('GET', '/api/v1/card-refunds', { role: 'operator' })).status).toBe(403);
    const started = ok(await server.api('POST', `/api/v1/card-refunds/${id}/payout`, { role: 'finance' }), 200);
    expect(started.parts.map((p: { originalOrderNo: string | null; amount: number }) => [p.originalOrderNo, p.amount])).toEqual([
      [o.orderNo, 2_000],
      [null, 500],
    ]);
    expectError(await server.api('POST', `/api/v1/card-refunds/${id}/payout`, { role: 'finance' }), 409, 'PAYMENT_REFUND_STATE');
    expectError(await server.api('POST', `/api/v1/card-refunds/${randomUUID()}/payout`, { role: 'finance' }), 404, 'PAYMENT_REFUND_NOT_FOUND');
    for (const p of started.parts) {
      ok(await server.api('POST', `/api/v1/refunds/${p.refundNo}/confirm`, { role: 'finance', body: { bankReference: `CC${p.refundNo}`, payee: PAYEE } }), 200);
    }
    expect(ok(await server.api('GET', `/api/v1/card-refunds/${id}`, { role: 'finance' }), 200)).toMatchObject({ status: 'paid', paidOut: 2_500 });
    const refunds = ok(await server.api('GET', `/api/v1/refunds?cardNo=${c.cardNo}&kind=card_close`), 200);
    expect(refunds.items).toHaveLength(2);
  });
});
