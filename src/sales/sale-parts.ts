import { randomInt } from 'node:crypto';
import { sql } from 'kysely';
import type { Db, Trx } from '../platform/index.js';
import { publishWith } from '../platform/index.js';
import { forceTransfer, transfer, type Account } from '../ledger/index.js';
import { CARD_DECLINES } from '../cards/index.js';
import type { StoreLine } from '../stations/index.js';
import { salesError, SALE_DECLINES } from './sales.errors.js';

/**
 * What the sale, completion and post-pay paths share: the station lookup, approval codes, decline
 * texts, the spending plan over a card's accounts, the sale row with its outbox event, and the
 * debits run last.
 */

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
export async function stationFor(db: Db, trx: Trx, stationId: number): Promise<StationInfo> {
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

export const newApprovalCode = () => String(randomInt(0, 1_000_000)).padStart(6, '0');

export function declineInfo(code: string): { iso: string; zh: string; en: string } {
  return (CARD_DECLINES as Record<string, { iso: string; zh: string; en: string }>)[code] ?? (SALE_DECLINES as Record<string, { iso: string; zh: string; en: string }>)[code] ?? { iso: '100', zh: '拒绝交易', en: 'Do not honour' };
}

/** What a card's accounts can spend together: each account's available balance, none below zero. */
export function spendable(accounts: ReadonlyArray<{ available: number }>): number {
  return accounts.reduce((sum, a) => sum + Math.max(0, a.available), 0);
}

/** An offline sale or a forced completion left a debt on one of the card's accounts: no online spending until a recharge repays it. */
export function inArrears(accounts: ReadonlyArray<Account>): boolean {
  return accounts.some((a) => a.balance < 0 || a.arrears > 0);
}

/**
 * What the card's open pump authorisations still hold (fen), besides `except` (a completion's own
 * hold must not count against itself): the card's amount limits count it as spent. Asked under
 * the card's row lock, which every authorisation of the card takes before inserting its row.
 */
export async function openHeldAmount(trx: Trx, cardId: number, except: string | null = null): Promise<number> {
  const r = await sql<{ held: number | string }>`select coalesce(sum(held_amount), 0) as held from pump_authorisations
    where card_id = ${cardId} and status in ('held','review') and (${except}::uuid is null or id <> ${except}::uuid)`.execute(trx);
  return Number(r.rows[0]!.held);
}

/**
 * openHeldAmount read at most once per sale: the card's limit check and the risk gate both need it,
 * under the same card lock, so the second read could only repeat the first.
 */
export function heldAmountOnce(trx: Trx): (cardId: number) => Promise<number> {
  let held: Promise<number> | undefined;
  return (cardId) => (held ??= openHeldAmount(trx, cardId));
}

/** One debit of a sale, as sales.transfers records it (a reversal gives back exactly these). */
export interface SaleTransfer {
  transferId: string;
  accountId: number;
  amount: number;
}

/** `amount` spread over the accounts in priority order, each up to what it has available. */
export function planSpend(accounts: ReadonlyArray<{ id: number; available: number }>, amount: number): Array<{ accountId: number; amount: number }> {
  let remaining = amount;
  const parts: Array<{ accountId: number; amount: number }> = [];
  for (const account of accounts) {
    if (remaining === 0) break;
    const part = Math.min(remaining, Math.max(0, account.available));
    if (part === 0) continue;
    parts.push({ accountId: account.id, amount: part });
    remaining -= part;
  }
  return parts;
}

/**
 * The exact fuel amount rounded down or up (pumps round either way), never a fen more or less.
 * Integer arithmetic in milli-fen: volumeMl × unitPrice is at most 2·10^11, far inside a safe integer.
 */
export function fuelAmountMatches(volumeMl: number, unitPrice: number, amount: number): boolean {
  return Math.abs(amount * 1000 - volumeMl * unitPrice) < 1000;
}

export const expectedFuelAmount = (volumeMl: number, unitPrice: number) => Math.round((volumeMl * unitPrice) / 1000);

/** Posted debits to the station's settlement account; a forced one may take its account below zero. */
export async function postDebits(
  trx: Trx,
  debits: ReadonlyArray<SaleTransfer & { forced?: boolean }>,
  creditAccountId: number,
  metadata: Record<string, unknown>,
): Promise<void> {
  for (const d of debits) {
    const req = { id: d.transferId, debitAccountId: d.accountId, creditAccountId, amount: d.amount, code: 'sale', metadata };
    const res = d.forced ? await forceTransfer(trx, { ...req, reason: String(metadata.forcedReason ?? 'forced sale') }) : await transfer(trx, req);
    // The accounts are locked and were checked: a refusal here is a broken invariant, not a decline.
    if (!res.ok) throw new Error(`ledger refused a checked sale debit: ${res.code}`);
  }
}

export interface FuelPart {
  grade: string;
  volumeMl: number;
  unitPrice: number;
  nozzle: number;
}

/** Everything a sale row records. */
export interface NewSale {
  saleId: string;
  cardId: number | null;
  cardNoMasked: string;
  stationId: number;
  terminalId: string;
  fuel: FuelPart | null;
  amount: number;
  items: StoreLine[];
  goodsAmount: number;
  flow: 'online' | 'completion' | 'postpay';
  terminalRef: string | null;
  shiftId: number;
  authorisationId: string | null;
  pumpSaleId: string | null;
  businessDay: string;
  at: Date;
  /** The risk decision the sale was taken under (none when the engine was not asked: a decline before it). */
  risk?: { decisionId: string | null; outcome: string } | null;
}

export type SaleOutcome =
  | { status: 'approved'; approvalCode: string; transfers: SaleTransfer[]; balance: number; forced?: boolean; flags?: string[] }
  | { status: 'declined'; code: string; balance: number | null };

/** The sale row and its outbox event in one statement. */
export async function insertSale(trx: Trx, s: NewSale, outcome: SaleOutcome): Promise<void> {
  const approved = outcome.status === 'approved';
  const insert = sql`insert into sales (id, card_id, card_no_masked, station_id, terminal_id, nozzle, grade, volume_ml, unit_price, amount, status,
      approval_code, decline_code, transfers, balance_after, business_day, created_at,
      flow, terminal_ref, authorisation_id, pump_sale_id, items, goods_amount, forced, flags, shift_id, risk_decision_id, risk_outcome)
    values (${s.saleId}, ${s.cardId}, ${s.cardNoMasked}, ${s.stationId}, ${s.terminalId}, ${s.fuel?.nozzle ?? null}, ${s.fuel?.grade ?? null},
      ${s.fuel?.volumeMl ?? null}, ${s.fuel?.unitPrice ?? null}, ${s.amount}, ${outcome.status},
      ${approved ? outcome.approvalCode : null}, ${approved ? null : outcome.code},
      ${JSON.stringify(approved ? outcome.transfers : [])}::jsonb, ${outcome.balance}, ${s.businessDay}::date, ${s.at},
      ${s.flow}, ${s.terminalRef}, ${s.authorisationId}, ${s.pumpSaleId}, ${JSON.stringify(s.items)}::jsonb, ${s.goodsAmount},
      ${approved ? (outcome.forced ?? false) : false}, ${approved ? (outcome.flags ?? []) : []}::text[], ${s.shiftId},
      ${s.risk?.decisionId ?? null}, ${s.risk?.outcome ?? null})`;
  await publishWith(trx, insert, `sale.${outcome.status}`, s.saleId, {
    saleId: s.saleId,
    cardId: s.cardId,
    stationId: s.stationId,
    terminalId: s.terminalId,
    grade: s.fuel?.grade ?? null,
    volumeMl: s.fuel?.volumeMl ?? 0,
    amount: s.amount,
    goodsAmount: s.goodsAmount,
    flow: s.flow,
    ...(outcome.status === 'declined' ? { declineCode: outcome.code } : {}),
    ...(s.risk && s.risk.outcome !== 'approve' ? { riskOutcome: s.risk.outcome, riskDecisionId: s.risk.decisionId } : {}),
    // Forced or flagged (an overrun, a price not in force, goods not posted): review and alerts see it on the event.
    ...(approved && (outcome.forced || (outcome.flags ?? []).length > 0) ? { forced: outcome.forced ?? false, flags: outcome.flags ?? [] } : {}),
  });
}
