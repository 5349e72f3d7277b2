import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { isAppError } from '../../../platform/index.js';
import { createBankTransferChannel, createCashChannel, formatBankStatement, parseBankStatement } from './index.js';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (isAppError(err)) return err.code;
    throw err;
  }
  return 'no error';
}

const ROWS = [
  { date: '2026-11-27', time: '09:15:00', bankTxnId: 'B001', income: 50_000, payerName: '张三', payerAccount: '6222020200112233445', memo: '加油卡充值 FC7K3M9Q2A' },
  { date: '2026-11-27', time: '10:00:00', bankTxnId: 'B002', income: 12_345, payerName: '李四, 有限公司', payerAccount: '', memo: 'say "hi"' },
  { date: '2026-11-27', time: '16:30:00', bankTxnId: 'B003', expense: 20_000, payerName: '王五', payerAccount: '6217000010002000300', memo: '退款 F2026112700000000042' },
];

describe('bank statement CSV (银行对账单)', () => {
  it('reads income as payments and expenses as refunds, with the refund number from the memo, checked against 合计', () => {
    const parsed = parseBankStatement({ content: formatBankStatement(ROWS) });
    expect(parsed.billDate).toBe('2026-11-27');
    expect(parsed.summary).toEqual({ lineCount: 3, paymentCount: 2, paymentTotal: 62_345, refundCount: 1, refundTotal: 20_000, feeTotalMfen: 0 });
    expect(parsed.lines.map((l) => [l.kind, l.channelTxnId, l.channelRefundId, l.refundNo, l.amount, l.orderNo])).toEqual([
      ['payment', 'B001', null, null, 50_000, null],
      ['payment', 'B002', null, null, 12_345, null],
      ['refund', null, 'B003', 'F2026112700000000042', 20_000, null],
    ]);
    // Bank time is Beijing time.
    expect(parsed.lines[0]!.occurredAt!.toISOString()).toBe('2026-11-27T01:15:00.000Z');
    // A memo with a comma or a quote survives the round trip through raw.
    expect(parsed.lines[1]!.raw).toContain('"李四, 有限公司"');
  });

  it('reads GBK exports and a UTF-8 BOM the same as plain UTF-8', () => {
    const utf8 = parseBankStatement({ content: formatBankStatement(ROWS) });
    const gbk = formatBankStatement(ROWS, { encoding: 'gbk' });
    expect(() => new TextDecoder('utf-8', { fatal: true }).decode(gbk)).toThrow();
    expect(parseBankStatement({ content: gbk })).toEqual(utf8);
    expect(parseBankStatement({ content: formatBankStatement(ROWS, { bom: true }) })).toEqual(utf8);
  });

  it('refuses a file whose 合计 line was changed: count, income total or expense total', () => {
    expect(codeOf(() => parseBankStatement({ content: formatBankStatement(ROWS, { total: { income: 62_346 } }) }))).toBe('PAYMENT_STATEMENT_TOTALS_MISMATCH');
    expect(codeOf(() => parseBankStatement({ content: formatBankStatement(ROWS, { total: { expense: 0 } }) }))).toBe('PAYMENT_STATEMENT_TOTALS_MISMATCH');
    expect(codeOf(() => parseBankStatement({ content: formatBankStatement(ROWS, { total: { count: 2 } }) }))).toBe('PAYMENT_STATEMENT_TOTALS_MISMATCH');
  });

  it('refuses a line whose amount was changed, and a line dropped, even with the totals left as they were', () => {
    const good = formatBankStatement(ROWS).toString('utf8');
    const tampered = good.replace('500.00', '600.00');
    expect(codeOf(() => parseBankStatement({ content: Buffer.from(tampered) }))).toBe('PAYMENT_STATEMENT_TOTALS_MISMATCH');
    const dropped = good.split('\r\n').filter((l) => !l.includes('B002')).join('\r\n');
    expect(codeOf(() => parseBankStatement({ content: Buffer.from(dropped) }))).toBe('PAYMENT_STATEMENT_TOTALS_MISMATCH');
  });

  it('checks the running balance when every line carries one', () => {
    const rows = [
      { date: '2026-11-27', bankTxnId: 'C1', income: 1_000, balance: 11_000 },
      { date: '2026-11-27', bankTxnId: 'C2', expense: 500, balance: 10_500 },
    ];
    expect(parseBankStatement({ content: formatBankStatement(rows) }).lines).toHaveLength(2);
    const broken = [rows[0]!, { ...rows[1]!, balance: 10_400 }];
    expect(codeOf(() => parseBankStatement({ content: formatBankStatement(broken) }))).toBe('PAYMENT_STATEMENT_TOTALS_MISMATCH');
  });

  it('refuses malformed files: wrong header, no 合计, bad amounts, both or neither amount, a repeated 流水号, lines after 合计', () => {
    const good = formatBankStatement(ROWS).toString('utf8');
    const cases = [
      good.replace('流水号', '交易号'),
      good.split('\r\n').filter((l) => !l.startsWith('合计')).join('\r\n'),
      good.replace('500.00', '500.001'),
      good.replace('500.00', '5e2'),
      good.replace('500.00,', '500.00,1.00'),
      good.replace('B002', 'B001'),
      `${good}2026-11-27,10:00:00,B009,1.00,,,,,\r\n`,
      good.replace('2026-11-27,09:15:00', '2026-02-30,09:15:00'),
      '',
    ];
    for (const text of cases) expect(codeOf(() => parseBankStatement({ content: Buffer.from(text) })), text.slice(0, 80)).toBe('PAYMENT_STATEMENT_MALFORMED');
  });

  it('an empty day is a valid statement', () => {
    const parsed = parseBankStatement({ content: formatBankStatement([]) });
    expect(parsed.lines).toEqual([]);
    expect(parsed.summary.paymentCount).toBe(0);
  });

  it('parses amounts as text, never through floating point', () => {
    const rows = [{ date: '2026-11-27', bankTxnId: 'D1', income: 1_000_000_000_01 }];
    expect(parseBankStatement({ content: formatBankStatement(rows) }).lines[0]!.amount).toBe(1_000_000_000_01);
    expect(parseBankStatement({ content: Buffer.from(iconv.encode(formatBankStatement([{ date: '2026-11-27', bankTxnId: 'D2', income: 29 }]).toString(), 'gbk')) }).lines[0]!.amount).toBe(29);
  });
});

describe('cash and bank transfer channels', () => {
  it('cash: nothing to show the payer, refunds succeed at once, notifications are never theirs', async () => {
    const cash = createCashChannel();
    expect(await cash.createPayment({ orderNo: 'P1', amount: 1, subject: 's', method: 'counter', expiresAt: new Date(), notifyUrl: 'x' })).toEqual({});
    const r = await cash.refund({ refundNo: 'F1', orderNo: 'P1', channelTxnId: null, amount: 100, total: 100, notifyUrl: 'x', requestedAt: new Date() });
    expect(r).toMatchObject({ refundNo: 'F1', status: 'succeeded', amount: 100 });
    expect(await cash.verifyNotification({ headers: {}, body: Buffer.from('x'), now: new Date() })).toMatchObject({ ok: false, code: 'PAYMENT_NOTIFY_MALFORMED' });
    expect((await cash.queryPayment('P1')).status).toBe('paying');
  });

  it('bank transfer: payouts wait for finance (processing), statements parse', async () => {
    const bank = createBankTransferChannel({ bankName: '银行', accountName: '户名', accountNo: '0200 0000 0000' });
    expect(bank.merchantId).toBe('020000000000');
    const r = await bank.refund({ refundNo: 'F1', orderNo: 'P1', channelTxnId: 'B1', amount: 100, total: 100, notifyUrl: 'x', requestedAt: new Date() });
    expect(r.status).toBe('processing');
    expect((await bank.queryRefund('F1', 'P1')).status).toBe('processing');
    expect(bank.parseStatement!({ fileName: 'a.csv', content: formatBankStatement(ROWS) }).summary.paymentTotal).toBe(62_345);
  });
});
