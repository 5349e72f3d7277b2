/**
 * The Alipay trade bill (交易收单业务账单, bill_type=trade): a zip of two GBK CSV files,
 * `<pid>_<yyyyMMdd>_业务明细.csv` and `<pid>_<yyyyMMdd>_业务明细(汇总).csv`, entry names in GBK
 * without the zip UTF-8 flag. Layout as in docs/channel-alipay.md (from reference §3.2). The
 * builder serves the sandbox; the parser is pure and checks the rows against the file's own
 * footer lines and the summary file.
 */
import iconv from 'iconv-lite';
import { unzipSync, zipSync } from 'fflate';
import type { FetchedStatement, ParsedStatement, StatementLine } from '../../channel.js';
import { paymentsError } from '../../payments.errors.js';
import { fenToYuan, formatBeijing, parseBeijing, yuanToFen } from './alipay.crypto.js';

export const DETAIL_COLUMNS = [
  '支付宝交易号', '商户订单号', '业务类型', '商品名称', '创建时间', '完成时间', '门店编号', '门店名称', '操作员', '终端号', '对方账户',
  '订单金额（元）', '商家实收（元）', '支付宝红包（元）', '集分宝（元）', '支付宝优惠（元）', '商家优惠（元）', '券核销金额（元）', '券名称',
  '商家红包消费金额（元）', '卡消费金额（元）', '退款批次号/请求号', '服务费（元）', '分润（元）', '备注',
] as const;

const SUMMARY_COLUMNS = ['门店编号', '门店名称', '交易订单总笔数', '退款订单总笔数', '订单金额（元）', '商家实收（元）', '支付宝优惠（元）', '商家优惠（元）', '卡消费金额（元）', '服务费（元）', '分润（元）', '实收净额（元）'];

/** Alipay appends a tab to text-like cells (so Excel keeps long numbers as text). */
const TABBED = new Set([0, 1, 2, 6, 7, 8, 9, 10, 21]);

export interface BillRow {
  tradeNo: string;
  outTradeNo: string;
  kind: '交易' | '退款';
  subject: string;
  createdAt: Date;
  completedAt: Date;
  /** fen, positive: the order amount (交易) or the refund amount (退款). */
  amount: number;
  /** fen, positive: Alipay's service fee charged on a 交易 row (refund rows: fee refunded). */
  fee: number;
  refundRequestNo?: string;
  buyer?: string;
}

const cnDate = (day: string, time = '00:00:00'): string => `${day.slice(0, 4)}年${day.slice(5, 7)}月${day.slice(8, 10)}日 ${time}`;
const nextDay = (day: string): string => new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
const clean = (s: string): string => s.replace(/[,\r\n\t]/g, ' ');

/** The zip Alipay hands out for one business day (YYYY-MM-DD). */
export function buildAlipayBill(input: { pid: string; billDate: string; rows: readonly BillRow[]; exportedAt: Date }): FetchedStatement {
  const { pid, billDate, rows } = input;
  const ymd = billDate.replace(/-/g, '');
  const exported = formatBeijing(input.exportedAt);
  const exportedCn = cnDate(exported.slice(0, 10), exported.slice(11));
  const range = `#起始日期：[${cnDate(billDate)}]   终止日期：[${cnDate(nextDay(billDate))}]`;
  const lines = [
    '#支付宝业务明细查询',
    `#账号：[${pid}0156]`,
    range,
    '#-----------------------------------------业务明细列表----------------------------------------',
    DETAIL_COLUMNS.join(','),
  ];
  let payCount = 0;
  let payTotal = 0;
  let refundCount = 0;
  let refundTotal = 0;
  let feeTotal = 0;
  let orderTotal = 0;
  for (const r of rows) {
    // Refund rows count against the merchant: negative amounts, as the 退款合计 footer shows.
    const sign = r.kind === '退款' ? -1 : 1;
    const fee = r.kind === '退款' ? r.fee : -r.fee;
    const cells = [
      r.tradeNo, r.outTradeNo, r.kind, clean(r.subject), formatBeijing(r.createdAt), formatBeijing(r.completedAt), '', '', '', '', clean(r.buyer ?? '**买家(138******00)'),
      fenToYuan(sign * r.amount), fenToYuan(sign * r.amount), '0.00', '0.00', '0.00', '0.00', '0.00', '', '0.00', '0.00',
      r.refundRequestNo ?? '', fenToYuan(fee), '0.00', '',
    ].map((c, i) => (TABBED.has(i) ? `${c}\t` : c));
    lines.push(cells.join(','));
    if (r.kind === '交易') {
      payCount++;
      payTotal += r.amount;
    } else {
      refundCount++;
      refundTotal += r.amount;
    }
    orderTotal += sign * r.amount;
    feeTotal += fee;
  }
  lines.push(
    '#-----------------------------------------业务明细列表结束------------------------------------',
    `#交易合计：${payCount}笔，商家实收共${fenToYuan(payTotal)}元，商家优惠共0.00元`,
    `#退款合计：${refundCount}笔，商家实收退款共${fenToYuan(-refundTotal)}元，商家优惠退款共0.00元`,
    `#导出时间：[${exportedCn}]`,
  );
  const summary = [
    '#支付宝业务汇总查询',
    `#账号：[${pid}0156]`,
    range,
    '#-----------------------------------------业务汇总列表----------------------------------------',
    SUMMARY_COLUMNS.join(','),
    ['合计', '', payCount, refundCount, fenToYuan(orderTotal), fenToYuan(orderTotal), '0.00', '0.00', '0.00', fenToYuan(feeTotal), '0.00', fenToYuan(orderTotal + feeTotal)].join(','),
    '#-----------------------------------------业务汇总列表结束------------------------------------',
    `#导出时间：[${exportedCn}]`,
  ];
  const entries: Array<[string, string]> = [
    [`${pid}_${ymd}_业务明细.csv`, lines.join('\r\n') + '\r\n'],
    [`${pid}_${ymd}_业务明细(汇总).csv`, summary.join('\r\n') + '\r\n'],
  ];
  return { fileName: `${pid}_${ymd}.csv.zip`, content: zipWithGbkNames(entries, input.exportedAt) };
}

/**
 * fflate sets the UTF-8 flag for any non-ASCII name; Alipay's zips have GBK names without it.
 * So the entries go in under ASCII placeholders of the GBK names' byte length and the name
 * bytes are swapped afterwards in both headers (names are outside the CRC).
 */
function zipWithGbkNames(entries: ReadonlyArray<[name: string, text: string]>, mtime: Date): Buffer {
  const names = entries.map(([n]) => iconv.encode(n, 'gbk'));
  const files: Record<string, [Uint8Array, { mtime: Date }]> = {};
  const placeholders = names.map((n, i) => `${i}`.padEnd(n.length, '_'));
  entries.forEach(([, text], i) => {
    files[placeholders[i]!] = [iconv.encode(text, 'gbk'), { mtime }];
  });
  const zip = Buffer.from(zipSync(files));
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const count = zip.readUInt16LE(eocd + 10);
  let p = zip.readUInt32LE(eocd + 16);
  for (let k = 0; k < count; k++) {
    const nameLen = zip.readUInt16LE(p + 28);
    const extraLen = zip.readUInt16LE(p + 30);
    const commentLen = zip.readUInt16LE(p + 32);
    const local = zip.readUInt32LE(p + 42);
    const index = placeholders.indexOf(zip.toString('latin1', p + 46, p + 46 + nameLen));
    const name = names[index]!;
    name.copy(zip, p + 46);
    name.copy(zip, local + 30);
    p += 46 + nameLen + extraLen + commentLen;
  }
  return zip;
}

// ── Parsing ──

const MAX_UNZIPPED = 64 * 1024 * 1024;
const malformed = (reason: string, extra: Record<string, unknown> = {}) => paymentsError('PAYMENT_STATEMENT_MALFORMED', { channel: 'alipay', reason, ...extra });
const mismatch = (reason: string, extra: Record<string, unknown> = {}) => paymentsError('PAYMENT_STATEMENT_TOTALS_MISMATCH', { channel: 'alipay', reason, ...extra });

/** A zip entry name: GBK bytes when the UTF-8 flag is off (fflate then hands them over as latin1). */
function entryName(name: string): string {
  if ([...name].some((c) => c.charCodeAt(0) > 0xff)) return name; // flagged UTF-8, already decoded
  return iconv.decode(Buffer.from(name, 'latin1'), 'gbk');
}

/** Normalise half-width brackets in header names (some exports use `(元)`). */
const headerName = (s: string): string => s.replace(/\t/g, '').trim().replace(/\(/g, '（').replace(/\)/g, '）');

export function parseAlipayBill(file: FetchedStatement): ParsedStatement {
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(new Uint8Array(file.content.buffer, file.content.byteOffset, file.content.byteLength), {
      filter: (f) => f.originalSize <= MAX_UNZIPPED,
    });
  } catch (err) {
    throw malformed(`not a zip: ${(err as Error).message}`);
  }
  let detail: string | null = null;
  let summary: string | null = null;
  for (const [raw, bytes] of Object.entries(entries)) {
    const name = entryName(raw);
    if (name.endsWith('业务明细.csv')) detail = iconv.decode(Buffer.from(bytes), 'gbk');
    else if (name.endsWith('业务明细(汇总).csv') || name.endsWith('业务明细（汇总）.csv')) summary = iconv.decode(Buffer.from(bytes), 'gbk');
  }
  if (detail === null) throw malformed('no …_业务明细.csv entry in the zip', { entries: Object.keys(entries).map(entryName) });

  const text = detail.replace(/^\uFEFF/, '');
  const lines = text.split(/\r?\n/);
  const billDate = /#起始日期：\[(\d{4})年(\d{2})月(\d{2})日/.exec(text);
  const start = lines.findIndex((l) => l.startsWith('#') && l.includes('业务明细列表') && !l.includes('结束'));
  const end = lines.findIndex((l) => l.startsWith('#') && l.includes('业务明细列表结束'));
  if (start < 0 || end < 0 || end <= start + 1) throw malformed('业务明细列表 markers missing');
  const header = lines[start + 1]!.split(',').map(headerName);
  const col = (name: string): number => {
    const i = header.indexOf(name);
    if (i < 0) throw malformed(`column ${name} missing`);
    return i;
  };
  const C = {
    tradeNo: col('支付宝交易号'), outTradeNo: col('商户订单号'), kind: col('业务类型'), completedAt: col('完成时间'),
    orderAmount: col('订单金额（元）'), receipt: col('商家实收（元）'), refundNo: col('退款批次号/请求号'), fee: col('服务费（元）'),
  };

  const out: StatementLine[] = [];
  let lineNo = 0;
  let payReceipt = 0;
  let refundReceipt = 0;
  for (let i = start + 2; i < end; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    const cells = line.split(',').map((c) => c.replace(/\t/g, '').trim());
    if (cells.length !== header.length) throw malformed('row has the wrong number of cells', { line: i + 1, cells: cells.length, expected: header.length });
    lineNo++;
    const kind = cells[C.kind]!;
    const amountOf = (idx: number): number => {
      const v = yuanToFen(cells[idx], true);
      if (v === null) throw malformed('amount is not a yuan value', { line: i + 1, column: header[idx], value: cells[idx] });
      return Math.abs(v);
    };
    if (kind !== '交易' && kind !== '退款') continue; // other business types (e.g. 冻结) are not trades
    const receipt = amountOf(C.receipt);
    const fee = amountOf(C.fee);
    const occurredAt = parseBeijing(cells[C.completedAt]);
    if (!occurredAt) throw malformed('完成时间 is not a time', { line: i + 1, value: cells[C.completedAt] });
    const tradeNo = cells[C.tradeNo] || null;
    const orderNo = cells[C.outTradeNo] || null;
    if (kind === '交易') {
      payReceipt += receipt;
      out.push({ lineNo, kind: 'payment', channelTxnId: tradeNo, orderNo, refundNo: null, channelRefundId: null, amount: amountOf(C.orderAmount), feeMfen: fee * 1000, status: 'TRADE_SUCCESS', occurredAt, raw: line });
    } else {
      refundReceipt += receipt;
      const refundNo = cells[C.refundNo] || null;
      out.push({ lineNo, kind: 'refund', channelTxnId: tradeNo, orderNo, refundNo, channelRefundId: null, amount: receipt, feeMfen: fee * 1000, status: 'REFUND_SUCCESS', occurredAt, raw: line });
    }
  }

  const payFooter = /^#交易合计：(\d+)笔，商家实收共(-?[\d.]+)元/.exec(lines.find((l) => l.startsWith('#交易合计')) ?? '');
  const refundFooter = /^#退款合计：(\d+)笔，商家实收退款共(-?[\d.]+)元/.exec(lines.find((l) => l.startsWith('#退款合计')) ?? '');
  if (!payFooter || !refundFooter) throw malformed('#交易合计 / #退款合计 footer lines missing');
  const footPayTotal = yuanToFen(payFooter[2], true);
  const footRefundTotal = yuanToFen(refundFooter[2], true);
  if (footPayTotal === null || footRefundTotal === null) throw malformed('footer totals are not yuan values');
  const payments = out.filter((l) => l.kind === 'payment');
  const refunds = out.filter((l) => l.kind === 'refund');
  if (Number(payFooter[1]) !== payments.length || Math.abs(footPayTotal) !== payReceipt) {
    throw mismatch('交易合计 differs from the rows', { footer: { count: Number(payFooter[1]), total: Math.abs(footPayTotal) }, rows: { count: payments.length, total: payReceipt } });
  }
  if (Number(refundFooter[1]) !== refunds.length || Math.abs(footRefundTotal) !== refundReceipt) {
    throw mismatch('退款合计 differs from the rows', { footer: { count: Number(refundFooter[1]), total: Math.abs(footRefundTotal) }, rows: { count: refunds.length, total: refundReceipt } });
  }
  if (summary !== null) checkSummary(summary, payments.length, refunds.length, payReceipt - refundReceipt);

  return {
    billDate: billDate ? `${billDate[1]}-${billDate[2]}-${billDate[3]}` : null,
    lines: out,
    summary: {
      lineCount: out.length,
      paymentCount: payments.length,
      paymentTotal: payments.reduce((s, l) => s + l.amount, 0),
      refundCount: refunds.length,
      refundTotal: refunds.reduce((s, l) => s + l.amount, 0),
      feeTotalMfen: out.reduce((s, l) => s + (l.kind === 'payment' ? l.feeMfen : -l.feeMfen), 0),
    },
  };
}

/** The (汇总) file's 合计 row must agree with the detail rows: counts and net 商家实收. */
function checkSummary(text: string, payCount: number, refundCount: number, netReceipt: number): void {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const start = lines.findIndex((l) => l.startsWith('#') && l.includes('业务汇总列表') && !l.includes('结束'));
  if (start < 0) throw malformed('业务汇总列表 marker missing in the (汇总) file');
  const header = (lines[start + 1] ?? '').split(',').map(headerName);
  const total = lines.slice(start + 2).find((l) => l.replace(/\t/g, '').startsWith('合计'));
  if (!total) throw malformed('合计 row missing in the (汇总) file');
  const cells = total.split(',').map((c) => c.replace(/\t/g, '').trim());
  const get = (name: string): string | undefined => {
    const i = header.indexOf(name);
    return i < 0 ? undefined : cells[i];
  };
  const pc = get('交易订单总笔数');
  const rc = get('退款订单总笔数');
  const receipt = yuanToFen(get('商家实收（元）'), true);
  if (pc === undefined || rc === undefined || receipt === null) throw malformed('(汇总) 合计 row lacks counts or 商家实收');
  if (Number(pc) !== payCount || Number(rc) !== refundCount || receipt !== netReceipt) {
    throw mismatch('(汇总) file differs from the detail rows', { summary: { payCount: Number(pc), refundCount: Number(rc), net: receipt }, rows: { payCount, refundCount, net: netReceipt } });
  }
}
