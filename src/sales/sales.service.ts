import { randomInt, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Config, Db, Executor, TerminalPrincipal, Trx } from '../platform/index.js';
import { maskCardNo, publishWith } from '../platform/index.js';
import { getAccounts, lockAccounts, transfer, uuidFrom } from '../ledger/index.js';
import { authoriseCardUse, CARD_DECLINES, recordCardUse, type CardRow } from '../cards/index.js';
import { checkSalePrice } from '../stations/index.js';
import { salesError, SALE_DECLINES } from './sales.errors.js';

export interface SaleRequest {
  cardNo: string;
  pin: string;
  grade: string;
  volumeMl: number;
  unitPrice: number;
  amount: number;
  nozzle: number;
}

export interface SaleAnswer {
  saleId: string;
  status: 'approved' | 'declined';
  approvalCode?: string;
  declineCode?: string;
  /** ISO 8583 action code (DE 39) for the terminal. */
  actionCode: string;
  message?: string;
  amount: number;
  /** Available balance after the sale; null when the card or PIN was not accepted. */
  balance: number | null;
}

/**
 * The amount must be volume × unit price to the fen: the exact value rounded down or up
 * (pumps round either way), never a fen more or less. Integer arithmetic in milli-fen:
 * volumeMl × unitPrice is at most 2·10^11, far inside a safe integer.
 */
export function checkSaleAmount(req: SaleRequest): void {
  const exactMilliFen = req.volumeMl * req.unitPrice;
  if (Math.abs(req.amount * 1000 - exactMilliFen) >= 1000) {
    throw salesError('SALE_AMOUNT_MISMATCH', { field: 'amount', expected: Math.round(exactMilliFen / 1000) });
  }
}

interface StationInfo {
  settlementAccountId: number;
  active: boolean;
  fetchedAtMs: number;
}
// Per database (station ids are per database; tests and tools may serve several in one process).
const stationCaches = new WeakMap<object, Map<number, StationInfo>>();
const STATION_CACHE_MS = 30_000;

/**
 * The station's settlement account and status, cached per database. A miss is read through the
 * sale's own transaction: taking a second pool connection while the transaction holds one would
 * deadlock the pool when as many sales as it has connections miss the cache at once (a cold start
 * under load).
 */
async function stationFor(db: Db, trx: Trx, stationId: number): Promise<StationInfo> {
  let stationCache = stationCaches.get(db);
  if (!stationCache) {
    stationCache = new Map();
    stationCaches.set(db, stationCache);
  }
  const hit = stationCache.get(stationId);
  if (hit && Date.now() - hit.fetchedAtMs < STATION_CACHE_MS) return hit;
  const r = await sql<{ settlement_account_id: number; status: string }>`select settlement_account_id, status from stations where id = ${stationId}`.execute(trx);
  const row = r.rows[0];
  if (!row) throw salesError('SALE_STATION_CLOSED', { stationId });
  const info = { settlementAccountId: row.settlement_account_id, active: row.status === 'active', fetchedAtMs: Date.now() };
  stationCache.set(stationId, info);
  return info;
}

const approvalCode = () => String(randomInt(0, 1_000_000)).padStart(6, '0');

function declineInfo(code: string): { iso: string; zh: string; en: string } {
  return (CARD_DECLINES as Record<string, { iso: string; zh: string; en: string }>)[code] ?? (SALE_DECLINES as Record<string, { iso: string; zh: string; en: string }>)[code] ?? { iso: '100', zh: '拒绝交易', en: 'Do not honour' };
}

/**
 * The one path every sale takes: card state, PIN, grade, limits (cards), then balance across
 * the card's accounts in priority order, the debits, the sale record and its outbox event, in
 * the caller's transaction. A decline moves no money but is recorded (and a wrong PIN counted).
 */
export async function authoriseSale(
  trx: Trx,
  deps: { db: Db; config: Config },
  terminal: TerminalPrincipal,
  req: SaleRequest,
  /** When the fuel was sold; only data loaders (seed-demo) pass a past time. The ledger always records its own time. */
  at?: Date,
): Promise<SaleAnswer> {
  const decided = await decideSale(trx, deps, terminal, req, at);
  await decided.debit?.(trx);
  return decided.answer;
}

/**
 * authoriseSale in two steps. `decideSale` does every check and writes the sale record, the usage
 * and the outbox event; `debit` then posts the ledger transfers. The debits lock the station's
 * settlement account, which every sale at that station shares, so the caller runs them as the
 * very last statements before commit: the hot row's lock is held for one statement and the commit.
 * The accounts are locked and checked in decideSale, so the debits cannot be refused.
 */
export async function decideSale(
  trx: Trx,
  deps: { db: Db; config: Config },
  terminal: TerminalPrincipal,
  req: SaleRequest,
  at?: Date,
): Promise<{ answer: SaleAnswer; debit?: (trx: Trx) => Promise<void> }> {
  const station = await stationFor(deps.db, trx, terminal.stationId);
  if (!station.active) throw salesError('SALE_STATION_CLOSED', { stationId: terminal.stationId });
  const saleId = randomUUID();
  const decision = await authoriseCardUse(trx, deps.config, req, at);
  const now = decision.at;

  const record = async (card: CardRow | null, outcome: { status: 'approved'; approvalCode: string; transfers: unknown[]; balance: number } | { status: 'declined'; code: string; balance: number | null }) => {
    // The sale row and its outbox event in one statement.
    const insertSale = sql`insert into sales (id, card_id, card_no_masked, station_id, terminal_id, nozzle, grade, volume_ml, unit_price, amount, status,
        approval_code, decline_code, transfers, balance_after, business_day, created_at)
      values (${saleId}, ${card?.id ?? null}, ${maskCardNo(req.cardNo)}, ${terminal.stationId}, ${terminal.id}, ${req.nozzle}, ${req.grade},
        ${req.volumeMl}, ${req.unitPrice}, ${req.amount}, ${outcome.status},
        ${outcome.status === 'approved' ? outcome.approvalCode : null}, ${outcome.status === 'declined' ? outcome.code : null},
        ${JSON.stringify(outcome.status === 'approved' ? outcome.transfers : [])}::jsonb, ${outcome.balance}, ${decision.businessDay}::date, ${now})`;
    await publishWith(trx, insertSale, `sale.${outcome.status}`, saleId, {
      saleId,
      cardId: card?.id ?? null,
      stationId: terminal.stationId,
      terminalId: terminal.id,
      grade: req.grade,
      volumeMl: req.volumeMl,
      amount: req.amount,
      ...(outcome.status === 'declined' ? { declineCode: outcome.code } : {}),
    });
  };
  const decline = async (card: CardRow | null, code: string, balance: number | null): Promise<{ answer: SaleAnswer }> => {
    await record(card, { status: 'declined', code, balance });
    const info = declineInfo(code);
    return { answer: { saleId, status: 'declined', declineCode: code, actionCode: info.iso, message: `${info.zh} / ${info.en}`, amount: req.amount, balance } };
  };

  if (!decision.ok) {
    // The balance is shown only to someone who knew the PIN.
    const balance = decision.pinVerified && decision.card ? spendable(await getAccounts(trx, decision.card.account_ids)) : null;
    return decline(decision.card, decision.declineCode, balance);
  }

  // The price after the card's own checks, so a wrong PIN is still counted and answered as such.
  const price = await checkSalePrice(deps.db, trx, { stationId: terminal.stationId, grade: req.grade, unitPrice: req.unitPrice, graceMs: deps.config.priceChangeGraceMs, at });
  if (!price.ok) return decline(decision.card, 'PRICE_MISMATCH', null);

  // Lock the card's accounts (id order) and spend them in priority order.
  const accounts = await lockAccounts(trx, decision.accountIds);
  const total = spendable(accounts);
  if (total < req.amount) return decline(decision.card, 'INSUFFICIENT_FUNDS', total);

  let remaining = req.amount;
  const transfers: Array<{ transferId: string; accountId: number; amount: number }> = [];
  for (const account of accounts) {
    if (remaining === 0) break;
    const part = Math.min(remaining, Math.max(0, account.available));
    if (part === 0) continue;
    transfers.push({ transferId: uuidFrom(`sale:${saleId}:${account.id}`), accountId: account.id, amount: part });
    remaining -= part;
  }
  await recordCardUse(trx, decision.card.id, req, decision.businessDay, now);
  const code = approvalCode();
  const balance = total - req.amount;
  await record(decision.card, { status: 'approved', approvalCode: code, transfers, balance });
  return {
    answer: { saleId, status: 'approved', approvalCode: code, actionCode: '000', amount: req.amount, balance },
    debit: async (t: Trx) => {
      for (const planned of transfers) {
        const res = await transfer(t, {
          id: planned.transferId,
          debitAccountId: planned.accountId,
          creditAccountId: station.settlementAccountId,
          amount: planned.amount,
          code: 'sale',
          metadata: { saleId, terminalId: terminal.id, nozzle: req.nozzle },
        });
        // The accounts are locked and were checked: a refusal here is a broken invariant, not a decline.
        if (!res.ok) throw new Error(`ledger refused a checked sale debit: ${res.code}`);
      }
    },
  };
}

/** What a card's accounts can spend together: each account's available balance, none below zero. */
function spendable(accounts: ReadonlyArray<{ available: number }>): number {
  return accounts.reduce((sum, a) => sum + Math.max(0, a.available), 0);
}

export interface SaleRecord {
  saleId: string;
  cardNo: string;
  stationId: number;
  terminalId: string;
  nozzle: number;
  grade: string;
  volumeMl: number;
  unitPrice: number;
  amount: number;
  status: 'approved' | 'declined';
  approvalCode: string | null;
  declineCode: string | null;
  transfers: Array<{ transferId: string; accountId: number; amount: number }>;
  balanceAfter: number | null;
  businessDay: string;
  createdAt: string;
}

export type SaleRow = {
  id: string;
  card_no_masked: string;
  station_id: number;
  terminal_id: string;
  nozzle: number;
  grade: string;
  volume_ml: number;
  unit_price: number;
  amount: number;
  status: 'approved' | 'declined';
  approval_code: string | null;
  decline_code: string | null;
  transfers: SaleRecord['transfers'];
  balance_after: number | null;
  business_day: string;
  created_at: Date;
};

export function toSaleRecord(r: SaleRow): SaleRecord {
  return {
    saleId: r.id,
    cardNo: r.card_no_masked,
    stationId: r.station_id,
    terminalId: r.terminal_id,
    nozzle: r.nozzle,
    grade: r.grade,
    volumeMl: r.volume_ml,
    unitPrice: r.unit_price,
    amount: r.amount,
    status: r.status,
    approvalCode: r.approval_code,
    declineCode: r.decline_code,
    transfers: r.transfers,
    balanceAfter: r.balance_after,
    businessDay: r.business_day,
    createdAt: r.created_at.toISOString(),
  };
}

/**
 * One sale. The card number is shown in full to callers who may see card numbers (as in the sales
 * list), read from the card; the sale itself keeps only the mask (its number may be unknown).
 */
export async function getSale(db: Executor, saleId: string, opts: { fullCardNo?: boolean } = {}): Promise<SaleRecord> {
  const r = await sql<SaleRow & { card_no: string | null }>`select s.id, s.card_no_masked, s.station_id, s.terminal_id, s.nozzle, s.grade, s.volume_ml, s.unit_price,
      s.amount, s.status, s.approval_code, s.decline_code, s.transfers, s.balance_after,
      to_char(s.business_day, 'YYYY-MM-DD') as business_day, s.created_at, c.card_no
    from sales s left join cards c on c.id = s.card_id where s.id = ${saleId}`.execute(db);
  const row = r.rows[0];
  if (!row) throw salesError('SALE_NOT_FOUND', { saleId });
  const record = toSaleRecord(row);
  return opts.fullCardNo && row.card_no !== null ? { ...record, cardNo: row.card_no } : record;
}
