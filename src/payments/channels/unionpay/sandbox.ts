/**
 * A local UnionPay (全渠道 ACP 5.1.0) for development and tests: the gateway endpoints the adapter
 * uses under /sandbox/unionpay/, merchant signatures checked, answers and notifications signed
 * with a generated UnionPay certificate chained to a generated root, trades in memory, the
 * payer's page, and the reconciliation file of any settle day (docs/channel-unionpay.md).
 */
import { createPrivateKey, randomBytes, randomInt, X509Certificate, type KeyObject } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { access, type App } from '../../../platform/index.js';
import type { FetchedStatement } from '../../channel.js';
import type { UnionPayMerchantConfig } from '../../payments.config.js';
import type { Logger } from 'pino';
import type { NotifyMode, SandboxDelivery, SandboxNotification, SandboxProvider } from '../../sandbox.js';
import {
  ACP_VERSION,
  beijingDay,
  beijingStamp,
  certIdOf,
  encodeAnswer,
  encodeForm,
  parseBeijingStamp,
  parseFen,
  parseForm,
  resolveMonthDay,
  signFields,
  verifyFieldsSignature,
  type AcpFields,
} from './acp.js';
import { createUnionPayPki, rsaKeyPair } from './certs.js';
import { buildStatementZip, encodeFileContent, flowRecord, type FlowRecord } from './statement.js';

/** runtime.ts's SandboxOptions, restated: runtime imports this module, so importing it back would make a cycle. */
export interface SandboxOptions {
  publicUrl: () => string;
  logger: Logger;
}

export interface UnionPaySandbox extends SandboxProvider {
  /** Merchant credentials matching the sandbox's generated keys; the API base is <publicUrl>/sandbox/unionpay. */
  readonly merchant: UnionPayMerchantConfig;
  /**
   * Beijing hour from which a payment settles on the next day (UnionPay switches its clearing day
   * around 23:00). 24 (the default) = midnight, so settleDate is the payment's calendar day.
   */
  settleCutoverHour: number;
  /** Merchant fee the statement shows, in thousandths of the amount (6 = 0.6 %), rounded to the fen. */
  feePermille: number;
  /** Test control: the next refund request (backTransReq) is answered with this respCode (e.g. 06 系统繁忙) and not processed. Cleared once used. */
  nextRefundRespCode: string | null;
}

const PREFIX = '/sandbox/unionpay';
const MERCHANT_NAME = '演示加油卡商户';
const NOTIFY_TIMEOUT_MS = 10_000;

interface Trade {
  orderId: string;
  txnTime: string;
  txnAmt: number;
  backUrl: string;
  frontUrl: string;
  payTimeout: Date | null;
  /** The payer page's address: random, so nobody can pay an order by guessing its number. */
  token: string;
  status: 'presented' | 'paid';
  queryId?: string;
  traceNo?: string;
  paidAt?: Date;
  settleDate?: string;
  paidAmount?: number;
  refunded: number;
}

interface RefundTrade {
  orderId: string;
  txnTime: string;
  txnAmt: number;
  origQryId: string;
  origOrderId: string;
  origTxnTime: string;
  backUrl: string;
  queryId: string;
  traceNo: string;
  acceptedAt: Date;
  status: 'processing' | 'succeeded' | 'failed';
  completedAt?: Date;
  settleDate?: string;
}

const RESP_MSG: Readonly<Record<string, string>> = {
  '00': '成功[0000000]',
  '01': '交易失败[1000001]',
  '02': '系统未开放或暂时关闭，请稍后再试[0000002]',
  '06': '系统繁忙，请稍后再试[0000006]',
  '10': '报文格式错误[1000010]',
  '11': '验证签名失败[1000011]',
  '12': '重复交易[1000012]',
  '34': '查无此交易[2000034]',
  '35': '原交易不存在或状态不正确[2000035]',
  '36': '交易金额超限[2000036]',
  '40': '交易类型不支持[2000040]',
  '98': '文件不存在[9800098]',
};

const html = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const yuan = (fen: number) => `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`;

export function createUnionPaySandbox(opts: SandboxOptions): UnionPaySandbox {
  const merId = '777290058110048';
  const pki = createUnionPayPki(merId);
  const upKey: KeyObject = createPrivateKey(pki.unionpaySign.keyPem);
  const impostorKey: KeyObject = createPrivateKey(rsaKeyPair().privateKeyPem);
  const merchantCert = new X509Certificate(pki.merchantSign.certPem);
  const merchantCertId = certIdOf(merchantCert);
  const base = () => `${opts.publicUrl().replace(/\/+$/, '')}${PREFIX}`;
  const log = opts.logger.child({ sandbox: 'unionpay' });

  const merchant: UnionPayMerchantConfig = {
    merId,
    signCertPem: pki.merchantSign.certPem,
    signKeyPem: pki.merchantSign.keyPem,
    rootCertPem: pki.root.certPem,
    middleCertPem: pki.middle.certPem,
    get gatewayBase() {
      return base();
    },
    get fileBase() {
      return `${base()}/filedownload`;
    },
  };

  /** Trades by orderId + txnTime (how UnionPay names them); byOrder points at the latest of an orderId. */
  const trades = new Map<string, Trade>();
  const byOrder = new Map<string, Trade>();
  const byToken = new Map<string, Trade>();
  const byQueryId = new Map<string, Trade>();
  /** Refunds by orderId + txnTime, as UnionPay names them: the same refund number sent at another txnTime is another refund. */
  const refundTxns = new Map<string, RefundTrade>();
  /** The latest refund of each refund number (orderId), for the test controls. */
  const refunds = new Map<string, RefundTrade>();
  const refundsByQueryId = new Map<string, RefundTrade>();
  const lastSent = new Map<string, { url: string; n: SandboxNotification }>();
  let lastBackUrl: string | null = null;
  let seq = 0;

  const newQueryId = (at: Date) => `${beijingStamp(at)}${String(++seq % 1e7).padStart(7, '0')}`;
  const newTraceNo = () => String(randomInt(0, 1_000_000)).padStart(6, '0');

  const sandbox: UnionPaySandbox = {
    channel: 'unionpay',
    merchant,
    refundMode: 'auto',
    settleCutoverHour: 24,
    feePermille: 6,
    nextRefundRespCode: null,
    register,
    pay,
    replayLast,
    buildPaymentNotification,
    deliver,
    addStrayPayment,
    settleRefund,
    statementFile,
  };

  function settleDayOf(at: Date): string {
    const hour = Number(beijingStamp(at).slice(8, 10));
    return hour >= sandbox.settleCutoverHour ? beijingDay(new Date(at.getTime() + 86_400_000)) : beijingDay(at);
  }
  const mmdd = (day: string) => day.slice(5, 7) + day.slice(8, 10);
  const fee = (amount: number) => Math.round((amount * sandbox.feePermille) / 1000);

  /** UnionPay's signature on a message it sends: signPubKeyCert included in what is signed. */
  function signAsUnionPay(fields: AcpFields, key: KeyObject = upKey): AcpFields {
    const withCert: AcpFields = { ...fields, signPubKeyCert: pki.unionpaySign.certPem };
    return { ...withCert, signature: signFields(withCert, key) };
  }

  /** The merchant's request: its certId, its signature, its merId, version 5.1.0. Null = accepted, else the respCode. */
  function checkMerchant(f: AcpFields): string | null {
    if (f.version !== ACP_VERSION || f.signMethod !== '01' || !f.signature) return '10';
    if (f.certId !== merchantCertId || !verifyFieldsSignature(f, merchantCert.publicKey)) return '11';
    if (f.merId !== merId) return '10';
    return null;
  }

  function answer(reply: FastifyReply, request: AcpFields, fields: AcpFields) {
    const respCode = fields.respCode ?? '00';
    const out = signAsUnionPay({
      version: ACP_VERSION,
      encoding: 'UTF-8',
      signMethod: '01',
      accessType: '0',
      merId,
      ...(request.txnType ? { txnType: request.txnType } : {}),
      ...(request.txnSubType ? { txnSubType: request.txnSubType } : {}),
      ...(request.bizType ? { bizType: request.bizType } : {}),
      ...(request.orderId ? { orderId: request.orderId } : {}),
      ...(request.txnTime ? { txnTime: request.txnTime } : {}),
      ...fields,
      respCode,
      respMsg: RESP_MSG[respCode] ?? respCode,
    });
    return reply.status(200).type('text/plain; charset=utf-8').send(encodeAnswer(out));
  }

  function paymentNotificationFields(t: Trade, o: { amount?: number; merchantId?: string; timestamp?: Date; queryId?: string; traceNo?: string; paidAt?: Date; settleDate?: string } = {}): AcpFields {
    const paidAt = o.paidAt ?? t.paidAt ?? new Date();
    const amount = o.amount ?? t.paidAmount ?? t.txnAmt;
    return {
      version: ACP_VERSION,
      encoding: 'UTF-8',
      signMethod: '01',
      txnType: '01',
      txnSubType: '01',
      bizType: '000201',
      accessType: '0',
      merId: o.merchantId ?? merId,
      orderId: t.orderId,
      txnTime: o.timestamp ? beijingStamp(o.timestamp) : t.txnTime,
      txnAmt: String(amount),
      currencyCode: '156',
      queryId: o.queryId ?? t.queryId ?? newQueryId(paidAt),
      traceNo: o.traceNo ?? t.traceNo ?? newTraceNo(),
      traceTime: beijingStamp(paidAt).slice(4),
      settleAmt: String(amount),
      settleCurrencyCode: '156',
      settleDate: mmdd(o.settleDate ?? t.settleDate ?? settleDayOf(paidAt)),
      accNo: '6216***********0018',
      payCardType: '01',
      payType: '0001',
      respCode: '00',
      respMsg: RESP_MSG['00']!,
    };
  }

  function refundNotificationFields(r: RefundTrade): AcpFields {
    const at = r.completedAt ?? new Date();
    const ok = r.status === 'succeeded';
    return {
      version: ACP_VERSION,
      encoding: 'UTF-8',
      signMethod: '01',
      txnType: '04',
      txnSubType: '00',
      bizType: '000201',
      accessType: '0',
      merId,
      orderId: r.orderId,
      origQryId: r.origQryId,
      txnTime: r.txnTime,
      txnAmt: String(r.txnAmt),
      currencyCode: '156',
      queryId: r.queryId,
      traceNo: r.traceNo,
      traceTime: beijingStamp(at).slice(4),
      settleAmt: String(r.txnAmt),
      settleCurrencyCode: '156',
      settleDate: mmdd(r.settleDate ?? settleDayOf(at)),
      respCode: ok ? '00' : '01',
      respMsg: RESP_MSG[ok ? '00' : '01']!,
    };
  }

  const toNotification = (fields: AcpFields): SandboxNotification => ({
    headers: { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8' },
    body: Buffer.from(encodeForm(fields), 'utf8'),
  });

  async function post(url: string, n: SandboxNotification): Promise<SandboxDelivery> {
    try {
      const res = await fetch(url, { method: 'POST', headers: n.headers, body: new Uint8Array(n.body), signal: AbortSignal.timeout(NOTIFY_TIMEOUT_MS) });
      return { status: res.status, body: await res.text() };
    } catch (err) {
      log.warn({ err, url }, 'sandbox notification not delivered');
      return { status: 0, body: (err as Error).message };
    }
  }

  async function send(key: string, url: string, n: SandboxNotification, mode: NotifyMode): Promise<SandboxDelivery[]> {
    if (!url || mode === 'never') return [];
    lastSent.set(key, { url, n });
    if (mode === 'twice_at_once') return Promise.all([post(url, n), post(url, n)]);
    return [await post(url, n)];
  }

  function markPaid(t: Trade, amount?: number): void {
    if (t.status === 'paid') throw new Error(`UnionPay sandbox: order ${t.orderId} is already paid`);
    const now = new Date();
    if (t.payTimeout && now > t.payTimeout) throw new Error(`UnionPay sandbox: order ${t.orderId} is past its payTimeout`);
    t.status = 'paid';
    t.paidAt = now;
    t.paidAmount = amount ?? t.txnAmt;
    t.queryId = newQueryId(now);
    t.traceNo = newTraceNo();
    t.settleDate = settleDayOf(now);
    byQueryId.set(t.queryId, t);
  }

  async function pay(orderNo: string, o: { notify?: NotifyMode; amount?: number } = {}) {
    const t = byOrder.get(orderNo);
    if (!t) throw new Error(`UnionPay sandbox: no front transaction for order ${orderNo}`);
    markPaid(t, o.amount);
    const deliveries = await send(orderNo, t.backUrl, toNotification(signAsUnionPay(paymentNotificationFields(t))), o.notify ?? 'once');
    return { channelTxnId: t.queryId!, deliveries };
  }

  async function replayLast(no: string): Promise<SandboxDelivery> {
    const last = lastSent.get(no);
    if (!last) throw new Error(`UnionPay sandbox: nothing was sent for ${no}`);
    return post(last.url, last.n);
  }

  function buildPaymentNotification(orderNo: string, o: { amount?: number; merchantId?: string; timestamp?: Date; forge?: 'wrong_key' | 'signtest' } = {}): SandboxNotification {
    const t = byOrder.get(orderNo);
    if (!t) throw new Error(`UnionPay sandbox: no front transaction for order ${orderNo}`);
    const fields = paymentNotificationFields(t, o);
    if (o.forge === 'signtest') {
      // UnionPay has no probe traffic; the nearest thing is a signature that is not one.
      return toNotification({ ...signAsUnionPay(fields), signature: Buffer.from('SIGNTEST').toString('base64') });
    }
    return toNotification(signAsUnionPay(fields, o.forge === 'wrong_key' ? impostorKey : upKey));
  }

  async function deliver(n: SandboxNotification): Promise<SandboxDelivery> {
    const f = parseForm(n.body);
    const named = f?.orderId ? (byOrder.get(f.orderId)?.backUrl ?? refunds.get(f.orderId)?.backUrl) : undefined;
    const url = named || lastBackUrl || `${opts.publicUrl().replace(/\/+$/, '')}/api/v1/payments/notify/unionpay`;
    return post(url, n);
  }

  function addStrayPayment(input: { amount: number; orderNo?: string; paidAt?: Date }) {
    const paidAt = input.paidAt ?? new Date();
    const orderId = input.orderNo ?? `P${beijingDay(paidAt).replace(/-/g, '')}${String(randomInt(0, 1e11)).padStart(11, '0')}`;
    const t: Trade = { orderId, txnTime: beijingStamp(paidAt), txnAmt: input.amount, backUrl: '', frontUrl: '', payTimeout: null, token: randomBytes(16).toString('base64url'), status: 'paid', refunded: 0 };
    t.paidAt = paidAt;
    t.paidAmount = input.amount;
    t.queryId = newQueryId(paidAt);
    t.traceNo = newTraceNo();
    t.settleDate = settleDayOf(paidAt);
    trades.set(`${orderId}|${t.txnTime}`, t);
    if (!byOrder.has(orderId)) byOrder.set(orderId, t);
    byQueryId.set(t.queryId, t);
    return { channelTxnId: t.queryId, orderNo: orderId };
  }

  async function settleRefund(refundNo: string, o: { outcome?: 'succeeded' | 'failed'; notify?: NotifyMode } = {}) {
    const r = refunds.get(refundNo);
    if (!r) throw new Error(`UnionPay sandbox: no refund ${refundNo}`);
    if (r.status !== 'processing') throw new Error(`UnionPay sandbox: refund ${refundNo} is already ${r.status}`);
    const outcome = o.outcome ?? 'succeeded';
    r.status = outcome;
    r.completedAt = new Date();
    r.settleDate = settleDayOf(r.completedAt);
    if (outcome === 'failed') {
      const orig = byQueryId.get(r.origQryId);
      if (orig) orig.refunded -= r.txnAmt;
    }
    const deliveries = await send(refundNo, r.backUrl, toNotification(signAsUnionPay(refundNotificationFields(r))), o.notify ?? 'once');
    return { deliveries };
  }

  function statementFile(billDate: string): FetchedStatement {
    const records: Array<{ at: Date; rec: FlowRecord }> = [];
    for (const t of trades.values()) {
      if (t.status !== 'paid' || t.settleDate !== billDate) continue;
      const amount = t.paidAmount ?? t.txnAmt;
      records.push({ at: t.paidAt!, rec: flowRecord({ txnType: '01', merId, queryId: t.queryId!, orderId: t.orderId, txnAmt: amount, feeFen: fee(amount), traceNo: t.traceNo!, traceTime: t.paidAt! }) });
    }
    for (const r of refundTxns.values()) {
      if (r.status !== 'succeeded' || r.settleDate !== billDate) continue;
      records.push({
        at: r.completedAt!,
        rec: flowRecord({
          txnType: '04',
          merId,
          queryId: r.queryId,
          orderId: r.orderId,
          txnAmt: r.txnAmt,
          feeFen: fee(r.txnAmt),
          traceNo: r.traceNo,
          traceTime: r.completedAt!,
          origQryId: r.origQryId,
          origOrderId: r.origOrderId,
          origTxnTime: parseBeijingStamp(r.origTxnTime) ?? undefined,
        }),
      });
    }
    records.sort((a, b) => a.at.getTime() - b.at.getTime());
    const content = buildStatementZip({ merId, settleDate: billDate, records: records.map((r) => r.rec) });
    return { fileName: `ZM_${merId}_${billDate.replace(/-/g, '')}.zip`, content };
  }

  /* ── HTTP ─────────────────────────────────────────────────────────────────────────────────── */

  function payerPage(t: Trade, note?: string): string {
    const paid = t.status === 'paid';
    const action = `${PREFIX}/pay/${t.token}`;
    return `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>银联在线支付（沙箱）/ UnionPay sandbox</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem}dt{color:#666}dd{margin:0 0 .8rem}button{font-size:1rem;padding:.6rem 1rem;margin:.3rem 0;width:100%}.amt{font-size:1.6rem;font-weight:600}.note{padding:.6rem;background:#f4f4f4}</style>
</head><body>
<h1>银联在线支付 <small>沙箱 / Sandbox</small></h1>
${note ? `<p class="note">${html(note)}</p>` : ''}
<dl>
<dt>商户 / Merchant</dt><dd>${html(MERCHANT_NAME)}（${html(merId)}）</dd>
<dt>订单号 / Order</dt><dd>${html(t.orderId)}</dd>
<dt>金额 / Amount</dt><dd class="amt">¥ ${yuan(t.txnAmt)}</dd>
<dt>状态 / Status</dt><dd>${paid ? `已支付 / Paid（${html(t.queryId ?? '')}）` : '待支付 / Awaiting payment'}</dd>
</dl>
${
  paid
    ? `<p><a href="${html(t.frontUrl)}">返回商户 / Back to the merchant</a></p>`
    : `<form method="post" action="${html(action)}"><input type="hidden" name="action" value="pay"><button type="submit">确认支付 / Pay</button></form>
<form method="post" action="${html(action)}"><input type="hidden" name="action" value="pay_silent"><button type="submit">支付但不通知 / Pay without notifying</button></form>`
}
</body></html>`;
  }

  const page = (reply: FastifyReply, status: number, body: string) => reply.status(status).type('text/html; charset=utf-8').send(body);
  const errorPage = (reply: FastifyReply, status: number, message: string) =>
    page(reply, status, `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>银联沙箱</title></head><body><h1>银联在线支付（沙箱）</h1><p>${html(message)}</p></body></html>`);

  const formOf = (request: FastifyRequest): AcpFields | null => (Buffer.isBuffer(request.body) ? parseForm(request.body) : null);

  function register(app: App): void {
    void app.register(
      async (sub) => {
        sub.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer', bodyLimit: 1024 * 1024 }, (_req, body, done) => done(null, body));
        const route = { config: { access: access.public }, schema: { hide: true } };

        // The payer's browser posts the merchant's signed form here; the answer is the payment page.
        sub.post('/gateway/api/frontTransReq.do', route, async (request, reply) => {
          const f = formOf(request);
          if (!f) return errorPage(reply, 400, '报文格式错误 / Malformed form');
          const refused = checkMerchant(f);
          if (refused) return errorPage(reply, 400, `${RESP_MSG[refused]} / The merchant's request was refused`);
          const amount = parseFen(f.txnAmt);
          if (f.txnType !== '01' || f.txnSubType !== '01' || !amount || !f.orderId || !f.txnTime || !parseBeijingStamp(f.txnTime) || !f.backUrl) {
            return errorPage(reply, 400, `${RESP_MSG['10']} / Malformed consumption request`);
          }
          const key = `${f.orderId}|${f.txnTime}`;
          let t = trades.get(key);
          if (!t) {
            const prior = byOrder.get(f.orderId);
            if (prior?.status === 'paid') return errorPage(reply, 400, `${RESP_MSG['12']} / Order already paid`);
            t = {
              orderId: f.orderId,
              txnTime: f.txnTime,
              txnAmt: amount,
              backUrl: f.backUrl,
              frontUrl: f.frontUrl ?? '',
              payTimeout: f.payTimeout ? parseBeijingStamp(f.payTimeout) : null,
              token: randomBytes(16).toString('base64url'),
              status: 'presented',
              refunded: 0,
            };
            trades.set(key, t);
            byOrder.set(f.orderId, t);
            byToken.set(t.token, t);
            lastBackUrl = f.backUrl;
          }
          // On to the payer page under the trade's random token (the order number would be guessable).
          return reply.redirect(`${PREFIX}/pay/${t.token}`, 302);
        });

        sub.get('/pay/:token', route, async (request, reply) => {
          const t = byToken.get((request.params as { token: string }).token);
          if (!t) return errorPage(reply, 404, '查无此交易 / No such order');
          return page(reply, 200, payerPage(t));
        });

        sub.post('/pay/:token', route, async (request, reply) => {
          const t = byToken.get((request.params as { token: string }).token);
          if (!t) return errorPage(reply, 404, '查无此交易 / No such order');
          const action = formOf(request)?.action;
          if (action !== 'pay' && action !== 'pay_silent') return errorPage(reply, 400, '报文格式错误 / Malformed form');
          try {
            const r = await pay(t.orderId, { notify: action === 'pay' ? 'once' : 'never' });
            const note = action === 'pay' ? `支付成功，已通知商户（HTTP ${r.deliveries[0]?.status ?? '-'}）/ Paid, merchant notified` : '支付成功，未通知商户 / Paid, merchant not notified';
            return page(reply, 200, payerPage(t, note));
          } catch (err) {
            return errorPage(reply, 409, (err as Error).message);
          }
        });

        sub.post('/gateway/api/queryTrans.do', route, async (request, reply) => {
          const f = formOf(request);
          if (!f) return reply.status(400).type('text/plain').send('');
          const refused = checkMerchant(f);
          if (refused) return answer(reply, f, { respCode: refused });
          if (f.txnType !== '00') return answer(reply, f, { respCode: '40' });
          let t: Trade | undefined;
          let r: RefundTrade | undefined;
          if (f.queryId) {
            t = byQueryId.get(f.queryId);
            r = refundsByQueryId.get(f.queryId);
          } else {
            t = f.orderId && f.txnTime ? trades.get(`${f.orderId}|${f.txnTime}`) : undefined;
            r = f.orderId && f.txnTime ? refundTxns.get(`${f.orderId}|${f.txnTime}`) : undefined;
          }
          // An unpaid front transaction is unknown to UnionPay's query (34) until the payer pays.
          if (t && t.status === 'paid') {
            const amount = t.paidAmount ?? t.txnAmt;
            return answer(reply, f, {
              orderId: t.orderId,
              txnTime: t.txnTime,
              queryId: t.queryId!,
              traceNo: t.traceNo!,
              traceTime: beijingStamp(t.paidAt!).slice(4),
              settleDate: mmdd(t.settleDate!),
              txnAmt: String(amount),
              settleAmt: String(amount),
              settleCurrencyCode: '156',
              currencyCode: '156',
              origRespCode: '00',
              origRespMsg: RESP_MSG['00']!,
            });
          }
          if (r) {
            const orig = r.status === 'succeeded' ? '00' : r.status === 'failed' ? '01' : '05';
            return answer(reply, f, {
              orderId: r.orderId,
              txnTime: r.txnTime,
              queryId: r.queryId,
              origQryId: r.origQryId,
              traceNo: r.traceNo,
              ...(r.completedAt ? { traceTime: beijingStamp(r.completedAt).slice(4) } : {}),
              ...(r.settleDate ? { settleDate: mmdd(r.settleDate) } : {}),
              txnAmt: String(r.txnAmt),
              currencyCode: '156',
              origRespCode: orig,
              origRespMsg: orig === '05' ? '交易已受理，请稍后查询交易结果[0000005]' : RESP_MSG[orig]!,
            });
          }
          return answer(reply, f, { respCode: '34' });
        });

        sub.post('/gateway/api/backTransReq.do', route, async (request, reply) => {
          const f = formOf(request);
          if (!f) return reply.status(400).type('text/plain').send('');
          const refused = checkMerchant(f);
          if (refused) return answer(reply, f, { respCode: refused });
          if (f.txnType !== '04') return answer(reply, f, { respCode: '40' });
          const amount = parseFen(f.txnAmt);
          if (!amount || !f.orderId || !f.txnTime || !parseBeijingStamp(f.txnTime) || !f.origQryId || !f.backUrl) return answer(reply, f, { respCode: '10' });
          if (sandbox.nextRefundRespCode) {
            const respCode = sandbox.nextRefundRespCode;
            sandbox.nextRefundRespCode = null;
            return answer(reply, f, { respCode });
          }
          if (refundTxns.has(`${f.orderId}|${f.txnTime}`)) return answer(reply, f, { respCode: '12' });
          const orig = byQueryId.get(f.origQryId);
          if (!orig || orig.status !== 'paid') return answer(reply, f, { respCode: '35' });
          if (orig.refunded + amount > (orig.paidAmount ?? orig.txnAmt)) return answer(reply, f, { respCode: '36' });
          orig.refunded += amount;
          const now = new Date();
          const r: RefundTrade = {
            orderId: f.orderId,
            txnTime: f.txnTime,
            txnAmt: amount,
            origQryId: f.origQryId,
            origOrderId: orig.orderId,
            origTxnTime: orig.txnTime,
            backUrl: f.backUrl,
            queryId: newQueryId(now),
            traceNo: newTraceNo(),
            acceptedAt: now,
            status: 'processing',
          };
          refundTxns.set(`${r.orderId}|${r.txnTime}`, r);
          refunds.set(r.orderId, r);
          refundsByQueryId.set(r.queryId, r);
          lastBackUrl = f.backUrl;
          if (sandbox.refundMode === 'auto') {
            // Accepted now, settled shortly after, as UnionPay's refund notification comes later.
            setTimeout(() => {
              if (r.status === 'processing') settleRefund(r.orderId).catch((err: unknown) => log.warn({ err }, 'sandbox refund settlement failed'));
            }, 100).unref();
          }
          return answer(reply, f, { queryId: r.queryId, origQryId: r.origQryId, txnAmt: String(amount) });
        });

        sub.post('/filedownload/', route, async (request, reply) => {
          const f = formOf(request);
          if (!f) return reply.status(400).type('text/plain').send('');
          const refused = checkMerchant(f);
          if (refused) return answer(reply, f, { respCode: refused });
          if (f.txnType !== '76' || f.fileType !== '00' || !f.settleDate || !f.txnTime) return answer(reply, f, { respCode: '10' });
          const day = resolveMonthDay(f.settleDate, parseBeijingStamp(f.txnTime) ?? new Date());
          if (!day) return answer(reply, f, { respCode: '10' });
          if (day > settleDayOf(new Date())) return answer(reply, f, { respCode: '98', settleDate: f.settleDate, fileType: '00' });
          const file = statementFile(day);
          return answer(reply, f, { settleDate: f.settleDate, fileType: '00', fileName: file.fileName, fileContent: encodeFileContent(file.content) });
        });
      },
      { prefix: PREFIX },
    );
  }

  return sandbox;
}
