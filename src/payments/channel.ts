/**
 * One interface every payment channel speaks (docs/payments.md). An adapter translates it into
 * the provider's real wire format; the order, refund and reconciliation code above it never
 * sees a provider's field names. Amounts are fen everywhere; times are Date (UTC instants).
 */
import type { Logger } from 'pino';
import type { PaymentsErrorCode } from './payments.errors.js';

/** Options every channel adapter takes. */
export interface ChannelOptions {
  /** Whether the adapter talks to the local sandbox provider. */
  sandbox: boolean;
  /** Per request to the provider. */
  timeoutMs: number;
  logger: Logger;
}

export const CHANNELS = ['cash', 'bank_transfer', 'wechat', 'alipay', 'unionpay'] as const;
export type ChannelCode = (typeof CHANNELS)[number];
export const ONLINE_CHANNELS = ['wechat', 'alipay', 'unionpay'] as const;
export type OnlineChannel = (typeof ONLINE_CHANNELS)[number];
/** Channels whose daily statement the platform reconciles. */
export const STATEMENT_CHANNELS = ['wechat', 'alipay', 'unionpay', 'bank_transfer'] as const;
export type StatementChannel = (typeof STATEMENT_CHANNELS)[number];

/** How the payer pays. WeChat: Native QR or JSAPI (in WeChat); Alipay: precreate QR or page pay; UnionPay: online (front page). */
export const METHODS = ['counter', 'transfer', 'native', 'jsapi', 'precreate', 'page', 'online'] as const;
export type PaymentMethod = (typeof METHODS)[number];

export const CHANNEL_METHODS: Readonly<Record<ChannelCode, readonly PaymentMethod[]>> = {
  cash: ['counter'],
  bank_transfer: ['transfer'],
  wechat: ['native', 'jsapi'],
  alipay: ['precreate', 'page'],
  unionpay: ['online'],
};

export const CHANNEL_NAMES: Readonly<Record<ChannelCode, { zh: string; en: string }>> = {
  cash: { zh: '现金', en: 'Cash' },
  bank_transfer: { zh: '银行转账', en: 'Bank transfer' },
  wechat: { zh: '微信支付', en: 'WeChat Pay' },
  alipay: { zh: '支付宝', en: 'Alipay' },
  unionpay: { zh: '银联在线', en: 'UnionPay online' },
};

export interface CreatePaymentInput {
  orderNo: string;
  amount: number;
  subject: string;
  method: PaymentMethod;
  expiresAt: Date;
  /** Absolute URL the provider notifies (ours: <publicUrl>/api/v1/payments/notify/<channel>). */
  notifyUrl: string;
  /** Where a page payment returns the payer (portal), when the method has a page. */
  returnUrl?: string;
  /** JSAPI: the payer's openid; any: the payer's IP address. */
  payer?: { openId?: string; clientIp?: string };
}

/**
 * What the payer needs, shown by the portal or the counter. Every online method gives at least
 * one of qrText (to draw as a QR code), payUrl (to open) or form (an auto-submitting HTML form).
 */
export interface PaymentPayload {
  qrText?: string;
  payUrl?: string;
  /** UnionPay front page / Alipay page pay: the form to post, as { action, fields }. */
  form?: { action: string; fields: Record<string, string> };
  /** WeChat JSAPI: the parameters wx.requestPayment takes (signed). */
  jsapi?: Record<string, string>;
  /** Bank transfer: where to send the money and the code to write on it. */
  transfer?: { bankName: string; accountName: string; accountNo: string; payerCode: string };
  /** Sandbox only: the sandbox provider's page that plays the payer. */
  sandboxUrl?: string;
}

/** The provider's view of a payment, from a notification or a query. */
export interface PaymentState {
  orderNo: string;
  status: 'paying' | 'paid' | 'closed' | 'failed' | 'not_found';
  channelTxnId?: string;
  /** What the payer paid, fen (the order amount the channel recorded). */
  amount?: number;
  paidAt?: Date;
  /** UnionPay: the clearing day (YYYY-MM-DD) the payment falls on. */
  settleDate?: string;
  /** The provider's status word (SUCCESS, TRADE_SUCCESS, 00, …) for the record. */
  channelStatus?: string;
}

export interface RefundRequest {
  refundNo: string;
  orderNo: string;
  channelTxnId: string | null;
  amount: number;
  /** The original payment's amount, fen. */
  total: number;
  reason?: string;
  notifyUrl: string;
  /** When the platform first asked for this refund: a retry after a restart must present the same request (UnionPay's txnTime). */
  requestedAt: Date;
}

export interface RefundState {
  refundNo: string;
  orderNo?: string;
  status: 'processing' | 'succeeded' | 'failed' | 'not_found';
  channelRefundId?: string;
  amount?: number;
  completedAt?: Date;
  channelStatus?: string;
}

/** A notification whose signature, time window and encryption checked out. */
export type VerifiedNotification =
  | { kind: 'payment'; notifyId: string; merchantId: string; appId?: string; payment: PaymentState }
  | { kind: 'refund'; notifyId: string; merchantId: string; appId?: string; refund: RefundState };

export type NotificationVerdict =
  | { ok: true; notification: VerifiedNotification }
  | { ok: false; code: PaymentsErrorCode; detail?: string; orderNo?: string };

export interface RawNotification {
  /** Header names in lower case. */
  headers: Readonly<Record<string, string | undefined>>;
  /** The body bytes exactly as received: signatures are checked over these, never over re-serialised JSON. */
  body: Buffer;
  now: Date;
}

/** The HTTP answer the provider expects. WeChat: 204 / 4xx JSON; Alipay: 200 `success` / `fail`; UnionPay: 200 `ok`. */
export interface NotifyAck {
  status: number;
  body: string;
  contentType: string;
}

/** One line of a channel statement, normalised. */
export interface StatementLine {
  lineNo: number;
  kind: 'payment' | 'refund';
  channelTxnId: string | null;
  orderNo: string | null;
  refundNo: string | null;
  channelRefundId: string | null;
  /** fen, positive for refunds too. */
  amount: number;
  /** Thousandths of a fen: WeChat gives fees to 5 decimals of a yuan. */
  feeMfen: number;
  status: string;
  occurredAt: Date | null;
  /** The line as it stood in the file (decoded), for the record. */
  raw: string;
}

export interface ParsedStatement {
  /** The business day the file says it covers, YYYY-MM-DD, when it says. */
  billDate: string | null;
  lines: StatementLine[];
  summary: { lineCount: number; paymentCount: number; paymentTotal: number; refundCount: number; refundTotal: number; feeTotalMfen: number };
}

export interface FetchedStatement {
  fileName: string;
  content: Buffer;
  /** The hash the provider published for the file (WeChat: SHA1 hex), checked before parsing. */
  expectedHash?: { algorithm: 'sha1' | 'sha256'; hex: string };
}

/** What the platform stored about a payment or refund, for providers that need more than our number to find it. */
export interface QueryContext {
  payload?: PaymentPayload;
  /** The provider's id of the payment (or of the refund, for queryRefund), when known. */
  queryId?: string | null;
}

export interface PaymentChannel {
  readonly code: ChannelCode;
  readonly methods: readonly PaymentMethod[];
  /** Whether this channel talks to the local sandbox provider instead of a real merchant account. */
  readonly sandbox: boolean;
  /** Our merchant id at the provider (mchid, Alipay seller/app, UnionPay merId): notifications must name it. */
  readonly merchantId: string;
  readonly appId?: string;

  /** Ask the provider for a payment. Throws PAYMENT_CHANNEL_UNAVAILABLE / _REJECTED / _RESPONSE_INVALID. */
  createPayment(input: CreatePaymentInput): Promise<PaymentPayload>;
  /** Verify and decode a notification: signature over the raw bytes, time window, probes, decryption. Never throws. */
  verifyNotification(raw: RawNotification): Promise<NotificationVerdict>;
  /** The answer the provider expects for a handled (ok) or refused notification. */
  ack(ok: boolean, message?: string): NotifyAck;
  /**
   * The provider's authoritative view of a payment. `ctx` carries what the platform stored at creation:
   * UnionPay names a transaction by orderId plus the original txnTime (in the payload's form fields).
   */
  queryPayment(orderNo: string, ctx?: QueryContext): Promise<PaymentState>;
  /** Close an unpaid payment at the provider so it can no longer be paid (no-op where there is nothing to close). */
  closePayment(orderNo: string): Promise<void>;
  refund(req: RefundRequest): Promise<RefundState>;
  queryRefund(refundNo: string, orderNo: string, ctx?: QueryContext): Promise<RefundState>;
  /** Download the statement of a business day (YYYY-MM-DD, Asia/Shanghai). Throws PAYMENT_STATEMENT_NOT_READY when it does not exist yet. */
  fetchStatement?(billDate: string): Promise<FetchedStatement>;
  /** Parse a statement file, checking its lines against its own summary. Throws PAYMENT_STATEMENT_*. Pure. */
  parseStatement?(file: FetchedStatement): ParsedStatement;
}
