/**
 * Alipay asynchronous notifications (异步通知, notify_type trade_status_sync): a form POST
 * signed with Alipay's key. The signature is checked by the official SDK's
 * `checkNotifySignV2` over values decoded once from the raw body here; the business checks
 * (our app and seller, the time window, a well-formed amount) follow. Never throws.
 */
import type { AlipaySdk } from 'alipay-sdk';
import type { NotificationVerdict, PaymentState, RawNotification } from '../../channel.js';
import { parseBeijing, yuanToFen } from './alipay.crypto.js';

/**
 * Alipay re-sends an unanswered notification 8 times over about 25 hours (4m, 10m, 10m, 1h,
 * 2h, 6h, 15h) and documents notify_time as "the time the notification was sent"; whether a
 * re-send carries a fresh notify_time is not stated anywhere we could find. So we accept
 * anything up to 25 h 5 min old (the whole retry schedule, even if notify_time is the first
 * send's) and at most 5 minutes ahead (clock skew): older is a replay of a captured message.
 */
export const NOTIFY_MAX_AGE_MS = (25 * 60 + 5) * 60_000;
export const NOTIFY_MAX_AHEAD_MS = 5 * 60_000;

export interface NotifyContext {
  sdk: Pick<AlipaySdk, 'checkNotifySignV2'>;
  appId: string;
  sellerId: string;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Form decoding of the raw bytes, exactly once ('+' is a space, %XX is UTF-8). Returns null
 * when the body is not a form, not UTF-8, or names a parameter twice (which of two values
 * the signature covers would be a guess).
 */
export function parseForm(body: Buffer): Record<string, string> | null {
  let text: string;
  try {
    text = strictUtf8.decode(body);
  } catch {
    return null;
  }
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [k, v] of new URLSearchParams(text)) {
    if (k === '' || k in out) return null;
    out[k] = v;
  }
  return out;
}

const PAID = new Set(['TRADE_SUCCESS', 'TRADE_FINISHED']);

/** trade_status → our payment status. */
export function paymentStatusOf(tradeStatus: string): PaymentState['status'] | null {
  if (PAID.has(tradeStatus)) return 'paid';
  if (tradeStatus === 'WAIT_BUYER_PAY') return 'paying';
  if (tradeStatus === 'TRADE_CLOSED') return 'closed';
  return null;
}

export function verifyAlipayNotification(raw: RawNotification, ctx: NotifyContext): NotificationVerdict {
  const contentType = (raw.headers['content-type'] ?? '').toLowerCase();
  if (!contentType.startsWith('application/x-www-form-urlencoded')) {
    return { ok: false, code: 'PAYMENT_NOTIFY_MALFORMED', detail: `content-type ${contentType || 'missing'}` };
  }
  const p = parseForm(raw.body);
  if (!p) return { ok: false, code: 'PAYMENT_NOTIFY_MALFORMED', detail: 'body is not a UTF-8 form with unique parameters' };
  const orderNo = p.out_trade_no || undefined;
  const refuse = (code: Extract<NotificationVerdict, { ok: false }>['code'], detail: string): NotificationVerdict => ({
    ok: false,
    code,
    detail,
    ...(orderNo ? { orderNo } : {}),
  });

  if (p.charset && p.charset.toLowerCase() !== 'utf-8') return refuse('PAYMENT_NOTIFY_MALFORMED', `charset ${p.charset}`);
  if (!p.sign) return refuse('PAYMENT_NOTIFY_SIGNATURE_INVALID', 'no sign');
  // The SDK would fall back to SHA-1 for sign_type=RSA; we only speak RSA2.
  if (p.sign_type !== 'RSA2') return refuse('PAYMENT_NOTIFY_SIGNATURE_INVALID', `sign_type ${p.sign_type ?? 'missing'}`);
  let signed: boolean;
  try {
    signed = ctx.sdk.checkNotifySignV2({ ...p });
  } catch {
    signed = false;
  }
  if (!signed) return refuse('PAYMENT_NOTIFY_SIGNATURE_INVALID', 'RSA2 signature does not verify with the Alipay public key');

  const notifyTime = parseBeijing(p.notify_time);
  if (!notifyTime) return refuse('PAYMENT_NOTIFY_MALFORMED', 'notify_time');
  const age = raw.now.getTime() - notifyTime.getTime();
  if (age > NOTIFY_MAX_AGE_MS || age < -NOTIFY_MAX_AHEAD_MS) return refuse('PAYMENT_NOTIFY_STALE', `notify_time ${p.notify_time}`);

  if (p.app_id !== ctx.appId || p.seller_id !== ctx.sellerId) {
    return refuse('PAYMENT_NOTIFY_MERCHANT_MISMATCH', `app_id ${p.app_id ?? '-'} seller_id ${p.seller_id ?? '-'}`);
  }
  if (p.notify_type !== 'trade_status_sync') return refuse('PAYMENT_NOTIFY_MALFORMED', `notify_type ${p.notify_type ?? 'missing'}`);
  if (!p.notify_id || !orderNo) return refuse('PAYMENT_NOTIFY_MALFORMED', 'notify_id / out_trade_no missing');
  const status = paymentStatusOf(p.trade_status ?? '');
  if (!status) return refuse('PAYMENT_NOTIFY_MALFORMED', `trade_status ${p.trade_status ?? 'missing'}`);
  const base = { notifyId: p.notify_id, merchantId: p.seller_id!, appId: p.app_id! };

  // A refund re-notifies the trade with the refund's request number (out_biz_no) and time; the
  // trade stays TRADE_SUCCESS after a partial refund and becomes TRADE_CLOSED after a full one.
  if (p.out_biz_no && p.gmt_refund) {
    const completedAt = parseBeijing(p.gmt_refund);
    if (!completedAt) return refuse('PAYMENT_NOTIFY_MALFORMED', 'gmt_refund');
    if (p.refund_fee !== undefined && yuanToFen(p.refund_fee) === null) return refuse('PAYMENT_NOTIFY_MALFORMED', 'refund_fee');
    return {
      ok: true,
      notification: {
        kind: 'refund',
        ...base,
        // refund_fee is the trade's refunded total so far, not this refund's amount: no amount.
        refund: { refundNo: p.out_biz_no, orderNo, status: 'succeeded', completedAt, channelStatus: `REFUND_SUCCESS/${p.trade_status}` },
      },
    };
  }

  const payment: PaymentState = { orderNo, status, channelStatus: p.trade_status! };
  if (p.trade_no) payment.channelTxnId = p.trade_no;
  if (status === 'paid') {
    const amount = yuanToFen(p.total_amount);
    if (amount === null || amount <= 0) return refuse('PAYMENT_NOTIFY_MALFORMED', `total_amount ${p.total_amount ?? 'missing'}`);
    if (!p.trade_no) return refuse('PAYMENT_NOTIFY_MALFORMED', 'trade_no missing');
    payment.amount = amount;
    const paidAt = parseBeijing(p.gmt_payment);
    if (p.gmt_payment && !paidAt) return refuse('PAYMENT_NOTIFY_MALFORMED', 'gmt_payment');
    payment.paidAt = paidAt ?? notifyTime;
  }
  return { ok: true, notification: { kind: 'payment', ...base, payment } };
}
