/**
 * The WeChat Pay trade bill (交易账单, bill_type=ALL), written by the sandbox and read by the
 * adapter: UTF-8 with BOM, CRLF, a plain header line, detail lines whose every cell starts with
 * a back-quote, then the summary header and the back-quoted summary line (reference §2.2).
 * Amounts are yuan with 2 decimals, fees yuan with 5 decimals; read as integers, never floats.
 */
import type { ParsedStatement, StatementLine } from '../../channel.js';
import { paymentsError } from '../../payments.errors.js';
import { billTime, parseBillTime } from './wechat.crypto.js';

export const BILL_COLUMNS = [
  '交易时间', '公众账号ID', '商户号', '特约商户号', '设备号', '微信订单号', '商户订单号', '用户标识', '交易类型', '交易状态',
  '付款银行', '货币种类', '应结订单金额', '代金券金额', '微信退款单号', '商户退款单号', '退款金额', '充值券退款金额', '退款类型', '退款状态',
  '商品名称', '商户数据包', '手续费', '费率', '订单金额', '申请退款金额', '费率备注',
] as const;
export const SUMMARY_COLUMNS = ['总交易单数', '应结订单总金额', '退款总金额', '充值券退款总金额', '手续费总金额', '订单总金额', '申请退款总金额'] as const;

const BOM = '\uFEFF';
const CRLF = '\r\n';

export interface BillTrade {
  appid: string;
  mchid: string;
  transactionId: string;
  outTradeNo: string;
  openid: string;
  tradeType: string;
  description: string;
}

export type BillRow =
  | (BillTrade & { kind: 'payment'; at: Date; amount: number; feeMfen: number; rate: string })
  | (BillTrade & { kind: 'refund'; at: Date; refundId: string; outRefundNo: string; refundAmount: number; refundStatus: string; feeMfen: number; rate: string });

/** fen → "12.34" (yuan, 2 decimals). */
export function yuan(fen: number): string {
  return scaled(fen, 2);
}

/** thousandths of a fen → "0.06000" (yuan, 5 decimals). */
export function feeYuan(mfen: number): string {
  return scaled(mfen, 5);
}

function scaled(units: number, decimals: number): string {
  const neg = units < 0;
  const s = String(Math.abs(units)).padStart(decimals + 1, '0');
  return `${neg ? '-' : ''}${s.slice(0, s.length - decimals)}.${s.slice(s.length - decimals)}`;
}

/** The summary line writes numbers as floats do ("45.0", "0.47", "0.0"), as the real bill does. */
function floatStyle(units: number, decimals: number): string {
  const s = scaled(units, decimals).replace(/0+$/, '');
  return s.endsWith('.') ? `${s}0` : s;
}

/** A cell may not carry the separators the format splits on. */
function cell(v: string): string {
  return '`' + v.replace(/[`\r\n]/g, ' ');
}

/** Write an ALL-type trade bill from rows in the order given. */
export function buildTradeBill(rows: readonly BillRow[]): Buffer {
  const lines: string[] = [BILL_COLUMNS.join(',')];
  let settle = 0;
  let refund = 0;
  let fee = 0;
  let order = 0;
  for (const r of rows) {
    const common = { 交易时间: billTime(r.at), 公众账号ID: r.appid, 商户号: r.mchid, 特约商户号: '0', 设备号: '', 微信订单号: r.transactionId, 商户订单号: r.outTradeNo, 用户标识: r.openid, 交易类型: r.tradeType, 付款银行: 'OTHERS', 货币种类: 'CNY', 代金券金额: '0.00', 充值券退款金额: '0.00', 商品名称: r.description, 商户数据包: '', 手续费: feeYuan(r.feeMfen), 费率: r.rate, 费率备注: '' };
    const v: Record<(typeof BILL_COLUMNS)[number], string> =
      r.kind === 'payment'
        ? { ...common, 交易状态: 'SUCCESS', 应结订单金额: yuan(r.amount), 微信退款单号: '0', 商户退款单号: '0', 退款金额: '0.00', 退款类型: '', 退款状态: '', 订单金额: yuan(r.amount), 申请退款金额: '0.00' }
        : { ...common, 交易状态: 'REFUND', 应结订单金额: '0.00', 微信退款单号: r.refundId, 商户退款单号: r.outRefundNo, 退款金额: yuan(r.refundAmount), 退款类型: 'ORIGINAL', 退款状态: r.refundStatus, 订单金额: '0.00', 申请退款金额: yuan(r.refundAmount) };
    lines.push(BILL_COLUMNS.map((c) => cell(v[c])).join(','));
    if (r.kind === 'payment') {
      settle += r.amount;
      order += r.amount;
    } else refund += r.refundAmount;
    fee += r.feeMfen;
  }
  // The summary's fee total is rounded to the fen, as the real bill's is; the parser allows for that.
  const feeFen = Math.sign(fee) * Math.round(Math.abs(fee) / 1000);
  lines.push(SUMMARY_COLUMNS.join(','));
  lines.push([floatStyle(rows.length * 10, 1), floatStyle(settle, 2), floatStyle(refund, 2), '0.0', floatStyle(feeFen, 2), floatStyle(order, 2), floatStyle(refund, 2)].map(cell).join(','));
  return Buffer.from(BOM + lines.join(CRLF) + CRLF, 'utf8');
}

// ── Parsing ──

const malformed = (reason: string, line?: number) => paymentsError('PAYMENT_STATEMENT_MALFORMED', { channel: 'wechat', reason, ...(line !== undefined ? { line } : {}) });

/** "12.3" → 1230 at scale 2. More decimals than the scale is malformed unless they are zeros. */
function parseScaled(s: string, scale: number, what: string, line: number): number {
  const m = /^(-?)(\d{1,15})(?:\.(\d+))?$/.exec(s);
  if (!m) throw malformed(`${what}: "${s}" is not a number`, line);
  let frac = m[3] ?? '';
  if (frac.length > scale) {
    if (!/^0+$/.test(frac.slice(scale))) throw malformed(`${what}: "${s}" has more than ${scale} decimals`, line);
    frac = frac.slice(0, scale);
  }
  const v = Number(m[2]) * 10 ** scale + Number(frac.padEnd(scale, '0') || '0');
  return m[1] === '-' && v !== 0 ? -v : v;
}

function splitTicked(line: string, n: number, lineNo: number): string[] {
  if (!line.startsWith('`')) throw malformed('a cell does not start with a back-quote', lineNo);
  const cells = line.slice(1).split(',`');
  if (cells.length !== n) throw malformed(`expected ${n} cells, found ${cells.length}`, lineNo);
  return cells;
}

/**
 * Read an ALL-type trade bill and check it against its own summary line. Columns are found by
 * name (WeChat warns their order may change). Pure.
 */
export function parseTradeBill(content: Buffer): ParsedStatement {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(content);
  } catch {
    throw malformed('not UTF-8');
  }
  if (text.startsWith(BOM)) text = text.slice(1);
  const lines = text.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines.length < 3) throw malformed('too short: a header, a summary header and a summary line are required');

  const header = lines[0]!.split(',');
  const col = new Map(header.map((h, i) => [h.trim(), i]));
  for (const c of ['交易时间', '商户号', '微信订单号', '商户订单号', '交易状态', '应结订单金额', '微信退款单号', '商户退款单号', '退款金额', '充值券退款金额', '退款状态', '手续费', '订单金额', '申请退款金额'] as const) {
    if (!col.has(c)) throw malformed(`header lacks ${c}`, 1);
  }
  const summaryAt = lines.length - 2;
  if (!lines[summaryAt]!.startsWith('总交易单数')) throw malformed('the last two lines are not the summary', summaryAt + 1);
  for (let i = 1; i < summaryAt; i++) if (lines[i]!.startsWith('总交易单数')) throw malformed('a summary header inside the details', i + 1);

  const out: StatementLine[] = [];
  const sums = { settle: 0, refund: 0, voucherRefund: 0, fee: 0, order: 0, applied: 0 };
  for (let i = 1; i < summaryAt; i++) {
    const lineNo = i + 1;
    const cells = splitTicked(lines[i]!, header.length, lineNo);
    const get = (c: string): string => cells[col.get(c)!]!.trim();
    const occurredAt = parseBillTime(get('交易时间'));
    if (!occurredAt) throw malformed(`交易时间 "${get('交易时间')}" is not a time`, lineNo);
    const settle = parseScaled(get('应结订单金额'), 2, '应结订单金额', lineNo);
    const refund = parseScaled(get('退款金额'), 2, '退款金额', lineNo);
    const voucherRefund = parseScaled(get('充值券退款金额'), 2, '充值券退款金额', lineNo);
    const fee = parseScaled(get('手续费'), 5, '手续费', lineNo);
    const order = parseScaled(get('订单金额'), 2, '订单金额', lineNo);
    const applied = parseScaled(get('申请退款金额'), 2, '申请退款金额', lineNo);
    sums.settle += settle;
    sums.refund += refund;
    sums.voucherRefund += voucherRefund;
    sums.fee += fee;
    sums.order += order;
    sums.applied += applied;
    const state = get('交易状态');
    const nonZero = (s: string): string | null => (s === '' || s === '0' ? null : s);
    if (state === 'REFUND') {
      const refundNo = nonZero(get('商户退款单号'));
      if (!refundNo) throw malformed('a refund line without 商户退款单号', lineNo);
      out.push({
        lineNo, kind: 'refund', channelTxnId: nonZero(get('微信订单号')), orderNo: nonZero(get('商户订单号')), refundNo,
        channelRefundId: nonZero(get('微信退款单号')), amount: applied, feeMfen: fee, status: get('退款状态'), occurredAt, raw: lines[i]!,
      });
    } else {
      const channelTxnId = nonZero(get('微信订单号'));
      if (!channelTxnId) throw malformed('a payment line without 微信订单号', lineNo);
      out.push({
        lineNo, kind: 'payment', channelTxnId, orderNo: nonZero(get('商户订单号')), refundNo: null, channelRefundId: null,
        amount: order, feeMfen: fee, status: state, occurredAt, raw: lines[i]!,
      });
    }
  }

  const sHeader = lines[summaryAt]!.split(',').map((h) => h.trim());
  const sCells = splitTicked(lines[summaryAt + 1]!, sHeader.length, summaryAt + 2);
  const summary = (c: (typeof SUMMARY_COLUMNS)[number]): string => {
    const i = sHeader.indexOf(c);
    if (i < 0) throw malformed(`summary lacks ${c}`, summaryAt + 1);
    return sCells[i]!.trim();
  };
  const mismatch = (field: string, stated: string, computed: string) =>
    paymentsError('PAYMENT_STATEMENT_TOTALS_MISMATCH', { channel: 'wechat', field, stated, computed });
  const count = summary('总交易单数');
  if (!/^\d+(\.0+)?$/.test(count)) throw malformed(`总交易单数 "${count}" is not a count`, summaryAt + 2);
  if (Number(count.split('.')[0]) !== out.length) throw mismatch('总交易单数', count, String(out.length));
  const exact: Array<[(typeof SUMMARY_COLUMNS)[number], number]> = [
    ['应结订单总金额', sums.settle], ['退款总金额', sums.refund], ['充值券退款总金额', sums.voucherRefund], ['订单总金额', sums.order], ['申请退款总金额', sums.applied],
  ];
  for (const [c, computed] of exact) {
    const stated = summary(c);
    if (parseScaled(stated, 2, c, summaryAt + 2) !== computed) throw mismatch(c, stated, yuan(computed));
  }
  // The fee total is the rounded sum of the 5-decimal fees: allow half a unit of its last digit.
  const feeStated = summary('手续费总金额');
  const feeDecimals = Math.min(5, (feeStated.split('.')[1] ?? '').length);
  const tolerance = 10 ** (5 - feeDecimals) / 2;
  if (Math.abs(parseScaled(feeStated, 5, '手续费总金额', summaryAt + 2) - sums.fee) > tolerance) throw mismatch('手续费总金额', feeStated, feeYuan(sums.fee));

  const payments = out.filter((l) => l.kind === 'payment');
  const refunds = out.filter((l) => l.kind === 'refund');
  return {
    billDate: null,
    lines: out,
    summary: {
      lineCount: out.length,
      paymentCount: payments.length,
      paymentTotal: payments.reduce((s, l) => s + l.amount, 0),
      refundCount: refunds.length,
      refundTotal: refunds.reduce((s, l) => s + l.amount, 0),
      feeTotalMfen: sums.fee,
    },
  };
}
