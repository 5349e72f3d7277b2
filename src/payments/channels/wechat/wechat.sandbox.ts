/**
 * The WeChat Pay sandbox provider (docs/channel-wechat.md): a local stand-in for
 * api.mch.weixin.qq.com under /sandbox/wechat/. It checks the merchant's request signatures,
 * signs its answers and notifications with a generated "WeChat Pay public key" (PUB_KEY_ID_…
 * mode), encrypts notification resources with the APIv3 key, keeps trades and refunds in memory,
 * serves trade bills in the real format and plays the payer through a page or test controls.
 */
import { createHash, createPublicKey, generateKeyPairSync, randomBytes, randomInt, randomUUID, verify as rsaVerify, type KeyObject } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { access, type App } from '../../../platform/index.js';
import type { FetchedStatement } from '../../channel.js';
import type { WechatMerchantConfig } from '../../payments.config.js';
import type { SandboxOptions } from '../../sandbox.js';
import type { NotifyMode, SandboxDelivery, SandboxNotification, SandboxProvider } from '../../sandbox.js';
import { buildTradeBill, type BillRow } from './wechat.bill.js';
import {
  encryptResource,
  parseAuthorization,
  randomNonce,
  requestMessage,
  rfc3339Shanghai,
  shanghaiDay,
  signedHeaders,
  SIGNTEST_PREFIX,
  TIME_WINDOW_S,
} from './wechat.crypto.js';

export interface WechatSandbox extends SandboxProvider {
  /** Merchant credentials matching the sandbox's generated keys; the API base is <publicUrl>/sandbox/wechat. */
  readonly merchant: WechatMerchantConfig;
  /**
   * Test control: the next refund request is answered with this signed error instead of being
   * processed (e.g. 500 SYSTEM_ERROR, 429 FREQUENCY_LIMITED, 403 NOT_ENOUGH). Cleared once used.
   */
  nextRefundError: { status: number; code: string; message: string } | null;
}

/** The sandbox merchant's fee: 0.6 % (费率 0.60%), which is exactly 6 thousandths of a fen per fen. */
export const WECHAT_SANDBOX_FEE_MFEN_PER_FEN = 6;
export const WECHAT_SANDBOX_FEE_RATE = '0.60%';
export const WECHAT_SANDBOX_MERCHANT_NAME = '演示加油站（微信支付沙箱商户）';

type TradeState = 'NOTPAY' | 'SUCCESS' | 'CLOSED' | 'REFUND' | 'PAYERROR';
type RefundStatus = 'PROCESSING' | 'SUCCESS' | 'CLOSED' | 'ABNORMAL';

interface Trade {
  outTradeNo: string;
  appid: string;
  mchid: string;
  description: string;
  total: number;
  tradeType: 'NATIVE' | 'JSAPI';
  state: TradeState;
  notifyUrl: string;
  timeExpire: Date | null;
  openid: string | null;
  transactionId: string | null;
  /** The transaction id a payment of this trade gets (fixed early so built notifications agree with a later payment). */
  plannedTxnId: string;
  successTime: Date | null;
  createdAt: Date;
  token: string;
  codeUrl: string | null;
  prepayId: string | null;
}

interface SbRefund {
  outRefundNo: string;
  refundId: string;
  outTradeNo: string;
  transactionId: string;
  total: number;
  refund: number;
  notifyUrl: string;
  status: RefundStatus;
  createTime: Date;
  successTime: Date | null;
}

type Json = Record<string, unknown>;

const digits = (n: number): string => Array.from({ length: n }, () => randomInt(10)).join('');
const stamp = (at: Date): string => rfc3339Shanghai(at).slice(0, 19).replace(/[-:T]/g, '');
const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const yuanText = (fen: number): string => `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`;

export function createWechatSandbox(opts: SandboxOptions): WechatSandbox {
  const mchId = '1230000109';
  const appId = 'wxd678efh567hg6787';
  const merchantPair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const wechatPair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const merchantPublic: KeyObject = createPublicKey(merchantPair.publicKey.export({ type: 'spki', format: 'pem' }));
  const wechatPrivate: KeyObject = wechatPair.privateKey;
  const publicKeyId = `PUB_KEY_ID_0114${mchId}${digits(14)}`;
  const merchantSerialNo = randomBytes(20).toString('hex').toUpperCase();
  const apiV3Key = randomNonce(32);
  let strangerKey: KeyObject | null = null;

  const prefix = '/sandbox/wechat';
  const base = (): string => `${opts.publicUrl()}${prefix}`;
  const platformNotifyUrl = (): string => `${opts.publicUrl()}/api/v1/payments/notify/wechat`;

  const merchant: WechatMerchantConfig = {
    mchId,
    appId,
    merchantSerialNo,
    merchantPrivateKeyPem: merchantPair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    apiV3Key,
    platformKeys: { [publicKeyId]: wechatPair.publicKey.export({ type: 'spki', format: 'pem' }) as string },
    get apiBase() {
      return base();
    },
  };

  const trades = new Map<string, Trade>();
  /** Payments the channel holds beyond one per order number (a second payment of an order). */
  const extraPayments: Trade[] = [];
  const tokens = new Map<string, string>();
  const refunds = new Map<string, SbRefund>();
  const lastSent = new Map<string, { url: string; n: SandboxNotification }>();
  const bills = new Map<string, { content: Buffer; expires: number }>();
  const timers = new Set<NodeJS.Timeout>();

  // ── Wire pieces ──

  function transactionJson(t: Trade, over: { total?: number; mchid?: string; state?: TradeState } = {}): Json {
    const state = over.state ?? t.state;
    const paid = state === 'SUCCESS' || state === 'REFUND';
    const total = over.total ?? t.total;
    const desc: Record<TradeState, string> = { NOTPAY: '订单未支付', SUCCESS: '支付成功', CLOSED: '订单已关闭', REFUND: '订单发生过退款', PAYERROR: '支付失败' };
    return {
      appid: t.appid,
      mchid: over.mchid ?? t.mchid,
      out_trade_no: t.outTradeNo,
      ...(paid ? { transaction_id: t.transactionId ?? t.plannedTxnId } : {}),
      trade_type: t.tradeType,
      trade_state: state,
      trade_state_desc: desc[state],
      ...(paid ? { bank_type: 'OTHERS', success_time: rfc3339Shanghai(t.successTime ?? new Date()) } : {}),
      attach: '',
      ...(paid ? { payer: { openid: t.openid ?? sandboxOpenid(t.outTradeNo) } } : {}),
      amount: paid ? { total, payer_total: total, currency: 'CNY', payer_currency: 'CNY' } : { total, currency: 'CNY' },
    };
  }

  function refundJson(r: SbRefund): Json {
    return {
      refund_id: r.refundId,
      out_refund_no: r.outRefundNo,
      transaction_id: r.transactionId,
      out_trade_no: r.outTradeNo,
      channel: 'ORIGINAL',
      user_received_account: '支付用户零钱',
      ...(r.successTime ? { success_time: rfc3339Shanghai(r.successTime) } : {}),
      create_time: rfc3339Shanghai(r.createTime),
      status: r.status,
      funds_account: 'AVAILABLE',
      amount: { total: r.total, refund: r.refund, from: [], payer_total: r.total, payer_refund: r.refund, settlement_refund: r.refund, settlement_total: r.total, discount_refund: 0, currency: 'CNY' },
    };
  }

  function sandboxOpenid(seed: string): string {
    return `oSb${createHash('sha256').update(seed).digest('base64url').slice(0, 25)}`;
  }

  function notification(eventType: string, summary: string, originalType: 'transaction' | 'refund', plain: Json, o: { timestamp?: Date; forge?: 'wrong_key' | 'signtest' } = {}): SandboxNotification {
    const now = new Date();
    const envelope = {
      id: randomUUID(),
      create_time: rfc3339Shanghai(now),
      resource_type: 'encrypt-resource',
      event_type: eventType,
      summary,
      resource: encryptResource(JSON.stringify(plain), apiV3Key, originalType),
    };
    const body = Buffer.from(JSON.stringify(envelope), 'utf8');
    let key = wechatPrivate;
    if (o.forge === 'wrong_key') key = strangerKey ??= generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const headers: Record<string, string> = { 'content-type': 'application/json', 'request-id': randomUUID(), ...signedHeaders(body, key, publicKeyId, o.timestamp ?? now) };
    if (o.forge === 'signtest') headers['wechatpay-signature'] = SIGNTEST_PREFIX + randomBytes(32).toString('base64');
    return { headers, body };
  }

  function refundNotification(r: SbRefund): SandboxNotification {
    const plain: Json = {
      mchid: mchId,
      out_trade_no: r.outTradeNo,
      transaction_id: r.transactionId,
      out_refund_no: r.outRefundNo,
      refund_id: r.refundId,
      refund_status: r.status,
      ...(r.successTime ? { success_time: rfc3339Shanghai(r.successTime) } : {}),
      user_received_account: '支付用户零钱',
      amount: { total: r.total, refund: r.refund, payer_total: r.total, payer_refund: r.refund },
    };
    const summary: Record<RefundStatus, string> = { SUCCESS: '退款成功', CLOSED: '退款关闭', ABNORMAL: '退款异常', PROCESSING: '退款处理中' };
    return notification(`REFUND.${r.status}`, summary[r.status], 'refund', plain);
  }

  async function deliverTo(url: string, n: SandboxNotification): Promise<SandboxDelivery> {
    try {
      const res = await fetch(url, { method: 'POST', headers: n.headers, body: new Uint8Array(n.body), signal: AbortSignal.timeout(10_000) });
      return { status: res.status, body: await res.text() };
    } catch (err) {
      opts.logger.warn({ err, url }, 'wechat sandbox: notification not delivered');
      return { status: 0, body: (err as Error).message };
    }
  }

  async function send(key: string, url: string, n: SandboxNotification, mode: NotifyMode): Promise<SandboxDelivery[]> {
    if (mode === 'never' || url === '') return [];
    lastSent.set(key, { url, n });
    if (mode === 'twice_at_once') return Promise.all([deliverTo(url, n), deliverTo(url, n)]);
    return [await deliverTo(url, n)];
  }

  function payable(t: Trade, now: Date): string | null {
    if (t.state === 'SUCCESS' || t.state === 'REFUND') return '订单已支付 / already paid';
    if (t.state === 'CLOSED') return '订单已关闭 / closed';
    if (t.timeExpire && now > t.timeExpire) return '订单已过期 / expired';
    return null;
  }

  async function payTrade(t: Trade, mode: NotifyMode, amount?: number): Promise<{ channelTxnId: string; deliveries: SandboxDelivery[] }> {
    const why = payable(t, new Date());
    if (why) throw new Error(`wechat sandbox: order ${t.outTradeNo} cannot be paid: ${why}`);
    t.state = 'SUCCESS';
    t.transactionId = t.plannedTxnId;
    t.successTime = new Date();
    t.openid ??= sandboxOpenid(t.outTradeNo);
    if (amount !== undefined) t.total = amount;
    const n = notification('TRANSACTION.SUCCESS', '支付成功', 'transaction', transactionJson(t));
    return { channelTxnId: t.transactionId, deliveries: await send(t.outTradeNo, t.notifyUrl, n, mode) };
  }

  async function settle(no: string, outcome: 'succeeded' | 'failed', mode: NotifyMode): Promise<{ deliveries: SandboxDelivery[] }> {
    const r = refunds.get(no);
    if (!r) throw new Error(`wechat sandbox: unknown refund ${no}`);
    if (r.status !== 'PROCESSING') throw new Error(`wechat sandbox: refund ${no} is ${r.status}`);
    if (outcome === 'succeeded') {
      r.status = 'SUCCESS';
      r.successTime = new Date();
      const t = trades.get(r.outTradeNo);
      if (t && t.state === 'SUCCESS') t.state = 'REFUND';
    } else r.status = 'CLOSED';
    return { deliveries: await send(no, r.notifyUrl, refundNotification(r), mode) };
  }

  function newTrade(input: { outTradeNo: string; total: number; description: string; tradeType: 'NATIVE' | 'JSAPI'; notifyUrl: string; timeExpire: Date | null; openid: string | null }): Trade {
    const now = new Date();
    return {
      ...input,
      appid: appId,
      mchid: mchId,
      state: 'NOTPAY',
      transactionId: null,
      plannedTxnId: `4200${digits(6)}${stamp(now).slice(0, 8)}${digits(10)}`,
      successTime: null,
      createdAt: now,
      token: '',
      codeUrl: null,
      prepayId: null,
    };
  }

  function allPayments(): Trade[] {
    return [...trades.values(), ...extraPayments].filter((t) => (t.state === 'SUCCESS' || t.state === 'REFUND') && t.successTime);
  }

  function statementFile(billDate: string): FetchedStatement {
    const rows: BillRow[] = [];
    for (const t of allPayments()) {
      if (shanghaiDay(t.successTime!) !== billDate) continue;
      rows.push({
        kind: 'payment', at: t.successTime!, appid: t.appid, mchid: t.mchid, transactionId: t.transactionId!, outTradeNo: t.outTradeNo,
        openid: t.openid ?? '', tradeType: t.tradeType, description: t.description, amount: t.total, feeMfen: t.total * WECHAT_SANDBOX_FEE_MFEN_PER_FEN, rate: WECHAT_SANDBOX_FEE_RATE,
      });
    }
    for (const r of refunds.values()) {
      if (shanghaiDay(r.createTime) !== billDate) continue;
      const t = trades.get(r.outTradeNo);
      rows.push({
        kind: 'refund', at: r.createTime, appid: appId, mchid: mchId, transactionId: r.transactionId, outTradeNo: r.outTradeNo,
        openid: t?.openid ?? '', tradeType: t?.tradeType ?? 'NATIVE', description: t?.description ?? '', refundId: r.refundId, outRefundNo: r.outRefundNo,
        refundAmount: r.refund, refundStatus: r.status,
        // WeChat returns the fee of the refunded part: a negative fee on the refund line.
        feeMfen: -r.refund * WECHAT_SANDBOX_FEE_MFEN_PER_FEN, rate: WECHAT_SANDBOX_FEE_RATE,
      });
    }
    rows.sort((a, b) => a.at.getTime() - b.at.getTime());
    const content = buildTradeBill(rows);
    return { fileName: `wechat-tradebill-${billDate}-ALL.csv`, content, expectedHash: { algorithm: 'sha1', hex: createHash('sha1').update(content).digest('hex') } };
  }

  // ── HTTP ──

  function answer(reply: FastifyReply, status: number, body?: Json): FastifyReply {
    const raw = body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(body), 'utf8');
    reply.code(status).headers({ 'request-id': randomUUID(), ...signedHeaders(raw, wechatPrivate, publicKeyId) });
    if (status === 204) return reply.send();
    return reply.type('application/json').send(raw);
  }
  const fail = (reply: FastifyReply, status: number, code: string, message: string) => answer(reply, status, { code, message });

  /** Check the merchant's Authorization over METHOD, the URL as sent, and the raw body. Null when good. */
  function authProblem(req: FastifyRequest): string | null {
    const a = parseAuthorization(req.headers.authorization);
    if (!a) return 'Authorization 缺失或格式错误';
    if (a.mchid !== mchId) return '商户号与签名不匹配';
    if (a.serial_no !== merchantSerialNo) return '商户证书序列号不正确';
    if (!/^\d{1,12}$/.test(a.timestamp) || Math.abs(Date.now() / 1000 - Number(a.timestamp)) > TIME_WINDOW_S) return '签名时间戳超出允许范围';
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    try {
      return rsaVerify('RSA-SHA256', requestMessage(req.method, req.url, a.timestamp, a.nonce_str, raw), merchantPublic, Buffer.from(a.signature, 'base64')) ? null : '签名错误';
    } catch {
      return '签名错误';
    }
  }

  function jsonBody(req: FastifyRequest): Json | null {
    if (!Buffer.isBuffer(req.body)) return null;
    try {
      const v: unknown = JSON.parse(req.body.toString('utf8'));
      return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : null;
    } catch {
      return null;
    }
  }

  function page(reply: FastifyReply, status: number, title: string, inner: string): FastifyReply {
    const html = `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title><style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:1.2rem;color:#07c160}table{width:100%;border-collapse:collapse;margin:1rem 0}td{padding:.4rem;border-bottom:1px solid #eee}
td:first-child{color:#666;width:40%}.amount{font-size:1.6rem;font-weight:bold}button{display:block;width:100%;padding:.8rem;margin:.5rem 0;font-size:1rem;border:0;border-radius:6px;cursor:pointer}
.pay{background:#07c160;color:#fff}.silent{background:#eee;color:#333}.note{color:#888;font-size:.85rem}</style></head>
<body><h1>微信支付沙箱 / WeChat Pay sandbox</h1>${inner}<p class="note">本页面模拟付款人，仅用于开发与测试。/ This page plays the payer, for development and tests only.</p></body></html>`;
    return reply.code(status).type('text/html; charset=utf-8').send(html);
  }

  function tradeTable(t: Trade): string {
    const stateText: Record<TradeState, string> = { NOTPAY: '待支付 / awaiting payment', SUCCESS: '已支付 / paid', CLOSED: '已关闭 / closed', REFUND: '已支付（有退款）/ paid, refunded', PAYERROR: '支付失败 / failed' };
    return `<table><tr><td>商户 / Merchant</td><td>${escapeHtml(WECHAT_SANDBOX_MERCHANT_NAME)}<br>${escapeHtml(t.mchid)}</td></tr>
<tr><td>订单号 / Order</td><td>${escapeHtml(t.outTradeNo)}</td></tr><tr><td>商品 / Item</td><td>${escapeHtml(t.description)}</td></tr>
<tr><td>支付方式 / Method</td><td>${t.tradeType === 'NATIVE' ? 'Native 扫码支付' : 'JSAPI 公众号支付'}</td></tr>
<tr><td>金额 / Amount</td><td class="amount">¥${yuanText(t.total)}</td></tr><tr><td>状态 / Status</td><td>${stateText[t.state]}</td></tr></table>`;
  }

  function register(app: App): void {
    app.register(
      async (scope) => {
        // The provider's own parsing: the raw bytes, which the merchant's signature covers.
        scope.removeAllContentTypeParsers();
        scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 64 * 1024 }, (_req, body, done) => done(null, body));
        const route = { config: { access: access.public }, schema: { hide: true } } as const;

        scope.post('/v3/pay/transactions/:kind', route, async (req, reply) => {
          const kind = (req.params as { kind: string }).kind;
          if (kind !== 'native' && kind !== 'jsapi') return fail(reply, 404, 'NOT_FOUND', '接口不存在');
          const problem = authProblem(req);
          if (problem) return fail(reply, 401, 'SIGN_ERROR', problem);
          const b = jsonBody(req);
          const amount = b?.amount as Json | undefined;
          const total = amount?.total;
          const openid = (b?.payer as Json | undefined)?.openid;
          if (!b || typeof b.out_trade_no !== 'string' || !/^[A-Za-z0-9_\-|*]{6,32}$/.test(b.out_trade_no) || typeof b.description !== 'string' || b.description === '' ||
            typeof b.notify_url !== 'string' || !/^https?:\/\//.test(b.notify_url) || typeof total !== 'number' || !Number.isSafeInteger(total) || total < 1 ||
            (kind === 'jsapi' && (typeof openid !== 'string' || openid === ''))) {
            return fail(reply, 400, 'PARAM_ERROR', '参数错误');
          }
          if (b.appid !== appId || b.mchid !== mchId) return fail(reply, 400, 'APPID_MCHID_NOT_MATCH', 'appid和mch_id不匹配');
          const expire = typeof b.time_expire === 'string' ? new Date(b.time_expire) : null;
          if (expire && Number.isNaN(expire.getTime())) return fail(reply, 400, 'PARAM_ERROR', 'time_expire 格式错误');
          const tradeType = kind === 'native' ? 'NATIVE' : 'JSAPI';
          const existing = trades.get(b.out_trade_no);
          if (existing) {
            if (existing.state === 'SUCCESS' || existing.state === 'REFUND') return fail(reply, 400, 'ORDERPAID', '该订单已支付');
            if (existing.state === 'CLOSED') return fail(reply, 400, 'ORDER_CLOSED', '订单已关闭');
            if (existing.total !== total || existing.tradeType !== tradeType) return fail(reply, 400, 'INVALID_REQUEST', '201 商户订单号重复');
            return answer(reply, 200, tradeType === 'NATIVE' ? { code_url: existing.codeUrl } : { prepay_id: existing.prepayId });
          }
          const t = newTrade({ outTradeNo: b.out_trade_no, total, description: b.description, tradeType, notifyUrl: b.notify_url, timeExpire: expire, openid: typeof openid === 'string' ? openid : null });
          if (tradeType === 'NATIVE') {
            t.token = `pr${randomBytes(12).toString('hex')}`;
            t.codeUrl = `${base()}/pay/${t.token}`;
          } else {
            t.prepayId = `wx${stamp(t.createdAt)}${randomBytes(9).toString('hex')}`;
            t.token = t.prepayId;
          }
          trades.set(t.outTradeNo, t);
          tokens.set(t.token, t.outTradeNo);
          return answer(reply, 200, tradeType === 'NATIVE' ? { code_url: t.codeUrl } : { prepay_id: t.prepayId });
        });

        scope.get('/v3/pay/transactions/out-trade-no/:no', route, async (req, reply) => {
          const problem = authProblem(req);
          if (problem) return fail(reply, 401, 'SIGN_ERROR', problem);
          if ((req.query as { mchid?: string }).mchid !== mchId) return fail(reply, 400, 'PARAM_ERROR', 'mchid 不正确');
          const t = trades.get((req.params as { no: string }).no);
          if (!t) return fail(reply, 404, 'ORDER_NOT_EXIST', '订单不存在');
          return answer(reply, 200, transactionJson(t));
        });

        scope.post('/v3/pay/transactions/out-trade-no/:no/close', route, async (req, reply) => {
          const problem = authProblem(req);
          if (problem) return fail(reply, 401, 'SIGN_ERROR', problem);
          if (jsonBody(req)?.mchid !== mchId) return fail(reply, 400, 'PARAM_ERROR', 'mchid 不正确');
          const t = trades.get((req.params as { no: string }).no);
          if (!t) return fail(reply, 404, 'ORDER_NOT_EXIST', '订单不存在');
          if (t.state === 'SUCCESS' || t.state === 'REFUND') return fail(reply, 400, 'ORDERPAID', '该订单已支付');
          t.state = 'CLOSED';
          return answer(reply, 204);
        });

        scope.post('/v3/refund/domestic/refunds', route, async (req, reply) => {
          const problem = authProblem(req);
          if (problem) return fail(reply, 401, 'SIGN_ERROR', problem);
          const injected = sandbox.nextRefundError;
          if (injected) {
            sandbox.nextRefundError = null;
            return fail(reply, injected.status, injected.code, injected.message);
          }
          const b = jsonBody(req);
          const amount = b?.amount as Json | undefined;
          const refund = amount?.refund;
          const total = amount?.total;
          if (!b || typeof b.out_refund_no !== 'string' || !/^[A-Za-z0-9_\-|*@]{1,64}$/.test(b.out_refund_no) || typeof refund !== 'number' || !Number.isSafeInteger(refund) || refund < 1 ||
            typeof total !== 'number' || amount?.currency !== 'CNY' || (typeof b.transaction_id !== 'string' && typeof b.out_trade_no !== 'string')) {
            return fail(reply, 400, 'PARAM_ERROR', '参数错误');
          }
          const t = typeof b.transaction_id === 'string'
            ? [...trades.values(), ...extraPayments].find((x) => x.transactionId === b.transaction_id)
            : trades.get(b.out_trade_no as string);
          if (!t) return fail(reply, 404, 'RESOURCE_NOT_EXISTS', '订单不存在');
          const prior = refunds.get(b.out_refund_no);
          if (prior) {
            // The same out_refund_no is the same refund: a retry gets the refund as it stands.
            if (prior.refund !== refund || prior.outTradeNo !== t.outTradeNo) return fail(reply, 400, 'INVALID_REQUEST', '商户退款单号重复');
            return answer(reply, 200, refundJson(prior));
          }
          if (t.state !== 'SUCCESS' && t.state !== 'REFUND') return fail(reply, 400, 'INVALID_REQUEST', '订单未支付，不能退款');
          if (total !== t.total) return fail(reply, 400, 'PARAM_ERROR', '订单金额与原订单不符');
          const refunded = [...refunds.values()].filter((r) => r.transactionId === t.transactionId && r.status !== 'CLOSED').reduce((s, r) => s + r.refund, 0);
          if (refunded + refund > t.total) return fail(reply, 400, 'INVALID_REQUEST', '申请退款金额超过订单可退金额');
          const r: SbRefund = {
            outRefundNo: b.out_refund_no, refundId: `50${digits(6)}${stamp(new Date()).slice(0, 8)}${digits(13)}`, outTradeNo: t.outTradeNo, transactionId: t.transactionId!,
            total: t.total, refund, notifyUrl: typeof b.notify_url === 'string' ? b.notify_url : '', status: 'PROCESSING', createTime: new Date(), successTime: null,
          };
          refunds.set(r.outRefundNo, r);
          if (sandbox.refundMode === 'auto') {
            const timer = setTimeout(() => {
              timers.delete(timer);
              settle(r.outRefundNo, 'succeeded', 'once').catch((err: unknown) => opts.logger.warn({ err }, 'wechat sandbox: auto refund failed'));
            }, 100);
            timers.add(timer);
          }
          return answer(reply, 200, refundJson(r));
        });

        scope.get('/v3/refund/domestic/refunds/:no', route, async (req, reply) => {
          const problem = authProblem(req);
          if (problem) return fail(reply, 401, 'SIGN_ERROR', problem);
          const r = refunds.get((req.params as { no: string }).no);
          if (!r) return fail(reply, 404, 'RESOURCE_NOT_EXISTS', '退款单不存在');
          return answer(reply, 200, refundJson(r));
        });

        scope.get('/v3/bill/tradebill', route, async (req, reply) => {
          const problem = authProblem(req);
          if (problem) return fail(reply, 401, 'SIGN_ERROR', problem);
          const q = req.query as { bill_date?: string; bill_type?: string };
          if (!q.bill_date || !/^\d{4}-\d{2}-\d{2}$/.test(q.bill_date) || Number.isNaN(Date.parse(q.bill_date))) return fail(reply, 400, 'PARAM_ERROR', 'bill_date 格式错误');
          if (q.bill_type !== undefined && q.bill_type !== 'ALL') return fail(reply, 400, 'PARAM_ERROR', '沙箱仅提供 ALL 类型账单');
          if (q.bill_date > shanghaiDay(new Date())) return fail(reply, 400, 'NO_STATEMENT_EXIST', '账单文件不存在');
          const file = statementFile(q.bill_date);
          const token = randomBytes(16).toString('hex');
          bills.set(token, { content: file.content, expires: Date.now() + 5 * 60_000 });
          return answer(reply, 200, { hash_type: 'SHA1', hash_value: file.expectedHash!.hex, download_url: `${base()}/v3/billdownload/file?token=${token}` });
        });

        scope.get('/v3/billdownload/file', route, async (req, reply) => {
          const problem = authProblem(req);
          if (problem) return fail(reply, 401, 'SIGN_ERROR', problem);
          const bill = bills.get((req.query as { token?: string }).token ?? '');
          if (!bill || bill.expires < Date.now()) return fail(reply, 400, 'INVALID_REQUEST', '下载链接已失效');
          // The real download is not signed: no Wechatpay-* headers, the SHA1 from the tradebill answer vouches for it.
          return reply.code(200).type('application/octet-stream').send(bill.content);
        });

        scope.get('/pay/:token', route, async (req, reply) => {
          const no = tokens.get((req.params as { token: string }).token);
          const t = no ? trades.get(no) : undefined;
          if (!t) return page(reply, 404, '订单不存在', '<p>订单不存在 / No such order.</p>');
          const why = payable(t, new Date());
          const form = why
            ? `<p>${escapeHtml(why)}</p>`
            : `<form method="post"><button class="pay" name="action" value="notify">确认支付</button><button class="silent" name="action" value="silent">支付但不通知</button></form>`;
          return page(reply, 200, `微信支付 ¥${yuanText(t.total)}`, tradeTable(t) + form);
        });

        scope.post('/pay/:token', route, async (req, reply) => {
          const no = tokens.get((req.params as { token: string }).token);
          const t = no ? trades.get(no) : undefined;
          if (!t) return page(reply, 404, '订单不存在', '<p>订单不存在 / No such order.</p>');
          const action = new URLSearchParams(Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '').get('action');
          const why = payable(t, new Date());
          if (why) return page(reply, 409, '无法支付', tradeTable(t) + `<p>${escapeHtml(why)}</p>`);
          const { deliveries } = await payTrade(t, action === 'silent' ? 'never' : 'once');
          const sent = deliveries.length === 0
            ? '<p>未发送支付通知（模拟通知丢失）/ No notification sent (a lost notification).</p>'
            : deliveries.map((d) => `<p>支付通知已发送，商户应答 HTTP ${d.status} / Notification sent, merchant answered HTTP ${d.status}</p>`).join('');
          return page(reply, 200, '支付成功', `${tradeTable(t)}<p><strong>支付成功 / Paid</strong></p>${sent}`);
        });

        scope.addHook('onClose', async () => {
          for (const timer of timers) clearTimeout(timer);
          timers.clear();
        });
      },
      { prefix },
    );
  }

  const sandbox: WechatSandbox = {
    channel: 'wechat',
    merchant,
    refundMode: 'auto',
    nextRefundError: null,
    register,

    async pay(orderNo, o = {}) {
      const t = trades.get(orderNo);
      if (!t) throw new Error(`wechat sandbox: unknown order ${orderNo}`);
      return payTrade(t, o.notify ?? 'once', o.amount);
    },

    async replayLast(no) {
      const last = lastSent.get(no);
      if (!last) throw new Error(`wechat sandbox: nothing was sent for ${no}`);
      return deliverTo(last.url, last.n);
    },

    buildPaymentNotification(orderNo, o = {}) {
      const t = trades.get(orderNo) ?? newTrade({ outTradeNo: orderNo, total: o.amount ?? 1, description: '加油卡充值', tradeType: 'NATIVE', notifyUrl: '', timeExpire: null, openid: null });
      const successTime = t.successTime;
      // Built as if paid now, without paying: the trade itself is left as it is.
      const view: Trade = { ...t, transactionId: t.transactionId ?? t.plannedTxnId, successTime: successTime ?? o.timestamp ?? new Date() };
      const plain = transactionJson(view, { state: 'SUCCESS', ...(o.amount !== undefined ? { total: o.amount } : {}), ...(o.merchantId ? { mchid: o.merchantId } : {}) });
      return notification('TRANSACTION.SUCCESS', '支付成功', 'transaction', plain, { ...(o.timestamp ? { timestamp: o.timestamp } : {}), ...(o.forge ? { forge: o.forge } : {}) });
    },

    deliver(n) {
      return deliverTo(platformNotifyUrl(), n);
    },

    addStrayPayment(input) {
      const paidAt = input.paidAt ?? new Date();
      const orderNo = input.orderNo ?? `STRAY${stamp(paidAt).slice(0, 8)}${digits(10)}`;
      const t = newTrade({ outTradeNo: orderNo, total: input.amount, description: '加油卡充值', tradeType: 'NATIVE', notifyUrl: '', timeExpire: null, openid: null });
      t.state = 'SUCCESS';
      t.transactionId = t.plannedTxnId;
      t.successTime = paidAt;
      t.openid = sandboxOpenid(orderNo + t.plannedTxnId);
      if (trades.has(orderNo)) extraPayments.push(t);
      else trades.set(orderNo, t);
      return { channelTxnId: t.transactionId, orderNo };
    },

    settleRefund(refundNo, o = {}) {
      return settle(refundNo, o.outcome ?? 'succeeded', o.notify ?? 'once');
    },

    statementFile,
  };
  return sandbox;
}
