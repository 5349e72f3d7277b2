import { sql } from 'kysely';
import type { Executor, Role } from '../platform/index.js';
import { CURSOR_TIME_FORMAT, decodeCursor, maskCardNo } from '../platform/index.js';
import { CARD_DECLINES, maySeeCardNumbers, type DeclineSpec } from '../cards/index.js';
import { SALE_DECLINES } from '../sales/index.js';
import { cardLineageIds, localTimeSql, pageOf, periodConds, whereAll, type Cond, type Period } from './reports.query.js';
import { litres, localTime, yuan, type ExportColumn, type ExportSource } from './reports.export.js';

const DECLINES: Readonly<Record<string, DeclineSpec>> = { ...CARD_DECLINES, ...SALE_DECLINES };
/** Every decline code a sale row can carry: the filter accepts only these. */
export const DECLINE_CODES = Object.keys(DECLINES);

export interface SalesFilter extends Period {
  stationId?: number;
  terminalId?: string;
  cardNo?: string;
  status?: SaleStatus;
  declineCode?: string;
  grade?: string;
  flow?: SaleFlow;
  /** Only sales that need a look: forced, completed after expiry, offline overdraft or on a hot card. */
  flagged?: boolean;
}

export const SALE_STATUSES = ['approved', 'declined', 'reversed', 'voided'] as const;
export type SaleStatus = (typeof SALE_STATUSES)[number];
export const SALE_FLOWS = ['online', 'completion', 'postpay', 'offline'] as const;
export type SaleFlow = (typeof SALE_FLOWS)[number];
const STATUS_ZH: Record<string, string> = { approved: '成功', declined: '拒绝', reversed: '已冲正', voided: '已撤销' };
const FLOW_ZH: Record<string, string> = { online: '联机', completion: '预授权完成', postpay: '先加后付', offline: '脱机' };

export interface SaleItem {
  saleId: string;
  cardNo: string;
  stationId: number;
  stationName: string;
  terminalId: string;
  /** Null on a store-only sale (no fuel part). */
  nozzle: number | null;
  grade: string | null;
  volumeMl: number | null;
  unitPrice: number | null;
  amount: number;
  goodsAmount: number;
  flow: string;
  forced: boolean;
  flags: string[];
  liability: string;
  status: string;
  approvalCode: string | null;
  declineCode: string | null;
  balanceAfter: number | null;
  businessDay: string;
  createdAt: string;
}

interface SaleRow {
  id: string;
  card_no_masked: string;
  card_no: string | null;
  station_id: number;
  station_name: string;
  terminal_id: string;
  nozzle: number | null;
  grade: string | null;
  volume_ml: number | null;
  unit_price: number | null;
  amount: number;
  goods_amount: number;
  flow: string;
  forced: boolean;
  flags: string[];
  liability: string;
  status: string;
  approval_code: string | null;
  decline_code: string | null;
  balance_after: number | null;
  business_day: string;
  created_at: Date;
  local_at: string;
  cursor_at: string;
}

/** The WHERE conditions of a filter; null when nothing can match (no card has that number). */
async function conditions(db: Executor, f: SalesFilter): Promise<Cond[] | null> {
  const conds = periodConds(sql`s.created_at`, f);
  if (f.stationId !== undefined) conds.push(sql`s.station_id = ${f.stationId}`);
  if (f.terminalId !== undefined) conds.push(sql`s.terminal_id = ${f.terminalId}`);
  if (f.status !== undefined) conds.push(sql`s.status = ${f.status}`);
  if (f.declineCode !== undefined) conds.push(sql`s.decline_code = ${f.declineCode}`);
  if (f.grade !== undefined) conds.push(sql`s.grade = ${f.grade}`);
  if (f.flow !== undefined) conds.push(sql`s.flow = ${f.flow}`);
  if (f.flagged === true) conds.push(sql`(s.flags <> '{}' or s.forced or s.liability = 'station')`);
  if (f.cardNo !== undefined) {
    const ids = await cardLineageIds(db, f.cardNo);
    if (ids.length === 0) return null;
    conds.push(sql`s.card_id = any(${ids}::bigint[])`);
  }
  return conds;
}

async function selectSales(db: Executor, conds: Cond[], cursor: string | null, limit: number, timeZone: string): Promise<SaleRow[]> {
  const after = decodeCursor(cursor ?? undefined);
  const all = after ? [...conds, sql`(s.created_at, s.id) < (${after.at}::timestamptz, ${after.id}::uuid)`] : conds;
  const r = await sql<SaleRow>`
    select s.id, s.card_no_masked, c.card_no, s.station_id, st.name as station_name, s.terminal_id, s.nozzle, s.grade,
           s.volume_ml, s.unit_price, s.amount, s.goods_amount, s.flow, s.forced, s.flags, s.liability, s.status, s.approval_code, s.decline_code, s.balance_after,
           to_char(s.business_day, 'YYYY-MM-DD') as business_day, s.created_at,
           ${localTimeSql(sql`s.created_at`, timeZone)} as local_at,
           to_char(s.created_at at time zone 'UTC', ${CURSOR_TIME_FORMAT}) as cursor_at
      from sales s
      join stations st on st.id = s.station_id
      left join cards c on c.id = s.card_id
      ${whereAll(all)}
      order by s.created_at desc, s.id desc
      limit ${limit}`.execute(db);
  return r.rows;
}

/** Full numbers for roles that may see them; sales of unknown card numbers only ever kept a mask. */
function cardNoFor(role: Role | undefined): (row: SaleRow) => string {
  const full = maySeeCardNumbers(role);
  return (row) => (row.card_no === null ? row.card_no_masked : full ? row.card_no : maskCardNo(row.card_no));
}

export async function listSales(
  db: Executor,
  timeZone: string,
  f: SalesFilter,
  page: { limit: number; cursor?: string },
  role: Role | undefined,
): Promise<{ items: SaleItem[]; nextCursor: string | null }> {
  const conds = await conditions(db, f);
  if (conds === null) {
    decodeCursor(page.cursor); // with nothing to find, a bad cursor is still refused
    return { items: [], nextCursor: null };
  }
  const rows = await selectSales(db, conds, page.cursor ?? null, page.limit + 1, timeZone);
  const { page: out, nextCursor } = pageOf(rows, page.limit, (r) => r.id);
  const cardNo = cardNoFor(role);
  return {
    items: out.map((s) => ({
      saleId: s.id,
      cardNo: cardNo(s),
      stationId: s.station_id,
      stationName: s.station_name,
      terminalId: s.terminal_id,
      nozzle: s.nozzle,
      grade: s.grade,
      volumeMl: s.volume_ml,
      unitPrice: s.unit_price,
      amount: s.amount,
      goodsAmount: s.goods_amount,
      flow: s.flow,
      forced: s.forced,
      flags: s.flags,
      liability: s.liability,
      status: s.status,
      approvalCode: s.approval_code,
      declineCode: s.decline_code,
      balanceAfter: s.balance_after,
      businessDay: s.business_day,
      createdAt: s.created_at.toISOString(),
    })),
    nextCursor,
  };
}

export async function salesExport(
  db: Executor,
  timeZone: string,
  f: SalesFilter,
  role: Role | undefined,
): Promise<{ columns: ExportColumn<SaleRow>[]; source: ExportSource<SaleRow> }> {
  const cardNo = cardNoFor(role);
  const c = await conditions(db, f);
  const columns: ExportColumn<SaleRow>[] = [
    { header: '时间', width: 20, format: 'yyyy-mm-dd hh:mm:ss', value: (s) => localTime(s.local_at) },
    { header: '营业日', width: 12, value: (s) => s.business_day },
    { header: '交易号', width: 38, value: (s) => s.id },
    { header: '卡号', width: 22, format: '@', value: cardNo },
    { header: '油站', width: 24, value: (s) => s.station_name },
    { header: '终端', width: 12, value: (s) => s.terminal_id },
    { header: '油枪', width: 6, value: (s) => s.nozzle },
    { header: '油品', width: 8, value: (s) => s.grade },
    { header: '升数(L)', width: 10, format: '0.00', value: (s) => litres(s.volume_ml) },
    { header: '单价(元/L)', width: 11, format: '0.00', value: (s) => yuan(s.unit_price) },
    { header: '金额(元)', width: 12, format: '0.00', value: (s) => yuan(s.amount) },
    { header: '其中商品(元)', width: 12, format: '0.00', value: (s) => yuan(s.goods_amount) },
    { header: '方式', width: 10, value: (s) => FLOW_ZH[s.flow] ?? s.flow },
    { header: '状态', width: 8, value: (s) => STATUS_ZH[s.status] ?? s.status },
    { header: '标记', width: 24, value: (s) => [...s.flags, ...(s.liability === 'station' ? ['station_liability'] : [])].join(' ') || null },
    { header: '授权码', width: 9, format: '@', value: (s) => s.approval_code },
    { header: '拒绝码', width: 22, value: (s) => s.decline_code },
    { header: '拒绝原因', width: 24, value: (s) => (s.decline_code === null ? null : (DECLINES[s.decline_code]?.zh ?? null)) },
    { header: '交易后余额(元)', width: 15, format: '0.00', value: (s) => yuan(s.balance_after) },
  ];
  return {
    columns,
    source: {
      async count(cap) {
        if (c === null) return 0;
        const r = await sql<{ n: number }>`select count(*)::int as n from (select 1 from sales s ${whereAll(c)} limit ${cap}) x`.execute(db);
        return r.rows[0]!.n;
      },
      async page(cursor, limit) {
        if (c === null) return { rows: [], nextCursor: null };
        const rows = await selectSales(db, c, cursor, limit + 1, timeZone);
        const { page, nextCursor } = pageOf(rows, limit, (r) => r.id);
        return { rows: page, nextCursor };
      },
    },
  };
}
