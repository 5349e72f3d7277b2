import { sql } from 'kysely';
import type { Trx } from '../platform/index.js';
import type { NotifyAck, OnlineChannel, PaymentChannel, VerifiedNotification } from './channel.js';
import type { PaymentsErrorCode } from './payments.errors.js';
import { applyPaymentState, type PaymentsDeps } from './orders.service.js';
import { lockOrderByNo } from './orders.repository.js';
import { applyRefundState, lockRefundByNo } from './refunds.service.js';

export type NotifyOutcome = 'applied' | 'duplicate' | 'rejected';

export interface NotifyResult {
  outcome: NotifyOutcome;
  reason: PaymentsErrorCode | null;
  ack: NotifyAck;
}

/** Headers kept with the notification for the record: the provider's, never credentials of ours. */
const DROP_HEADERS = new Set(['authorization', 'cookie']);

interface Received {
  channel: OnlineChannel;
  headers: Record<string, string>;
  body: Buffer;
  remoteAddr: string | null;
}

async function record(
  db: PaymentsDeps['db'] | Trx,
  r: Received,
  row: { kind: 'payment' | 'refund' | null; outcome: NotifyOutcome; reason: string | null; orderNo: string | null; refundNo: string | null; notifyId: string | null },
): Promise<void> {
  const headers = Object.fromEntries(Object.entries(r.headers).filter(([k]) => !DROP_HEADERS.has(k)));
  await sql`insert into payment_notifications (channel, kind, headers, body, outcome, reason, order_no, refund_no, notify_id, remote_addr)
    values (${r.channel}, ${row.kind}, ${JSON.stringify(headers)}::jsonb, ${r.body}, ${row.outcome}, ${row.reason}, ${row.orderNo}, ${row.refundNo},
            ${row.notifyId}, ${r.remoteAddr})`.execute(db);
}

/**
 * One notification from a channel (docs/payments.md, "Notifications"). The adapter verifies it
 * over the raw bytes (signature, time window, probes, decryption); then the merchant, the order
 * and the amount are checked against our records and the change is applied — with the
 * notification's own row — in one transaction holding the order's (or refund's) row lock, so
 * two copies arriving at once apply once. Every notification is recorded, refused ones too.
 */
export async function handleNotification(deps: PaymentsDeps, r: Received): Promise<NotifyResult> {
  const channel: PaymentChannel = deps.payments.channel(r.channel);
  const verdict = await channel.verifyNotification({ headers: r.headers, body: r.body, now: new Date() });
  if (!verdict.ok) {
    await record(deps.db, r, { kind: null, outcome: 'rejected', reason: verdict.code, orderNo: verdict.orderNo ?? null, refundNo: null, notifyId: null });
    deps.logger.warn({ channel: r.channel, code: verdict.code, detail: verdict.detail, remoteAddr: r.remoteAddr }, 'payment notification refused');
    return { outcome: 'rejected', reason: verdict.code, ack: channel.ack(false, verdict.code) };
  }
  const n = verdict.notification;
  const orderNo = n.kind === 'payment' ? n.payment.orderNo : (n.refund.orderNo ?? null);
  const refundNo = n.kind === 'refund' ? n.refund.refundNo : null;
  const base = { kind: n.kind, orderNo, refundNo, notifyId: n.notifyId || null };
  const done = (outcome: NotifyOutcome, reason: PaymentsErrorCode | null): NotifyResult => ({ outcome, reason, ack: channel.ack(outcome !== 'rejected', reason ?? undefined) });

  if (n.merchantId !== channel.merchantId || (n.appId !== undefined && channel.appId !== undefined && n.appId !== channel.appId)) {
    await record(deps.db, r, { ...base, outcome: 'rejected', reason: 'PAYMENT_NOTIFY_MERCHANT_MISMATCH' });
    deps.logger.warn({ channel: r.channel, merchantId: n.merchantId, appId: n.appId }, 'payment notification for another merchant');
    return done('rejected', 'PAYMENT_NOTIFY_MERCHANT_MISMATCH');
  }

  const result = await deps.db.transaction().execute(async (trx) => {
    const { outcome, reason } = await apply(trx, deps, r.channel, n);
    await record(trx, r, { ...base, outcome, reason });
    return { outcome, reason };
  });
  if (result.outcome === 'rejected') deps.logger.warn({ channel: r.channel, orderNo, refundNo, code: result.reason }, 'payment notification refused');
  return done(result.outcome, result.reason);
}

async function apply(trx: Trx, deps: PaymentsDeps, channel: OnlineChannel, n: VerifiedNotification): Promise<{ outcome: NotifyOutcome; reason: PaymentsErrorCode | null }> {
  if (n.notifyId) {
    const seen = await sql`select 1 from payment_notifications where channel = ${channel} and notify_id = ${n.notifyId} and outcome = 'applied' limit 1`.execute(trx);
    if (seen.rows.length > 0) return { outcome: 'duplicate', reason: null };
  }
  if (n.kind === 'payment') {
    const order = await lockOrderByNo(trx, n.payment.orderNo);
    if (!order || order.channel !== channel) return { outcome: 'rejected', reason: 'PAYMENT_NOTIFY_UNKNOWN_ORDER' };
    const res = await applyPaymentState(trx, deps, order, n.payment, 'notification');
    return { outcome: res.outcome, reason: res.code ?? null };
  }
  const refund = await lockRefundByNo(trx, n.refund.refundNo);
  if (!refund || refund.channel !== channel) return { outcome: 'rejected', reason: 'PAYMENT_REFUND_NOT_FOUND' };
  const res = await applyRefundState(trx, deps, refund, n.refund, 'notification');
  return { outcome: res.outcome, reason: res.code ?? null };
}
