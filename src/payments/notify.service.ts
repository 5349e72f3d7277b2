import { createHash } from 'node:crypto';
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

/**
 * How much of a refused notification's body is kept. Anyone can post to the notify URL, so a
 * refused body is untrusted input: keep enough to see what it was, plus its hash and length
 * (under the reserved header key `_body`) to recognise it again — not 64 KiB per attempt.
 * Applied and duplicate notifications are the providers' own and are kept whole.
 */
export const REJECTED_BODY_KEEP = 4 * 1024;

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
  const headers: Record<string, unknown> = Object.fromEntries(Object.entries(r.headers).filter(([k]) => !DROP_HEADERS.has(k)));
  let body = r.body;
  if (row.outcome === 'rejected') {
    headers._body = { sha256: createHash('sha256').update(r.body).digest('hex'), length: r.body.length, kept: Math.min(r.body.length, REJECTED_BODY_KEEP) };
    if (r.body.length > REJECTED_BODY_KEEP) body = r.body.subarray(0, REJECTED_BODY_KEEP);
  }
  await sql`insert into payment_notifications (channel, kind, headers, body, outcome, reason, order_no, refund_no, notify_id, remote_addr)
    values (${r.channel}, ${row.kind}, ${JSON.stringify(headers)}::jsonb, ${body}, ${row.outcome}, ${row.reason}, ${row.orderNo}, ${row.refundNo},
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
    const { outcome, reason } = await applyVerifiedNotification(trx, deps, r.channel, n);
    await record(trx, r, { ...base, outcome, reason });
    return { outcome, reason };
  });
  if (result.outcome === 'rejected') deps.logger.warn({ channel: r.channel, orderNo, refundNo, code: result.reason }, 'payment notification refused');
  return done(result.outcome, result.reason);
}

/** Apply a verified notification in `trx` (exported for tests: the checks after verification). */
export async function applyVerifiedNotification(trx: Trx, deps: PaymentsDeps, channel: OnlineChannel, n: VerifiedNotification): Promise<{ outcome: NotifyOutcome; reason: PaymentsErrorCode | null }> {
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
  // A notification naming an order must name the refund's own order (ours, or the provider's number
  // for it): a valid notification of one refund must never settle another order's refund.
  if (n.refund.orderNo && !(await refundOrderNos(trx, refund.id, refund.order_id)).includes(n.refund.orderNo)) {
    return { outcome: 'rejected', reason: 'PAYMENT_NOTIFY_UNKNOWN_ORDER' };
  }
  const res = await applyRefundState(trx, deps, refund, n.refund, 'notification');
  return { outcome: res.outcome, reason: res.code ?? null };
}

/** The order numbers a refund's order goes by: ours and the provider's (card-close parts name the order in their first event). */
async function refundOrderNos(trx: Trx, refundId: string, orderId: string | null): Promise<string[]> {
  const r = await sql<{ order_no: string; channel_order_no: string | null }>`select o.order_no, o.channel_order_no from recharge_orders o
    where o.id = coalesce(${orderId}::uuid, (select (e.details->>'orderId')::uuid from payment_refund_events e
      where e.refund_id = ${refundId} and e.from_status is null order by e.id limit 1))`.execute(trx);
  return r.rows.flatMap((o) => (o.channel_order_no ? [o.order_no, o.channel_order_no] : [o.order_no]));
}
