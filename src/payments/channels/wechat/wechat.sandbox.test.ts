/**
 * The WeChat Pay adapter against the sandbox provider over real HTTP: the platform's HTTP app
 * (no database, no modules) with the sandbox registered and a notify route that hands the raw
 * body to the adapter, as the platform's notify route does. This is the wire, end to end.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { access, createHttp, createLogger, isAppError, type App } from '../../../platform/index.js';
import type { NotificationVerdict, PaymentChannel } from '../../channel.js';
import { createWechatChannel } from './wechat.adapter.js';
import { createWechatSandbox, type WechatSandbox } from './wechat.sandbox.js';
import { shanghaiDay } from './wechat.crypto.js';

const logger = createLogger('silent');
let app: App;
let base = '';
let sandbox: WechatSandbox;
let channel: PaymentChannel;
const verdicts: NotificationVerdict[] = [];
let seq = 0;
const orderNo = () => `P${shanghaiDay(new Date()).replace(/-/g, '')}${String(++seq + Math.floor(Math.random() * 1e9)).padStart(11, '0')}`;
const notifyUrl = () => `${base}/api/v1/payments/notify/wechat`;
const expiresAt = () => new Date(Date.now() + 15 * 60_000);

async function errorCode(p: Promise<unknown>): Promise<{ code: string; details?: Record<string, unknown> }> {
  try {
    await p;
  } catch (err) {
    if (isAppError(err)) return { code: err.code, ...(err.details ? { details: err.details } : {}) };
    throw err;
  }
  return { code: 'no error' };
}

async function until<T>(what: string, fn: () => T | undefined): Promise<T> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  // The platform's own HTTP stack (its JSON parser, access hook, error handler), as in the server.
  ({ app } = await createHttp({
    logger,
    staffAuth: { authenticate: async () => null },
    terminalAuth: { authenticate: async () => { throw new Error('no terminals here'); } },
    cardholderAuth: { authenticate: async () => null },
  }));
  sandbox = createWechatSandbox({ publicUrl: () => base, logger });
  sandbox.register(app);
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 64 * 1024 }, (_req, body, done) => done(null, body));
    scope.post('/api/v1/payments/notify/wechat', { config: { access: access.public } }, async (req, reply) => {
      const headers: Record<string, string | undefined> = {};
      for (const [k, v] of Object.entries(req.headers)) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(',') : v;
      const verdict = await channel.verifyNotification({ headers, body: req.body as Buffer, now: new Date() });
      verdicts.push(verdict);
      const ack = channel.ack(verdict.ok, verdict.ok ? undefined : verdict.code);
      return reply.code(ack.status).type(ack.contentType).send(ack.body);
    });
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  channel = createWechatChannel(sandbox.merchant, { sandbox: true, timeoutMs: 5000, logger });
});

afterAll(async () => {
  await app?.close();
});

describe('WeChat Pay adapter ↔ sandbox over HTTP', () => {
  it('uses public-key mode with a PUB_KEY_ID and an apiBase that follows the listening server', () => {
    expect(Object.keys(sandbox.merchant.platformKeys)).toEqual([expect.stringMatching(/^PUB_KEY_ID_0114\d+$/)]);
    expect(sandbox.merchant.apiBase).toBe(`${base}/sandbox/wechat`);
    expect(Buffer.byteLength(sandbox.merchant.apiV3Key)).toBe(32);
  });

  it('Native: order → payer page → notification verified → query paid; a replay verifies again byte for byte', async () => {
    const no = orderNo();
    const payload = await channel.createPayment({ orderNo: no, amount: 12345, subject: '加油卡充值 123.45 元', method: 'native', expiresAt: expiresAt(), notifyUrl: notifyUrl() });
    expect(payload.qrText).toMatch(new RegExp(`^${base}/sandbox/wechat/pay/pr[0-9a-f]+$`));
    expect(payload.sandboxUrl).toBe(payload.qrText);
    expect(await channel.queryPayment(no)).toEqual({ orderNo: no, status: 'paying', amount: 12345, channelStatus: 'NOTPAY' });

    const pageRes = await fetch(payload.sandboxUrl!);
    const html = await pageRes.text();
    expect(pageRes.status).toBe(200);
    expect(html).toContain(no);
    expect(html).toContain('¥123.45');
    expect(html).toContain('确认支付');
    expect(html).toContain('支付但不通知');

    const before = verdicts.length;
    const paid = await fetch(payload.sandboxUrl!, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'action=notify' });
    expect(paid.status).toBe(200);
    expect(await paid.text()).toContain('商户应答 HTTP 204');
    expect(verdicts.length).toBe(before + 1);
    const v = verdicts[before]!;
    expect(v.ok).toBe(true);
    if (!v.ok || v.notification.kind !== 'payment') throw new Error('not a payment');
    expect(v.notification).toMatchObject({ merchantId: sandbox.merchant.mchId, appId: sandbox.merchant.appId, payment: { orderNo: no, status: 'paid', amount: 12345, channelStatus: 'SUCCESS' } });
    const txn = v.notification.payment.channelTxnId!;
    expect(txn).toMatch(/^4200\d{24}$/);

    const q = await channel.queryPayment(no);
    expect(q).toMatchObject({ orderNo: no, status: 'paid', channelTxnId: txn, amount: 12345, channelStatus: 'SUCCESS' });
    expect(Math.abs(q.paidAt!.getTime() - Date.now())).toBeLessThan(60_000);

    // Paying again is refused by the page; creating the same order again is refused by the API.
    expect((await fetch(payload.sandboxUrl!, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'action=notify' })).status).toBe(409);
    expect(await errorCode(channel.createPayment({ orderNo: no, amount: 12345, subject: 'x', method: 'native', expiresAt: expiresAt(), notifyUrl: notifyUrl() })))
      .toMatchObject({ code: 'PAYMENT_CHANNEL_REJECTED', details: { channelCode: 'ORDERPAID' } });

    const replay = await sandbox.replayLast(no);
    expect(replay.status).toBe(204);
    const again = verdicts.at(-1)!;
    expect(again.ok && again.notification.notifyId).toBe(v.notification.notifyId);
  });

  it('JSAPI: prepay_id → signed payment parameters; the payer page works for it; a payment without notification is found by query', async () => {
    const no = orderNo();
    const payload = await channel.createPayment({ orderNo: no, amount: 5000, subject: '加油卡充值', method: 'jsapi', expiresAt: expiresAt(), notifyUrl: notifyUrl(), payer: { openId: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' } });
    const p = payload.jsapi!;
    expect(p).toMatchObject({ appId: sandbox.merchant.appId, signType: 'RSA', package: expect.stringMatching(/^prepay_id=wx\d{14}[0-9a-f]+$/) });
    const merchantPublic = createPublicKey(createPrivateKey(sandbox.merchant.merchantPrivateKeyPem));
    expect(verify('RSA-SHA256', Buffer.from(`${p.appId}\n${p.timeStamp}\n${p.nonceStr}\n${p.package}\n`), merchantPublic, Buffer.from(p.paySign!, 'base64'))).toBe(true);
    expect(payload.sandboxUrl).toBe(`${base}/sandbox/wechat/pay/${p.package!.slice('prepay_id='.length)}`);
    expect(await (await fetch(payload.sandboxUrl!)).text()).toContain('JSAPI');

    const before = verdicts.length;
    const { channelTxnId, deliveries } = await sandbox.pay(no, { notify: 'never' });
    expect(deliveries).toEqual([]);
    expect(verdicts.length).toBe(before);
    expect(await channel.queryPayment(no)).toMatchObject({ status: 'paid', channelTxnId, amount: 5000 });
  });

  it('two identical notifications at once both verify (the platform’s order lock makes the second a duplicate)', async () => {
    const no = orderNo();
    await channel.createPayment({ orderNo: no, amount: 800, subject: 'x', method: 'native', expiresAt: expiresAt(), notifyUrl: notifyUrl() });
    const { deliveries } = await sandbox.pay(no, { notify: 'twice_at_once' });
    expect(deliveries.map((d) => d.status)).toEqual([204, 204]);
    const two = verdicts.slice(-2);
    expect(two.every((x) => x.ok)).toBe(true);
    expect(new Set(two.map((x) => (x.ok ? x.notification.notifyId : '')))).toHaveProperty('size', 1);
  });

  it('forged, probing, stale and misdirected notifications are refused with the answer WeChat expects', async () => {
    const no = orderNo();
    await channel.createPayment({ orderNo: no, amount: 2000, subject: 'x', method: 'native', expiresAt: expiresAt(), notifyUrl: notifyUrl() });
    const cases: Array<[Parameters<WechatSandbox['buildPaymentNotification']>[1], string, number]> = [
      [{ forge: 'wrong_key' }, 'PAYMENT_NOTIFY_SIGNATURE_INVALID', 400],
      [{ forge: 'signtest' }, 'PAYMENT_NOTIFY_SIGNATURE_INVALID', 400],
      [{ timestamp: new Date(Date.now() - 10 * 60_000) }, 'PAYMENT_NOTIFY_STALE', 400],
      [{ merchantId: '1900000109' }, 'PAYMENT_NOTIFY_MERCHANT_MISMATCH', 400],
    ];
    for (const [opts, code, status] of cases) {
      const d = await sandbox.deliver(sandbox.buildPaymentNotification(no, opts));
      expect(d.status, code).toBe(status);
      // The reason is ours to log, not the sender's to read.
      expect(JSON.parse(d.body)).toEqual({ code: 'FAIL', message: '失败' });
      expect(verdicts.at(-1)).toMatchObject({ ok: false, code });
    }
    // A tampered body with the original headers.
    const n = sandbox.buildPaymentNotification(no);
    const tampered = Buffer.from(n.body.toString('utf8').replace('"summary":"支付成功"', '"summary":"支付成功 "'));
    expect((await sandbox.deliver({ headers: n.headers, body: tampered })).status).toBe(400);
    // Another amount is well signed: the platform's order check refuses it, not the signature.
    const wrongAmount = await sandbox.deliver(sandbox.buildPaymentNotification(no, { amount: 1 }));
    expect(wrongAmount.status).toBe(204);
    expect(verdicts.at(-1)).toMatchObject({ ok: true, notification: { payment: { orderNo: no, amount: 1 } } });
    // Building notifications did not pay the order.
    expect(await channel.queryPayment(no)).toMatchObject({ status: 'paying' });
  });

  it('refunds: auto mode notifies REFUND.SUCCESS; manual mode settles on command; same refund number is idempotent; over-refund refused', async () => {
    const no = orderNo();
    await channel.createPayment({ orderNo: no, amount: 10000, subject: 'x', method: 'native', expiresAt: expiresAt(), notifyUrl: notifyUrl() });
    const { channelTxnId } = await sandbox.pay(no, { notify: 'never' });

    sandbox.refundMode = 'auto';
    const refundNo = `F${no.slice(1, 9)}${String(seq).padStart(11, '0')}`;
    const r = await channel.refund({ refundNo, orderNo: no, channelTxnId, amount: 2500, total: 10000, reason: '客户申请退款', notifyUrl: notifyUrl(), requestedAt: new Date() });
    expect(r).toMatchObject({ refundNo, orderNo: no, status: 'processing', amount: 2500, channelStatus: 'PROCESSING', channelRefundId: expect.stringMatching(/^50\d+$/) });
    const notified = await until('the refund notification', () => verdicts.find((x) => x.ok && x.notification.kind === 'refund' && x.notification.refund.refundNo === refundNo));
    expect(notified.ok && notified.notification.kind === 'refund' && notified.notification.refund).toMatchObject({ status: 'succeeded', amount: 2500, channelRefundId: r.channelRefundId, channelStatus: 'SUCCESS' });
    expect(await channel.queryRefund(refundNo, no)).toMatchObject({ status: 'succeeded', amount: 2500, completedAt: expect.any(Date) });
    expect(await channel.queryPayment(no)).toMatchObject({ status: 'paid', channelStatus: 'REFUND' });
    const same = await channel.refund({ refundNo, orderNo: no, channelTxnId, amount: 2500, total: 10000, notifyUrl: notifyUrl(), requestedAt: new Date() });
    expect(same).toMatchObject({ status: 'succeeded', channelRefundId: r.channelRefundId });

    sandbox.refundMode = 'manual';
    try {
      const refund2 = `${refundNo.slice(0, -1)}9`;
      const r2 = await channel.refund({ refundNo: refund2, orderNo: no, channelTxnId: null, amount: 7500, total: 10000, notifyUrl: notifyUrl(), requestedAt: new Date() });
      expect(r2.status).toBe('processing');
      expect(await channel.queryRefund(refund2, no)).toMatchObject({ status: 'processing' });
      expect(await errorCode(channel.refund({ refundNo: `${refundNo.slice(0, -1)}8`, orderNo: no, channelTxnId, amount: 1, total: 10000, notifyUrl: notifyUrl(), requestedAt: new Date() })))
        .toMatchObject({ code: 'PAYMENT_CHANNEL_REJECTED', details: { channelCode: 'INVALID_REQUEST', httpStatus: 400 } });
      const { deliveries } = await sandbox.settleRefund(refund2, { outcome: 'failed' });
      expect(deliveries.map((d) => d.status)).toEqual([204]);
      expect(verdicts.at(-1)).toMatchObject({ ok: true, notification: { kind: 'refund', refund: { refundNo: refund2, status: 'failed', channelStatus: 'CLOSED' } } });
      expect(await channel.queryRefund(refund2, no)).toMatchObject({ status: 'failed' });
    } finally {
      sandbox.refundMode = 'auto';
    }
    expect(await channel.queryRefund('F2000010100000000000', no)).toEqual({ refundNo: 'F2000010100000000000', status: 'not_found', channelStatus: 'RESOURCE_NOT_EXISTS' });
  });

  it('query of an unknown order is not_found; close works on unpaid, is a no-op on unknown, refused on paid', async () => {
    expect(await channel.queryPayment('P2000010100000000000')).toEqual({ orderNo: 'P2000010100000000000', status: 'not_found', channelStatus: 'ORDER_NOT_EXIST' });
    await channel.closePayment('P2000010100000000000');
    const no = orderNo();
    await channel.createPayment({ orderNo: no, amount: 100, subject: 'x', method: 'native', expiresAt: expiresAt(), notifyUrl: notifyUrl() });
    await channel.closePayment(no);
    expect(await channel.queryPayment(no)).toMatchObject({ status: 'closed', channelStatus: 'CLOSED' });
    await expect(sandbox.pay(no)).rejects.toThrow(/closed/);
    const paidNo = orderNo();
    await channel.createPayment({ orderNo: paidNo, amount: 100, subject: 'x', method: 'native', expiresAt: expiresAt(), notifyUrl: notifyUrl() });
    await sandbox.pay(paidNo, { notify: 'never' });
    expect(await errorCode(channel.closePayment(paidNo))).toMatchObject({ code: 'PAYMENT_CHANNEL_REJECTED', details: { channelCode: 'ORDERPAID' } });
  });

  it('statement: fetched with its SHA1, parsed against its summary, with a stray payment, refunds, the fee rate, bucketed by Beijing day', async () => {
    const today = shanghaiDay(new Date());
    const stray = sandbox.addStrayPayment({ amount: 777 });
    // 23:59:59 Beijing time yesterday belongs to yesterday's bill.
    const y = new Date(`${today}T00:00:00+08:00`);
    const lateYesterday = new Date(y.getTime() - 1000);
    const old = sandbox.addStrayPayment({ amount: 333, paidAt: lateYesterday });

    const fetched = await channel.fetchStatement!(today);
    expect(fetched.expectedHash).toEqual({ algorithm: 'sha1', hex: expect.stringMatching(/^[0-9a-f]{40}$/) });
    expect([...fetched.content.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    expect(fetched.content.toString('utf8')).toContain('\r\n`');
    expect(fetched.content.toString('utf8')).toContain('`0.60%');
    const parsed = channel.parseStatement!(fetched);
    const strayLine = parsed.lines.find((l) => l.channelTxnId === stray.channelTxnId);
    expect(strayLine).toMatchObject({ kind: 'payment', orderNo: stray.orderNo, amount: 777, feeMfen: 777 * 6, status: 'SUCCESS' });
    expect(parsed.lines.find((l) => l.channelTxnId === old.channelTxnId)).toBeUndefined();
    const refunds = parsed.lines.filter((l) => l.kind === 'refund');
    expect(refunds.map((l) => [l.amount, l.status, l.feeMfen]).sort()).toEqual([[2500, 'SUCCESS', -15000], [7500, 'CLOSED', -45000]].sort());
    const payments = parsed.lines.filter((l) => l.kind === 'payment');
    expect(payments.map((l) => l.amount).sort((a, b) => a - b)).toEqual([100, 777, 800, 5000, 10000, 12345]);
    expect(parsed.summary).toMatchObject({ lineCount: 8, paymentCount: 6, paymentTotal: 29022, refundCount: 2, refundTotal: 10000 });
    expect(parsed.summary.feeTotalMfen).toBe(29022 * 6 - 10000 * 6);
    // The same bill as the control surface hands it out.
    expect(sandbox.statementFile(today).expectedHash).toEqual(fetched.expectedHash);

    const yesterday = channel.parseStatement!(await channel.fetchStatement!(shanghaiDay(lateYesterday)));
    expect(yesterday.lines.map((l) => [l.channelTxnId, l.amount])).toEqual([[old.channelTxnId, 333]]);

    const tampered = Buffer.from(fetched.content);
    tampered[tampered.length - 5]! ^= 1;
    expect(await errorCode(Promise.resolve().then(() => channel.parseStatement!({ ...fetched, content: tampered })))).toMatchObject({ code: 'PAYMENT_STATEMENT_HASH_MISMATCH' });

    const tomorrow = shanghaiDay(new Date(Date.now() + 86400_000));
    expect(await errorCode(channel.fetchStatement!(tomorrow))).toMatchObject({ code: 'PAYMENT_STATEMENT_NOT_READY' });
  });

  // After the statement test: the refund below would change today's bill.
  it('refund answers that mean "retry later" (SYSTEM_ERROR 500, FREQUENCY_LIMITED 429, NOT_ENOUGH 403) are UNAVAILABLE, not a refusal', async () => {
    const no = orderNo();
    await channel.createPayment({ orderNo: no, amount: 3000, subject: 'x', method: 'native', expiresAt: expiresAt(), notifyUrl: notifyUrl() });
    const { channelTxnId } = await sandbox.pay(no, { notify: 'never' });
    const refundNo = `F${no.slice(1, 9)}${String(Math.floor(Math.random() * 1e11)).padStart(11, '0')}`;
    const req = { refundNo, orderNo: no, channelTxnId, amount: 1000, total: 3000, notifyUrl: notifyUrl(), requestedAt: new Date() };
    const cases: Array<[number, string, string]> = [
      [500, 'SYSTEM_ERROR', 'PAYMENT_CHANNEL_UNAVAILABLE'],
      [429, 'FREQUENCY_LIMITED', 'PAYMENT_CHANNEL_UNAVAILABLE'],
      [403, 'NOT_ENOUGH', 'PAYMENT_CHANNEL_UNAVAILABLE'],
      [400, 'PARAM_ERROR', 'PAYMENT_CHANNEL_REJECTED'],
    ];
    for (const [status, channelCode, code] of cases) {
      sandbox.nextRefundError = { status, code: channelCode, message: '模拟错误' };
      expect(await errorCode(channel.refund(req)), channelCode).toMatchObject({ code, details: { channelCode, httpStatus: status } });
    }
    // Nothing was refunded by the refused attempts: the next try goes through under the same number.
    sandbox.refundMode = 'manual';
    try {
      expect(await channel.refund(req)).toMatchObject({ refundNo, status: 'processing', amount: 1000 });
      await sandbox.settleRefund(refundNo, { notify: 'never' });
    } finally {
      sandbox.refundMode = 'auto';
    }
  });

  it('the sandbox refuses requests not signed by the merchant key; the adapter refuses answers not signed by WeChat’s', async () => {
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const wrongMerchant = createWechatChannel({ ...sandbox.merchant, merchantPrivateKeyPem: stranger.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, apiBase: sandbox.merchant.apiBase }, { sandbox: true, timeoutMs: 5000, logger });
    expect(await errorCode(wrongMerchant.queryPayment('P2000010100000000000'))).toMatchObject({ code: 'PAYMENT_CHANNEL_REJECTED', details: { channelCode: 'SIGN_ERROR', httpStatus: 401 } });
    const id = Object.keys(sandbox.merchant.platformKeys)[0]!;
    const wrongWechat = createWechatChannel({ ...sandbox.merchant, platformKeys: { [id]: stranger.publicKey.export({ type: 'spki', format: 'pem' }) as string }, apiBase: sandbox.merchant.apiBase }, { sandbox: true, timeoutMs: 5000, logger });
    expect(await errorCode(wrongWechat.queryPayment('P2000010100000000000'))).toMatchObject({ code: 'PAYMENT_CHANNEL_RESPONSE_INVALID' });
    const raw = await fetch(`${base}/sandbox/wechat/v3/pay/transactions/out-trade-no/P2000010100000000000?mchid=${sandbox.merchant.mchId}`);
    expect(raw.status).toBe(401);
    expect(await raw.json()).toMatchObject({ code: 'SIGN_ERROR' });
  });

  it('an unreachable provider is PAYMENT_CHANNEL_UNAVAILABLE', async () => {
    const closed = Fastify();
    await closed.listen({ port: 0, host: '127.0.0.1' });
    const addr = closed.server.address();
    await closed.close();
    const gone = createWechatChannel({ ...sandbox.merchant, apiBase: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 9}` }, { sandbox: true, timeoutMs: 2000, logger });
    expect(await errorCode(gone.queryPayment('P2000010100000000000'))).toMatchObject({ code: 'PAYMENT_CHANNEL_UNAVAILABLE' });
  });
});
