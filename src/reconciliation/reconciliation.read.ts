import { sql } from 'kysely';
import type { Executor } from '../platform/index.js';
import { decodeCursor, encodeCursor } from '../platform/index.js';
import {
  getItem,
  ITEM_COLUMNS,
  presentItem,
  presentRun,
  presentStatement,
  RUN_COLUMNS,
  STATEMENT_COLUMNS,
  type ItemRow,
  type ItemView,
  type LineRow,
  type RunView,
  type StatementView,
} from './reconciliation.service.js';

type Page<T> = { items: T[]; nextCursor: string | null };

function page<R extends { cursor_at: string; id: number }, T>(rows: R[], limit: number, present: (r: R) => T): Page<T> {
  const more = rows.length > limit;
  const kept = more ? rows.slice(0, limit) : rows;
  const last = kept[kept.length - 1];
  return { items: kept.map(present), nextCursor: more && last ? encodeCursor(last.cursor_at, String(last.id)) : null };
}

const after = (column: string, cursor: string | undefined) => {
  const c = decodeCursor(cursor, 'bigint');
  return c ? sql`and (${sql.ref(column)}, ${sql.ref(column.replace(/\.[a-z_]+$/, '.id'))}) < (${c.at}::timestamptz, ${c.id}::bigint)` : sql``;
};

export async function listStatements(db: Executor, f: { channel?: string; billDate?: string; status?: string; limit: number; cursor?: string }): Promise<Page<StatementView>> {
  const r = await sql<Parameters<typeof presentStatement>[0]>`select ${STATEMENT_COLUMNS} from channel_statements s where true
    ${f.channel ? sql`and s.channel = ${f.channel}` : sql``} ${f.billDate ? sql`and s.bill_date = ${f.billDate}::date` : sql``}
    ${f.status ? sql`and s.status = ${f.status}` : sql``} ${after('s.created_at', f.cursor)}
    order by s.created_at desc, s.id desc limit ${f.limit + 1}`.execute(db);
  return page(r.rows, f.limit, presentStatement);
}

export interface LineView {
  id: number;
  lineNo: number;
  kind: 'payment' | 'refund';
  channelTxnId: string | null;
  orderNo: string | null;
  refundNo: string | null;
  channelRefundId: string | null;
  amount: number;
  feeMfen: number;
  status: string;
  occurredAt: string | null;
  raw: string;
}

const presentLine = (l: LineRow): LineView => ({
  id: l.id,
  lineNo: l.line_no,
  kind: l.kind,
  channelTxnId: l.channel_txn_id,
  orderNo: l.order_no,
  refundNo: l.refund_no,
  channelRefundId: l.channel_refund_id,
  amount: l.amount,
  feeMfen: l.fee_mfen,
  status: l.status,
  occurredAt: l.occurred_at ? l.occurred_at.toISOString() : null,
  raw: l.raw,
});

/** Lines of a statement in file order; the cursor is the last line number seen. */
export async function statementLinesPage(db: Executor, statementId: number, limit: number, cursor: number | undefined): Promise<{ lines: LineView[]; nextLineCursor: number | null }> {
  const r = await sql<LineRow>`select id, line_no, kind, channel_txn_id, order_no, refund_no, channel_refund_id, amount, fee_mfen, status, occurred_at, raw
    from statement_lines where statement_id = ${statementId} and line_no > ${cursor ?? 0} order by line_no limit ${limit + 1}`.execute(db);
  const more = r.rows.length > limit;
  const kept = more ? r.rows.slice(0, limit) : r.rows;
  return { lines: kept.map(presentLine), nextLineCursor: more ? kept[kept.length - 1]!.line_no : null };
}

export async function statementFile(db: Executor, id: number): Promise<{ fileName: string; content: Buffer } | undefined> {
  const r = await sql<{ file_name: string; content: Buffer }>`select file_name, content from channel_statements where id = ${id}`.execute(db);
  const row = r.rows[0];
  return row ? { fileName: row.file_name, content: row.content } : undefined;
}

export async function listRuns(db: Executor, f: { channel?: string; billDate?: string; status?: string; limit: number; cursor?: string }): Promise<Page<RunView>> {
  const r = await sql<Parameters<typeof presentRun>[0]>`select ${RUN_COLUMNS} from recon_runs r where true
    ${f.channel ? sql`and r.channel = ${f.channel}` : sql``} ${f.billDate ? sql`and r.bill_date = ${f.billDate}::date` : sql``}
    ${f.status ? sql`and r.status = ${f.status}` : sql``} ${after('r.started_at', f.cursor)}
    order by r.started_at desc, r.id desc limit ${f.limit + 1}`.execute(db);
  return page(r.rows, f.limit, presentRun);
}

export async function listItems(
  db: Executor,
  f: { status?: string; channel?: string; code?: string; billDate?: string; runId?: number; limit: number; cursor?: string },
): Promise<Page<ItemView>> {
  const r = await sql<ItemRow>`select ${ITEM_COLUMNS} from recon_items i where true
    ${f.status ? sql`and i.status = ${f.status}` : sql``} ${f.channel ? sql`and i.channel = ${f.channel}` : sql``}
    ${f.code ? sql`and i.code = ${f.code}` : sql``} ${f.billDate ? sql`and i.bill_date = ${f.billDate}::date` : sql``}
    ${f.runId ? sql`and i.run_id = ${f.runId}` : sql``} ${after('i.created_at', f.cursor)}
    order by i.created_at desc, i.id desc limit ${f.limit + 1}`.execute(db);
  return page(r.rows, f.limit, presentItem);
}

export interface ItemDetail extends ItemView {
  events: Array<{ id: number; action: string; staff: string | null; note: string | null; details: Record<string, unknown>; createdAt: string }>;
  line: LineView | null;
  order: { orderNo: string; cardNo: string; amount: number; status: string; channelTxnId: string | null; paidAt: string | null } | null;
  refund: { refundNo: string; amount: number; status: string; channelRefundId: string | null; completedAt: string | null } | null;
}

export async function itemDetail(db: Executor, id: number): Promise<ItemDetail> {
  const item = await getItem(db, id);
  const events = await sql<{ id: number; action: string; staff: string | null; note: string | null; details: Record<string, unknown>; created_at: Date }>`
    select e.id, e.action, u.username staff, e.note, e.details, e.created_at from recon_item_events e left join staff_users u on u.id = e.staff_id
    where e.item_id = ${id} order by e.id`.execute(db);
  const line = item.statement_line_id === null ? undefined : (
    await sql<LineRow>`select id, line_no, kind, channel_txn_id, order_no, refund_no, channel_refund_id, amount, fee_mfen, status, occurred_at, raw
      from statement_lines where id = ${item.statement_line_id}`.execute(db)
  ).rows[0];
  const order = item.order_id === null ? undefined : (
    await sql<{ order_no: string; card_no: string; amount: number; status: string; channel_txn_id: string | null; paid_at: Date | null }>`
      select o.order_no, c.card_no, o.amount, o.status, o.channel_txn_id, o.paid_at from recharge_orders o join cards c on c.id = o.card_id where o.id = ${item.order_id}`.execute(db)
  ).rows[0];
  const refund = item.refund_id === null ? undefined : (
    await sql<{ refund_no: string; amount: number; status: string; channel_refund_id: string | null; completed_at: Date | null }>`
      select refund_no, amount, status, channel_refund_id, completed_at from payment_refunds where id = ${item.refund_id}`.execute(db)
  ).rows[0];
  return {
    ...presentItem(item),
    events: events.rows.map((e) => ({ id: e.id, action: e.action, staff: e.staff, note: e.note, details: e.details, createdAt: e.created_at.toISOString() })),
    line: line ? presentLine(line) : null,
    order: order
      ? { orderNo: order.order_no, cardNo: order.card_no, amount: order.amount, status: order.status, channelTxnId: order.channel_txn_id, paidAt: order.paid_at ? order.paid_at.toISOString() : null }
      : null,
    refund: refund
      ? { refundNo: refund.refund_no, amount: refund.amount, status: refund.status, channelRefundId: refund.channel_refund_id, completedAt: refund.completed_at ? refund.completed_at.toISOString() : null }
      : null,
  };
}
