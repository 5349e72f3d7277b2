import { createHash, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { expectLedgerVerified, issueCard, ok } from '../../test/support/cards-factory.js';
import type { Actor } from '../platform/index.js';
import { applyVerifiedNotification, REJECTED_BODY_KEEP } from './notify.service.js';
import { getRefund, requestRechargeRefund } from './refunds.service.js';
import { depsOf, eventually, expectStatus, orderRow, staffActor } from './refunds.fixtures.js';

// Review fixes (docs/payments.md, "Notifications"): what is kept of refused notifications, how
// the order's detail shows them, and refund notifications that name another order.
let server: TestServer;
let finance: Actor;
beforeAll(async () => {
  server = await startTestServer();
  finance = await staffActor(server);
});
afterAll(async () => server?.close());
afterEach(async () => {
  server.deps.payments.sandboxes.wechat!.refundMode = 'auto';
  await expectLedgerVerified(server);
});

async function lastNotification() {
  const r = await sql<{ body: Buffer; headers: Record<string, any>; outcome: string; reason: string | null }>`select body, headers, outcome, reason
    from payment_notifications order by id desc limit 1`.execute(server.db.db);
  return r.rows[0]!;
}

async function wechatOrder(amount: number): Promise<any> {
  const c = await issueCard(server);
  return expectStatus(
    await server.api('POST', '/api/v1/recharge-orders', { role: 'finance', body: { cardNo: c.cardNo, amount, channel: 'wechat', method: 'native' }, idempotencyKey: randomUUID() }),
    201,
    'order',
  );
}

describe('recorded notifications', () => {
  it('keeps only the first 4 KiB of a refused body, with its hash and full length', async () => {
    const body = Buffer.from(JSON.stringify({ id: 'x', pad: 'y'.repeat(10_000) }));
    const r = await server.api('POST', '/api/v1/payments/notify/wechat', { role: null, body: body.toString(), headers: { 'content-type': 'application/json' } });
    expect(r.status).toBeGreaterThanOrEqual(400);
    const n = await lastNotification();
    expect(n.outcome).toBe('rejected');
    expect(n.body.length).toBe(REJECTED_BODY_KEEP);
    expect(n.body.equals(body.subarray(0, REJECTED_BODY_KEEP))).toBe(true);
    expect(n.headers._body).toEqual({ sha256: createHash('sha256').update(body).digest('hex'), length: body.length, kept: REJECTED_BODY_KEEP });
  });

  it('keeps an applied notification whole; the order’s detail marks the refused one as not verified', async () => {
    const o = await wechatOrder(2_000);
    const sandbox = server.deps.payments.sandboxes.wechat!;
    await sandbox.pay(o.orderNo, { notify: 'never' });
    const wrong = sandbox.buildPaymentNotification(o.orderNo, { amount: 1 });
    expect((await sandbox.deliver(wrong)).status).toBeGreaterThanOrEqual(400);
    expect((await lastNotification()).reason).toBe('PAYMENT_NOTIFY_AMOUNT_MISMATCH');
    const right = sandbox.buildPaymentNotification(o.orderNo);
    expect((await sandbox.deliver(right)).status).toBeLessThan(300);
    const n = await lastNotification();
    expect(n.outcome).toBe('applied');
    expect(n.body.equals(right.body)).toBe(true);
    expect(n.headers._body).toBeUndefined();

    const d = ok(await server.api('GET', `/api/v1/recharge-orders/${o.orderNo}`, { role: 'finance' }), 200);
    expect(d.status).toBe('credited');
    expect(d.notifications.map((x: any) => [x.outcome, x.reason, x.verified])).toEqual([
      ['rejected', 'PAYMENT_NOTIFY_AMOUNT_MISMATCH', false],
      ['applied', null, true],
    ]);
  });

  it('refuses a refund notification that names another order than the refund’s', async () => {
    const a = await wechatOrder(3_000);
    const b = await wechatOrder(3_000);
    const sandbox = server.deps.payments.sandboxes.wechat!;
    for (const o of [a, b]) {
      await sandbox.pay(o.orderNo, { notify: 'once' });
      await eventually(async () => (await orderRow(server, o.orderNo)).status === 'credited', 'credited');
    }
    sandbox.refundMode = 'manual';
    const r = await requestRechargeRefund(depsOf(server), finance, { orderNo: a.orderNo, reason: '退款' }, 'staff');
    expect(r.status).toBe('processing');
    const merchantId = server.deps.payments.channel('wechat').merchantId!;
    const notify = (orderNo: string) =>
      server.db.db.transaction().execute((trx) =>
        applyVerifiedNotification(trx, depsOf(server), 'wechat', {
          kind: 'refund',
          notifyId: randomUUID(),
          merchantId,
          refund: { refundNo: r.refundNo, orderNo, status: 'succeeded', amount: 3_000, completedAt: new Date() },
        }),
      );
    expect(await notify(b.orderNo)).toEqual({ outcome: 'rejected', reason: 'PAYMENT_NOTIFY_UNKNOWN_ORDER' });
    expect((await getRefund(server.db.db, r.refundNo)).status).toBe('processing');
    // Settle it at the provider too, so the sandbox and the platform agree; its own order is accepted.
    await sandbox.settleRefund(r.refundNo, { outcome: 'succeeded', notify: 'never' });
    expect(await notify(a.orderNo)).toEqual({ outcome: 'applied', reason: null });
    expect((await getRefund(server.db.db, r.refundNo)).status).toBe('succeeded');
    expect(await orderRow(server, a.orderNo)).toEqual({ status: 'refunded', refunded_amount: 3_000 });
  });
});
