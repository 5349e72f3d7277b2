import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Actor, Config, Executor, FieldCipher, Trx } from '../platform/index.js';
import { audit, businessDay, createFieldCipher, CURSOR_TIME_FORMAT, encodeCursor, maskAccount, maskCardNo, runIdempotent, systemActor } from '../platform/index.js';
import { lockAccounts, systemAccount, transfer, uuidFrom } from '../ledger/index.js';
import type { ChannelCode, RefundRequest, RefundState } from './channel.js';
import { ONLINE_CHANNELS } from './channel.js';
import { paymentsError, type PaymentsErrorCode } from './payments.errors.js';
import { clearingAccount, lockOrderByNo, markOrderRefunded, type OrderRow, type PaymentsDeps } from './orders.service.js';

/**
 * Refunds (退款, docs/refunds.md): of a recharge order, whole or part, to the channel it was paid
 * through; and payouts of a closed card's balance (销户退资). The ledger moves through refunds
 * payable until the channel confirms, so money is never both on the card and on its way back:
 *   request   card account → refunds_payable:recharge         (card_close: already there)
 *             ('paid' order, never credited: channel_clearing:<ch> → refunds_payable:recharge)
 *   success   refunds_payable:<kind> → channel_clearing:<ch>
 *   failure   refunds_payable:recharge → card account          (card_close: stays payable;
 *             'paid' order: back to channel_clearing:<ch>)
 * Provider calls happen outside any transaction: record the intent, call, then apply the answer
 * under the refund's row lock. The provider treats a repeated refund number as the same refund,
 * so a retry (job, staff query, Idempotency-Key replay) can never pay twice.
 */

export type RefundKind = 'recharge' | 'card_close';
export type RefundStatus = 'requested' | 'processing' | 'succeeded' | 'failed';
export type RefundEventSource = 'api' | 'portal' | 'staff' | 'notification' | 'query' | 'job' | 'reconciliation';

export interface RefundRow {
  id: string;
  refund_no: string;
  kind: RefundKind;
  order_id: string | null;
  card_refund_id: string | null;
  card_id: number;
  account_id: number;
  channel: ChannelCode;
  amount: number;
  status: RefundStatus;
  channel_refund_id: string | null;
  reason: string | null;
  failure_reason: string | null;
  payee: StoredPayee | null;
  hold_transfer_id: string | null;
  settle_transfer_id: string | null;
  staff_id: number | null;
  customer_id: number | null;
  completed_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

/** Payee as stored: the account number encrypted (field cipher), a masked copy for display. */
interface StoredPayee {
  name: string;
  bank: string | null;
  accountMasked: string;
  accountEnc: string;
}
export interface PayeeInput {
  name: string;
  account: string;
  bank?: string;
}

/** The API shape of a refund. */
export interface Refund {
  refundNo: string;
  kind: RefundKind;
  orderNo: string | null;
  cardNo: string;
  channel: ChannelCode;
  amount: number;
  status: RefundStatus;
  channelRefundId: string | null;
  reason: string | null;
  failureReason: string | null;
  payee: { name: string; account: string; bank: string | null } | null;
  /** Card-close payouts: the recharge order whose channel pays this part back (null for the bank remainder). */
  originalOrderNo: string | null;
  cardRefundId: string | null;
  createdAt: string;
  completedAt: string | null;
}

export interface RefundEvent {
  fromStatus: string | null;
  toStatus: string;
  source: string;
  staff: string | null;
  details: Record<string, unknown>;
  createdAt: string;
}

const CLOSE_PAYABLE_NAME = '待退款（原路退回）';
const RECHARGE_PAYABLE_NAME = '待退款（充值退款）';
/** Card-close parts go back through these channels; cash was handed over when the card closed. */
const PAYOUT_CHANNELS: readonly ChannelCode[] = ['wechat', 'alipay', 'unionpay', 'bank_transfer'];
const isOnline = (c: ChannelCode): boolean => (ONLINE_CHANNELS as readonly string[]).includes(c);

const ciphers = new WeakMap<Config, FieldCipher>();
function cipherOf(config: Config): FieldCipher {
  let c = ciphers.get(config);
  if (!c) {
    c = createFieldCipher(config.dataKeys);
    ciphers.set(config, c);
  }
  return c;
}

/** The platform's account mask; kept under this name for bank-transfers.service.ts, which imports it. */
export const maskAccountNo = maskAccount;

function storePayee(config: Config, p: PayeeInput): StoredPayee {
  const account = p.account.replace(/\s+/g, '');
  if (!/^[0-9A-Za-z-]{6,40}$/.test(account) || p.name.trim() === '') throw paymentsError('PAYMENT_PAYEE_REQUIRED', { field: 'payee' });
  return { name: p.name.trim(), bank: p.bank?.trim() || null, accountMasked: maskAccountNo(account), accountEnc: cipherOf(config).encrypt(account) };
}

/** The payee with the full account number, for finance making the payout. */
export function revealPayee(config: Config, row: Pick<RefundRow, 'payee'>): { name: string; account: string; bank: string | null } | null {
  if (!row.payee) return null;
  return { name: row.payee.name, bank: row.payee.bank, account: cipherOf(config).decrypt(row.payee.accountEnc) };
}

// ── Reading ─────────────────────────────────────────────────────────────────────────────────────

type RefundView = RefundRow & { card_no: string; order_no: string | null; original_order_no: string | null; cursor_at: string };

const VIEW = sql`r.*, c.card_no, o.order_no,
  (select e.details->>'orderNo' from payment_refund_events e where e.refund_id = r.id and e.from_status is null order by e.id limit 1) as original_order_no,
  to_char(r.created_at at time zone 'UTC', ${CURSOR_TIME_FORMAT}) as cursor_at
  from payment_refunds r join cards c on c.id = r.card_id left join recharge_orders o on o.id = r.order_id`;

export function presentRefund(v: RefundView): Refund {
  return {
    refundNo: v.refund_no,
    kind: v.kind,
    orderNo: v.order_no,
    cardNo: v.card_no,
    channel: v.channel,
    amount: v.amount,
    status: v.status,
    channelRefundId: v.channel_refund_id,
    reason: v.reason,
    failureReason: v.failure_reason,
    payee: v.payee ? { name: v.payee.name, account: v.payee.accountMasked, bank: v.payee.bank } : null,
    originalOrderNo: v.kind === 'card_close' ? v.original_order_no : null,
    cardRefundId: v.card_refund_id,
    createdAt: v.created_at.toISOString(),
    completedAt: v.completed_at?.toISOString() ?? null,
  };
}

async function refundView(db: Executor, refundNo: string): Promise<RefundView | undefined> {
  const r = await sql<RefundView>`select ${VIEW} where r.refund_no = ${refundNo}`.execute(db);
  return r.rows[0];
}

export async function getRefund(db: Executor, refundNo: string): Promise<Refund> {
  const v = await refundView(db, refundNo);
  if (!v) throw paymentsError('PAYMENT_REFUND_NOT_FOUND', { refundNo });
  return presentRefund(v);
}

export async function getRefundRow(db: Executor, refundNo: string): Promise<RefundRow> {
  const r = await sql<RefundRow>`select * from payment_refunds where refund_no = ${refundNo}`.execute(db);
  if (!r.rows[0]) throw paymentsError('PAYMENT_REFUND_NOT_FOUND', { refundNo });
  return r.rows[0];
}

export async function refundEvents(db: Executor, refundId: string): Promise<RefundEvent[]> {
  const r = await sql<{ from_status: string | null; to_status: string; source: string; staff: string | null; details: Record<string, unknown>; created_at: Date }>`
    select e.from_status, e.to_status, e.source, s.username as staff, e.details, e.created_at
    from payment_refund_events e left join staff_users s on s.id = e.staff_id where e.refund_id = ${refundId} order by e.id`.execute(db);
  return r.rows.map((e) => ({ fromStatus: e.from_status, toStatus: e.to_status, source: e.source, staff: e.staff, details: e.details, createdAt: e.created_at.toISOString() }));
}

export async function getRefundDetail(db: Executor, refundNo: string): Promise<Refund & { events: RefundEvent[] }> {
  const v = await refundView(db, refundNo);
  if (!v) throw paymentsError('PAYMENT_REFUND_NOT_FOUND', { refundNo });
  return { ...presentRefund(v), events: await refundEvents(db, v.id) };
}

/** The refunds of a recharge order, oldest first (the order's detail page). */
export async function listRefundsOfOrder(db: Executor, orderId: string): Promise<Refund[]> {
  const r = await sql<RefundView>`select ${VIEW} where r.order_id = ${orderId} order by r.created_at, r.refund_no`.execute(db);
  return r.rows.map(presentRefund);
}

export interface RefundFilter {
  status?: RefundStatus;
  channel?: ChannelCode;
  kind?: RefundKind;
  orderNo?: string;
  cardNo?: string;
  from?: string;
  to?: string;
  limit: number;
  cursor?: { at: string; id: string } | null;
}

export async function listRefunds(db: Executor, f: RefundFilter): Promise<{ items: Refund[]; nextCursor: string | null }> {
  const conds = [sql`true`];
  if (f.status) conds.push(sql`r.status = ${f.status}`);
  if (f.channel) conds.push(sql`r.channel = ${f.channel}`);
  if (f.kind) conds.push(sql`r.kind = ${f.kind}`);
  if (f.orderNo) conds.push(sql`o.order_no = ${f.orderNo}`);
  if (f.cardNo) conds.push(sql`c.card_no = ${f.cardNo}`);
  if (f.from) conds.push(sql`r.created_at >= ${f.from}::timestamptz`);
  if (f.to) conds.push(sql`r.created_at < ${f.to}::timestamptz`);
  if (f.cursor) conds.push(sql`(r.created_at, r.id) < (${f.cursor.at}::timestamptz, ${f.cursor.id}::uuid)`);
  const r = await sql<RefundView>`select ${VIEW} where ${sql.join(conds, sql` and `)} order by r.created_at desc, r.id desc limit ${f.limit + 1}`.execute(db);
  const rows = r.rows.slice(0, f.limit);
  const last = rows[rows.length - 1];
  return { items: rows.map(presentRefund), nextCursor: r.rows.length > f.limit && last ? encodeCursor(last.cursor_at, last.id) : null };
}

// ── Writing ─────────────────────────────────────────────────────────────────────────────────────

/** The refund, locked for the rest of the transaction: every change of a refund takes this lock first. */
export async function lockRefundByNo(trx: Trx, refundNo: string): Promise<RefundRow | undefined> {
  const r = await sql<RefundRow>`select * from payment_refunds where refund_no = ${refundNo} for update`.execute(trx);
  return r.rows[0];
}

async function nextRefundNo(db: Executor, config: Config): Promise<string> {
  const day = businessDay(new Date(), config.timeZone).replaceAll('-', '');
  const r = await sql<{ no: string }>`select 'F' || ${day} || lpad(nextval('payment_refund_seq')::text, 11, '0') as no`.execute(db);
  return r.rows[0]!.no;
}

async function insertEvent(trx: Trx, refundId: string, from: RefundStatus | null, to: RefundStatus, source: RefundEventSource, staffId: number | null, details: Record<string, unknown>): Promise<void> {
  await sql`insert into payment_refund_events (refund_id, from_status, to_status, source, staff_id, details)
    values (${refundId}, ${from}, ${to}, ${source}, ${staffId}, ${JSON.stringify(details)}::jsonb)`.execute(trx);
}

const isStaff = (actor: Actor | undefined): actor is Actor => actor !== undefined && actor.staffId !== null;

/** Money of a recharge order still refundable: not refunded yet and not on its way back already. */
async function refundableOf(trx: Trx, order: OrderRow): Promise<number> {
  const open = await sql<{ s: number }>`select coalesce(sum(amount), 0)::bigint s from payment_refunds
    where order_id = ${order.id} and status in ('requested','processing')`.execute(trx);
  const parts = await closePartsInFlight(trx, order.order_no);
  return order.amount - order.refunded_amount - Number(open.rows[0]!.s) - parts;
}

/** Card-close parts paying back through an order that are still on their way (they count against it until they settle). */
async function closePartsInFlight(db: Executor, orderNo: string): Promise<number> {
  const r = await sql<{ s: number }>`select coalesce(sum(r.amount), 0)::bigint s from payment_refunds r
    join payment_refund_events e on e.refund_id = r.id and e.from_status is null
    where r.kind = 'card_close' and r.status in ('requested','processing') and e.details->>'orderNo' = ${orderNo}`.execute(db);
  return Number(r.rows[0]!.s);
}

export interface RechargeRefundInput {
  orderNo: string;
  amount?: number;
  reason: string;
  payee?: PayeeInput;
}

/**
 * Step 1 of a recharge refund, in the caller's transaction: checks, the hold on the money, the
 * refund row ('requested'). The caller commits, then calls sendRefundToChannel (never a provider
 * call inside a transaction). A credited order's money is taken back from the card; a 'paid'
 * order's money never reached the card (it could not take it): it is taken from the channel's
 * clearing account, where the payment still sits.
 */
export async function createRechargeRefund(trx: Trx, deps: PaymentsDeps, actor: Actor, input: RechargeRefundInput, source: RefundEventSource): Promise<RefundRow> {
  const order = await lockOrderByNo(trx, input.orderNo);
  if (!order) throw paymentsError('PAYMENT_ORDER_NOT_FOUND', { orderNo: input.orderNo });
  if (order.status !== 'credited' && order.status !== 'paid') throw paymentsError('PAYMENT_REFUND_NOT_ALLOWED', { orderNo: order.order_no, status: order.status });
  const fromClearing = order.status === 'paid';
  const refundable = await refundableOf(trx, order);
  const amount = input.amount ?? refundable;
  if (!Number.isSafeInteger(amount) || amount <= 0 || amount > refundable) {
    throw paymentsError('PAYMENT_REFUND_EXCEEDS', { field: 'amount', refundable: Math.max(refundable, 0), amount });
  }
  if (order.channel === 'bank_transfer' && !input.payee) throw paymentsError('PAYMENT_PAYEE_REQUIRED', { field: 'payee' });
  const payee = input.payee ? storePayee(deps.config, input.payee) : null;
  let holdFrom: number;
  if (fromClearing) {
    holdFrom = (await clearingAccount(trx, order.channel)).id;
  } else {
    const [account] = await lockAccounts(trx, [order.account_id]);
    // A closed card's balance went to its card-close payout: nothing is left here to refund from.
    if (account!.status === 'closed') throw paymentsError('PAYMENT_REFUND_NOT_ALLOWED', { orderNo: order.order_no, reason: 'account_closed' });
    // The card may have spent the money: a refund may only take back what it still holds.
    if (account!.available < amount) throw paymentsError('PAYMENT_REFUND_BALANCE', { available: account!.available, amount });
    holdFrom = order.account_id;
  }

  const id = randomUUID();
  const refundNo = await nextRefundNo(trx, deps.config);
  const payable = await systemAccount(trx, 'refunds_payable', 'recharge', RECHARGE_PAYABLE_NAME);
  const hold = await transfer(trx, {
    id: uuidFrom(`refund-hold:${id}`),
    debitAccountId: holdFrom,
    creditAccountId: payable.id,
    amount,
    code: 'refund',
    metadata: { refundNo, orderNo: order.order_no, cardId: order.card_id, ...(fromClearing ? { fromClearing: true } : {}) },
  });
  if (!hold.ok) throw paymentsError('PAYMENT_REFUND_BALANCE', { amount, ledger: hold.code });
  const r = await sql<RefundRow>`insert into payment_refunds (id, refund_no, kind, order_id, card_id, account_id, channel, amount, status, reason, payee,
      hold_transfer_id, staff_id, customer_id)
    values (${id}, ${refundNo}, 'recharge', ${order.id}, ${order.card_id}, ${order.account_id}, ${order.channel}, ${amount}, 'requested', ${input.reason},
      ${payee ? JSON.stringify(payee) : null}::jsonb, ${hold.transferId}, ${actor.staffId}, ${order.customer_id})
    returning *`.execute(trx);
  await insertEvent(trx, id, null, 'requested', source, actor.staffId, { orderNo: order.order_no, amount, reason: input.reason, refundable, ...(fromClearing ? { fromClearing: true } : {}) });
  if (isStaff(actor)) {
    await audit(trx, actor, { action: 'payment.refund.request', targetType: 'recharge_order', targetId: order.order_no, details: { refundNo, amount, channel: order.channel, reason: input.reason, orderStatus: order.status } });
  }
  return r.rows[0]!;
}

/**
 * 充值退款: refund a credited order — or a 'paid' one the card could not take — (all of what is
 * left, or `amount`) to the channel it was paid through: createRechargeRefund in one transaction,
 * then sendRefundToChannel once it committed. With an Idempotency-Key a retry finds the refund the first attempt created (and,
 * if the provider could not be reached then, asks it again with the same refund number).
 */
export async function requestRechargeRefund(
  deps: PaymentsDeps,
  actor: Actor,
  input: RechargeRefundInput,
  source: 'staff' | 'reconciliation' | 'api',
  idempotencyKey?: string,
): Promise<Refund> {
  const out = await runIdempotent<{ refundNo: string }>(deps.db, `payment-refund:${input.orderNo}`, idempotencyKey, { ...input, payee: input.payee ?? null }, async (trx) => {
    const row = await createRechargeRefund(trx, deps, actor, input, source);
    return { status: 201, body: { refundNo: row.refund_no } };
  });
  await sendRefundToChannel(deps, out.body.refundNo, source, actor);
  return getRefund(deps.db, out.body.refundNo);
}

/** What the provider needs to find the original payment of a refund. */
async function refundRequestOf(db: Executor, deps: PaymentsDeps, refund: RefundRow): Promise<RefundRequest> {
  let orderId = refund.order_id;
  if (!orderId) {
    const e = await sql<{ order_id: string | null }>`select details->>'orderId' as order_id from payment_refund_events
      where refund_id = ${refund.id} and from_status is null order by id limit 1`.execute(db);
    orderId = e.rows[0]?.order_id ?? null;
  }
  const o = orderId
    ? (
        await sql<{ order_no: string; amount: number; channel_txn_id: string | null }>`select coalesce(channel_order_no, order_no) as order_no, amount, channel_txn_id
          from recharge_orders where id = ${orderId}`.execute(db)
      ).rows[0]
    : undefined;
  return {
    refundNo: refund.refund_no,
    orderNo: o?.order_no ?? '',
    channelTxnId: o?.channel_txn_id ?? null,
    amount: refund.amount,
    total: o?.amount ?? refund.amount,
    reason: refund.kind === 'card_close' ? '销户退资' : (refund.reason ?? '充值退款').slice(0, 80),
    notifyUrl: deps.payments.notifyUrl(refund.channel),
    // The same request every time it is sent again (UnionPay names a refund by orderId + txnTime).
    requestedAt: refund.created_at,
  };
}

/**
 * Ask the channel to pay a 'requested' refund back (outside any transaction), then apply its
 * answer. Unreachable or an answer we cannot trust: stays 'requested' for the job to ask again.
 * A definite refusal by the provider fails the refund (money back to where it came from).
 */
export async function sendRefundToChannel(deps: PaymentsDeps, refundNo: string, source: RefundEventSource, actor?: Actor): Promise<void> {
  const refund = await getRefundRow(deps.db, refundNo);
  if (refund.status !== 'requested') return;
  const req = await refundRequestOf(deps.db, deps, refund);
  let state: RefundState;
  let failureReason: string | undefined;
  try {
    state = await deps.payments.channel(refund.channel).refund(req);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code !== 'PAYMENT_CHANNEL_REJECTED') {
      deps.logger.warn({ err, refundNo }, 'refund: channel not reached; the refund job will ask again');
      return;
    }
    // A refusal of this request is not proof that no refund exists: an earlier attempt under the
    // same number may have been accepted (the provider now says "already exists" or "in progress"),
    // or the error answer was about something else. Only the provider's own record of the refund
    // (explicitly failed, or never heard of) lets us give the money back.
    const d = (err as { details?: Record<string, unknown> }).details ?? {};
    let found: RefundState;
    try {
      found = await deps.payments.channel(refund.channel).queryRefund(refundNo, req.orderNo, { queryId: refund.channel_refund_id });
    } catch (qerr) {
      deps.logger.warn({ err, qerr, refundNo }, 'refund: refused, and the channel could not be asked about it; the refund job will ask again');
      return;
    }
    if (found.status === 'failed' || found.status === 'not_found') {
      state = { refundNo, status: 'failed', ...(found.channelStatus ? { channelStatus: found.channelStatus } : {}) };
      failureReason = `渠道拒绝退款 / refused by the channel: ${String(d.channelCode ?? '')} ${String(d.channelMessage ?? '')}`.trim();
    } else {
      deps.logger.warn({ err, refundNo, channelStatus: found.status }, 'refund: refused, yet the channel has the refund; following the channel');
      state = found;
    }
  }
  await deps.db.transaction().execute(async (trx) => {
    const locked = await lockRefundByNo(trx, refundNo);
    if (!locked) return;
    const res = await applyRefundState(trx, deps, locked, state, source, actor, { failureReason });
    if (res.outcome === 'rejected') deps.logger.warn({ refundNo, code: res.code }, 'refund: the channel answer was not applied');
  });
}

/** Ask the channel where a refund stands (a 'requested' one is sent again) and apply the answer. */
export async function queryRefundNow(deps: PaymentsDeps, refundNo: string, source: RefundEventSource, actor?: Actor): Promise<Refund> {
  const refund = await getRefundRow(deps.db, refundNo);
  if (refund.status === 'requested') {
    await sendRefundToChannel(deps, refundNo, source, actor);
  } else if (refund.status === 'processing' && isOnline(refund.channel)) {
    const req = await refundRequestOf(deps.db, deps, refund);
    const channel = deps.payments.channel(refund.channel);
    let state = await channel.queryRefund(refundNo, req.orderNo, { queryId: refund.channel_refund_id });
    // The provider never executed it (Alipay: no data for the request): ask again under the same number.
    if (state.status === 'not_found') state = await channel.refund(req);
    await deps.db.transaction().execute(async (trx) => {
      const locked = await lockRefundByNo(trx, refundNo);
      if (locked) await applyRefundState(trx, deps, locked, state, source, actor);
    });
  }
  return getRefund(deps.db, refundNo);
}

export interface ApplyRefundResult {
  outcome: 'applied' | 'duplicate' | 'rejected';
  code?: PaymentsErrorCode;
  refund: RefundRow;
}

/**
 * Apply the channel's view of a refund (its synchronous answer, a notification, a query, a
 * confirmation by finance) to a locked refund. Moves money at most once per refund: the row lock
 * serialises two notifications, the second finds the refund final (duplicate), and the ledger
 * transfer ids derive from the refund's id.
 */
export async function applyRefundState(
  trx: Trx,
  deps: PaymentsDeps,
  refund: RefundRow,
  state: RefundState,
  source: RefundEventSource,
  actor?: Actor,
  opts: { failureReason?: string } = {},
): Promise<ApplyRefundResult> {
  if (state.refundNo !== refund.refund_no) return { outcome: 'rejected', code: 'PAYMENT_REFUND_NOT_FOUND', refund };
  // A provider that has not heard of the refund: the job sends it again; nothing to apply.
  if (state.status === 'not_found') return { outcome: 'duplicate', refund };
  if (state.amount !== undefined && state.amount !== refund.amount) return { outcome: 'rejected', code: 'PAYMENT_NOTIFY_AMOUNT_MISMATCH', refund };
  const staffId = actor?.staffId ?? null;
  const channelRefundId = state.channelRefundId ?? null;

  if (refund.status === 'succeeded' || refund.status === 'failed') {
    if (state.status === refund.status || state.status === 'processing') return { outcome: 'duplicate', refund };
    // Final is final: a contradicting late answer is for a person (and reconciliation) to look at.
    deps.logger.warn({ refundNo: refund.refund_no, status: refund.status, notified: state.status }, 'refund: a final refund was contradicted');
    return { outcome: 'rejected', code: 'PAYMENT_REFUND_STATE', refund };
  }

  const update = async (to: RefundStatus, set: { settle?: string | null; completed?: Date | null; failure?: string | null }): Promise<RefundRow> => {
    const r = await sql<RefundRow>`update payment_refunds set status = ${to},
        channel_refund_id = coalesce(channel_refund_id, ${channelRefundId}),
        settle_transfer_id = coalesce(${set.settle ?? null}::uuid, settle_transfer_id),
        completed_at = ${set.completed ?? null}, failure_reason = coalesce(${set.failure ?? null}, failure_reason), updated_at = now()
      where id = ${refund.id} returning *`.execute(trx);
    await insertEvent(trx, refund.id, refund.status, to, source, staffId, {
      channelStatus: state.channelStatus ?? null,
      ...(channelRefundId ? { channelRefundId } : {}),
      ...(set.failure ? { failureReason: set.failure } : {}),
    });
    return r.rows[0]!;
  };

  if (state.status === 'processing') {
    if (refund.status === 'processing') {
      if (channelRefundId && !refund.channel_refund_id) {
        await sql`update payment_refunds set channel_refund_id = ${channelRefundId}, updated_at = now() where id = ${refund.id}`.execute(trx);
      }
      return { outcome: 'duplicate', refund };
    }
    return { outcome: 'applied', refund: await update('processing', {}) };
  }

  const completedAt = state.completedAt ?? new Date();
  if (state.status === 'succeeded') {
    const payable = refund.kind === 'recharge'
      ? await systemAccount(trx, 'refunds_payable', 'recharge', RECHARGE_PAYABLE_NAME)
      : await systemAccount(trx, 'refunds_payable', 'card_close', CLOSE_PAYABLE_NAME);
    const clearing = await clearingAccount(trx, refund.channel);
    const settle = await transfer(trx, {
      id: uuidFrom(`refund-settle:${refund.id}`),
      debitAccountId: payable.id,
      creditAccountId: clearing.id,
      amount: refund.amount,
      code: 'refund_settled',
      metadata: { refundNo: refund.refund_no, kind: refund.kind, channel: refund.channel },
    });
    if (!settle.ok) throw paymentsError('PAYMENT_REFUND_STATE', { refundNo: refund.refund_no, ledger: settle.code });
    const row = await update('succeeded', { settle: settle.transferId, completed: completedAt });
    const orderId = refund.order_id ?? (await originalOrderId(trx, refund.id));
    // The order counts what went back through its channel, card-close parts included, so no
    // later refund can send the same money back twice.
    if (orderId) await markOrderRefunded(trx, orderId, refund.amount, 'refund', staffId);
    if (refund.card_refund_id) await closeCardRefundIfPaid(trx, refund.card_refund_id);
    if (isStaff(actor)) {
      await audit(trx, actor, { action: 'payment.refund.succeeded', targetType: 'payment_refund', targetId: refund.refund_no, details: { amount: refund.amount, channel: refund.channel, channelRefundId } });
    }
    return { outcome: 'applied', refund: row };
  }

  // failed
  const failure = opts.failureReason ?? `渠道退款失败 / the channel reports the refund failed${state.channelStatus ? ` (${state.channelStatus})` : ''}`;
  let backId: string | null = null;
  if (refund.kind === 'recharge') backId = await returnHeldMoney(trx, refund);
  const row = await update('failed', { settle: backId, completed: completedAt, failure });
  if (isStaff(actor)) {
    await audit(trx, actor, { action: 'payment.refund.failed', targetType: 'payment_refund', targetId: refund.refund_no, details: { amount: refund.amount, channel: refund.channel, failure } });
  }
  return { outcome: 'applied', refund: row };
}

async function originalOrderId(db: Executor, refundId: string): Promise<string | null> {
  const r = await sql<{ order_id: string | null }>`select details->>'orderId' as order_id from payment_refund_events
    where refund_id = ${refundId} and from_status is null order by id limit 1`.execute(db);
  return r.rows[0]?.order_id ?? null;
}

/**
 * A failed recharge refund gives the money back to the card. If the card was closed meanwhile
 * (its account with it), the money joins the card's close payout instead: refunds payable for
 * card close, with a card_refunds row the payout job picks up.
 */
async function returnHeldMoney(trx: Trx, refund: RefundRow): Promise<string> {
  const payable = await systemAccount(trx, 'refunds_payable', 'recharge', RECHARGE_PAYABLE_NAME);
  // A refund of a 'paid' order was held from the channel's clearing account (the card never had
  // the money): it goes back there, and the order stays 'paid' for staff to credit or refund again.
  const held = refund.hold_transfer_id
    ? (await sql<{ debit_account_id: string }>`select debit_account_id from ledger_transfers where id = ${refund.hold_transfer_id}`.execute(trx)).rows[0]
    : undefined;
  if (held && Number(held.debit_account_id) !== Number(refund.account_id)) {
    const back = await transfer(trx, {
      id: uuidFrom(`refund-back:${refund.id}`),
      debitAccountId: payable.id,
      creditAccountId: Number(held.debit_account_id),
      amount: refund.amount,
      code: 'refund_failed',
      metadata: { refundNo: refund.refund_no, toClearing: true },
    });
    if (!back.ok) throw paymentsError('PAYMENT_REFUND_STATE', { refundNo: refund.refund_no, ledger: back.code });
    return back.transferId;
  }
  const [account] = await lockAccounts(trx, [refund.account_id]);
  const id = uuidFrom(`refund-back:${refund.id}`);
  if (account!.status !== 'closed') {
    const back = await transfer(trx, { id, debitAccountId: payable.id, creditAccountId: refund.account_id, amount: refund.amount, code: 'refund_failed', metadata: { refundNo: refund.refund_no } });
    if (!back.ok) throw paymentsError('PAYMENT_REFUND_STATE', { refundNo: refund.refund_no, ledger: back.code });
    return back.transferId;
  }
  const close = await systemAccount(trx, 'refunds_payable', 'card_close', CLOSE_PAYABLE_NAME);
  const moved = await transfer(trx, { id, debitAccountId: payable.id, creditAccountId: close.id, amount: refund.amount, code: 'refund_failed', metadata: { refundNo: refund.refund_no, cardClosed: true } });
  if (!moved.ok) throw paymentsError('PAYMENT_REFUND_STATE', { refundNo: refund.refund_no, ledger: moved.code });
  await sql`insert into card_refunds (id, card_id, account_id, amount, method, transfer_id, status, staff_id)
    values (${moved.transferId}, ${refund.card_id}, ${refund.account_id}, ${refund.amount}, 'original_channel', ${moved.transferId}, 'payable', null)
    on conflict (id) do nothing`.execute(trx);
  return moved.transferId;
}

async function closeCardRefundIfPaid(trx: Trx, cardRefundId: string): Promise<void> {
  await sql`update card_refunds cr set status = 'paid'
    where cr.id = ${cardRefundId} and cr.status = 'payable'
      and cr.amount = (select coalesce(sum(amount), 0) from payment_refunds r where r.card_refund_id = cr.id and r.status = 'succeeded')`.execute(trx);
}

// ── Bank/cash payouts confirmed by finance ───────────────────────────────────────────────────────

async function lockPayout(trx: Trx, refundNo: string): Promise<RefundRow> {
  const refund = await lockRefundByNo(trx, refundNo);
  if (!refund) throw paymentsError('PAYMENT_REFUND_NOT_FOUND', { refundNo });
  // Online channels decide for themselves; only money finance pays out by hand is confirmed by hand.
  if (refund.channel !== 'bank_transfer') throw paymentsError('PAYMENT_REFUND_STATE', { refundNo, channel: refund.channel, reason: 'not a bank payout' });
  if (refund.status !== 'requested' && refund.status !== 'processing') throw paymentsError('PAYMENT_REFUND_STATE', { refundNo, status: refund.status });
  return refund;
}

/** Finance paid a bank payout: record the bank's reference; the money leaves refunds payable. */
export async function confirmBankPayout(deps: PaymentsDeps, actor: Actor, refundNo: string, input: { bankReference: string; payee?: PayeeInput }): Promise<Refund> {
  const bankReference = input.bankReference.replace(/\s+/g, '').toUpperCase();
  await deps.db.transaction().execute(async (trx) => {
    const refund = await lockPayout(trx, refundNo);
    if (!refund.payee && !input.payee) throw paymentsError('PAYMENT_PAYEE_REQUIRED', { field: 'payee' });
    if (input.payee && !refund.payee) {
      await sql`update payment_refunds set payee = ${JSON.stringify(storePayee(deps.config, input.payee))}::jsonb where id = ${refund.id}`.execute(trx);
    }
    const used = await sql`select 1 from payment_refunds where channel = 'bank_transfer' and channel_refund_id = ${bankReference} and id <> ${refund.id}`.execute(trx);
    if (used.rows.length > 0) throw paymentsError('BANK_TRANSFER_DUPLICATE', { field: 'bankReference' });
    const res = await applyRefundState(trx, deps, refund, { refundNo, status: 'succeeded', channelRefundId: bankReference, amount: refund.amount, completedAt: new Date(), channelStatus: 'PAID_OUT' }, 'staff', actor);
    if (res.outcome !== 'applied') throw paymentsError(res.code ?? 'PAYMENT_REFUND_STATE', { refundNo });
  });
  return getRefund(deps.db, refundNo);
}

/**
 * A bank payout bounced (or could not be made): a recharge refund's money goes back to the card;
 * a card-close part stays payable and a new payout may be started for it.
 */
export async function failBankPayout(deps: PaymentsDeps, actor: Actor, refundNo: string, reason: string): Promise<Refund> {
  await deps.db.transaction().execute(async (trx) => {
    const refund = await lockPayout(trx, refundNo);
    const res = await applyRefundState(trx, deps, refund, { refundNo, status: 'failed', channelStatus: 'PAYOUT_FAILED' }, 'staff', actor, { failureReason: reason });
    if (res.outcome !== 'applied') throw paymentsError(res.code ?? 'PAYMENT_REFUND_STATE', { refundNo });
  });
  return getRefund(deps.db, refundNo);
}

// ── Card-close payouts (销户退资) ──────────────────────────────────────────────────────────────────

export interface CardRefundView {
  id: string;
  cardNo: string;
  accountId: number;
  amount: number;
  method: 'cash' | 'original_channel';
  status: 'payable' | 'paid';
  /** Paid back (parts succeeded). */
  paidOut: number;
  /** On its way (parts requested or processing). */
  inFlight: number;
  /** Not yet part of any payout that is still alive: what a new payout would pay. */
  remaining: number;
  parts: Refund[];
  createdAt: string;
}

type CardRefundRow = { id: string; card_id: number; account_id: number; amount: number; method: 'cash' | 'original_channel'; status: 'payable' | 'paid'; created_at: Date; card_no: string; customer_id: number | null; cursor_at: string };

const CARD_REFUND_VIEW = sql`cr.id, cr.card_id, cr.account_id, cr.amount, cr.method, cr.status, cr.created_at, c.card_no, c.customer_id,
  to_char(cr.created_at at time zone 'UTC', ${CURSOR_TIME_FORMAT}) as cursor_at
  from card_refunds cr join cards c on c.id = cr.card_id`;

async function presentCardRefunds(db: Executor, rows: CardRefundRow[]): Promise<CardRefundView[]> {
  if (rows.length === 0) return [];
  const parts = await sql<RefundView>`select ${VIEW} where r.card_refund_id = any(${rows.map((r) => r.id)}::uuid[]) order by r.created_at, r.refund_no`.execute(db);
  return rows.map((cr) => {
    const mine = parts.rows.filter((p) => p.card_refund_id === cr.id);
    const sum = (s: RefundStatus[]) => mine.filter((p) => s.includes(p.status)).reduce((t, p) => t + p.amount, 0);
    return {
      id: cr.id,
      cardNo: cr.card_no,
      accountId: cr.account_id,
      amount: cr.amount,
      method: cr.method,
      status: cr.status,
      paidOut: sum(['succeeded']),
      inFlight: sum(['requested', 'processing']),
      remaining: cr.status === 'paid' ? 0 : cr.amount - sum(['succeeded', 'requested', 'processing']),
      parts: mine.map(presentRefund),
      createdAt: cr.created_at.toISOString(),
    };
  });
}

export async function getCardRefund(db: Executor, id: string): Promise<CardRefundView> {
  const r = await sql<CardRefundRow>`select ${CARD_REFUND_VIEW} where cr.id = ${id}`.execute(db);
  if (!r.rows[0]) throw paymentsError('PAYMENT_REFUND_NOT_FOUND', { cardRefundId: id });
  return (await presentCardRefunds(db, r.rows))[0]!;
}

export async function listCardRefunds(
  db: Executor,
  f: { status?: 'payable' | 'paid'; limit: number; cursor?: { at: string; id: string } | null },
): Promise<{ items: CardRefundView[]; nextCursor: string | null }> {
  const conds = [sql`cr.method = 'original_channel'`];
  if (f.status) conds.push(sql`cr.status = ${f.status}`);
  if (f.cursor) conds.push(sql`(cr.created_at, cr.id) < (${f.cursor.at}::timestamptz, ${f.cursor.id}::uuid)`);
  const r = await sql<CardRefundRow>`select ${CARD_REFUND_VIEW} where ${sql.join(conds, sql` and `)} order by cr.created_at desc, cr.id desc limit ${f.limit + 1}`.execute(db);
  const rows = r.rows.slice(0, f.limit);
  const last = rows[rows.length - 1];
  return { items: await presentCardRefunds(db, rows), nextCursor: r.rows.length > f.limit && last ? encodeCursor(last.cursor_at, last.id) : null };
}

/**
 * Start paying out a closed card's balance: split what is not yet on its way across the
 * account's credited orders of channels that can pay back (newest first, each up to what it can
 * still refund), skipping orders whose part already failed for this payout; whatever is left
 * becomes one bank transfer payout for finance. Nothing moves in the ledger here: the close
 * already moved the balance to refunds payable.
 */
export async function startCardClosePayout(deps: PaymentsDeps, actor: Actor, cardRefundId: string, source: RefundEventSource): Promise<CardRefundView> {
  const refundNos = await deps.db.transaction().execute(async (trx) => {
    const r = await sql<CardRefundRow>`select ${CARD_REFUND_VIEW} where cr.id = ${cardRefundId} for update of cr`.execute(trx);
    const cr = r.rows[0];
    if (!cr) throw paymentsError('PAYMENT_REFUND_NOT_FOUND', { cardRefundId });
    if (cr.method !== 'original_channel' || cr.status !== 'payable') throw paymentsError('PAYMENT_REFUND_STATE', { cardRefundId, status: cr.status, method: cr.method });
    const alive = await sql<{ s: number }>`select coalesce(sum(amount), 0)::bigint s from payment_refunds
      where card_refund_id = ${cr.id} and status <> 'failed'`.execute(trx);
    let remaining = cr.amount - Number(alive.rows[0]!.s);
    if (remaining <= 0) throw paymentsError('PAYMENT_REFUND_STATE', { cardRefundId, reason: 'already on its way' });
    const failedOrders = await sql<{ order_no: string }>`select distinct e.details->>'orderNo' as order_no from payment_refunds r
      join payment_refund_events e on e.refund_id = r.id and e.from_status is null
      where r.card_refund_id = ${cr.id} and r.status = 'failed' and e.details ? 'orderNo'`.execute(trx);
    const skip = new Set(failedOrders.rows.map((x) => x.order_no));
    const orders = await sql<OrderRow>`select * from recharge_orders where account_id = ${cr.account_id} and status = 'credited'
      and channel = any(${[...PAYOUT_CHANNELS]}::text[]) order by paid_at desc, created_at desc for update`.execute(trx);
    const parts: Array<{ channel: ChannelCode; amount: number; order: OrderRow | null }> = [];
    for (const o of orders.rows) {
      if (remaining === 0) break;
      if (skip.has(o.order_no)) continue;
      const can = await refundableOf(trx, o);
      if (can <= 0) continue;
      const take = Math.min(can, remaining);
      parts.push({ channel: o.channel, amount: take, order: o });
      remaining -= take;
    }
    if (remaining > 0) parts.push({ channel: 'bank_transfer', amount: remaining, order: null });

    const nos: string[] = [];
    for (const p of parts) {
      const id = randomUUID();
      const refundNo = await nextRefundNo(trx, deps.config);
      const reason = p.order ? `销户退资，原路退回订单 ${p.order.order_no} / card close payout via order ${p.order.order_no}` : '销户退资，银行转账 / card close payout by bank transfer';
      await sql`insert into payment_refunds (id, refund_no, kind, card_refund_id, card_id, account_id, channel, amount, status, reason, staff_id, customer_id)
        values (${id}, ${refundNo}, 'card_close', ${cr.id}, ${cr.card_id}, ${cr.account_id}, ${p.channel}, ${p.amount}, 'requested', ${reason},
          ${actor.staffId}, ${cr.customer_id})`.execute(trx);
      await insertEvent(trx, id, null, 'requested', source, actor.staffId, {
        cardRefundId: cr.id,
        amount: p.amount,
        ...(p.order ? { orderNo: p.order.order_no, orderId: p.order.id } : { remainder: true }),
      });
      nos.push(refundNo);
    }
    if (isStaff(actor)) {
      await audit(trx, actor, { action: 'payment.card_close.payout', targetType: 'card', targetId: maskCardNo(cr.card_no), details: { cardRefundId: cr.id, parts: nos } });
    }
    return nos;
  });
  for (const no of refundNos) await sendRefundToChannel(deps, no, source, actor);
  return getCardRefund(deps.db, cardRefundId);
}

/** The payout job: every card-close refund payable through the original channel that has no payout yet. */
export async function payOutCardCloseRefunds(deps: PaymentsDeps, limit = 20): Promise<number> {
  const due = await sql<{ id: string }>`select cr.id from card_refunds cr
    where cr.status = 'payable' and cr.method = 'original_channel'
      and not exists (select 1 from payment_refunds r where r.card_refund_id = cr.id)
    order by cr.created_at limit ${limit}`.execute(deps.db);
  let started = 0;
  for (const { id } of due.rows) {
    try {
      await startCardClosePayout(deps, systemActor, id, 'job');
      started++;
    } catch (err) {
      // Another process started it meanwhile (PAYMENT_REFUND_STATE), or one card's trouble: the rest still go.
      if ((err as { code?: string }).code !== 'PAYMENT_REFUND_STATE') deps.logger.warn({ err, cardRefundId: id }, 'card close payout could not start');
    }
  }
  return started;
}
