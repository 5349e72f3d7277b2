import { sql } from 'kysely';
import type { Executor, TerminalPrincipal, Trx } from '../platform/index.js';
import { businessDay, CURSOR_TIME_FORMAT } from '../platform/index.js';
import { openShiftFor } from './forecourt-locks.js';
import { reversalsError } from './reversals.errors.js';

/**
 * The kinds a shift's totals are counted by, as a terminal's reconciliation (1520) declares them.
 * Each sale of the shift counts in exactly one of the first six, by its current status: approved
 * ones by the flow they came by, voided and reversed ones by that status. `goods` is an "of which":
 * the store goods inside the approved sales (count: approved sales with goods).
 */
export const SHIFT_KINDS = ['online', 'completion', 'postpay', 'offline', 'voided', 'reversed', 'goods'] as const;
export type ShiftKind = (typeof SHIFT_KINDS)[number];

export interface KindTotal {
  kind: ShiftKind;
  count: number;
  amount: number;
}

export interface Difference {
  kind: ShiftKind;
  declaredCount: number;
  computedCount: number;
  declaredAmount: number;
  computedAmount: number;
}

/** The platform's totals of a shift, every kind present (zeros included), in SHIFT_KINDS order. */
export async function computeShiftTotals(db: Executor, shiftId: number): Promise<KindTotal[]> {
  const r = await sql<{ kind: string; count: number; amount: number }>`
    select case when status = 'approved' then flow else status end as kind, count(*)::int as count, coalesce(sum(amount), 0)::bigint as amount
      from sales where shift_id = ${shiftId} and status <> 'declined' group by 1
    union all
    select 'goods', count(*) filter (where goods_amount > 0)::int, coalesce(sum(goods_amount), 0)::bigint
      from sales where shift_id = ${shiftId} and status = 'approved'`.execute(db);
  const byKind = new Map(r.rows.map((x) => [x.kind, x]));
  return SHIFT_KINDS.map((kind) => ({ kind, count: byKind.get(kind)?.count ?? 0, amount: byKind.get(kind)?.amount ?? 0 }));
}

/**
 * Declared against computed, kind by kind. A kind the terminal did not declare counts as
 * declared zero: a terminal that forgot its post-pay sales is out of balance, not silent.
 */
export function compareTotals(declared: readonly KindTotal[], computed: readonly KindTotal[]): Difference[] {
  const d = new Map(declared.map((x) => [x.kind, x]));
  const out: Difference[] = [];
  for (const c of computed) {
    const mine = d.get(c.kind) ?? { count: 0, amount: 0 };
    if (mine.count !== c.count || mine.amount !== c.amount) {
      out.push({ kind: c.kind, declaredCount: mine.count, computedCount: c.count, declaredAmount: mine.amount, computedAmount: c.amount });
    }
  }
  return out;
}

/** Declared totals: each kind at most once. */
export function checkDeclared(declared: ReadonlyArray<{ kind: ShiftKind; count: number; amount: number }>): KindTotal[] {
  const seen = new Set<string>();
  declared.forEach((x, i) => {
    if (seen.has(x.kind)) throw reversalsError('SHIFT_DECLARED_INVALID', { field: `declared/${i}/kind`, reason: 'each kind at most once', kind: x.kind });
    seen.add(x.kind);
  });
  return SHIFT_KINDS.filter((k) => seen.has(k)).map((k) => {
    const x = declared.find((y) => y.kind === k)!;
    return { kind: k, count: x.count, amount: x.amount };
  });
}

interface ShiftRow {
  id: number;
  terminal_id: string;
  station_id: number;
  shift_no: number;
  opened_at: Date;
  closed_at: Date | null;
  business_day: string | null;
  cashier: string | null;
  declared: KindTotal[] | null;
  computed: KindTotal[] | null;
  differences: Difference[] | null;
  end_of_day: boolean;
}

const SHIFT_COLUMNS = sql`id, terminal_id, station_id, shift_no, opened_at, closed_at, to_char(business_day, 'YYYY-MM-DD') as business_day,
  cashier, declared, computed, differences, end_of_day`;

export interface ShiftView {
  shiftId: number;
  shiftNo: number;
  terminalId: string;
  stationId: number;
  openedAt: string;
  closedAt: string | null;
  businessDay: string | null;
  cashier: string | null;
  endOfDay: boolean;
  declared: KindTotal[] | null;
  /** Stored at close; for an open shift, the running totals now. */
  computed: KindTotal[];
  differences: Difference[] | null;
  balanced: boolean | null;
  /** Authorisations of this terminal still holding money (grey locks to resolve). */
  openAuthorisations: number;
  /** Pump sales of the station not yet paid (post-pay fills owed). */
  unpaidPumpSales: number;
}

async function openItems(db: Executor, terminalId: string, stationId: number): Promise<{ openAuthorisations: number; unpaidPumpSales: number }> {
  const r = await sql<{ auths: number; unpaid: number }>`select
      (select count(*)::int from pump_authorisations where terminal_id = ${terminalId} and status in ('held','review')) as auths,
      (select count(*)::int from pump_sales where station_id = ${stationId} and status = 'unpaid') as unpaid`.execute(db);
  return { openAuthorisations: r.rows[0]!.auths, unpaidPumpSales: r.rows[0]!.unpaid };
}

async function view(db: Executor, row: ShiftRow): Promise<ShiftView> {
  const computed = row.computed ?? (await computeShiftTotals(db, row.id));
  return {
    shiftId: row.id,
    shiftNo: row.shift_no,
    terminalId: row.terminal_id,
    stationId: row.station_id,
    openedAt: row.opened_at.toISOString(),
    closedAt: row.closed_at?.toISOString() ?? null,
    businessDay: row.business_day,
    cashier: row.cashier,
    endOfDay: row.end_of_day,
    declared: row.declared,
    computed,
    differences: row.differences,
    balanced: row.differences === null ? null : row.differences.length === 0,
    ...(await openItems(db, row.terminal_id, row.station_id)),
  };
}

/** The terminal's open shift with its running totals (a terminal always has one: opened on demand). */
export async function currentShift(trx: Trx, terminal: TerminalPrincipal): Promise<ShiftView> {
  const id = await openShiftFor(trx, terminal);
  const r = await sql<ShiftRow>`select ${SHIFT_COLUMNS} from terminal_shifts where id = ${id}`.execute(trx);
  return view(trx, r.rows[0]!);
}

/**
 * The open shift's row FOR UPDATE, created first when the terminal has none (a close with no
 * transaction since the last one closes an empty shift). The lock waits for every sale, void and
 * reversal holding the row FOR SHARE, i.e. still in flight in this shift; once it is ours, no
 * other can join it (they wait, then open the next shift).
 */
async function lockOpenShift(trx: Trx, terminal: TerminalPrincipal): Promise<ShiftRow> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const r = await sql<ShiftRow>`select ${SHIFT_COLUMNS} from terminal_shifts where terminal_id = ${terminal.id} and closed_at is null for update`.execute(trx);
    if (r.rows[0]) return r.rows[0];
    await sql`insert into terminal_shifts (terminal_id, station_id, shift_no)
      select ${terminal.id}, ${terminal.stationId}, coalesce(max(shift_no), 0) + 1 from terminal_shifts where terminal_id = ${terminal.id}
      on conflict do nothing`.execute(trx);
  }
  throw new Error(`no open shift could be locked for terminal ${terminal.id}`);
}

export interface CloseRequest {
  cashier?: string;
  endOfDay?: boolean;
  declared: ReadonlyArray<{ kind: ShiftKind; count: number; amount: number }>;
}

/** Shift close (班结 / 日结): the terminal's totals against the platform's, stored with the differences. */
export async function closeShift(trx: Trx, terminal: TerminalPrincipal, req: CloseRequest, timeZone: string): Promise<ShiftView> {
  const declared = checkDeclared(req.declared);
  const shift = await lockOpenShift(trx, terminal);
  // Read after the lock: every sale that was in flight in this shift has committed by now.
  const computed = await computeShiftTotals(trx, shift.id);
  const differences = compareTotals(declared, computed);
  const now = (await sql<{ now: Date }>`select clock_timestamp() as now`.execute(trx)).rows[0]!.now;
  const r = await sql<ShiftRow>`update terminal_shifts set closed_at = ${now}, business_day = ${businessDay(now, timeZone)}::date,
      cashier = ${req.cashier ?? null}, declared = ${JSON.stringify(declared)}::jsonb, computed = ${JSON.stringify(computed)}::jsonb,
      differences = ${JSON.stringify(differences)}::jsonb, end_of_day = ${req.endOfDay ?? false}
    where id = ${shift.id} returning ${SHIFT_COLUMNS}`.execute(trx);
  return view(trx, r.rows[0]!);
}

export async function getShift(db: Executor, id: number): Promise<ShiftView> {
  const r = await sql<ShiftRow>`select ${SHIFT_COLUMNS} from terminal_shifts where id = ${id}`.execute(db);
  if (!r.rows[0]) throw reversalsError('SHIFT_NOT_FOUND', { shiftId: id });
  return view(db, r.rows[0]);
}

export interface ShiftItem {
  shiftId: number;
  shiftNo: number;
  terminalId: string;
  stationId: number;
  openedAt: string;
  closedAt: string | null;
  businessDay: string | null;
  cashier: string | null;
  endOfDay: boolean;
  balanced: boolean | null;
  differenceCount: number;
}

/** Shifts newest first; `day` is the business day of the close (open shifts have none). */
export async function listShifts(
  db: Executor,
  f: { stationId?: number; terminalId?: string; day?: string; limit: number; cursor?: { at: string; id: string } | null },
): Promise<{ items: ShiftItem[]; last: { cursorAt: string; id: number } | null; more: boolean }> {
  const conds = [sql`true`];
  if (f.stationId !== undefined) conds.push(sql`station_id = ${f.stationId}`);
  if (f.terminalId !== undefined) conds.push(sql`terminal_id = ${f.terminalId}`);
  if (f.day !== undefined) conds.push(sql`business_day = ${f.day}::date`);
  if (f.cursor) conds.push(sql`(opened_at, id) < (${f.cursor.at}::timestamptz, ${f.cursor.id}::bigint)`);
  const r = await sql<ShiftRow & { cursor_at: string }>`select ${SHIFT_COLUMNS}, to_char(opened_at at time zone 'UTC', ${CURSOR_TIME_FORMAT}) as cursor_at
    from terminal_shifts where ${sql.join(conds, sql` and `)} order by opened_at desc, id desc limit ${f.limit + 1}`.execute(db);
  const rows = r.rows.slice(0, f.limit);
  const last = rows[rows.length - 1];
  return {
    items: rows.map((s) => ({
      shiftId: s.id,
      shiftNo: s.shift_no,
      terminalId: s.terminal_id,
      stationId: s.station_id,
      openedAt: s.opened_at.toISOString(),
      closedAt: s.closed_at?.toISOString() ?? null,
      businessDay: s.business_day,
      cashier: s.cashier,
      endOfDay: s.end_of_day,
      balanced: s.differences === null ? null : s.differences.length === 0,
      differenceCount: s.differences?.length ?? 0,
    })),
    last: last ? { cursorAt: last.cursor_at, id: last.id } : null,
    more: r.rows.length > f.limit,
  };
}
