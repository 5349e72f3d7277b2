import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { cardOp, expectLedgerVerified, getCard, issueCard } from '../../test/support/cards-factory.js';
import type { Actor } from '../platform/index.js';
import type { OnlineChannel } from './channel.js';
import { getCardRefund, getRefund, payOutCardCloseRefunds, requestRechargeRefund } from './refunds.service.js';
import { runRefundJobs } from './refunds.jobs.js';
import { depsOf, eventually, expectStatus, orderRow, staffActor, systemBalance } from './refunds.fixtures.js';

// Refunds through the online channels, end to end against their sandbox providers: the refund
// request, the provider's notification (or the job's query when none comes), and the ledger.
let server: TestServer;
let finance: Actor;
beforeAll(async () => {
  server = await startTestServer();
  finance = await staffActor(server);
});
afterAll(async () => server?.close());
afterEach(async () => {
  for (const sb of Object.values(server.deps.payments.sandboxes)) sb.refundMode = 'auto';
  await expectLedgerVerified(server);
});

const METHOD: Record<OnlineChannel, string> = { wechat: 'native', alipay: 'precreate', unionpay: 'online' };

async function paidOnlineOrder(channel: OnlineChannel, cardNo: string, amount: number): Promise<any> {
  const o = expectStatus(
    await server.api('POST', '/api/v1/recharge-orders', { role: 'finance', body: { cardNo, amount, channel, method: METHOD[channel] }, idempotencyKey: randomUUID() }),
    201,
    `${channel} order`,
  );
  await server.deps.payments.sandboxes[channel]!.pay(o.orderNo, { notify: 'once' });
  await eventually(async () => (await orderRow(server, o.orderNo)).status === 'credited', `${channel} order credited`);
  return o;
}

const refund = (orderNo: string, amount?: number) =>
  requestRechargeRefund(depsOf(server), finance, { orderNo, reason: '客户申请退款', ...(amount !== undefined ? { amount } : {}) }, 'staff');

const settled = (refundNo: string, status: 'succeeded' | 'failed') =>
  eventually(async () => (await getRefund(server.db.db, refundNo)).status === status, `refund ${refundNo} ${status}`);

describe.each(['wechat', 'alipay', 'unionpay'] as const)('refunds through %s', (channel) => {
  it('a part refund completes through the provider; its notification again moves nothing', async () => {
    const c = await issueCard(server);
    const o = await paidOnlineOrder(channel, c.cardNo, 10_000);
    const clearing = await systemBalance(server, `channel_clearing:${channel}`);
    const r = await refund(o.orderNo, 3_000);
    expect(['processing', 'succeeded']).toContain(r.status);
    expect((await getCard(server, c.cardNo)).balance).toBe(7_000);
    await settled(r.refundNo, 'succeeded');
    expect(await systemBalance(server, `channel_clearing:${channel}`)).toBe(clearing + 3_000);
    expect(await orderRow(server, o.orderNo)).toEqual({ status: 'credited', refunded_amount: 3_000 });
    const sandbox = server.deps.payments.sandboxes[channel]!;
    // The provider sends its refund notification again: the refund is final, nothing moves.
    // The provider's own notification of the refund arrived (Alipay's may come after its synchronous answer).
    const received = async () =>
      (await sql<{ n: number }>`select count(*)::int n from payment_notifications where refund_no = ${r.refundNo} and outcome <> 'rejected'`.execute(server.db.db)).rows[0]!.n;
    await eventually(async () => (await received()) > 0, `refund ${r.refundNo} notified`);
    const before = await received();
    const replay = await sandbox.replayLast(r.refundNo);
    expect(replay.status).toBeLessThan(300);
    const last = await sql<{ outcome: string; reason: string | null }>`select outcome, reason from payment_notifications where refund_no = ${r.refundNo} order by id desc limit 1`.execute(server.db.db);
    expect(last.rows[0]).toEqual({ outcome: 'duplicate', reason: null });
    expect(await received()).toBe(before + 1);
    expect(await systemBalance(server, `channel_clearing:${channel}`)).toBe(clearing + 3_000);
    expect((await getCard(server, c.cardNo)).balance).toBe(7_000);
    const applied = await sql<{ n: number }>`select count(*)::int n from payment_refund_events e join payment_refunds r on r.id = e.refund_id
      where r.refund_no = ${r.refundNo} and e.to_status = 'succeeded'`.execute(server.db.db);
    expect(applied.rows[0]!.n).toBe(1);

    const rest = await refund(o.orderNo);
    await settled(rest.refundNo, 'succeeded');
    expect(await orderRow(server, o.orderNo)).toEqual({ status: 'refunded', refunded_amount: 10_000 });
    expect((await getCard(server, c.cardNo)).balance).toBe(0);
  });

  it('a refund whose notification never comes is found by the job’s query; a failed one gives the money back', async () => {
    const sandbox = server.deps.payments.sandboxes[channel]!;
    const c = await issueCard(server);
    const o = await paidOnlineOrder(channel, c.cardNo, 5_000);
    sandbox.refundMode = 'manual';
    const r = await refund(o.orderNo, 2_000);
    if (r.status === 'processing') {
      await sandbox.settleRefund(r.refundNo, { outcome: 'succeeded', notify: 'never' });
      expect((await getRefund(server.db.db, r.refundNo)).status).toBe('processing');
      await runRefundJobs(depsOf(server), { olderThanMs: 0 });
    }
    await settled(r.refundNo, 'succeeded');
    expect(await orderRow(server, o.orderNo)).toEqual({ status: 'credited', refunded_amount: 2_000 });

    const f = await refund(o.orderNo, 1_000);
    expect((await getCard(server, c.cardNo)).balance).toBe(2_000);
    expect(f.status).toBe('processing');
    await sandbox.settleRefund(f.refundNo, { outcome: 'failed', notify: 'once' });
    await runRefundJobs(depsOf(server), { olderThanMs: 0 });
    // Alipay never notifies a failure: the job's query finds no executed refund, asks again under the
    // same number, and Alipay's final refusal fails it.
    await settled(f.refundNo, 'failed');
    expect((await getCard(server, c.cardNo)).balance).toBe(3_000);
    expect(await orderRow(server, o.orderNo)).toEqual({ status: 'credited', refunded_amount: 2_000 });
  });

  it('a closed card’s balance goes back through the order’s channel', async () => {
    const c = await issueCard(server);
    const o = await paidOnlineOrder(channel, c.cardNo, 4_000);
    const closed = expectStatus(await cardOp(server, c.cardNo, 'close', { refundMethod: 'original_channel' }), 200, 'close');
    await payOutCardCloseRefunds(depsOf(server));
    const id = closed.refund.refundId;
    const view = await getCardRefund(server.db.db, id);
    expect(view.parts.map((p) => [p.channel, p.originalOrderNo, p.amount])).toEqual([[channel, o.orderNo, 4_000]]);
    await settled(view.parts[0]!.refundNo, 'succeeded');
    expect(await getCardRefund(server.db.db, id)).toMatchObject({ status: 'paid', paidOut: 4_000 });
    expect(await orderRow(server, o.orderNo)).toEqual({ status: 'refunded', refunded_amount: 4_000 });
  });
});
