/**
 * WeChat Pay API v3 adapter (docs/channel-wechat.md): Native QR and JSAPI payments, query,
 * close, refunds, trade bills and notifications, over fetch to cfg.apiBase (the real
 * api.mch.weixin.qq.com or the sandbox provider). Every request is signed with the merchant key;
 * every answer but the bill file is verified with WeChat's key before a byte of it is believed.
 */
import { createHash } from 'node:crypto';
import type {
  CreatePaymentInput,
  FetchedStatement,
  NotificationVerdict,
  NotifyAck,
  ParsedStatement,
  PaymentChannel,
  PaymentPayload,
  PaymentState,
  RawNotification,
  RefundRequest,
  RefundState,
} from '../../channel.js';
import type { WechatMerchantConfig } from '../../payments.config.js';
import { paymentsError, type PaymentsErrorCode } from '../../payments.errors.js';
import type { ChannelOptions } from '../../channel.js';
import {
  buildAuthorization,
  checkWechatSignature,
  decryptResource,
  jsapiParams,
  loadPlatformKeys,
  parseRfc3339,
  rfc3339Shanghai,
  toPrivateKey,
} from './wechat.crypto.js';
import { parseTradeBill } from './wechat.bill.js';

/** The openid the sandbox's JSAPI payer uses when the caller has none (a real JSAPI payment needs the payer's). */
export const SANDBOX_OPENID = 'oSandboxPayer0000000000000000';

type Json = Record<string, unknown>;

interface Answer {
  status: number;
  raw: Buffer;
  json: Json | null;
}

const TRADE_STATES: Readonly<Record<string, PaymentState['status']>> = {
  SUCCESS: 'paid',
  // REFUND: the payment succeeded and was later refunded (in part or whole): for the order it was paid.
  REFUND: 'paid',
  NOTPAY: 'paying',
  USERPAYING: 'paying',
  ACCEPT: 'paying',
  CLOSED: 'closed',
  REVOKED: 'closed',
  PAYERROR: 'failed',
};

const REFUND_STATES: Readonly<Record<string, RefundState['status']>> = {
  SUCCESS: 'succeeded',
  PROCESSING: 'processing',
  CLOSED: 'failed',
  // ABNORMAL: WeChat could not pay the refund back to the original account (card closed or
  // frozen). It is not final: finance can still have it paid out through the merchant platform
  // (异常退款处理), and the money may yet reach the payer. Marking it failed would return the
  // balance to the card as well — a double refund. It stays processing, visible in the console
  // (docs/channel-wechat.md).
  ABNORMAL: 'processing',
};

/**
 * Answers that mean "ask again later", never a verdict on the request: WeChat's own outage
 * (SYSTEM_ERROR, 5xx), rate limiting (FREQUENCY_LIMITED, 429) and, for refunds, NOT_ENOUGH
 * (the merchant's balance cannot cover the refund until more payments come in).
 */
const RETRY_LATER_CODES = new Set(['SYSTEM_ERROR', 'FREQUENCY_LIMITED', 'NOT_ENOUGH']);

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const int = (v: unknown): number | undefined => (typeof v === 'number' && Number.isSafeInteger(v) ? v : undefined);
const obj = (v: unknown): Json | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined);

/** A transaction object (query answer or decrypted TRANSACTION notification) → our view. */
export function transactionState(t: Json): PaymentState {
  const orderNo = str(t.out_trade_no) ?? '';
  const word = str(t.trade_state) ?? '';
  const status = TRADE_STATES[word];
  if (!status) throw new Error(`unknown trade_state ${word}`);
  const amount = int(obj(t.amount)?.total);
  const paidAt = parseRfc3339(t.success_time);
  return {
    orderNo,
    status,
    ...(str(t.transaction_id) ? { channelTxnId: str(t.transaction_id) } : {}),
    ...(amount !== undefined ? { amount } : {}),
    ...(paidAt ? { paidAt } : {}),
    channelStatus: word,
  };
}

/** A refund object (refund/query answer or decrypted REFUND notification) → our view. */
export function refundState(r: Json): RefundState {
  const word = str(r.status) ?? str(r.refund_status) ?? '';
  const status = REFUND_STATES[word];
  if (!status) throw new Error(`unknown refund status ${word}`);
  const amount = int(obj(r.amount)?.refund);
  const completedAt = parseRfc3339(r.success_time);
  return {
    refundNo: str(r.out_refund_no) ?? '',
    ...(str(r.out_trade_no) ? { orderNo: str(r.out_trade_no) } : {}),
    status,
    ...(str(r.refund_id) ? { channelRefundId: str(r.refund_id) } : {}),
    ...(amount !== undefined ? { amount } : {}),
    ...(completedAt && status === 'succeeded' ? { completedAt } : {}),
    channelStatus: word,
  };
}

/** WeChat caps description at 127 bytes of UTF-8: cut on a character boundary. */
function truncateBytes(s: string, max: number): string {
  let out = '';
  for (const ch of s) {
    if (Buffer.byteLength(out + ch, 'utf8') > max) break;
    out += ch;
  }
  return out;
}

export function createWechatChannel(cfg: WechatMerchantConfig, opts: ChannelOptions): PaymentChannel {
  const merchantKey = toPrivateKey(cfg.merchantPrivateKeyPem);
  const platformKeys = loadPlatformKeys(cfg.platformKeys);
  // cfg.apiBase is read on every call: the sandbox's base is only known once the server listens.
  const base = (): string => cfg.apiBase.replace(/\/+$/, '');

  const unavailable = (reason: string, extra: Json = {}) => paymentsError('PAYMENT_CHANNEL_UNAVAILABLE', { channel: 'wechat', reason, ...extra });
  const invalid = (reason: string, extra: Json = {}) => paymentsError('PAYMENT_CHANNEL_RESPONSE_INVALID', { channel: 'wechat', reason, ...extra });
  /** A refusal: retry-later answers become UNAVAILABLE (the caller asks again), the rest REJECTED. */
  const rejected = (a: Answer) =>
    paymentsError(a.status >= 500 || a.status === 429 || RETRY_LATER_CODES.has(str(a.json?.code) ?? '') ? 'PAYMENT_CHANNEL_UNAVAILABLE' : 'PAYMENT_CHANNEL_REJECTED', {
      channel: 'wechat',
      httpStatus: a.status,
      channelCode: str(a.json?.code) ?? null,
      channelMessage: str(a.json?.message) ?? null,
    });

  async function call(method: 'GET' | 'POST', target: string, body?: Json, verifyAnswer = true): Promise<Answer> {
    const url = target.startsWith('http://') || target.startsWith('https://') ? target : base() + target;
    const u = new URL(url);
    const payload = body === undefined ? '' : JSON.stringify(body);
    const headers: Record<string, string> = {
      authorization: buildAuthorization({ mchId: cfg.mchId, serialNo: cfg.merchantSerialNo, key: merchantKey, method, pathAndQuery: u.pathname + u.search, body: payload }),
      accept: 'application/json',
      'accept-language': 'zh-CN',
      'user-agent': 'fuelcard-wechatpay-v3/1.0',
    };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    let raw: Buffer;
    try {
      res = await fetch(url, { method, headers, ...(body !== undefined ? { body: payload } : {}), signal: AbortSignal.timeout(opts.timeoutMs) });
      raw = Buffer.from(await res.arrayBuffer());
    } catch (err) {
      throw unavailable((err as Error).name === 'TimeoutError' ? 'timeout' : (err as Error).message, { path: u.pathname });
    }
    if (!verifyAnswer) return { status: res.status, raw, json: null };
    const h: Record<string, string | undefined> = {};
    res.headers.forEach((v, k) => {
      h[k.toLowerCase()] = v;
    });
    const check = checkWechatSignature(h, raw, platformKeys, new Date());
    if (!check.ok) {
      // A gateway or proxy in front of WeChat answers 5xx without signing: that is an outage, not a forgery.
      if ((res.status >= 500 || res.status === 429) && check.reason === 'missing') throw unavailable(`HTTP ${res.status}`, { path: u.pathname });
      throw invalid(`answer signature: ${check.reason}`, { httpStatus: res.status, path: u.pathname });
    }
    let json: Json | null = null;
    if (raw.length > 0) {
      try {
        json = obj(JSON.parse(raw.toString('utf8'))) ?? null;
      } catch {
        throw invalid('answer is not JSON', { httpStatus: res.status, path: u.pathname });
      }
      if (!json) throw invalid('answer is not a JSON object', { httpStatus: res.status, path: u.pathname });
    }
    return { status: res.status, raw, json };
  }

  const okJson = (a: Answer): Json => {
    if (a.status >= 300) throw rejected(a);
    if (!a.json) throw invalid('empty answer', { httpStatus: a.status });
    return a.json;
  };
  const orderPath = (orderNo: string) => `/v3/pay/transactions/out-trade-no/${encodeURIComponent(orderNo)}`;

  return {
    code: 'wechat',
    methods: ['native', 'jsapi'],
    sandbox: opts.sandbox,
    merchantId: cfg.mchId,
    appId: cfg.appId,

    async createPayment(input: CreatePaymentInput): Promise<PaymentPayload> {
      if (input.method !== 'native' && input.method !== 'jsapi') throw paymentsError('PAYMENT_METHOD_NOT_SUPPORTED', { channel: 'wechat', method: input.method });
      const openid = input.payer?.openId ?? (opts.sandbox ? SANDBOX_OPENID : undefined);
      if (input.method === 'jsapi' && !openid) throw paymentsError('PAYMENT_METHOD_NOT_SUPPORTED', { channel: 'wechat', method: 'jsapi', field: 'payer.openId', reason: 'JSAPI needs the payer’s openid' });
      const body: Json = {
        appid: cfg.appId,
        mchid: cfg.mchId,
        description: truncateBytes(input.subject, 127) || '充值',
        out_trade_no: input.orderNo,
        time_expire: rfc3339Shanghai(input.expiresAt),
        notify_url: input.notifyUrl,
        amount: { total: input.amount, currency: 'CNY' },
        ...(input.method === 'jsapi' ? { payer: { openid } } : {}),
        ...(input.payer?.clientIp ? { scene_info: { payer_client_ip: input.payer.clientIp } } : {}),
      };
      const a = okJson(await call('POST', `/v3/pay/transactions/${input.method}`, body));
      if (input.method === 'native') {
        const codeUrl = str(a.code_url);
        if (!codeUrl) throw invalid('no code_url');
        // The sandbox's code_url is its payer page, so a phone scanning the QR code lands on it.
        return { qrText: codeUrl, ...(opts.sandbox ? { sandboxUrl: codeUrl } : {}) };
      }
      const prepayId = str(a.prepay_id);
      if (!prepayId) throw invalid('no prepay_id');
      return {
        jsapi: jsapiParams(cfg.appId, prepayId, merchantKey),
        ...(opts.sandbox ? { sandboxUrl: `${base()}/pay/${encodeURIComponent(prepayId)}` } : {}),
      };
    },

    async verifyNotification(raw: RawNotification): Promise<NotificationVerdict> {
      const refuse = (code: PaymentsErrorCode, detail: string, orderNo?: string): NotificationVerdict => ({ ok: false, code, detail, ...(orderNo ? { orderNo } : {}) });
      const sig = checkWechatSignature(raw.headers, raw.body, platformKeys, raw.now);
      if (!sig.ok) return refuse(sig.reason === 'stale' ? 'PAYMENT_NOTIFY_STALE' : 'PAYMENT_NOTIFY_SIGNATURE_INVALID', sig.reason);
      let envelope: Json | undefined;
      try {
        envelope = obj(JSON.parse(raw.body.toString('utf8')));
      } catch {
        /* refused below */
      }
      const resource = obj(envelope?.resource);
      const id = str(envelope?.id);
      const eventType = str(envelope?.event_type);
      if (!envelope || !resource || !id || !eventType) return refuse('PAYMENT_NOTIFY_MALFORMED', 'not a notification envelope');
      if (resource.algorithm !== 'AEAD_AES_256_GCM' || !str(resource.ciphertext) || !str(resource.nonce)) return refuse('PAYMENT_NOTIFY_MALFORMED', 'resource is not AEAD_AES_256_GCM');
      let plain: Json | undefined;
      try {
        plain = obj(JSON.parse(decryptResource({ ciphertext: resource.ciphertext as string, nonce: resource.nonce as string, associated_data: typeof resource.associated_data === 'string' ? resource.associated_data : '' }, cfg.apiV3Key)));
      } catch {
        return refuse('PAYMENT_NOTIFY_DECRYPT_FAILED', 'AEAD_AES_256_GCM authentication failed');
      }
      if (!plain) return refuse('PAYMENT_NOTIFY_MALFORMED', 'resource is not a JSON object');
      const orderNo = str(plain.out_trade_no);
      const mchid = str(plain.mchid);
      if (!orderNo || !mchid) return refuse('PAYMENT_NOTIFY_MALFORMED', 'resource lacks out_trade_no or mchid', orderNo);
      const appid = str(plain.appid);
      // Also checked by the notify route; refusing here too keeps a misdirected notification out of every path.
      if (mchid !== cfg.mchId || (appid !== undefined && appid !== cfg.appId)) return refuse('PAYMENT_NOTIFY_MERCHANT_MISMATCH', `mchid ${mchid} appid ${appid ?? '-'}`, orderNo);
      // Every amount is fen of CNY: another currency's number would be credited as yuan fen.
      const currency = obj(plain.amount)?.currency;
      if (currency !== undefined && currency !== 'CNY') return refuse('PAYMENT_NOTIFY_MALFORMED', `amount.currency ${String(currency)}`, orderNo);
      try {
        if (eventType === 'TRANSACTION.SUCCESS' && resource.original_type === 'transaction') {
          // A payment names the app it was made in (refund notifications carry no appid): one without is not ours to trust.
          if (!appid) return refuse('PAYMENT_NOTIFY_MERCHANT_MISMATCH', 'payment notification without appid', orderNo);
          if (currency !== 'CNY') return refuse('PAYMENT_NOTIFY_MALFORMED', 'payment notification without amount.currency', orderNo);
          const payment = transactionState(plain);
          if (payment.status !== 'paid' || payment.amount === undefined || !payment.channelTxnId) return refuse('PAYMENT_NOTIFY_MALFORMED', 'a success notification without a paid transaction', orderNo);
          return { ok: true, notification: { kind: 'payment', notifyId: id, merchantId: mchid, ...(appid ? { appId: appid } : {}), payment } };
        }
        if (/^REFUND\.(SUCCESS|ABNORMAL|CLOSED)$/.test(eventType) && resource.original_type === 'refund') {
          const refund = refundState(plain);
          if (!refund.refundNo || refund.amount === undefined) return refuse('PAYMENT_NOTIFY_MALFORMED', 'refund resource lacks out_refund_no or amount', orderNo);
          return { ok: true, notification: { kind: 'refund', notifyId: id, merchantId: mchid, ...(appid ? { appId: appid } : {}), refund } };
        }
      } catch (err) {
        return refuse('PAYMENT_NOTIFY_MALFORMED', (err as Error).message, orderNo);
      }
      return refuse('PAYMENT_NOTIFY_MALFORMED', `unsupported event_type ${eventType}`, orderNo);
    },

    ack(ok: boolean, message?: string): NotifyAck {
      if (ok) return { status: 204, body: '', contentType: 'application/json' };
      // The answer goes to whoever posted: naming the check that failed would coach a forger.
      // WeChat only needs "not accepted" (any 4xx/5xx) to retry; the reason stays in our log and
      // in payment_notifications.
      opts.logger.info({ channel: 'wechat', code: message ?? null }, 'wechat notification refused');
      return { status: 400, body: JSON.stringify({ code: 'FAIL', message: '失败' }), contentType: 'application/json' };
    },

    async queryPayment(orderNo: string): Promise<PaymentState> {
      const a = await call('GET', `${orderPath(orderNo)}?mchid=${encodeURIComponent(cfg.mchId)}`);
      if (a.status === 404 && a.json?.code === 'ORDER_NOT_EXIST') return { orderNo, status: 'not_found', channelStatus: 'ORDER_NOT_EXIST' };
      const t = okJson(a);
      if (t.out_trade_no !== orderNo || t.mchid !== cfg.mchId) throw invalid('the answer is about another order or merchant', { orderNo });
      try {
        return transactionState(t);
      } catch (err) {
        throw invalid((err as Error).message, { orderNo });
      }
    },

    async closePayment(orderNo: string): Promise<void> {
      const a = await call('POST', `${orderPath(orderNo)}/close`, { mchid: cfg.mchId });
      if (a.status === 204 || a.status === 200) return;
      // An order WeChat never saw (creation failed before it reached WeChat) has nothing to close.
      if (a.status === 404 && a.json?.code === 'ORDER_NOT_EXIST') return;
      throw rejected(a);
    },

    async refund(req: RefundRequest): Promise<RefundState> {
      const body: Json = {
        ...(req.channelTxnId ? { transaction_id: req.channelTxnId } : { out_trade_no: req.orderNo }),
        out_refund_no: req.refundNo,
        ...(req.reason ? { reason: truncateBytes(req.reason, 80) } : {}),
        notify_url: req.notifyUrl,
        amount: { refund: req.amount, total: req.total, currency: 'CNY' },
      };
      const r = okJson(await call('POST', '/v3/refund/domestic/refunds', body));
      if (r.out_refund_no !== req.refundNo) throw invalid('the answer is about another refund', { refundNo: req.refundNo });
      try {
        return refundState(r);
      } catch (err) {
        throw invalid((err as Error).message, { refundNo: req.refundNo });
      }
    },

    async queryRefund(refundNo: string, _orderNo: string): Promise<RefundState> {
      const a = await call('GET', `/v3/refund/domestic/refunds/${encodeURIComponent(refundNo)}`);
      if (a.status === 404 && a.json?.code === 'RESOURCE_NOT_EXISTS') return { refundNo, status: 'not_found', channelStatus: 'RESOURCE_NOT_EXISTS' };
      const r = okJson(a);
      if (r.out_refund_no !== refundNo) throw invalid('the answer is about another refund', { refundNo });
      try {
        return refundState(r);
      } catch (err) {
        throw invalid((err as Error).message, { refundNo });
      }
    },

    async fetchStatement(billDate: string): Promise<FetchedStatement> {
      if (!/^\d{4}-\d{2}-\d{2}$/.test(billDate)) throw paymentsError('PAYMENT_STATEMENT_MALFORMED', { channel: 'wechat', field: 'billDate', billDate });
      const a = await call('GET', `/v3/bill/tradebill?bill_date=${billDate}&bill_type=ALL`);
      if (a.status >= 400 && (a.json?.code === 'NO_STATEMENT_EXIST' || a.json?.code === 'STATEMENT_CREATING')) {
        throw paymentsError('PAYMENT_STATEMENT_NOT_READY', { channel: 'wechat', billDate, channelCode: a.json.code });
      }
      const info = okJson(a);
      const hash = str(info.hash_value);
      const url = str(info.download_url);
      if (info.hash_type !== 'SHA1' || !hash || !/^[0-9a-fA-F]{40}$/.test(hash) || !url) throw invalid('tradebill answer lacks SHA1 hash or download_url', { billDate });
      // The file itself is not signed by WeChat: its SHA1 (from the signed answer) vouches for it.
      const file = await call('GET', url, undefined, false);
      if (file.status !== 200) throw paymentsError(file.status >= 500 || file.status === 429 ? 'PAYMENT_CHANNEL_UNAVAILABLE' : 'PAYMENT_CHANNEL_REJECTED', { channel: 'wechat', httpStatus: file.status, billDate });
      return { fileName: `wechat-tradebill-${billDate}-ALL.csv`, content: file.raw, expectedHash: { algorithm: 'sha1', hex: hash.toLowerCase() } };
    },

    parseStatement(file: FetchedStatement): ParsedStatement {
      if (file.expectedHash) {
        const actual = createHash(file.expectedHash.algorithm).update(file.content).digest('hex');
        if (actual !== file.expectedHash.hex.toLowerCase()) {
          throw paymentsError('PAYMENT_STATEMENT_HASH_MISMATCH', { channel: 'wechat', algorithm: file.expectedHash.algorithm, expected: file.expectedHash.hex, actual });
        }
      }
      return parseTradeBill(file.content);
    },
  };
}
