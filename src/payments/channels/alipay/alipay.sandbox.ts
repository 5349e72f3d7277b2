/**
 * The Alipay sandbox provider (docs/channel-alipay.md): the OpenAPI gateway at
 * /sandbox/alipay/gateway.do with the real wire format — it checks the merchant's RSA2
 * request signature, answers JSON signed with its own generated "Alipay" key, keeps trades and
 * refunds in memory, sends signed trade_status_sync notifications to the notify_url each
 * request named, serves the GBK bill zip, and plays the payer through a zh-CN page.
 */
import { generateKeyPairSync, randomBytes, randomInt, type KeyObject } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { access, type App } from '../../../platform/index.js';
import type { FetchedStatement } from '../../channel.js';
import type { AlipayMerchantConfig } from '../../payments.config.js';
import type { Logger } from 'pino';
import type { NotifyMode, SandboxDelivery, SandboxNotification, SandboxProvider } from '../../sandbox.js';
import { buildAlipayBill, type BillRow } from './alipay.bill.js';
import {
  alipayJson, beijingDay, fenToYuan, formatBeijing, parseBeijing, responseKey, rsa2Sign, rsa2Verify, signingString, signNotificationParams, yuanToFen,
} from './alipay.crypto.js';

/** runtime.ts's SandboxOptions, restated to keep runtime → alipay → runtime from being a cycle. */
export interface AlipaySandboxOptions {
  publicUrl: () => string;
  logger: Logger;
}

export interface AlipaySandbox extends SandboxProvider {
  /** Merchant credentials matching the sandbox's generated keys; the API base is <publicUrl>/sandbox/alipay. */
  readonly merchant: AlipayMerchantConfig;
  /**
   * Test control: the next alipay.trade.refund is answered with this signed business error
   * (code 40004) instead of being processed, e.g. ACQ.SYSTEM_ERROR or ACQ.SELLER_BALANCE_NOT_ENOUGH.
   */
  nextRefundError: { subCode: string; subMsg: string } | null;
}

type TradeStatus = 'WAIT_BUYER_PAY' | 'TRADE_SUCCESS' | 'TRADE_CLOSED';

interface SandboxRefund {
  outRequestNo: string;
  amount: number;
  status: 'pending' | 'succeeded' | 'failed';
  requestedAt: Date;
  completedAt: Date | null;
}

interface Trade {
  outTradeNo: string;
  tradeNo: string;
  amount: number;
  subject: string;
  status: TradeStatus;
  /** Precreated codes exist at Alipay only once scanned (the query answers ACQ.TRADE_NOT_EXIST before). */
  visible: boolean;
  notifyUrl: string | null;
  returnUrl: string | null;
  token: string;
  createdAt: Date;
  expiresAt: Date | null;
  paidAt: Date | null;
  closedAt: Date | null;
  refunds: SandboxRefund[];
}

const PREFIX = '/sandbox/alipay';
const FEE_PER_MILLE = 6; // 0.6 %, Alipay's standard rate for 当面付 / 电脑网站支付
const FORM = 'application/x-www-form-urlencoded; charset=utf-8';
const ROUTE = { config: { access: access.public }, schema: { hide: true } } as const;
const BILL_LINK_MS = 30_000;

const pems = () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { privateKey, publicKey };
};
const digits = (n: number): string => Array.from({ length: n }, () => randomInt(10)).join('');
const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function createAlipaySandbox(opts: AlipaySandboxOptions): AlipaySandbox {
  const alipayKeys = pems();
  const appKeys = pems();
  let strangerKey: KeyObject | null = null;
  const appId = `2021${digits(12)}`;
  const sellerId = `2088${digits(12)}`;
  const base = (): string => `${opts.publicUrl()}${PREFIX}`;

  const merchant: AlipayMerchantConfig = {
    appId,
    sellerId,
    appPrivateKeyPem: appKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    alipayPublicKeyPem: alipayKeys.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    // A getter: the public URL is known only after listen, and the adapter reads it per call.
    get gateway() {
      return `${base()}/gateway.do`;
    },
  };

  const trades = new Map<string, Trade>();
  const byToken = new Map<string, Trade>();
  const lastSent = new Map<string, SandboxNotification>();
  const bills = new Map<string, { billDate: string; expires: number }>();
  const timers = new Set<NodeJS.Timeout>();
  let seq = 0;

  const tradeNo = (at: Date): string => `${beijingDay(at).replace(/-/g, '')}22001${String(++seq % 1_000_000).padStart(6, '0')}${digits(9)}`;

  function newTrade(input: { outTradeNo: string; amount: number; subject: string; notifyUrl: string | null; returnUrl: string | null; expiresAt: Date | null; visible: boolean }): Trade {
    const now = new Date();
    const t: Trade = { ...input, tradeNo: tradeNo(now), status: 'WAIT_BUYER_PAY', token: randomBytes(12).toString('base64url'), createdAt: now, paidAt: null, closedAt: null, refunds: [] };
    trades.set(t.outTradeNo, t);
    byToken.set(t.token, t);
    return t;
  }

  /** Alipay closes an unpaid trade when time_expire passes. */
  function refresh(t: Trade): Trade {
    if (t.status === 'WAIT_BUYER_PAY' && t.expiresAt && t.expiresAt.getTime() < Date.now()) {
      t.status = 'TRADE_CLOSED';
      t.closedAt = t.expiresAt;
    }
    return t;
  }

  const refunded = (t: Trade): number => t.refunds.filter((r) => r.status === 'succeeded').reduce((s, r) => s + r.amount, 0);
  const committed = (t: Trade): number => t.refunds.filter((r) => r.status !== 'failed').reduce((s, r) => s + r.amount, 0);

  // ── Notifications ──

  function tradeParams(t: Trade, over: { amount?: number; merchantId?: string; timestamp?: Date } = {}): Record<string, string> {
    const amount = fenToYuan(over.amount ?? t.amount);
    const paidAt = t.paidAt ?? new Date();
    return {
      gmt_create: formatBeijing(t.createdAt),
      charset: 'utf-8',
      seller_email: 'sandbox-merchant@alipay.test',
      subject: t.subject,
      buyer_id: '2088102177846880',
      invoice_amount: amount,
      notify_id: `${beijingDay(new Date()).replace(/-/g, '')}${randomBytes(12).toString('hex')}`,
      fund_bill_list: JSON.stringify([{ amount, fundChannel: 'ALIPAYACCOUNT' }]),
      notify_type: 'trade_status_sync',
      trade_status: 'TRADE_SUCCESS',
      receipt_amount: amount,
      buyer_pay_amount: amount,
      app_id: appId,
      auth_app_id: appId,
      seller_id: over.merchantId ?? sellerId,
      gmt_payment: formatBeijing(paidAt),
      notify_time: formatBeijing(over.timestamp ?? new Date()),
      version: '1.0',
      out_trade_no: t.outTradeNo,
      total_amount: amount,
      trade_no: t.tradeNo,
      buyer_logon_id: '138****0000',
      point_amount: '0.00',
    };
  }

  function toNotification(params: Record<string, string>, key: KeyObject = alipayKeys.privateKey): SandboxNotification {
    return { headers: { 'content-type': FORM }, body: Buffer.from(new URLSearchParams(signNotificationParams(params, key)).toString(), 'utf8') };
  }

  async function deliver(n: SandboxNotification): Promise<SandboxDelivery> {
    const orderNo = new URLSearchParams(n.body.toString('utf8')).get('out_trade_no') ?? '';
    const url = trades.get(orderNo)?.notifyUrl ?? `${opts.publicUrl()}/api/v1/payments/notify/alipay`;
    try {
      const res = await fetch(url, { method: 'POST', headers: n.headers, body: new Uint8Array(n.body), signal: AbortSignal.timeout(10_000) });
      return { status: res.status, body: await res.text() };
    } catch (err) {
      opts.logger.warn({ err, url }, 'alipay sandbox: notification not delivered');
      return { status: 0, body: (err as Error).message };
    }
  }

  async function send(n: SandboxNotification, mode: NotifyMode): Promise<SandboxDelivery[]> {
    if (mode === 'never') return [];
    if (mode === 'twice_at_once') return Promise.all([deliver(n), deliver(n)]);
    return [await deliver(n)];
  }

  function refundNotification(t: Trade, r: SandboxRefund): SandboxNotification {
    const closed = t.status === 'TRADE_CLOSED';
    return toNotification({
      ...tradeParams(t),
      trade_status: t.status,
      refund_fee: fenToYuan(refunded(t)),
      out_biz_no: r.outRequestNo,
      gmt_refund: formatBeijing(r.completedAt ?? new Date(), true),
      ...(closed ? { gmt_close: formatBeijing(r.completedAt ?? new Date()) } : {}),
    });
  }

  function completeRefund(t: Trade, r: SandboxRefund): void {
    r.status = 'succeeded';
    r.completedAt = new Date();
    if (refunded(t) >= t.amount) {
      t.status = 'TRADE_CLOSED';
      t.closedAt = r.completedAt;
    }
  }

  function findRefund(refundNo: string): { t: Trade; r: SandboxRefund } | null {
    for (const t of trades.values()) {
      const r = t.refunds.find((x) => x.outRequestNo === refundNo);
      if (r) return { t, r };
    }
    return null;
  }

  function pay(t: Trade, amount?: number): void {
    refresh(t);
    if (t.status !== 'WAIT_BUYER_PAY') throw new Error(`alipay sandbox: trade ${t.outTradeNo} is ${t.status}, cannot be paid`);
    t.visible = true;
    t.status = 'TRADE_SUCCESS';
    t.paidAt = new Date();
    if (amount !== undefined) t.amount = amount;
  }

  async function payAndNotify(t: Trade, mode: NotifyMode, amount?: number): Promise<SandboxDelivery[]> {
    pay(t, amount);
    const n = toNotification(tradeParams(t));
    lastSent.set(t.outTradeNo, n);
    return send(n, mode);
  }

  // ── The gateway ──

  const signedAnswer = (key: string, body: Record<string, unknown>): string => {
    const json = alipayJson(body);
    return `{"${key}":${json},"sign":"${rsa2Sign(json, alipayKeys.privateKey)}"}`;
  };
  const fail = (subCode: string, subMsg: string, code = '40004') => ({ code, msg: code === '40004' ? 'Business Failed' : 'Invalid Arguments', sub_code: subCode, sub_msg: subMsg });
  const ok = (body: Record<string, unknown>) => ({ code: '10000', msg: 'Success', ...body });

  function readParams(request: FastifyRequest): Record<string, string> | null {
    const out: Record<string, string> = Object.create(null) as Record<string, string>;
    const add = (text: string): boolean => {
      for (const [k, v] of new URLSearchParams(text)) {
        if (k in out) return false;
        out[k] = v;
      }
      return true;
    };
    if (!add(request.raw.url?.split('?')[1] ?? '')) return null;
    if (Buffer.isBuffer(request.body) && !add(request.body.toString('utf8'))) return null;
    return out;
  }

  /** Checks the common parameters and the merchant's signature, as the real gateway does. */
  function checkRequest(p: Record<string, string>): { error: Record<string, unknown> } | { biz: Record<string, unknown> } {
    if (p.app_id !== appId) return { error: fail('isv.invalid-app-id', '无效的AppID参数', '40002') };
    if (p.sign_type !== 'RSA2') return { error: fail('isv.invalid-signature-type', '无效的签名类型', '40002') };
    if ((p.charset ?? 'utf-8').toLowerCase() !== 'utf-8') return { error: fail('isv.invalid-charset', '字符集错误', '40002') };
    if (!p.sign || !rsa2Verify(signingString(p, ['sign']), p.sign, appKeys.publicKey)) {
      return { error: fail('isv.invalid-signature', '验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配', '40002') };
    }
    const ts = parseBeijing(p.timestamp);
    if (!ts || Math.abs(ts.getTime() - Date.now()) > 30 * 60_000) return { error: fail('isv.invalid-timestamp', '非法的时间戳参数', '40002') };
    try {
      const biz = JSON.parse(p.biz_content ?? '') as unknown;
      if (typeof biz !== 'object' || biz === null || Array.isArray(biz)) throw new Error('not an object');
      return { biz: biz as Record<string, unknown> };
    } catch {
      return { error: fail('isv.invalid-parameter', 'biz_content 格式错误', '40002') };
    }
  }

  const s = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');

  function validateOrder(biz: Record<string, unknown>): { error: Record<string, unknown> } | { outTradeNo: string; amount: number; subject: string; expiresAt: Date | null } {
    const outTradeNo = s(biz.out_trade_no);
    const amount = yuanToFen(s(biz.total_amount));
    const subject = s(biz.subject);
    if (!/^[A-Za-z0-9_]{1,64}$/.test(outTradeNo)) return { error: fail('ACQ.INVALID_PARAMETER', 'out_trade_no 无效') };
    if (amount === null || amount < 1 || amount > 10_000_000_000) return { error: fail('ACQ.INVALID_PARAMETER', 'total_amount 无效') };
    if (!subject) return { error: fail('ACQ.INVALID_PARAMETER', 'subject 不能为空') };
    const expiresAt = biz.time_expire === undefined ? null : parseBeijing(s(biz.time_expire));
    if (biz.time_expire !== undefined && !expiresAt) return { error: fail('ACQ.INVALID_PARAMETER', 'time_expire 格式错误') };
    const existing = trades.get(outTradeNo);
    if (existing) {
      refresh(existing);
      if (existing.status === 'TRADE_SUCCESS') return { error: fail('ACQ.TRADE_HAS_SUCCESS', '交易已被支付') };
      if (existing.status === 'TRADE_CLOSED') return { error: fail('ACQ.TRADE_HAS_CLOSE', '交易已经关闭') };
      if (existing.amount !== amount) return { error: fail('ACQ.CONTEXT_INCONSISTENT', '交易信息被篡改') };
    }
    return { outTradeNo, amount, subject, expiresAt };
  }

  function api(method: string, biz: Record<string, unknown>, p: Record<string, string>): Record<string, unknown> {
    const lookup = (): Trade | undefined => {
      const t = trades.get(s(biz.out_trade_no)) ?? [...trades.values()].find((x) => x.tradeNo === s(biz.trade_no) && x.tradeNo !== '');
      return t ? refresh(t) : undefined;
    };
    switch (method) {
      case 'alipay.trade.precreate': {
        const v = validateOrder(biz);
        if ('error' in v) return v.error;
        const t = trades.get(v.outTradeNo) ?? newTrade({ ...v, notifyUrl: p.notify_url || null, returnUrl: null, visible: false });
        return ok({ out_trade_no: t.outTradeNo, qr_code: `${base()}/pay/${t.token}` });
      }
      case 'alipay.trade.query': {
        const t = lookup();
        if (!t || !t.visible) return fail('ACQ.TRADE_NOT_EXIST', '交易不存在');
        return ok({
          trade_no: t.tradeNo, out_trade_no: t.outTradeNo, buyer_logon_id: '138****0000', trade_status: t.status, total_amount: fenToYuan(t.amount),
          buyer_pay_amount: t.paidAt ? fenToYuan(t.amount) : '0.00', point_amount: '0.00', invoice_amount: t.paidAt ? fenToYuan(t.amount) : '0.00',
          receipt_amount: t.paidAt ? fenToYuan(t.amount) : '0.00', buyer_user_id: '2088102177846880',
          ...(t.paidAt ? { send_pay_date: formatBeijing(t.paidAt) } : {}),
        });
      }
      case 'alipay.trade.close': {
        const t = lookup();
        if (t && t.status === 'TRADE_SUCCESS') return fail('ACQ.TRADE_STATUS_ERROR', '交易状态不合法');
        if (t && t.status === 'WAIT_BUYER_PAY') {
          t.status = 'TRADE_CLOSED';
          t.closedAt = new Date();
        }
        if (!t || !t.visible) return fail('ACQ.TRADE_NOT_EXIST', '交易不存在');
        return ok({ trade_no: t.tradeNo, out_trade_no: t.outTradeNo });
      }
      case 'alipay.trade.refund': {
        const injected = provider.nextRefundError;
        if (injected) {
          provider.nextRefundError = null;
          return fail(injected.subCode, injected.subMsg);
        }
        const t = lookup();
        if (!t || !t.visible) return fail('ACQ.TRADE_NOT_EXIST', '交易不存在');
        const amount = yuanToFen(s(biz.refund_amount));
        if (amount === null || amount < 1) return fail('ACQ.INVALID_PARAMETER', 'refund_amount 无效');
        const no = s(biz.out_request_no) || t.outTradeNo;
        const answer = (fundChange: 'Y' | 'N', r?: SandboxRefund) =>
          ok({
            trade_no: t.tradeNo, out_trade_no: t.outTradeNo, buyer_logon_id: '138****0000', fund_change: fundChange, refund_fee: fenToYuan(refunded(t)),
            buyer_user_id: '2088102177846880', ...(r?.completedAt ? { gmt_refund_pay: formatBeijing(r.completedAt) } : {}),
          });
        const existing = t.refunds.find((r) => r.outRequestNo === no);
        if (existing) {
          if (existing.amount !== amount) return fail('ACQ.DISCORDANT_REPEAT_REQUEST', '请求信息不一致');
          // A refund the sandbox failed is refused for good (the buyer's account cannot take it),
          // not "balance too low", which only means "send it again later".
          if (existing.status === 'failed') return fail('ACQ.BUYER_ERROR', '买家状态非法');
          return answer('N', existing);
        }
        if (t.status !== 'TRADE_SUCCESS') return fail('ACQ.TRADE_STATUS_ERROR', '交易状态不合法');
        if (amount > t.amount - committed(t)) return fail('ACQ.REFUND_AMT_NOT_EQUAL_TOTAL', '退款金额超限');
        const r: SandboxRefund = { outRequestNo: no, amount, status: 'pending', requestedAt: new Date(), completedAt: null };
        t.refunds.push(r);
        if (provider.refundMode === 'manual') return answer('N');
        completeRefund(t, r);
        const n = refundNotification(t, r);
        lastSent.set(no, n);
        const timer = setTimeout(() => {
          timers.delete(timer);
          void deliver(n);
        }, 100);
        timers.add(timer);
        return answer('Y', r);
      }
      case 'alipay.trade.fastpay.refund.query': {
        const t = lookup();
        if (!t || !t.visible) return fail('ACQ.TRADE_NOT_EXIST', '交易不存在');
        const r = t.refunds.find((x) => x.outRequestNo === s(biz.out_request_no));
        if (!r || r.status === 'failed') return ok({});
        return ok({
          trade_no: t.tradeNo, out_trade_no: t.outTradeNo, out_request_no: r.outRequestNo, total_amount: fenToYuan(t.amount), refund_amount: fenToYuan(r.amount),
          ...(r.status === 'succeeded' ? { refund_status: 'REFUND_SUCCESS', gmt_refund_pay: formatBeijing(r.completedAt!) } : {}),
        });
      }
      case 'alipay.data.dataservice.bill.downloadurl.query': {
        const day = s(biz.bill_date);
        if (s(biz.bill_type) !== 'trade') return fail('isv.invalid-parameter', 'bill_type 仅支持 trade', '40002');
        if (!/^\d{4}-\d{2}-\d{2}$/.test(day) || day > beijingDay(new Date())) return fail('isp.bill_not_exist', '账单不存在');
        const token = randomBytes(16).toString('base64url');
        bills.set(token, { billDate: day, expires: Date.now() + BILL_LINK_MS });
        return ok({ bill_download_url: `${base()}/bill/${token}?downloadFileName=${sellerId}_${day.replace(/-/g, '')}.csv.zip` });
      }
      default:
        return fail('isv.invalid-method', '不存在的方法名', '40002');
    }
  }

  async function gateway(request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    const p = readParams(request);
    const method = p?.method ?? '';
    if (method === 'alipay.trade.page.pay') return pagePay(p!, reply);
    const key = /^[a-z.]+$/.test(method) ? responseKey(method) : 'error_response';
    reply.type('application/json; charset=utf-8');
    if (!p) return signedAnswer('error_response', fail('isv.invalid-parameter', '参数重复', '40002'));
    const checked = checkRequest(p);
    if ('error' in checked) return signedAnswer(key, checked.error);
    return signedAnswer(key, api(method, checked.biz, p));
  }

  /** Page pay: the payer's browser brings the signed request; the sandbox shows its payer page. */
  function pagePay(p: Record<string, string>, reply: FastifyReply): unknown {
    const checked = checkRequest(p);
    const refuse = (e: Record<string, unknown>) => reply.code(400).type('text/html; charset=utf-8').send(page('支付宝沙箱 · 错误', `<p>请求被拒绝 / Request refused: ${esc(String(e.sub_code))} ${esc(String(e.sub_msg))}</p>`));
    if ('error' in checked) return refuse(checked.error);
    if (checked.biz.product_code !== 'FAST_INSTANT_TRADE_PAY') return refuse(fail('ACQ.INVALID_PARAMETER', 'product_code 无效'));
    const v = validateOrder(checked.biz);
    if ('error' in v) return refuse(v.error);
    const t = trades.get(v.outTradeNo) ?? newTrade({ ...v, notifyUrl: p.notify_url || null, returnUrl: p.return_url || null, visible: true });
    t.visible = true;
    return reply.redirect(`${PREFIX}/pay/${t.token}`, 302);
  }

  function page(title: string, body: string): string {
    return `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${esc(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:420px;margin:40px auto;padding:0 16px;color:#222}h1{color:#1677ff;font-size:20px}
dl{display:grid;grid-template-columns:auto 1fr;gap:6px 12px}dt{color:#666}button{display:block;width:100%;margin:10px 0;padding:12px;font-size:16px;border-radius:6px;border:1px solid #1677ff;background:#1677ff;color:#fff}
button.alt{background:#fff;color:#1677ff}.note{color:#888;font-size:13px}</style></head><body><h1>${esc(title)}</h1>${body}
<p class="note">本页为本地沙箱，模拟支付宝付款方，不涉及真实资金。 / Local sandbox playing the Alipay payer; no real money moves.</p></body></html>`;
  }

  function payerPage(t: Trade, message = ''): string {
    refresh(t);
    const statusZh: Record<TradeStatus, string> = { WAIT_BUYER_PAY: '等待付款 / Waiting', TRADE_SUCCESS: '已支付 / Paid', TRADE_CLOSED: '已关闭 / Closed' };
    const buttons = t.status === 'WAIT_BUYER_PAY'
      ? `<form method="post" action="${PREFIX}/pay/${t.token}"><button name="action" value="pay">确认支付 / Pay</button><button class="alt" name="action" value="pay_silent">支付但不通知 / Pay without notifying</button></form>`
      : '';
    const back = t.returnUrl && t.status === 'TRADE_SUCCESS' ? `<p><a href="${esc(t.returnUrl)}">返回商户 / Back to the merchant</a></p>` : '';
    return page('支付宝沙箱收银台 / Alipay sandbox', `${message ? `<p><strong>${esc(message)}</strong></p>` : ''}<dl>
<dt>商户 / Merchant</dt><dd>沙箱商户 ${esc(sellerId)}</dd><dt>订单号 / Order</dt><dd>${esc(t.outTradeNo)}</dd>
<dt>商品 / Subject</dt><dd>${esc(t.subject)}</dd><dt>金额 / Amount</dt><dd>¥${fenToYuan(t.amount)}</dd><dt>状态 / Status</dt><dd>${statusZh[t.status]}</dd></dl>${buttons}${back}`);
  }

  function register(app: App): void {
    void app.register(
      async (sub) => {
        // Raw bytes for every media type: the sandbox checks signatures over the form as sent.
        sub.removeAllContentTypeParsers();
        sub.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 1024 * 1024 }, (_req, body, done) => done(null, body));
        sub.addHook('onClose', async () => {
          for (const t of timers) clearTimeout(t);
          timers.clear();
        });
        sub.post('/gateway.do', ROUTE, gateway);
        sub.get('/gateway.do', ROUTE, gateway);
        sub.get<{ Params: { token: string } }>('/pay/:token', ROUTE, async (request, reply) => {
          const t = byToken.get(request.params.token);
          reply.type('text/html; charset=utf-8');
          if (!t) return reply.code(404).send(page('支付宝沙箱', '<p>二维码无效 / Unknown payment code</p>'));
          // Scanning makes a precreated trade exist at Alipay (WAIT_BUYER_PAY).
          if (refresh(t).status === 'WAIT_BUYER_PAY') t.visible = true;
          return payerPage(t);
        });
        sub.post<{ Params: { token: string } }>('/pay/:token', ROUTE, async (request, reply) => {
          const t = byToken.get(request.params.token);
          reply.type('text/html; charset=utf-8');
          if (!t) return reply.code(404).send(page('支付宝沙箱', '<p>二维码无效 / Unknown payment code</p>'));
          const action = new URLSearchParams(Buffer.isBuffer(request.body) ? request.body.toString('utf8') : '').get('action');
          if (refresh(t).status !== 'WAIT_BUYER_PAY') return reply.code(409).send(payerPage(t, '该交易不可支付 / This trade cannot be paid'));
          const deliveries = await payAndNotify(t, action === 'pay_silent' ? 'never' : 'once');
          const d = deliveries[0];
          return payerPage(t, d ? `支付成功，已通知商户（${d.status} ${d.body.slice(0, 40)}） / Paid, merchant notified` : '支付成功，未通知商户 / Paid, merchant not notified');
        });
        sub.get<{ Params: { token: string } }>('/bill/:token', ROUTE, async (request, reply) => {
          const b = bills.get(request.params.token);
          if (!b || b.expires < Date.now()) return reply.code(404).type('text/plain; charset=utf-8').send('链接已失效 / link expired');
          const file = provider.statementFile(b.billDate);
          return reply.type('application/octet-stream').header('content-disposition', `attachment; filename="${file.fileName}"`).send(file.content);
        });
      },
      { prefix: PREFIX },
    );
  }

  const provider: AlipaySandbox = {
    channel: 'alipay',
    merchant,
    refundMode: 'auto',
    nextRefundError: null,
    register,

    async pay(orderNo, o = {}) {
      const t = trades.get(orderNo);
      if (!t) throw new Error(`alipay sandbox: no trade ${orderNo} (precreate it, or open the page-pay URL first)`);
      const deliveries = await payAndNotify(t, o.notify ?? 'once', o.amount);
      return { channelTxnId: t.tradeNo, deliveries };
    },

    async replayLast(no) {
      const n = lastSent.get(no);
      if (!n) throw new Error(`alipay sandbox: nothing sent for ${no}`);
      return deliver(n);
    },

    buildPaymentNotification(orderNo, o = {}) {
      const t = trades.get(orderNo);
      if (!t) throw new Error(`alipay sandbox: no trade ${orderNo}`);
      const params = tradeParams(t, o);
      if (o.forge === 'signtest') {
        // Alipay sends no probes; a WeChat-style probe signature must fail like any forgery.
        const body = new URLSearchParams({ ...params, sign_type: 'RSA2', sign: Buffer.from('WECHATPAY/SIGNTEST/probe').toString('base64') }).toString();
        return { headers: { 'content-type': FORM }, body: Buffer.from(body, 'utf8') };
      }
      if (o.forge === 'wrong_key') {
        strangerKey ??= pems().privateKey;
        return toNotification(params, strangerKey);
      }
      return toNotification(params);
    },

    deliver,

    addStrayPayment(input) {
      const at = input.paidAt ?? new Date();
      const orderNo = input.orderNo ?? `X${beijingDay(at).replace(/-/g, '')}${digits(11)}`;
      const t = newTrade({ outTradeNo: orderNo, amount: input.amount, subject: '渠道侧交易 / channel-only payment', notifyUrl: null, returnUrl: null, expiresAt: null, visible: true });
      t.status = 'TRADE_SUCCESS';
      t.paidAt = at;
      t.createdAt = new Date(at.getTime() - 5_000);
      return { channelTxnId: t.tradeNo, orderNo };
    },

    async settleRefund(refundNo, o = {}) {
      const found = findRefund(refundNo);
      if (!found || found.r.status !== 'pending') throw new Error(`alipay sandbox: no pending refund ${refundNo}`);
      if ((o.outcome ?? 'succeeded') === 'failed') {
        found.r.status = 'failed';
        return { deliveries: [] };
      }
      completeRefund(found.t, found.r);
      const n = refundNotification(found.t, found.r);
      lastSent.set(refundNo, n);
      return { deliveries: await send(n, o.notify ?? 'once') };
    },

    statementFile(billDate: string): FetchedStatement {
      const rows: BillRow[] = [];
      for (const t of trades.values()) {
        if (t.paidAt && beijingDay(t.paidAt) === billDate) {
          rows.push({ tradeNo: t.tradeNo, outTradeNo: t.outTradeNo, kind: '交易', subject: t.subject, createdAt: t.createdAt, completedAt: t.paidAt, amount: t.amount, fee: Math.round((t.amount * FEE_PER_MILLE) / 1000) });
        }
        for (const r of t.refunds) {
          if (r.status === 'succeeded' && r.completedAt && beijingDay(r.completedAt) === billDate) {
            rows.push({ tradeNo: t.tradeNo, outTradeNo: t.outTradeNo, kind: '退款', subject: t.subject, createdAt: r.requestedAt, completedAt: r.completedAt, amount: r.amount, fee: 0, refundRequestNo: r.outRequestNo });
          }
        }
      }
      rows.sort((a, b) => a.completedAt.getTime() - b.completedAt.getTime());
      return buildAlipayBill({ pid: sellerId, billDate, rows, exportedAt: new Date() });
    },
  };
  return provider;
}
