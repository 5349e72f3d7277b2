import { sql } from 'kysely';
import writeExcelFile from 'write-excel-file/node';
import type { Config, Executor } from '../platform/index.js';
import { CHANNEL_NAMES, STATEMENT_CHANNELS, type StatementChannel } from '../payments/index.js';
import { reconError } from './reconciliation.errors.js';
import { checkBillDate } from './reconciliation.service.js';

/** A report covers at most this many days (a quarter): one row per channel per day. */
export const MAX_REPORT_DAYS = 92;

/** nets_differ: no open item, yet the statement, platform and ledger nets disagree (see the day's explanations). */
export type DayStatus = 'balanced' | 'open_items' | 'nets_differ' | 'not_run' | 'statement_rejected';

export interface ReportDay {
  channel: StatementChannel;
  billDate: string;
  runId: number | null;
  status: DayStatus;
  statement: { paymentCount: number; paymentTotal: number; refundCount: number; refundTotal: number; feeTotalMfen: number };
  platform: { paymentCount: number; paymentTotal: number; refundCount: number; refundTotal: number };
  ledgerClearingNet: number;
  /** Statement net, platform net (payments − refunds) and the ledger's clearing net agree. */
  statementNetEqualsPlatform: boolean;
  platformNetEqualsLedger: boolean;
  matched: number;
  openItems: number;
  resolvedItems: number;
  /** The open items of the day: what explains a difference between the three nets. */
  openItemIds: number[];
  /** Besides the open items: pooled records, cross-day matches, worked items, postings with no record of the day (as of the run). */
  explanations: string[];
}

const days = (from: string, to: string): string[] => {
  const out: string[] = [];
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`); t += 86_400_000) out.push(new Date(t).toISOString().slice(0, 10));
  return out;
};

export async function reconReport(db: Executor, config: Config, q: { from: string; to: string; channel?: StatementChannel }): Promise<{ days: ReportDay[] }> {
  const from = checkBillDate(q.from, config);
  const to = checkBillDate(q.to, config);
  const span = days(from, to);
  if (span.length === 0 || span.length > MAX_REPORT_DAYS) throw reconError('RECON_BILL_DATE_INVALID', { field: 'to', from, to, maxDays: MAX_REPORT_DAYS });
  const channels = q.channel ? [q.channel] : [...STATEMENT_CHANNELS];

  const runs = await sql<{
    id: number;
    channel: StatementChannel;
    bill_date: string;
    statement_id: number | null;
    matched_count: number;
    platform_payment_total: number;
    platform_refund_total: number;
    ledger_clearing_net: number;
    details: { platformPaymentCount?: number; platformRefundCount?: number; explanations?: string[] } | null;
  }>`select distinct on (r.channel, r.bill_date) r.id, r.channel, to_char(r.bill_date, 'YYYY-MM-DD') bill_date, r.statement_id, r.matched_count,
      r.platform_payment_total, r.platform_refund_total, r.ledger_clearing_net,
      (select a.details from audit_log a where a.target_type = 'recon_run' and a.target_id = r.id::text and a.action = 'reconciliation.run' limit 1) details
    from recon_runs r where r.status = 'done' and r.bill_date between ${from}::date and ${to}::date and r.channel = any(${channels}::text[])
    order by r.channel, r.bill_date, r.id desc`.execute(db);
  const statements = await sql<{
    channel: StatementChannel;
    bill_date: string;
    accepted: boolean;
    payment_count: number;
    payment_total: number;
    refund_count: number;
    refund_total: number;
    fee_total_mfen: number;
  }>`select distinct on (s.channel, s.bill_date) s.channel, to_char(s.bill_date, 'YYYY-MM-DD') bill_date, s.status = 'accepted' accepted,
      s.payment_count, s.payment_total, s.refund_count, s.refund_total, s.fee_total_mfen
    from channel_statements s where s.bill_date between ${from}::date and ${to}::date and s.channel = any(${channels}::text[])
    order by s.channel, s.bill_date, (s.status = 'accepted') desc, s.id desc`.execute(db);
  const items = await sql<{ channel: string; bill_date: string; open_ids: number[] | null; resolved: number }>`
    select channel, to_char(bill_date, 'YYYY-MM-DD') bill_date, array_agg(id order by id) filter (where status = 'open') open_ids,
      count(*) filter (where status = 'resolved')::int resolved
    from recon_items where bill_date between ${from}::date and ${to}::date and channel = any(${channels}::text[]) group by channel, bill_date`.execute(db);

  const key = (c: string, d: string) => `${c}|${d}`;
  const runBy = new Map(runs.rows.map((r) => [key(r.channel, r.bill_date), r]));
  const stBy = new Map(statements.rows.map((s) => [key(s.channel, s.bill_date), s]));
  const itBy = new Map(items.rows.map((i) => [key(i.channel, i.bill_date), i]));
  const out: ReportDay[] = [];
  for (const billDate of span) {
    for (const channel of channels) {
      const k = key(channel, billDate);
      const run = runBy.get(k);
      const st = stBy.get(k);
      const it = itBy.get(k);
      const openIds = it?.open_ids ?? [];
      const statement = st?.accepted
        ? { paymentCount: st.payment_count, paymentTotal: st.payment_total, refundCount: st.refund_count, refundTotal: st.refund_total, feeTotalMfen: st.fee_total_mfen }
        : { paymentCount: 0, paymentTotal: 0, refundCount: 0, refundTotal: 0, feeTotalMfen: 0 };
      const platform = run
        ? { paymentCount: run.details?.platformPaymentCount ?? 0, paymentTotal: run.platform_payment_total, refundCount: run.details?.platformRefundCount ?? 0, refundTotal: run.platform_refund_total }
        : { paymentCount: 0, paymentTotal: 0, refundCount: 0, refundTotal: 0 };
      const ledger = run?.ledger_clearing_net ?? 0;
      const statementNetEqualsPlatform = statement.paymentTotal - statement.refundTotal === platform.paymentTotal - platform.refundTotal;
      const platformNetEqualsLedger = platform.paymentTotal - platform.refundTotal === ledger;
      let status: DayStatus;
      // Balanced means all three nets agree with nothing left open, not merely that nobody has an item to work.
      if (run) status = openIds.length > 0 ? 'open_items' : statementNetEqualsPlatform && platformNetEqualsLedger ? 'balanced' : 'nets_differ';
      else if (st && !st.accepted) status = 'statement_rejected';
      else status = 'not_run';
      out.push({
        channel,
        billDate,
        runId: run?.id ?? null,
        status,
        statement,
        platform,
        ledgerClearingNet: ledger,
        statementNetEqualsPlatform,
        platformNetEqualsLedger,
        matched: run?.matched_count ?? 0,
        openItems: openIds.length,
        resolvedItems: it?.resolved ?? 0,
        openItemIds: openIds,
        explanations: run?.details?.explanations ?? [],
      });
    }
  }
  return { days: out };
}

const STATUS_NAMES: Record<DayStatus, string> = { balanced: '已平', open_items: '有差错', nets_differ: '净额不符', not_run: '未对账', statement_rejected: '对账单被拒' };
const yuan = (fen: number) => fen / 100;

/** The report as a one-sheet .xlsx (at most MAX_REPORT_DAYS × 4 rows: small enough for the request's thread). */
export async function reportXlsx(report: { days: ReportDay[] }): Promise<Buffer> {
  const money = (v: number) => ({ value: yuan(v), format: '0.00' });
  const headers = [
    '渠道 Channel',
    '账单日期 Bill date',
    '状态 Status',
    '渠道收款笔数',
    '渠道收款金额(元)',
    '渠道退款笔数',
    '渠道退款金额(元)',
    '渠道手续费(元)',
    '平台收款笔数',
    '平台收款金额(元)',
    '平台退款笔数',
    '平台退款金额(元)',
    '清算账户净额(元)',
    '渠道=平台',
    '平台=账务',
    '已匹配',
    '未处理差错',
    '已处理差错',
    '差异说明 Explanations',
  ];
  const data = [
    headers.map((h) => ({ value: h, fontWeight: 'bold' as const })),
    ...report.days.map((d) => [
      { value: CHANNEL_NAMES[d.channel].zh },
      { value: d.billDate },
      { value: STATUS_NAMES[d.status] },
      { value: d.statement.paymentCount },
      money(d.statement.paymentTotal),
      { value: d.statement.refundCount },
      money(d.statement.refundTotal),
      { value: d.statement.feeTotalMfen / 100_000, format: '0.00000' },
      { value: d.platform.paymentCount },
      money(d.platform.paymentTotal),
      { value: d.platform.refundCount },
      money(d.platform.refundTotal),
      money(d.ledgerClearingNet),
      { value: d.statementNetEqualsPlatform ? '是' : '否' },
      { value: d.platformNetEqualsLedger ? '是' : '否' },
      { value: d.matched },
      { value: d.openItems },
      { value: d.resolvedItems },
      { value: d.explanations.join('\n') },
    ]),
  ];
  const out = await writeExcelFile(data as never, { sheet: '对账日报', columns: headers.map((h) => ({ width: Math.max(10, h.length + 4) })), stickyRowsCount: 1 }).toBuffer();
  return Buffer.from(out);
}
