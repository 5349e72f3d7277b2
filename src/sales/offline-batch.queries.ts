import { sql } from 'kysely';
import type { Actor, Executor } from '../platform/index.js';
import { CURSOR_TIME_FORMAT, decodeCursor, encodeCursor } from '../platform/index.js';
import { offlineError } from './offline-batch.errors.js';
import { scopedStationId } from './reversals.station-scope.js';
import type { OfflineResult, OfflineSummary } from './offline-batch.service.js';

/** Staff views of offline uploads: which terminal sent what, and what became of each sale. */

export interface OfflineBatchItem {
  batchId: string;
  batchNo: string;
  terminalId: string;
  stationId: number | null;
  hotlistVersion: number | null;
  summary: OfflineSummary;
  createdAt: string;
}

export interface OfflineBatchSale {
  seq: number;
  saleId: string;
  cardNo: string;
  grade: string | null;
  nozzle: number | null;
  volumeMl: number | null;
  unitPrice: number | null;
  amount: number;
  status: string;
  approvalCode: string | null;
  forced: boolean;
  liability: string;
  flags: string[];
  transfers: Array<{ transferId: string; accountId: number; amount: number }>;
  balanceAfter: number | null;
  offlineAt: string | null;
  businessDay: string;
  createdAt: string;
}

type BatchRow = {
  id: string;
  batch_no: string;
  terminal_id: string;
  station_id: number | null;
  hotlist_version: string | null;
  received: number;
  posted: number;
  duplicates: number;
  rejected: number;
  forced: number;
  station_liability: number;
  created_at: Date;
  cursor_at: string;
};

const toItem = (r: BatchRow): OfflineBatchItem => ({
  batchId: r.id,
  batchNo: r.batch_no,
  terminalId: r.terminal_id,
  stationId: r.station_id,
  hotlistVersion: r.hotlist_version === null ? null : Number(r.hotlist_version),
  summary: { received: r.received, posted: r.posted, duplicates: r.duplicates, rejected: r.rejected, forced: r.forced, stationLiability: r.station_liability },
  createdAt: r.created_at.toISOString(),
});


export async function listOfflineBatches(
  db: Executor,
  actor: Actor,
  q: { stationId?: number; terminalId?: string; cursor?: string; limit: number },
): Promise<{ items: OfflineBatchItem[]; nextCursor: string | null }> {
  const stationId = scopedStationId(actor, q.stationId);
  const after = decodeCursor(q.cursor);
  const r = await sql<BatchRow>`select id, batch_no, terminal_id, station_id, hotlist_version::text, received, posted, duplicates, rejected, forced,
      station_liability, created_at, to_char(created_at at time zone 'UTC', ${CURSOR_TIME_FORMAT}) as cursor_at
    from offline_batches where true
    ${stationId !== undefined ? sql`and station_id = ${stationId}` : sql``}
    ${q.terminalId !== undefined ? sql`and terminal_id = ${q.terminalId}` : sql``}
    ${after ? sql`and (created_at, id) < (${after.at}::timestamptz, ${after.id}::uuid)` : sql``}
    order by created_at desc, id desc limit ${q.limit + 1}`.execute(db);
  const rows = r.rows.slice(0, q.limit);
  const last = rows[rows.length - 1];
  return { items: rows.map(toItem), nextCursor: r.rows.length > q.limit && last ? encodeCursor(last.cursor_at, last.id) : null };
}

/** One batch with every result it answered and the sales it posted (as they are now: reversed later shows). */
export async function getOfflineBatch(
  db: Executor,
  actor: Actor,
  batchId: string,
  opts: { fullCardNo: boolean },
): Promise<OfflineBatchItem & { results: OfflineResult[]; sales: OfflineBatchSale[] }> {
  const r = await sql<BatchRow & { results: OfflineResult[] }>`select id, batch_no, terminal_id, station_id, hotlist_version::text, received, posted,
      duplicates, rejected, forced, station_liability, created_at, '' as cursor_at, results
    from offline_batches where id = ${batchId}`.execute(db);
  const row = r.rows[0];
  const scope = scopedStationId(actor, undefined);
  if (!row || (scope !== undefined && row.station_id !== scope)) throw offlineError('OFFLINE_BATCH_NOT_FOUND', { batchId });
  const postedIds = row.results.filter((x) => x.status === 'posted' && x.saleId).map((x) => x.saleId!);
  const sales = await sql<{
    id: string;
    terminal_ref: string;
    card_no_masked: string;
    card_no: string | null;
    grade: string | null;
    nozzle: number | null;
    volume_ml: number | null;
    unit_price: number | null;
    amount: number;
    status: string;
    approval_code: string | null;
    forced: boolean;
    liability: string;
    flags: string[];
    transfers: OfflineBatchSale['transfers'];
    balance_after: number | null;
    offline_at: Date | null;
    business_day: string;
    created_at: Date;
  }>`select s.id, s.terminal_ref, s.card_no_masked, c.card_no, s.grade, s.nozzle, s.volume_ml, s.unit_price, s.amount, s.status, s.approval_code,
      s.forced, s.liability, s.flags, s.transfers, s.balance_after, s.offline_at, to_char(s.business_day, 'YYYY-MM-DD') as business_day, s.created_at
    from sales s left join cards c on c.id = s.card_id where s.id = any(${postedIds}::uuid[])`.execute(db);
  const byId = new Map(sales.rows.map((s) => [s.id, s]));
  return {
    ...toItem(row),
    results: row.results,
    sales: postedIds.flatMap((id) => {
      const s = byId.get(id);
      if (!s) return [];
      return [
        {
          seq: Number(s.terminal_ref.slice('offline:'.length)),
          saleId: s.id,
          cardNo: opts.fullCardNo && s.card_no !== null ? s.card_no : s.card_no_masked,
          grade: s.grade,
          nozzle: s.nozzle,
          volumeMl: s.volume_ml,
          unitPrice: s.unit_price,
          amount: s.amount,
          status: s.status,
          approvalCode: s.approval_code,
          forced: s.forced,
          liability: s.liability,
          flags: s.flags,
          transfers: s.transfers,
          balanceAfter: s.balance_after,
          offlineAt: s.offline_at?.toISOString() ?? null,
          businessDay: s.business_day,
          createdAt: s.created_at.toISOString(),
        },
      ];
    }),
  };
}
