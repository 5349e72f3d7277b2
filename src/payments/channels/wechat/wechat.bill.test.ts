/** The trade bill (交易账单) format: a fixture in the real layout, round trips, and the integrity checks. */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createLogger, isAppError } from '../../../platform/index.js';
import { createWechatChannel } from './wechat.adapter.js';
import { buildTradeBill, feeYuan, parseTradeBill, yuan, type BillRow } from './wechat.bill.js';

const HEADER = '交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注';
// Three lines in the layout of WeChat's own sample bill (wechatpay-axios-plugin tests/fixtures/bill.ALL.csv), with a summary that adds up.
const FIXTURE_LINES = [
  HEADER,
  '`2019-02-19 18:19:32,`wxab8acd895ab1638a,`1921000401,`0,`harryma007,`4200000263201902167700134203,`autotest_20190219181930_76386,`oHkLxt5HnHcBDewv4Lc8xivG1DuE,`JSAPI,`SUCCESS,`OTHERS,`CNY,`0.01,`0.00,`0,`0,`0.00,`0.00,`,`,`系统拨测,`,`0.00000,`39.00%,`0.01,`0.00,`',
  '`2019-02-19 01:52:32,`wxab8acd895ab1638a,`1921000401,`0,`,`4200000263201902167700134902,`autotest_20190219015232_89201,`wxab8acb865bb1637e,`NATIVE,`SUCCESS,`OTHERS,`CNY,`0.03,`0.00,`0,`0,`0.00,`0.00,`,`,`autotest,`,`0.01000,`39.00%,`0.03,`0.00,`',
  '`2019-02-19 05:01:46,`wxab8acd895ab1638a,`1921000401,`0,`harryma007,`4200000263201902167700134212,`autotest_20190216081946_82335,`oHkLxtx0vUqe-18p_AXTZ1innxkCY,`JSAPI,`REFUND,`OTHERS,`CNY,`0.00,`0.00,`50000709672019011908420787722,`REF4200000263201902167700963919,`0.01,`0.00,`ORIGINAL,`SUCCESS,`系统拨测,`,`0.00000,`39.00%,`0.00,`0.01,`',
  '总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额',
  '`3.0,`0.04,`0.01,`0.0,`0.01,`0.04,`0.01',
];
const fixture = (lines = FIXTURE_LINES) => Buffer.from('\uFEFF' + lines.join('\r\n') + '\r\n', 'utf8');
const codeOf = (fn: () => unknown): string => {
  try {
    fn();
    return 'no error';
  } catch (err) {
    return isAppError(err) ? err.code : String(err);
  }
};

describe('WeChat Pay trade bill', () => {
  it('reads a bill in the real layout: payments, a refund line, fees to 5 decimals, Beijing times', () => {
    const p = parseTradeBill(fixture());
    expect(p.summary).toEqual({ lineCount: 3, paymentCount: 2, paymentTotal: 4, refundCount: 1, refundTotal: 1, feeTotalMfen: 1000 });
    expect(p.lines[1]).toMatchObject({ lineNo: 3, kind: 'payment', channelTxnId: '4200000263201902167700134902', orderNo: 'autotest_20190219015232_89201', amount: 3, feeMfen: 1000, status: 'SUCCESS', occurredAt: new Date('2019-02-18T17:52:32Z') });
    expect(p.lines[2]).toMatchObject({ kind: 'refund', refundNo: 'REF4200000263201902167700963919', channelRefundId: '50000709672019011908420787722', orderNo: 'autotest_20190216081946_82335', amount: 1, status: 'SUCCESS' });
    expect(p.lines[0]!.raw).toBe(FIXTURE_LINES[1]);
  });

  it('accepts LF line ends and no BOM', () => {
    expect(parseTradeBill(Buffer.from(FIXTURE_LINES.join('\n'))).summary.lineCount).toBe(3);
  });

  it('refuses a bill whose lines do not add up to its summary', () => {
    const edit = (i: number, from: string, to: string) => FIXTURE_LINES.map((l, j) => (j === i ? l.replace(from, to) : l));
    expect(codeOf(() => parseTradeBill(fixture(edit(2, '`0.03,`0.00,`0,`0', '`0.05,`0.00,`0,`0'))))).toBe('PAYMENT_STATEMENT_TOTALS_MISMATCH');
    expect(codeOf(() => parseTradeBill(fixture(FIXTURE_LINES.filter((_, j) => j !== 1))))).toBe('PAYMENT_STATEMENT_TOTALS_MISMATCH');
    expect(codeOf(() => parseTradeBill(fixture(edit(5, '`3.0', '`4.0'))))).toBe('PAYMENT_STATEMENT_TOTALS_MISMATCH');
    expect(codeOf(() => parseTradeBill(fixture(edit(5, '`0.01,`0.0,`0.01', '`0.01,`0.0,`0.02'))))).toBe('PAYMENT_STATEMENT_TOTALS_MISMATCH');
    const lastCell = (v: string) => FIXTURE_LINES.map((l, j) => (j === 5 ? l.replace(/`[^`]*$/, v) : l));
    expect(codeOf(() => parseTradeBill(fixture(lastCell('`0.02'))))).toBe('PAYMENT_STATEMENT_TOTALS_MISMATCH');
    expect(codeOf(() => parseTradeBill(fixture(lastCell('`0.010'))))).toBe('no error');
    // The fee total is a rounded sum: within half a unit of its last digit it agrees.
    expect(codeOf(() => parseTradeBill(fixture(edit(2, '`0.01000,', '`0.01004,'))))).toBe('no error');
    expect(codeOf(() => parseTradeBill(fixture(edit(2, '`0.01000,', '`0.01600,'))))).toBe('PAYMENT_STATEMENT_TOTALS_MISMATCH');
  });

  it('refuses malformed files', () => {
    const edit = (i: number, from: string, to: string) => FIXTURE_LINES.map((l, j) => (j === i ? l.replace(from, to) : l));
    const cases: Array<[string, Buffer]> = [
      ['empty', Buffer.alloc(0)],
      ['not utf-8', Buffer.from([0xef, 0xbb, 0xbf, 0xd6, 0xd0, 0xce, 0xc4, 0x0d, 0x0a, 0xff, 0xfe])],
      ['no summary', fixture(FIXTURE_LINES.slice(0, 4))],
      ['a column missing from the header', fixture(edit(0, ',手续费', ''))],
      ['a cell without a back-quote', fixture(edit(1, '`0.01,`0.00,`0,`0', '0.01,`0.00,`0,`0'))],
      ['an amount with 3 decimals', fixture(edit(1, '`0.01,`0.00,`0,`0', '`0.011,`0.00,`0,`0'))],
      ['a float-looking amount', fixture(edit(1, '`0.01,`0.00,`0,`0', '`1e-2,`0.00,`0,`0'))],
      ['a bad time', fixture(edit(1, '`2019-02-19 18:19:32', '`19/02/2019 18:19'))],
      ['a truncated line', fixture(edit(2, ',`0.03,`0.00,`', ''))],
    ];
    for (const [name, file] of cases) expect(codeOf(() => parseTradeBill(file)), name).toBe('PAYMENT_STATEMENT_MALFORMED');
  });

  it('writes what it reads: BOM, CRLF, back-quoted cells, refund lines apart, negative refund fees', () => {
    const base = { appid: 'wxd678efh567hg6787', mchid: '1230000109', openid: 'oSb1', tradeType: 'NATIVE', description: '加油卡充值, 含`逗号' };
    const rows: BillRow[] = [
      { ...base, kind: 'payment', at: new Date('2026-06-04T16:00:00Z'), transactionId: '4200000001', outTradeNo: 'P2026060500000000001', amount: 10000, feeMfen: 60000, rate: '0.60%' },
      { ...base, kind: 'payment', at: new Date('2026-06-05T15:59:59Z'), transactionId: '4200000002', outTradeNo: 'P2026060500000000002', amount: 1, feeMfen: 6, rate: '0.60%' },
      { ...base, kind: 'refund', at: new Date('2026-06-05T03:00:00Z'), transactionId: '4200000001', outTradeNo: 'P2026060500000000001', refundId: '5000001', outRefundNo: 'F2026060500000000001', refundAmount: 2500, refundStatus: 'PROCESSING', feeMfen: -15000, rate: '0.60%' },
    ];
    const file = buildTradeBill(rows);
    expect([...file.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const text = file.toString('utf8');
    expect(text.split('\r\n')).toHaveLength(7);
    expect(text).toContain('`2026-06-05 00:00:00,`wxd678efh567hg6787');
    expect(text).toContain('`0.60000,`0.60%');
    expect(text.trimEnd().split('\r\n').pop()).toBe('`3.0,`100.01,`25.0,`0.0,`0.45,`100.01,`25.0');
    const p = parseTradeBill(file);
    expect(p.summary).toEqual({ lineCount: 3, paymentCount: 2, paymentTotal: 10001, refundCount: 1, refundTotal: 2500, feeTotalMfen: 45006 });
    expect(p.lines.map((l) => [l.kind, l.amount, l.feeMfen, l.status])).toEqual([['payment', 10000, 60000, 'SUCCESS'], ['payment', 1, 6, 'SUCCESS'], ['refund', 2500, -15000, 'PROCESSING']]);
    expect(p.lines[1]!.occurredAt).toEqual(new Date('2026-06-05T15:59:59Z'));
    expect(buildTradeBill([]).toString('utf8')).toBe('\uFEFF' + HEADER + '\r\n总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n`0.0,`0.0,`0.0,`0.0,`0.0,`0.0,`0.0\r\n');
    expect(parseTradeBill(buildTradeBill([])).lines).toEqual([]);
  });

  it('formats yuan and fees without floating point', () => {
    expect([yuan(0), yuan(1), yuan(100), yuan(123456789), yuan(-250)]).toEqual(['0.00', '0.01', '1.00', '1234567.89', '-2.50']);
    expect([feeYuan(6), feeYuan(60000), feeYuan(-15000)]).toEqual(['0.00006', '0.60000', '-0.15000']);
  });

  it('checks the file against the SHA1 the signed tradebill answer gave', () => {
    const k = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const ch = createWechatChannel(
      { mchId: '1230000109', appId: 'wx1', merchantSerialNo: 'AB', merchantPrivateKeyPem: k.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, apiV3Key: 'x'.repeat(32), platformKeys: {}, apiBase: 'http://127.0.0.1:9' },
      { sandbox: false, timeoutMs: 1000, logger: createLogger('silent') },
    );
    const content = fixture();
    const hex = createHash('sha1').update(content).digest('hex');
    expect(ch.parseStatement!({ fileName: 'b.csv', content, expectedHash: { algorithm: 'sha1', hex: hex.toUpperCase() } }).summary.lineCount).toBe(3);
    const tampered = Buffer.from(content.toString('utf8').replace('`0.03,', '`0.03,'), 'utf8');
    tampered[tampered.length - 3] = '2'.charCodeAt(0);
    expect(codeOf(() => ch.parseStatement!({ fileName: 'b.csv', content: tampered, expectedHash: { algorithm: 'sha1', hex } }))).toBe('PAYMENT_STATEMENT_HASH_MISMATCH');
  });
});
