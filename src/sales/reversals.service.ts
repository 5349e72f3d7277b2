import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Actor, Executor, TerminalPrincipal, Trx } from '../platform/index.js';
import { audit, CURSOR_TIME_FORMAT, decodeCursor, encodeCursor } from '../platform/index.js';
import { lockTerminalRef, openShiftFor } from './forecourt-locks.js';
import { salesError } from './sales.errors.js';
import { reversalsError } from './reversals.errors.js';
import { giveBack, lockAuthorisationByRef, lockAuthorisationOfSale, lockSale, releaseHolds } from './reversals.undo.js';

export const REVERSAL_REASONS = ['timeout', 'customer_cancel', 'pump_failure', 'bad_response', 'other'] as const;
export type ReversalReason = (typeof REVERSAL_REASONS)[number];

/** ISO 8583 action code of a reversal advice response (1430): accepted, whatever there was to undo. */
const REVERSAL_ACCEPTED = '400';

export interface ReversalAnswer {
  reversalId: string;
  originalRef: string;
  target: 'sale' | 'authorisation' | 'none';
  saleId?: string;
  authorisationId?: string;
  /** Money given back to the card (fen); for an authorisation, the holds released. */
  amount: number;
  status: 'reversed' | 'recorded';
  actionCode: string;
  createdAt: string;
}

interface StoredReversal {
  id: string;
  original_ref: string;
  target: 'sale' | 'authorisation' | 'none';
  sale_id: string | null;
  authorisation_id: string | null;
  amount: number;
  outcome: 'reversed' | 'voided' | 'recorded';
  created_at: Date;
}

function answerOf(r: StoredReversal): ReversalAnswer {
  return {
    reversalId: r.id,
    originalRef: r.original_ref,
    target: r.target,
    ...(r.sale_id ? { saleId: r.sale_id } : {}),
    ...(r.authorisation_id ? { authorisationId: r.authorisation_id } : {}),
    amount: r.amount,
    // A void found by a reversal: the money went back all the same.
    status: r.outcome === 'recorded' ? 'recorded' : 'reversed',
    actionCode: REVERSAL_ACCEPTED,
    createdAt: r.created_at.toISOString(),
  };
}

async function storedReversal(trx: Trx, terminalId: string, ref: string): Promise<StoredReversal | null> {
  const r = await sql<StoredReversal>`select id, original_ref, target, sale_id, authorisation_id, amount, outcome, created_at
    from sale_reversals where terminal_id = ${terminalId} and original_ref = ${ref}`.execute(trx);
  return r.rows[0] ?? null;
}

async function insertReversal(
  trx: Trx,
  row: {
    terminal: TerminalPrincipal;
    originalRef: string;
    kind: 'reversal' | 'void';
    reason: string;
    target: StoredReversal['target'];
    saleId: string | null;
    authorisationId: string | null;
    amount: number;
    outcome: StoredReversal['outcome'];
    shiftId: number;
    staff?: string | null;
    note?: string | null;
  },
): Promise<StoredReversal> {
  const r = await sql<StoredReversal>`insert into sale_reversals (id, terminal_id, original_ref, kind, reason, target, sale_id, authorisation_id,
      staff, amount, outcome, shift_id, station_id, note, created_at)
    values (${randomUUID()}, ${row.terminal.id}, ${row.originalRef}, ${row.kind}, ${row.reason}, ${row.target}, ${row.saleId}, ${row.authorisationId},
      ${row.staff ?? null}, ${row.amount}, ${row.outcome}, ${row.shiftId}, ${row.terminal.stationId}, ${row.note ?? null}, clock_timestamp())
    returning id, original_ref, target, sale_id, authorisation_id, amount, outcome, created_at`.execute(trx);
  return r.rows[0]!;
}

/**
 * A terminal's reversal (冲正) of one of its own originals, named by the original's terminal
 * reference. Accepted whatever it finds; recorded once per reference, so a repeat answers as the
 * first did and a late original is declined (ALREADY_REVERSED) by the sale path, which takes the
 * same reference lock.
 */
export async function reverseByRef(trx: Trx, terminal: TerminalPrincipal, req: { originalRef: string; reason: ReversalReason }): Promise<ReversalAnswer> {
  // The reference, then the shift, in the sale path's order. Holding the shift FOR SHARE makes a
  // close wait for this reversal as for a sale.
  await lockTerminalRef(trx, terminal.id, req.originalRef);
  const shiftId = await openShiftFor(trx, terminal);
  const prior = await storedReversal(trx, terminal.id, req.originalRef);
  if (prior) return answerOf(prior);

  const record = (target: StoredReversal['target'], saleId: string | null, authorisationId: string | null, amount: number, undone: boolean) =>
    insertReversal(trx, {
      terminal,
      originalRef: req.originalRef,
      kind: 'reversal',
      reason: req.reason,
      target,
      saleId,
      authorisationId,
      amount,
      outcome: undone ? 'reversed' : 'recorded',
      shiftId,
    });

  const auth = await lockAuthorisationByRef(trx, terminal.id, req.originalRef);
  if (auth) {
    if (auth.status === 'held' || auth.status === 'review') return answerOf(await record('authorisation', null, auth.id, await releaseHolds(trx, auth), true));
    if ((auth.status === 'completed' || auth.status === 'forced') && auth.sale_id) {
      const sale = await lockSale(trx, auth.sale_id);
      if (sale?.status === 'approved') {
        const returned = await giveBack(trx, sale, 'reversed');
        return answerOf(await record('authorisation', sale.id, auth.id, returned, true));
      }
      return answerOf(await record('authorisation', auth.sale_id, auth.id, 0, false));
    }
    if (auth.status === 'expired') {
      // Its holds are already released, but the terminal has said the fill did not happen: a late
      // completion must be refused (AUTHORISATION_REVERSED), not posted as a forced sale.
      await sql`update pump_authorisations set status = 'reversed' where id = ${auth.id} and status = 'expired'`.execute(trx);
    }
    // Expired (released by the job) or already reversed through its completion: no money left to move.
    return answerOf(await record('authorisation', auth.sale_id, auth.id, 0, false));
  }

  const found = await sql<{ id: string }>`select id from sales where terminal_id = ${terminal.id} and terminal_ref = ${req.originalRef}`.execute(trx);
  const saleId = found.rows[0]?.id;
  if (!saleId) return answerOf(await record('none', null, null, 0, false));
  await lockAuthorisationOfSale(trx, saleId);
  const sale = (await lockSale(trx, saleId))!;
  if (sale.status !== 'approved') return answerOf(await record('sale', sale.id, null, 0, false));
  const returned = await giveBack(trx, sale, 'reversed');
  return answerOf(await record('sale', sale.id, null, returned, true));
}

export interface VoidAnswer {
  saleId: string;
  status: 'voided';
  amount: number;
  reversalId: string;
}

/**
 * The cashier's void (撤销) of a sale of this terminal, approved in the shift still open. The open
 * shift is read FOR SHARE: a close in progress makes the void wait and then find the shift
 * closed (VOID_OUTSIDE_SHIFT); a void in progress makes the close wait and count it.
 */
export async function voidSale(
  trx: Trx,
  terminal: TerminalPrincipal,
  actor: Actor,
  saleId: string,
  req: { cashier?: string; reason?: string },
): Promise<VoidAnswer> {
  const found = await sql<{ terminal_id: string; terminal_ref: string | null }>`select terminal_id, terminal_ref from sales where id = ${saleId}`.execute(trx);
  const head = found.rows[0];
  // Another terminal's sale is not this terminal's to know about.
  if (!head || head.terminal_id !== terminal.id) throw salesError('SALE_NOT_FOUND', { saleId });
  const ref = head.terminal_ref ?? `sale:${saleId}`;
  await lockTerminalRef(trx, terminal.id, ref);
  // Not openShiftFor: a void never opens a shift, it needs the one its sale is in to be open still.
  const open = await sql<{ id: number }>`select id from terminal_shifts where terminal_id = ${terminal.id} and closed_at is null for share`.execute(trx);
  const openShiftId = open.rows[0]?.id ?? null;
  await lockAuthorisationOfSale(trx, saleId);
  const sale = (await lockSale(trx, saleId))!;
  if (sale.status !== 'approved') throw reversalsError('SALE_NOT_VOIDABLE', { saleId, status: sale.status });
  const prior = await storedReversal(trx, terminal.id, ref);
  if (prior) throw reversalsError('SALE_NOT_VOIDABLE', { saleId, status: sale.status, reversalId: prior.id });
  if (openShiftId === null || sale.shift_id !== openShiftId) {
    throw reversalsError('VOID_OUTSIDE_SHIFT', { saleId, saleShiftId: sale.shift_id, openShiftId });
  }
  const amount = await giveBack(trx, sale, 'voided');
  const row = await insertReversal(trx, {
    terminal,
    originalRef: ref,
    kind: 'void',
    reason: 'cashier_void',
    target: 'sale',
    saleId,
    authorisationId: null,
    amount,
    outcome: 'voided',
    shiftId: openShiftId,
    staff: req.cashier ?? null,
    note: req.reason ?? null,
  });
  await audit(trx, actor, {
    action: 'sale.void',
    targetType: 'sale',
    targetId: saleId,
    details: { reversalId: row.id, amount, shiftId: openShiftId, ...(req.cashier ? { cashier: req.cashier } : {}), ...(req.reason ? { reason: req.reason } : {}) },
  });
  return { saleId, status: 'voided', amount, reversalId: row.id };
}

export interface ReversalItem {
  reversalId: string;
  kind: 'reversal' | 'void';
  terminalId: string;
  stationId: number | null;
  originalRef: string;
  reason: string;
  target: 'sale' | 'authorisation' | 'none';
  saleId: string | null;
  authorisationId: string | null;
  amount: number;
  outcome: 'reversed' | 'voided' | 'recorded';
  cashier: string | null;
  note: string | null;
  shiftId: number | null;
  createdAt: string;
}

export async function listReversals(
  db: Executor,
  f: { stationId?: number; terminalId?: string; kind?: 'reversal' | 'void'; limit: number; cursor?: string },
): Promise<{ items: ReversalItem[]; nextCursor: string | null }> {
  const after = decodeCursor(f.cursor);
  const conds = [sql`true`];
  if (f.stationId !== undefined) conds.push(sql`station_id = ${f.stationId}`);
  if (f.terminalId !== undefined) conds.push(sql`terminal_id = ${f.terminalId}`);
  if (f.kind !== undefined) conds.push(sql`kind = ${f.kind}`);
  if (after) conds.push(sql`(created_at, id) < (${after.at}::timestamptz, ${after.id}::uuid)`);
  const r = await sql<{
    id: string;
    kind: 'reversal' | 'void';
    terminal_id: string;
    station_id: number | null;
    original_ref: string;
    reason: string;
    target: ReversalItem['target'];
    sale_id: string | null;
    authorisation_id: string | null;
    amount: number;
    outcome: ReversalItem['outcome'];
    staff: string | null;
    note: string | null;
    shift_id: number | null;
    created_at: Date;
    cursor_at: string;
  }>`select id, kind, terminal_id, station_id, original_ref, reason, target, sale_id, authorisation_id, amount, outcome, staff, note,
      shift_id, created_at, to_char(created_at at time zone 'UTC', ${CURSOR_TIME_FORMAT}) as cursor_at
    from sale_reversals where ${sql.join(conds, sql` and `)}
    order by created_at desc, id desc limit ${f.limit + 1}`.execute(db);
  const rows = r.rows.slice(0, f.limit);
  const last = rows[rows.length - 1];
  return {
    items: rows.map((x) => ({
      reversalId: x.id,
      kind: x.kind,
      terminalId: x.terminal_id,
      stationId: x.station_id,
      originalRef: x.original_ref,
      reason: x.reason,
      target: x.target,
      saleId: x.sale_id,
      authorisationId: x.authorisation_id,
      amount: x.amount,
      outcome: x.outcome,
      cashier: x.staff,
      note: x.note,
      shiftId: x.shift_id,
      createdAt: x.created_at.toISOString(),
    })),
    nextCursor: r.rows.length > f.limit && last ? encodeCursor(last.cursor_at, last.id) : null,
  };
}
