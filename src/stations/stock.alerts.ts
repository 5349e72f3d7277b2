import { sql } from 'kysely';
import type { Actor, Db, Executor, Trx } from '../platform/index.js';
import { audit, platformError } from '../platform/index.js';
import { stockError } from './stock.errors.js';

/**
 * Stock alerts (库存告警): low stock and variance (stock lost or gained beyond tolerance). At most
 * one is open per station, tank and kind (a unique index): a condition that persists updates the
 * open alert's details and counts it, instead of flooding the desk, until someone resolves it.
 */

export type StockAlertKind = 'low_stock' | 'variance';

export interface StockAlert {
  alertId: number;
  stationId: number;
  tank: number | null;
  grade: string;
  kind: StockAlertKind;
  status: 'open' | 'resolved';
  details: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
  resolvedAt: string | null;
  resolvedBy: string | null;
  resolutionNote: string | null;
}

type AlertRow = {
  id: string;
  station_id: string;
  tank: number | null;
  grade: string;
  kind: StockAlertKind;
  details: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
  resolved_at: Date | null;
  resolved_by: string | null;
  resolution_note: string | null;
};

const toAlert = (r: AlertRow): StockAlert => ({
  alertId: Number(r.id),
  stationId: Number(r.station_id),
  tank: r.tank,
  grade: r.grade,
  kind: r.kind,
  status: r.resolved_at ? 'resolved' : 'open',
  details: r.details,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
  resolvedAt: r.resolved_at?.toISOString() ?? null,
  resolvedBy: r.resolved_by,
  resolutionNote: r.resolution_note,
});

/** Opens the alert, or refreshes the open one of this station/tank/kind (details replaced, occurrences counted). */
export async function raiseStockAlert(
  trx: Trx,
  a: { stationId: number; tank: number; grade: string; kind: StockAlertKind; details: Record<string, unknown> },
): Promise<StockAlert & { isNew: boolean }> {
  const r = await sql<AlertRow & { is_new: boolean }>`insert into stock_alerts (station_id, tank, grade, kind, details)
    values (${a.stationId}, ${a.tank}, ${a.grade}, ${a.kind}, ${JSON.stringify({ ...a.details, occurrences: 1 })}::jsonb)
    on conflict (station_id, tank, kind) where resolved_at is null do update
      set details = excluded.details || jsonb_build_object('occurrences', coalesce((stock_alerts.details->>'occurrences')::int, 1) + 1),
          grade = excluded.grade, updated_at = now()
    returning *, (xmax = 0) as is_new`.execute(trx);
  const row = r.rows[0]!;
  return { ...toAlert(row), isNew: row.is_new };
}

const ID_CURSOR = /^[1-9][0-9]{0,17}$/;

/** Newest first, keyset paged by id. */
export async function listStockAlerts(
  db: Executor,
  q: { status?: 'open' | 'resolved'; stationId?: number; cursor?: string; limit: number },
): Promise<{ items: StockAlert[]; nextCursor: string | null }> {
  if (q.cursor !== undefined && !ID_CURSOR.test(q.cursor)) throw platformError('VALIDATION_FAILED', { field: 'cursor' });
  const r = await sql<AlertRow>`select * from stock_alerts where true
    ${q.status === 'open' ? sql`and resolved_at is null` : q.status === 'resolved' ? sql`and resolved_at is not null` : sql``}
    ${q.stationId !== undefined ? sql`and station_id = ${q.stationId}` : sql``}
    ${q.cursor !== undefined ? sql`and id < ${q.cursor}::bigint` : sql``}
    order by id desc limit ${q.limit + 1}`.execute(db);
  const rows = r.rows.slice(0, q.limit);
  return { items: rows.map(toAlert), nextCursor: r.rows.length > q.limit && rows.length > 0 ? String(rows[rows.length - 1]!.id) : null };
}

/** Closes an open alert with the operator's note; the next occurrence opens a new one. Audited. */
export async function resolveStockAlert(db: Db, actor: Actor, alertId: number, note: string): Promise<StockAlert> {
  return db.transaction().execute(async (trx) => {
    const cur = await sql<AlertRow>`select * from stock_alerts where id = ${alertId} for update`.execute(trx);
    const row = cur.rows[0];
    if (!row) throw stockError('STOCK_ALERT_NOT_FOUND', { alertId });
    if (row.resolved_at) throw stockError('STOCK_ALERT_ALREADY_RESOLVED', { alertId, resolvedAt: row.resolved_at.toISOString(), resolvedBy: row.resolved_by });
    const r = await sql<AlertRow>`update stock_alerts set resolved_at = now(), resolved_by = ${actor.name}, resolution_note = ${note}
      where id = ${alertId} returning *`.execute(trx);
    const alert = toAlert(r.rows[0]!);
    await audit(trx, actor, {
      action: 'stock.alert_resolved',
      targetType: 'stock_alert',
      targetId: alertId,
      details: { stationId: alert.stationId, tank: alert.tank, kind: alert.kind, note },
    });
    return alert;
  });
}
