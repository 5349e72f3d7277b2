/**
 * The Alipay adapter (docs/channel-alipay.md): OpenAPI gateway calls signed RSA2 by us with
 * node:crypto and sent over fetch, answers verified over the exact signed substring with
 * Alipay's public key, notifications verified by alipay-sdk's checkNotifySignV2.
 */
import { AlipaySdk } from 'alipay-sdk';
import type { Logger } from 'pino';
import type {
  CreatePaymentInput, FetchedStatement, NotifyAck, ParsedStatement, PaymentChannel, PaymentPayload, PaymentState, RefundRequest, RefundState,
} from '../../channel.js';
import type { AlipayMerchantConfig } from '../../payments.config.js';
import { paymentsError } from '../../payments.errors.js';
import { parseAlipayBill } from './alipay.bill.js';
import {
  formatBeijing, fenToYuan, loadPrivateKey, loadPublicKey, parseBeijing, responseKey, rsa2Verify, signRequestParams, topLevelMembers, yuanToFen,
} from './alipay.crypto.js';
import { paymentStatusOf, verifyAlipayNotification } from './alipay.notify.js';

/** Common parameters Alipay's SDKs put in the URL query (biz_content travels in the body). */
const URL_PARAMS = ['app_id', 'method', 'format', 'charset', 'sign_type', 'sign', 'timestamp', 'version', 'notify_url', 'return_url'];
const MAX_BILL_BYTES = 20 * 1024 * 1024;

/** A signed gateway answer: `code` 10000 is success, anything else carries sub_code/sub_msg. */
type Answer = Record<string, unknown> & { code?: string; msg?: string; sub_code?: string; sub_msg?: string };

/** Business refusals of alipay.trade.refund that settle the question: the refund will not happen. */
const REFUND_FINAL_REFUSALS = new Set([
  'ACQ.TRADE_NOT_EXIST', 'ACQ.TRADE_STATUS_ERROR', 'ACQ.TRADE_HAS_CLOSE', 'ACQ.TRADE_HAS_FINISHED', 'ACQ.REFUND_AMT_NOT_EQUAL_TOTAL',
  'ACQ.REFUND_FEE_ERROR', 'ACQ.BUYER_ERROR', 'ACQ.REASON_TRADE_REFUND_FEE_ERR',
]);
/**
 * Alipay asks for a retry with the same parameters: its own outage, rate limiting, or (refunds)
 * the merchant balance not covering the refund yet — Alipay's advice for SELLER_BALANCE_NOT_ENOUGH
 * is to top up and send the same refund again, so it is not a final refusal.
 */
const RETRYABLE = new Set(['ACQ.SYSTEM_ERROR', 'isp.unknow-error', 'aop.ACQ.SYSTEM_ERROR', 'ACQ.SELLER_BALANCE_NOT_ENOUGH', 'ACQ.REQUEST_FREQUENCY_LIMITED', 'aop.ACQ.REQUEST_FREQUENCY_LIMITED']);

/**
 * runtime.ts's ChannelOptions, restated: runtime.ts imports this module, so importing it back
 * (even for a type) would be a dependency cycle. TypeScript checks the two shapes agree where
 * runtime.ts passes its options in.
 */
export interface AlipayChannelOptions {
  sandbox: boolean;
  timeoutMs: number;
  logger: Logger;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

export function createAlipayChannel(cfg: AlipayMerchantConfig, opts: AlipayChannelOptions): PaymentChannel {
  const appKey = loadPrivateKey(cfg.appPrivateKeyPem);
  const alipayKey = loadPublicKey(cfg.alipayPublicKeyPem);
  // The SDK only verifies notifications here; its request path (urllib, camel-casing, a
  // substring heuristic for the answer's signature) is replaced by call() below.
  const sdk = new AlipaySdk({
    appId: cfg.appId,
    privateKey: appKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    keyType: 'PKCS8',
    alipayPublicKey: alipayKey.export({ type: 'spki', format: 'pem' }).toString(),
    signType: 'RSA2',
  });

  const rejected = (a: Answer, method: string) =>
    paymentsError('PAYMENT_CHANNEL_REJECTED', { channel: 'alipay', method, channelCode: a.sub_code ?? a.code, channelMessage: a.sub_msg ?? a.msg });

  function signedParams(method: string, biz: Record<string, unknown>, extra: Record<string, string> = {}): Record<string, string> {
    return signRequestParams(
      {
        app_id: cfg.appId,
        method,
        format: 'JSON',
        charset: 'utf-8',
        sign_type: 'RSA2',
        timestamp: formatBeijing(new Date()),
        version: '1.0',
        ...extra,
        biz_content: JSON.stringify(biz),
      },
      appKey,
    );
  }

  async function fetchText(url: string, init: RequestInit, what: string): Promise<{ status: number; text: string; bytes: Buffer }> {
    try {
      const res = await fetch(url, { ...init, signal: AbortSignal.timeout(opts.timeoutMs) });
      const bytes = Buffer.from(await res.arrayBuffer());
      return { status: res.status, text: bytes.toString('utf8'), bytes };
    } catch (err) {
      opts.logger.warn({ err, what }, 'alipay unreachable');
      throw paymentsError('PAYMENT_CHANNEL_UNAVAILABLE', { channel: 'alipay', method: what, reason: (err as Error).name });
    }
  }

  /**
   * One gateway call. Returns the signed answer object (success or business error); throws
   * UNAVAILABLE (network, 5xx, "retry"), RESPONSE_INVALID (bad or missing signature on a
   * success, not JSON), REJECTED (an unsigned error: nothing in it can be trusted to decide).
   */
  async function call(method: string, biz: Record<string, unknown>, extra: Record<string, string> = {}): Promise<Answer> {
    const params = signedParams(method, biz, extra);
    const url = new URL(cfg.gateway);
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      if (URL_PARAMS.includes(k)) url.searchParams.set(k, v);
      else body.set(k, v);
    }
    const res = await fetchText(url.toString(), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded;charset=utf-8', accept: 'application/json' },
      body: body.toString(),
    }, method);
    if (res.status >= 500) throw paymentsError('PAYMENT_CHANNEL_UNAVAILABLE', { channel: 'alipay', method, httpStatus: res.status });
    const invalid = (reason: string) => paymentsError('PAYMENT_CHANNEL_RESPONSE_INVALID', { channel: 'alipay', method, reason });
    if (res.status !== 200) throw invalid(`HTTP ${res.status}`);
    let members: Map<string, string>;
    try {
      members = topLevelMembers(res.text);
    } catch (err) {
      throw invalid((err as Error).message);
    }
    const rawAnswer = members.get(responseKey(method)) ?? members.get('error_response');
    if (!rawAnswer || !rawAnswer.startsWith('{')) throw invalid(`no ${responseKey(method)} object`);
    const answer = JSON.parse(rawAnswer) as Answer;
    const signText = members.get('sign');
    const sign = signText ? (JSON.parse(signText) as unknown) : undefined;
    if (typeof sign !== 'string' || sign === '') {
      if (answer.code === '10000') throw invalid('unsigned success answer');
      throw rejected(answer, method);
    }
    if (!rsa2Verify(rawAnswer, sign, alipayKey)) throw invalid('answer signature does not verify with the Alipay public key');
    if (answer.code !== '10000' && (answer.code === '20000' || RETRYABLE.has(answer.sub_code ?? ''))) {
      throw paymentsError('PAYMENT_CHANNEL_UNAVAILABLE', { channel: 'alipay', method, channelCode: answer.sub_code ?? answer.code, channelMessage: answer.sub_msg ?? answer.msg });
    }
    return answer;
  }

  const money = (v: unknown, field: string, method: string): number => {
    const fen = yuanToFen(typeof v === 'string' || typeof v === 'number' ? v : undefined);
    if (fen === null) throw paymentsError('PAYMENT_CHANNEL_RESPONSE_INVALID', { channel: 'alipay', method, reason: `${field} ${String(v)}` });
    return fen;
  };

  async function queryPayment(orderNo: string): Promise<PaymentState> {
    const method = 'alipay.trade.query';
    const a = await call(method, { out_trade_no: orderNo });
    if (a.code !== '10000') {
      if (a.sub_code === 'ACQ.TRADE_NOT_EXIST') return { orderNo, status: 'not_found', channelStatus: a.sub_code };
      throw rejected(a, method);
    }
    if (a.out_trade_no !== orderNo) throw paymentsError('PAYMENT_CHANNEL_RESPONSE_INVALID', { channel: 'alipay', method, reason: 'out_trade_no differs' });
    const tradeStatus = str(a.trade_status) ?? '';
    const status = paymentStatusOf(tradeStatus);
    if (!status) throw paymentsError('PAYMENT_CHANNEL_RESPONSE_INVALID', { channel: 'alipay', method, reason: `trade_status ${tradeStatus}` });
    const state: PaymentState = { orderNo, status, channelStatus: tradeStatus };
    const tradeNo = str(a.trade_no);
    if (tradeNo) state.channelTxnId = tradeNo;
    if (a.total_amount !== undefined) state.amount = money(a.total_amount, 'total_amount', method);
    const paidAt = parseBeijing(str(a.send_pay_date));
    if (status === 'paid') state.paidAt = paidAt ?? new Date();
    return state;
  }

  async function queryRefund(refundNo: string, orderNo: string): Promise<RefundState> {
    const method = 'alipay.trade.fastpay.refund.query';
    const a = await call(method, { out_trade_no: orderNo, out_request_no: refundNo, query_options: ['gmt_refund_pay'] });
    if (a.code !== '10000') {
      if (a.sub_code === 'ACQ.TRADE_NOT_EXIST') return { refundNo, orderNo, status: 'not_found', channelStatus: a.sub_code };
      throw rejected(a, method);
    }
    // "No data" means Alipay never executed this refund request: it may be retried with the same number.
    if (!str(a.out_request_no)) return { refundNo, orderNo, status: 'not_found', channelStatus: 'NO_REFUND' };
    const state: RefundState = { refundNo, orderNo, status: a.refund_status === 'REFUND_SUCCESS' ? 'succeeded' : 'processing', channelStatus: str(a.refund_status) ?? 'NOT_SUCCESS' };
    if (a.refund_amount !== undefined) state.amount = money(a.refund_amount, 'refund_amount', method);
    const at = parseBeijing(str(a.gmt_refund_pay));
    if (state.status === 'succeeded') state.completedAt = at ?? new Date();
    return state;
  }

  return {
    code: 'alipay',
    methods: ['precreate', 'page'],
    sandbox: opts.sandbox,
    merchantId: cfg.sellerId,
    appId: cfg.appId,

    async createPayment(input: CreatePaymentInput): Promise<PaymentPayload> {
      const biz: Record<string, unknown> = {
        out_trade_no: input.orderNo,
        total_amount: fenToYuan(input.amount),
        subject: input.subject.slice(0, 256),
        time_expire: formatBeijing(input.expiresAt),
      };
      if (input.method === 'precreate') {
        const method = 'alipay.trade.precreate';
        const a = await call(method, biz, { notify_url: input.notifyUrl });
        if (a.code !== '10000') throw rejected(a, method);
        const qr = str(a.qr_code);
        if (!qr) throw paymentsError('PAYMENT_CHANNEL_RESPONSE_INVALID', { channel: 'alipay', method, reason: 'no qr_code' });
        return { qrText: qr, ...(opts.sandbox ? { sandboxUrl: qr } : {}) };
      }
      if (input.method === 'page') {
        // Page pay is no server call: the browser carries the signed request to the gateway.
        const fields = signedParams('alipay.trade.page.pay', { ...biz, product_code: 'FAST_INSTANT_TRADE_PAY' }, {
          notify_url: input.notifyUrl,
          ...(input.returnUrl ? { return_url: input.returnUrl } : {}),
        });
        // As Alipay's SDKs build it: common parameters in the action URL, biz_content as the field.
        const action = new URL(cfg.gateway);
        const formFields: Record<string, string> = {};
        for (const [k, v] of Object.entries(fields)) {
          if (URL_PARAMS.includes(k)) action.searchParams.set(k, v);
          else formFields[k] = v;
        }
        const payUrl = new URL(action);
        for (const [k, v] of Object.entries(formFields)) payUrl.searchParams.set(k, v);
        return { form: { action: action.toString(), fields: formFields }, payUrl: payUrl.toString(), ...(opts.sandbox ? { sandboxUrl: payUrl.toString() } : {}) };
      }
      throw paymentsError('PAYMENT_METHOD_NOT_SUPPORTED', { channel: 'alipay', method: input.method });
    },

    async verifyNotification(raw) {
      return verifyAlipayNotification(raw, { sdk, appId: cfg.appId, sellerId: cfg.sellerId });
    },

    ack(ok: boolean): NotifyAck {
      // Alipay only looks for the 7 bytes `success`; a 400 `fail` keeps refusals visible in logs.
      return ok ? { status: 200, body: 'success', contentType: 'text/plain; charset=utf-8' } : { status: 400, body: 'fail', contentType: 'text/plain; charset=utf-8' };
    },

    queryPayment,

    async closePayment(orderNo: string): Promise<void> {
      const method = 'alipay.trade.close';
      const a = await call(method, { out_trade_no: orderNo });
      // A precreated code nobody scanned does not exist at Alipay yet: nothing to close.
      if (a.code === '10000' || a.sub_code === 'ACQ.TRADE_NOT_EXIST') return;
      throw rejected(a, method);
    },

    async refund(req: RefundRequest): Promise<RefundState> {
      const method = 'alipay.trade.refund';
      const biz: Record<string, unknown> = { out_trade_no: req.orderNo, refund_amount: fenToYuan(req.amount), out_request_no: req.refundNo };
      if (req.channelTxnId) biz.trade_no = req.channelTxnId;
      if (req.reason) biz.refund_reason = req.reason.slice(0, 256);
      const a = await call(method, biz);
      if (a.code !== '10000') {
        if (REFUND_FINAL_REFUSALS.has(a.sub_code ?? '')) {
          return { refundNo: req.refundNo, orderNo: req.orderNo, status: 'failed', channelStatus: a.sub_code! };
        }
        throw rejected(a, method);
      }
      if (a.fund_change === 'Y') {
        const at = parseBeijing(str(a.gmt_refund_pay));
        return { refundNo: req.refundNo, orderNo: req.orderNo, status: 'succeeded', amount: req.amount, completedAt: at ?? new Date(), channelStatus: 'fund_change=Y' };
      }
      // fund_change=N: a repeat of a refund already made, or money not moved yet — the refund query says which.
      const q = await queryRefund(req.refundNo, req.orderNo);
      return q.status === 'not_found' ? { ...q, status: 'processing', channelStatus: 'fund_change=N' } : q;
    },

    queryRefund,

    async fetchStatement(billDate: string): Promise<FetchedStatement> {
      const method = 'alipay.data.dataservice.bill.downloadurl.query';
      if (!/^\d{4}-\d{2}-\d{2}$/.test(billDate)) throw paymentsError('PAYMENT_STATEMENT_MALFORMED', { channel: 'alipay', reason: 'billDate', billDate });
      const a = await call(method, { bill_type: 'trade', bill_date: billDate });
      if (a.code !== '10000') {
        if (/BILL_NOT_EXIST/i.test(a.sub_code ?? '')) throw paymentsError('PAYMENT_STATEMENT_NOT_READY', { channel: 'alipay', billDate, channelCode: a.sub_code });
        throw rejected(a, method);
      }
      const url = str(a.bill_download_url);
      if (!url) throw paymentsError('PAYMENT_CHANNEL_RESPONSE_INVALID', { channel: 'alipay', method, reason: 'no bill_download_url' });
      // The link is valid for about 30 s: fetch it at once. The file itself is not signed.
      const res = await fetchText(url, { method: 'GET' }, 'bill download');
      if (res.status !== 200) throw paymentsError('PAYMENT_CHANNEL_UNAVAILABLE', { channel: 'alipay', method: 'bill download', httpStatus: res.status });
      if (res.bytes.length > MAX_BILL_BYTES) throw paymentsError('PAYMENT_STATEMENT_TOO_LARGE', { channel: 'alipay', bytes: res.bytes.length });
      return { fileName: `${cfg.sellerId}_${billDate.replace(/-/g, '')}.csv.zip`, content: res.bytes };
    },

    parseStatement(file: FetchedStatement): ParsedStatement {
      return parseAlipayBill(file);
    },
  };
}
