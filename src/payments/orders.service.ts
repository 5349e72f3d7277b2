import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Actor, Config, Db, Executor, Trx } from '../platform/index.js';
import { AppError, audit, businessDay, maskCardNo, pgConstraint, pgErrorCode, PgCode, publish, runIdempotent } from '../platform/index.js';
import { getAccounts, systemAccount, transfer, uuidFrom, type Account } from '../ledger/index.js';
import { CAPABILITIES, requireLockedCard, type CardRow } from '../cards/index.js';
import { CHANNEL_METHODS, ONLINE_CHANNELS, type ChannelCode, type PaymentMethod, type PaymentPayload, type PaymentState, type QueryContext } from './channel.js';
import { paymentsError, type PaymentsErrorCode } from './payments.errors.js';
import type { PaymentsRuntime } from './runtime.js';
import { canTransition, isOpen, isPaid, type OrderStatus } from './orders.state.js';
import {
  findOrderByNo,
  findOrderView,
  freshPayerCode,
  insertOrder,
  insertOrderEvent,
  lockOrderById,
  lockOrderByNo,
  nextOrderNo,
  updateOrder,
  type OrderChange,
  type OrderEventSource,
  type OrderOrigin,
  type OrderRow,
  type OrderView,
} from './orders.repository.js';

export { lockOrderByNo, findOrderByNo, type OrderRow, type OrderEventSource, type OrderOrigin, type OrderView } from './orders.repository.js';

export type PaymentsDeps = { db: Db; config: Config; payments: PaymentsRuntime; logger: Logger };

/** The API shape of an order (staff and the card's own cardholder see the full card number). */
export interface RechargeOrder {
  orderNo: string;
  cardNo: string;
  accountId: number;
  amount: number;
  channel: ChannelCode;
  method: PaymentMethod;
  origin: OrderOrigin;
  status: OrderStatus;
  payload: PaymentPayload;
  payerCode: string | null;
  channelTxnId: string | null;
  /** The provider's order number when it is not ours (a payment found only on the statement). */
  channelOrderNo: string | null;
  paidAmount: number | null;
  paidAt: string | null;
  receiptNo: string | null;
  refundedAmount: number;
  expiresAt: string;
  closeReason: string | null;
  note: string | null;
  createdAt: string;
  updatedAt: string;
}

export function presentOrder(row: OrderRow & { card_no: string; receipt_no?: string | null }): RechargeOrder {
  return {
    orderNo: row.order_no,
    cardNo: row.card_no,
    accountId: row.account_id,
    amount: row.amount,
    channel: row.channel,
    method: row.method,
    origin: row.origin,
    status: row.status,
    payload: row.channel_payload ?? {},
    payerCode: row.payer_code,
    channelTxnId: row.channel_txn_id,
    channelOrderNo: row.channel_order_no ?? null,
    paidAmount: row.paid_amount,
    paidAt: row.paid_at ? row.paid_at.toISOString() : null,
    receiptNo: row.receipt_no ?? null,
    refundedAmount: row.refunded_amount,
    expiresAt: row.expires_at.toISOString(),
    closeReason: row.close_reason,
    note: row.note,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

export async function requireOrderView(db: Executor, orderNo: string): Promise<OrderView> {
  const v = await findOrderView(db, orderNo);
  if (!v) throw paymentsError('PAYMENT_ORDER_NOT_FOUND', { orderNo });
  return v;
}

const CLEARING_NAMES: Readonly<Record<ChannelCode, string>> = {
  cash: '现金清算',
  bank_transfer: '银行转账清算',
  wechat: '微信支付清算',
  alipay: '支付宝清算',
  unionpay: '银联清算',
};

/** The channel's clearing account (channel_clearing:<channel>): money the channel holds for us. */
export function clearingAccount(db: Executor, channel: ChannelCode): Promise<Account> {
  return systemAccount(db, 'channel_clearing', channel, CLEARING_NAMES[channel]);
}

export const isOnline = (c: ChannelCode): boolean => (ONLINE_CHANNELS as readonly string[]).includes(c);

async function transition(
  trx: Trx,
  order: OrderRow,
  to: OrderStatus,
  change: OrderChange,
  source: OrderEventSource,
  actor: Actor | undefined,
  details: Record<string, unknown> = {},
): Promise<OrderRow> {
  if (!canTransition(order.status, to)) throw paymentsError('PAYMENT_ORDER_STATE', { orderNo: order.order_no, status: order.status, to });
  const row = await updateOrder(trx, order.id, { ...change, status: to });
  await insertOrderEvent(trx, { orderId: order.id, from: order.status, to, source, staffId: actor?.staffId ?? null, details });
  return row;
}

async function cardNoOf(db: Executor, cardId: number): Promise<string> {
  const r = await sql<{ card_no: string }>`select card_no from cards where id = ${cardId}`.execute(db);
  return r.rows[0]!.card_no;
}

interface CreditOptions {
  /** What the receipt records as reference: the bank reference, or a cashier's note on cash. Default: the bank transaction id for bank transfers, else none. */
  reference?: string | null;
  /** When it happened (demo history only). */
  at?: Date;
  auditAction?: string;
}

export interface CreditResult {
  order: OrderRow;
  credited: boolean;
  /** Why the card could not take it (order stays 'paid'). */
  reason?: string;
  recharge?: { id: string; receiptNo: string; accountBalance: number; card: CardRow };
}

/**
 * Credit a paid order to its card: clearing → card account, the receipt, the order to
 * 'credited', the event — all in the caller's transaction, with the order locked. The transfer
 * id derives from the order, so even a second attempt that got past the lock could not move the
 * money twice. A card that cannot take money now leaves the order 'paid' with a note for staff.
 */
async function creditPaidOrder(trx: Trx, config: Config, order: OrderRow, source: OrderEventSource, actor: Actor | undefined, opts: CreditOptions = {}): Promise<CreditResult> {
  const card = await requireLockedCard(trx, await cardNoOf(trx, order.card_id));
  const refuse = async (reason: string, note: string): Promise<CreditResult> => {
    const row = await updateOrder(trx, order.id, { note });
    await insertOrderEvent(trx, { orderId: order.id, from: order.status, to: order.status, source, staffId: actor?.staffId ?? null, details: { notCredited: reason } });
    return { order: row, credited: false, reason };
  };
  if (!CAPABILITIES[card.status].recharge) {
    return refuse(`card_${card.status}`, `卡状态为 ${card.status}，款项暂未入账，待人工入账或退款 / The card is ${card.status}: the money waits for staff to credit or refund it`);
  }
  if (!card.account_ids.includes(order.account_id)) {
    return refuse('account_not_linked', '账户已不再关联此卡，款项暂未入账 / The account is no longer linked to the card: the money waits for staff');
  }
  const clearing = await clearingAccount(trx, order.channel);
  const id = await creditTransferId(trx, order.id);
  const reference = opts.reference !== undefined ? opts.reference : order.channel === 'bank_transfer' ? order.channel_txn_id : null;
  const res = await transfer(trx, {
    id,
    debitAccountId: clearing.id,
    creditAccountId: order.account_id,
    amount: order.amount,
    code: 'recharge',
    metadata: { cardId: card.id, channel: order.channel, orderNo: order.order_no, reference },
  });
  if (!res.ok) return refuse(res.code, `账务拒绝入账（${res.code}），待人工处理 / The ledger refused the credit (${res.code})`);
  const day = businessDay(opts.at ?? new Date(), config.timeZone).replaceAll('-', '');
  let receiptNo: string;
  try {
    const r = await sql<{ receipt_no: string }>`insert into recharges (id, receipt_no, card_id, account_id, amount, channel, reference, staff_id, transfer_id, balance_after, order_id, created_at)
      values (${id}, 'R' || ${day} || lpad(nextval('recharge_receipt_seq')::text, 8, '0'), ${card.id}, ${order.account_id}, ${order.amount},
              ${order.channel}, ${reference}, ${actor?.staffId ?? null}, ${res.transferId}, ${res.creditBalanceAfter}, ${order.id}, ${opts.at ?? sql`now()`})
      returning receipt_no`.execute(trx);
    receiptNo = r.rows[0]!.receipt_no;
  } catch (err) {
    if (pgErrorCode(err) === PgCode.uniqueViolation && pgConstraint(err) === 'recharges_bank_reference') throw paymentsError('RECHARGE_REFERENCE_USED', { field: 'reference' });
    throw err;
  }
  const row = await transition(trx, order, 'credited', { recharge_id: id }, source, actor, { receiptNo, transferId: res.transferId });
  if (actor) {
    await audit(trx, actor, {
      action: opts.auditAction ?? 'recharge.order.credit',
      targetType: 'card',
      targetId: maskCardNo(card.card_no),
      details: { orderNo: order.order_no, receiptNo, amount: order.amount, channel: order.channel, reference },
    });
  }
  await publish(trx, 'recharge.completed', String(card.id), {
    rechargeId: id,
    receiptNo,
    cardId: card.id,
    accountId: order.account_id,
    amount: order.amount,
    channel: order.channel,
    orderNo: order.order_no,
  });
  return { order: row, credited: true, recharge: { id, receiptNo, accountBalance: res.creditBalanceAfter ?? 0, card } };
}

/**
 * The ledger keeps a refused transfer id refused for good, so a credit the ledger refused once
 * (an account closed for a while) must try again under a new id. Each refusal is recorded on the
 * order's trail ('notCredited'), so attempt n has its own id and a retry of attempt n (same
 * trail) still gets the same id: never two credits, never a refusal that blocks forever.
 * The first attempt keeps the plain 'order-credit:<id>' name.
 */
async function creditTransferId(trx: Trx, orderId: string): Promise<string> {
  const r = await sql<{ n: number }>`select count(*)::int as n from recharge_order_events where order_id = ${orderId} and details ? 'notCredited'`.execute(trx);
  const attempt = r.rows[0]!.n;
  return uuidFrom(attempt === 0 ? `order-credit:${orderId}` : `order-credit:${orderId}:${attempt}`);
}

/**
 * One channel payment at a time: a write-off and a credit of the same payment (a late
 * notification, a bank match, the counter) take this lock first, so the second to come sees what
 * the first committed — never both. Held to the end of the transaction.
 */
export async function lockChannelPayment(trx: Trx, channel: ChannelCode, channelTxnId: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(7402, hashtext(${`${channel}\n${channelTxnId}`}))`.execute(trx);
}

/** Whether reconciliation wrote this channel payment off (it may then never credit a card). Takes the payment's lock. */
export async function isWrittenOff(trx: Trx, channel: ChannelCode, channelTxnId: string): Promise<boolean> {
  await lockChannelPayment(trx, channel, channelTxnId);
  const r = await sql`select 1 from payment_write_offs where channel = ${channel} and channel_txn_id = ${channelTxnId}`.execute(trx);
  return r.rows.length > 0;
}

/**
 * Reconciliation wrote a channel payment off (its ledger side is the caller's): remember it, so
 * the payment turning up again later (a late notification, a query, a bank match, a credit by
 * hand) cannot also credit a card. Once per channel payment.
 */
export async function recordChannelWriteOff(
  trx: Trx,
  input: { channel: ChannelCode; channelTxnId: string; amount: number; reconItemId: number; note: string; staffId: number | null },
): Promise<void> {
  await lockChannelPayment(trx, input.channel, input.channelTxnId);
  const r = await sql`insert into payment_write_offs (channel, channel_txn_id, amount, recon_item_id, note, staff_id)
    values (${input.channel}, ${input.channelTxnId}, ${input.amount}, ${input.reconItemId}, ${input.note}, ${input.staffId})
    on conflict (channel, channel_txn_id) do nothing returning id`.execute(trx);
  if (r.rows.length === 0) throw paymentsError('PAYMENT_WRITTEN_OFF', { channel: input.channel, channelTxnId: input.channelTxnId });
}

/** The order to 'paid' with the channel's record of the payment. */
async function markPaid(
  trx: Trx,
  order: OrderRow,
  p: { channelTxnId: string | null; amount: number; paidAt: Date; settleDate?: string | null; channelStatus?: string },
  source: OrderEventSource,
  actor: Actor | undefined,
): Promise<OrderRow> {
  return transition(
    trx,
    order,
    'paid',
    { channel_txn_id: p.channelTxnId, paid_amount: p.amount, paid_at: p.paidAt, channel_settle_date: p.settleDate ?? null },
    source,
    actor,
    { channelTxnId: p.channelTxnId, amount: p.amount, channelStatus: p.channelStatus ?? null, ...(order.status === 'closed' || order.status === 'failed' ? { afterClose: true } : {}) },
  );
}

export interface ApplyResult {
  outcome: 'applied' | 'duplicate' | 'rejected';
  code?: PaymentsErrorCode;
  details?: Record<string, unknown>;
  order: OrderRow;
}

/**
 * Apply the channel's view of a payment (a notification, a query, a statement line, a matched
 * bank transfer) to a locked order. Credits exactly once, in `trx`: the order row lock serialises
 * two notifications of one payment, and the second finds the order credited (duplicate).
 */
export async function applyPaymentState(trx: Trx, deps: PaymentsDeps, order: OrderRow, state: PaymentState, source: OrderEventSource, actor?: Actor): Promise<ApplyResult> {
  // A payment credited by reconciliation is known to the provider by its own order number.
  if (state.orderNo !== order.order_no && (!order.channel_order_no || state.orderNo !== order.channel_order_no)) {
    return { outcome: 'rejected', code: 'PAYMENT_NOTIFY_UNKNOWN_ORDER', order };
  }
  switch (state.status) {
    case 'paying':
      return { outcome: 'duplicate', order };
    case 'closed':
    case 'failed':
    case 'not_found': {
      if (!isOpen(order.status)) return { outcome: 'duplicate', order };
      // A channel that has not heard of the order yet (create still in flight) is no reason to give up before the order expires.
      if (state.status === 'not_found' && order.expires_at.getTime() > Date.now()) return { outcome: 'duplicate', order };
      const to: OrderStatus = state.status === 'failed' ? 'failed' : 'closed';
      const row = await transition(trx, order, to, { close_reason: `channel_${state.status}` }, source, actor, { channelStatus: state.channelStatus ?? null });
      return { outcome: 'applied', order: row };
    }
    case 'paid':
      break;
  }
  if (state.amount === undefined || state.amount !== order.amount) {
    return { outcome: 'rejected', code: 'PAYMENT_NOTIFY_AMOUNT_MISMATCH', details: { expected: order.amount, notified: state.amount ?? null }, order };
  }
  const txn = state.channelTxnId ?? null;
  if (isPaid(order.status)) {
    if (txn === null || order.channel_txn_id === null || txn === order.channel_txn_id) return { outcome: 'duplicate', order };
    // A second payment of the same order (the payer paid twice): nothing credits it here; reconciliation
    // reports it as DUPLICATE and finance refunds it. Recorded once on the order's trail.
    const seen = await sql`select 1 from recharge_order_events where order_id = ${order.id} and details->>'doublePaymentTxnId' = ${txn}`.execute(trx);
    if (seen.rows.length === 0) {
      await insertOrderEvent(trx, { orderId: order.id, from: order.status, to: order.status, source, staffId: actor?.staffId ?? null, details: { doublePaymentTxnId: txn, amount: state.amount } });
    }
    return { outcome: 'duplicate', details: { doublePayment: true, channelTxnId: txn }, order };
  }
  if (txn !== null && (await isWrittenOff(trx, order.channel, txn))) {
    return { outcome: 'rejected', code: 'PAYMENT_WRITTEN_OFF', details: { channelTxnId: txn }, order };
  }
  if (txn !== null) {
    const other = await sql<{ order_no: string }>`select order_no from recharge_orders where channel = ${order.channel} and channel_txn_id = ${txn} and id <> ${order.id}`.execute(trx);
    if (other.rows.length > 0) return { outcome: 'rejected', code: 'PAYMENT_NOTIFY_REPLAYED', details: { channelTxnId: txn, otherOrderNo: other.rows[0]!.order_no }, order };
  }
  const paid = await markPaid(trx, order, { channelTxnId: txn, amount: state.amount, paidAt: state.paidAt ?? new Date(), settleDate: state.settleDate ?? null, channelStatus: state.channelStatus }, source, actor);
  const credit = await creditPaidOrder(trx, deps.config, paid, source, actor);
  return { outcome: 'applied', order: credit.order };
}

// ── Creating orders ──────────────────────────────────────────────────────────────────────────────

export interface CreateOrderInput {
  cardNo: string;
  amount: number;
  channel: ChannelCode;
  method?: PaymentMethod;
  accountId?: number;
  origin: OrderOrigin;
  customerId?: number | null;
  payer?: { openId?: string; clientIp?: string };
  /** Where a page payment sends the payer back (portal: the order's page). */
  returnUrl?: (orderNo: string) => string;
}

/**
 * Top-up limits, checked when an order is created (not when it is credited: money that arrived
 * is the payer's and is always taken). The card row is locked, so concurrent orders of one card
 * are counted one after the other.
 */
async function checkLimits(trx: Trx, config: Config, card: CardRow, amount: number): Promise<void> {
  if (amount > config.topupOrderMax) throw paymentsError('PAYMENT_ORDER_LIMIT', { field: 'amount', max: config.topupOrderMax });
  const day = businessDay(new Date(), config.timeZone);
  const r = await sql<{ total: number }>`select coalesce(sum(amount), 0)::bigint as total from recharge_orders
    where card_id = ${card.id} and status not in ('closed', 'failed')
      and created_at >= (${day}::date::timestamp at time zone ${config.timeZone})
      and created_at < ((${day}::date + 1)::timestamp at time zone ${config.timeZone})`.execute(trx);
  const today = r.rows[0]!.total;
  if (today + amount > config.topupDayMax) throw paymentsError('PAYMENT_DAY_LIMIT', { field: 'amount', max: config.topupDayMax, used: today });
  if (card.kind === 'anonymous') {
    const balance = (await getAccounts(trx, card.account_ids)).reduce((s, a) => s + a.balance, 0);
    const open = await sql<{ total: number }>`select coalesce(sum(amount), 0)::bigint as total from recharge_orders
      where card_id = ${card.id} and status in ('created', 'paying', 'paid')`.execute(trx);
    const pending = open.rows[0]!.total;
    if (balance + pending + amount > config.anonymousBalanceCap) {
      throw paymentsError('PAYMENT_BALANCE_CAP', { field: 'amount', cap: config.anonymousBalanceCap, balance, pending });
    }
  }
}

/** Card checks, limits and the order row ('created') with its first event, in `trx`. */
async function openOrder(
  trx: Trx,
  config: Config,
  actor: Actor,
  input: CreateOrderInput & { method: PaymentMethod },
  opts: { limits: boolean; at?: Date; note?: string | null; source?: OrderEventSource },
): Promise<{ order: OrderRow; card: CardRow }> {
  const card = await requireLockedCard(trx, input.cardNo);
  if (!CAPABILITIES[card.status].recharge) throw paymentsError('RECHARGE_NOT_ALLOWED', { status: card.status });
  const accountId = input.accountId ?? card.account_ids[0]!;
  if (!card.account_ids.includes(accountId)) throw paymentsError('RECHARGE_ACCOUNT_NOT_LINKED', { field: 'accountId' });
  if (opts.limits) await checkLimits(trx, config, card, input.amount);
  const now = opts.at ?? new Date();
  const ttl = input.channel === 'bank_transfer' ? config.bankTransferOrderTtlMs : config.paymentOrderTtlMs;
  const order = await insertOrder(trx, {
    id: randomUUID(),
    orderNo: await nextOrderNo(trx, businessDay(now, config.timeZone)),
    cardId: card.id,
    accountId,
    amount: input.amount,
    channel: input.channel,
    method: input.method,
    origin: input.origin,
    customerId: input.customerId ?? null,
    staffId: actor.staffId,
    payerCode: input.channel === 'bank_transfer' ? await freshPayerCode(trx) : null,
    expiresAt: new Date(now.getTime() + ttl),
    subject: '加油卡充值',
    note: opts.note ?? null,
    createdAt: opts.at ?? null,
  });
  await insertOrderEvent(trx, { orderId: order.id, from: null, to: 'created', source: opts.source ?? input.origin, staffId: actor.staffId, details: { amount: input.amount, channel: input.channel, method: input.method } });
  return { order, card };
}

export function resolveMethod(channel: ChannelCode, method: PaymentMethod | undefined, payer?: { openId?: string }): PaymentMethod {
  const methods = CHANNEL_METHODS[channel];
  const m = method ?? methods[0]!;
  if (!methods.includes(m)) throw paymentsError('PAYMENT_METHOD_NOT_SUPPORTED', { field: 'method', channel, method: m, methods });
  if (m === 'jsapi' && !payer?.openId) throw paymentsError('PAYMENT_METHOD_NOT_SUPPORTED', { field: 'payer.openId', method: m, reason: 'JSAPI needs the payer’s openid' });
  return m;
}

/**
 * Create a recharge order. Cash is taken at the counter: the order is credited at once, in one
 * transaction. A bank transfer order waits for the transfer (payer code + account to pay to).
 * An online order: trx1 records it ('created', limits checked, Idempotency-Key stored), the
 * provider is asked outside any transaction, trx2 stores what the payer needs ('paying') — or
 * 'failed' when the provider refused or could not be reached. A retry with the same key finds
 * the order and, if the provider was never answered, asks again with the same order number
 * (the providers treat one out_trade_no as one payment).
 */
export async function createOrder(
  deps: PaymentsDeps,
  actor: Actor,
  input: CreateOrderInput,
  idem: { scope: string; key: string | undefined; request: unknown },
): Promise<RechargeOrder> {
  const channel = deps.payments.channel(input.channel);
  const method = resolveMethod(input.channel, input.method, input.payer);
  const limits = input.channel !== 'cash';
  const first = await runIdempotent<{ orderNo: string }>(deps.db, idem.scope, idem.key, idem.request, async (trx) => {
    const { order } = await openOrder(trx, deps.config, actor, { ...input, method }, { limits });
    const source: OrderEventSource = input.origin;
    if (input.channel === 'cash') {
      const paid = await markPaid(trx, order, { channelTxnId: null, amount: order.amount, paidAt: new Date() }, source, actor);
      const c = await creditPaidOrder(trx, deps.config, paid, source, actor, { auditAction: 'recharge.counter' });
      if (!c.credited) throw paymentsError('RECHARGE_NOT_ALLOWED', { reason: c.reason });
    } else if (input.channel === 'bank_transfer') {
      // Nothing to ask a provider: the payer needs our account and the code to write on the transfer.
      const bank = deps.payments.credentials.bank;
      const payload: PaymentPayload = { transfer: { bankName: bank.bankName, accountName: bank.accountName, accountNo: bank.accountNo, payerCode: order.payer_code! } };
      await transition(trx, order, 'paying', { channel_payload: payload }, source, actor);
    }
    if (actor.staffId !== null) {
      await audit(trx, actor, { action: 'recharge.order.create', targetType: 'recharge_order', targetId: order.order_no, details: { amount: order.amount, channel: order.channel, method } });
    }
    return { status: 201, body: { orderNo: order.order_no } };
  });
  const orderNo = first.body.orderNo;
  const order = (await findOrderByNo(deps.db, orderNo))!;
  if (order.status === 'failed' && first.replayed && order.close_reason && order.close_reason in paymentsError.table) {
    throw paymentsError(order.close_reason as PaymentsErrorCode, { orderNo });
  }
  if (order.status === 'created' && isOnline(order.channel)) {
    let payload: PaymentPayload;
    try {
      payload = await channel.createPayment({
        orderNo,
        amount: order.amount,
        subject: order.subject,
        method,
        expiresAt: order.expires_at,
        notifyUrl: deps.payments.notifyUrl(order.channel),
        ...(input.returnUrl ? { returnUrl: input.returnUrl(orderNo) } : {}),
        ...(input.payer ? { payer: input.payer } : {}),
      });
    } catch (err) {
      if (err instanceof AppError && err.code.startsWith('PAYMENT_CHANNEL_')) {
        await deps.db.transaction().execute(async (trx) => {
          const locked = (await lockOrderByNo(trx, orderNo))!;
          if (locked.status !== 'created') return;
          await transition(trx, locked, 'failed', { close_reason: err.code, note: channelNote(err) }, input.origin, actor, { code: err.code, ...(err.details ?? {}) });
        });
        throw err;
      }
      // Not the provider's answer (a bug, a crash): the order stays 'created'; the close job asks the provider later.
      throw err;
    }
    await deps.db.transaction().execute(async (trx) => {
      const locked = (await lockOrderByNo(trx, orderNo))!;
      // A notification may have beaten us here (the payer was quick): keep its state, still store the payload.
      if (locked.status !== 'created') return updateOrder(trx, locked.id, { channel_payload: payload });
      return transition(trx, locked, 'paying', { channel_payload: payload }, input.origin, actor);
    });
  }
  return presentOrder(await requireOrderView(deps.db, orderNo));
}

function channelNote(err: AppError): string {
  const d = err.details ?? {};
  const parts = [err.message, d.channelCode ? `channelCode=${String(d.channelCode)}` : '', d.channelMessage ? `channelMessage=${String(d.channelMessage)}` : ''];
  return parts.filter(Boolean).join(' ').slice(0, 500);
}

/**
 * 柜台充值 through an order: cash, or a bank transfer whose bank reference the cashier sees (the
 * money has arrived). Runs in the caller's transaction. Counter money is not held to the online
 * top-up limits: the cashier has the money in hand.
 */
export async function counterCredit(
  trx: Trx,
  config: Config,
  actor: Actor,
  input: { cardNo: string; amount: number; channel: 'cash' | 'bank_transfer'; reference: string | null; accountId?: number },
  at?: Date,
): Promise<{ order: OrderRow; receiptNo: string; rechargeId: string; accountBalance: number; card: CardRow }> {
  const method: PaymentMethod = input.channel === 'cash' ? 'counter' : 'transfer';
  // A transfer reconciliation wrote off is the programme's: the counter may not credit it to a card.
  if (input.channel === 'bank_transfer' && input.reference !== null && (await isWrittenOff(trx, 'bank_transfer', input.reference))) {
    throw paymentsError('PAYMENT_WRITTEN_OFF', { field: 'reference', channel: 'bank_transfer' });
  }
  const { order } = await openOrder(trx, config, actor, { cardNo: input.cardNo, amount: input.amount, channel: input.channel, method, origin: 'counter', ...(input.accountId !== undefined ? { accountId: input.accountId } : {}) }, {
    limits: false,
    ...(at ? { at } : {}),
    note: input.channel === 'cash' ? input.reference : null,
  });
  let paid: OrderRow;
  try {
    paid = await markPaid(trx, order, { channelTxnId: input.channel === 'bank_transfer' ? input.reference : null, amount: order.amount, paidAt: at ?? new Date() }, 'counter', actor);
  } catch (err) {
    // The same bank reference on another order: that transfer was credited already.
    if (pgErrorCode(err) === PgCode.uniqueViolation && pgConstraint(err) === 'recharge_orders_channel_txn') throw paymentsError('RECHARGE_REFERENCE_USED', { field: 'reference' });
    throw err;
  }
  const c = await creditPaidOrder(trx, config, paid, 'counter', actor, { reference: input.reference, ...(at ? { at } : {}), auditAction: 'recharge.counter' });
  if (!c.credited || !c.recharge) throw paymentsError('RECHARGE_NOT_ALLOWED', { reason: c.reason });
  return { order: c.order, receiptNo: c.recharge.receiptNo, rechargeId: c.recharge.id, accountBalance: c.recharge.accountBalance, card: c.recharge.card };
}

// ── Asking the channel, closing, crediting by hand ───────────────────────────────────────────────

/** When each order was last asked about (this process): the portal's poll asks at most every 5 s. */
const lastQueried = new Map<string, number>();
export function queriedWithin(orderNo: string, ms: number): boolean {
  const at = lastQueried.get(orderNo);
  return at !== undefined && Date.now() - at < ms;
}
function noteQueried(orderNo: string): void {
  const now = Date.now();
  if (lastQueried.size > 10_000) for (const [k, t] of lastQueried) if (now - t > 60_000) lastQueried.delete(k);
  lastQueried.set(orderNo, now);
}

/** The order number the provider knows: ours, or the provider's own for a payment reconciliation credited. */
export function providerOrderNo(order: Pick<OrderRow, 'order_no' | 'channel_order_no'>): string {
  return order.channel_order_no ?? order.order_no;
}

/** What a provider may need besides the order number to find the payment (UnionPay: the original txnTime in the payload, queryId). */
export function queryContext(order: Pick<OrderRow, 'channel_payload' | 'channel_txn_id'>): QueryContext {
  return { payload: order.channel_payload, queryId: order.channel_txn_id };
}

/** Ask the channel (outside any transaction), then apply its answer to the locked order. */
export async function queryOrder(deps: PaymentsDeps, orderNo: string, source: OrderEventSource, actor?: Actor): Promise<ApplyResult> {
  const order = await findOrderByNo(deps.db, orderNo);
  if (!order) throw paymentsError('PAYMENT_ORDER_NOT_FOUND', { orderNo });
  if (!isOnline(order.channel)) return { outcome: 'duplicate', order };
  noteQueried(orderNo);
  const state = await deps.payments.channel(order.channel).queryPayment(providerOrderNo(order), queryContext(order));
  return deps.db.transaction().execute(async (trx) => {
    const locked = (await lockOrderByNo(trx, orderNo))!;
    const r = await applyPaymentState(trx, deps, locked, state, source, actor);
    if (r.outcome === 'rejected') deps.logger.warn({ orderNo, code: r.code, details: r.details }, 'channel query answer refused');
    return r;
  });
}

/**
 * Close an unpaid order: ask the channel first (a payment found is credited instead), close it at
 * the provider so it can no longer be paid, then mark it closed. A provider that never saw the
 * order (Alipay before the QR code is scanned, UnionPay before the payer's page) is still told
 * to close, in case the payer is about to pay; its refusal then is no reason to keep the order
 * open. Bank transfer orders have no provider: they just close (a transfer arriving later is
 * still matched by finance: closed → paid).
 */
export async function closeOpenOrder(
  deps: PaymentsDeps,
  orderNo: string,
  source: OrderEventSource,
  reason: string,
  actor?: Actor,
): Promise<OrderRow> {
  const order = await findOrderByNo(deps.db, orderNo);
  if (!order) throw paymentsError('PAYMENT_ORDER_NOT_FOUND', { orderNo });
  if (!isOpen(order.status)) return order;
  let channelStatus: string | null = null;
  if (isOnline(order.channel)) {
    const channel = deps.payments.channel(order.channel);
    noteQueried(orderNo);
    const state = await channel.queryPayment(providerOrderNo(order), queryContext(order));
    channelStatus = state.status;
    let writtenOff = false;
    if (state.status === 'paid') {
      const r = await deps.db.transaction().execute(async (trx) => applyPaymentState(trx, deps, (await lockOrderByNo(trx, orderNo))!, state, source, actor));
      // Reconciliation wrote the payment off: it will never credit this order, so the order closes
      // (instead of being asked about by every run of the close job, forever).
      if (r.outcome === 'rejected' && r.code === 'PAYMENT_WRITTEN_OFF') writtenOff = true;
      else if (r.outcome === 'rejected') throw paymentsError(r.code ?? 'PAYMENT_ORDER_STATE', { orderNo, ...(r.details ?? {}) });
      else return r.order;
    }
    if (writtenOff) channelStatus = 'paid_written_off';
    else if (state.status === 'paying') await channel.closePayment(orderNo);
    else if (state.status === 'not_found') {
      try {
        await channel.closePayment(orderNo);
      } catch (err) {
        if (!(err instanceof AppError && err.code === 'PAYMENT_CHANNEL_REJECTED')) throw err;
      }
    }
  }
  return deps.db.transaction().execute(async (trx) => {
    const locked = (await lockOrderByNo(trx, orderNo))!;
    if (!isOpen(locked.status)) return locked;
    const row = await transition(trx, locked, 'closed', { close_reason: reason }, source, actor, channelStatus ? { channelStatus } : {});
    if (actor?.staffId) await audit(trx, actor, { action: 'recharge.order.close', targetType: 'recharge_order', targetId: orderNo, details: { reason } });
    return row;
  });
}

/** Staff: credit a 'paid' order whose card can now take the money. */
export async function creditPaidOrderByStaff(deps: PaymentsDeps, actor: Actor, orderNo: string): Promise<OrderRow> {
  return deps.db.transaction().execute(async (trx) => {
    const order = await lockOrderByNo(trx, orderNo);
    if (!order) throw paymentsError('PAYMENT_ORDER_NOT_FOUND', { orderNo });
    if (order.status !== 'paid') throw paymentsError('PAYMENT_ORDER_STATE', { orderNo, status: order.status });
    // Part of the money is on its way back to the payer (a refund of the paid order): crediting the
    // whole amount now would pay it twice.
    const refunds = await sql<{ n: number }>`select count(*)::int as n from payment_refunds where order_id = ${order.id} and status <> 'failed'`.execute(trx);
    if (order.refunded_amount > 0 || refunds.rows[0]!.n > 0) throw paymentsError('PAYMENT_ORDER_STATE', { orderNo, status: order.status, reason: 'refund_in_progress' });
    const c = await creditPaidOrder(trx, deps.config, order, 'staff', actor, { auditAction: 'recharge.order.credit' });
    if (!c.credited) throw paymentsError('RECHARGE_NOT_ALLOWED', { orderNo, reason: c.reason });
    return c.order;
  });
}

/**
 * Reconciliation: money the channel holds for no platform order (a statement line nobody
 * claimed) becomes a new order for the card finance chose, credited now, in `trx`.
 */
export async function creditChannelPayment(
  trx: Trx,
  deps: PaymentsDeps,
  actor: Actor,
  input: {
    channel: ChannelCode;
    channelTxnId: string;
    amount: number;
    paidAt: Date;
    cardNo: string;
    note: string;
    /** The order number the provider has for this payment (from the statement), kept so a refund can name it. */
    channelOrderNo?: string | null;
  },
): Promise<OrderRow> {
  if (await isWrittenOff(trx, input.channel, input.channelTxnId)) throw paymentsError('PAYMENT_WRITTEN_OFF', { channel: input.channel, channelTxnId: input.channelTxnId });
  const used = await sql<{ order_no: string }>`select order_no from recharge_orders where channel = ${input.channel} and channel_txn_id = ${input.channelTxnId}`.execute(trx);
  if (used.rows.length > 0) throw paymentsError('RECHARGE_REFERENCE_USED', { field: 'channelTxnId', orderNo: used.rows[0]!.order_no });
  const method = CHANNEL_METHODS[input.channel][0]!;
  const { order } = await openOrder(trx, deps.config, actor, { cardNo: input.cardNo, amount: input.amount, channel: input.channel, method, origin: 'api' }, { limits: false, note: input.note, source: 'reconciliation' });
  if (input.channelOrderNo && input.channelOrderNo !== order.order_no) {
    await sql`update recharge_orders set channel_order_no = ${input.channelOrderNo} where id = ${order.id}`.execute(trx);
  }
  const paid = await markPaid(trx, order, { channelTxnId: input.channelTxnId, amount: input.amount, paidAt: input.paidAt }, 'reconciliation', actor);
  const c = await creditPaidOrder(trx, deps.config, paid, 'reconciliation', actor, { auditAction: 'recharge.order.credit' });
  if (!c.credited) throw paymentsError('RECHARGE_NOT_ALLOWED', { reason: c.reason });
  return c.order;
}

/**
 * A refund of the order succeeded (refunds module): count it; the order becomes 'refunded' once
 * all of it went back. Locks the order; in the refund's transaction.
 */
export async function markOrderRefunded(trx: Trx, orderId: string, amount: number, source: OrderEventSource, staffId: number | null): Promise<void> {
  const order = await lockOrderById(trx, orderId);
  if (!order) throw paymentsError('PAYMENT_ORDER_NOT_FOUND', { orderId });
  const refunded = order.refunded_amount + amount;
  if (amount <= 0 || refunded > order.amount) throw paymentsError('PAYMENT_REFUND_EXCEEDS', { orderNo: order.order_no, refunded: order.refunded_amount, amount });
  // A 'paid' order (the card never took it) refunded in full is done too: paid → refunded.
  const to: OrderStatus = refunded === order.amount && (order.status === 'credited' || order.status === 'paid') ? 'refunded' : order.status;
  await updateOrder(trx, order.id, { refunded_amount: refunded, ...(to !== order.status ? { status: to } : {}) });
  await insertOrderEvent(trx, { orderId: order.id, from: order.status, to, source, staffId, details: { refunded: amount, refundedTotal: refunded } });
}
