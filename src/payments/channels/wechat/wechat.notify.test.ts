/**
 * Notification verification of the WeChat Pay adapter, against notifications built here with
 * node:crypto directly (not with the adapter's own helpers), so a bug shared by signer and
 * verifier cannot hide. Every check gets a tamper case that must be refused.
 */
import { createCipheriv, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../platform/index.js';
import type { NotificationVerdict } from '../../channel.js';
import type { WechatMerchantConfig } from '../../payments.config.js';
import { createWechatChannel } from './wechat.adapter.js';

const logger = createLogger('silent');
const wechat = generateKeyPairSync('rsa', { modulusLength: 2048 });
const merchantKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PUB_ID = 'PUB_KEY_ID_0114123000010920260605000000';
const API_V3_KEY = 'a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6';
const pem = (k: KeyObject, type: 'spki' | 'pkcs8') => k.export({ type, format: 'pem' }) as string;

function config(platformKeys: Record<string, string> = { [PUB_ID]: pem(wechat.publicKey, 'spki') }): WechatMerchantConfig {
  return {
    mchId: '1230000109',
    appId: 'wxd678efh567hg6787',
    merchantSerialNo: '3775B6A45ACD588826D15E583A95F5DD00000001',
    merchantPrivateKeyPem: pem(merchantKeys.privateKey, 'pkcs8'),
    apiV3Key: API_V3_KEY,
    platformKeys,
    apiBase: 'http://127.0.0.1:9',
  };
}
const channel = createWechatChannel(config(), { sandbox: false, timeoutMs: 1000, logger });

function encrypt(plain: object, aad: string, nonce = 'q1W2e3R4t5Y6', key = API_V3_KEY): { ciphertext: string; nonce: string; associated_data: string } {
  const c = createCipheriv('aes-256-gcm', Buffer.from(key), Buffer.from(nonce));
  c.setAAD(Buffer.from(aad));
  const ct = Buffer.concat([c.update(JSON.stringify(plain)), c.final(), c.getAuthTag()]);
  return { ciphertext: ct.toString('base64'), nonce, associated_data: aad };
}

const transaction = (over: Record<string, unknown> = {}) => ({
  appid: 'wxd678efh567hg6787', mchid: '1230000109', out_trade_no: 'P2026060500000000001', transaction_id: '4200000985202606051234567890',
  trade_type: 'NATIVE', trade_state: 'SUCCESS', trade_state_desc: '支付成功', bank_type: 'OTHERS', attach: '',
  success_time: '2026-06-05T10:15:30+08:00', payer: { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' }, amount: { total: 10000, payer_total: 10000, currency: 'CNY', payer_currency: 'CNY' },
  ...over,
});

function envelope(resource: object, eventType = 'TRANSACTION.SUCCESS', originalType = 'transaction') {
  return { id: 'EV-2026060510153000001', create_time: '2026-06-05T10:15:31+08:00', resource_type: 'encrypt-resource', event_type: eventType, summary: '支付成功', resource: { original_type: originalType, algorithm: 'AEAD_AES_256_GCM', ...resource } };
}

const NOW = new Date('2026-06-05T02:15:31Z');
const ts = (d: Date) => String(Math.floor(d.getTime() / 1000));

function signed(body: Buffer, o: { key?: KeyObject; at?: Date; serial?: string; nonce?: string } = {}): Record<string, string> {
  const t = ts(o.at ?? NOW);
  const nonce = o.nonce ?? 'fdasflkja484w';
  const msg = Buffer.concat([Buffer.from(`${t}\n${nonce}\n`), body, Buffer.from('\n')]);
  return {
    'wechatpay-timestamp': t, 'wechatpay-nonce': nonce, 'wechatpay-serial': o.serial ?? PUB_ID, 'wechatpay-signature-type': 'WECHATPAY2-SHA256-RSA2048',
    'wechatpay-signature': sign('RSA-SHA256', msg, o.key ?? wechat.privateKey).toString('base64'),
  };
}

const paymentBody = (plain: object = transaction(), aad = 'transaction') => Buffer.from(JSON.stringify(envelope(encrypt(plain, aad))));
const check = (headers: Record<string, string>, body: Buffer, now = NOW, ch = channel): Promise<NotificationVerdict> => ch.verifyNotification({ headers, body, now });
const refused = (v: NotificationVerdict) => (v.ok ? 'accepted' : v.code);

describe('WeChat Pay notification verification', () => {
  it('accepts a genuine payment notification and reads it', async () => {
    const body = paymentBody();
    const v = await check(signed(body), body);
    expect(v).toEqual({
      ok: true,
      notification: {
        kind: 'payment', notifyId: 'EV-2026060510153000001', merchantId: '1230000109', appId: 'wxd678efh567hg6787',
        payment: { orderNo: 'P2026060500000000001', status: 'paid', channelTxnId: '4200000985202606051234567890', amount: 10000, paidAt: new Date('2026-06-05T02:15:30Z'), channelStatus: 'SUCCESS' },
      },
    });
  });

  it('refuses a signature by another key', async () => {
    const body = paymentBody();
    expect(refused(await check(signed(body, { key: stranger.privateKey }), body))).toBe('PAYMENT_NOTIFY_SIGNATURE_INVALID');
  });

  it('refuses a body changed after signing, even by one byte', async () => {
    const body = paymentBody();
    const headers = signed(body);
    const tampered = Buffer.from(body);
    tampered[tampered.indexOf('EV-') + 3] = '9'.charCodeAt(0);
    expect(refused(await check(headers, tampered))).toBe('PAYMENT_NOTIFY_SIGNATURE_INVALID');
  });

  it('checks the raw bytes: the same JSON re-serialised no longer verifies', async () => {
    const original = Buffer.from(JSON.stringify(envelope(encrypt(transaction(), 'transaction')), null, 2));
    const headers = signed(original);
    expect((await check(headers, original)).ok).toBe(true);
    const reserialised = Buffer.from(JSON.stringify(JSON.parse(original.toString())));
    expect(refused(await check(headers, reserialised))).toBe('PAYMENT_NOTIFY_SIGNATURE_INVALID');
  });

  it('refuses a stale or future timestamp outside ±300 s and accepts one inside', async () => {
    const body = paymentBody();
    const at = (s: number) => new Date(NOW.getTime() + s * 1000);
    expect(refused(await check(signed(body, { at: at(-301) }), body))).toBe('PAYMENT_NOTIFY_STALE');
    expect(refused(await check(signed(body, { at: at(301) }), body))).toBe('PAYMENT_NOTIFY_STALE');
    expect((await check(signed(body, { at: at(-299) }), body)).ok).toBe(true);
    expect((await check(signed(body, { at: at(299) }), body)).ok).toBe(true);
    // A replay of a once-good notification is refused once it falls out of the window.
    const headers = signed(body);
    expect(refused(await check(headers, body, at(600)))).toBe('PAYMENT_NOTIFY_STALE');
  });

  it('refuses WeChat’s WECHATPAY/SIGNTEST/ probes', async () => {
    const body = paymentBody();
    const headers = { ...signed(body), 'wechatpay-signature': 'WECHATPAY/SIGNTEST/' + Buffer.alloc(256, 7).toString('base64') };
    const v = await check(headers, body);
    expect(v).toMatchObject({ ok: false, code: 'PAYMENT_NOTIFY_SIGNATURE_INVALID', detail: 'probe' });
  });

  it('refuses missing headers, an unknown serial and another signature type', async () => {
    const body = paymentBody();
    for (const h of ['wechatpay-timestamp', 'wechatpay-nonce', 'wechatpay-signature', 'wechatpay-serial']) {
      const headers = signed(body);
      delete headers[h];
      expect(refused(await check(headers, body)), h).toBe('PAYMENT_NOTIFY_SIGNATURE_INVALID');
    }
    expect(refused(await check(signed(body, { serial: 'PUB_KEY_ID_0000000000000000000000000000' }), body))).toBe('PAYMENT_NOTIFY_SIGNATURE_INVALID');
    expect(refused(await check({ ...signed(body), 'wechatpay-signature-type': 'WECHATPAY2-SM2-WITH-SM3' }, body))).toBe('PAYMENT_NOTIFY_SIGNATURE_INVALID');
  });

  it('always checks the GCM tag: a flipped tag, a flipped ciphertext byte, another AAD or key are refused', async () => {
    const good = encrypt(transaction(), 'transaction');
    const flip = (b64: string, at: number) => {
      const b = Buffer.from(b64, 'base64');
      b[at < 0 ? b.length + at : at]! ^= 0x01;
      return b.toString('base64');
    };
    const cases: Array<[string, object]> = [
      ['tag', { ...good, ciphertext: flip(good.ciphertext, -1) }],
      ['ciphertext', { ...good, ciphertext: flip(good.ciphertext, 0) }],
      ['aad', { ...good, associated_data: 'refund' }],
      ['empty aad', { ...good, associated_data: '' }],
      ['nonce', { ...good, nonce: 'q1W2e3R4t5Y7' }],
      ['key', encrypt(transaction(), 'transaction', 'q1W2e3R4t5Y6', 'Z'.repeat(32))],
      ['truncated', { ...good, ciphertext: Buffer.from(good.ciphertext, 'base64').subarray(0, 16).toString('base64') }],
    ];
    for (const [name, resource] of cases) {
      // Signed correctly by WeChat: only the encryption is wrong, so only the GCM check can catch it.
      const body = Buffer.from(JSON.stringify(envelope(resource)));
      expect(refused(await check(signed(body), body)), name).toBe('PAYMENT_NOTIFY_DECRYPT_FAILED');
    }
  });

  it('refuses another merchant or app', async () => {
    for (const plain of [transaction({ mchid: '1900000109' }), transaction({ appid: 'wx0000000000000000' })]) {
      const body = paymentBody(plain);
      expect(refused(await check(signed(body), body))).toBe('PAYMENT_NOTIFY_MERCHANT_MISMATCH');
    }
  });

  it('requires the appid in a payment notification and CNY amounts', async () => {
    const cases: Array<[string, object, string]> = [
      ['no appid', transaction({ appid: undefined }), 'PAYMENT_NOTIFY_MERCHANT_MISMATCH'],
      ['empty appid', transaction({ appid: '' }), 'PAYMENT_NOTIFY_MERCHANT_MISMATCH'],
      ['USD', transaction({ amount: { total: 10000, payer_total: 10000, currency: 'USD', payer_currency: 'CNY' } }), 'PAYMENT_NOTIFY_MALFORMED'],
      ['no currency', transaction({ amount: { total: 10000, payer_total: 10000 } }), 'PAYMENT_NOTIFY_MALFORMED'],
    ];
    for (const [name, plain, code] of cases) {
      const body = paymentBody(plain);
      expect(refused(await check(signed(body), body)), name).toBe(code);
    }
    // A refund notification has no appid (WeChat sends none), and a currency only when it says CNY.
    const refund = (amount: object) => ({
      mchid: '1230000109', out_trade_no: 'P2026060500000000001', transaction_id: '4200000985202606051234567890', out_refund_no: 'F2026060500000000001',
      refund_id: '50000000382019052709732678859', refund_status: 'SUCCESS', success_time: '2026-06-05T11:00:00+08:00', amount,
    });
    const refundBody = (amount: object) => Buffer.from(JSON.stringify(envelope(encrypt(refund(amount), 'refund'), 'REFUND.SUCCESS', 'refund')));
    const good = refundBody({ total: 10000, refund: 2500, payer_total: 10000, payer_refund: 2500 });
    expect((await check(signed(good), good)).ok).toBe(true);
    const usd = refundBody({ total: 10000, refund: 2500, currency: 'USD' });
    expect(refused(await check(signed(usd), usd))).toBe('PAYMENT_NOTIFY_MALFORMED');
  });

  it('refuses a well-signed envelope that is not a notification it knows', async () => {
    const bodies = [
      Buffer.from('not json'),
      Buffer.from(JSON.stringify({ id: 'EV-1', event_type: 'TRANSACTION.SUCCESS' })),
      Buffer.from(JSON.stringify(envelope(encrypt(transaction(), 'transaction'), 'PARTNER.SOMETHING'))),
      Buffer.from(JSON.stringify(envelope(encrypt(transaction({ trade_state: 'NOTPAY' }), 'transaction')))),
      Buffer.from(JSON.stringify(envelope(encrypt(transaction({ out_trade_no: undefined }), 'transaction')))),
    ];
    for (const body of bodies) expect(refused(await check(signed(body), body))).toBe('PAYMENT_NOTIFY_MALFORMED');
  });

  it('reads refund notifications: SUCCESS, ABNORMAL and CLOSED', async () => {
    const refund = (status: string) => ({
      mchid: '1230000109', out_trade_no: 'P2026060500000000001', transaction_id: '4200000985202606051234567890', out_refund_no: 'F2026060500000000001',
      refund_id: '50000000382019052709732678859', refund_status: status, ...(status === 'SUCCESS' ? { success_time: '2026-06-05T11:00:00+08:00' } : {}),
      user_received_account: '支付用户零钱', amount: { total: 10000, refund: 2500, payer_total: 10000, payer_refund: 2500 },
    });
    // ABNORMAL is not final: finance may still pay it out through the merchant platform.
    const expected = { SUCCESS: 'succeeded', ABNORMAL: 'processing', CLOSED: 'failed' } as const;
    for (const [word, status] of Object.entries(expected)) {
      const body = Buffer.from(JSON.stringify(envelope(encrypt(refund(word), 'refund'), `REFUND.${word}`, 'refund')));
      const v = await check(signed(body), body);
      expect(v.ok && v.notification.kind === 'refund' ? v.notification.refund : v).toMatchObject({
        refundNo: 'F2026060500000000001', orderNo: 'P2026060500000000001', status, channelRefundId: '50000000382019052709732678859', amount: 2500, channelStatus: word,
      });
    }
  });

  it('verifies with a platform certificate filed under its serial, alongside the public key', async () => {
    const keys = forge.pki.rsa.generateKeyPair(2048);
    const cert = forge.pki.createCertificate();
    cert.publicKey = keys.publicKey;
    cert.serialNumber = '5157F09EFDC096DE15EBE81A47057A7232F1B8E1';
    cert.validity.notBefore = new Date(NOW.getTime() - 86400_000);
    cert.validity.notAfter = new Date(NOW.getTime() + 365 * 86400_000);
    const attrs = [{ name: 'commonName', value: 'Tenpay.com Root CA' }, { name: 'organizationName', value: 'Tenpay.com' }];
    cert.setSubject(attrs);
    cert.setIssuer(attrs);
    cert.sign(keys.privateKey, forge.md.sha256.create());
    const certPem = forge.pki.certificateToPem(cert);
    const certKey = (await import('node:crypto')).createPrivateKey(forge.pki.privateKeyToPem(keys.privateKey));
    const both = createWechatChannel(config({ [PUB_ID]: pem(wechat.publicKey, 'spki'), '5157F09EFDC096DE15EBE81A47057A7232F1B8E1': certPem }), { sandbox: false, timeoutMs: 1000, logger });
    const body = paymentBody();
    expect((await check(signed(body, { key: certKey, serial: '5157F09EFDC096DE15EBE81A47057A7232F1B8E1' }), body, NOW, both)).ok).toBe(true);
    expect((await check(signed(body, { key: certKey, serial: '5157f09efdc096de15ebe81a47057a7232f1b8e1' }), body, NOW, both)).ok).toBe(true);
    expect((await check(signed(body), body, NOW, both)).ok).toBe(true);
    // The certificate's key does not stand in for the public key's id, nor the other way round.
    expect(refused(await check(signed(body, { key: certKey }), body, NOW, both))).toBe('PAYMENT_NOTIFY_SIGNATURE_INVALID');
    expect(refused(await check(signed(body, { serial: '5157F09EFDC096DE15EBE81A47057A7232F1B8E1' }), body, NOW, both))).toBe('PAYMENT_NOTIFY_SIGNATURE_INVALID');
    // An expired certificate vouches for nothing.
    const later = new Date(NOW.getTime() + 400 * 86400_000);
    expect(refused(await check(signed(body, { key: certKey, serial: '5157F09EFDC096DE15EBE81A47057A7232F1B8E1', at: later }), body, later, both))).toBe('PAYMENT_NOTIFY_SIGNATURE_INVALID');
    // A certificate filed under another serial is a configuration error, found at start.
    expect(() => createWechatChannel(config({ ABCDEF: certPem }), { sandbox: false, timeoutMs: 1000, logger })).toThrow(/serial/);
  });

  it('answers WeChat as it expects: 204 empty on success, 4xx {code: FAIL} on refusal, never saying why', () => {
    expect(channel.ack(true)).toEqual({ status: 204, body: '', contentType: 'application/json' });
    const answers = ['PAYMENT_NOTIFY_SIGNATURE_INVALID', 'PAYMENT_NOTIFY_STALE', 'PAYMENT_NOTIFY_MERCHANT_MISMATCH', 'PAYMENT_NOTIFY_DECRYPT_FAILED', 'something else', undefined]
      .map((code) => channel.ack(false, code));
    for (const a of answers) expect(a).toEqual({ status: 400, body: '{"code":"FAIL","message":"失败"}', contentType: 'application/json' });
  });
});

describe('WeChat Pay JSAPI parameters', () => {
  it('are signed with the merchant key over appId, timeStamp, nonceStr and package', async () => {
    const { jsapiParams } = await import('./wechat.crypto.js');
    const p = jsapiParams('wxd678efh567hg6787', 'wx201410272009395522657a690389285100', merchantKeys.privateKey, NOW);
    expect(p).toMatchObject({ appId: 'wxd678efh567hg6787', timeStamp: ts(NOW), package: 'prepay_id=wx201410272009395522657a690389285100', signType: 'RSA' });
    const msg = Buffer.from(`${p.appId}\n${p.timeStamp}\n${p.nonceStr}\n${p.package}\n`);
    expect(verify('RSA-SHA256', msg, merchantKeys.publicKey, Buffer.from(p.paySign!, 'base64'))).toBe(true);
    expect(verify('RSA-SHA256', Buffer.from(`${p.appId}\n${p.timeStamp}\n${p.nonceStr}\nprepay_id=other\n`), merchantKeys.publicKey, Buffer.from(p.paySign!, 'base64'))).toBe(false);
  });
});
