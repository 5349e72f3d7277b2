import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { cardOp, expectError, expectLedgerVerified, getCard, issueCard, ok } from '../../test/support/cards-factory.js';
import type { Actor } from '../platform/index.js';
import type { PaymentChannel, QueryContext, RefundRequest } from './channel.js';
import { paymentsError } from './payments.errors.js';
import { creditChannelPayment } from './orders.service.js';
import { createRechargeRefund, getRefund, sendRefundToChannel } from './refunds.service.js';
import { runRefundJobs } from './refunds.jobs.js';
import { bankOrder, cashOrder, depsOf, eventually, expectStatus, orderRow, payBankOrder, staffActor, systemBalance } from './refunds.fixtures.js';

// Review fixes (docs/refunds.md): refunds of 'paid' orders the card could not take, refund
// requests the channel refused, and the context every query gives the channel.
let server: TestServer;
let finance: Actor;
beforeAll(async () => {
  server = await startTestServer();
  finance = await staffActor(server);
});
afterAll(async () => server?.close());
const restores: Array<() => void> = [];
afterEach(async () => {
  while (restores.length > 0) restores.pop()!();
  for (const sb of Object.values(server.deps.payments.sandboxes)) sb.refundMode = 'auto';
  await expectLedgerVerified(server);
});

const PAYEE = { name: '张三', account: '6222020200112233445', bank: '工商银行' };

/** Replace one method of the live channel adapter for this test (the provider stays real behind it). */
function patch<K extends 'refund' | 'queryRefund' | 'queryPayment'>(code: 'wechat', name: K, make: (orig: PaymentChannel[K]) => PaymentChannel[K]): void {
  const ch = server.deps.payments.channel(code) as unknown as Record<string, unknown>;
  const own = Object.prototype.hasOwnProperty.call(ch, name);
  const before = ch[name];
  ch[name] = make((before as (...a: unknown[]) => unknown).bind(ch) as PaymentChannel[K]);
  restores.push(() => {
    if (own) ch[name] = before;
    else delete ch[name];
  });
}

async function wechatOrder(cardNo: string, amount: number): Promise<any> {
  return expectStatus(
    await server.api('POST', '/api/v1/recharge-orders', { role: 'finance', body: { cardNo, amount, channel: 'wechat', method: 'native' }, idempotencyKey: randomUUID() }),
    201,
    'wechat order',
  );
}

async function creditedWechatOrder(cardNo: string, amount: number): Promise<any> {
  const o = await wechatOrder(cardNo, amount);
  await server.deps.payments.sandboxes.wechat!.pay(o.orderNo, { notify: 'once' });
  await eventually(async () => (await orderRow(server, o.orderNo)).status === 'credited', 'order credited');
  return o;
}

const refundViaApi = (orderNo: string, body: Record<string, unknown>) =>
  server.api('POST', `/api/v1/recharge-orders/${orderNo}/refunds`, { role: 'finance', body: { reason: '客户申请退款', ...body }, idempotencyKey: randomUUID() });

async function holdDebitKey(refundNo: string): Promise<string | null> {
  const r = await sql<{ system_key: string | null }>`select a.system_key from payment_refunds r join ledger_transfers t on t.id = r.hold_transfer_id
    join ledger_accounts a on a.id = t.debit_account_id where r.refund_no = ${refundNo}`.execute(server.db.db);
  return r.rows[0]!.system_key;
}

describe('refunding a paid order the card could not take', () => {
  it('card closed before the WeChat payment arrived: the money goes back from clearing, the order ends refunded', async () => {
    const c = await issueCard(server);
    const o = await wechatOrder(c.cardNo, 5_000);
    ok(await cardOp(server, c.cardNo, 'close', { refundMethod: 'original_channel' }), 200, 'close');
    const clearingBefore = await systemBalance(server, 'channel_clearing:wechat');
    const payableBefore = await systemBalance(server, 'refunds_payable:recharge');
    await server.deps.payments.sandboxes.wechat!.pay(o.orderNo, { notify: 'once' });
    await eventually(async () => (await orderRow(server, o.orderNo)).status === 'paid', 'order paid, not credited');
    // Paid but never credited: the ledger has not moved yet (a credit is what takes money out of clearing).
    expect(await systemBalance(server, 'channel_clearing:wechat')).toBe(clearingBefore);
    expectError(await server.api('POST', `/api/v1/recharge-orders/${o.orderNo}/credit`, { role: 'finance' }), 409, 'RECHARGE_NOT_ALLOWED');

    const r = expectStatus(await refundViaApi(o.orderNo, {}), 201, 'refund of a paid order');
    expect(r).toMatchObject({ orderNo: o.orderNo, amount: 5_000, channel: 'wechat' });
    expect(['processing', 'succeeded']).toContain(r.status);
    // Nothing left the card (it never had the money): the hold came out of the clearing account.
    expect(await holdDebitKey(r.refundNo)).toBe('channel_clearing:wechat');
    await eventually(async () => (await getRefund(server.db.db, r.refundNo)).status === 'succeeded', 'refund succeeded');
    expect(await orderRow(server, o.orderNo)).toEqual({ status: 'refunded', refunded_amount: 5_000 });
    expect(await systemBalance(server, 'channel_clearing:wechat')).toBe(clearingBefore);
    expect(await systemBalance(server, 'refunds_payable:recharge')).toBe(payableBefore);
    const d = ok(await server.api('GET', `/api/v1/recharge-orders/${o.orderNo}`, { role: 'finance' }), 200);
    expect(d).toMatchObject({ status: 'refunded', receiptNo: null, refundedAmount: 5_000 });
    expect(d.events.map((e: any) => e.toStatus)).toContain('refunded');
    expectError(await refundViaApi(o.orderNo, {}), 409, 'PAYMENT_REFUND_NOT_ALLOWED');
  });

  it('bank transfer on a lost card: a refund in flight blocks crediting; a failed payout goes back to clearing, not the card', async () => {
    const c = await issueCard(server);
    const o = await bankOrder(server, c.cardNo, 4_000);
    ok(await cardOp(server, c.cardNo, 'report-loss'), 200);
    const clearingBefore = await systemBalance(server, 'channel_clearing:bank_transfer');
    const payableBefore = await systemBalance(server, 'refunds_payable:recharge');
    await payBankOrder(server, o);
    expect(await orderRow(server, o.orderNo)).toEqual({ status: 'paid', refunded_amount: 0 });

    const r = expectStatus(await refundViaApi(o.orderNo, { amount: 1_500, payee: PAYEE }), 201, 'part refund');
    expect(r).toMatchObject({ status: 'processing', amount: 1_500 });
    expect(await holdDebitKey(r.refundNo)).toBe('channel_clearing:bank_transfer');
    expect(await systemBalance(server, 'channel_clearing:bank_transfer')).toBe(clearingBefore - 1_500);
    expect(await systemBalance(server, 'refunds_payable:recharge')).toBe(payableBefore + 1_500);
    ok(await cardOp(server, c.cardNo, 'cancel-loss'), 200);
    // Part of the money is on its way back to the payer: crediting all of it now would pay twice.
    expectError(await server.api('POST', `/api/v1/recharge-orders/${o.orderNo}/credit`, { role: 'finance' }), 409, 'PAYMENT_ORDER_STATE');

    ok(await server.api('POST', `/api/v1/refunds/${r.refundNo}/fail`, { role: 'finance', body: { reason: '收款账户错误 / wrong account' } }), 200);
    expect((await getRefund(server.db.db, r.refundNo)).status).toBe('failed');
    expect(await systemBalance(server, 'channel_clearing:bank_transfer')).toBe(clearingBefore);
    expect(await systemBalance(server, 'refunds_payable:recharge')).toBe(payableBefore);
    expect((await getCard(server, c.cardNo)).balance).toBe(0);
    expect(await orderRow(server, o.orderNo)).toEqual({ status: 'paid', refunded_amount: 0 });

    // Nothing is on its way any more: the card (usable again) can take the money.
    const credited = ok(await server.api('POST', `/api/v1/recharge-orders/${o.orderNo}/credit`, { role: 'finance' }), 200);
    expect(credited.status).toBe('credited');
    expect((await getCard(server, c.cardNo)).balance).toBe(4_000);
    expect(await systemBalance(server, 'channel_clearing:bank_transfer')).toBe(clearingBefore - 4_000);
  });

  it('bank transfer on a lost card: a full refund confirmed by finance ends the order refunded', async () => {
    const c = await issueCard(server);
    const o = await bankOrder(server, c.cardNo, 2_000);
    ok(await cardOp(server, c.cardNo, 'report-loss'), 200);
    const clearingBefore = await systemBalance(server, 'channel_clearing:bank_transfer');
    await payBankOrder(server, o);
    const r = expectStatus(await refundViaApi(o.orderNo, { payee: PAYEE }), 201, 'full refund');
    ok(await server.api('POST', `/api/v1/refunds/${r.refundNo}/confirm`, { role: 'finance', body: { bankReference: `PAY${Date.now()}` } }), 200);
    expect(await orderRow(server, o.orderNo)).toEqual({ status: 'refunded', refunded_amount: 2_000 });
    expect(await systemBalance(server, 'channel_clearing:bank_transfer')).toBe(clearingBefore);
    expectError(await server.api('POST', `/api/v1/recharge-orders/${o.orderNo}/credit`, { role: 'finance' }), 409, 'PAYMENT_ORDER_STATE');
  });
});

describe('a refund request the channel refused', () => {
  const rejected = () => paymentsError('PAYMENT_CHANNEL_REJECTED', { channelCode: 'SYSTEM_ERROR', channelMessage: '系统超时' });

  it('asks the channel first: a refund the provider has after all is followed, not failed; requestedAt is the refund’s creation', async () => {
    const c = await issueCard(server);
    const o = await creditedWechatOrder(c.cardNo, 6_000);
    const sent: RefundRequest[] = [];
    const queried: Array<[string, string, QueryContext | undefined]> = [];
    patch('wechat', 'refund', (orig) => async (req) => {
      sent.push(req);
      await orig(req);
      throw rejected();
    });
    patch('wechat', 'queryRefund', (orig) => async (refundNo, orderNo, ctx) => {
      queried.push([refundNo, orderNo, ctx]);
      return orig(refundNo, orderNo, ctx);
    });
    const r = expectStatus(await refundViaApi(o.orderNo, { amount: 2_500 }), 201, 'refund');
    expect(r.status).not.toBe('failed');
    await eventually(async () => (await getRefund(server.db.db, r.refundNo)).status === 'succeeded', 'refund succeeded');
    expect((await getCard(server, c.cardNo)).balance).toBe(3_500);
    const created = await sql<{ created_at: Date }>`select created_at from payment_refunds where refund_no = ${r.refundNo}`.execute(server.db.db);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.requestedAt).toEqual(created.rows[0]!.created_at);
    expect(queried[0]).toEqual([r.refundNo, o.orderNo, { queryId: null }]);
  });

  it('fails it only when the provider never heard of it, and the money goes back to the card', async () => {
    const c = await issueCard(server);
    const o = await creditedWechatOrder(c.cardNo, 3_000);
    patch('wechat', 'refund', () => async () => {
      throw rejected();
    });
    const r = expectStatus(await refundViaApi(o.orderNo, {}), 201, 'refund');
    expect(r.status).toBe('failed');
    expect(r.failureReason).toContain('SYSTEM_ERROR');
    expect((await getCard(server, c.cardNo)).balance).toBe(3_000);
    expect(await orderRow(server, o.orderNo)).toEqual({ status: 'credited', refunded_amount: 0 });
  });

  it('stays requested when the channel cannot be asked either; the job sends it again', async () => {
    const c = await issueCard(server);
    const o = await creditedWechatOrder(c.cardNo, 2_000);
    patch('wechat', 'refund', () => async () => {
      throw rejected();
    });
    patch('wechat', 'queryRefund', () => async () => {
      throw paymentsError('PAYMENT_CHANNEL_UNAVAILABLE', {});
    });
    const r = expectStatus(await refundViaApi(o.orderNo, {}), 201, 'refund');
    expect(r.status).toBe('requested');
    expect((await getCard(server, c.cardNo)).balance).toBe(0);
    while (restores.length > 0) restores.pop()!();
    await runRefundJobs(depsOf(server), { olderThanMs: 0 });
    await eventually(async () => (await getRefund(server.db.db, r.refundNo)).status === 'succeeded', 'refund succeeded');
    expect(await orderRow(server, o.orderNo)).toEqual({ status: 'refunded', refunded_amount: 2_000 });
  });
});

describe('what the queries tell the channel', () => {
  it('an order query names the payment (payload, channel txn id); a refund query names the refund id', async () => {
    const c = await issueCard(server);
    const o = await creditedWechatOrder(c.cardNo, 1_000);
    const calls: Array<[string, QueryContext | undefined]> = [];
    patch('wechat', 'queryPayment', (orig) => async (orderNo, ctx) => {
      calls.push([orderNo, ctx]);
      return orig(orderNo, ctx);
    });
    ok(await server.api('POST', `/api/v1/recharge-orders/${o.orderNo}/query`, { role: 'finance' }), 200);
    const row = await sql<{ channel_txn_id: string; channel_payload: unknown }>`select channel_txn_id, channel_payload from recharge_orders where order_no = ${o.orderNo}`.execute(server.db.db);
    expect(calls).toEqual([[o.orderNo, { payload: row.rows[0]!.channel_payload, queryId: row.rows[0]!.channel_txn_id }]]);

    server.deps.payments.sandboxes.wechat!.refundMode = 'manual';
    const r = expectStatus(await refundViaApi(o.orderNo, {}), 201, 'refund');
    expect(r.status).toBe('processing');
    const refundQueries: Array<[string, string, QueryContext | undefined]> = [];
    patch('wechat', 'queryRefund', (orig) => async (refundNo, orderNo, ctx) => {
      refundQueries.push([refundNo, orderNo, ctx]);
      return orig(refundNo, orderNo, ctx);
    });
    const after = ok(await server.api('POST', `/api/v1/refunds/${r.refundNo}/query`, { role: 'finance' }), 200);
    expect(refundQueries).toEqual([[r.refundNo, o.orderNo, { queryId: after.channelRefundId }]]);
    await server.deps.payments.sandboxes.wechat!.settleRefund(r.refundNo, { outcome: 'succeeded', notify: 'once' });
    await eventually(async () => (await getRefund(server.db.db, r.refundNo)).status === 'succeeded', 'refund succeeded');
  });

  it('a payment reconciliation credited is asked about under the provider’s order number', async () => {
    const c = await issueCard(server);
    const sandbox = server.deps.payments.sandboxes.wechat!;
    const stray = sandbox.addStrayPayment({ amount: 1_200 });
    const order = await server.db.db.transaction().execute((trx) =>
      creditChannelPayment(trx, depsOf(server), finance, {
        channel: 'wechat',
        channelTxnId: stray.channelTxnId,
        amount: 1_200,
        paidAt: new Date(),
        cardNo: c.cardNo,
        note: '对账补入账',
        channelOrderNo: stray.orderNo,
      }),
    );
    expect(order.order_no).not.toBe(stray.orderNo);
    const calls: string[] = [];
    patch('wechat', 'queryPayment', (orig) => async (orderNo, ctx) => {
      calls.push(orderNo);
      return orig(orderNo, ctx);
    });
    const q = ok(await server.api('POST', `/api/v1/recharge-orders/${order.order_no}/query`, { role: 'finance' }), 200);
    expect(calls).toEqual([stray.orderNo]);
    expect(q.status).toBe('credited');
  });
});

describe('createRechargeRefund + sendRefundToChannel', () => {
  it('records the refund in the caller’s transaction; the channel is asked after the commit', async () => {
    const c = await issueCard(server);
    const o = await cashOrder(server, c.cardNo, 900);
    const row = await server.db.db.transaction().execute((trx) => createRechargeRefund(trx, depsOf(server), finance, { orderNo: o.orderNo, amount: 400, reason: '退款' }, 'staff'));
    expect(row.status).toBe('requested');
    expect((await getCard(server, c.cardNo)).balance).toBe(500);
    await sendRefundToChannel(depsOf(server), row.refund_no, 'staff', finance);
    expect((await getRefund(server.db.db, row.refund_no)).status).toBe('succeeded');
    expect(await orderRow(server, o.orderNo)).toEqual({ status: 'credited', refunded_amount: 400 });
  });
});
