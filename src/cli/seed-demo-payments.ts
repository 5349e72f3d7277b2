import { createOrder, findOrderByNo, getRefund, requestRechargeRefund, type OnlineChannel, type PaymentsDeps } from '../payments/index.js';
import { runReconciliation } from '../reconciliation/index.js';
import { businessDay, systemActor } from '../platform/index.js';

export interface DemoPaymentsSummary {
  credited: number;
  waiting: number;
  refunds: number;
  reconciled: string[];
}

/**
 * Payments for the demo, made the way a cardholder makes them: top-ups through each channel's
 * sandbox provider (so the orders, notifications, refunds and statements are real ones), a bank
 * transfer order still waiting for its money, a payment only the provider knows, and today's
 * provisional reconciliation of each online channel — one discrepancy for finance to work.
 * Needs the server listening (the sandboxes notify it over HTTP), so it runs after listen.
 */
export async function seedDemoPayments(deps: PaymentsDeps, cardNo: string): Promise<DemoPaymentsSummary> {
  const out: DemoPaymentsSummary = { credited: 0, waiting: 0, refunds: 0, reconciled: [] };
  const paid: Array<{ channel: OnlineChannel; amount: number }> = [
    { channel: 'wechat', amount: 20_000 },
    { channel: 'alipay', amount: 10_000 },
    { channel: 'unionpay', amount: 30_000 },
    { channel: 'wechat', amount: 5_000 },
  ];
  const sandboxed = paid.filter((p) => deps.payments.sandboxes[p.channel] !== undefined);
  let refundable: string | null = null;
  for (const p of sandboxed) {
    const order = await createOrder(deps, systemActor, { cardNo, amount: p.amount, channel: p.channel, origin: 'portal' }, { scope: 'demo', key: undefined, request: null });
    await deps.payments.sandboxes[p.channel]!.pay(order.orderNo);
    await until(`demo top-up ${order.orderNo}`, async () => (await findOrderByNo(deps.db, order.orderNo))?.status === 'credited');
    out.credited++;
    refundable ??= order.orderNo;
  }
  if (refundable) {
    const refund = await requestRechargeRefund(deps, systemActor, { orderNo: refundable, amount: 2_000, reason: '演示：部分退款' }, 'api');
    // The sandbox confirms a refund a moment later; today's reconciliation then finds it settled.
    await until(`demo refund ${refund.refundNo}`, async () => (await getRefund(deps.db, refund.refundNo)).status === 'succeeded');
    out.refunds++;
  }
  await createOrder(deps, systemActor, { cardNo, amount: 50_000, channel: 'bank_transfer', origin: 'portal' }, { scope: 'demo', key: undefined, request: null });
  out.waiting++;
  // Money the platform never heard of: the reconciliation reports it (渠道有·平台无).
  deps.payments.sandboxes.alipay?.addStrayPayment({ amount: 8_800 });

  const today = businessDay(new Date(), deps.config.timeZone);
  for (const channel of ['wechat', 'alipay', 'unionpay'] as const) {
    if (!deps.payments.sandboxes[channel]) continue;
    await runReconciliation(deps, systemActor, { channel, billDate: today, source: 'job', fetch: true });
    out.reconciled.push(channel);
  }
  return out;
}

async function until(what: string, done: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`${what}: not done in time`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
