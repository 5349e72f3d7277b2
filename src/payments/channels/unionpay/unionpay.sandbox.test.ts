/**
 * The adapter against the sandbox over real HTTP: a bare Fastify app with the sandbox mounted and
 * a backUrl route that feeds the raw body to verifyNotification, as the platform's notify route does.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAppError, type App } from '../../../platform/index.js';
import type { NotificationVerdict, PaymentPayload } from '../../channel.js';
import { beijingDay, beijingStamp, encodeAnswer, signFields } from './acp.js';
import { createUnionPayChannel, type UnionPayChannel } from './adapter.js';
import { createUnionPayPki, type UnionPayPki } from './certs.js';
import { createUnionPaySandbox, type UnionPaySandbox } from './sandbox.js';

const logger = pino({ level: 'silent' });
let app: FastifyInstance;
let base = '';
let sandbox: UnionPaySandbox;
let adapter: UnionPayChannel;
let evil: UnionPayPki;
const verdicts: NotificationVerdict[] = [];
let seq = 0;

const orderNo = () => `P${beijingDay(new Date()).replace(/-/g, '')}${String(Date.now() % 1e8).padStart(8, '0')}${String(++seq).padStart(3, '0')}`;
const refundNo = () => `F${orderNo().slice(1)}`;
const notifyUrl = () => `${base}/test/notify`;

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'OK';
  } catch (err) {
    if (isAppError(err)) return err.code;
    throw err;
  }
}

/** Poll (no fixed sleeps) until a verdict matching `pred` arrived at the backUrl route. */
async function waitForVerdict(pred: (v: NotificationVerdict) => boolean): Promise<NotificationVerdict> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const hit = verdicts.find(pred);
    if (hit) return hit;
    if (Date.now() > deadline) throw new Error('notification did not arrive');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function create(amount: number): Promise<{ orderNo: string; payload: PaymentPayload }> {
  const no = orderNo();
  const payload = await adapter.createPayment({ orderNo: no, amount, subject: '加油卡充值', method: 'online', expiresAt: new Date(Date.now() + 15 * 60_000), notifyUrl: notifyUrl(), returnUrl: `${base}/portal/done` });
  return { orderNo: no, payload };
}

beforeAll(async () => {
  app = Fastify();
  sandbox = createUnionPaySandbox({ publicUrl: () => base, logger });
  sandbox.register(app as unknown as App);
  evil = createUnionPayPki('777290058110048', { label: 'Evil' });
  await app.register(async (sub) => {
    sub.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    sub.post('/test/notify', async (request, reply) => {
      const v = await adapter.verifyNotification({ headers: request.headers as Record<string, string>, body: request.body as Buffer, now: new Date() });
      verdicts.push(v);
      const ack = adapter.ack(v.ok);
      return reply.status(ack.status).type(ack.contentType).send(ack.body);
    });
    // A "gateway" whose answers are signed by a certificate of another chain.
    sub.post('/evil/gateway/api/queryTrans.do', async (_request, reply) => {
      const fields = { version: '5.1.0', signMethod: '01', merId: sandbox.merchant.merId, respCode: '00', origRespCode: '00', txnAmt: '1', queryId: '1', signPubKeyCert: evil.unionpaySign.certPem };
      return reply.type('text/plain').send(encodeAnswer({ ...fields, signature: signFields(fields, evil.unionpaySign.keyPem) }));
    });
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  adapter = createUnionPayChannel(sandbox.merchant, { sandbox: true, timeoutMs: 5000, logger });
});

afterAll(async () => {
  await app.close();
});

describe('UnionPay adapter against its sandbox', () => {
  it('pays through the front form, is notified, queried, refunded, and shows on the statement with a stray payment', async () => {
    const { orderNo: no, payload } = await create(10000);
    expect(payload.form?.action).toBe(`${base}/sandbox/unionpay/gateway/api/frontTransReq.do`);
    expect(payload.form?.fields).toMatchObject({ version: '5.1.0', encoding: 'UTF-8', signMethod: '01', txnType: '01', txnSubType: '01', bizType: '000201', accessType: '0', channelType: '07', currencyCode: '156', merId: sandbox.merchant.merId, orderId: no, txnAmt: '10000', backUrl: notifyUrl() });
    expect(payload.form?.fields.certId).toMatch(/^\d+$/);
    // The payer page lives under a random token: an order number (sequential) opens nothing.
    expect(payload.sandboxUrl).toMatch(new RegExp(`^${base}/sandbox/unionpay/pay/[A-Za-z0-9_-]{22}$`));
    expect(payload.sandboxUrl).not.toContain(no);
    expect((await fetch(`${base}/sandbox/unionpay/pay/${no}`)).status).toBe(404);
    expect((await fetch(`${base}/sandbox/unionpay/pay/${no}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'action=pay' })).status).toBe(404);

    // Before the payer pays, UnionPay's query does not know the transaction.
    expect(await adapter.queryPayment(no)).toMatchObject({ orderNo: no, status: 'not_found', channelStatus: '34' });

    // The payer's page, from the sandbox URL and from posting the form as a browser does.
    const pageRes = await fetch(payload.sandboxUrl!);
    const pageText = await pageRes.text();
    expect(pageRes.status).toBe(200);
    expect(pageText).toContain(no);
    expect(pageText).toContain('100.00');
    expect(pageText).toContain('确认支付');
    const posted = await fetch(payload.form!.action, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(payload.form!.fields).toString() });
    expect(posted.status).toBe(200);
    expect(await posted.text()).toContain(no);
    // A form whose amount was changed in the browser is refused by the sandbox (the merchant's signature).
    const forged = await fetch(payload.form!.action, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ ...payload.form!.fields, txnAmt: '1' }).toString() });
    expect(forged.status).toBe(400);

    const paid = await sandbox.pay(no);
    expect(paid.deliveries).toEqual([{ status: 200, body: 'ok' }]);
    const v = await waitForVerdict((x) => x.ok && x.notification.kind === 'payment' && x.notification.payment.orderNo === no);
    if (!v.ok || v.notification.kind !== 'payment') throw new Error('unreachable');
    expect(v.notification).toMatchObject({ notifyId: `${paid.channelTxnId}:01`, merchantId: sandbox.merchant.merId, payment: { status: 'paid', amount: 10000, channelTxnId: paid.channelTxnId } });

    const q = await adapter.queryPayment(no);
    expect(q).toMatchObject({ orderNo: no, status: 'paid', channelTxnId: paid.channelTxnId, amount: 10000, channelStatus: '00' });
    expect(q.settleDate).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(q.settleDate).toBe(v.notification.payment.settleDate);
    const settleDay = q.settleDate!;

    // A replay is byte for byte the same notification: verified again, with the same notify id (the platform dedupes on it).
    const before = verdicts.length;
    expect(await sandbox.replayLast(no)).toEqual({ status: 200, body: 'ok' });
    const replay = verdicts[before]!;
    expect(replay.ok && replay.notification.notifyId).toBe(`${paid.channelTxnId}:01`);

    // A refund (退货) of part of it: accepted, then UnionPay's refund notification.
    const rno = refundNo();
    // When the platform first asked for it (a while ago): UnionPay's txnTime of the refund.
    const requestedAt = new Date(Date.now() - 120_000);
    const r = await adapter.refund({ refundNo: rno, orderNo: no, channelTxnId: paid.channelTxnId, amount: 2500, total: 10000, reason: '测试退款', notifyUrl: notifyUrl(), requestedAt });
    expect(r.status).toBe('processing');
    expect(r).toMatchObject({ refundNo: rno, amount: 2500 });
    expect(r.channelRefundId).toMatch(/^\d{21}$/);
    const rv = await waitForVerdict((x) => x.ok && x.notification.kind === 'refund' && x.notification.refund.refundNo === rno);
    expect(rv.ok && rv.notification.kind === 'refund' && rv.notification.refund).toMatchObject({ status: 'succeeded', amount: 2500, channelRefundId: r.channelRefundId });
    expect(await adapter.queryRefund(rno, no)).toMatchObject({ refundNo: rno, status: 'succeeded', channelRefundId: r.channelRefundId, amount: 2500 });
    // Sent again with the same refundNo: the same transaction to UnionPay (12, duplicate), not a second refund.
    // Sent again after a restart (a fresh adapter that remembers nothing): the same request, so the
    // same transaction to UnionPay (12, duplicate, then found by the query), not a second refund.
    const restarted = createUnionPayChannel(sandbox.merchant, { sandbox: true, timeoutMs: 5000, logger });
    expect(await restarted.refund({ refundNo: rno, orderNo: no, channelTxnId: paid.channelTxnId, amount: 2500, total: 10000, notifyUrl: notifyUrl(), requestedAt }))
      .toMatchObject({ status: 'succeeded', channelRefundId: r.channelRefundId, amount: 2500 });
    // More than what is left: UnionPay refuses it for good.
    const over = await adapter.refund({ refundNo: refundNo(), orderNo: no, channelTxnId: paid.channelTxnId, amount: 7501, total: 10000, notifyUrl: notifyUrl(), requestedAt: new Date() });
    expect(over.status).toBe('failed');
    expect(over.channelStatus).toMatch(/^36:/);

    const stray = sandbox.addStrayPayment({ amount: 777 });

    const fetched = await adapter.fetchStatement!(settleDay);
    expect(fetched.fileName).toContain(sandbox.merchant.merId);
    const parsed = adapter.parseStatement!(fetched);
    expect(parsed.billDate).toBe(settleDay);
    expect(parsed.lines.find((l) => l.kind === 'payment' && l.channelTxnId === paid.channelTxnId)).toMatchObject({ orderNo: no, amount: 10000, feeMfen: 60_000 });
    expect(parsed.lines.find((l) => l.kind === 'payment' && l.channelTxnId === stray.channelTxnId)).toMatchObject({ orderNo: stray.orderNo, amount: 777 });
    expect(parsed.lines.find((l) => l.kind === 'refund' && l.refundNo === rno)).toMatchObject({ channelRefundId: r.channelRefundId, channelTxnId: paid.channelTxnId, orderNo: no, amount: 2500, feeMfen: -15_000 });
    const pays = parsed.lines.filter((l) => l.kind === 'payment');
    expect(parsed.summary.paymentCount).toBe(pays.length);
    expect(parsed.summary.paymentTotal).toBe(pays.reduce((s, l) => s + l.amount, 0));
    // The control surface hands out the same file.
    expect(adapter.parseStatement!(sandbox.statementFile(settleDay)).summary).toEqual(parsed.summary);
  });

  it('refuses tampered, re-signed and mis-addressed notifications at the backUrl, and answers 400 fail', async () => {
    const { orderNo: no } = await create(5000);
    const wrongKey = sandbox.buildPaymentNotification(no, { forge: 'wrong_key' });
    expect(await sandbox.deliver(wrongKey)).toEqual({ status: 400, body: 'fail' });
    expect(verdicts.at(-1)).toMatchObject({ ok: false, code: 'PAYMENT_NOTIFY_SIGNATURE_INVALID' });

    const good = sandbox.buildPaymentNotification(no);
    const tampered = { ...good, body: Buffer.from(good.body.toString('utf8').replace('txnAmt=5000', 'txnAmt=50000')) };
    expect(tampered.body.equals(good.body)).toBe(false);
    expect(await sandbox.deliver(tampered)).toEqual({ status: 400, body: 'fail' });
    expect(verdicts.at(-1)).toMatchObject({ ok: false, code: 'PAYMENT_NOTIFY_SIGNATURE_INVALID' });

    expect(await sandbox.deliver(sandbox.buildPaymentNotification(no, { merchantId: '777290058119999' }))).toEqual({ status: 400, body: 'fail' });
    expect(verdicts.at(-1)).toMatchObject({ ok: false, code: 'PAYMENT_NOTIFY_MERCHANT_MISMATCH' });
    expect(await sandbox.deliver(sandbox.buildPaymentNotification(no, { timestamp: new Date(Date.now() - 30 * 3600_000) }))).toEqual({ status: 400, body: 'fail' });
    expect(verdicts.at(-1)).toMatchObject({ ok: false, code: 'PAYMENT_NOTIFY_STALE' });
    // Signed by UnionPay with another amount: the adapter passes it on; the order's amount check is the platform's.
    expect(await sandbox.deliver(sandbox.buildPaymentNotification(no, { amount: 1 }))).toEqual({ status: 200, body: 'ok' });
    expect(verdicts.at(-1)).toMatchObject({ ok: true, notification: { payment: { orderNo: no, amount: 1 } } });
  });

  it('finds a payment whose notification never came by the query, also after the adapter forgot the txnTime', async () => {
    const { orderNo: no, payload } = await create(3000);
    const res = await fetch(payload.sandboxUrl!, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'action=pay_silent' });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('未通知');
    expect(verdicts.some((v) => v.ok && v.notification.kind === 'payment' && v.notification.payment.orderNo === no)).toBe(false);
    expect(await adapter.queryPayment(no)).toMatchObject({ status: 'paid', amount: 3000 });

    // A fresh adapter (a restart): without a hint it cannot name the transaction; with the stored payload it can.
    const fresh = createUnionPayChannel(sandbox.merchant, { sandbox: true, timeoutMs: 5000, logger });
    expect(await codeOf(fresh.queryPayment(no))).toBe('PAYMENT_CHANNEL_REJECTED');
    expect(await fresh.queryPayment(no, { payload })).toMatchObject({ status: 'paid', amount: 3000 });
  });

  it('settles refunds by hand in manual mode, failures included', async () => {
    const { orderNo: no } = await create(4000);
    const { channelTxnId } = await sandbox.pay(no, { notify: 'never' });
    sandbox.refundMode = 'manual';
    try {
      const rno = refundNo();
      const r = await adapter.refund({ refundNo: rno, orderNo: no, channelTxnId, amount: 4000, total: 4000, notifyUrl: notifyUrl(), requestedAt: new Date() });
      expect(r.status).toBe('processing');
      expect(await adapter.queryRefund(rno, no)).toMatchObject({ status: 'processing' });
      const { deliveries } = await sandbox.settleRefund(rno, { outcome: 'failed' });
      expect(deliveries).toEqual([{ status: 200, body: 'ok' }]);
      const v = await waitForVerdict((x) => x.ok && x.notification.kind === 'refund' && x.notification.refund.refundNo === rno);
      expect(v.ok && v.notification.kind === 'refund' && v.notification.refund.status).toBe('failed');
      expect(await adapter.queryRefund(rno, no, { queryId: r.channelRefundId })).toMatchObject({ status: 'failed' });
    } finally {
      sandbox.refundMode = 'auto';
    }
  });

  it('refund answers that mean "retry later" (03/04/05, 02/06 system, 37 too frequent) are UNAVAILABLE; a retry then goes through once', async () => {
    const { orderNo: no } = await create(6000);
    const { channelTxnId } = await sandbox.pay(no, { notify: 'never' });
    const rno = refundNo();
    const req = { refundNo: rno, orderNo: no, channelTxnId, amount: 1000, total: 6000, notifyUrl: notifyUrl(), requestedAt: new Date() };
    for (const code of ['03', '04', '05', '02', '06', '37']) {
      sandbox.nextRefundRespCode = code;
      expect(await codeOf(adapter.refund(req)), code).toBe('PAYMENT_CHANNEL_UNAVAILABLE');
    }
    // A definite refusal is final.
    sandbox.nextRefundRespCode = '31';
    expect(await adapter.refund(req)).toMatchObject({ status: 'failed', channelStatus: expect.stringMatching(/^31:/) });
    sandbox.refundMode = 'manual';
    try {
      expect(await adapter.refund(req)).toMatchObject({ status: 'processing', amount: 1000 });
      await sandbox.settleRefund(rno, { notify: 'never' });
      expect(await adapter.refund(req)).toMatchObject({ status: 'succeeded', amount: 1000 });
    } finally {
      sandbox.refundMode = 'auto';
    }
  });

  it('sends a notification twice at once when asked', async () => {
    const { orderNo: no } = await create(1200);
    const { deliveries } = await sandbox.pay(no, { notify: 'twice_at_once' });
    expect(deliveries).toEqual([
      { status: 200, body: 'ok' },
      { status: 200, body: 'ok' },
    ]);
  });

  it('maps provider failures to the channel error codes', async () => {
    expect(await codeOf(adapter.createPayment({ orderNo: orderNo(), amount: 100, subject: 's', method: 'native', expiresAt: new Date(Date.now() + 60_000), notifyUrl: notifyUrl() }))).toBe('PAYMENT_METHOD_NOT_SUPPORTED');
    const tomorrow = beijingDay(new Date(Date.now() + 86_400_000));
    expect(await codeOf(adapter.fetchStatement!(tomorrow))).toBe('PAYMENT_STATEMENT_NOT_READY');

    const down = createUnionPayChannel({ ...sandbox.merchant, gatewayBase: 'http://127.0.0.1:1', fileBase: 'http://127.0.0.1:1' }, { sandbox: false, timeoutMs: 2000, logger });
    expect(await codeOf(down.queryPayment('P20260615000000000001', { txnTime: beijingStamp(new Date()) }))).toBe('PAYMENT_CHANNEL_UNAVAILABLE');

    const forgedGateway = createUnionPayChannel({ ...sandbox.merchant, gatewayBase: `${base}/evil`, fileBase: `${base}/evil` }, { sandbox: false, timeoutMs: 2000, logger });
    expect(await codeOf(forgedGateway.queryPayment('P20260615000000000001', { txnTime: beijingStamp(new Date()) }))).toBe('PAYMENT_CHANNEL_RESPONSE_INVALID');
  });
});
