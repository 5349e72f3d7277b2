import { sql } from 'kysely';
import type { Executor, Role } from '../platform/index.js';
import { CURSOR_TIME_FORMAT, decodeCursor, maskCardNo } from '../platform/index.js';
import { maySeeCardNumbers } from '../cards/index.js';
import { cardLineageIds, localTimeSql, pageOf, periodConds, whereAll, type Cond, type Period } from './reports.query.js';
import { localTime, yuan, type ExportColumn, type ExportSource } from './reports.export.js';

export interface RechargesFilter extends Period {
  cardNo?: string;
  channel?: 'cash' | 'bank_transfer' | 'wechat' | 'alipay' | 'unionpay';
}

export interface RechargeItem {
  rechargeId: string;
  receiptNo: string;
  cardNo: string;
  amount: number;
  channel: string;
  reference: string | null;
  staffUsername: string | null;
  balanceAfter: number;
  createdAt: string;
}

interface RechargeRow {
  id: string;
  receipt_no: string;
  card_no: string;
  amount: number;
  channel: string;
  reference: string | null;
  staff_username: string | null;
  balance_after: number;
  created_at: Date;
  local_at: string;
  cursor_at: string;
}

const CHANNEL_ZH: Record<string, string> = { cash: '现金', bank_transfer: '银行转账', wechat: '微信支付', alipay: '支付宝', unionpay: '银联在线' };

async function conditions(db: Executor, f: RechargesFilter): Promise<Cond[] | null> {
  const conds = periodConds(sql`r.created_at`, f);
  if (f.channel !== undefined) conds.push(sql`r.channel = ${f.channel}`);
  if (f.cardNo !== undefined) {
    const ids = await cardLineageIds(db, f.cardNo);
    if (ids.length === 0) return null;
    conds.push(sql`r.card_id = any(${ids}::bigint[])`);
  }
  return conds;
}

async function selectRecharges(db: Executor, conds: Cond[], cursor: string | null, limit: number, timeZone: string): Promise<RechargeRow[]> {
  const after = decodeCursor(cursor ?? undefined);
  const all = after ? [...conds, sql`(r.created_at, r.id) < (${after.at}::timestamptz, ${after.id}::uuid)`] : conds;
  const r = await sql<RechargeRow>`
    select r.id, r.receipt_no, c.card_no, r.amount, r.channel, r.reference, u.username as staff_username, r.balance_after, r.created_at,
           ${localTimeSql(sql`r.created_at`, timeZone)} as local_at,
           to_char(r.created_at at time zone 'UTC', ${CURSOR_TIME_FORMAT}) as cursor_at
      from recharges r
      join cards c on c.id = r.card_id
      left join staff_users u on u.id = r.staff_id
      ${whereAll(all)}
      order by r.created_at desc, r.id desc
      limit ${limit}`.execute(db);
  return r.rows;
}

function cardNoFor(role: Role | undefined): (row: RechargeRow) => string {
  const full = maySeeCardNumbers(role);
  return (row) => (full ? row.card_no : maskCardNo(row.card_no));
}

export async function listRecharges(
  db: Executor,
  timeZone: string,
  f: RechargesFilter,
  page: { limit: number; cursor?: string },
  role: Role | undefined,
): Promise<{ items: RechargeItem[]; nextCursor: string | null }> {
  const conds = await conditions(db, f);
  if (conds === null) {
    decodeCursor(page.cursor); // with nothing to find, a bad cursor is still refused
    return { items: [], nextCursor: null };
  }
  const rows = await selectRecharges(db, conds, page.cursor ?? null, page.limit + 1, timeZone);
  const { page: out, nextCursor } = pageOf(rows, page.limit, (r) => r.id);
  const cardNo = cardNoFor(role);
  return {
    items: out.map((r) => ({
      rechargeId: r.id,
      receiptNo: r.receipt_no,
      cardNo: cardNo(r),
      amount: r.amount,
      channel: r.channel,
      reference: r.reference,
      staffUsername: r.staff_username,
      balanceAfter: r.balance_after,
      createdAt: r.created_at.toISOString(),
    })),
    nextCursor,
  };
}

export async function rechargesExport(
  db: Executor,
  timeZone: string,
  f: RechargesFilter,
  role: Role | undefined,
): Promise<{ columns: ExportColumn<RechargeRow>[]; source: ExportSource<RechargeRow> }> {
  const cardNo = cardNoFor(role);
  const c = await conditions(db, f);
  const columns: ExportColumn<RechargeRow>[] = [
    { header: '时间', width: 20, format: 'yyyy-mm-dd hh:mm:ss', value: (r) => localTime(r.local_at) },
    { header: '充值单号', width: 22, format: '@', value: (r) => r.receipt_no },
    { header: '卡号', width: 22, format: '@', value: cardNo },
    { header: '金额(元)', width: 12, format: '0.00', value: (r) => yuan(r.amount) },
    { header: '渠道', width: 10, value: (r) => CHANNEL_ZH[r.channel] ?? r.channel },
    { header: '银行流水号', width: 24, format: '@', value: (r) => r.reference },
    { header: '经办人', width: 14, value: (r) => r.staff_username },
    { header: '充值后余额(元)', width: 15, format: '0.00', value: (r) => yuan(r.balance_after) },
    { header: '充值ID', width: 38, value: (r) => r.id },
  ];
  return {
    columns,
    source: {
      async count(cap) {
        if (c === null) return 0;
        const r = await sql<{ n: number }>`select count(*)::int as n from (select 1 from recharges r ${whereAll(c)} limit ${cap}) x`.execute(db);
        return r.rows[0]!.n;
      },
      async page(cursor, limit) {
        if (c === null) return { rows: [], nextCursor: null };
        const rows = await selectRecharges(db, c, cursor, limit + 1, timeZone);
        const { page, nextCursor } = pageOf(rows, limit, (r) => r.id);
        return { rows: page, nextCursor };
      },
    },
  };
}
