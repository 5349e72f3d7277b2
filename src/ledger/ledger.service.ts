import { sql } from 'kysely';
import type { Executor, Trx } from '../platform/index.js';
import { sha256Hex, stableStringify } from '../platform/index.js';
import { FAILURE_CODES, ledgerError } from './ledger.errors.js';
import type { AccountKind, Currency, TransferKind } from './ledger.tables.js';

/** The ledger's closed set of error codes. */
export type LedgerErrorCode = Parameters<typeof ledgerError>[0];

/** Flag: the account's debits may never exceed its credits (prepaid: no negative balance). */
export const NO_OVERDRAFT = 1;

export interface Account {
  id: number;
  kind: AccountKind;
  currency: Currency;
  name: string;
  systemKey: string | null;
  flags: number;
  debitsPending: number;
  debitsPosted: number;
  creditsPending: number;
  creditsPosted: number;
  arrears: number;
  status: 'open' | 'closed';
  /** credits_posted - debits_posted */
  balance: number;
  /** balance - debits_pending: what may still be spent. */
  available: number;
}

type AccountRow = {
  id: number;
  kind: AccountKind;
  currency: Currency;
  name: string;
  system_key: string | null;
  flags: number;
  debits_pending: number;
  debits_posted: number;
  credits_pending: number;
  credits_posted: number;
  arrears: number;
  status: 'open' | 'closed';
};

function toAccount(r: AccountRow): Account {
  const balance = r.credits_posted - r.debits_posted;
  return {
    id: r.id,
    kind: r.kind,
    currency: r.currency,
    name: r.name,
    systemKey: r.system_key,
    flags: r.flags,
    debitsPending: r.debits_pending,
    debitsPosted: r.debits_posted,
    creditsPending: r.credits_pending,
    creditsPosted: r.credits_posted,
    arrears: r.arrears,
    status: r.status,
    balance,
    available: balance - r.debits_pending,
  };
}

export async function openAccount(
  db: Executor,
  input: { kind: AccountKind; name: string; currency?: Currency; noOverdraft?: boolean },
): Promise<Account> {
  const row = await db
    .insertInto('ledger_accounts')
    .values({
      kind: input.kind,
      name: input.name,
      currency: input.currency ?? 'CNY',
      flags: input.noOverdraft === false ? 0 : NO_OVERDRAFT,
      system_key: null,
      closed_at: null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toAccount(row as AccountRow);
}

/**
 * The system account for a key such as 'channel_clearing:cash' or
 * 'station_settlement:12', created on first use. System accounts carry the
 * other side of customer money and may run negative.
 */
export async function systemAccount(db: Executor, kind: AccountKind, key: string, name: string, currency: Currency = 'CNY'): Promise<Account> {
  const systemKey = `${kind}:${key}`;
  await sql`insert into ledger_accounts (kind, name, currency, system_key, flags)
    values (${kind}, ${name}, ${currency}, ${systemKey}, 0) on conflict (system_key) do nothing`.execute(db);
  const row = await db.selectFrom('ledger_accounts').selectAll().where('system_key', '=', systemKey).executeTakeFirstOrThrow();
  return toAccount(row as AccountRow);
}

export async function getAccount(db: Executor, id: number): Promise<Account> {
  const row = await db.selectFrom('ledger_accounts').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw ledgerError('LEDGER_ACCOUNT_NOT_FOUND', { accountId: id });
  return toAccount(row as AccountRow);
}

export async function getAccounts(db: Executor, ids: readonly number[]): Promise<Account[]> {
  if (ids.length === 0) return [];
  const rows = await db.selectFrom('ledger_accounts').selectAll().where('id', 'in', [...ids]).execute();
  const byId = new Map(rows.map((r) => [r.id, toAccount(r as AccountRow)]));
  return ids.map((id) => {
    const a = byId.get(id);
    if (!a) throw ledgerError('LEDGER_ACCOUNT_NOT_FOUND', { accountId: id });
    return a;
  });
}

/** Lock accounts (in id order) for the rest of the transaction and return their state. */
export async function lockAccounts(trx: Trx, ids: readonly number[]): Promise<Account[]> {
  if (ids.length === 0) return [];
  const rows = await sql<AccountRow>`select * from ledger_accounts where id = any(${[...ids]}::bigint[]) order by id for update`.execute(trx);
  const byId = new Map(rows.rows.map((r) => [r.id, toAccount(r)]));
  return ids.map((id) => {
    const a = byId.get(id);
    if (!a) throw ledgerError('LEDGER_ACCOUNT_NOT_FOUND', { accountId: id });
    return a;
  });
}

/** Close an account: only at zero balance and with no hold outstanding. */
export async function closeAccount(trx: Trx, id: number): Promise<void> {
  const [acct] = await lockAccounts(trx, [id]);
  if (!acct) throw ledgerError('LEDGER_ACCOUNT_NOT_FOUND', { accountId: id });
  if (acct.status === 'closed') return;
  if (acct.balance !== 0 || acct.debitsPending !== 0 || acct.creditsPending !== 0) {
    throw ledgerError('LEDGER_ACCOUNTS_INVALID', { accountId: id, reason: 'balance or holds outstanding' });
  }
  await sql`update ledger_accounts set status = 'closed', closed_at = now() where id = ${id}`.execute(trx);
}

export interface TransferRequest {
  /** uuid chosen by the caller and kept across retries: it is the idempotency key. */
  id: string;
  debitAccountId: number;
  creditAccountId: number;
  amount: number;
  /** Business reason: recharge, sale, allocation, recall, refund, adjustment… */
  code: string;
  metadata?: Record<string, unknown>;
}

export interface TransferResult {
  ok: true;
  /** True when this id had already been applied: nothing moved this time. */
  replayed: boolean;
  transferId: string;
  amount: number;
  debitAccountId: number;
  creditAccountId: number;
  debitBalanceAfter: number | null;
  creditBalanceAfter: number | null;
  debitAvailableAfter: number | null;
  createdAt: Date;
}

export interface TransferRefusal {
  ok: false;
  /** Stable error code (ledger.errors.ts). */
  code: LedgerErrorCode;
  /** True when this id had already failed before: the refusal is final for the id. */
  alreadyFailed: boolean;
}

type ApplyRow = {
  status: string;
  already_failed: boolean;
  transfer_id: string;
  amount: number;
  debit_account_id: number;
  credit_account_id: number;
  debit_balance_after: number | null;
  credit_balance_after: number | null;
  debit_available_after: number | null;
  created_at: Date;
};

async function apply(
  trx: Trx,
  kind: TransferKind,
  req: {
    id: string;
    debitAccountId: number | null;
    creditAccountId: number | null;
    amount: number | null;
    code: string;
    pendingId: string | null;
    timeoutMs: number | null;
    forced: boolean;
    metadata?: Record<string, unknown>;
  },
): Promise<TransferResult | TransferRefusal> {
  for (const n of [req.amount, req.debitAccountId, req.creditAccountId, req.timeoutMs]) {
    if (n !== null && !Number.isSafeInteger(n)) throw ledgerError('LEDGER_AMOUNT_INVALID', { value: n });
  }
  // Every field the database compares on a replay; a forced post is a different request from a plain one.
  const requestHash = sha256Hex(
    stableStringify({ kind, d: req.debitAccountId, c: req.creditAccountId, a: req.amount, code: req.code, p: req.pendingId, f: req.forced }),
  );
  const result = await sql<ApplyRow>`select * from ledger_apply(${req.id}::uuid, ${kind}, ${req.debitAccountId}::bigint,
    ${req.creditAccountId}::bigint, ${req.amount}::bigint, ${req.code}, ${req.pendingId}::uuid, ${req.timeoutMs}::bigint,
    ${req.forced}, ${JSON.stringify(req.metadata ?? {})}::jsonb, ${requestHash})`.execute(trx);
  const row = result.rows[0];
  if (!row) throw new Error('ledger_apply returned nothing');
  if (row.status === 'created' || row.status === 'exists') {
    return {
      ok: true,
      replayed: row.status === 'exists',
      transferId: row.transfer_id,
      amount: row.amount,
      debitAccountId: row.debit_account_id,
      creditAccountId: row.credit_account_id,
      debitBalanceAfter: row.debit_balance_after,
      creditBalanceAfter: row.credit_balance_after,
      debitAvailableAfter: row.debit_available_after,
      createdAt: row.created_at,
    };
  }
  const code = FAILURE_CODES[row.status];
  if (!code) throw new Error(`unknown ledger status ${row.status}`);
  if (code === 'LEDGER_TRANSFER_CONFLICT') throw ledgerError(code, { transferId: req.id });
  return { ok: false, code, alreadyFailed: row.already_failed };
}

/** A posted transfer. Refused (not thrown) when the debit account would go below zero. */
export function transfer(trx: Trx, req: TransferRequest): Promise<TransferResult | TransferRefusal> {
  return apply(trx, 'posted', { ...req, pendingId: null, timeoutMs: null, forced: false });
}

/**
 * A forced post: allowed to take a no-overdraft account below zero (an offline sale
 * uploaded late, a pump overrun). The shortfall is recorded as arrears and alerted.
 */
export function forceTransfer(trx: Trx, req: TransferRequest & { reason: string }): Promise<TransferResult | TransferRefusal> {
  return apply(trx, 'posted', {
    ...req,
    pendingId: null,
    timeoutMs: null,
    forced: true,
    metadata: { ...req.metadata, forcedReason: req.reason },
  });
}

/** A hold: reserves the amount (counted against available balance) until posted, voided or expired. */
export async function hold(trx: Trx, req: TransferRequest & { timeoutMs: number }): Promise<TransferResult | TransferRefusal> {
  // A hold without a positive timeout would be born expired: unpostable, yet counted against available.
  if (!Number.isSafeInteger(req.timeoutMs) || req.timeoutMs <= 0) throw ledgerError('LEDGER_AMOUNT_INVALID', { timeoutMs: req.timeoutMs });
  return apply(trx, 'pending', { ...req, pendingId: null, forced: false });
}

/** Post a hold for up to its amount (null = all of it); the rest is released. */
export function postHold(
  trx: Trx,
  req: { id: string; pendingId: string; amount: number | null; code: string; metadata?: Record<string, unknown> },
): Promise<TransferResult | TransferRefusal> {
  return apply(trx, 'post_pending', { ...req, debitAccountId: null, creditAccountId: null, timeoutMs: null, forced: false });
}

export function voidHold(
  trx: Trx,
  req: { id: string; pendingId: string; code: string; metadata?: Record<string, unknown> },
): Promise<TransferResult | TransferRefusal> {
  return apply(trx, 'void_pending', { ...req, amount: null, debitAccountId: null, creditAccountId: null, timeoutMs: null, forced: false });
}

/** Void every hold whose time ran out. Returns how many expired. Safe to run from several processes. */
export async function expireHolds(db: import('../platform/index.js').Db, limit = 500): Promise<number> {
  const due = await sql<{ id: string }>`select id from ledger_pending where state = 'pending' and expires_at <= clock_timestamp()
    order by expires_at limit ${limit}`.execute(db);
  let expired = 0;
  for (const { id } of due.rows) {
    const res = await db.transaction().execute((trx) =>
      apply(trx, 'expire_pending', {
        id: uuidFrom(`expire:${id}`),
        pendingId: id,
        amount: null,
        debitAccountId: null,
        creditAccountId: null,
        code: 'hold_expiry',
        timeoutMs: null,
        forced: false,
      }),
    );
    if (res.ok && !res.replayed) expired++;
  }
  return expired;
}

/** A deterministic uuid (v8 layout) from a name: derived transfer ids stay stable across retries. */
export function uuidFrom(name: string): string {
  const h = sha256Hex(name);
  const variant = ((parseInt(h[16] ?? '0', 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Throw the refusal as an error (for use cases where a refusal ends the request). */
export function orThrow(res: TransferResult | TransferRefusal, details?: Record<string, unknown>): TransferResult {
  if (!res.ok) throw ledgerError(res.code, details);
  return res;
}
