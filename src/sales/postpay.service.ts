import { randomUUID } from 'node:crypto';
import { sql, type RawBuilder } from 'kysely';
import type { Actor, Executor, TerminalPrincipal, Trx } from '../platform/index.js';
import { audit, CURSOR_TIME_FORMAT, decodeCursor, encodeCursor } from '../platform/index.js';
import { salesError } from './sales.errors.js';
import { nozzleOf } from './authorisations.service.js';
import { claimTerminalRef } from './forecourt-locks.js';
import { expectedFuelAmount, fuelAmountMatches } from './sale-parts.js';

export const PUMP_SALE_STATUSES = ['unpaid', 'paid', 'paid_other', 'abandoned'] as const;
export type PumpSaleStatus = (typeof PUMP_SALE_STATUSES)[number];

export interface PumpSale {
  pumpSaleId: string;
  stationId: number;
  terminalId: string;
  nozzle: number;
  pump: number | null;
  grade: string;
  volumeMl: number;
  unitPrice: number;
  amount: number;
  status: PumpSaleStatus;
  saleId: string | null;
  resolvedBy: string | null;
  createdAt: string;
  resolvedAt: string | null;
}

type Row = {
  id: string;
  station_id: number;
  terminal_id: string;
  nozzle: number;
  pump: number | null;
  grade: string;
  volume_ml: number;
  unit_price: number;
  amount: number;
  status: PumpSaleStatus;
  sale_id: string | null;
  resolved_by: string | null;
  created_at: Date;
  resolved_at: Date | null;
  cursor_at: string;
};

const COLUMNS = sql`p.id, p.station_id, p.terminal_id, p.nozzle, p.pump, p.grade, p.volume_ml, p.unit_price, p.amount, p.status, p.sale_id,
  p.resolved_by, p.created_at, p.resolved_at, to_char(p.created_at at time zone 'UTC', ${CURSOR_TIME_FORMAT}) as cursor_at`;

function toPumpSale(r: Row): PumpSale {
  return {
    pumpSaleId: r.id,
    stationId: r.station_id,
    terminalId: r.terminal_id,
    nozzle: r.nozzle,
    pump: r.pump,
    grade: r.grade,
    volumeMl: r.volume_ml,
    unitPrice: r.unit_price,
    amount: r.amount,
    status: r.status,
    saleId: r.sale_id,
    resolvedBy: r.resolved_by,
    createdAt: r.created_at.toISOString(),
    resolvedAt: r.resolved_at ? r.resolved_at.toISOString() : null,
  };
}

/**
 * The pump's record of a fill not yet paid (先加后付): the grade is the nozzle's, the price the
 * pump's (checked when it is paid, as of this moment). No money moves until it is paid.
 */
export async function recordPumpSale(
  trx: Trx,
  terminal: TerminalPrincipal,
  req: { nozzle: number; volumeMl: number; unitPrice: number; amount: number },
  terminalRef: string,
): Promise<PumpSale> {
  if (!fuelAmountMatches(req.volumeMl, req.unitPrice, req.amount)) {
    throw salesError('SALE_AMOUNT_MISMATCH', { field: 'amount', expected: expectedFuelAmount(req.volumeMl, req.unitPrice) });
  }
  const nozzle = await nozzleOf(trx, terminal.stationId, req.nozzle);
  // Its reference may not name another original of this terminal (a reversal of it must find one thing).
  await claimTerminalRef(trx, terminal.id, terminalRef);
  const r = await sql<Row>`insert into pump_sales as p (id, station_id, terminal_id, terminal_ref, pump, nozzle, grade, volume_ml, unit_price, amount)
    values (${randomUUID()}, ${terminal.stationId}, ${terminal.id}, ${terminalRef}, ${nozzle.pump}, ${req.nozzle}, ${nozzle.grade},
      ${req.volumeMl}, ${req.unitPrice}, ${req.amount})
    returning ${COLUMNS}`.execute(trx);
  return toPumpSale(r.rows[0]!);
}

/** The station's unpaid pump sales, oldest first (a forecourt has few at a time). */
export async function unpaidAtStation(db: Executor, stationId: number): Promise<PumpSale[]> {
  const r = await sql<Row>`select ${COLUMNS} from pump_sales p where p.station_id = ${stationId} and p.status = 'unpaid'
    order by p.created_at limit 200`.execute(db);
  return r.rows.map(toPumpSale);
}

/** The cashier settles a pump sale another way: cash or another tender, or a drive-off (abandoned). */
export async function settlePumpSale(
  trx: Trx,
  actor: Actor,
  terminal: TerminalPrincipal,
  id: string,
  req: { tender: 'cash' | 'other' | 'abandoned'; cashier?: string },
): Promise<PumpSale> {
  const locked = await sql<{ status: string }>`select status from pump_sales where id = ${id} and station_id = ${terminal.stationId} for update`.execute(trx);
  const row = locked.rows[0];
  if (!row) throw salesError('PUMP_SALE_NOT_FOUND', { pumpSaleId: id });
  if (row.status !== 'unpaid') throw salesError('PUMP_SALE_NOT_UNPAID', { pumpSaleId: id, status: row.status });
  const status = req.tender === 'abandoned' ? 'abandoned' : 'paid_other';
  const r = await sql<Row>`update pump_sales p set status = ${status}, resolved_by = ${req.cashier ?? terminal.id}, resolved_at = clock_timestamp()
    where p.id = ${id} returning ${COLUMNS}`.execute(trx);
  await audit(trx, actor, { action: `pump_sale.${status}`, targetType: 'pump_sale', targetId: id, details: { tender: req.tender, cashier: req.cashier ?? null } });
  return toPumpSale(r.rows[0]!);
}

export async function listPumpSales(
  db: Executor,
  filter: { stationId?: number; status?: PumpSaleStatus; cursor?: string; limit: number },
): Promise<{ items: PumpSale[]; nextCursor: string | null }> {
  const after = decodeCursor(filter.cursor);
  const conds: RawBuilder<unknown>[] = [sql`true`];
  if (filter.stationId !== undefined) conds.push(sql`p.station_id = ${filter.stationId}`);
  if (filter.status !== undefined) conds.push(sql`p.status = ${filter.status}`);
  if (after) conds.push(sql`(p.created_at, p.id) < (${after.at}::timestamptz, ${after.id}::uuid)`);
  const r = await sql<Row>`select ${COLUMNS} from pump_sales p where ${sql.join(conds, sql` and `)}
    order by p.created_at desc, p.id desc limit ${filter.limit + 1}`.execute(db);
  const rows = r.rows.slice(0, filter.limit);
  const last = rows[rows.length - 1];
  return { items: rows.map(toPumpSale), nextCursor: r.rows.length > filter.limit && last ? encodeCursor(last.cursor_at, last.id) : null };
}
