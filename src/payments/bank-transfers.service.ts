import { sql } from 'kysely';
import type { Actor, Config, Executor, Trx } from '../platform/index.js';
import { audit, CURSOR_TIME_FORMAT, encodeCursor, platformError, startOfNextBusinessDay } from '../platform/index.js';
import type { StatementLine } from './channel.js';
import { paymentsError } from './payments.errors.js';
import { applyPaymentState, isWrittenOff, lockOrderByNo, type OrderRow, type PaymentsDeps } from './orders.service.js';
import { bankRowFromRaw } from './channels/offline/bank-statement.js';
import { maskAccountNo } from './refunds.service.js';

/**
 * Incoming bank transfers (入账流水, docs/bank-transfers.md): money that reached the operator's
 * account, entered by finance or imported with the bank statement, and matched to the bank
 * transfer order whose payer code the payer wrote on it. Matching is crediting: it applies a
 * 'paid' state to the order (applyPaymentState, source 'bank_match'), which credits the card
 * once. The transfer and the order are matched one to one.
 */

export type BankTransferStatus = 'unmatched' | 'matched' | 'ignored' | 'returned';

export interface BankTransferIn {
  id: number;
  bankTxnId: string;
  valueDate: string;
  amount: number;
  payerName: string | null;
  /** Masked: first 4 and last 4. */
  payerAccount: string | null;
  memo: string | null;
  status: BankTransferStatus;
  orderNo: string | null;
  cardNo: string | null;
  statementId: number | null;
  note: string | null;
  createdAt: string;
  updatedAt: string;
}

type Row = {
  id: number;
  bank_txn_id: string;
  value_date: string;
  amount: number;
  payer_name: string | null;
  payer_account: string | null;
  memo: string | null;
  status: BankTransferStatus;
  order_id: string | null;
  statement_id: number | null;
  note: string | null;
  created_at: Date;
  updated_at: Date;
  order_no: string | null;
  card_no: string | null;
  cursor_at: string;
};

const VIEW = sql`t.id, t.bank_txn_id, to_char(t.value_date, 'YYYY-MM-DD') as value_date, t.amount, t.payer_name, t.payer_account, t.memo,
  t.status, t.order_id, t.statement_id, t.note, t.created_at, t.updated_at, o.order_no, c.card_no,
  to_char(t.created_at at time zone 'UTC', ${CURSOR_TIME_FORMAT}) as cursor_at
  from bank_transfers_in t left join recharge_orders o on o.id = t.order_id left join cards c on c.id = o.card_id`;

function present(r: Row): BankTransferIn {
  return {
    id: r.id,
    bankTxnId: r.bank_txn_id,
    valueDate: r.value_date,
    amount: r.amount,
    payerName: r.payer_name,
    payerAccount: r.payer_account,
    memo: r.memo,
    status: r.status,
    orderNo: r.order_no,
    cardNo: r.card_no,
    statementId: r.statement_id,
    note: r.note,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

export async function getIncomingTransfer(db: Executor, id: number): Promise<BankTransferIn> {
  const r = await sql<Row>`select ${VIEW} where t.id = ${id}`.execute(db);
  if (!r.rows[0]) throw paymentsError('BANK_TRANSFER_NOT_FOUND', { id });
  return present(r.rows[0]);
}

export async function listIncomingTransfers(
  db: Executor,
  f: { status?: BankTransferStatus; from?: string; to?: string; limit: number; cursor?: { at: string; id: string } | null },
): Promise<{ items: BankTransferIn[]; nextCursor: string | null }> {
  const conds = [sql`true`];
  if (f.status) conds.push(sql`t.status = ${f.status}`);
  if (f.from) conds.push(sql`t.value_date >= ${f.from}::date`);
  if (f.to) conds.push(sql`t.value_date <= ${f.to}::date`);
  if (f.cursor) conds.push(sql`(t.created_at, t.id) < (${f.cursor.at}::timestamptz, ${f.cursor.id}::bigint)`);
  const r = await sql<Row>`select ${VIEW} where ${sql.join(conds, sql` and `)} order by t.created_at desc, t.id desc limit ${f.limit + 1}`.execute(db);
  const rows = r.rows.slice(0, f.limit);
  const last = rows[rows.length - 1];
  return { items: rows.map(present), nextCursor: r.rows.length > f.limit && last ? encodeCursor(last.cursor_at, String(last.id)) : null };
}

/** Bank references compare without the spaces and letter case people type (as counter recharges do). */
export const normaliseBankTxnId = (id: string): string => id.replace(/\s+/g, '').toUpperCase();

const CROCKFORD_CODE = /FC[0-9A-Z]{8}/g;

/**
 * Payer codes written in a memo. People add spaces and dashes, use lower case, and write O for 0
 * or I/L for 1 (Crockford base32 reads them so; our codes never contain I, L, O or U).
 */
export function payerCodesIn(memo: string | null | undefined): string[] {
  if (!memo) return [];
  const text = memo.toUpperCase().replace(/[\s\-_]/g, '');
  const out = new Set<string>();
  for (const m of text.matchAll(CROCKFORD_CODE)) {
    out.add('FC' + m[0].slice(2).replace(/O/g, '0').replace(/[IL]/g, '1'));
  }
  return [...out].filter((c) => !/U/.test(c.slice(2)));
}

/** When a transfer with this value date counts as paid: noon of that business day, never in the future. */
export function paidAtOf(valueDate: string, config: Config, now = new Date()): Date {
  const [y, m, d] = valueDate.split('-').map(Number) as [number, number, number];
  const dayStart = startOfNextBusinessDay(new Date(Date.UTC(y, m - 1, d - 1, 12)), config.timeZone);
  const noon = new Date(dayStart.getTime() + 12 * 3_600_000);
  return noon.getTime() > now.getTime() ? now : noon;
}

async function lockTransfer(trx: Trx, id: number): Promise<Row & { order_id: string | null }> {
  const r = await sql<Row>`select ${VIEW} where t.id = ${id} for update of t`.execute(trx);
  if (!r.rows[0]) throw paymentsError('BANK_TRANSFER_NOT_FOUND', { id });
  return r.rows[0];
}

async function setMatched(trx: Trx, id: number, orderId: string, note: string | null, staffId: number | null): Promise<void> {
  await sql`update bank_transfers_in set status = 'matched', order_id = ${orderId}, note = coalesce(${note}, note),
    staff_id = coalesce(${staffId}, staff_id), updated_at = now() where id = ${id}`.execute(trx);
}

async function setNote(trx: Trx, id: number, note: string): Promise<void> {
  await sql`update bank_transfers_in set note = ${note}, updated_at = now() where id = ${id}`.execute(trx);
}

type MatchAttempt = { matched: true; order: OrderRow } | { matched: false; code: string; note: string };

/**
 * Credit the order with the transfer, in `trx`, the order locked. Refusals say why (the caller
 * throws them for a person, or leaves the transfer unmatched with the note for auto-matching).
 */
async function tryMatch(trx: Trx, deps: PaymentsDeps, actor: Actor, t: Row, orderNo: string): Promise<MatchAttempt> {
  // Reconciliation wrote this transfer off: it is the programme's now and may not also credit a card.
  if (await isWrittenOff(trx, 'bank_transfer', t.bank_txn_id)) {
    return { matched: false, code: 'PAYMENT_WRITTEN_OFF', note: `流水 ${t.bank_txn_id} 已在对账中核销 / transfer written off in reconciliation` };
  }
  const order = await lockOrderByNo(trx, orderNo);
  if (!order) return { matched: false, code: 'PAYMENT_ORDER_NOT_FOUND', note: `订单 ${orderNo} 不存在 / no order ${orderNo}` };
  if (order.channel !== 'bank_transfer') return { matched: false, code: 'PAYMENT_ORDER_STATE', note: `订单 ${orderNo} 不是银行转账订单 / order ${orderNo} is not a bank transfer order` };
  const taken = await sql<{ bank_txn_id: string }>`select bank_txn_id from bank_transfers_in where order_id = ${order.id} and id <> ${t.id}`.execute(trx);
  if (taken.rows.length > 0) {
    return { matched: false, code: 'BANK_TRANSFER_STATE', note: `订单 ${orderNo} 已匹配流水 ${taken.rows[0]!.bank_txn_id}，疑似重复付款 / order already matched to another transfer (paid twice?)` };
  }
  // Credited at the counter with this very reference: the transfer is that money, nothing more to credit.
  if (order.channel_txn_id !== null && normaliseBankTxnId(order.channel_txn_id) === t.bank_txn_id) {
    if ((order.paid_amount ?? order.amount) !== t.amount) return { matched: false, code: 'BANK_TRANSFER_AMOUNT_MISMATCH', note: `金额与订单 ${orderNo} 不符 / amount differs from order ${orderNo}` };
    return { matched: true, order };
  }
  if (order.amount !== t.amount) {
    return { matched: false, code: 'BANK_TRANSFER_AMOUNT_MISMATCH', note: `入账 ${t.amount} 分，订单 ${orderNo} 为 ${order.amount} 分 / transfer ${t.amount} fen, order ${order.amount} fen` };
  }
  if (!['created', 'paying', 'closed', 'failed'].includes(order.status)) {
    return { matched: false, code: 'PAYMENT_ORDER_STATE', note: `订单 ${orderNo} 已付款（${order.status}），疑似重复付款 / order already paid (${order.status}): paid twice?` };
  }
  const res = await applyPaymentState(
    trx,
    deps,
    order,
    { orderNo: order.order_no, status: 'paid', channelTxnId: t.bank_txn_id, amount: t.amount, paidAt: paidAtOf(t.value_date, deps.config), channelStatus: 'BANK_IN' },
    'bank_match',
    actor,
  );
  if (res.outcome !== 'applied') return { matched: false, code: res.code ?? 'PAYMENT_ORDER_STATE', note: `订单 ${orderNo} 未能入账（${res.code ?? res.outcome}）/ order not credited (${res.code ?? res.outcome})` };
  return { matched: true, order: res.order };
}

/**
 * Match a new transfer by itself: the order credited at the counter under this bank reference, or
 * the open (or expired) bank transfer order whose payer code the memo holds, for the same amount.
 * Runs inside a savepoint: whatever goes wrong leaves the transfer entered and unmatched.
 */
async function autoMatch(trx: Trx, deps: PaymentsDeps, actor: Actor, t: Row): Promise<boolean> {
  const byRef = await sql<{ order_no: string }>`select order_no from recharge_orders
    where channel = 'bank_transfer' and upper(replace(channel_txn_id, ' ', '')) = ${t.bank_txn_id}`.execute(trx);
  let candidates = byRef.rows.map((r) => r.order_no);
  if (candidates.length === 0) {
    const codes = payerCodesIn(t.memo);
    if (codes.length === 0) return false;
    const byCode = await sql<{ order_no: string }>`select order_no from recharge_orders where channel = 'bank_transfer' and payer_code = any(${codes}::text[])`.execute(trx);
    candidates = byCode.rows.map((r) => r.order_no);
  }
  if (candidates.length !== 1) {
    if (candidates.length > 1) await setNote(trx, t.id, `附言含多个订单识别码，请人工匹配 / the memo names several orders: match by hand`);
    return false;
  }
  await sql`savepoint bank_auto_match`.execute(trx);
  try {
    const m = await tryMatch(trx, deps, actor, t, candidates[0]!);
    if (!m.matched) {
      await sql`rollback to savepoint bank_auto_match`.execute(trx);
      await setNote(trx, t.id, `未自动匹配：${m.note}`);
      return false;
    }
    await setMatched(trx, t.id, m.order.id, '自动匹配 / matched automatically', null);
    await sql`release savepoint bank_auto_match`.execute(trx);
    return true;
  } catch (err) {
    await sql`rollback to savepoint bank_auto_match`.execute(trx);
    deps.logger.warn({ err, bankTxnId: t.bank_txn_id }, 'bank transfer: automatic match failed');
    await setNote(trx, t.id, `未自动匹配：${(err as { code?: string }).code ?? 'error'}`);
    return false;
  }
}

export interface IncomingTransferInput {
  bankTxnId: string;
  valueDate: string;
  amount: number;
  payerName?: string;
  payerAccount?: string;
  memo?: string;
}

async function insertTransfer(trx: Trx, input: IncomingTransferInput, statementId: number | null, staffId: number | null): Promise<Row | null> {
  const r = await sql<{ id: number }>`insert into bank_transfers_in (bank_txn_id, value_date, amount, payer_name, payer_account, memo, status, statement_id, staff_id)
    values (${normaliseBankTxnId(input.bankTxnId)}, ${input.valueDate}::date, ${input.amount}, ${input.payerName?.trim() || null},
      ${input.payerAccount ? maskAccountNo(input.payerAccount) : null}, ${input.memo?.trim() || null}, 'unmatched', ${statementId}, ${staffId})
    on conflict (bank_txn_id) do nothing returning id`.execute(trx);
  if (!r.rows[0]) return null;
  return (await sql<Row>`select ${VIEW} where t.id = ${r.rows[0].id}`.execute(trx)).rows[0]!;
}

/** Finance enters one incoming transfer (POST /bank-transfers); it matches itself when it can. */
export async function enterIncomingTransfer(trx: Trx, deps: PaymentsDeps, actor: Actor, input: IncomingTransferInput): Promise<BankTransferIn> {
  if (!/^[0-9A-Za-z_\- ]{1,64}$/.test(input.bankTxnId) || normaliseBankTxnId(input.bankTxnId) === '') throw platformError('VALIDATION_FAILED', { field: 'bankTxnId' });
  const t = await insertTransfer(trx, input, null, actor.staffId);
  if (!t) throw paymentsError('BANK_TRANSFER_DUPLICATE', { field: 'bankTxnId', bankTxnId: normaliseBankTxnId(input.bankTxnId) });
  const matched = await autoMatch(trx, deps, actor, t);
  await audit(trx, actor, { action: 'bank_transfer.enter', targetType: 'bank_transfer', targetId: t.id, details: { bankTxnId: t.bank_txn_id, amount: t.amount, valueDate: t.value_date, matched } });
  return getIncomingTransfer(trx, t.id);
}

/**
 * Reconciliation's import of a bank statement: every income line becomes an incoming transfer
 * (unless already entered by hand: 'known', and linked to the statement) and matches itself when
 * it can. In the import's transaction, before the statement is matched against orders.
 */
export async function recordIncomingTransfers(
  trx: Trx,
  deps: PaymentsDeps,
  actor: Actor,
  statementId: number,
  lines: StatementLine[],
): Promise<{ added: number; matched: number; known: number }> {
  let added = 0;
  let matched = 0;
  let known = 0;
  for (const line of lines) {
    if (line.kind !== 'payment' || !line.channelTxnId || line.amount <= 0) continue;
    const row = bankRowFromRaw(line.raw);
    const valueDate = row?.date ?? (line.occurredAt ? line.occurredAt.toISOString().slice(0, 10) : null);
    if (!valueDate) continue;
    const t = await insertTransfer(
      trx,
      { bankTxnId: line.channelTxnId, valueDate, amount: line.amount, payerName: row?.payerName, payerAccount: row?.payerAccount, memo: row?.memo },
      statementId,
      actor.staffId,
    );
    if (!t) {
      known++;
      await sql`update bank_transfers_in set statement_id = ${statementId}, updated_at = now() where bank_txn_id = ${normaliseBankTxnId(line.channelTxnId)} and statement_id is null`.execute(trx);
      continue;
    }
    added++;
    if (await autoMatch(trx, deps, actor, t)) matched++;
  }
  return { added, matched, known };
}

/** Finance matches a transfer to an order by hand (the memo was missing or wrong). */
export async function matchIncomingTransfer(trx: Trx, deps: PaymentsDeps, actor: Actor, transferId: number, orderNo: string): Promise<BankTransferIn> {
  const t = await lockTransfer(trx, transferId);
  if (t.status !== 'unmatched') throw paymentsError('BANK_TRANSFER_STATE', { id: transferId, status: t.status });
  const m = await tryMatch(trx, deps, actor, t, orderNo);
  if (!m.matched) throw paymentsError(m.code as Parameters<typeof paymentsError>[0], { id: transferId, orderNo, reason: m.note });
  await setMatched(trx, t.id, m.order.id, '人工匹配 / matched by hand', actor.staffId);
  await audit(trx, actor, { action: 'bank_transfer.match', targetType: 'bank_transfer', targetId: t.id, details: { bankTxnId: t.bank_txn_id, orderNo, amount: t.amount } });
  return getIncomingTransfer(trx, t.id);
}

/**
 * Close an unmatched transfer without crediting anyone: 'ignored' (not a payer's money: interest,
 * an internal move) or 'returned' (sent back to the payer). Neither touches the ledger: the
 * ledger only ever saw money that was credited to a card.
 */
export async function settleUnmatchedTransfer(trx: Trx, actor: Actor, transferId: number, to: 'ignored' | 'returned', note: string): Promise<BankTransferIn> {
  const t = await lockTransfer(trx, transferId);
  if (t.status !== 'unmatched') throw paymentsError('BANK_TRANSFER_STATE', { id: transferId, status: t.status });
  // Written off, the money is booked as the programme's: sending it back (or calling it not a payment) would book it twice.
  if (to === 'returned' && (await isWrittenOff(trx, 'bank_transfer', t.bank_txn_id))) {
    throw paymentsError('PAYMENT_WRITTEN_OFF', { id: transferId, channel: 'bank_transfer', bankTxnId: t.bank_txn_id });
  }
  await sql`update bank_transfers_in set status = ${to}, note = ${note}, staff_id = ${actor.staffId}, updated_at = now() where id = ${t.id}`.execute(trx);
  await audit(trx, actor, { action: `bank_transfer.${to === 'ignored' ? 'ignore' : 'return'}`, targetType: 'bank_transfer', targetId: t.id, details: { bankTxnId: t.bank_txn_id, amount: t.amount, note } });
  return getIncomingTransfer(trx, t.id);
}
