import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { AlipaySdk } from 'alipay-sdk';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { NotificationVerdict, PaymentChannel } from '../../channel.js';
import type { AlipayMerchantConfig } from '../../payments.config.js';
import { createAlipayChannel } from './alipay.channel.js';
import {
  alipayJson, fenToYuan, formatBeijing, loadPrivateKey, parseBeijing, rsa2Sign, rsa2Verify, signingString, signNotificationParams, topLevelMembers, yuanToFen,
} from './alipay.crypto.js';
import { NOTIFY_MAX_AGE_MS, parseForm } from './alipay.notify.js';

const keys = () => generateKeyPairSync('rsa', { modulusLength: 2048 });
const alipay = keys();
const app = keys();
const stranger = keys();
const APP_ID = '2021000000000042';
const SELLER = '2088000000000042';

const cfg: AlipayMerchantConfig = {
  appId: APP_ID,
  sellerId: SELLER,
  appPrivateKeyPem: app.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  alipayPublicKeyPem: alipay.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  gateway: 'http://127.0.0.1:9/gateway.do',
};
const channel: PaymentChannel = createAlipayChannel(cfg, { sandbox: false, timeoutMs: 1000, logger: pino({ level: 'silent' }) });
const NOW = new Date('2026-06-05T08:30:00Z'); // 16:30 Beijing

function params(over: Record<string, string> = {}): Record<string, string> {
  return {
    gmt_create: '2026-06-05 16:29:40',
    charset: 'utf-8',
    subject: '加油卡充值 100% 到账',
    buyer_id: '2088102177846880',
    invoice_amount: '100.00',
    notify_id: '2026060500222162941012345678',
    fund_bill_list: '[{"amount":"100.00","fundChannel":"ALIPAYACCOUNT"}]',
    notify_type: 'trade_status_sync',
    trade_status: 'TRADE_SUCCESS',
    receipt_amount: '100.00',
    app_id: APP_ID,
    seller_id: SELLER,
    gmt_payment: '2026-06-05 16:29:58',
    notify_time: '2026-06-05 16:30:00',
    version: '1.0',
    out_trade_no: 'P2026060500000000001',
    total_amount: '100.00',
    trade_no: '2026060522001419931441931972',
    buyer_logon_id: '138****0000',
    ...over,
  };
}

const form = (p: Record<string, string>): Buffer => Buffer.from(new URLSearchParams(p).toString(), 'utf8');
const signed = (over: Record<string, string> = {}, key: KeyObject = alipay.privateKey) => form(signNotificationParams(params(over), key));
const verify = (body: Buffer, now = NOW, contentType = 'application/x-www-form-urlencoded; charset=utf-8'): Promise<NotificationVerdict> =>
  channel.verifyNotification({ headers: { 'content-type': contentType }, body, now });
const refusal = async (body: Buffer, now = NOW) => {
  const v = await verify(body, now);
  return v.ok ? 'accepted' : v.code;
};

describe('alipay money and time', () => {
  it('parses yuan strings exactly and refuses anything else', () => {
    expect(yuanToFen('100.00')).toBe(10000);
    expect(yuanToFen('0.1')).toBe(10);
    expect(yuanToFen('0.29')).toBe(29); // parseFloat('0.29')*100 = 28.999…
    expect(yuanToFen('1234567.89')).toBe(123456789);
    expect(yuanToFen('-3000.00', true)).toBe(-300000);
    for (const bad of ['-1.00', '1.001', '01.00', '1e3', ' ', '', '1,00', 'NaN', '.5']) expect(yuanToFen(bad)).toBeNull();
    expect(fenToYuan(1)).toBe('0.01');
    expect(fenToYuan(-300000)).toBe('-3000.00');
    expect(fenToYuan(123456789)).toBe('1234567.89');
  });

  it('formats and parses Beijing time', () => {
    expect(formatBeijing(new Date('2026-06-05T16:01:34Z'))).toBe('2026-06-06 00:01:34');
    expect(parseBeijing('2026-06-06 00:01:34')?.toISOString()).toBe('2026-06-05T16:01:34.000Z');
    expect(parseBeijing('2026-06-05 17:00:05.123')?.toISOString()).toBe('2026-06-05T09:00:05.123Z');
    expect(parseBeijing('2026-02-30 10:00:00')).toBeNull();
    expect(parseBeijing('2026-06-05T10:00:00')).toBeNull();
  });
});

describe('alipay answer signatures', () => {
  it('cuts the signed object out of the raw text and refuses duplicates', () => {
    const inner = alipayJson({ code: '10000', msg: 'Success', qr_code: 'https://qr.alipay.com/abc' });
    const text = `{"alipay_trade_precreate_response":${inner},"sign":"${rsa2Sign(inner, alipay.privateKey)}"}`;
    const m = topLevelMembers(text);
    expect(m.get('alipay_trade_precreate_response')).toBe(inner);
    expect(inner).toContain('https:\\/\\/');
    const sign = JSON.parse(m.get('sign')!) as string;
    expect(rsa2Verify(m.get('alipay_trade_precreate_response')!, sign, alipay.publicKey)).toBe(true);
    // The same object re-serialised (unescaped slashes) no longer verifies: the raw text is what counts.
    expect(rsa2Verify(JSON.stringify(JSON.parse(inner)), sign, alipay.publicKey)).toBe(false);
    expect(rsa2Verify(inner, sign, stranger.publicKey)).toBe(false);
    expect(() => topLevelMembers(`{"a":{"x":1},"a":{"x":2},"sign":"s"}`)).toThrow(/duplicate/);
    expect(() => topLevelMembers(`{"a":{"x":"}"},"sign":"s"} trailing`)).toThrow();
    expect(topLevelMembers(`{"a":{"x":"}\\"{"},"b":[1,{"c":2}],"n":null}`).get('a')).toBe(`{"x":"}\\"{"}`);
  });

  it('signs requests over every parameter but sign, skipping empty values', () => {
    expect(signingString({ b: '2', a: '1', sign: 'x', e: '', sign_type: 'RSA2' }, ['sign'])).toBe('a=1&b=2&sign_type=RSA2');
    expect(loadPrivateKey(app.privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64')).asymmetricKeyType).toBe('rsa');
    expect(loadPrivateKey(app.privateKey.export({ type: 'pkcs1', format: 'der' }).toString('base64')).asymmetricKeyType).toBe('rsa');
  });
});

describe('alipay notification verification', () => {
  it('accepts a genuine payment notification and reads it', async () => {
    const v = await verify(signed());
    expect(v).toMatchObject({
      ok: true,
      notification: {
        kind: 'payment', notifyId: '2026060500222162941012345678', merchantId: SELLER, appId: APP_ID,
        payment: { orderNo: 'P2026060500000000001', status: 'paid', amount: 10000, channelTxnId: '2026060522001419931441931972', channelStatus: 'TRADE_SUCCESS' },
      },
    });
    if (v.ok && v.notification.kind === 'payment') expect(v.notification.payment.paidAt?.toISOString()).toBe('2026-06-05T08:29:58.000Z');
  });

  it('accepts a % in a value (which the SDK\'s checkNotifySign V1 throws on) and + for spaces', async () => {
    const body = signed({ subject: '优惠 100%off a+b' });
    expect(body.toString()).toContain('100%25off');
    expect(await refusal(body)).toBe('accepted');
    const v1 = new AlipaySdk({ appId: APP_ID, privateKey: cfg.appPrivateKeyPem, keyType: 'PKCS8', alipayPublicKey: cfg.alipayPublicKeyPem });
    expect(() => v1.checkNotifySign({ ...parseForm(body) })).toThrow();
    // '+' is a space by form decoding; %20 is the same value, so the signature still holds.
    expect(await refusal(Buffer.from(body.toString().replace(/\+/g, '%20')))).toBe('accepted');
  });

  it('refuses a forged, wrong-key, tampered or unsigned notification', async () => {
    const good = signNotificationParams(params(), alipay.privateKey);
    expect(await refusal(form({ ...good, sign: Buffer.from('x'.repeat(256)).toString('base64') }))).toBe('PAYMENT_NOTIFY_SIGNATURE_INVALID');
    expect(await refusal(signed({}, stranger.privateKey))).toBe('PAYMENT_NOTIFY_SIGNATURE_INVALID');
    expect(await refusal(signed({}, app.privateKey))).toBe('PAYMENT_NOTIFY_SIGNATURE_INVALID'); // our own key is not Alipay's
    expect(await refusal(form({ ...good, total_amount: '1000.00' }))).toBe('PAYMENT_NOTIFY_SIGNATURE_INVALID');
    expect(await refusal(form({ ...good, out_trade_no: 'P2026060500000000002' }))).toBe('PAYMENT_NOTIFY_SIGNATURE_INVALID');
    expect(await refusal(form({ ...good, extra: 'added' }))).toBe('PAYMENT_NOTIFY_SIGNATURE_INVALID');
    const { sign: _sign, ...unsigned } = good;
    expect(await refusal(form(unsigned))).toBe('PAYMENT_NOTIFY_SIGNATURE_INVALID');
    expect(await refusal(form({ ...good, sign_type: 'RSA' }))).toBe('PAYMENT_NOTIFY_SIGNATURE_INVALID');
    const probe = Buffer.from('WECHATPAY/SIGNTEST/probe').toString('base64');
    expect(await refusal(form({ ...good, sign: probe }))).toBe('PAYMENT_NOTIFY_SIGNATURE_INVALID');
  });

  it('refuses another app or seller even when Alipay signed it', async () => {
    expect(await refusal(signed({ app_id: '2021000000000099' }))).toBe('PAYMENT_NOTIFY_MERCHANT_MISMATCH');
    expect(await refusal(signed({ seller_id: '2088000000000099' }))).toBe('PAYMENT_NOTIFY_MERCHANT_MISMATCH');
  });

  it('refuses a notify_time outside the window', async () => {
    const at = (ms: number) => formatBeijing(new Date(NOW.getTime() + ms));
    expect(await refusal(signed({ notify_time: at(-NOTIFY_MAX_AGE_MS + 60_000) }))).toBe('accepted');
    expect(await refusal(signed({ notify_time: at(-NOTIFY_MAX_AGE_MS - 60_000) }))).toBe('PAYMENT_NOTIFY_STALE');
    expect(await refusal(signed({ notify_time: at(10 * 60_000) }))).toBe('PAYMENT_NOTIFY_STALE');
    expect(await refusal(signed({ notify_time: '2026/06/05 16:30:00' }))).toBe('PAYMENT_NOTIFY_MALFORMED');
  });

  it('refuses malformed bodies without throwing', async () => {
    const good = form(signNotificationParams(params(), alipay.privateKey));
    expect(await refusal(Buffer.concat([good, Buffer.from('&out_trade_no=P2026060500000000002')]))).toBe('PAYMENT_NOTIFY_MALFORMED');
    expect(await refusal(Buffer.from([0x61, 0x3d, 0xff, 0xfe]))).toBe('PAYMENT_NOTIFY_MALFORMED');
    expect((await verify(good, NOW, 'application/json')).ok).toBe(false);
    expect(await refusal(signed({ total_amount: '100.001' }))).toBe('PAYMENT_NOTIFY_MALFORMED');
    expect(await refusal(signed({ total_amount: '-1.00' }))).toBe('PAYMENT_NOTIFY_MALFORMED');
    expect(await refusal(signed({ trade_status: 'TRADE_WHATEVER' }))).toBe('PAYMENT_NOTIFY_MALFORMED');
    expect(await refusal(signed({ charset: 'gbk' }))).toBe('PAYMENT_NOTIFY_MALFORMED');
    expect(await refusal(Buffer.alloc(0))).toBe('PAYMENT_NOTIFY_SIGNATURE_INVALID');
  });

  it('signs and verifies a notification carrying an empty value (body=) the same way: empty values are kept', async () => {
    const p = params({ body: '', passback_params: '' });
    const sent = signNotificationParams(p, alipay.privateKey);
    // What Alipay's verification (and alipay-sdk's checkNotifySignV2) signs, built by hand: every
    // parameter but sign and sign_type, sorted, empty ones as `k=`.
    const content = Object.keys(p).sort().map((k) => `${k}=${p[k]}`).join('&');
    expect(content).toContain('&body=&');
    expect(sent.sign).toBe(rsa2Sign(content, alipay.privateKey));
    const sdk = new AlipaySdk({ appId: APP_ID, privateKey: cfg.appPrivateKeyPem, keyType: 'PKCS8', alipayPublicKey: cfg.alipayPublicKeyPem, signType: 'RSA2' });
    expect(sdk.checkNotifySignV2({ ...sent })).toBe(true);
    expect((await verify(form(sent))).ok).toBe(true);
    // The empty parameter is covered by the signature: dropping it breaks it.
    const { body: _dropped, ...without } = sent;
    expect(await refusal(form(without))).toBe('PAYMENT_NOTIFY_SIGNATURE_INVALID');
  });

  it('reads a closed trade and a refund notification', async () => {
    const closed = await verify(signed({ trade_status: 'TRADE_CLOSED' }));
    expect(closed).toMatchObject({ ok: true, notification: { kind: 'payment', payment: { status: 'closed' } } });
    const refund = await verify(signed({ refund_fee: '30.00', out_biz_no: 'F2026060500000000001', gmt_refund: '2026-06-05 16:29:59.123', notify_id: 'r1' }));
    expect(refund).toMatchObject({
      ok: true,
      notification: { kind: 'refund', notifyId: 'r1', refund: { refundNo: 'F2026060500000000001', orderNo: 'P2026060500000000001', status: 'succeeded' } },
    });
    if (refund.ok && refund.notification.kind === 'refund') {
      expect(refund.notification.refund.completedAt?.toISOString()).toBe('2026-06-05T08:29:59.123Z');
      expect(refund.notification.refund.amount).toBeUndefined();
    }
  });

  it('answers success / fail as Alipay expects', () => {
    expect(channel.ack(true)).toEqual({ status: 200, body: 'success', contentType: 'text/plain; charset=utf-8' });
    expect(channel.ack(false, 'PAYMENT_NOTIFY_SIGNATURE_INVALID')).toMatchObject({ status: 400, body: 'fail' });
  });
});
