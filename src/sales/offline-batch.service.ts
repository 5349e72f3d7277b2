import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Config, TerminalPrincipal, Trx } from '../platform/index.js';
import { businessDay, maskCardNo, parseIsoTime, publishWith, sha256Hex, stableStringify } from '../platform/index.js';
import { forceTransfer, lockAccounts, systemAccount, transfer, uuidFrom, type Account } from '../ledger/index.js';
import { findCardByNo, recordCardUse, type CardRow } from '../cards/index.js';
import { openShiftFor } from './forecourt-locks.js';
import { offlineError, type OfflineReject } from './offline-batch.errors.js';
import { listsHeld } from './offline-batch.lists.js';
import { openHeldAmount } from './sale-parts.js';
import { assessRisk, saleRiskOf, type RiskGateDeps } from './sale-risk.js';

/**
 * Offline sales (脱机交易) uploaded by a terminal after it approved them alone. The terminal
 * already gave the fuel: a sale is posted whatever the card's balance or state now, and the
 * only sales refused are those that cannot be a real sale (unknown card, wrong amount…).
 * See docs/offline.md for the rules and their reasons.
 */

export const MAX_OFFLINE_BATCH_SALES = 200;
/** How old an offline sale may be when it arrives. */
export const OFFLINE_MAX_AGE_MS = 7 * 24 * 3600_000;

export interface OfflineSaleInput {
  seq: number;
  cardNo: string;
  grade: string;
  volumeMl: number;
  unitPrice: number;
  amount: number;
  nozzle: number;
  occurredAt: string;
  approvalCode: string;
}

export interface OfflineBatchInput {
  batchNo: string;
  hotlistVersion?: number | string;
  sales: OfflineSaleInput[];
}

export type OfflineFlag = 'offline_overdraft' | 'offline_hot_card' | 'offline_card_not_usable' | 'offline_over_floor' | 'risk_flagged';

export interface OfflineResult {
  seq: number;
  status: 'posted' | 'duplicate' | 'rejected';
  saleId?: string;
  forced?: boolean;
  liability?: 'programme' | 'station';
  flags?: OfflineFlag[];
  code?: OfflineReject;
}

export interface OfflineSummary {
  received: number;
  posted: number;
  duplicates: number;
  rejected: number;
  forced: number;
  stationLiability: number;
}

export interface OfflineBatchAnswer {
  batchId: string;
  batchNo: string;
  replayed: boolean;
  summary: OfflineSummary;
  results: OfflineResult[];
}

interface PlannedTransfer {
  transferId: string;
  accountId: number;
  amount: number;
  forced: boolean;
  saleId: string;
  seq: number;
}

const refOf = (seq: number) => `offline:${seq}`;

/** The terminal's hot-list version: a JSON number or a digit string (xid8 values can outgrow a double one day). */
function parseVersion(v: number | string | undefined): number | null {
  if (v === undefined) return null;
  const n = typeof v === 'number' ? v : /^[0-9]{1,16}$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw offlineError('OFFLINE_HOTLIST_VERSION_INVALID', { field: 'hotlistVersion' });
  return n;
}

/** Same sequence number, same sale? Everything the terminal printed must match. */
function sameSale(
  a: { cardNo: string; amount: number; volumeMl: number; grade: string; nozzle: number; at: number | null; approvalCode: string },
  s: OfflineSaleInput,
): boolean {
  const at = parseIsoTime(s.occurredAt)?.at.getTime() ?? null;
  return (
    a.cardNo === s.cardNo &&
    a.amount === s.amount &&
    a.volumeMl === s.volumeMl &&
    a.grade === s.grade &&
    a.nozzle === s.nozzle &&
    a.at !== null &&
    a.at === at &&
    a.approvalCode === s.approvalCode
  );
}

/** Exact as the online rule: volume × price rounded either way, never a fen further. */
const amountMatches = (s: OfflineSaleInput) => Math.abs(s.amount * 1000 - s.volumeMl * s.unitPrice) < 1000;

/** Could the card buy fuel online right now? (It is posted either way; this only flags it.) */
function usableNow(card: CardRow, now: Date): boolean {
  if (card.status !== 'active') return false;
  if (card.kind === 'master') return false;
  if (card.kind === 'sub' && card.master_status === 'frozen') return false;
  return card.usable_from === null || card.usable_from <= now;
}

/**
 * Posts one batch in the caller's transaction. Idempotent twice over: by (terminal, batchNo) —
 * the batch row is inserted first, so a concurrent upload of the same batch waits on it and then
 * answers the stored result — and by (terminal, seq), through the sale's terminal_ref under the
 * terminal-reference lock shared with reversals.
 */
export async function uploadOfflineBatch(
  trx: Trx,
  deps: { config: Config } & Omit<RiskGateDeps, 'config'>,
  terminal: TerminalPrincipal,
  body: OfflineBatchInput,
): Promise<OfflineBatchAnswer> {
  const claimedVersion = parseVersion(body.hotlistVersion);
  // The parsed version, so "812345" and 812345 are the same batch on a retry.
  const requestHash = sha256Hex(stableStringify({ ...body, hotlistVersion: claimedVersion ?? undefined }));
  const batchId = randomUUID();
  const inserted = await sql<{ id: string }>`insert into offline_batches (id, terminal_id, station_id, batch_no, hotlist_version,
      received, posted, duplicates, rejected, forced, station_liability, request_hash)
    values (${batchId}, ${terminal.id}, ${terminal.stationId}, ${body.batchNo}, ${claimedVersion}, ${body.sales.length}, 0, 0, 0, 0, 0, ${requestHash})
    on conflict (terminal_id, batch_no) do nothing returning id`.execute(trx);
  if (inserted.rows.length === 0) return storedAnswer(trx, terminal.id, body.batchNo, [requestHash, sha256Hex(stableStringify(body))]);

  const shiftId = await openShiftFor(trx, terminal);
  const clock = (await sql<{ now: Date; version: string }>`select now() as now, pg_snapshot_xmin(pg_current_snapshot())::text as version`.execute(trx)).rows[0]!;
  const now = clock.now;
  // A version above the current one was never given by this server (a restored database): judge
  // by the list as it is now rather than by a list nobody can reconstruct.
  const current = Number(clock.version);

  // Every sequence number of the batch, locked in one order so two batches sharing some cannot deadlock.
  const seqs = [...new Set(body.sales.map((s) => s.seq))].sort((a, b) => a - b);
  const refs = seqs.map(refOf);
  // One statement, the keys of lockTerminalRef (forecourt-locks.ts) exactly, taken in seq order
  // (the volatile lock call is evaluated after the sort on the ordinality).
  const lockKeys = refs.map((ref) => `${terminal.id}\n${ref}`);
  await sql`select pg_advisory_xact_lock(7401, hashtext(k)) from unnest(${lockKeys}::text[]) with ordinality as u(k, n) order by n`.execute(trx);
  const existing = new Map(
    (
      await sql<{
        terminal_ref: string;
        id: string;
        card_no: string;
        amount: number;
        volume_ml: number | null;
        grade: string | null;
        nozzle: number | null;
        offline_at: Date | null;
        approval_code: string | null;
      }>`select s.terminal_ref, s.id, c.card_no, s.amount, s.volume_ml, s.grade, s.nozzle, s.offline_at, s.approval_code
        from sales s join cards c on c.id = s.card_id
        where s.terminal_id = ${terminal.id} and s.terminal_ref = any(${refs}::text[])`.execute(trx)
    ).rows.map((r) => [
      r.terminal_ref,
      {
        saleId: r.id,
        cardNo: r.card_no,
        amount: Number(r.amount),
        volumeMl: Number(r.volume_ml),
        grade: r.grade ?? '',
        nozzle: Number(r.nozzle),
        at: r.offline_at ? r.offline_at.getTime() : null,
        approvalCode: r.approval_code ?? '',
      },
    ]),
  );
  const reversed = new Set(
    (
      await sql<{ original_ref: string }>`select original_ref from sale_reversals
        where terminal_id = ${terminal.id} and original_ref = any(${refs}::text[])`.execute(trx)
    ).rows.map((r) => r.original_ref),
  );
  const grades = new Set(
    (await sql<{ code: string }>`select code from fuel_grades where code = any(${[...new Set(body.sales.map((s) => s.grade))]}::text[])`.execute(trx)).rows.map(
      (r) => r.code,
    ),
  );

  // Cards, then their accounts, each in id order: the online sale path's order, so no deadlock with it.
  const cardNos = [...new Set(body.sales.map((s) => s.cardNo))];
  await sql`select id from cards where card_no = any(${cardNos}::text[]) order by id for update`.execute(trx);
  const cards = new Map<string, CardRow>();
  for (const no of cardNos) {
    const card = await findCardByNo(trx, no);
    if (card) cards.set(no, card);
  }
  const judged = await listsHeld(trx, deps.config, terminal.id, body.sales, cards, claimedVersion, current);
  const accounts = new Map<number, Account>();
  for (const a of await lockAccounts(trx, [...new Set([...cards.values()].flatMap((c) => c.account_ids))])) accounts.set(a.id, a);
  const settlement = (await sql<{ settlement_account_id: number }>`select settlement_account_id from stations where id = ${terminal.stationId}`.execute(trx)).rows[0]!
    .settlement_account_id;

  const results: OfflineResult[] = [];
  const postedHere = new Map<number, { saleId: string; sale: OfflineSaleInput }>();
  const planned: PlannedTransfer[] = [];
  const summary: OfflineSummary = { received: body.sales.length, posted: 0, duplicates: 0, rejected: 0, forced: 0, stationLiability: 0 };
  const reject = (seq: number, code: OfflineReject) => {
    summary.rejected++;
    results.push({ seq, status: 'rejected', code });
  };

  for (const s of body.sales) {
    const ref = refOf(s.seq);
    const before = existing.get(ref);
    const here = postedHere.get(s.seq);
    const prior = before ? { saleId: before.saleId, same: sameSale(before, s) } : here ? { saleId: here.saleId, same: sameSale(asPrinted(here.sale), s) } : null;
    if (prior) {
      // A terminal that reuses a number for another sale (a reset journal) must not lose that sale silently.
      if (!prior.same) reject(s.seq, 'OFFLINE_SEQ_CONFLICT');
      else {
        summary.duplicates++;
        results.push({ seq: s.seq, status: 'duplicate', saleId: prior.saleId });
      }
      continue;
    }
    const at = parseIsoTime(s.occurredAt)?.at;
    const card = cards.get(s.cardNo);
    if (reversed.has(ref)) reject(s.seq, 'OFFLINE_SALE_REVERSED');
    else if (!at || at.getTime() > now.getTime() + deps.config.terminalClockSkewMs || at.getTime() < now.getTime() - OFFLINE_MAX_AGE_MS) {
      reject(s.seq, 'OFFLINE_TIME_OUT_OF_RANGE');
    } else if (!amountMatches(s)) reject(s.seq, 'OFFLINE_AMOUNT_MISMATCH');
    else if (!grades.has(s.grade)) reject(s.seq, 'OFFLINE_GRADE_UNKNOWN');
    else if (!card) reject(s.seq, 'OFFLINE_CARD_UNKNOWN');
    else {
      const saleId = randomUUID();
      const day = businessDay(at, deps.config.timeZone);
      const floors = judged.floorsAt(card.id, at.getTime());
      const spentBefore = judged.spent
        .filter((x) => x.cardId === card.id && x.day === day && (x.at < at.getTime() || (x.at === at.getTime() && x.inBatch)))
        .reduce((sum, x) => sum + x.amount, 0);
      const overFloor = s.amount > floors.sale || spentBefore + s.amount > floors.day;
      const hot = judged.hotAt(card.id, at.getTime());
      const posted = await postOfflineSale(trx, deps, { terminal, shiftId, settlement, saleId, sale: s, at, now, card, accounts, planned, hot, overFloor });
      judged.spent.push({ cardId: card.id, day, at: at.getTime(), amount: s.amount, inBatch: true });
      postedHere.set(s.seq, { saleId, sale: s });
      summary.posted++;
      if (posted.forced) summary.forced++;
      if (posted.liability === 'station') summary.stationLiability++;
      results.push({ seq: s.seq, status: 'posted', saleId, forced: posted.forced, liability: posted.liability, flags: posted.flags });
    }
  }

  // The money last: the station's settlement account is shared by every sale there, so its lock
  // is held only from here to the commit. The accounts were locked and planned against, so a
  // refusal now is a broken invariant, not a business answer.
  for (const p of planned) {
    const req = {
      id: p.transferId,
      debitAccountId: p.accountId,
      creditAccountId: settlement,
      amount: p.amount,
      code: 'sale',
      metadata: { saleId: p.saleId, terminalId: terminal.id, seq: p.seq, batchId, flow: 'offline' },
    };
    const res = p.forced ? await forceTransfer(trx, { ...req, reason: 'offline_sale' }) : await transfer(trx, req);
    if (!res.ok) throw new Error(`ledger refused a planned offline sale debit: ${res.code}`);
  }

  await sql`update offline_batches set posted = ${summary.posted}, duplicates = ${summary.duplicates}, rejected = ${summary.rejected},
      forced = ${summary.forced}, station_liability = ${summary.stationLiability}, results = ${JSON.stringify(results)}::jsonb
    where id = ${batchId}`.execute(trx);
  return { batchId, batchNo: body.batchNo, replayed: false, summary, results };
}

/**
 * One sale: the station's liability when the terminal's own hot list held the card (nothing is
 * taken from the card), else the card pays — what its accounts have in priority order, the
 * shortfall forced on the first open account (arrears, alerted by the ledger).
 */
async function postOfflineSale(
  trx: Trx,
  deps: { config: Config } & Omit<RiskGateDeps, 'config'>,
  x: {
    terminal: TerminalPrincipal;
    shiftId: number;
    settlement: number;
    saleId: string;
    sale: OfflineSaleInput;
    at: Date;
    now: Date;
    card: CardRow;
    accounts: Map<number, Account>;
    planned: PlannedTransfer[];
    hot: boolean;
    overFloor: boolean;
  },
): Promise<{ forced: boolean; liability: 'programme' | 'station'; flags: OfflineFlag[] }> {
  const { sale: s, card, saleId } = x;
  const config = deps.config;
  const day = businessDay(x.at, config.timeZone);
  const flags: OfflineFlag[] = [];
  // The sale happened at the terminal's time and is posted whatever the engine says: a decline or a
  // freeze becomes a flag on the sale and a case (and the card frozen for what comes next).
  const risk = await assessRisk(trx, deps, {
    card,
    channel: 'offline',
    amount: s.amount,
    volumeMl: s.volumeMl,
    grade: s.grade,
    stationId: x.terminal.stationId,
    terminalId: x.terminal.id,
    at: x.at,
    pendingAmount: await openHeldAmount(trx, card.id),
    saleId,
  });
  if (risk.outcome !== 'approve') flags.push('risk_flagged');
  const recorded = saleRiskOf(risk);
  const transfers: Array<{ transferId: string; accountId: number; amount: number }> = [];
  let forced = false;
  let balance: number | null = null;
  const liability = x.hot || x.overFloor ? 'station' : 'programme';

  if (liability === 'station') {
    if (x.hot) flags.push('offline_hot_card');
    if (x.overFloor) flags.push('offline_over_floor');
  } else {
    if (!usableNow(card, x.now)) flags.push('offline_card_not_usable');
    const open = card.account_ids.map((id) => x.accounts.get(id)!).filter((a) => a.status === 'open');
    const parts = new Map<number, number>();
    if (open.length === 0) {
      // Closed with its money refunded before the terminal learnt of it: nothing left to take
      // from, so the programme writes it off and still pays the station.
      const writeOff = await systemAccount(trx, 'write_off', 'offline_unrecoverable', '脱机交易无法扣款核销 / Offline sales not recoverable');
      parts.set(writeOff.id, s.amount);
      if (!flags.includes('offline_card_not_usable')) flags.push('offline_card_not_usable');
    } else {
      let remaining = s.amount;
      for (const a of open) {
        const part = Math.min(remaining, Math.max(0, a.available));
        if (part > 0) parts.set(a.id, part);
        remaining -= part;
      }
      if (remaining > 0) {
        const first = open[0]!;
        parts.set(first.id, (parts.get(first.id) ?? 0) + remaining);
        forced = true;
        flags.push('offline_overdraft');
      }
    }
    for (const [accountId, amount] of parts) {
      const transferId = uuidFrom(`offline-sale:${saleId}:${accountId}`);
      transfers.push({ transferId, accountId, amount });
      x.planned.push({ transferId, accountId, amount, forced: forced && accountId === open[0]?.id, saleId, seq: s.seq });
      const a = x.accounts.get(accountId);
      if (a) x.accounts.set(accountId, { ...a, balance: a.balance - amount, available: a.available - amount });
    }
    if (open.length > 0) balance = card.account_ids.reduce((sum, id) => sum + x.accounts.get(id)!.available, 0);
    // Never move the card's last sale time backwards: an online sale may have come after this one.
    const lastSale = card.last_sale_at && card.last_sale_at > x.at ? card.last_sale_at : x.at;
    await recordCardUse(trx, card.id, s, day, lastSale);
    card.last_sale_at = lastSale;
  }

  const insert = sql`insert into sales (id, card_id, card_no_masked, station_id, terminal_id, nozzle, grade, volume_ml, unit_price, amount,
      status, approval_code, transfers, balance_after, business_day, flow, terminal_ref, forced, flags, liability, shift_id, offline_at,
      risk_decision_id, risk_outcome)
    values (${saleId}, ${card.id}, ${maskCardNo(s.cardNo)}, ${x.terminal.stationId}, ${x.terminal.id}, ${s.nozzle}, ${s.grade}, ${s.volumeMl},
      ${s.unitPrice}, ${s.amount}, 'approved', ${s.approvalCode}, ${JSON.stringify(transfers)}::jsonb, ${balance}, ${day}::date, 'offline',
      ${refOf(s.seq)}, ${forced}, ${flags}::text[], ${liability}, ${x.shiftId}, ${x.at},
      ${recorded?.decisionId ?? null}, ${recorded?.outcome ?? null})`;
  await publishWith(trx, insert, 'sale.approved', saleId, {
    saleId,
    cardId: card.id,
    stationId: x.terminal.stationId,
    terminalId: x.terminal.id,
    grade: s.grade,
    volumeMl: s.volumeMl,
    amount: s.amount,
    flow: 'offline',
    forced,
    liability,
    flags,
  });
  return { forced, liability, flags };
}

const asPrinted = (s: OfflineSaleInput) => ({ ...s, at: parseIsoTime(s.occurredAt)?.at.getTime() ?? null });

/** The answer a batch got the first time (the same batch again), or a conflict when its sales differ. */
async function storedAnswer(trx: Trx, terminalId: string, batchNo: string, requestHashes: string[]): Promise<OfflineBatchAnswer> {
  const r = await sql<{
    id: string;
    request_hash: string | null;
    received: number;
    posted: number;
    duplicates: number;
    rejected: number;
    forced: number;
    station_liability: number;
    results: OfflineResult[];
  }>`select id, request_hash, received, posted, duplicates, rejected, forced, station_liability, results
    from offline_batches where terminal_id = ${terminalId} and batch_no = ${batchNo}`.execute(trx);
  const row = r.rows[0]!;
  // The second hash is the raw body's, as batches stored before the version was normalised were hashed.
  if (!requestHashes.includes(row.request_hash ?? '')) throw offlineError('OFFLINE_BATCH_CONFLICT', { batchId: row.id, batchNo });
  return {
    batchId: row.id,
    batchNo,
    replayed: true,
    summary: {
      received: row.received,
      posted: row.posted,
      duplicates: row.duplicates,
      rejected: row.rejected,
      forced: row.forced,
      stationLiability: row.station_liability,
    },
    results: row.results,
  };
}
