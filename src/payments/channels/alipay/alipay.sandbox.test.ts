import { generateKeyPairSync } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../../platform/index.js';
import type { NotificationVerdict, PaymentChannel, PaymentPayload } from '../../channel.js';
import { createAlipayChannel } from './alipay.channel.js';
import { beijingDay } from './alipay.crypto.js';
import { createAlipaySandbox, type AlipaySandbox } from './alipay.sandbox.js';

const logger = pino({ level: 'silent' });
let app: App;
let base = '';
let sandbox: AlipaySandbox;
let channel: PaymentChannel;
const received: NotificationVerdict[] = [];
let release: () => void = () => {};
const hung = new Promise<void>((resolve) => {
  release = resolve;
});

let seq = 0;
const nextOrderNo = (): string => `P${beijingDay(new Date()).replace(/-/g, '')}${String(Date.now() % 1e8).padStart(8, '0')}${String(++seq).padStart(3, '0')}`;
const nextRefundNo = (): string => `F${nextOrderNo().slice(1)}`;
const notifyUrl = (): string => `${base}/notify`;
const inFifteenMinutes = (): Date => new Date(Date.now() + 15 * 60_000);

async function precreate(amount: number, subject = '加油卡充值'): Promise<{ orderNo: string; payload: PaymentPayload }> {
  const orderNo = nextOrderNo();
  const payload = await channel.createPayment({ orderNo, amount, subject, method: 'precreate', expiresAt: inFifteenMinutes(), notifyUrl: notifyUrl() });
  return { orderNo, payload };
}

/** Notifications the test route has verified for an order or refund, oldest first. */
const verdictsFor = (no: string) =>
  received.filter((v) => (v.ok ? (v.notification.kind === 'payment' ? v.notification.payment.orderNo : v.notification.refund.refundNo) : v.orderNo) === no);

async function waitFor<T>(probe: () => T | undefined, what: string): Promise<T> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const errorOf = async (p: Promise<unknown>): Promise<{ code?: string; details?: Record<string, unknown> }> => {
  try {
    await p;
  } catch (err) {
    return err as { code?: string; details?: Record<string, unknown> };
  }
  throw new Error('expected a rejection');
};

beforeAll(async () => {
  app = Fastify({ loggerInstance: logger, forceCloseConnections: true }) as unknown as App;
  sandbox = createAlipaySandbox({ publicUrl: () => base, logger });
  sandbox.register(app);
  await app.register(async (sub) => {
    // The platform's notify route does the same: the body stays the bytes Alipay sent.
    sub.removeAllContentTypeParsers();
    sub.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    sub.post('/notify', async (request, reply) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(request.headers)) if (typeof v === 'string') headers[k.toLowerCase()] = v;
      const verdict = await channel.verifyNotification({ headers, body: request.body as Buffer, now: new Date() });
      received.push(verdict);
      const ack = channel.ack(verdict.ok, verdict.ok ? undefined : verdict.code);
      return reply.code(ack.status).type(ack.contentType).send(ack.body);
    });
    sub.post('/hang', async () => {
      await hung;
      return 'late';
    });
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  channel = createAlipayChannel(sandbox.merchant, { sandbox: true, timeoutMs: 5_000, logger });
});

afterAll(async () => {
  release();
  await app?.close();
});

describe('alipay adapter against the sandbox over HTTP', () => {
  it('precreate → scan → pay → notification verified → query → replay', async () => {
    const { orderNo, payload } = await precreate(12345, '加油卡充值 100% 到账');
    expect(payload.qrText).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/sandbox\/alipay\/pay\/[\w-]+$/);
    expect(payload.sandboxUrl).toBe(payload.qrText);
    // Not scanned yet: Alipay does not know the trade.
    expect(await channel.queryPayment(orderNo)).toMatchObject({ orderNo, status: 'not_found', channelStatus: 'ACQ.TRADE_NOT_EXIST' });

    const page = await fetch(payload.qrText!);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain(orderNo);
    expect(html).toContain('¥123.45');
    expect(html).toContain('确认支付');
    expect(await channel.queryPayment(orderNo)).toMatchObject({ status: 'paying', channelStatus: 'WAIT_BUYER_PAY' });

    const paid = await sandbox.pay(orderNo);
    expect(paid.deliveries).toEqual([{ status: 200, body: 'success' }]);
    const [first] = verdictsFor(orderNo);
    expect(first).toMatchObject({ ok: true, notification: { kind: 'payment', merchantId: sandbox.merchant.sellerId, appId: sandbox.merchant.appId, payment: { status: 'paid', amount: 12345, channelTxnId: paid.channelTxnId } } });

    const q = await channel.queryPayment(orderNo);
    expect(q).toMatchObject({ orderNo, status: 'paid', amount: 12345, channelTxnId: paid.channelTxnId, channelStatus: 'TRADE_SUCCESS' });
    expect(Math.abs(q.paidAt!.getTime() - Date.now())).toBeLessThan(60 * 60_000);

    // A replay is the same bytes: it verifies, with the same notify_id (the platform's dedupe key).
    expect(await sandbox.replayLast(orderNo)).toEqual({ status: 200, body: 'success' });
    const all = verdictsFor(orderNo);
    expect(all).toHaveLength(2);
    expect(all[1]!.ok && first!.ok && all[1]!.notification.notifyId === first!.notification.notifyId).toBe(true);
  });

  it('sends a notification twice at once, and pays without notifying', async () => {
    const a = await precreate(500);
    await fetch(a.payload.qrText!);
    const twice = await sandbox.pay(a.orderNo, { notify: 'twice_at_once' });
    expect(twice.deliveries).toEqual([{ status: 200, body: 'success' }, { status: 200, body: 'success' }]);
    const ids = verdictsFor(a.orderNo).map((v) => (v.ok ? v.notification.notifyId : null));
    expect(ids).toHaveLength(2);
    expect(ids[0]).not.toBeNull();
    expect(ids[0]).toBe(ids[1]);

    const b = await precreate(600);
    await fetch(b.payload.qrText!);
    expect((await sandbox.pay(b.orderNo, { notify: 'never' })).deliveries).toEqual([]);
    expect(verdictsFor(b.orderNo)).toHaveLength(0);
    expect(await channel.queryPayment(b.orderNo)).toMatchObject({ status: 'paid', amount: 600 });
  });

  it('the payer page buttons pay with and without a notification', async () => {
    const a = await precreate(700);
    const token = a.payload.qrText!.split('/').pop();
    const res = await fetch(`${base}/sandbox/alipay/pay/${token}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'action=pay' });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('支付成功');
    expect(verdictsFor(a.orderNo)).toMatchObject([{ ok: true, notification: { payment: { status: 'paid', amount: 700 } } }]);
    const again = await fetch(`${base}/sandbox/alipay/pay/${token}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'action=pay' });
    expect(again.status).toBe(409);

    const b = await precreate(800);
    const silent = await fetch(b.payload.qrText!, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'action=pay_silent' });
    expect(silent.status).toBe(200);
    expect(verdictsFor(b.orderNo)).toHaveLength(0);
    expect((await channel.queryPayment(b.orderNo)).status).toBe('paid');
  });

  it('page pay: a signed form and URL for the browser; the sandbox checks the signature', async () => {
    const orderNo = nextOrderNo();
    const payload = await channel.createPayment({ orderNo, amount: 20000, subject: '加油卡充值', method: 'page', expiresAt: inFifteenMinutes(), notifyUrl: notifyUrl(), returnUrl: 'http://portal.test/topups' });
    const action = new URL(payload.form!.action);
    expect(`${action.origin}${action.pathname}`).toBe(`${base}/sandbox/alipay/gateway.do`);
    expect(Object.fromEntries(action.searchParams)).toMatchObject({ method: 'alipay.trade.page.pay', app_id: sandbox.merchant.appId, sign_type: 'RSA2', charset: 'utf-8', notify_url: notifyUrl(), return_url: 'http://portal.test/topups' });
    expect(Object.keys(payload.form!.fields)).toEqual(['biz_content']);
    expect(JSON.parse(payload.form!.fields.biz_content!)).toMatchObject({ out_trade_no: orderNo, total_amount: '200.00', product_code: 'FAST_INSTANT_TRADE_PAY' });
    expect(payload.sandboxUrl).toBe(payload.payUrl);

    const tampered = new URL(payload.payUrl!);
    tampered.searchParams.set('biz_content', payload.form!.fields.biz_content!.replace('200.00', '0.01'));
    expect((await fetch(tampered, { redirect: 'manual' })).status).toBe(400);
    expect((await channel.queryPayment(orderNo)).status).toBe('not_found');

    const opened = await fetch(payload.payUrl!, { redirect: 'manual' });
    expect(opened.status).toBe(302);
    expect(opened.headers.get('location')).toMatch(/^\/sandbox\/alipay\/pay\//);
    expect((await channel.queryPayment(orderNo)).status).toBe('paying');
    await sandbox.pay(orderNo);
    expect((await channel.queryPayment(orderNo)).status).toBe('paid');

    // The auto-submitting form path (POST) works the same.
    const other = nextOrderNo();
    const p2 = await channel.createPayment({ orderNo: other, amount: 100, subject: '加油卡充值', method: 'page', expiresAt: inFifteenMinutes(), notifyUrl: notifyUrl() });
    const posted = await fetch(p2.form!.action, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(p2.form!.fields).toString() });
    expect(posted.status).toBe(302);
    expect((await channel.queryPayment(other)).status).toBe('paying');
    expect((await errorOf(channel.createPayment({ orderNo: nextOrderNo(), amount: 1, subject: 'x', method: 'native', expiresAt: inFifteenMinutes(), notifyUrl: notifyUrl() }))).code).toBe('PAYMENT_METHOD_NOT_SUPPORTED');
  });

  it('refuses forged, tampered, stale and foreign notifications delivered over HTTP', async () => {
    const { orderNo, payload } = await precreate(4321);
    await fetch(payload.qrText!);
    const cases: Array<[string, ReturnType<AlipaySandbox['buildPaymentNotification']>]> = [
      ['PAYMENT_NOTIFY_SIGNATURE_INVALID', sandbox.buildPaymentNotification(orderNo, { forge: 'wrong_key' })],
      ['PAYMENT_NOTIFY_SIGNATURE_INVALID', sandbox.buildPaymentNotification(orderNo, { forge: 'signtest' })],
      ['PAYMENT_NOTIFY_MERCHANT_MISMATCH', sandbox.buildPaymentNotification(orderNo, { merchantId: '2088999999999999' })],
      ['PAYMENT_NOTIFY_STALE', sandbox.buildPaymentNotification(orderNo, { timestamp: new Date(Date.now() - 26 * 3600_000) })],
    ];
    const genuine = sandbox.buildPaymentNotification(orderNo);
    cases.push(['PAYMENT_NOTIFY_SIGNATURE_INVALID', { headers: genuine.headers, body: Buffer.from(genuine.body.toString().replace('total_amount=43.21', 'total_amount=4321.00')) }]);
    for (const [code, n] of cases) {
      expect(await sandbox.deliver(n)).toEqual({ status: 400, body: 'fail' });
      expect(received.at(-1)).toMatchObject({ ok: false, code });
    }
    // A wrong amount signed by Alipay passes the adapter: the order check (H1) refuses it.
    expect(await sandbox.deliver(sandbox.buildPaymentNotification(orderNo, { amount: 1 }))).toEqual({ status: 200, body: 'success' });
    expect(received.at(-1)).toMatchObject({ ok: true, notification: { payment: { amount: 1 } } });
    expect(await sandbox.deliver(genuine)).toEqual({ status: 200, body: 'success' });
  });

  it('closes unpaid trades, scanned or not', async () => {
    const a = await precreate(900);
    await fetch(a.payload.qrText!);
    await channel.closePayment(a.orderNo);
    expect(await channel.queryPayment(a.orderNo)).toMatchObject({ status: 'closed', channelStatus: 'TRADE_CLOSED' });
    await expect(sandbox.pay(a.orderNo)).rejects.toThrow(/TRADE_CLOSED/);

    const b = await precreate(901);
    await channel.closePayment(b.orderNo); // never scanned: ACQ.TRADE_NOT_EXIST counts as closed
    await expect(sandbox.pay(b.orderNo)).rejects.toThrow(/TRADE_CLOSED/);

    const c = await precreate(902);
    await fetch(c.payload.qrText!);
    await sandbox.pay(c.orderNo, { notify: 'never' });
    expect(await errorOf(channel.closePayment(c.orderNo))).toMatchObject({ code: 'PAYMENT_CHANNEL_REJECTED', details: { channelCode: 'ACQ.TRADE_STATUS_ERROR' } });
  });

  it('refunds synchronously (auto), notifies, and answers a retry with the same refund number', async () => {
    const { orderNo, payload } = await precreate(10000);
    await fetch(payload.qrText!);
    const { channelTxnId } = await sandbox.pay(orderNo);
    const refundNo = nextRefundNo();
    const req = { refundNo, orderNo, channelTxnId, amount: 3000, total: 10000, reason: '客户申请退款', notifyUrl: notifyUrl(), requestedAt: new Date() };
    expect(await channel.refund(req)).toMatchObject({ refundNo, status: 'succeeded', amount: 3000, channelStatus: 'fund_change=Y' });
    const note = await waitFor(() => verdictsFor(refundNo)[0], 'the refund notification');
    expect(note).toMatchObject({ ok: true, notification: { kind: 'refund', refund: { refundNo, orderNo, status: 'succeeded' } } });
    expect(await channel.queryRefund(refundNo, orderNo)).toMatchObject({ status: 'succeeded', amount: 3000, channelStatus: 'REFUND_SUCCESS' });
    // The job retries with the same number: fund_change=N, the query says it is done.
    expect(await channel.refund(req)).toMatchObject({ status: 'succeeded', amount: 3000 });
    expect(await sandbox.replayLast(refundNo)).toEqual({ status: 200, body: 'success' });

    expect(await channel.refund({ ...req, refundNo: nextRefundNo(), amount: 7001 })).toMatchObject({ status: 'failed', channelStatus: 'ACQ.REFUND_AMT_NOT_EQUAL_TOTAL' });
    const rest = nextRefundNo();
    expect(await channel.refund({ ...req, refundNo: rest, amount: 7000 })).toMatchObject({ status: 'succeeded' });
    await waitFor(() => verdictsFor(rest)[0], 'the second refund notification');
    // Fully refunded: Alipay closes the trade.
    expect(await channel.queryPayment(orderNo)).toMatchObject({ status: 'closed', amount: 10000 });
    expect(await channel.queryRefund(nextRefundNo(), orderNo)).toMatchObject({ status: 'not_found' });
    expect(await channel.refund({ ...req, orderNo: nextOrderNo(), channelTxnId: null, refundNo: nextRefundNo() })).toMatchObject({ status: 'failed', channelStatus: 'ACQ.TRADE_NOT_EXIST' });
  });

  it('refund answers that mean "retry later" (SYSTEM_ERROR, SELLER_BALANCE_NOT_ENOUGH) are UNAVAILABLE; a final refusal fails the refund', async () => {
    const { orderNo, payload } = await precreate(4000);
    await fetch(payload.qrText!);
    const { channelTxnId } = await sandbox.pay(orderNo);
    const refundNo = nextRefundNo();
    const req = { refundNo, orderNo, channelTxnId, amount: 1000, total: 4000, notifyUrl: notifyUrl(), requestedAt: new Date() };
    for (const subCode of ['ACQ.SYSTEM_ERROR', 'ACQ.SELLER_BALANCE_NOT_ENOUGH']) {
      sandbox.nextRefundError = { subCode, subMsg: '模拟错误' };
      expect(await errorOf(channel.refund(req)), subCode).toMatchObject({ code: 'PAYMENT_CHANNEL_UNAVAILABLE', details: { channelCode: subCode } });
    }
    sandbox.nextRefundError = { subCode: 'ACQ.BUYER_ERROR', subMsg: '买家状态非法' };
    expect(await channel.refund(req)).toMatchObject({ status: 'failed', channelStatus: 'ACQ.BUYER_ERROR' });
    expect(await channel.refund(req)).toMatchObject({ refundNo, status: 'succeeded', amount: 1000 });
  });

  it('refunds held by the sandbox (manual) stay processing until settled', async () => {
    const { orderNo, payload } = await precreate(5000);
    await fetch(payload.qrText!);
    const { channelTxnId } = await sandbox.pay(orderNo);
    sandbox.refundMode = 'manual';
    try {
      const ok = nextRefundNo();
      expect(await channel.refund({ refundNo: ok, orderNo, channelTxnId, amount: 1000, total: 5000, notifyUrl: notifyUrl(), requestedAt: new Date() })).toMatchObject({ status: 'processing' });
      expect(await channel.queryRefund(ok, orderNo)).toMatchObject({ status: 'processing' });
      expect(await sandbox.settleRefund(ok)).toEqual({ deliveries: [{ status: 200, body: 'success' }] });
      expect(verdictsFor(ok)).toMatchObject([{ ok: true, notification: { kind: 'refund', refund: { refundNo: ok } } }]);
      expect(await channel.queryRefund(ok, orderNo)).toMatchObject({ status: 'succeeded', amount: 1000 });

      const bad = nextRefundNo();
      expect(await channel.refund({ refundNo: bad, orderNo, channelTxnId, amount: 500, total: 5000, notifyUrl: notifyUrl(), requestedAt: new Date() })).toMatchObject({ status: 'processing' });
      expect(await sandbox.settleRefund(bad, { outcome: 'failed' })).toEqual({ deliveries: [] });
      expect(await channel.queryRefund(bad, orderNo)).toMatchObject({ status: 'not_found' });
      expect(await channel.refund({ refundNo: bad, orderNo, channelTxnId, amount: 500, total: 5000, notifyUrl: notifyUrl(), requestedAt: new Date() })).toMatchObject({ status: 'failed' });
    } finally {
      sandbox.refundMode = 'auto';
    }
  });

  it('fetches and parses the day\'s bill: payments, refunds, a stray payment, fees at 0.6 %', async () => {
    const { orderNo, payload } = await precreate(10000);
    await fetch(payload.qrText!);
    const { channelTxnId } = await sandbox.pay(orderNo, { notify: 'never' });
    const refundNo = nextRefundNo();
    await channel.refund({ refundNo, orderNo, channelTxnId, amount: 2500, total: 10000, notifyUrl: notifyUrl(), requestedAt: new Date() });
    const paidAt = (await channel.queryPayment(orderNo)).paidAt!;
    const day = beijingDay(paidAt);
    const stray = sandbox.addStrayPayment({ amount: 777, paidAt });
    const yesterday = sandbox.addStrayPayment({ amount: 555, paidAt: new Date(paidAt.getTime() - 86_400_000) });

    const file = await channel.fetchStatement!(day);
    expect(file.fileName).toBe(`${sandbox.merchant.sellerId}_${day.replace(/-/g, '')}.csv.zip`);
    expect(file.content.subarray(0, 2).toString()).toBe('PK');
    const parsed = channel.parseStatement!(file);
    expect(parsed.billDate).toBe(day);
    expect(parsed.lines.find((l) => l.kind === 'payment' && l.orderNo === orderNo)).toMatchObject({ channelTxnId, amount: 10000, feeMfen: 60_000, status: 'TRADE_SUCCESS' });
    expect(parsed.lines.find((l) => l.kind === 'refund' && l.refundNo === refundNo)).toMatchObject({ orderNo, channelTxnId, amount: 2500 });
    expect(parsed.lines.find((l) => l.orderNo === stray.orderNo)).toMatchObject({ kind: 'payment', channelTxnId: stray.channelTxnId, amount: 777, feeMfen: 5_000 });
    expect(parsed.lines.find((l) => l.orderNo === yesterday.orderNo)).toBeUndefined();
    expect(parsed.summary.lineCount).toBe(parsed.lines.length);
    expect(parsed.summary.paymentTotal).toBe(parsed.lines.filter((l) => l.kind === 'payment').reduce((s, l) => s + l.amount, 0));
    expect(channel.parseStatement!(sandbox.statementFile(day)).lines).toHaveLength(parsed.lines.length);

    const previous = channel.parseStatement!(await channel.fetchStatement!(beijingDay(new Date(paidAt.getTime() - 86_400_000))));
    expect(previous.lines.map((l) => l.orderNo)).toContain(yesterday.orderNo);

    const tomorrow = beijingDay(new Date(Date.now() + 2 * 86_400_000));
    expect((await errorOf(channel.fetchStatement!(tomorrow))).code).toBe('PAYMENT_STATEMENT_NOT_READY');
  });

  it('refuses answers not signed by Alipay, requests not signed by us, and maps network failure', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const { orderNo } = await precreate(100);
    const wrongAlipayKey = createAlipayChannel({ ...sandbox.merchant, gateway: sandbox.merchant.gateway, alipayPublicKeyPem: other.publicKey.export({ type: 'spki', format: 'pem' }).toString() }, { sandbox: true, timeoutMs: 5_000, logger });
    expect(await errorOf(wrongAlipayKey.queryPayment(orderNo))).toMatchObject({ code: 'PAYMENT_CHANNEL_RESPONSE_INVALID' });

    const wrongAppKey = createAlipayChannel({ ...sandbox.merchant, gateway: sandbox.merchant.gateway, appPrivateKeyPem: other.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() }, { sandbox: true, timeoutMs: 5_000, logger });
    expect(await errorOf(wrongAppKey.queryPayment(orderNo))).toMatchObject({ code: 'PAYMENT_CHANNEL_REJECTED', details: { channelCode: 'isv.invalid-signature' } });

    const closedPort = createAlipayChannel({ ...sandbox.merchant, gateway: 'http://127.0.0.1:1/gateway.do' }, { sandbox: true, timeoutMs: 5_000, logger });
    expect((await errorOf(closedPort.queryPayment(orderNo))).code).toBe('PAYMENT_CHANNEL_UNAVAILABLE');

    const slow = createAlipayChannel({ ...sandbox.merchant, gateway: `${base}/hang` }, { sandbox: true, timeoutMs: 200, logger });
    expect((await errorOf(slow.queryPayment(orderNo))).code).toBe('PAYMENT_CHANNEL_UNAVAILABLE');

    const notAlipay = createAlipayChannel({ ...sandbox.merchant, gateway: `${base}/notify` }, { sandbox: true, timeoutMs: 5_000, logger });
    expect((await errorOf(notAlipay.queryPayment(orderNo))).code).toBe('PAYMENT_CHANNEL_RESPONSE_INVALID');
  });
});
