/**
 * Reconciliation on the database (docs/reconciliation.md): statements imported and kept byte for
 * byte, runs of the pure matcher per channel and day, discrepancy items with their workflow.
 */
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Actor, Config, Db, Executor, Trx } from '../platform/index.js';
import { audit, businessDay, isAppError, pgErrorCode, PgCode } from '../platform/index.js';
import { orThrow, systemAccount, transfer, uuidFrom } from '../ledger/index.js';
import {
  applyPaymentState,
  createRechargeRefund,
  creditChannelPayment,
  lockChannelPayment,
  lockOrderByNo,
  matchIncomingTransfer,
  payerCodesIn,
  paymentsError,
  recordChannelWriteOff,
  recordIncomingTransfers,
  sendRefundToChannel,
  STATEMENT_CHANNELS,
  type FetchedStatement,
  type ParsedStatement,
  type PaymentChannel,
  type PaymentsRuntime,
  type StatementChannel,
  type StatementLine,
} from '../payments/index.js';
import { reconError } from './reconciliation.errors.js';
import { isPaid, itemEffect, matchStatement, type ItemDraft, type PendingEntry, type PlatformPayment, type PlatformRefund } from './matcher.js';

export type ReconDeps = { db: Db; config: Config; payments: PaymentsRuntime; logger: Logger };

/** Largest statement file accepted (the manual import's body carries it base64-encoded). */
export const MAX_STATEMENT_BYTES = 20 * 1024 * 1024;
export const AUTO_RESOLVED_NOTE = '再次对账已平';

const CLEARING_NAMES: Record<StatementChannel, string> = {
  bank_transfer: '银行转账清算',
  wechat: '微信支付清算',
  alipay: '支付宝清算',
  unionpay: '银联清算',
};

export function requireStatementChannel(channel: string): StatementChannel {
  if (!(STATEMENT_CHANNELS as readonly string[]).includes(channel)) throw reconError('RECON_CHANNEL_NOT_SUPPORTED', { field: 'channel', channel });
  return channel as StatementChannel;
}

function parserOf(deps: ReconDeps, channel: StatementChannel): PaymentChannel & { parseStatement: NonNullable<PaymentChannel['parseStatement']> } {
  const c = deps.payments.channels.get(channel);
  if (!c || typeof c.parseStatement !== 'function') throw reconError('RECON_CHANNEL_NOT_SUPPORTED', { channel, reason: 'no statement parser' });
  return c as PaymentChannel & { parseStatement: NonNullable<PaymentChannel['parseStatement']> };
}

/** A YYYY-MM-DD that names a real day no later than today (a day still running may be imported: intraday files, tests). */
export function checkBillDate(billDate: string, config: Config, now = new Date()): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(billDate);
  const real = m !== null && new Date(`${billDate}T00:00:00Z`).toISOString().slice(0, 10) === billDate;
  if (!real || billDate > businessDay(now, config.timeZone) || billDate < '2000-01-01') throw reconError('RECON_BILL_DATE_INVALID', { field: 'billDate', billDate });
  return billDate;
}

const addDays = (day: string, n: number): string => new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);

// ── Statements ───────────────────────────────────────────────────────────────────────────────

export interface StatementView {
  id: number;
  channel: StatementChannel;
  billDate: string;
  source: 'job' | 'import';
  fileName: string;
  sha256: string;
  sizeBytes: number;
  status: 'accepted' | 'rejected';
  rejection: string | null;
  lineCount: number;
  paymentCount: number;
  paymentTotal: number;
  refundCount: number;
  refundTotal: number;
  feeTotalMfen: number;
  staffId: number | null;
  createdAt: string;
}

interface StatementRow {
  id: number;
  channel: StatementChannel;
  bill_date: string;
  source: 'job' | 'import';
  file_name: string;
  sha256: string;
  size_bytes: number;
  status: 'accepted' | 'rejected';
  rejection: string | null;
  line_count: number;
  payment_count: number;
  payment_total: number;
  refund_count: number;
  refund_total: number;
  fee_total_mfen: number;
  staff_id: number | null;
  created_at: Date;
  cursor_at: string;
}

export const STATEMENT_COLUMNS = sql`s.id, s.channel, to_char(s.bill_date, 'YYYY-MM-DD') bill_date, s.source, s.file_name, s.sha256, s.size_bytes,
  s.status, s.rejection, s.line_count, s.payment_count, s.payment_total, s.refund_count, s.refund_total, s.fee_total_mfen, s.staff_id,
  s.created_at, to_char(s.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') cursor_at`;

export function presentStatement(r: StatementRow): StatementView {
  return {
    id: r.id,
    channel: r.channel,
    billDate: r.bill_date,
    source: r.source,
    fileName: r.file_name,
    sha256: r.sha256,
    sizeBytes: r.size_bytes,
    status: r.status,
    rejection: r.rejection,
    lineCount: r.line_count,
    paymentCount: r.payment_count,
    paymentTotal: r.payment_total,
    refundCount: r.refund_count,
    refundTotal: r.refund_total,
    feeTotalMfen: r.fee_total_mfen,
    staffId: r.staff_id,
    createdAt: r.created_at.toISOString(),
  };
}

export async function getStatement(db: Executor, id: number): Promise<StatementRow> {
  const r = await sql<StatementRow>`select ${STATEMENT_COLUMNS} from channel_statements s where s.id = ${id}`.execute(db);
  if (!r.rows[0]) throw reconError('RECON_STATEMENT_NOT_FOUND', { statementId: id });
  return r.rows[0];
}

async function acceptedStatement(db: Executor, channel: StatementChannel, billDate: string): Promise<StatementRow | undefined> {
  const r = await sql<StatementRow>`select ${STATEMENT_COLUMNS} from channel_statements s
    where s.channel = ${channel} and s.bill_date = ${billDate}::date and s.status = 'accepted'`.execute(db);
  return r.rows[0];
}

export interface ImportInput {
  channel: string;
  billDate: string;
  fileName: string;
  content: Buffer;
  source: 'job' | 'import';
  /** The provider's published hash of the file (fetch), checked before anything else. */
  expectedHash?: FetchedStatement['expectedHash'];
  /** Supersede the accepted statement of the same channel and day. */
  replace?: boolean;
  /** The job re-fetching a file it already has: identical bytes reuse the accepted statement. */
  reuseIdentical?: boolean;
}

/**
 * Check, parse and store a statement. A file that fails its integrity checks is kept as
 * 'rejected' with the failure's code (for the audit) and the failure is thrown; nothing is
 * matched against it. For bank statements the incoming transfers are recorded (and matched to
 * orders by their payer codes) in the same transaction, before any reconciliation run.
 */
export async function importStatement(deps: ReconDeps, actor: Actor, input: ImportInput): Promise<StatementView> {
  const channel = requireStatementChannel(input.channel);
  const billDate = checkBillDate(input.billDate, deps.config);
  const adapter = parserOf(deps, channel);
  if (input.content.length === 0) throw reconError('RECON_FILE_EMPTY', { field: 'contentBase64' });
  if (input.content.length > MAX_STATEMENT_BYTES) throw paymentsError('PAYMENT_STATEMENT_TOO_LARGE', { limit: MAX_STATEMENT_BYTES });
  const sha256 = createHash('sha256').update(input.content).digest('hex');
  const fileName = input.fileName.slice(0, 200) || `${channel}-${billDate}`;

  if (input.reuseIdentical) {
    const existing = await acceptedStatement(deps.db, channel, billDate);
    if (existing && existing.sha256 === sha256) return presentStatement(existing);
  }

  const reject = async (code: string, err: unknown): Promise<never> => {
    const r = await sql<{ id: number }>`insert into channel_statements (channel, bill_date, source, file_name, sha256, size_bytes, content, status, rejection, staff_id)
      values (${channel}, ${billDate}::date, ${input.source}, ${fileName}, ${sha256}, ${input.content.length}, ${input.content}, 'rejected', ${code}, ${actor.staffId})
      returning id`.execute(deps.db);
    const statementId = r.rows[0]!.id;
    await audit(deps.db, actor, { action: 'reconciliation.statement.reject', targetType: 'channel_statement', targetId: statementId, details: { channel, billDate, code, sha256 } });
    if (isAppError(err)) {
      (err as { details?: Record<string, unknown> }).details ??= {};
      Object.assign(err.details!, { statementId });
      throw err;
    }
    throw err;
  };

  if (input.expectedHash) {
    const actual = createHash(input.expectedHash.algorithm).update(input.content).digest('hex');
    if (actual.toLowerCase() !== input.expectedHash.hex.toLowerCase()) {
      await reject('PAYMENT_STATEMENT_HASH_MISMATCH', paymentsError('PAYMENT_STATEMENT_HASH_MISMATCH', { algorithm: input.expectedHash.algorithm }));
    }
  }
  let parsed: ParsedStatement;
  try {
    parsed = adapter.parseStatement({ fileName, content: input.content, ...(input.expectedHash ? { expectedHash: input.expectedHash } : {}) });
  } catch (err) {
    if (isAppError(err)) return reject(err.code, err);
    // A parser that trips over a file it was never meant to read: still a malformed file, not a 500.
    return reject('PAYMENT_STATEMENT_MALFORMED', paymentsError('PAYMENT_STATEMENT_MALFORMED', { reason: err instanceof Error ? err.message : String(err) }));
  }
  if (parsed.billDate !== null && parsed.billDate !== billDate) {
    return reject('RECON_BILL_DATE_INVALID', reconError('RECON_BILL_DATE_INVALID', { field: 'billDate', billDate, fileBillDate: parsed.billDate }));
  }

  try {
    return await deps.db.transaction().execute(async (trx) => {
      const existing = await sql<{ id: number; sha256: string }>`select id, sha256 from channel_statements
        where channel = ${channel} and bill_date = ${billDate}::date and status = 'accepted' for update`.execute(trx);
      const old = existing.rows[0];
      if (old) {
        if (!input.replace) throw reconError('RECON_STATEMENT_EXISTS', { statementId: old.id, sameFile: old.sha256 === sha256 });
        await sql`update channel_statements set status = 'rejected', rejection = 'SUPERSEDED' where id = ${old.id}`.execute(trx);
      }
      const s = parsed.summary;
      const ins = await sql<{ id: number }>`insert into channel_statements (channel, bill_date, source, file_name, sha256, size_bytes, content, status,
          line_count, payment_count, payment_total, refund_count, refund_total, fee_total_mfen, staff_id)
        values (${channel}, ${billDate}::date, ${input.source}, ${fileName}, ${sha256}, ${input.content.length}, ${input.content}, 'accepted',
          ${parsed.lines.length}, ${s.paymentCount}, ${s.paymentTotal}, ${s.refundCount}, ${s.refundTotal}, ${s.feeTotalMfen}, ${actor.staffId})
        returning id`.execute(trx);
      const statementId = ins.rows[0]!.id;
      // Bank references are compared without spaces or letter case (as the bank transfer entry stores them).
      const lines = channel === 'bank_transfer' ? parsed.lines.map((l) => ({ ...l, channelTxnId: l.channelTxnId?.replace(/\s+/g, '').toUpperCase() ?? null })) : parsed.lines;
      await insertLines(trx, statementId, lines);
      if (channel === 'bank_transfer') await recordIncomingTransfers(trx, deps, actor, statementId, parsed.lines);
      await audit(trx, actor, {
        action: 'reconciliation.statement.import',
        targetType: 'channel_statement',
        targetId: statementId,
        details: { channel, billDate, sha256, lines: parsed.lines.length, replaced: old?.id ?? null },
      });
      return presentStatement(await getStatement(trx, statementId));
    });
  } catch (err) {
    if (pgErrorCode(err) === PgCode.uniqueViolation) throw reconError('RECON_STATEMENT_EXISTS', { channel, billDate });
    throw err;
  }
}

async function insertLines(trx: Trx, statementId: number, lines: readonly StatementLine[]): Promise<void> {
  const CHUNK = 2000;
  for (let i = 0; i < lines.length; i += CHUNK) {
    const part = lines.slice(i, i + CHUNK);
    await sql`insert into statement_lines (statement_id, line_no, kind, channel_txn_id, order_no, refund_no, channel_refund_id, amount, fee_mfen, status, occurred_at, raw)
      select ${statementId}, * from unnest(${part.map((l) => l.lineNo)}::int[], ${part.map((l) => l.kind)}::text[], ${part.map((l) => l.channelTxnId)}::text[],
        ${part.map((l) => l.orderNo)}::text[], ${part.map((l) => l.refundNo)}::text[], ${part.map((l) => l.channelRefundId)}::text[],
        ${part.map((l) => l.amount)}::bigint[], ${part.map((l) => l.feeMfen)}::bigint[], ${part.map((l) => l.status)}::text[],
        ${part.map((l) => (l.occurredAt ? l.occurredAt.toISOString() : null))}::timestamptz[], ${part.map((l) => l.raw)}::text[])`.execute(trx);
  }
}

/** A statement_lines row as stored (the matcher and the console's statement view read the same rows). */
export type LineRow = {
  id: number;
  line_no: number;
  kind: 'payment' | 'refund';
  channel_txn_id: string | null;
  order_no: string | null;
  refund_no: string | null;
  channel_refund_id: string | null;
  amount: number;
  fee_mfen: number;
  status: string;
  occurred_at: Date | null;
  raw: string;
};

async function statementLines(db: Executor, statementId: number): Promise<Array<StatementLine & { id: number }>> {
  const r = await sql<LineRow>`select id, line_no, kind, channel_txn_id, order_no, refund_no, channel_refund_id, amount, fee_mfen, status, occurred_at, raw
     from statement_lines where statement_id = ${statementId} order by line_no`.execute(db);
  return r.rows.map((l) => ({
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
    occurredAt: l.occurred_at,
    raw: l.raw,
  }));
}

// ── Runs ─────────────────────────────────────────────────────────────────────────────────────

export interface RunView {
  id: number;
  channel: StatementChannel;
  billDate: string;
  statementId: number | null;
  status: 'running' | 'done' | 'failed';
  source: 'job' | 'import' | 'staff';
  matchedCount: number;
  /** Matched with a platform record of the adjacent day (midnight cut-over); null for runs recorded before it was kept. */
  matchedCrossDay: number | null;
  itemCount: number;
  pendingCount: number;
  autoResolved: number | null;
  platformPaymentTotal: number;
  platformRefundTotal: number;
  channelPaymentTotal: number;
  channelRefundTotal: number;
  ledgerClearingNet: number;
  feeTotalMfen: number;
  failure: string | null;
  staffId: number | null;
  startedAt: string;
  finishedAt: string | null;
}

interface RunRow {
  id: number;
  channel: StatementChannel;
  bill_date: string;
  statement_id: number | null;
  status: 'running' | 'done' | 'failed';
  source: 'job' | 'import' | 'staff';
  matched_count: number;
  item_count: number;
  pending_count: number;
  platform_payment_total: number;
  platform_refund_total: number;
  channel_payment_total: number;
  channel_refund_total: number;
  ledger_clearing_net: number;
  fee_total_mfen: number;
  failure: string | null;
  staff_id: number | null;
  started_at: Date;
  finished_at: Date | null;
  cursor_at: string;
  run_details: { matchedCrossDay?: number; autoResolved?: number } | null;
}

export const RUN_COLUMNS = sql`r.id, r.channel, to_char(r.bill_date, 'YYYY-MM-DD') bill_date, r.statement_id, r.status, r.source, r.matched_count,
  r.item_count, r.pending_count, r.platform_payment_total, r.platform_refund_total, r.channel_payment_total, r.channel_refund_total,
  r.ledger_clearing_net, r.fee_total_mfen, r.failure, r.staff_id, r.started_at, r.finished_at,
  to_char(r.started_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') cursor_at,
  (select a.details from audit_log a where a.target_type = 'recon_run' and a.target_id = r.id::text and a.action = 'reconciliation.run' limit 1) run_details`;

export function presentRun(r: RunRow): RunView {
  return {
    id: r.id,
    channel: r.channel,
    billDate: r.bill_date,
    statementId: r.statement_id,
    status: r.status,
    source: r.source,
    matchedCount: r.matched_count,
    matchedCrossDay: r.run_details?.matchedCrossDay ?? null,
    itemCount: r.item_count,
    pendingCount: r.pending_count,
    autoResolved: r.run_details?.autoResolved ?? null,
    platformPaymentTotal: r.platform_payment_total,
    platformRefundTotal: r.platform_refund_total,
    channelPaymentTotal: r.channel_payment_total,
    channelRefundTotal: r.channel_refund_total,
    ledgerClearingNet: r.ledger_clearing_net,
    feeTotalMfen: r.fee_total_mfen,
    failure: r.failure,
    staffId: r.staff_id,
    startedAt: r.started_at.toISOString(),
    finishedAt: r.finished_at ? r.finished_at.toISOString() : null,
  };
}

export async function getRun(db: Executor, id: number): Promise<RunRow> {
  const r = await sql<RunRow>`select ${RUN_COLUMNS} from recon_runs r where r.id = ${id}`.execute(db);
  if (!r.rows[0]) throw reconError('RECON_RUN_NOT_FOUND', { runId: id });
  return r.rows[0];
}

export interface RunInput {
  channel: string;
  billDate: string;
  source: 'job' | 'import' | 'staff';
  /** Download the statement first when the channel can (the job; a staff re-run). */
  fetch?: boolean;
}

/**
 * Reconcile one channel's day: (fetch and import the statement,) match it against the platform's
 * records, store the run, its items and the pool. Runs of one channel are serialised (they share
 * the pool). A failure is recorded as a failed run and thrown.
 */
export async function runReconciliation(deps: ReconDeps, actor: Actor, input: RunInput): Promise<RunView> {
  const channel = requireStatementChannel(input.channel);
  const billDate = checkBillDate(input.billDate, deps.config);
  if (input.fetch) {
    const adapter = deps.payments.channels.get(channel);
    if (adapter && typeof adapter.fetchStatement === 'function') {
      try {
        const file = await adapter.fetchStatement(billDate);
        await importStatement(deps, actor, {
          channel,
          billDate,
          fileName: file.fileName,
          content: file.content,
          source: 'job',
          replace: true,
          reuseIdentical: true,
          ...(file.expectedHash ? { expectedHash: file.expectedHash } : {}),
        });
      } catch (err) {
        // Not ready or not reachable, with a file already in hand (imported by finance): reconcile that
        // one. A downloaded file that failed its checks is never papered over this way.
        const unavailable = isAppError(err) && (err.code === 'PAYMENT_STATEMENT_NOT_READY' || err.code === 'PAYMENT_CHANNEL_UNAVAILABLE');
        if (!unavailable || !(await acceptedStatement(deps.db, channel, billDate))) throw err;
      }
    }
  }
  const statement = await acceptedStatement(deps.db, channel, billDate);
  if (!statement) throw reconError('RECON_STATEMENT_NOT_FOUND', { channel, billDate });
  try {
    const runId = await deps.db.transaction().execute((trx) => matchDay(trx, deps, actor, { channel, billDate, statement, source: input.source }));
    return presentRun(await getRun(deps.db, runId));
  } catch (err) {
    const code = isAppError(err) ? err.code : 'INTERNAL';
    deps.logger.error({ err, channel, billDate }, 'reconciliation run failed');
    await sql`insert into recon_runs (channel, bill_date, statement_id, status, source, failure, staff_id, finished_at)
      values (${channel}, ${billDate}::date, ${statement.id}, 'failed', ${input.source}, ${code}, ${actor.staffId}, now())`.execute(deps.db);
    throw err;
  }
}

interface ItemRowLite {
  id: number;
  dedupe_key: string;
  code: string;
  order_id: string | null;
  refund_id: string | null;
  bill_date: string;
}

async function matchDay(
  trx: Trx,
  deps: ReconDeps,
  actor: Actor,
  input: { channel: StatementChannel; billDate: string; statement: StatementRow; source: RunInput['source'] },
): Promise<number> {
  const { channel, billDate, statement } = input;
  const tz = deps.config.timeZone;
  // One run of a channel at a time: runs of adjacent days share the pool and the items.
  await sql`select pg_advisory_xact_lock(hashtext(${`recon:${channel}`}))`.execute(trx);
  const run = await sql<{ id: number }>`insert into recon_runs (channel, bill_date, statement_id, status, source, staff_id)
    values (${channel}, ${billDate}::date, ${statement.id}, 'running', ${input.source}, ${actor.staffId}) returning id`.execute(trx);
  const runId = run.rows[0]!.id;

  const lines = channel === 'bank_transfer' ? await withPayerCodeOrders(trx, await statementLines(trx, statement.id)) : await statementLines(trx, statement.id);
  const namedOrders = lines.map((l) => l.orderNo).filter((n): n is string => n !== null);
  const lineIdByNo = new Map(lines.map((l) => [l.lineNo, l.id]));
  const from = sql`((${addDays(billDate, -1)}::date)::timestamp at time zone ${tz})`;
  const to = sql`((${addDays(billDate, 2)}::date)::timestamp at time zone ${tz})`;
  // Lines of the accepted statements of the days around D (as far as the pool reaches): a record one
  // of them already shows is not expected on D. Set-based, so PostgreSQL hashes it once per run.
  const reach = deps.config.reconPoolDays + 1;
  const otherDays = (cols: ReturnType<typeof sql>, kind: 'payment' | 'refund') => sql`select ${cols} from channel_statements s
    join statement_lines sl on sl.statement_id = s.id
    where s.channel = ${channel} and s.status = 'accepted' and s.bill_date <> ${billDate}::date
      and s.bill_date between ${addDays(billDate, -reach)}::date and ${addDays(billDate, reach)}::date and sl.kind = ${kind}`;
  const dayOfPaid =
    channel === 'unionpay' ? sql`coalesce(o.channel_settle_date, (o.paid_at at time zone ${tz})::date)` : sql`(o.paid_at at time zone ${tz})::date`;
  const payments = await sql<{ id: string; order_no: string; channel_txn_id: string | null; amount: number; status: PlatformPayment['status']; day_offset: number | null; seen_elsewhere: boolean }>`
    with l as (select channel_txn_id from statement_lines where statement_id = ${statement.id} and kind = 'payment'),
    other as (${otherDays(sql`sl.channel_txn_id, sl.order_no`, 'payment')})
    select o.id, o.order_no, o.channel_txn_id, coalesce(o.paid_amount, o.amount) amount, o.status,
      case when o.paid_at is null then null else (${dayOfPaid} - ${billDate}::date) end day_offset,
      (o.order_no in (select order_no from other where order_no is not null)
        or coalesce(o.channel_txn_id in (select channel_txn_id from other where channel_txn_id is not null), false)) seen_elsewhere
    from recharge_orders o
    where o.channel = ${channel} and (
      (o.paid_at >= ${from} and o.paid_at < ${to})
      ${channel === 'unionpay' ? sql`or o.channel_settle_date between ${addDays(billDate, -1)}::date and ${addDays(billDate, 1)}::date` : sql``}
      or o.channel_txn_id in (select channel_txn_id from l where channel_txn_id is not null)
      or o.order_no = any(${namedOrders}::text[])
      or o.id in (select order_id from recon_pending where channel = ${channel} and order_id is not null))`.execute(trx);
  const refunds = await sql<{ id: string; refund_no: string; channel_refund_id: string | null; order_id: string | null; order_no: string | null; amount: number; status: PlatformRefund['status']; day_offset: number | null; seen_elsewhere: boolean }>`
    with l as (select refund_no, channel_refund_id from statement_lines where statement_id = ${statement.id} and kind = 'refund'),
    other as (${otherDays(sql`sl.refund_no, sl.channel_refund_id`, 'refund')})
    select r.id, r.refund_no, r.channel_refund_id, r.order_id, o.order_no, r.amount, r.status,
      case when r.status = 'succeeded' then (r.completed_at at time zone ${tz})::date - ${billDate}::date
           when r.status in ('requested', 'processing') then (r.created_at at time zone ${tz})::date - ${billDate}::date
           else null end day_offset,
      (r.refund_no in (select refund_no from other where refund_no is not null)
        or coalesce(r.channel_refund_id in (select channel_refund_id from other where channel_refund_id is not null), false)) seen_elsewhere
    from payment_refunds r left join recharge_orders o on o.id = r.order_id
    where r.channel = ${channel} and (
      (r.completed_at >= ${from} and r.completed_at < ${to})
      or (r.status in ('requested', 'processing') and r.created_at >= ${from} and r.created_at < ${to})
      or r.refund_no in (select refund_no from l where refund_no is not null)
      or r.channel_refund_id in (select channel_refund_id from l where channel_refund_id is not null)
      or r.id in (select refund_id from recon_pending where channel = ${channel} and refund_id is not null))`.execute(trx);
  const pending = await sql<{ kind: 'payment' | 'refund'; id: string; first_seen: string }>`select kind, coalesce(order_id, refund_id)::text id,
      to_char(first_seen, 'YYYY-MM-DD') first_seen from recon_pending where channel = ${channel}`.execute(trx);

  const platformPayments: PlatformPayment[] = payments.rows.map((p) => ({
    id: p.id,
    orderNo: p.order_no,
    channelTxnId: p.channel_txn_id,
    amount: p.amount,
    status: p.status,
    dayOffset: p.day_offset,
    seenElsewhere: p.seen_elsewhere,
  }));
  const platformRefunds: PlatformRefund[] = refunds.rows.map((r) => ({
    id: r.id,
    refundNo: r.refund_no,
    channelRefundId: r.channel_refund_id,
    orderId: r.order_id,
    orderNo: r.order_no,
    amount: r.amount,
    status: r.status,
    dayOffset: r.day_offset,
    seenElsewhere: r.seen_elsewhere,
  }));
  const pendingEntries: PendingEntry[] = pending.rows.map((p) => ({ kind: p.kind, id: p.id, firstSeen: p.first_seen }));
  const result = matchStatement(lines, platformPayments, platformRefunds, pendingEntries, {
    channel,
    billDate,
    poolDays: deps.config.reconPoolDays,
    feeRatePpm: deps.payments.feeRatePpm(channel),
  });

  // Items: one open item per discrepancy; a re-run finds the open one again.
  const found = new Set<string>();
  let openItems = 0;
  const worked: ItemDraft[] = [];
  for (const item of result.items) {
    found.add(item.dedupeKey);
    if (await upsertItem(trx, runId, channel, billDate, item, item.lineNo === null ? null : (lineIdByNo.get(item.lineNo) ?? null))) openItems++;
    else worked.push(item);
  }
  // Open items of this day the statement no longer shows, and reported platform-only records a statement now shows.
  const matchedOrders = result.matched.filter((m) => m.kind === 'payment').map((m) => m.recordId);
  const matchedRefunds = result.matched.filter((m) => m.kind === 'refund').map((m) => m.recordId);
  const stale = await sql<ItemRowLite>`select id, dedupe_key, code, order_id, refund_id, to_char(bill_date, 'YYYY-MM-DD') bill_date from recon_items
    where status = 'open' and channel = ${channel} and (
      (bill_date = ${billDate}::date and code not in ('PLATFORM_ONLY', 'REFUND_PLATFORM_ONLY'))
      or (code = 'PLATFORM_ONLY' and order_id = any(${matchedOrders}::uuid[]))
      or (code = 'REFUND_PLATFORM_ONLY' and refund_id = any(${matchedRefunds}::uuid[])))
    for update`.execute(trx);
  let autoResolved = 0;
  for (const it of stale.rows) {
    if (found.has(it.dedupe_key)) continue;
    await sql`update recon_items set status = 'resolved', resolution = 'explained', resolution_note = ${AUTO_RESOLVED_NOTE}, resolved_at = now()
      where id = ${it.id}`.execute(trx);
    await itemEvent(trx, it.id, 'auto_resolved', null, AUTO_RESOLVED_NOTE, { runId });
    autoResolved++;
  }

  // The pool. Records reported as PLATFORM_ONLY and still open stay out of it (their item tracks them).
  for (const e of result.pool.release) {
    await sql`delete from recon_pending where channel = ${channel} and ${e.kind === 'payment' ? sql`order_id` : sql`refund_id`} = ${e.id}::uuid`.execute(trx);
  }
  let added = 0;
  for (const e of result.pool.add) {
    const col = e.kind === 'payment' ? sql`order_id` : sql`refund_id`;
    const code = e.kind === 'payment' ? 'PLATFORM_ONLY' : 'REFUND_PLATFORM_ONLY';
    const r = await sql`insert into recon_pending (channel, kind, ${col}, first_seen)
      select ${channel}, ${e.kind}, ${e.id}::uuid, ${e.firstSeen}::date
      where not exists (select 1 from recon_items where status = 'open' and code = ${code} and ${col} = ${e.id}::uuid)
      on conflict do nothing`.execute(trx);
    added += Number(r.numAffectedRows ?? 0);
  }

  // Totals: the platform's day, the statement's, and the ledger's clearing account.
  const day = platformPayments.filter((p) => isPaid(p.status) && p.dayOffset === 0);
  // A refund the channel accepted today shows on today's file even while it is still in flight here.
  const refundedDay = platformRefunds.filter((r) => (r.status === 'succeeded' || r.status === 'requested' || r.status === 'processing') && r.dayOffset === 0);
  const postings = await clearingPostings(trx, channel, billDate, tz);
  const ledgerNet = postings.reduce((s, p) => s + p.signed, 0);
  const explanations = explainDay({ payments: platformPayments, refunds: platformRefunds, result, postings, worked });
  await sql`update recon_runs set status = 'done', matched_count = ${result.totals.matched}, item_count = ${openItems},
      pending_count = ${result.pool.keep.length + added},
      platform_payment_total = ${day.reduce((s, p) => s + p.amount, 0)}, platform_refund_total = ${refundedDay.reduce((s, r) => s + r.amount, 0)},
      channel_payment_total = ${result.totals.statementPaymentTotal}, channel_refund_total = ${result.totals.statementRefundTotal},
      ledger_clearing_net = ${ledgerNet}, fee_total_mfen = ${result.totals.statementFeeMfen}, finished_at = now()
    where id = ${runId}`.execute(trx);
  await audit(trx, actor, {
    action: 'reconciliation.run',
    targetType: 'recon_run',
    targetId: runId,
    details: {
      channel,
      billDate,
      statementId: statement.id,
      matchedCrossDay: result.totals.matchedCrossDay,
      autoResolved,
      platformPaymentCount: day.length,
      platformRefundCount: refundedDay.length,
      explanations,
    },
  });
  return runId;
}

/**
 * A bank line names no order; its memo (附言) may hold an order's payer code. Naming the order
 * lets the matcher see a second transfer for an order already paid (DUPLICATE) or a transfer for
 * an order closed meanwhile (STATUS_DIFFERS) instead of money from nowhere.
 */
async function withPayerCodeOrders<L extends StatementLine>(trx: Trx, lines: L[]): Promise<L[]> {
  // The same reading of a memo as the bank transfer auto-match (payerCodesIn: O→0, I/L→1).
  const codesOf = (l: L) => payerCodesIn(l.raw);
  const codes = [...new Set(lines.filter((l) => l.kind === 'payment' && l.orderNo === null).flatMap(codesOf))];
  if (codes.length === 0) return lines;
  const r = await sql<{ payer_code: string; order_no: string }>`select payer_code, order_no from recharge_orders
    where channel = 'bank_transfer' and payer_code = any(${codes}::text[])`.execute(trx);
  const byCode = new Map(r.rows.map((x) => [x.payer_code, x.order_no]));
  return lines.map((l) => {
    if (l.kind !== 'payment' || l.orderNo !== null) return l;
    const found = codesOf(l).map((c) => byCode.get(c)).filter((n): n is string => n !== undefined);
    // Two codes in one memo name no order with certainty.
    return found.length === 1 ? { ...l, orderNo: found[0]! } : l;
  });
}

interface ClearingPosting {
  id: string;
  code: string;
  /** Signed as the clearing account sees it: + a credit to a card (debit of clearing), − money paid out of it. */
  signed: number;
  order_id: string | null;
  refund_id: string | null;
  metadata: Record<string, unknown> | null;
}

/**
 * The postings on channel_clearing:<channel> that belong to the business day on the platform's
 * basis: a card credit belongs to its order's paid day (UnionPay: settlement day), a refund's
 * settlement to the refund's completion day, anything else (write-offs, counter postings) to the
 * day it was posted. A credit posted after midnight for a payment at 23:59:59 is the earlier day's.
 */
async function clearingPostings(db: Executor, channel: StatementChannel, billDate: string, tz: string): Promise<ClearingPosting[]> {
  const start = sql`((${billDate}::date)::timestamp at time zone ${tz})`;
  const end = sql`((${addDays(billDate, 1)}::date)::timestamp at time zone ${tz})`;
  const dayOfPaid =
    channel === 'unionpay' ? sql`coalesce(o.channel_settle_date, (o.paid_at at time zone ${tz})::date)` : sql`(o.paid_at at time zone ${tz})::date`;
  const r = await sql<ClearingPosting & { day: string }>`
    select t.id, t.code, (case when t.debit_account_id = a.id then t.amount else -t.amount end)::bigint as signed, o.id as order_id, pr.id as refund_id, t.metadata,
      to_char(coalesce(${dayOfPaid}, (pr.completed_at at time zone ${tz})::date, (t.created_at at time zone ${tz})::date), 'YYYY-MM-DD') as day
    from ledger_accounts a
    join ledger_transfers t on (t.debit_account_id = a.id or t.credit_account_id = a.id)
    left join recharges rc on rc.transfer_id = t.id
    left join recharge_orders o on o.id = rc.order_id and o.paid_at is not null
    left join payment_refunds pr on pr.settle_transfer_id = t.id
    where a.system_key = ${`channel_clearing:${channel}`} and t.kind in ('posted', 'post_pending')
      and ((t.created_at >= ${start} and t.created_at < ${end})
        or t.id in (select rc2.transfer_id from recharge_orders o2 join recharges rc2 on rc2.order_id = o2.id
          where o2.channel = ${channel} and o2.paid_at >= ${start} - interval '1 day' and o2.paid_at < ${end} + interval '1 day')
        ${channel === 'unionpay' ? sql`or t.id in (select rc3.transfer_id from recharge_orders o3 join recharges rc3 on rc3.order_id = o3.id
          where o3.channel = 'unionpay' and o3.channel_settle_date = ${billDate}::date)` : sql``}
        or t.id in (select settle_transfer_id from payment_refunds where channel = ${channel} and completed_at >= ${start} and completed_at < ${end}))
    order by t.created_at, t.id`.execute(db);
  return r.rows.filter((p) => p.day === billDate).map(({ day: _day, ...p }) => ({ ...p, signed: Number(p.signed) }));
}

/** Net movement of channel_clearing:<channel> for the business day, on the platform's basis (see clearingPostings). */
export async function clearingNet(db: Executor, channel: StatementChannel, billDate: string, tz: string): Promise<number> {
  return (await clearingPostings(db, channel, billDate, tz)).reduce((s, p) => s + p.signed, 0);
}

const yuanText = (fen: number) => `${fen < 0 ? '-' : ''}${(Math.abs(fen) / 100).toFixed(2)}`;

/**
 * What makes the three nets of a day differ, besides its open items (which the report lists by
 * id): platform records the statement does not show yet (the pool), lines matched across
 * midnight, discrepancies worked earlier, postings with no platform record of the day
 * (write-offs, counter postings) and records of the day with no posting (paid, not credited).
 */
function explainDay(input: {
  payments: PlatformPayment[];
  refunds: PlatformRefund[];
  result: ReturnType<typeof matchStatement>;
  postings: ClearingPosting[];
  worked: ItemDraft[];
}): string[] {
  const out: string[] = [];
  const orderNo = new Map(input.payments.map((p) => [p.id, p.orderNo]));
  const refundNo = new Map(input.refunds.map((r) => [r.id, r.refundNo]));
  const nameOf = (e: PendingEntry) => (e.kind === 'payment' ? orderNo.get(e.id) : refundNo.get(e.id)) ?? e.id;
  for (const e of [...input.result.pool.add, ...input.result.pool.keep]) {
    out.push(`${nameOf(e)} 不在本日对账单上，待后续对账单（待对账池，自 ${e.firstSeen}）/ not on this statement, waiting in the pool since ${e.firstSeen}`);
  }
  for (const m of input.result.matched.filter((x) => x.crossDay)) {
    const no = m.kind === 'payment' ? orderNo.get(m.recordId) : refundNo.get(m.recordId);
    out.push(`对账单第 ${m.lineNo} 行与相邻日的 ${no ?? m.recordId} 匹配（跨日）/ line ${m.lineNo} matched ${no ?? m.recordId} of the adjacent day`);
  }
  for (const w of input.worked) {
    const ref = w.orderNo ?? w.refundNo ?? w.channelTxnId ?? '';
    out.push(`差错 ${w.code} ${ref} 已处理，仍在数据中 / ${w.code} ${ref} was worked earlier and is still in the data`);
  }
  const dayOrders = new Set(input.payments.filter((p) => isPaid(p.status) && p.dayOffset === 0).map((p) => p.id));
  const dayRefunds = new Set(input.refunds.filter((r) => r.status === 'succeeded' && r.dayOffset === 0).map((r) => r.id));
  const postedOrders = new Set<string>();
  const postedRefunds = new Set<string>();
  for (const p of input.postings) {
    if (p.order_id !== null && dayOrders.has(p.order_id)) {
      postedOrders.add(p.order_id);
      continue;
    }
    if (p.refund_id !== null && dayRefunds.has(p.refund_id)) {
      postedRefunds.add(p.refund_id);
      continue;
    }
    const item = p.metadata && typeof p.metadata.reconItemId === 'number' ? ` #${p.metadata.reconItemId}` : '';
    const what = p.code === 'write_off' ? `对账差错核销${item} / write-off${item}` : `记账 ${p.code} / posting ${p.code}`;
    out.push(`${what}: ${yuanText(p.signed)} 元（清算账户，无本日平台记录 / on the clearing account, no platform record of the day）`);
  }
  for (const p of input.payments) {
    if (dayOrders.has(p.id) && !postedOrders.has(p.id)) {
      out.push(`${p.orderNo} 已付款未入账（无记账）/ paid but not credited (no posting): ${yuanText(p.amount)} 元`);
    }
  }
  for (const r of input.refunds) {
    if (dayRefunds.has(r.id) && !postedRefunds.has(r.id)) out.push(`${r.refundNo} 退款成功但清算账户无记账 / refund succeeded with no clearing posting: ${yuanText(r.amount)} 元`);
    // Its money waits in refunds payable until the channel confirms: the clearing account moves then.
    if ((r.status === 'requested' || r.status === 'processing') && r.dayOffset === 0) {
      out.push(`${r.refundNo} 退款处理中，款项在待退款账户 / refund in progress, held in refunds payable: ${yuanText(r.amount)} 元`);
    }
  }
  return out;
}

/** Store an item found by a run; true when it is open afterwards (new, or open and found again). */
async function upsertItem(trx: Trx, runId: number, channel: StatementChannel, billDate: string, item: ItemDraft, lineId: number | null): Promise<boolean> {
  // Resolved already (written off, explained…): the discrepancy is still in the data, but it was
  // worked; opening it again would invite working it twice.
  const last = await sql<{ id: number; status: string }>`select id, status from recon_items where dedupe_key = ${item.dedupeKey} order by id desc limit 1`.execute(trx);
  if (last.rows[0]?.status === 'resolved') return false;
  const ins = await sql<{ id: number }>`insert into recon_items (run_id, channel, bill_date, code, kind, order_id, refund_id, statement_line_id, channel_txn_id,
      order_no, refund_no, platform_amount, channel_amount, platform_status, channel_status, fee_diff_mfen, suggested_action, status, dedupe_key)
    values (${runId}, ${channel}, ${billDate}::date, ${item.code}, ${item.kind}, ${item.orderId}::uuid, ${item.refundId}::uuid, ${lineId}, ${item.channelTxnId},
      ${item.orderNo}, ${item.refundNo}, ${item.platformAmount}, ${item.channelAmount}, ${item.platformStatus}, ${item.channelStatus}, ${item.feeDiffMfen},
      ${item.suggestedAction}, 'open', ${item.dedupeKey})
    on conflict (dedupe_key) where status = 'open' do nothing returning id`.execute(trx);
  if (ins.rows[0]) {
    await itemEvent(trx, ins.rows[0].id, 'opened', null, null, { runId, code: item.code });
    return true;
  }
  // Found again: it now points at this run and at the line of the statement in force.
  const upd = await sql<{ id: number }>`update recon_items set run_id = ${runId}, statement_line_id = coalesce(${lineId}, statement_line_id),
      platform_amount = ${item.platformAmount}, channel_amount = ${item.channelAmount}, platform_status = ${item.platformStatus}, channel_status = ${item.channelStatus}
    where dedupe_key = ${item.dedupeKey} and status = 'open' returning id`.execute(trx);
  if (upd.rows[0]) await itemEvent(trx, upd.rows[0].id, 'seen_again', null, null, { runId });
  return true;
}

async function itemEvent(trx: Executor, itemId: number, action: string, staffId: number | null, note: string | null, details: Record<string, unknown> = {}): Promise<void> {
  await sql`insert into recon_item_events (item_id, action, staff_id, note, details) values (${itemId}, ${action}, ${staffId}, ${note}, ${JSON.stringify(details)}::jsonb)`.execute(trx);
}

// ── Items and their resolution ───────────────────────────────────────────────────────────────

export interface ItemRow {
  id: number;
  run_id: number;
  channel: StatementChannel;
  bill_date: string;
  code: string;
  kind: 'payment' | 'refund';
  order_id: string | null;
  refund_id: string | null;
  statement_line_id: number | null;
  channel_txn_id: string | null;
  order_no: string | null;
  refund_no: string | null;
  platform_amount: number | null;
  channel_amount: number | null;
  platform_status: string | null;
  channel_status: string | null;
  fee_diff_mfen: number | null;
  suggested_action: string;
  status: 'open' | 'resolved';
  resolution: string | null;
  resolution_note: string | null;
  resolution_ref: string | null;
  resolved_by: number | null;
  resolved_at: Date | null;
  created_at: Date;
  cursor_at: string;
}

export const ITEM_COLUMNS = sql`i.id, i.run_id, i.channel, to_char(i.bill_date, 'YYYY-MM-DD') bill_date, i.code, i.kind, i.order_id, i.refund_id,
  i.statement_line_id, i.channel_txn_id, i.order_no, i.refund_no, i.platform_amount, i.channel_amount, i.platform_status, i.channel_status,
  i.fee_diff_mfen, i.suggested_action, i.status, i.resolution, i.resolution_note, i.resolution_ref, i.resolved_by, i.resolved_at, i.created_at,
  to_char(i.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') cursor_at`;

export interface ItemView {
  id: number;
  runId: number;
  channel: StatementChannel;
  billDate: string;
  code: string;
  kind: 'payment' | 'refund';
  orderNo: string | null;
  refundNo: string | null;
  channelTxnId: string | null;
  statementLineId: number | null;
  platformAmount: number | null;
  channelAmount: number | null;
  /** Channel minus platform, fen: what a write-off moves. */
  difference: number;
  platformStatus: string | null;
  channelStatus: string | null;
  feeDiffMfen: number | null;
  suggestedAction: string;
  status: 'open' | 'resolved';
  resolution: string | null;
  resolutionNote: string | null;
  resolutionRef: string | null;
  resolvedBy: number | null;
  resolvedAt: string | null;
  createdAt: string;
}

export function presentItem(r: ItemRow): ItemView {
  return {
    id: r.id,
    runId: r.run_id,
    channel: r.channel,
    billDate: r.bill_date,
    code: r.code,
    kind: r.kind,
    orderNo: r.order_no,
    refundNo: r.refund_no,
    channelTxnId: r.channel_txn_id,
    statementLineId: r.statement_line_id,
    platformAmount: r.platform_amount,
    channelAmount: r.channel_amount,
    difference: effectOf(r),
    platformStatus: r.platform_status,
    channelStatus: r.channel_status,
    feeDiffMfen: r.fee_diff_mfen,
    suggestedAction: r.suggested_action,
    status: r.status,
    resolution: r.resolution,
    resolutionNote: r.resolution_note,
    resolutionRef: r.resolution_ref,
    resolvedBy: r.resolved_by,
    resolvedAt: r.resolved_at ? r.resolved_at.toISOString() : null,
    createdAt: r.created_at.toISOString(),
  };
}

function effectOf(r: Pick<ItemRow, 'code' | 'platform_amount' | 'channel_amount' | 'platform_status' | 'fee_diff_mfen'>): number {
  if (r.code === 'FEE_DIFFERS') return -Math.round((r.fee_diff_mfen ?? 0) / 1000);
  return itemEffect({ code: r.code, platformAmount: r.platform_amount, channelAmount: r.channel_amount, platformStatus: r.platform_status });
}

export async function getItem(db: Executor, id: number, lock = false): Promise<ItemRow> {
  const r = await sql<ItemRow>`select ${ITEM_COLUMNS} from recon_items i where i.id = ${id} ${lock ? sql`for update` : sql``}`.execute(db);
  if (!r.rows[0]) throw reconError('RECON_ITEM_NOT_FOUND', { itemId: id });
  return r.rows[0];
}

export const RESOLUTIONS = ['credit_card', 'refund', 'write_off', 'explained'] as const;
export type Resolution = (typeof RESOLUTIONS)[number];

export interface ResolveInput {
  action: Resolution;
  note: string;
  cardNo?: string;
  amount?: number;
  /** Refund of bank transfer money: where finance sends it. */
  payee?: { name: string; account: string; bank?: string };
}

/** Money the channel has that should reach a card: a line nobody claimed, an unpaid order the channel shows paid, a second payment. */
function channelHoldsMoney(item: ItemRow): boolean {
  if (item.kind !== 'payment' || item.channel_txn_id === null || item.channel_amount === null) return false;
  if (item.code === 'CHANNEL_ONLY' || item.code === 'DUPLICATE') return true;
  return item.code === 'STATUS_DIFFERS' && !(item.platform_status !== null && isPaid(item.platform_status));
}

async function lineOf(db: Executor, item: ItemRow): Promise<{ occurred_at: Date | null } | undefined> {
  if (item.statement_line_id === null) return undefined;
  const r = await sql<{ occurred_at: Date | null }>`select occurred_at from statement_lines where id = ${item.statement_line_id}`.execute(db);
  return r.rows[0];
}

/** The order that now holds the item's channel money, if one does. */
/** The state of the incoming transfer a bank item's money arrived as, locked; null when none is recorded. */
async function transferStatusOf(trx: Trx, item: ItemRow): Promise<string | null> {
  const r = await sql<{ status: string }>`select status from bank_transfers_in
    where upper(regexp_replace(bank_txn_id, '\\s', '', 'g')) = ${item.channel_txn_id} for update`.execute(trx);
  return r.rows[0]?.status ?? null;
}

async function orderHolding(db: Executor, item: ItemRow): Promise<{ order_no: string; status: string } | undefined> {
  const r = await sql<{ order_no: string; status: string }>`select order_no, status from recharge_orders
    where channel = ${item.channel} and channel_txn_id = ${item.channel_txn_id}`.execute(db);
  return r.rows[0];
}

/**
 * The incoming transfer a bank item's money arrived as, locked. Only an unmatched one is still
 * money the programme may put on a card or send back: a returned transfer already went back to
 * the payer, an ignored one was judged not to be a customer's payment, a matched one is on a card.
 */
async function lockUnmatchedTransfer(trx: Trx, item: ItemRow): Promise<number | null> {
  if (item.channel !== 'bank_transfer') return null;
  // Bank references are compared without spaces or letter case (the statement's lines were stored that way).
  const r = await sql<{ id: number; status: string }>`select id, status from bank_transfers_in
    where upper(regexp_replace(bank_txn_id, '\\s', '', 'g')) = ${item.channel_txn_id} for update`.execute(trx);
  const t = r.rows[0];
  if (!t) throw reconError('RECON_ACTION_NOT_ALLOWED', { reason: 'no incoming transfer is recorded for this bank reference', bankTxnId: item.channel_txn_id });
  if (t.status !== 'unmatched') throw reconError('RECON_ACTION_NOT_ALLOWED', { reason: `transfer_${t.status}`, transferId: t.id, transferStatus: t.status });
  return t.id;
}

/** Items worked under the earlier two-step refund (credit committed, refund afterwards): their money is spoken for. */
async function refundStartedOn(db: Executor, itemId: number): Promise<string | null> {
  const r = await sql<{ order_no: string | null }>`select details->>'orderNo' order_no from recon_item_events
    where item_id = ${itemId} and action = 'refund_started' order by id desc limit 1`.execute(db);
  return r.rows[0] ? (r.rows[0].order_no ?? '') : null;
}

/**
 * Put the item's channel money on a card, in `trx`: the item's own order when the channel shows
 * it paid (the same path as a notification), else a new order for the chosen card (or the
 * order's card, for a second payment). Returns the order that holds it.
 */
async function creditItemMoney(trx: Trx, deps: ReconDeps, actor: Actor, item: ItemRow, input: ResolveInput, transferId: number | null): Promise<string> {
  const orderNo = await putItemMoneyOnCard(trx, deps, actor, item, input);
  // The incoming transfer the statement recorded is this money: it is matched now, not waiting for finance.
  if (transferId !== null) await matchIncomingTransfer(trx, deps, actor, transferId, orderNo);
  return orderNo;
}

async function putItemMoneyOnCard(trx: Trx, deps: ReconDeps, actor: Actor, item: ItemRow, input: ResolveInput): Promise<string> {
  const held = await orderHolding(trx, item);
  if (held) {
    // A refund started under the earlier two-step flow left the money on this order: finish that refund from it.
    const legacy = input.action === 'refund' && held.status === 'credited' && (await refundStartedOn(trx, item.id)) === held.order_no;
    // Otherwise it is already on a card (a late notification, a match by finance): crediting or refunding again would pay twice.
    if (!legacy) throw reconError('RECON_ACTION_NOT_ALLOWED', { reason: 'the money is already on an order', orderNo: held.order_no, orderStatus: held.status });
    return held.order_no;
  }
  const line = await lineOf(trx, item);
  const paidAt = line?.occurred_at ?? new Date();
  if (item.code === 'STATUS_DIFFERS' && item.order_no !== null) {
    const order = await lockOrderByNo(trx, item.order_no);
    if (!order) throw reconError('RECON_ACTION_NOT_ALLOWED', { reason: 'order not found', orderNo: item.order_no });
    const res = await applyPaymentState(
      trx,
      deps,
      order,
      { orderNo: order.order_no, status: 'paid', channelTxnId: item.channel_txn_id!, amount: item.channel_amount!, paidAt, channelStatus: item.channel_status ?? 'statement' },
      'reconciliation',
      actor,
    );
    if (res.outcome === 'rejected') throw reconError('RECON_ACTION_NOT_ALLOWED', { reason: res.code, orderNo: order.order_no });
    if (res.order.status === 'paid') throw reconError('RECON_ACTION_NOT_ALLOWED', { reason: 'card cannot take the credit', orderNo: order.order_no });
    return res.order.order_no;
  }
  let cardNo = input.cardNo;
  if (!cardNo && item.order_id !== null) {
    const r = await sql<{ card_no: string }>`select c.card_no from recharge_orders o join cards c on c.id = o.card_id where o.id = ${item.order_id}`.execute(trx);
    cardNo = r.rows[0]?.card_no;
  }
  if (!cardNo) throw reconError('RECON_CARD_REQUIRED', { field: 'cardNo' });
  const order = await creditChannelPayment(trx, deps, actor, {
    channel: item.channel,
    channelTxnId: item.channel_txn_id!,
    amount: item.channel_amount!,
    paidAt,
    cardNo,
    note: `对账差错 #${item.id}: ${input.note}`,
    // The provider knows the payment by its own order number: a refund of it must name that one.
    channelOrderNo: item.order_id === null ? item.order_no : null,
  });
  return order.order_no;
}

async function markResolved(trx: Trx, actor: Actor, item: ItemRow, input: ResolveInput, ref: string | null, details: Record<string, unknown>): Promise<void> {
  await sql`update recon_items set status = 'resolved', resolution = ${input.action}, resolution_note = ${input.note}, resolution_ref = ${ref},
      resolved_by = ${actor.staffId}, resolved_at = now() where id = ${item.id}`.execute(trx);
  await itemEvent(trx, item.id, input.action, actor.staffId, input.note, { ref, ...details });
  await audit(trx, actor, {
    action: 'reconciliation.item.resolve',
    targetType: 'recon_item',
    targetId: item.id,
    details: { action: input.action, code: item.code, channel: item.channel, billDate: item.bill_date, ref, ...details },
  });
}

function checkAllowed(item: ItemRow, input: ResolveInput): void {
  if (item.status !== 'open') throw reconError('RECON_ITEM_RESOLVED', { itemId: item.id, resolution: item.resolution });
  const refuse = (reason: string) => reconError('RECON_ACTION_NOT_ALLOWED', { action: input.action, code: item.code, reason });
  if ((input.action === 'credit_card' || input.action === 'refund') && !channelHoldsMoney(item)) throw refuse('the channel holds no money for a card here');
  if (input.action === 'credit_card' && input.amount !== undefined) throw refuse('a credit takes the statement’s amount');
  if (input.action === 'explained' && input.amount !== undefined) throw refuse('nothing moves when explained');
  if (input.payee !== undefined && input.action !== 'refund') throw refuse('a payee is for a refund');
  if (input.action === 'refund') {
    // A refund pays back at most what the channel took in.
    const a = input.amount;
    if (a !== undefined && (!Number.isSafeInteger(a) || a <= 0 || a > item.channel_amount!)) {
      throw reconError('RECON_AMOUNT_INVALID', { field: 'amount', channelAmount: item.channel_amount });
    }
    if (item.channel === 'bank_transfer' && input.payee === undefined) throw paymentsError('PAYMENT_PAYEE_REQUIRED', { field: 'payee' });
  }
}

/** Written off, the channel's money is the programme's gain: a late notification, query or bank match must not also credit it. */
function writesOffChannelPayment(item: ItemRow, effect: number): boolean {
  return item.kind === 'payment' && item.channel_txn_id !== null && effect > 0;
}

/**
 * Work an item: credit the card, refund the payer, write the difference off, or explain it.
 * Each moves money at most once: the item is locked and must still be open, and whatever moves
 * commits together with the item's resolution (a refund's provider call comes after the commit).
 */
export async function resolveItem(deps: ReconDeps, actor: Actor, itemId: number, input: ResolveInput): Promise<ItemView> {
  checkAllowed(await getItem(deps.db, itemId), input);

  if (input.action === 'refund') {
    // One transaction: the money goes on a card (when no order holds it yet), the refund takes it
    // off again into refunds payable, the item is resolved. A refusal anywhere (balance, payee,
    // amount) leaves nothing behind; the provider is asked only after the commit.
    const refundNo = await deps.db.transaction().execute(async (trx) => {
      const item = await getItem(trx, itemId, true);
      checkAllowed(item, input);
      const transferId = await lockUnmatchedTransfer(trx, item);
      const orderNo = await creditItemMoney(trx, deps, actor, item, input, transferId);
      const amount = input.amount ?? item.channel_amount!;
      const refund = await createRechargeRefund(
        trx,
        deps,
        actor,
        { orderNo, amount, reason: `对账差错 #${item.id}: ${input.note}`.slice(0, 200), ...(input.payee ? { payee: input.payee } : {}) },
        'reconciliation',
      );
      await markResolved(trx, actor, item, input, refund.refund_no, { orderNo, amount });
      return refund.refund_no;
    });
    // Unreachable provider: the refund stays 'requested' and the refund job asks again under the same number.
    await sendRefundToChannel(deps, refundNo, 'reconciliation', actor);
    return presentItem(await getItem(deps.db, itemId));
  }

  return deps.db.transaction().execute(async (trx) => {
    const item = await getItem(trx, itemId, true);
    checkAllowed(item, input);
    if (input.action !== 'explained' && (await refundStartedOn(trx, item.id)) !== null) {
      throw reconError('RECON_ACTION_NOT_ALLOWED', { action: input.action, code: item.code, reason: 'a refund was started for this money' });
    }
    let ref: string | null = null;
    const details: Record<string, unknown> = {};
    if (input.action === 'credit_card') {
      const transferId = await lockUnmatchedTransfer(trx, item);
      ref = await creditItemMoney(trx, deps, actor, item, input, transferId);
      details.orderNo = ref;
    } else if (input.action === 'write_off') {
      const effect = effectOf(item);
      const amount = input.amount ?? Math.abs(effect);
      if (!Number.isSafeInteger(amount) || amount <= 0 || effect === 0 || amount > Math.abs(effect)) {
        throw reconError('RECON_AMOUNT_INVALID', { field: 'amount', difference: effect });
      }
      if (writesOffChannelPayment(item, effect)) {
        // Serialised with any credit of the same payment; once we hold the lock, money a card already
        // took (a late notification, a match by hand) is visible here and is not the programme's to book.
        await lockChannelPayment(trx, item.channel, item.channel_txn_id!);
        const holder = await orderHolding(trx, item);
        if (holder && ['paid', 'credited', 'refunded'].includes(holder.status)) {
          throw reconError('RECON_ACTION_NOT_ALLOWED', { action: 'write_off', reason: 'an order already holds this payment', orderNo: holder.order_no, orderStatus: holder.status });
        }
        const transferState = item.channel === 'bank_transfer' ? await transferStatusOf(trx, item) : null;
        if (transferState !== null && transferState !== 'unmatched') {
          throw reconError('RECON_ACTION_NOT_ALLOWED', { action: 'write_off', reason: `transfer_${transferState}`, transferStatus: transferState });
        }
      }
      const clearing = await systemAccount(trx, 'channel_clearing', item.channel, CLEARING_NAMES[item.channel]);
      const writeOff = await systemAccount(trx, 'write_off', 'reconciliation', '对账差错核销');
      // The channel holds more than the books: the clearing account owes that much more (debit); less: the loss is written off.
      const [debit, credit] = effect > 0 ? [clearing.id, writeOff.id] : [writeOff.id, clearing.id];
      const res = orThrow(
        await transfer(trx, { id: uuidFrom(`recon-writeoff:${item.id}`), debitAccountId: debit, creditAccountId: credit, amount, code: 'write_off', metadata: { reconItemId: item.id, code: item.code } }),
      );
      if (writesOffChannelPayment(item, effect)) {
        await recordChannelWriteOff(trx, { channel: item.channel, channelTxnId: item.channel_txn_id!, amount, reconItemId: item.id, note: input.note, staffId: actor.staffId });
        details.channelTxnId = item.channel_txn_id;
      }
      ref = res.transferId;
      details.amount = amount;
      details.direction = effect > 0 ? 'channel_surplus' : 'channel_shortfall';
    }
    await markResolved(trx, actor, item, input, ref, details);
    return presentItem(await getItem(trx, itemId));
  });
}

export async function addItemNote(db: Db, actor: Actor, itemId: number, note: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const item = await getItem(trx, itemId, true);
    await itemEvent(trx, item.id, 'note', actor.staffId, note);
    await audit(trx, actor, { action: 'reconciliation.item.note', targetType: 'recon_item', targetId: item.id, details: { note } });
  });
}
