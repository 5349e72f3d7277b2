import { sql, type RawBuilder } from 'kysely';
import type { Executor } from '../platform/index.js';
import { CURSOR_TIME_FORMAT, decodeCursor, encodeCursor } from '../platform/index.js';
import { salesError } from './sales.errors.js';
import type { AuthorisationHold } from './authorisations.service.js';

export const AUTHORISATION_STATUSES = ['held', 'review', 'completed', 'reversed', 'expired', 'forced', 'declined'] as const;
export type AuthorisationStatus = (typeof AUTHORISATION_STATUSES)[number];

export interface AuthorisationRecord {
  authorisationId: string;
  stationId: number;
  terminalId: string;
  terminalRef: string;
  pump: number | null;
  nozzle: number;
  grade: string | null;
  cardNo: string;
  mode: 'preauth' | 'prepay';
  requestedAmount: number;
  heldAmount: number;
  holds: AuthorisationHold[];
  status: AuthorisationStatus;
  approvalCode: string;
  expiresAt: string;
  saleId: string | null;
  businessDay: string;
  shiftId: number | null;
  createdAt: string;
  resolvedAt: string | null;
  /** When the pump was released (approval, or a reviewer's release); null: never released, no approval code to show. */
  releasedAt: string | null;
}

type Row = {
  id: string;
  station_id: number;
  terminal_id: string;
  terminal_ref: string;
  pump: number | null;
  nozzle: number;
  grade: string | null;
  card_no_masked: string;
  mode: 'preauth' | 'prepay';
  requested_amount: number;
  held_amount: number;
  holds: AuthorisationHold[];
  status: AuthorisationStatus;
  approval_code: string;
  expires_at: Date;
  sale_id: string | null;
  business_day: string;
  shift_id: number | null;
  created_at: Date;
  resolved_at: Date | null;
  released_at: Date | null;
  cursor_at: string;
};

const COLUMNS = sql`a.id, a.station_id, a.terminal_id, a.terminal_ref, a.pump, a.nozzle, a.grade, a.card_no_masked, a.mode, a.requested_amount,
  a.held_amount, a.holds, a.status, a.approval_code, a.expires_at, a.sale_id, to_char(a.business_day, 'YYYY-MM-DD') as business_day,
  a.shift_id, a.created_at, a.resolved_at, a.released_at, to_char(a.created_at at time zone 'UTC', ${CURSOR_TIME_FORMAT}) as cursor_at`;

function toRecord(r: Row): AuthorisationRecord {
  return {
    authorisationId: r.id,
    stationId: r.station_id,
    terminalId: r.terminal_id,
    terminalRef: r.terminal_ref,
    pump: r.pump,
    nozzle: r.nozzle,
    grade: r.grade,
    cardNo: r.card_no_masked,
    mode: r.mode,
    requestedAmount: r.requested_amount,
    heldAmount: r.held_amount,
    holds: r.holds,
    status: r.status,
    approvalCode: r.approval_code,
    expiresAt: r.expires_at.toISOString(),
    saleId: r.sale_id,
    businessDay: r.business_day,
    shiftId: r.shift_id,
    createdAt: r.created_at.toISOString(),
    resolvedAt: r.resolved_at ? r.resolved_at.toISOString() : null,
    releasedAt: r.released_at ? r.released_at.toISOString() : null,
  };
}

/** The station's open authorisations (the cashier's grey-lock list), oldest first; at most one per nozzle, so ≤ 99. */
export async function heldAtStation(db: Executor, stationId: number): Promise<AuthorisationRecord[]> {
  const r = await sql<Row>`select ${COLUMNS} from pump_authorisations a where a.station_id = ${stationId} and a.status = 'held'
    order by a.created_at limit 100`.execute(db);
  return r.rows.map(toRecord);
}

export async function listAuthorisations(
  db: Executor,
  filter: { stationId?: number; status?: AuthorisationStatus; cursor?: string; limit: number },
): Promise<{ items: AuthorisationRecord[]; nextCursor: string | null }> {
  const after = decodeCursor(filter.cursor);
  const conds: RawBuilder<unknown>[] = [sql`true`];
  if (filter.stationId !== undefined) conds.push(sql`a.station_id = ${filter.stationId}`);
  if (filter.status !== undefined) conds.push(sql`a.status = ${filter.status}`);
  if (after) conds.push(sql`(a.created_at, a.id) < (${after.at}::timestamptz, ${after.id}::uuid)`);
  const r = await sql<Row>`select ${COLUMNS} from pump_authorisations a where ${sql.join(conds, sql` and `)}
    order by a.created_at desc, a.id desc limit ${filter.limit + 1}`.execute(db);
  const rows = r.rows.slice(0, filter.limit);
  const last = rows[rows.length - 1];
  return { items: rows.map(toRecord), nextCursor: r.rows.length > filter.limit && last ? encodeCursor(last.cursor_at, last.id) : null };
}

export async function getAuthorisation(db: Executor, id: string): Promise<AuthorisationRecord> {
  const r = await sql<Row>`select ${COLUMNS} from pump_authorisations a where a.id = ${id}`.execute(db);
  const row = r.rows[0];
  if (!row) throw salesError('AUTHORISATION_NOT_FOUND', { authorisationId: id });
  return toRecord(row);
}
