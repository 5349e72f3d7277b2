/**
 * The UnionPay reconciliation file (对账文件): fileTransfer's fileContent is base64 of a
 * zlib-deflated zip; inside, the 流水 file INN<yyMMdd>88ZM_<merId> holds one fixed-width line
 * per transaction (fields separated by one space, GBK) — layout in docs/channel-unionpay.md —
 * followed by our summary line TRL, which the parser checks the lines against.
 */
import { inflateSync, unzipSync, unzlibSync, zipSync, zlibSync } from 'fflate';
import iconv from 'iconv-lite';
import type { FetchedStatement, ParsedStatement, StatementLine } from '../../channel.js';
import { paymentsError } from '../../payments.errors.js';
import { beijingStamp, parseBeijingStamp, resolveMonthDayTime } from './acp.js';

/** The 流水 file's fields in order: key, label (from the acquirer's field table), width in bytes. */
export const FLOW_FIELDS = [
  ['txnCode', '交易代码', 3],
  ['agentInsCode', '代理机构标识码', 11],
  ['sendInsCode', '发送机构标识码', 11],
  ['traceNo', '系统跟踪号', 6],
  ['traceTime', '交易传输时间', 10],
  ['accNo', '帐号', 19],
  ['txnAmt', '交易金额', 12],
  ['merCatCode', '商户类别', 4],
  ['termType', '终端类型', 2],
  ['queryId', '查询流水号', 21],
  ['payTypeOld', '支付方式（旧）', 2],
  ['orderId', '商户订单号', 32],
  ['payCardType', '支付卡类型', 2],
  ['origTraceNo', '原始交易系统跟踪号', 6],
  ['origTxnTime', '原始交易日期时间', 10],
  ['merFee', '商户手续费', 13],
  ['settleAmt', '结算金额', 13],
  ['payType', '支付方式', 4],
  ['groupMerId', '集团商户代码', 15],
  ['txnType', '交易类型', 2],
  ['txnSubType', '交易子类', 2],
  ['bizType', '业务类型', 6],
  ['accType', '帐号类型', 2],
  ['billType', '账单类型', 4],
  ['billNo', '账单号码', 32],
  ['interactMode', '交互方式', 1],
  ['origQryId', '原交易查询流水号', 21],
  ['merId', '商户代码', 15],
  ['splitMode', '分账入账方式', 1],
  ['subMerId', '二级商户代码', 15],
  ['subMerAbbr', '二级商户简称', 32],
  ['subMerSplitAmt', '二级商户分账入账金额', 13],
  ['netAmt', '清算净额', 13],
  ['termId', '终端号', 8],
  ['merReserved', '商户自定义域', 32],
  ['discountAmt', '优惠金额', 13],
  ['invoiceAmt', '发票金额', 13],
  ['instalFee', '分期付款附加手续费', 12],
  ['instalNum', '分期付款期数', 2],
  ['txnMedium', '交易介质', 1],
  ['origOrderId', '原始交易订单号', 32],
  ['reserved', '保留使用', 98],
] as const;

export type FlowKey = (typeof FLOW_FIELDS)[number][0];
export type FlowRecord = Partial<Record<FlowKey, string>>;

/** Bytes of one detail line: the widths plus one separating space between fields. */
export const FLOW_LINE_BYTES = FLOW_FIELDS.reduce((n, f) => n + f[2], 0) + FLOW_FIELDS.length - 1;
/** Bytes a line must at least hold: every field up to 原始交易订单号 (the reserved tail may be trimmed). */
const FLOW_MIN_BYTES = FLOW_LINE_BYTES - 98 - 1;

/** 交易代码 written for each 交易类型 (txnType): consumption S22, refund (退货) S30, cancellation (消费撤销) S31. */
export const TXN_CODES: Readonly<Record<string, string>> = { '01': 'S22', '04': 'S30', '31': 'S31' };

/** The summary line: TRL <settle day yyyyMMdd> <lines> <payments> <payment fen> <refunds> <refund fen> <net fee X+n15>. */
const TRAILER_WIDTHS = [3, 8, 10, 10, 16, 10, 16, 16] as const;

/** X+n12 (C credit / D debit + fen), e.g. D000000000060: a fee of 0.60 yuan charged to the merchant. */
export function signedAmount(fen: number, width = 13): string {
  return (fen < 0 ? 'C' : 'D') + String(Math.abs(fen)).padStart(width - 1, '0');
}

function parseSigned(s: string): number | null {
  const m = /^([CD])(\d+)$/.exec(s);
  if (!m) return null;
  const v = Number(m[2]);
  return m[1] === 'C' ? -v : v;
}

function fixed(value: string, width: number): Buffer {
  const b = iconv.encode(value, 'gbk');
  if (b.length > width) throw new Error(`field too long for width ${width}: ${value}`);
  return Buffer.concat([b, Buffer.alloc(width - b.length, 0x20)]);
}

/** One detail line (the sandbox's side; also tests' fixtures). */
export function formatFlowLine(rec: FlowRecord): Buffer {
  const parts: Buffer[] = [];
  FLOW_FIELDS.forEach(([key, , width], i) => {
    if (i > 0) parts.push(Buffer.from(' '));
    parts.push(fixed(rec[key] ?? '', width));
  });
  return Buffer.concat(parts);
}

export interface FlowFileInput {
  merId: string;
  /** YYYY-MM-DD. */
  settleDate: string;
  records: FlowRecord[];
}

/** The 流水 file: detail lines, then the TRL summary line computed from them, CRLF line ends. */
export function buildFlowFile(input: FlowFileInput): Buffer {
  let payments = 0;
  let paymentTotal = 0;
  let refunds = 0;
  let refundTotal = 0;
  let fee = 0;
  for (const r of input.records) {
    const amt = Number(r.txnAmt ?? '0');
    if (r.txnType === '01') {
      payments++;
      paymentTotal += amt;
    } else {
      refunds++;
      refundTotal += amt;
    }
    fee += parseSigned(r.merFee ?? 'D0') ?? 0;
  }
  const trailer = [
    'TRL',
    input.settleDate.replace(/-/g, ''),
    String(input.records.length).padStart(10, '0'),
    String(payments).padStart(10, '0'),
    String(paymentTotal).padStart(16, '0'),
    String(refunds).padStart(10, '0'),
    String(refundTotal).padStart(16, '0'),
    signedAmount(fee, 16),
  ].join(' ');
  const lines = [...input.records.map(formatFlowLine), Buffer.from(trailer)];
  return Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\r\n')]));
}

export function flowFileName(merId: string, settleDate: string): string {
  return `INN${settleDate.replace(/-/g, '').slice(2)}88ZM_${merId}`;
}

/** The zip UnionPay hands out for a settle day, holding the 流水 file. */
export function buildStatementZip(input: FlowFileInput): Buffer {
  const flow = buildFlowFile(input);
  return Buffer.from(zipSync({ [flowFileName(input.merId, input.settleDate)]: new Uint8Array(flow) }));
}

/** fileContent of a fileTransfer answer: base64 of the zlib-deflated zip (the SDK inflates with java.util.zip.Inflater). */
export function encodeFileContent(zip: Buffer): string {
  return Buffer.from(zlibSync(new Uint8Array(zip))).toString('base64');
}

/** The zip inside fileContent. Accepts zlib (what the SDK expects) and, leniently, raw deflate. */
export function decodeFileContent(fileContent: string): Buffer {
  const raw = new Uint8Array(Buffer.from(fileContent, 'base64'));
  try {
    return Buffer.from(unzlibSync(raw));
  } catch {
    return Buffer.from(inflateSync(raw));
  }
}

const malformed = (detail: string, extra: Record<string, unknown> = {}) => paymentsError('PAYMENT_STATEMENT_MALFORMED', { channel: 'unionpay', detail, ...extra });

/** The 流水 file out of what was fetched or uploaded: the zip (its ZM entry), or the 流水 file itself. */
function flowBytes(file: FetchedStatement): { name: string; bytes: Buffer } {
  const c = file.content;
  if (c.length >= 4 && c[0] === 0x50 && c[1] === 0x4b && c[2] === 0x03 && c[3] === 0x04) {
    let entries: Record<string, Uint8Array>;
    try {
      entries = unzipSync(new Uint8Array(c));
    } catch {
      throw malformed('the zip cannot be read');
    }
    const names = Object.keys(entries).filter((n) => /(^|\/)INN\d{6}\d{2}ZM_[^/]*$/.test(n));
    if (names.length !== 1) throw malformed(names.length === 0 ? 'the zip holds no 流水 (INN…ZM_…) file' : 'the zip holds more than one 流水 file');
    return { name: names[0]!.split('/').pop()!, bytes: Buffer.from(entries[names[0]!]!) };
  }
  return { name: file.fileName, bytes: c };
}

function fields(line: Buffer): FlowRecord {
  const rec: FlowRecord = {};
  let at = 0;
  for (const [key, , width] of FLOW_FIELDS) {
    rec[key] = iconv.decode(line.subarray(at, at + width), 'gbk').trim();
    at += width + 1;
  }
  return rec;
}

/**
 * Parse the 流水 file and check it against its TRL summary line (count, totals per kind, net fee).
 * Lines: 01 consumption → payment (channelTxnId = queryId, orderNo = orderId); 04 refund and 31
 * cancellation → refund (refundNo = orderId, channelRefundId = queryId, channelTxnId = origQryId,
 * orderNo = 原始交易订单号). Fees in thousandths of a fen, positive when charged to the merchant.
 */
export function parseUnionPayStatement(file: FetchedStatement): ParsedStatement {
  const { name, bytes } = flowBytes(file);
  const rawLines: Buffer[] = [];
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    if (i === bytes.length || bytes[i] === 0x0a) {
      let end = i;
      if (end > start && bytes[end - 1] === 0x0d) end--;
      rawLines.push(bytes.subarray(start, end));
      start = i + 1;
    }
  }
  while (rawLines.length > 0 && rawLines[rawLines.length - 1]!.length === 0) rawLines.pop();
  const trailerAt = rawLines.findIndex((l) => l.subarray(0, 4).toString('latin1') === 'TRL ');
  if (trailerAt < 0) throw malformed('no TRL summary line');
  if (trailerAt !== rawLines.length - 1) throw malformed('lines after the TRL summary line', { line: trailerAt + 2 });

  const trailerText = rawLines[trailerAt]!.toString('latin1');
  const t = trailerText.split(' ');
  if (t.length !== TRAILER_WIDTHS.length || t.some((p, i) => p.length !== TRAILER_WIDTHS[i])) throw malformed('the TRL summary line is malformed', { line: trailerAt + 1 });
  const settleStamp = parseBeijingStamp(`${t[1]}120000`);
  const numbers = [t[2], t[3], t[4], t[5], t[6]].map((s) => (/^\d+$/.test(s!) ? Number(s) : NaN));
  const trailerFee = parseSigned(t[7]!);
  if (!settleStamp || numbers.some((n) => !Number.isSafeInteger(n)) || trailerFee === null) throw malformed('the TRL summary line is malformed', { line: trailerAt + 1 });
  const billDate = `${t[1]!.slice(0, 4)}-${t[1]!.slice(4, 6)}-${t[1]!.slice(6, 8)}`;
  const nameDay = /INN(\d{6})\d{2}ZM_/.exec(name)?.[1];
  if (nameDay && `20${nameDay}` !== t[1]) throw malformed('the file name and the TRL line name different days');

  const lines: StatementLine[] = [];
  const summary = { lineCount: 0, paymentCount: 0, paymentTotal: 0, refundCount: 0, refundTotal: 0, feeTotalMfen: 0 };
  for (let i = 0; i < trailerAt; i++) {
    const lineNo = i + 1;
    const buf = rawLines[i]!;
    if (buf.length === 0) continue;
    if (buf.length < FLOW_MIN_BYTES || buf.length > FLOW_LINE_BYTES) throw malformed(`line length ${buf.length}, expected ${FLOW_LINE_BYTES}`, { line: lineNo });
    const padded = buf.length < FLOW_LINE_BYTES ? Buffer.concat([buf, Buffer.alloc(FLOW_LINE_BYTES - buf.length, 0x20)]) : buf;
    const r = fields(padded);
    const amount = /^\d{12}$/.test(r.txnAmt ?? '') ? Number(r.txnAmt) : NaN;
    const fee = parseSigned(r.merFee ?? '');
    if (!Number.isSafeInteger(amount) || fee === null || !r.queryId || !r.orderId) throw malformed('a detail line is missing its amount, fee, queryId or orderId', { line: lineNo });
    const occurredAt = r.traceTime ? resolveMonthDayTime(r.traceTime, settleStamp) : null;
    if (r.traceTime && !occurredAt) throw malformed('交易传输时间 is not a time', { line: lineNo });
    const raw = iconv.decode(buf, 'gbk');
    if (r.txnType === '01') {
      lines.push({ lineNo, kind: 'payment', channelTxnId: r.queryId, orderNo: r.orderId, refundNo: null, channelRefundId: null, amount, feeMfen: fee * 1000, status: 'SUCCESS', occurredAt, raw });
      summary.paymentCount++;
      summary.paymentTotal += amount;
    } else if (r.txnType === '04' || r.txnType === '31') {
      lines.push({
        lineNo,
        kind: 'refund',
        channelTxnId: r.origQryId || null,
        orderNo: r.origOrderId || null,
        refundNo: r.orderId,
        channelRefundId: r.queryId,
        amount,
        feeMfen: fee * 1000,
        status: 'SUCCESS',
        occurredAt,
        raw,
      });
      summary.refundCount++;
      summary.refundTotal += amount;
    } else {
      throw malformed(`交易类型 ${r.txnType ?? ''} is not a consumption, refund or cancellation`, { line: lineNo });
    }
    summary.lineCount++;
    summary.feeTotalMfen += fee * 1000;
  }
  const [count, payCount, payTotal, refCount, refTotal] = numbers as [number, number, number, number, number];
  if (count !== summary.lineCount || payCount !== summary.paymentCount || payTotal !== summary.paymentTotal || refCount !== summary.refundCount || refTotal !== summary.refundTotal || trailerFee * 1000 !== summary.feeTotalMfen) {
    throw paymentsError('PAYMENT_STATEMENT_TOTALS_MISMATCH', {
      channel: 'unionpay',
      summary: { lineCount: count, paymentCount: payCount, paymentTotal: payTotal, refundCount: refCount, refundTotal: refTotal, feeTotalMfen: trailerFee * 1000 },
      lines: summary,
    });
  }
  return { billDate, lines, summary };
}

/** A detail record for the sandbox's file, from its trades. */
export function flowRecord(input: {
  txnType: '01' | '04';
  merId: string;
  queryId: string;
  orderId: string;
  txnAmt: number;
  feeFen: number;
  traceNo: string;
  traceTime: Date;
  origQryId?: string;
  origOrderId?: string;
  origTxnTime?: Date;
  accNo?: string;
}): FlowRecord {
  const mmddhhmmss = (d: Date) => beijingStamp(d).slice(4);
  return {
    txnCode: TXN_CODES[input.txnType],
    agentInsCode: '00000049998',
    sendInsCode: '00000049998',
    traceNo: input.traceNo,
    traceTime: mmddhhmmss(input.traceTime),
    accNo: input.accNo ?? '6216***********0018',
    txnAmt: String(input.txnAmt).padStart(12, '0'),
    merCatCode: '5541',
    termType: '07',
    queryId: input.queryId,
    payTypeOld: '00',
    orderId: input.orderId,
    payCardType: '01',
    origTraceNo: '',
    origTxnTime: input.origTxnTime ? mmddhhmmss(input.origTxnTime) : '',
    merFee: signedAmount(input.txnType === '01' ? input.feeFen : -input.feeFen),
    settleAmt: signedAmount(input.txnType === '01' ? -(input.txnAmt - input.feeFen) : input.txnAmt - input.feeFen),
    payType: '0001',
    txnType: input.txnType,
    txnSubType: input.txnType === '01' ? '01' : '00',
    bizType: '000201',
    accType: '01',
    interactMode: '0',
    origQryId: input.origQryId ?? '',
    merId: input.merId,
    origOrderId: input.origOrderId ?? '',
  };
}

