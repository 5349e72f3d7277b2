import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { expectError, expectLedgerVerified, getCard, issueCard, ok } from '../../test/support/cards-factory.js';
import type { OnlineChannel } from './channel.js';
import type { SandboxProvider } from './sandbox.js';
import { closeExpiredOrders } from './payments.jobs.js';

/**
 * The notification pipeline end to end, per online channel: the real adapter against its sandbox
 * provider over HTTP, through the running server (docs/payments.md, "Notifications").
 */
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => server?.close());
afterEach(async () => expectLedgerVerified(server));

const METHOD: Record<OnlineChannel, string> = { wechat: 'native', alipay: 'precreate', unionpay: 'online' };

async function clearing(channel: string): Promise<number> {
  const r = await sql<{ b: string | null }>`select (credits_posted - debits_posted)::text b from ledger_accounts where system_key = ${`channel_clearing:${channel}`}`.execute(server.db.db);
  return Number(r.rows[0]?.b ?? 0);
}
async function lastNotificationId(): Promise<number> {
  const r = await sql<{ id: number | null }>`select max(id)::int id from payment_notifications`.execute(server.db.db);
  return r.rows[0]!.id ?? 0;
}
async function notificationsSince(id: number) {
  return (
    await sql<{ channel: string; kind: string | null; outcome: string; reason: string | null; order_no: string | null }>`select channel, kind, outcome, reason, order_no
      from payment_notifications where id > ${id} order by id`.execute(server.db.db)
  ).rows;
}
const getOrder = async (orderNo: string) => ok(await server.api('GET', `/api/v1/recharge-orders/${orderNo}`), 200, 'get order');

describe('the notification endpoint', () => {
  it('takes only the online channels, and nothing larger than a notification', async () => {
    for (const ch of ['cash', 'bank_transfer', 'paypal']) {
      expectError(await server.api('POST', `/api/v1/payments/notify/${ch}`, { role: null, body: '{}' }), 400, 'VALIDATION_FAILED');
    }
    const huge = 'x'.repeat(65 * 1024);
    const r = await server.api('POST', '/api/v1/payments/notify/wechat', { role: null, body: huge, headers: { 'content-type': 'text/plain' } });
    expectError(r, 413, 'PAYLOAD_TOO_LARGE');
  });
});

describe.each(['wechat', 'alipay', 'unionpay'] as const)('%s: order, payment, notification, credit', (ch) => {
  const sandbox = (): SandboxProvider => server.deps.payments.sandboxes[ch]!;

  async function newOrder(amount: number) {
    const c = await issueCard(server);
    const o = ok(await server.api('POST', '/api/v1/recharge-orders', { role: 'operator', body: { cardNo: c.cardNo, amount, channel: ch, method: METHOD[ch], origin: 'api' } }), 201, `${ch} order`);
    expect(o).toMatchObject({ status: 'paying', channel: ch, method: METHOD[ch] });
    expect(o.payload.qrText ?? o.payload.payUrl ?? o.payload.form).toBeTruthy();
    expect(o.payload.sandboxUrl).toMatch(new RegExp(`/sandbox/${ch}/`));
    return { card: c, order: o };
  }

  it('credits a paid order once from its notification, and answers the provider as it expects', async () => {
    const { card, order } = await newOrder(10_000);
    const before = await clearing(ch);
    const since = await lastNotificationId();
    const paid = await sandbox().pay(order.orderNo);
    expect(paid.deliveries).toHaveLength(1);
    expect(paid.deliveries[0]!.status).toBeLessThan(300);
    if (ch === 'alipay') expect(paid.deliveries[0]!.body).toBe('success');
    const d = await getOrder(order.orderNo);
    expect(d).toMatchObject({ status: 'credited', channelTxnId: paid.channelTxnId, paidAmount: 10_000 });
    expect(d.receiptNo).toMatch(/^R\d{16}$/);
    expect(d.events.map((e: { toStatus: string; source: string }) => `${e.toStatus}:${e.source}`)).toEqual(['created:api', 'paying:api', 'paid:notification', 'credited:notification']);
    expect(d.notifications.map((n: { outcome: string; kind: string }) => [n.kind, n.outcome])).toEqual([['payment', 'applied']]);
    expect(await notificationsSince(since)).toEqual([{ channel: ch, kind: 'payment', outcome: 'applied', reason: null, order_no: order.orderNo }]);
    expect((await getCard(server, card.cardNo)).balance).toBe(10_000);
    expect(await clearing(ch)).toBe(before - 10_000);
  });

  it('ignores a replayed notification and two copies arriving at once: the money moves once', async () => {
    const { card, order } = await newOrder(2_000);
    await sandbox().pay(order.orderNo);
    const replay = await sandbox().replayLast(order.orderNo);
    expect(replay.status).toBeLessThan(300);
    const twin = await newOrder(3_000);
    const both = await sandbox().pay(twin.order.orderNo, { notify: 'twice_at_once' });
    expect(both.deliveries.map((x) => x.status < 300)).toEqual([true, true]);
    expect((await getCard(server, card.cardNo)).balance).toBe(2_000);
    expect((await getCard(server, twin.card.cardNo)).balance).toBe(3_000);
    expect((await getOrder(order.orderNo)).notifications.map((n: { outcome: string }) => n.outcome)).toEqual(['applied', 'duplicate']);
    expect((await getOrder(twin.order.orderNo)).notifications.map((n: { outcome: string }) => n.outcome).sort()).toEqual(['applied', 'duplicate']);
  });

  it('refuses a forged, tampered, stale or misdirected notification without changing anything', async () => {
    const { card, order } = await newOrder(5_000);
    const cases: Array<[Parameters<SandboxProvider['buildPaymentNotification']>[1], string]> = [
      [{ forge: 'wrong_key' }, 'PAYMENT_NOTIFY_SIGNATURE_INVALID'],
      [{ amount: 4_999 }, 'PAYMENT_NOTIFY_AMOUNT_MISMATCH'],
      [{ merchantId: 'someone-else' }, 'PAYMENT_NOTIFY_MERCHANT_MISMATCH'],
      [{ timestamp: new Date(Date.now() - 2 * 86_400_000) }, 'PAYMENT_NOTIFY_STALE'],
    ];
    if (ch === 'wechat') cases.push([{ forge: 'signtest' }, 'PAYMENT_NOTIFY_SIGNATURE_INVALID']);
    for (const [opts, code] of cases) {
      const since = await lastNotificationId();
      const delivery = await sandbox().deliver(sandbox().buildPaymentNotification(order.orderNo, opts));
      if (ch === 'wechat') expect(delivery.status).toBeGreaterThanOrEqual(400);
      if (ch === 'alipay') expect(delivery.body).not.toBe('success');
      const rows = await notificationsSince(since);
      expect(rows.map((r) => [r.outcome, r.reason]), JSON.stringify(opts)).toEqual([['rejected', code]]);
    }
    const d = await getOrder(order.orderNo);
    expect(d.status).toBe('paying');
    expect(d.events).toHaveLength(2);
    expect((await getCard(server, card.cardNo)).balance).toBe(0);
    // The genuine one still goes through afterwards.
    await sandbox().pay(order.orderNo);
    expect((await getCard(server, card.cardNo)).balance).toBe(5_000);
  });

  it('refuses a notification for an order the platform never had', async () => {
    const stray = sandbox().addStrayPayment({ amount: 1_500 });
    const since = await lastNotificationId();
    await sandbox().deliver(sandbox().buildPaymentNotification(stray.orderNo, { amount: 1_500 }));
    expect((await notificationsSince(since)).map((r) => [r.outcome, r.reason])).toEqual([['rejected', 'PAYMENT_NOTIFY_UNKNOWN_ORDER']]);
  });

  it('finds a payment whose notification never arrives: by the staff query and by the close job', async () => {
    const a = await newOrder(1_100);
    const b = await newOrder(1_200);
    await sandbox().pay(a.order.orderNo, { notify: 'never' });
    const payB = await sandbox().pay(b.order.orderNo, { notify: 'never' });
    expect((await getOrder(a.order.orderNo)).status).toBe('paying');
    const q = ok(await server.api('POST', `/api/v1/recharge-orders/${a.order.orderNo}/query`, { role: 'operator' }), 200);
    expect(q.status).toBe('credited');
    expect((await getCard(server, a.card.cardNo)).balance).toBe(1_100);
    expectError(await server.api('POST', `/api/v1/recharge-orders/${a.order.orderNo}/query`, { role: 'station_staff' }), 403, 'FORBIDDEN');

    await sql`update recharge_orders set expires_at = now() - interval '1 minute' where order_no = ${b.order.orderNo}`.execute(server.db.db);
    const run = await closeExpiredOrders(server.deps, 500);
    expect(run.paid).toBeGreaterThanOrEqual(1);
    const d = await getOrder(b.order.orderNo);
    expect(d).toMatchObject({ status: 'credited', channelTxnId: payB.channelTxnId });
    expect(d.events.slice(-2).map((e: { toStatus: string; source: string }) => `${e.toStatus}:${e.source}`)).toEqual(['paid:job', 'credited:job']);
    expect((await getCard(server, b.card.cardNo)).balance).toBe(1_200);
  });

  it('closes an unpaid order at the provider when it expires; money arriving after that is still credited', async () => {
    const { card, order } = await newOrder(900);
    await sql`update recharge_orders set expires_at = now() - interval '1 minute' where order_no = ${order.orderNo}`.execute(server.db.db);
    const run = await closeExpiredOrders(server.deps, 500);
    expect(run.failed).toBe(0);
    expect(await getOrder(order.orderNo)).toMatchObject({ status: 'closed', closeReason: 'expired' });
    // The provider closed it too: a query there says so, and nothing changes here.
    const state = await server.deps.payments.channel(ch).queryPayment(order.orderNo);
    expect(['closed', 'not_found']).toContain(state.status);
    // A payment notified after all (the payer's money): credited.
    await sandbox().deliver(sandbox().buildPaymentNotification(order.orderNo));
    const d = await getOrder(order.orderNo);
    expect(d.status).toBe('credited');
    expect((await getCard(server, card.cardNo)).balance).toBe(900);
  });

  it('lets staff close an unpaid order, asking the channel first', async () => {
    const open = await newOrder(700);
    const closed = ok(await server.api('POST', `/api/v1/recharge-orders/${open.order.orderNo}/close`, { role: 'finance' }), 200);
    expect(closed).toMatchObject({ status: 'closed', closeReason: 'staff' });
    const paidSilently = await newOrder(800);
    await sandbox().pay(paidSilently.order.orderNo, { notify: 'never' });
    const r = ok(await server.api('POST', `/api/v1/recharge-orders/${paidSilently.order.orderNo}/close`, { role: 'finance' }), 200);
    expect(r.status).toBe('credited');
    expect((await getCard(server, paidSilently.card.cardNo)).balance).toBe(800);
  });
});
