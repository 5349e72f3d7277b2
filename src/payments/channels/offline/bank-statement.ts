import iconv from 'iconv-lite';
import type { FetchedStatement, ParsedStatement, StatementLine } from '../../channel.js';
import { paymentsError } from '../../payments.errors.js';

/**
 * The bank statement CSV the platform reads (docs/bank-transfers.md). Banks export many shapes;
 * this one is ours, close to what most Chinese corporate online banking exports as 明细 CSV:
 *
 *   交易日期,交易时间,流水号,收入金额,支出金额,余额,对方户名,对方账号,摘要
 *   2026-11-27,10:31:05,B20261127000123,500.00,,12500.00,张三,6222020200112233445,FC7K3M9Q2A
 *   …
 *   合计,,<笔数>,<收入合计>,<支出合计>,,,,
 *
 * Amounts in yuan with at most two decimals (parsed as text to fen, never through floating point);
 * exactly one of 收入/支出 per line. UTF-8 (with or without BOM) or GBK. Times are the bank's
 * local time, Asia/Shanghai. The 合计 line is the file's own check: its count and both totals must
 * equal the lines; when every line has a 余额 the running balance must chain too, so a line whose
 * amount was changed is caught even if the totals were changed to match.
 */
export const BANK_STATEMENT_HEADER = ['交易日期', '交易时间', '流水号', '收入金额', '支出金额', '余额', '对方户名', '对方账号', '摘要'] as const;

export interface BankStatementRow {
  date: string;
  time: string;
  bankTxnId: string;
  income: number;
  expense: number;
  balance: number | null;
  payerName: string;
  payerAccount: string;
  memo: string;
}

const REFUND_NO = /F[0-9]{19}/;
const SHANGHAI_OFFSET = '+08:00';

/** Bytes → text: UTF-8 when the bytes are valid UTF-8, else GBK (what Chinese bank exports default to). */
export function decodeStatementText(bytes: Buffer): string {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    text = iconv.decode(bytes, 'gbk');
  }
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** One CSV record (RFC 4180 quoting; a memo may hold commas). */
export function parseCsvLine(line: string): string[] | null {
  const cells: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let v = '';
      i++;
      for (;;) {
        if (i >= line.length) return null;
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            v += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        v += line[i];
        i++;
      }
      cells.push(v);
      if (i === line.length) return cells;
      if (line[i] !== ',') return null;
      i++;
    } else {
      const next = line.indexOf(',', i);
      if (next < 0) {
        cells.push(line.slice(i).trim());
        return cells;
      }
      cells.push(line.slice(i, next).trim());
      i = next + 1;
    }
  }
}

const csvCell = (v: string): string => (/[",\r\n]/.test(v) || v !== v.trim() ? `"${v.replaceAll('"', '""')}"` : v);

/** Yuan text ('1234.5', '1234.56', '') → fen; null when it is not an amount. */
export function yuanToFen(text: string): number | null {
  if (text === '') return 0;
  const m = /^([0-9]{1,13})(?:\.([0-9]{1,2}))?$/.exec(text);
  if (!m) return null;
  return Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
}

export function fenToYuan(fen: number): string {
  const sign = fen < 0 ? '-' : '';
  const a = Math.abs(fen);
  return `${sign}${Math.floor(a / 100)}.${String(a % 100).padStart(2, '0')}`;
}

function malformed(line: number, reason: string): never {
  throw paymentsError('PAYMENT_STATEMENT_MALFORMED', { line, reason });
}

/** The rows of a bank statement, checked against its 合计 line (pure). */
export function readBankStatementRows(bytes: Buffer): BankStatementRow[] {
  const lines = decodeStatementText(bytes).split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1]!.trim() === '') lines.pop();
  if (lines.length < 2) malformed(lines.length, 'expected a header line and a 合计 line');
  const header = parseCsvLine(lines[0]!);
  if (!header || header.length !== BANK_STATEMENT_HEADER.length || header.some((h, i) => h !== BANK_STATEMENT_HEADER[i])) {
    malformed(1, `header must be ${BANK_STATEMENT_HEADER.join(',')}`);
  }
  const rows: BankStatementRow[] = [];
  const seen = new Set<string>();
  let footer: string[] | null = null;
  for (let n = 1; n < lines.length; n++) {
    const lineNo = n + 1;
    const text = lines[n]!;
    if (footer) malformed(lineNo, 'lines after the 合计 line');
    if (text.trim() === '') malformed(lineNo, 'empty line');
    const cells = parseCsvLine(text);
    if (!cells || cells.length !== BANK_STATEMENT_HEADER.length) malformed(lineNo, `expected ${BANK_STATEMENT_HEADER.length} cells`);
    if (cells[0] === '合计') {
      footer = cells;
      continue;
    }
    const [date, time, bankTxnId, inText, outText, balText, payerName, payerAccount, memo] = cells as [string, string, string, string, string, string, string, string, string];
    if (!/^\d{4}-\d{2}-\d{2}$/.test(date) || Number.isNaN(Date.parse(`${date}T00:00:00Z`)) || new Date(`${date}T00:00:00Z`).toISOString().slice(0, 10) !== date) {
      malformed(lineNo, '交易日期 must be YYYY-MM-DD');
    }
    if (time !== '' && !/^([01]\d|2[0-3]):[0-5]\d:[0-5]\d$/.test(time)) malformed(lineNo, '交易时间 must be HH:MM:SS');
    if (!/^[0-9A-Za-z_-]{1,64}$/.test(bankTxnId)) malformed(lineNo, '流水号 must be 1–64 letters, digits, - or _');
    if (seen.has(bankTxnId)) malformed(lineNo, `流水号 ${bankTxnId} appears twice`);
    seen.add(bankTxnId);
    const income = yuanToFen(inText);
    const expense = yuanToFen(outText);
    if (income === null || expense === null) malformed(lineNo, 'amounts must be yuan with at most two decimals');
    if ((income > 0) === (expense > 0)) malformed(lineNo, 'exactly one of 收入金额 and 支出金额 must be positive');
    let balance: number | null = null;
    if (balText !== '') {
      const neg = balText.startsWith('-');
      const b = yuanToFen(neg ? balText.slice(1) : balText);
      if (b === null) malformed(lineNo, '余额 must be yuan with at most two decimals');
      balance = neg ? -b : b;
    }
    rows.push({ date, time, bankTxnId, income, expense, balance, payerName, payerAccount, memo });
  }
  if (!footer) malformed(lines.length, 'the 合计 line is missing');
  const count = /^[0-9]{1,9}$/.test(footer[2]!) ? Number(footer[2]) : null;
  const inTotal = yuanToFen(footer[3]!);
  const outTotal = yuanToFen(footer[4]!);
  if (count === null || inTotal === null || outTotal === null) malformed(lines.length, '合计 line: 笔数, 收入合计, 支出合计 must be numbers');
  const sumIn = rows.reduce((s, r) => s + r.income, 0);
  const sumOut = rows.reduce((s, r) => s + r.expense, 0);
  if (count !== rows.length || inTotal !== sumIn || outTotal !== sumOut) {
    throw paymentsError('PAYMENT_STATEMENT_TOTALS_MISMATCH', {
      summary: { count, income: inTotal, expense: outTotal },
      lines: { count: rows.length, income: sumIn, expense: sumOut },
    });
  }
  if (rows.length > 1 && rows.every((r) => r.balance !== null)) {
    for (let i = 1; i < rows.length; i++) {
      const prev = rows[i - 1]!;
      const r = rows[i]!;
      if (prev.balance! + r.income - r.expense !== r.balance) {
        throw paymentsError('PAYMENT_STATEMENT_TOTALS_MISMATCH', { line: i + 2, reason: '余额 does not follow from the previous line' });
      }
    }
  }
  return rows;
}

export function bankRowOccurredAt(row: Pick<BankStatementRow, 'date' | 'time'>): Date {
  return new Date(`${row.date}T${row.time || '12:00:00'}${SHANGHAI_OFFSET}`);
}

/** The raw CSV line of a row (what StatementLine.raw holds), and back. */
export function formatBankRow(r: BankStatementRow): string {
  return [
    r.date,
    r.time,
    r.bankTxnId,
    r.income > 0 ? fenToYuan(r.income) : '',
    r.expense > 0 ? fenToYuan(r.expense) : '',
    r.balance === null ? '' : fenToYuan(r.balance),
    r.payerName,
    r.payerAccount,
    r.memo,
  ]
    .map(csvCell)
    .join(',');
}

/** A statement line's raw text read back as a row (the bank-transfer import reads payer and memo from it). */
export function bankRowFromRaw(raw: string): BankStatementRow | null {
  const c = parseCsvLine(raw);
  if (!c || c.length !== BANK_STATEMENT_HEADER.length) return null;
  const income = yuanToFen(c[3]!);
  const expense = yuanToFen(c[4]!);
  if (income === null || expense === null) return null;
  return { date: c[0]!, time: c[1]!, bankTxnId: c[2]!, income, expense, balance: null, payerName: c[6]!, payerAccount: c[7]!, memo: c[8]! };
}

/** parseStatement of the bank transfer channel. */
export function parseBankStatement(file: Pick<FetchedStatement, 'content'>): ParsedStatement {
  const rows = readBankStatementRows(file.content);
  const lines: StatementLine[] = rows.map((r, i) => {
    const income = r.income > 0;
    return {
      lineNo: i + 1,
      kind: income ? 'payment' : 'refund',
      channelTxnId: income ? r.bankTxnId : null,
      orderNo: null,
      refundNo: income ? null : (REFUND_NO.exec(r.memo)?.[0] ?? null),
      channelRefundId: income ? null : r.bankTxnId,
      amount: income ? r.income : r.expense,
      feeMfen: 0,
      status: income ? '收入' : '支出',
      occurredAt: bankRowOccurredAt(r),
      raw: formatBankRow(r),
    };
  });
  const days = new Set(rows.map((r) => r.date));
  const payments = lines.filter((l) => l.kind === 'payment');
  const refunds = lines.filter((l) => l.kind === 'refund');
  return {
    billDate: days.size === 1 ? [...days][0]! : null,
    lines,
    summary: {
      lineCount: lines.length,
      paymentCount: payments.length,
      paymentTotal: payments.reduce((s, l) => s + l.amount, 0),
      refundCount: refunds.length,
      refundTotal: refunds.reduce((s, l) => s + l.amount, 0),
      feeTotalMfen: 0,
    },
  };
}

/**
 * Write a statement in this format (tests, the demo, and H7's reconciliation tests build files
 * with it). Balances are left empty unless given; `encoding: 'gbk'` writes what a bank export does.
 */
export function formatBankStatement(
  rows: ReadonlyArray<Partial<BankStatementRow> & Pick<BankStatementRow, 'date' | 'bankTxnId'> & { income?: number; expense?: number }>,
  opts: { encoding?: 'utf8' | 'gbk'; bom?: boolean; total?: { count?: number; income?: number; expense?: number } } = {},
): Buffer {
  const full: BankStatementRow[] = rows.map((r) => ({
    time: '12:00:00',
    income: 0,
    expense: 0,
    balance: null,
    payerName: '',
    payerAccount: '',
    memo: '',
    ...r,
  }));
  const inTotal = opts.total?.income ?? full.reduce((s, r) => s + r.income, 0);
  const outTotal = opts.total?.expense ?? full.reduce((s, r) => s + r.expense, 0);
  const count = opts.total?.count ?? full.length;
  const text = [BANK_STATEMENT_HEADER.join(','), ...full.map(formatBankRow), `合计,,${count},${fenToYuan(inTotal)},${fenToYuan(outTotal)},,,,`].join('\r\n') + '\r\n';
  if (opts.encoding === 'gbk') return iconv.encode(text, 'gbk');
  return Buffer.from((opts.bom ? '\ufeff' : '') + text, 'utf8');
}
