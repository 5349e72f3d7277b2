import { randomInt } from 'node:crypto';
import { sql, type RawBuilder } from 'kysely';
import type { Executor, Trx } from '../platform/index.js';
import { CURSOR_TIME_FORMAT, decodeCursor, encodeCursor } from '../platform/index.js';
import type { ChannelCode, PaymentMethod, PaymentPayload } from './channel.js';
import type { OrderStatus } from './orders.state.js';

export type OrderOrigin = 'portal' | 'counter' | 'api';
export type OrderEventSource = 'api' | 'portal' | 'counter' | 'notification' | 'query' | 'job' | 'staff' | 'reconciliation' | 'refund' | 'bank_match';

/** A recharge_orders row; bigint columns parsed as number (platform db). */
export interface OrderRow {
  id: string;
  order_no: string;
  card_id: number;
  account_id: number;
  amount: number;
  channel: ChannelCode;
  method: PaymentMethod;
  origin: OrderOrigin;
  status: OrderStatus;
  customer_id: number | null;
  staff_id: number | null;
  payer_code: string | null;
  channel_txn_id: string | null;
  /** The order number the provider knows the payment by when it is not ours (reconciliation credits); queries and refunds name it. */
  channel_order_no?: string | null;
  paid_amount: number | null;
  paid_at: Date | null;
  /** YYYY-MM-DD (UnionPay's clearing day), as text. */
  channel_settle_date: string | null;
  channel_payload: PaymentPayload;
  subject: string;
  expires_at: Date;
  recharge_id: string | null;
  refunded_amount: number;
  close_reason: string | null;
  note: string | null;
  created_at: Date;
  updated_at: Date;
}

/** An order with what its API view needs besides the row. */
export type OrderView = OrderRow & { card_no: string; receipt_no: string | null };

const COLUMNS = sql`o.id, o.order_no, o.card_id, o.account_id, o.amount, o.channel, o.method, o.origin, o.status, o.customer_id,
  o.staff_id, o.payer_code, o.channel_txn_id, o.channel_order_no, o.paid_amount, o.paid_at, to_char(o.channel_settle_date, 'YYYY-MM-DD') as channel_settle_date,
  o.channel_payload, o.subject, o.expires_at, o.recharge_id, o.refunded_amount, o.close_reason, o.note, o.created_at, o.updated_at`;

const VIEW = sql`${COLUMNS}, c.card_no, r.receipt_no, to_char(o.created_at at time zone 'UTC', ${CURSOR_TIME_FORMAT}) as cursor_at
  from recharge_orders o join cards c on c.id = o.card_id left join recharges r on r.id = o.recharge_id`;

/** The order, locked for the rest of the transaction: every change of an order takes this lock first. */
export async function lockOrderByNo(trx: Trx, orderNo: string): Promise<OrderRow | undefined> {
  const r = await sql<OrderRow>`select ${COLUMNS} from recharge_orders o where o.order_no = ${orderNo} for update`.execute(trx);
  return r.rows[0];
}

export async function lockOrderById(trx: Trx, id: string): Promise<OrderRow | undefined> {
  const r = await sql<OrderRow>`select ${COLUMNS} from recharge_orders o where o.id = ${id} for update`.execute(trx);
  return r.rows[0];
}

export async function findOrderByNo(db: Executor, orderNo: string): Promise<OrderRow | undefined> {
  const r = await sql<OrderRow>`select ${COLUMNS} from recharge_orders o where o.order_no = ${orderNo}`.execute(db);
  return r.rows[0];
}

export async function findOrderView(db: Executor, orderNo: string): Promise<OrderView | undefined> {
  const r = await sql<OrderView>`select ${VIEW} where o.order_no = ${orderNo}`.execute(db);
  return r.rows[0];
}

/** 'P' + yyyymmdd (business day) + 11 digits: 20 characters, valid as every provider's merchant order number. */
export async function nextOrderNo(db: Executor, day: string): Promise<string> {
  const r = await sql<{ no: string }>`select 'P' || ${day.replaceAll('-', '')} || lpad(nextval('recharge_order_seq')::text, 11, '0') as no`.execute(db);
  return r.rows[0]!.no;
}

/** Crockford base32 without I L O U: a payer copies the code by hand onto a transfer's 附言. */
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

export function newPayerCode(): string {
  let s = 'FC';
  for (let i = 0; i < 8; i++) s += CROCKFORD[randomInt(0, 32)];
  return s;
}

/** A payer code no order has yet (32^8 codes: a collision is rare, so a look-up beats a savepoint). */
export async function freshPayerCode(db: Executor): Promise<string> {
  for (;;) {
    const code = newPayerCode();
    const r = await sql`select 1 from recharge_orders where payer_code = ${code}`.execute(db);
    if (r.rows.length === 0) return code;
  }
}

export async function insertOrder(
  trx: Trx,
  o: {
    id: string;
    orderNo: string;
    cardId: number;
    accountId: number;
    amount: number;
    channel: ChannelCode;
    method: PaymentMethod;
    origin: OrderOrigin;
    customerId: number | null;
    staffId: number | null;
    payerCode: string | null;
    expiresAt: Date;
    subject: string;
    note: string | null;
    createdAt: Date | null;
  },
): Promise<OrderRow> {
  const at = o.createdAt ?? sql`now()`;
  const r = await sql<OrderRow>`insert into recharge_orders as o (id, order_no, card_id, account_id, amount, channel, method, origin, status,
      customer_id, staff_id, payer_code, expires_at, subject, note, created_at, updated_at)
    values (${o.id}, ${o.orderNo}, ${o.cardId}, ${o.accountId}, ${o.amount}, ${o.channel}, ${o.method}, ${o.origin}, 'created',
      ${o.customerId}, ${o.staffId}, ${o.payerCode}, ${o.expiresAt}, ${o.subject}, ${o.note}, ${at}, ${at})
    returning ${COLUMNS}`.execute(trx);
  return r.rows[0]!;
}

/** Column changes that go with a transition. */
export interface OrderChange {
  status?: OrderStatus;
  channel_txn_id?: string | null;
  paid_amount?: number | null;
  paid_at?: Date | null;
  channel_settle_date?: string | null;
  channel_payload?: PaymentPayload;
  recharge_id?: string | null;
  refunded_amount?: number;
  close_reason?: string | null;
  note?: string | null;
}

export async function updateOrder(trx: Trx, id: string, change: OrderChange): Promise<OrderRow> {
  const sets: RawBuilder<unknown>[] = [sql`updated_at = now()`];
  for (const [k, v] of Object.entries(change)) {
    if (v === undefined) continue;
    const value = k === 'channel_payload' ? sql`${JSON.stringify(v)}::jsonb` : k === 'channel_settle_date' ? sql`${v}::date` : sql`${v}`;
    sets.push(sql`${sql.ref(k)} = ${value}`);
  }
  const r = await sql<OrderRow>`update recharge_orders o set ${sql.join(sets, sql`, `)} where o.id = ${id} returning ${COLUMNS}`.execute(trx);
  return r.rows[0]!;
}

export async function insertOrderEvent(
  db: Executor,
  e: { orderId: string; from: OrderStatus | null; to: OrderStatus; source: OrderEventSource; staffId: number | null; details?: Record<string, unknown> },
): Promise<void> {
  await sql`insert into recharge_order_events (order_id, from_status, to_status, source, staff_id, details)
    values (${e.orderId}, ${e.from}, ${e.to}, ${e.source}, ${e.staffId}, ${JSON.stringify(e.details ?? {})}::jsonb)`.execute(db);
}

export interface OrderFilter {
  status?: OrderStatus;
  channel?: ChannelCode;
  cardNo?: string;
  orderNo?: string;
  from?: string;
  to?: string;
  /** Cardholder lists: only orders on cards these customers may see (portal rule). */
  visibleTo?: RawBuilder<unknown>;
  cursor?: string;
  limit: number;
}

/** Newest first by (created_at, id), keyset-paged like every list. */
export async function listOrderViews(db: Executor, f: OrderFilter): Promise<{ items: OrderView[]; nextCursor: string | null }> {
  const after = decodeCursor(f.cursor);
  const conds: RawBuilder<unknown>[] = [sql`true`];
  if (f.status !== undefined) conds.push(sql`o.status = ${f.status}`);
  if (f.channel !== undefined) conds.push(sql`o.channel = ${f.channel}`);
  if (f.cardNo !== undefined) conds.push(sql`c.card_no = ${f.cardNo}`);
  if (f.orderNo !== undefined) conds.push(sql`o.order_no = ${f.orderNo}`);
  if (f.from !== undefined) conds.push(sql`o.created_at >= ${f.from}::timestamptz`);
  if (f.to !== undefined) conds.push(sql`o.created_at < ${f.to}::timestamptz`);
  if (f.visibleTo !== undefined) conds.push(f.visibleTo);
  if (after) conds.push(sql`(o.created_at, o.id) < (${after.at}::timestamptz, ${after.id}::uuid)`);
  const r = await sql<OrderView & { cursor_at: string }>`select ${VIEW} where ${sql.join(conds, sql` and `)}
    order by o.created_at desc, o.id desc limit ${f.limit + 1}`.execute(db);
  const rows = r.rows.slice(0, f.limit);
  const last = rows[rows.length - 1];
  return { items: rows, nextCursor: r.rows.length > f.limit && last ? encodeCursor(last.cursor_at, last.id) : null };
}

export interface OrderEventView {
  fromStatus: OrderStatus | null;
  toStatus: OrderStatus;
  source: OrderEventSource;
  staff: string | null;
  details: Record<string, unknown>;
  createdAt: string;
}

export async function orderEvents(db: Executor, orderId: string): Promise<OrderEventView[]> {
  const r = await sql<{ from_status: OrderStatus | null; to_status: OrderStatus; source: OrderEventSource; username: string | null; details: Record<string, unknown>; created_at: Date }>`
    select e.from_status, e.to_status, e.source, s.username, e.details, e.created_at from recharge_order_events e
    left join staff_users s on s.id = e.staff_id where e.order_id = ${orderId} order by e.id limit 500`.execute(db);
  return r.rows.map((e) => ({ fromStatus: e.from_status, toStatus: e.to_status, source: e.source, staff: e.username, details: e.details, createdAt: e.created_at.toISOString() }));
}

export interface OrderNotificationView {
  id: number;
  kind: 'payment' | 'refund' | null;
  outcome: 'applied' | 'duplicate' | 'rejected';
  reason: string | null;
  notifyId: string | null;
  receivedAt: string;
  /**
   * False for a refused notification: it names this order but was not accepted as the provider's
   * word about it (forged, another merchant, wrong amount…) — shown for the record, not as the order's.
   */
  verified: boolean;
}

export async function orderNotifications(db: Executor, orderNo: string): Promise<OrderNotificationView[]> {
  const r = await sql<{ id: number; kind: 'payment' | 'refund' | null; outcome: 'applied' | 'duplicate' | 'rejected'; reason: string | null; notify_id: string | null; received_at: Date }>`
    select id, kind, outcome, reason, notify_id, received_at from payment_notifications where order_no = ${orderNo} order by id limit 500`.execute(db);
  return r.rows.map((n) => ({ id: n.id, kind: n.kind, outcome: n.outcome, reason: n.reason, notifyId: n.notify_id, receivedAt: n.received_at.toISOString(), verified: n.outcome !== 'rejected' }));
}
