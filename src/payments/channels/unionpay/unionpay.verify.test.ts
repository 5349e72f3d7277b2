import { pino } from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import type { NotificationVerdict } from '../../channel.js';
import { beijingStamp, encodeForm, resolveMonthDay, signFields, signingString, type AcpFields } from './acp.js';
import { createUnionPayChannel, type UnionPayChannel } from './adapter.js';
import { createUnionPayPki, issueCert, UNIONPAY_SIGN_CN, type IssuedCert, type UnionPayPki } from './certs.js';

const MER_ID = '777290058110048';
const DAY = 86_400_000;

let pki: UnionPayPki;
let other: UnionPayPki;
let adapter: UnionPayChannel;

beforeAll(() => {
  pki = createUnionPayPki(MER_ID);
  other = createUnionPayPki(MER_ID, { label: 'Other' });
  adapter = createUnionPayChannel(
    {
      merId: MER_ID,
      signCertPem: pki.merchantSign.certPem,
      signKeyPem: pki.merchantSign.keyPem,
      rootCertPem: pki.root.certPem,
      middleCertPem: pki.middle.certPem,
      gatewayBase: 'http://127.0.0.1:9',
      fileBase: 'http://127.0.0.1:9',
    },
    { sandbox: false, timeoutMs: 1000, logger: pino({ level: 'silent' }) },
  );
});

function paymentFields(now: Date, over: Partial<AcpFields> = {}): AcpFields {
  return {
    version: '5.1.0',
    encoding: 'UTF-8',
    signMethod: '01',
    txnType: '01',
    txnSubType: '01',
    bizType: '000201',
    accessType: '0',
    merId: MER_ID,
    orderId: 'P2026061500000000042',
    txnTime: beijingStamp(new Date(now.getTime() - 60_000)),
    txnAmt: '10000',
    currencyCode: '156',
    queryId: '782606151030450012345',
    traceNo: '123456',
    traceTime: beijingStamp(now).slice(4),
    settleAmt: '10000',
    settleCurrencyCode: '156',
    settleDate: beijingStamp(now).slice(4, 8),
    respCode: '00',
    respMsg: '成功[0000000]',
    ...over,
  };
}

/** A notification as UnionPay signs it: signPubKeyCert inside the signed fields. */
function signed(fields: AcpFields, signer: IssuedCert = pki.unionpaySign, certPem = signer.certPem): AcpFields {
  const withCert = { ...fields, signPubKeyCert: certPem };
  return { ...withCert, signature: signFields(withCert, signer.keyPem) };
}

const body = (f: AcpFields) => Buffer.from(encodeForm(f), 'utf8');
const verify = (b: Buffer, now: Date): Promise<NotificationVerdict> => adapter.verifyNotification({ headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: b, now });
const codeOf = (v: NotificationVerdict) => (v.ok ? 'OK' : v.code);

describe('UnionPay notification verification', () => {
  const now = new Date();

  it('accepts a notification signed by the UnionPay certificate chained to the configured root and middle', async () => {
    const v = await verify(body(signed(paymentFields(now))), now);
    expect(v.ok).toBe(true);
    if (!v.ok || v.notification.kind !== 'payment') throw new Error('expected a payment');
    expect(v.notification.notifyId).toBe('782606151030450012345:01');
    expect(v.notification.merchantId).toBe(MER_ID);
    expect(v.notification.payment).toMatchObject({ orderNo: 'P2026061500000000042', status: 'paid', amount: 10000, channelTxnId: '782606151030450012345', settleDate: beijingStamp(now).slice(0, 8).replace(/(\d{4})(\d{2})(\d{2})/, '$1-$2-$3'), channelStatus: '00' });
  });

  it('refuses a forged signature', async () => {
    const f = signed(paymentFields(now));
    f.signature = Buffer.alloc(256, 7).toString('base64');
    expect(codeOf(await verify(body(f), now))).toBe('PAYMENT_NOTIFY_SIGNATURE_INVALID');
  });

  it('refuses a signature made with another key under the genuine certificate', async () => {
    const f = signed(paymentFields(now), { ...pki.unionpaySign, keyPem: pki.merchantSign.keyPem });
    expect(codeOf(await verify(body(f), now))).toBe('PAYMENT_NOTIFY_SIGNATURE_INVALID');
  });

  it('refuses a certificate from another chain, even with UnionPay’s CN and a valid signature under it', async () => {
    const v = await verify(body(signed(paymentFields(now), other.unionpaySign)), now);
    expect(v).toMatchObject({ ok: false, code: 'PAYMENT_NOTIFY_SIGNATURE_INVALID' });
    expect(v.ok ? '' : v.detail).toMatch(/chain/);
  });

  it('refuses an expired certificate issued by the genuine middle', async () => {
    const expired = issueCert({ cn: UNIONPAY_SIGN_CN, ou: '00000000', issuer: pki.middle, notBefore: new Date(now.getTime() - 400 * DAY), notAfter: new Date(now.getTime() - DAY) });
    const v = await verify(body(signed(paymentFields(now), expired)), now);
    expect(v).toMatchObject({ ok: false, code: 'PAYMENT_NOTIFY_SIGNATURE_INVALID' });
    expect(v.ok ? '' : v.detail).toMatch(/validity/);
  });

  it('refuses a certificate of the genuine chain whose CN is not UnionPay’s', async () => {
    const stranger = issueCert({ cn: '041@Z12@某某科技有限公司@00000001', ou: '00000000', issuer: pki.middle });
    const v = await verify(body(signed(paymentFields(now), stranger)), now);
    expect(v).toMatchObject({ ok: false, code: 'PAYMENT_NOTIFY_SIGNATURE_INVALID' });
    expect(v.ok ? '' : v.detail).toMatch(/CN/);
    // The merchant's own certificate is on the same chain: it must not pass for UnionPay's either.
    expect(codeOf(await verify(body(signed(paymentFields(now), pki.merchantSign)), now))).toBe('PAYMENT_NOTIFY_SIGNATURE_INVALID');
  });

  it('refuses the middle CA itself as the signing certificate', async () => {
    expect(codeOf(await verify(body(signed(paymentFields(now), pki.middle)), now))).toBe('PAYMENT_NOTIFY_SIGNATURE_INVALID');
  });

  it('refuses a tampered amount, order or queryId after signing', async () => {
    for (const [k, v] of [['txnAmt', '1000000'], ['orderId', 'P2026061500000000043'], ['queryId', '782606151030450099999'], ['respCode', 'A6']] as const) {
      const f = signed(paymentFields(now));
      f[k] = v;
      expect(codeOf(await verify(body(f), now)), k).toBe('PAYMENT_NOTIFY_SIGNATURE_INVALID');
    }
  });

  it('refuses an added field that was not signed', async () => {
    const f = signed(paymentFields(now));
    expect(codeOf(await verify(body({ ...f, reqReserved: 'x' }), now))).toBe('PAYMENT_NOTIFY_SIGNATURE_INVALID');
  });

  it('refuses a correctly signed notification for another merId', async () => {
    expect(codeOf(await verify(body(signed(paymentFields(now, { merId: '777290058110099' }))), now))).toBe('PAYMENT_NOTIFY_MERCHANT_MISMATCH');
  });

  it('refuses a correctly signed notification whose txnTime is more than 24 h away', async () => {
    const stale = signed(paymentFields(now, { txnTime: beijingStamp(new Date(now.getTime() - 25 * 3600_000)) }));
    expect(codeOf(await verify(body(stale), now))).toBe('PAYMENT_NOTIFY_STALE');
    const future = signed(paymentFields(now, { txnTime: beijingStamp(new Date(now.getTime() + 25 * 3600_000)) }));
    expect(codeOf(await verify(body(future), now))).toBe('PAYMENT_NOTIFY_STALE');
    const late = signed(paymentFields(now, { txnTime: beijingStamp(new Date(now.getTime() - 23 * 3600_000)) }));
    expect(codeOf(await verify(body(late), now))).toBe('OK');
  });

  it('checks the certificate’s validity at the notification’s receipt time', async () => {
    const later = new Date(now.getTime() + 3651 * DAY);
    const v = await verify(body(signed(paymentFields(later))), later);
    expect(v).toMatchObject({ ok: false, code: 'PAYMENT_NOTIFY_SIGNATURE_INVALID' });
    expect(v.ok ? '' : v.detail).toMatch(/validity/);
  });

  it('refuses malformed bodies without throwing', async () => {
    const good = encodeForm(signed(paymentFields(now)));
    expect(codeOf(await verify(Buffer.from([0x6f, 0x72, 0x64, 0x65, 0x72, 0x3d, 0xff, 0xfe]), now))).toBe('PAYMENT_NOTIFY_MALFORMED');
    expect(codeOf(await verify(Buffer.from(`${good}&txnAmt=1`), now))).toBe('PAYMENT_NOTIFY_MALFORMED');
    expect(codeOf(await verify(Buffer.from(`${good}&x=%E0%A4%A`), now))).toBe('PAYMENT_NOTIFY_MALFORMED');
    expect(codeOf(await verify(Buffer.from('{"orderId":"P1"}'), now))).toBe('PAYMENT_NOTIFY_MALFORMED');
    const noSig = signed(paymentFields(now));
    delete noSig.signature;
    expect(codeOf(await verify(body(noSig), now))).toBe('PAYMENT_NOTIFY_MALFORMED');
    expect(codeOf(await verify(body(signed(paymentFields(now, { version: '5.0.0' }))), now))).toBe('PAYMENT_NOTIFY_MALFORMED');
    expect(codeOf(await verify(body(signed(paymentFields(now, { txnAmt: '12.50' }))), now))).toBe('PAYMENT_NOTIFY_MALFORMED');
    expect(codeOf(await verify(body(signed(paymentFields(now, { txnType: '31' }))), now))).toBe('PAYMENT_NOTIFY_MALFORMED');
  });

  it('reads a refund notification: refundNo = orderId, success or failure from respCode', async () => {
    const refund = (respCode: string) => paymentFields(now, { txnType: '04', txnSubType: '00', orderId: 'F2026061500000000007', origQryId: '782606151030450012345', queryId: '782606151130450054321', txnAmt: '2500', respCode });
    const ok = await verify(body(signed(refund('00'))), now);
    if (!ok.ok || ok.notification.kind !== 'refund') throw new Error('expected a refund');
    expect(ok.notification.notifyId).toBe('782606151130450054321:04');
    expect(ok.notification.refund).toMatchObject({ refundNo: 'F2026061500000000007', status: 'succeeded', channelRefundId: '782606151130450054321', amount: 2500 });
    const failed = await verify(body(signed(refund('01'))), now);
    expect(failed.ok && failed.notification.kind === 'refund' && failed.notification.refund.status).toBe('failed');
    // Only explicit final failures fail a refund: pending or unknown codes leave it processing
    // (a wrong "failed" would return the balance to the card while the money still reaches the payer).
    for (const [code, status] of [['35', 'failed'], ['36', 'failed'], ['03', 'processing'], ['05', 'processing'], ['99', 'processing'], ['Z9', 'processing']] as const) {
      const v = await verify(body(signed(refund(code))), now);
      expect(v.ok && v.notification.kind === 'refund' && v.notification.refund, code).toMatchObject({ status, channelStatus: code });
      if (status === 'processing') expect(v.ok && v.notification.kind === 'refund' && v.notification.refund.completedAt, code).toBeUndefined();
    }
  });

  it('refuses a notification in another currency than CNY (156); accepts one without currencyCode', async () => {
    expect(codeOf(await verify(body(signed(paymentFields(now, { currencyCode: '840' }))), now))).toBe('PAYMENT_NOTIFY_MALFORMED');
    const without = paymentFields(now);
    delete without.currencyCode;
    expect((await verify(body(signed(without)), now)).ok).toBe(true);
    expect((await verify(body(signed(paymentFields(now, { currencyCode: '156' }))), now)).ok).toBe(true);
  });

  it('leaves a payment notification that is not a success to the query', async () => {
    const v = await verify(body(signed(paymentFields(now, { respCode: '01' }))), now);
    expect(v.ok && v.notification.kind === 'payment' && v.notification.payment.status).toBe('paying');
  });

  it('answers 200 ok, or 400 fail on refusal', () => {
    expect(adapter.ack(true)).toMatchObject({ status: 200, body: 'ok' });
    expect(adapter.ack(false, 'PAYMENT_NOTIFY_SIGNATURE_INVALID')).toMatchObject({ status: 400, body: 'fail' });
  });
});

describe('UnionPay protocol pieces', () => {
  it('signs the sorted non-empty fields without the signature', () => {
    expect(signingString({ b: '2', a: '1=x', signature: 'zz', c: '', B: '3' })).toBe('B=3&a=1=x&b=2');
  });

  it('puts settleDate MMDD in the year nearest the transaction', () => {
    const at = (s: string) => new Date(`${s}+08:00`);
    expect(resolveMonthDay('0101', at('2026-12-31T23:30:00'))).toBe('2027-01-01');
    expect(resolveMonthDay('1231', at('2027-01-01T00:10:00'))).toBe('2026-12-31');
    expect(resolveMonthDay('0616', at('2026-06-15T23:10:00'))).toBe('2026-06-16');
    expect(resolveMonthDay('0229', at('2028-02-28T12:00:00'))).toBe('2028-02-29');
    expect(resolveMonthDay('0230', at('2028-02-28T12:00:00'))).toBeNull();
  });

  it('formats txnTime in Beijing time', () => {
    expect(beijingStamp(new Date('2026-06-15T16:30:05Z'))).toBe('20260616003005');
  });
});
