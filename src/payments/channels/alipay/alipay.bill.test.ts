import iconv from 'iconv-lite';
import { unzipSync, zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import type { FetchedStatement } from '../../channel.js';
import { buildAlipayBill, parseAlipayBill, type BillRow } from './alipay.bill.js';

const PID = '2088722682748354';
const at = (s: string) => new Date(`${s}+08:00`);
const rows: BillRow[] = [
  { tradeNo: '2026060522001419931441931972', outTradeNo: 'P2026060500000000001', kind: '交易', subject: '加油卡充值', createdAt: at('2026-06-05T00:00:01'), completedAt: at('2026-06-05T00:00:04'), amount: 10000, fee: 60 },
  { tradeNo: '2026060522001419931441931973', outTradeNo: 'P2026060500000000002', kind: '交易', subject: '加油卡充值,含逗号', createdAt: at('2026-06-05T23:59:50'), completedAt: at('2026-06-05T23:59:58'), amount: 1, fee: 0 },
  { tradeNo: '2026060422001419931441931900', outTradeNo: 'P2026060400000000009', kind: '退款', subject: '加油卡充值', createdAt: at('2026-06-05T17:00:00'), completedAt: at('2026-06-05T17:00:05'), amount: 3000, fee: 0, refundRequestNo: 'F2026060500000000001' },
];
const bill = () => buildAlipayBill({ pid: PID, billDate: '2026-06-05', rows, exportedAt: at('2026-06-06T06:27:10') });

/** Rewrite the detail entry's text (GBK), keeping the rest of the zip as Alipay made it. */
function withDetail(file: FetchedStatement, edit: (text: string) => string): FetchedStatement {
  const entries = unzipSync(new Uint8Array(file.content));
  const out: Record<string, Uint8Array> = {};
  for (const [name, bytes] of Object.entries(entries)) {
    const decoded = iconv.decode(Buffer.from(name, 'latin1'), 'gbk');
    out[decoded] = decoded.endsWith('业务明细.csv') ? iconv.encode(edit(iconv.decode(Buffer.from(bytes), 'gbk')), 'gbk') : bytes;
  }
  return { fileName: file.fileName, content: Buffer.from(zipSync(out)) };
}
const code = (f: () => unknown): string => {
  try {
    f();
    return 'parsed';
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
};

describe('alipay bill zip', () => {
  it('is a zip of two GBK files with GBK names and no UTF-8 flag, in the reference layout', () => {
    const f = bill();
    expect(f.fileName).toBe(`${PID}_20260605.csv.zip`);
    // Central directory: general purpose flag bit 11 (UTF-8) must be off, names GBK bytes.
    const z = f.content;
    const eocd = z.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
    let p = z.readUInt32LE(eocd + 16);
    const names: string[] = [];
    for (let k = 0; k < z.readUInt16LE(eocd + 10); k++) {
      expect(z.readUInt16LE(p + 8) & 0x800).toBe(0);
      const len = z.readUInt16LE(p + 28);
      names.push(new TextDecoder('gbk').decode(z.subarray(p + 46, p + 46 + len)));
      expect(z.readUInt16LE(z.readUInt32LE(p + 42) + 6) & 0x800).toBe(0);
      p += 46 + len + z.readUInt16LE(p + 30) + z.readUInt16LE(p + 32);
    }
    expect(names).toEqual([`${PID}_20260605_业务明细.csv`, `${PID}_20260605_业务明细(汇总).csv`]);

    const entries = unzipSync(new Uint8Array(z));
    const detailBytes = Object.entries(entries).find(([n]) => iconv.decode(Buffer.from(n, 'latin1'), 'gbk').endsWith('业务明细.csv'))![1];
    const text = new TextDecoder('gbk').decode(detailBytes);
    const lines = text.split('\r\n');
    expect(lines[0]).toBe('#支付宝业务明细查询');
    expect(lines[1]).toBe(`#账号：[${PID}0156]`);
    expect(lines[2]).toBe('#起始日期：[2026年06月05日 00:00:00]   终止日期：[2026年06月06日 00:00:00]');
    expect(lines[4]!.split(',')).toHaveLength(25);
    expect(lines[5]).toMatch(/^2026060522001419931441931972\t,P2026060500000000001\t,交易\t,加油卡充值,2026-06-05 00:00:01,2026-06-05 00:00:04,\t,/);
    expect(lines[5]!.split(',')).toHaveLength(25);
    expect(lines[7]).toContain(',-30.00,-30.00,');
    expect(lines).toContain('#交易合计：2笔，商家实收共100.01元，商家优惠共0.00元');
    expect(lines).toContain('#退款合计：1笔，商家实收退款共-30.00元，商家优惠退款共0.00元');
    expect(lines).toContain('#导出时间：[2026年06月06日 06:27:10]');
  });

  it('parses into statement lines, refunds positive, bucketed times and fees in thousandths of a fen', () => {
    const parsed = parseAlipayBill(bill());
    expect(parsed.billDate).toBe('2026-06-05');
    expect(parsed.summary).toEqual({ lineCount: 3, paymentCount: 2, paymentTotal: 10001, refundCount: 1, refundTotal: 3000, feeTotalMfen: 60_000 });
    expect(parsed.lines[0]).toMatchObject({ lineNo: 1, kind: 'payment', channelTxnId: '2026060522001419931441931972', orderNo: 'P2026060500000000001', amount: 10000, feeMfen: 60_000, refundNo: null });
    expect(parsed.lines[1]!.occurredAt?.toISOString()).toBe('2026-06-05T15:59:58.000Z');
    expect(parsed.lines[2]).toMatchObject({ kind: 'refund', orderNo: 'P2026060400000000009', refundNo: 'F2026060500000000001', amount: 3000 });
    expect(parsed.lines[2]!.raw).toContain('退款');
  });

  it('parses the reference fixture rows (positive refund amounts, half-width headers)', () => {
    const text = [
      '#支付宝业务明细查询', '#账号：[20887226827483540156]', '#起始日期：[2026年06月05日 00:00:00]   终止日期：[2026年06月06日 00:00:00]',
      '#-----------------------------------------业务明细列表----------------------------------------',
      '支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额(元),商家实收(元),支付宝红包(元),集分宝(元),支付宝优惠(元),商家优惠(元),券核销金额(元),券名称,商家红包消费金额(元),卡消费金额(元),退款批次号/请求号,服务费(元),分润(元),备注',
      '2026060522001419931441931972\t,USR1NOZM644N1780646479\t,交易\t,TUC1,2026-06-05 16:01:34,2026-06-05 16:01:38,\t,\t,\t,\t,**博(156******89)\t,0.01,0.01,0.01,0.00,0.00,0.00,0.00,,0.00\t,0.00,\t,0.00,0.00,',
      '2026060522001419931442000000\t,USR1NOABC123456\t,退款\t,TUC1,2026-06-05 17:00:00,2026-06-05 17:00:05,\t,\t,\t,\t,**博(156******89)\t,0.02,0.02,0.00,0.00,0.00,0.00,0.00,,0.00,0.00,REF20260605001\t,0.00,0.00,退款备注',
      '#-----------------------------------------业务明细列表结束------------------------------------',
      '#交易合计：1笔，商家实收共0.01元，商家优惠共0.00元', '#退款合计：1笔，商家实收退款共-0.02元，商家优惠退款共0.00元', '#导出时间：[2021年10月22日 06:27:10]',
    ].join('\n');
    const content = Buffer.from(zipSync({ '20887226827483540156_20260605_业务明细.csv': iconv.encode(text, 'gbk') }));
    const parsed = parseAlipayBill({ fileName: 'x.zip', content });
    expect(parsed.lines.map((l) => [l.kind, l.orderNo, l.amount, l.refundNo])).toEqual([
      ['payment', 'USR1NOZM644N1780646479', 1, null],
      ['refund', 'USR1NOABC123456', 2, 'REF20260605001'],
    ]);
  });

  it('refuses a file whose rows do not add up to its footers or its summary file', () => {
    expect(code(() => parseAlipayBill(withDetail(bill(), (t) => t.replace('商家实收共100.01元', '商家实收共100.02元'))))).toBe('PAYMENT_STATEMENT_TOTALS_MISMATCH');
    expect(code(() => parseAlipayBill(withDetail(bill(), (t) => t.replace('#交易合计：2笔', '#交易合计：3笔'))))).toBe('PAYMENT_STATEMENT_TOTALS_MISMATCH');
    expect(code(() => parseAlipayBill(withDetail(bill(), (t) => t.replace('商家实收退款共-30.00元', '商家实收退款共-31.00元'))))).toBe('PAYMENT_STATEMENT_TOTALS_MISMATCH');
    // A row dropped together with a consistent footer still disagrees with the (汇总) file.
    const dropped = withDetail(bill(), (t) =>
      t.split('\r\n').filter((l) => !l.includes('P2026060500000000002')).join('\r\n').replace('#交易合计：2笔，商家实收共100.01元', '#交易合计：1笔，商家实收共100.00元'));
    expect(code(() => parseAlipayBill(dropped))).toBe('PAYMENT_STATEMENT_TOTALS_MISMATCH');
  });

  it('refuses malformed files', () => {
    expect(code(() => parseAlipayBill({ fileName: 'x', content: Buffer.from('not a zip') }))).toBe('PAYMENT_STATEMENT_MALFORMED');
    expect(code(() => parseAlipayBill({ fileName: 'x', content: Buffer.from(zipSync({ 'other.csv': new Uint8Array([0x41]) })) }))).toBe('PAYMENT_STATEMENT_MALFORMED');
    expect(code(() => parseAlipayBill(withDetail(bill(), (t) => t.replace(/#交易合计.*\r\n/, ''))))).toBe('PAYMENT_STATEMENT_MALFORMED');
    expect(code(() => parseAlipayBill(withDetail(bill(), (t) => t.replace(',100.00,100.00,', ',100.0O,100.00,'))))).toBe('PAYMENT_STATEMENT_MALFORMED');
    expect(code(() => parseAlipayBill(withDetail(bill(), (t) => t.replace('加油卡充值,2026-06-05 00:00:01', '加油,卡充值,2026-06-05 00:00:01'))))).toBe('PAYMENT_STATEMENT_MALFORMED');
    expect(code(() => parseAlipayBill(withDetail(bill(), (t) => t.replace('业务明细列表结束', '结尾'))))).toBe('PAYMENT_STATEMENT_MALFORMED');
    expect(code(() => parseAlipayBill(bill()))).toBe('parsed');
  });
});
