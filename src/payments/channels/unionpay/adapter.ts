/**
 * The UnionPay online payment adapter (银联全渠道, ACP 5.1.0): consumption through the payer's
 * browser (frontTransReq.do), queries, refunds (退货) and the reconciliation file over the back
 * end, notifications to backUrl. docs/channel-unionpay.md says what is checked and why.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import type {
  CreatePaymentInput,
  FetchedStatement,
  NotificationVerdict,
  NotifyAck,
  PaymentChannel,
  PaymentPayload,
  PaymentState,
  RawNotification,
  RefundRequest,
  RefundState,
} from '../../channel.js';
import type { UnionPayMerchantConfig } from '../../payments.config.js';
import { paymentsError, type PaymentsErrorCode } from '../../payments.errors.js';
import type { Logger } from 'pino';
import {
  ACP_VERSION,
  beijingStamp,
  certIdOf,
  encodeForm,
  parseAnswer,
  parseBeijingStamp,
  parseFen,
  parseForm,
  resolveMonthDay,
  resolveMonthDayTime,
  signFields,
  verifyUnionPaySigned,
  type AcpFields,
} from './acp.js';
import { decodeFileContent, parseUnionPayStatement } from './statement.js';

/** runtime.ts's ChannelOptions, restated: runtime imports this module, so importing it back would make a cycle. */
export interface ChannelOptions {
  sandbox: boolean;
  timeoutMs: number;
  logger: Logger;
}

/** A notification's txnTime may be this far from now, either way (docs/channel-unionpay.md). */
export const NOTIFY_WINDOW_MS = 24 * 3600_000;

const SUCCESS = new Set(['00', 'A6']);
/** 03/04/05: the transaction's outcome is not known yet (交易通讯超时 / 交易状态未明 / 交易已受理). */
const PENDING = new Set(['03', '04', '05']);
/**
 * Answers to a request that mean "ask again later", not a verdict: the outcome is not known yet
 * (03/04/05), or UnionPay is closed, busy or rate limiting (02 系统未开放或暂时关闭 / 06 系统繁忙 /
 * 37 已超过最大查询次数或操作过于频繁). The caller gets PAYMENT_CHANNEL_UNAVAILABLE and asks again.
 */
const RETRY_LATER = new Set([...PENDING, '02', '06', '37']);
/**
 * origRespCode / notification respCode values that end a refund for good (docs/channel-unionpay.md):
 * 01 交易失败, 30 交易未通过, 31 商户状态不正确, 32 无此交易权限, 33 交易金额超限,
 * 35 原交易不存在或状态不正确, 36 与原交易信息不符, 38 风险受限. Anything else (pending, an unknown
 * code) leaves the refund processing: a refund marked failed returns the balance to the card, and
 * a wrong "failed" would refund twice.
 */
export const REFUND_FINAL_FAILURES = new Set(['01', '30', '31', '32', '33', '35', '36', '38']);
/** The only currency the platform's fen are in: 156 (CNY). */
const CNY = '156';
/** 34: 查无此交易. */
const NOT_FOUND = '34';
/** 12: 重复交易 — the same orderId was sent before. */
const DUPLICATE = '12';
/** 98: 文件不存在 — the settle day's file is not produced (yet). */
const FILE_MISSING = '98';

/** What a caller may know of the original request, so a query can name it (orderId + txnTime, or queryId). */
export interface UnionPayQueryHint {
  /** The order's payload as createPayment returned it (its form holds the txnTime). */
  payload?: PaymentPayload | null;
  txnTime?: string;
  /** UnionPay's queryId of the transaction (payment: channelTxnId; refund: channelRefundId). */
  queryId?: string | null;
}

export interface UnionPayChannel extends PaymentChannel {
  queryPayment(orderNo: string, hint?: UnionPayQueryHint): Promise<PaymentState>;
  queryRefund(refundNo: string, orderNo: string, hint?: UnionPayQueryHint): Promise<RefundState>;
}

/** How many orderId → txnTime pairs the adapter remembers for queries that bring no hint. */
const TXN_TIME_MEMORY = 20_000;

export function createUnionPayChannel(cfg: UnionPayMerchantConfig, opts: ChannelOptions): UnionPayChannel {
  // Parsed once: a broken PEM in the configuration stops the server at start, not at the first payment.
  const signKey: KeyObject = createPrivateKey(cfg.signKeyPem);
  const certId = certIdOf(new X509Certificate(cfg.signCertPem));
  const trust = { root: new X509Certificate(cfg.rootCertPem), middle: new X509Certificate(cfg.middleCertPem) };
  const log = opts.logger.child({ channel: 'unionpay' });

  // UnionPay names a transaction by merId + orderId + txnTime. The txnTime of each request sent
  // by this process is remembered so a later query can name it; callers that stored the payload
  // pass it as a hint (the memory does not survive a restart).
  const txnTimes = new Map<string, string>();
  const remember = (orderId: string, txnTime: string) => {
    txnTimes.delete(orderId);
    txnTimes.set(orderId, txnTime);
    if (txnTimes.size > TXN_TIME_MEMORY) txnTimes.delete(txnTimes.keys().next().value!);
  };

  // Read at each call: the sandbox's base URL is known only once the server listens.
  const gateway = () => cfg.gatewayBase.replace(/\/+$/, '');
  const fileGateway = () => cfg.fileBase.replace(/\/+$/, '');

  const common = (): AcpFields => ({ version: ACP_VERSION, encoding: 'UTF-8', signMethod: '01', accessType: '0', merId: cfg.merId });

  function sign(fields: AcpFields): AcpFields {
    const withCert: AcpFields = { ...fields, certId };
    for (const k of Object.keys(withCert)) if (withCert[k] === '') delete withCert[k];
    return { ...withCert, signature: signFields(withCert, signKey) };
  }

  const channelError = (code: PaymentsErrorCode, details: Record<string, unknown>) => paymentsError(code, { channel: 'unionpay', ...details });

  /** POST a signed request to UnionPay's back end; the answer must be signed by UnionPay and name our merId. */
  async function call(url: string, fields: AcpFields): Promise<AcpFields> {
    const body = encodeForm(sign(fields));
    let status: number;
    let text: string;
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8', accept: '*/*' },
        body,
        signal: AbortSignal.timeout(opts.timeoutMs),
      });
      status = res.status;
      text = await res.text();
    } catch (err) {
      log.warn({ err, url }, 'UnionPay request failed');
      throw channelError('PAYMENT_CHANNEL_UNAVAILABLE', { reason: (err as Error).name === 'TimeoutError' ? 'timeout' : 'network' });
    }
    if (status >= 500) throw channelError('PAYMENT_CHANNEL_UNAVAILABLE', { httpStatus: status });
    const answer = status === 200 ? parseAnswer(text) : null;
    if (!answer) throw channelError('PAYMENT_CHANNEL_RESPONSE_INVALID', { httpStatus: status, reason: 'not a UnionPay answer' });
    // An unsigned answer is not trusted even when it refuses: acting on a forged refusal (a refund
    // marked failed) would move money as surely as acting on a forged success.
    const verdict = verifyUnionPaySigned(answer, trust, new Date());
    if (!verdict.ok) {
      log.warn({ reason: verdict.reason, respCode: answer.respCode, url }, 'UnionPay answer failed verification');
      throw channelError('PAYMENT_CHANNEL_RESPONSE_INVALID', { reason: verdict.reason, channelCode: answer.respCode, channelMessage: answer.respMsg });
    }
    if (answer.merId !== undefined && answer.merId !== cfg.merId) throw channelError('PAYMENT_CHANNEL_RESPONSE_INVALID', { reason: 'answer names another merId' });
    if (!answer.respCode) throw channelError('PAYMENT_CHANNEL_RESPONSE_INVALID', { reason: 'answer has no respCode' });
    return answer;
  }

  /** A non-success answer: retry-later codes become UNAVAILABLE (the caller asks again), the rest REJECTED. */
  const rejected = (a: AcpFields) =>
    channelError(RETRY_LATER.has(a.respCode ?? '') ? 'PAYMENT_CHANNEL_UNAVAILABLE' : 'PAYMENT_CHANNEL_REJECTED', { channelCode: a.respCode, channelMessage: a.respMsg });
  const checkCurrency = (a: AcpFields) => {
    if (a.currencyCode !== undefined && a.currencyCode !== CNY) throw channelError('PAYMENT_CHANNEL_RESPONSE_INVALID', { reason: `currencyCode ${a.currencyCode}` });
  };

  /** queryTrans.do: by queryId when known, else by orderId + txnTime. */
  async function queryTrans(orderId: string, hint: UnionPayQueryHint | undefined): Promise<AcpFields> {
    const base = { ...common(), txnType: '00', bizType: '000000' };
    let fields: AcpFields;
    if (hint?.queryId) fields = { ...base, txnSubType: '02', queryId: hint.queryId };
    else {
      const txnTime = hint?.txnTime ?? hint?.payload?.form?.fields.txnTime ?? txnTimes.get(orderId);
      if (!txnTime) throw channelError('PAYMENT_CHANNEL_REJECTED', { reason: 'txnTime of the original request is unknown; UnionPay names a transaction by orderId + txnTime', orderNo: orderId });
      fields = { ...base, txnSubType: '00', orderId, txnTime };
    }
    const a = await call(`${gateway()}/gateway/api/queryTrans.do`, fields);
    if (a.respCode === '00' && a.orderId !== undefined && a.orderId !== orderId) throw channelError('PAYMENT_CHANNEL_RESPONSE_INVALID', { reason: 'answer names another orderId' });
    return a;
  }

  const settleDay = (a: AcpFields): string | undefined => {
    const near = (a.txnTime && parseBeijingStamp(a.txnTime)) || new Date();
    return a.settleDate ? (resolveMonthDay(a.settleDate, near) ?? undefined) : undefined;
  };
  const traceInstant = (a: AcpFields): Date | undefined => {
    const near = (a.txnTime && parseBeijingStamp(a.txnTime)) || new Date();
    return (a.traceTime && resolveMonthDayTime(a.traceTime, near)) || (a.txnTime && parseBeijingStamp(a.txnTime)) || undefined;
  };

  async function queryRefund(refundNo: string, orderNo: string, hint?: UnionPayQueryHint): Promise<RefundState> {
    const a = await queryTrans(refundNo, hint);
    if (a.respCode === NOT_FOUND) return { refundNo, orderNo, status: 'not_found', channelStatus: a.respCode };
    if (a.respCode !== '00') throw rejected(a);
    checkCurrency(a);
    const orig = a.origRespCode ?? '';
    const amount = parseFen(a.txnAmt) ?? undefined;
    const base = { refundNo, orderNo, ...(a.queryId ? { channelRefundId: a.queryId } : {}), ...(amount !== undefined ? { amount } : {}) };
    if (SUCCESS.has(orig)) {
      const completedAt = traceInstant(a);
      return { ...base, status: 'succeeded', ...(completedAt ? { completedAt } : {}), channelStatus: orig };
    }
    if (REFUND_FINAL_FAILURES.has(orig)) return { ...base, status: 'failed', channelStatus: `${orig}:${a.origRespMsg ?? ''}` };
    return { ...base, status: 'processing', channelStatus: orig || 'unknown' };
  }

  return {
    code: 'unionpay',
    methods: ['online'],
    sandbox: opts.sandbox,
    merchantId: cfg.merId,

    async createPayment(input: CreatePaymentInput): Promise<PaymentPayload> {
      if (input.method !== 'online') throw paymentsError('PAYMENT_METHOD_NOT_SUPPORTED', { channel: 'unionpay', method: input.method });
      if (!/^[0-9A-Za-z]{8,40}$/.test(input.orderNo)) throw channelError('PAYMENT_CHANNEL_REJECTED', { reason: 'orderId must be 8–40 letters or digits' });
      if (!Number.isSafeInteger(input.amount) || input.amount <= 0) throw channelError('PAYMENT_CHANNEL_REJECTED', { reason: 'txnAmt must be a positive number of fen' });
      const txnTime = beijingStamp(new Date());
      const fields = sign({
        ...common(),
        txnType: '01',
        txnSubType: '01',
        bizType: '000201',
        channelType: '07',
        orderId: input.orderNo,
        txnTime,
        txnAmt: String(input.amount),
        currencyCode: '156',
        backUrl: input.notifyUrl,
        frontUrl: input.returnUrl ?? `${new URL(input.notifyUrl).origin}/`,
        // UnionPay itself refuses the payment after this: the nearest thing it has to closing an unpaid order.
        payTimeout: beijingStamp(input.expiresAt),
        ...(input.payer?.clientIp ? { customerIp: input.payer.clientIp } : {}),
      });
      remember(input.orderNo, txnTime);
      const action = `${gateway()}/gateway/api/frontTransReq.do`;
      const payload: PaymentPayload = { form: { action, fields } };
      if (opts.sandbox) {
        // The sandbox learns of a front transaction only when its form is posted, as UnionPay does.
        // Post it now, as the payer's browser would, so its payer page and test controls know the
        // order; the real gateway is never called here (the payer's browser posts the form). The
        // sandbox redirects to the payer page under an unguessable token, which becomes sandboxUrl.
        let res: Response;
        try {
          res = await fetch(action, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: encodeForm(fields), redirect: 'manual', signal: AbortSignal.timeout(opts.timeoutMs) });
          await res.arrayBuffer();
        } catch {
          throw channelError('PAYMENT_CHANNEL_UNAVAILABLE', { reason: 'sandbox unreachable' });
        }
        const location = res.headers.get('location');
        if (res.status !== 302 || !location) throw channelError('PAYMENT_CHANNEL_REJECTED', { httpStatus: res.status, reason: 'sandbox refused the front request' });
        payload.sandboxUrl = new URL(location, action).toString();
      }
      return payload;
    },

    async verifyNotification(raw: RawNotification): Promise<NotificationVerdict> {
      const f = parseForm(raw.body);
      if (!f) return { ok: false, code: 'PAYMENT_NOTIFY_MALFORMED', detail: 'not a UTF-8 form body' };
      const orderNo = f.orderId;
      const missing = ['version', 'signMethod', 'signature', 'signPubKeyCert', 'txnType', 'merId', 'orderId', 'txnTime', 'txnAmt', 'respCode', 'queryId'].filter((k) => !f[k]);
      if (missing.length > 0) return { ok: false, code: 'PAYMENT_NOTIFY_MALFORMED', detail: `missing ${missing.join(', ')}`, orderNo };
      if (f.version !== ACP_VERSION) return { ok: false, code: 'PAYMENT_NOTIFY_MALFORMED', detail: `version ${f.version}`, orderNo };
      if (f.encoding !== undefined && f.encoding.toUpperCase() !== 'UTF-8') return { ok: false, code: 'PAYMENT_NOTIFY_MALFORMED', detail: `encoding ${f.encoding}`, orderNo };
      const verdict = verifyUnionPaySigned(f, trust, raw.now);
      if (!verdict.ok) return { ok: false, code: 'PAYMENT_NOTIFY_SIGNATURE_INVALID', detail: verdict.reason, orderNo };
      const sentAt = parseBeijingStamp(f.txnTime!);
      if (!sentAt) return { ok: false, code: 'PAYMENT_NOTIFY_MALFORMED', detail: 'txnTime is not a time', orderNo };
      if (Math.abs(raw.now.getTime() - sentAt.getTime()) > NOTIFY_WINDOW_MS) return { ok: false, code: 'PAYMENT_NOTIFY_STALE', detail: `txnTime ${f.txnTime}`, orderNo };
      if (f.merId !== cfg.merId) return { ok: false, code: 'PAYMENT_NOTIFY_MERCHANT_MISMATCH', detail: `merId ${f.merId}`, orderNo };
      // txnAmt is fen of CNY only: another currency's number must not be credited as fen.
      if (f.currencyCode !== undefined && f.currencyCode !== CNY) return { ok: false, code: 'PAYMENT_NOTIFY_MALFORMED', detail: `currencyCode ${f.currencyCode}`, orderNo };
      const amount = parseFen(f.txnAmt);
      if (amount === null) return { ok: false, code: 'PAYMENT_NOTIFY_MALFORMED', detail: 'txnAmt is not an amount in fen', orderNo };
      const settleDate = f.settleDate ? resolveMonthDay(f.settleDate, sentAt) : undefined;
      if (settleDate === null) return { ok: false, code: 'PAYMENT_NOTIFY_MALFORMED', detail: 'settleDate is not a day', orderNo };
      const at = (f.traceTime && resolveMonthDayTime(f.traceTime, sentAt)) || sentAt;
      const notifyId = `${f.queryId}:${f.txnType}`;
      if (f.txnType === '01') {
        // Only a success is final in a payment notification; anything else leaves the order to the query.
        const paid = SUCCESS.has(f.respCode!);
        return {
          ok: true,
          notification: {
            kind: 'payment',
            notifyId,
            merchantId: f.merId!,
            payment: {
              orderNo: orderNo!,
              status: paid ? 'paid' : 'paying',
              channelTxnId: f.queryId,
              amount,
              ...(paid ? { paidAt: at } : {}),
              ...(settleDate ? { settleDate } : {}),
              channelStatus: f.respCode,
            },
          },
        };
      }
      if (f.txnType === '04') {
        const respCode = f.respCode!;
        const status: RefundState['status'] = SUCCESS.has(respCode) ? 'succeeded' : REFUND_FINAL_FAILURES.has(respCode) ? 'failed' : 'processing';
        return {
          ok: true,
          notification: {
            kind: 'refund',
            notifyId,
            merchantId: f.merId!,
            refund: {
              refundNo: orderNo!,
              status,
              channelRefundId: f.queryId,
              amount,
              ...(status === 'processing' ? {} : { completedAt: at }),
              channelStatus: respCode,
            },
          },
        };
      }
      return { ok: false, code: 'PAYMENT_NOTIFY_MALFORMED', detail: `txnType ${f.txnType} is neither a consumption nor a refund`, orderNo };
    },

    ack(ok: boolean): NotifyAck {
      // UnionPay takes HTTP 200 (or 302) as delivered and retries anything else.
      return ok ? { status: 200, body: 'ok', contentType: 'text/plain; charset=utf-8' } : { status: 400, body: 'fail', contentType: 'text/plain; charset=utf-8' };
    },

    async queryPayment(orderNo: string, hint?: UnionPayQueryHint): Promise<PaymentState> {
      const a = await queryTrans(orderNo, hint);
      if (a.respCode === NOT_FOUND) return { orderNo, status: 'not_found', channelStatus: a.respCode };
      if (a.respCode !== '00') throw rejected(a);
      checkCurrency(a);
      const orig = a.origRespCode ?? '';
      const amount = parseFen(a.txnAmt) ?? undefined;
      if (SUCCESS.has(orig)) {
        if (!a.queryId || amount === undefined) throw channelError('PAYMENT_CHANNEL_RESPONSE_INVALID', { reason: 'a paid answer without queryId or txnAmt' });
        const settleDate = settleDay(a);
        const paidAt = traceInstant(a);
        return { orderNo, status: 'paid', channelTxnId: a.queryId, amount, ...(paidAt ? { paidAt } : {}), ...(settleDate ? { settleDate } : {}), channelStatus: orig };
      }
      if (PENDING.has(orig)) return { orderNo, status: 'paying', ...(a.queryId ? { channelTxnId: a.queryId } : {}), channelStatus: orig };
      return { orderNo, status: 'failed', ...(a.queryId ? { channelTxnId: a.queryId } : {}), ...(amount !== undefined ? { amount } : {}), channelStatus: `${orig}:${a.origRespMsg ?? ''}` };
    },

    async closePayment(): Promise<void> {
      // UnionPay has no close for a front transaction the payer has not paid: the payTimeout sent
      // with it makes UnionPay refuse a payment after the order expires, and a payment that still
      // lands is credited (or refunded) by the platform like any late payment.
    },

    async refund(req: RefundRequest): Promise<RefundState> {
      if (!req.channelTxnId) throw paymentsError('PAYMENT_REFUND_NOT_ALLOWED', { channel: 'unionpay', reason: 'UnionPay refunds name the payment by its queryId (origQryId), which the order lacks', orderNo: req.orderNo });
      // UnionPay names a transaction by orderId + txnTime. The txnTime comes from when the platform
      // first asked for the refund (stored with it), so a retry — even from another process after a
      // restart — is the same transaction to UnionPay (answered 12, duplicate), never a second refund.
      const txnTime = beijingStamp(req.requestedAt);
      remember(req.refundNo, txnTime);
      const a = await call(`${gateway()}/gateway/api/backTransReq.do`, {
        ...common(),
        txnType: '04',
        txnSubType: '00',
        bizType: '000201',
        channelType: '07',
        orderId: req.refundNo,
        origQryId: req.channelTxnId,
        txnTime,
        txnAmt: String(req.amount),
        backUrl: req.notifyUrl,
      });
      if (a.respCode === '00') return { refundNo: req.refundNo, orderNo: req.orderNo, status: 'processing', ...(a.queryId ? { channelRefundId: a.queryId } : {}), amount: req.amount, channelStatus: a.respCode };
      // Not known yet, or UnionPay busy: the platform sends the same request again later (same
      // txnTime), which UnionPay answers as a duplicate of a refund it took, or takes now.
      if (RETRY_LATER.has(a.respCode!)) throw rejected(a);
      if (a.respCode === DUPLICATE) {
        const state = await queryRefund(req.refundNo, req.orderNo, { txnTime });
        return state.status === 'not_found' ? { refundNo: req.refundNo, orderNo: req.orderNo, status: 'processing', amount: req.amount, channelStatus: a.respCode } : state;
      }
      // Any other answer is UnionPay refusing this refund for good (amount, state of the payment…).
      return { refundNo: req.refundNo, orderNo: req.orderNo, status: 'failed', amount: req.amount, channelStatus: `${a.respCode}:${a.respMsg ?? ''}` };
    },

    queryRefund,

    async fetchStatement(billDate: string): Promise<FetchedStatement> {
      const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(billDate);
      if (!m || !parseBeijingStamp(`${m[1]}${m[2]}${m[3]}000000`)) throw paymentsError('PAYMENT_STATEMENT_MALFORMED', { channel: 'unionpay', field: 'billDate' });
      const a = await call(`${fileGateway()}/`, {
        ...common(),
        txnType: '76',
        txnSubType: '01',
        bizType: '000000',
        fileType: '00',
        settleDate: `${m[2]}${m[3]}`,
        txnTime: beijingStamp(new Date()),
      });
      if (a.respCode === FILE_MISSING) throw paymentsError('PAYMENT_STATEMENT_NOT_READY', { channel: 'unionpay', billDate, channelCode: a.respCode, channelMessage: a.respMsg });
      if (a.respCode !== '00') throw rejected(a);
      if (!a.fileContent) throw channelError('PAYMENT_CHANNEL_RESPONSE_INVALID', { reason: 'no fileContent' });
      let zip: Buffer;
      try {
        zip = decodeFileContent(a.fileContent);
      } catch {
        throw channelError('PAYMENT_CHANNEL_RESPONSE_INVALID', { reason: 'fileContent does not inflate' });
      }
      return { fileName: a.fileName || `${m[1]}${m[2]}${m[3]}_${cfg.merId}.zip`, content: zip };
    },

    parseStatement(file: FetchedStatement) {
      return parseUnionPayStatement(file);
    },
  };
}
