import { sql } from 'kysely';
import type { Executor } from '../platform/index.js';
import { CURSOR_TIME_FORMAT, decodeCursor } from '../platform/index.js';
import { localTimeSql, pageOf, periodConds, whereAll, type Cond, type Period } from './reports.query.js';
import { localTime, type ExportColumn, type ExportSource } from './reports.export.js';

export interface AuditFilter extends Period {
  /** The actor's name (staff username, terminal id, `customer:<id>`, `system`), exact. */
  actor?: string;
  /** Exact, or a prefix when it ends in `*` (`card.*`). */
  action?: string;
  targetType?: string;
  targetId?: string;
}

export interface AuditItem {
  id: number;
  at: string;
  actorName: string;
  actorRole: string;
  action: string;
  targetType: string;
  targetId: string | null;
  details: unknown;
  ip: string | null;
  requestId: string | null;
}

interface AuditRow {
  id: number;
  at: Date;
  actor_name: string;
  actor_role: string;
  action: string;
  target_type: string;
  target_id: string | null;
  details: unknown;
  ip: string | null;
  request_id: string | null;
  local_at: string;
  cursor_at: string;
}

/** Excel refuses a cell longer than this. */
const MAX_CELL_CHARS = 32_767;

function conditions(f: AuditFilter): Cond[] {
  const conds = periodConds(sql`a.at`, f);
  if (f.actor !== undefined) conds.push(sql`a.actor_name = ${f.actor}`);
  if (f.action !== undefined) {
    // starts_with, not LIKE: actions contain '_', which LIKE would read as a wildcard.
    conds.push(f.action.endsWith('*') ? sql`starts_with(a.action, ${f.action.slice(0, -1)})` : sql`a.action = ${f.action}`);
  }
  if (f.targetType !== undefined) conds.push(sql`a.target_type = ${f.targetType}`);
  if (f.targetId !== undefined) conds.push(sql`a.target_id = ${f.targetId}`);
  return conds;
}

async function selectAudit(db: Executor, conds: Cond[], cursor: string | null, limit: number, timeZone: string): Promise<AuditRow[]> {
  const after = decodeCursor(cursor ?? undefined, 'bigint');
  const all = after ? [...conds, sql`(a.at, a.id) < (${after.at}::timestamptz, ${after.id}::bigint)`] : conds;
  const r = await sql<AuditRow>`
    select a.id, a.at, a.actor_name, a.actor_role, a.action, a.target_type, a.target_id, a.details, a.ip, a.request_id,
           ${localTimeSql(sql`a.at`, timeZone)} as local_at,
           to_char(a.at at time zone 'UTC', ${CURSOR_TIME_FORMAT}) as cursor_at
      from audit_log a
      ${whereAll(all)}
      order by a.at desc, a.id desc
      limit ${limit}`.execute(db);
  return r.rows;
}

export async function listAudit(
  db: Executor,
  timeZone: string,
  f: AuditFilter,
  page: { limit: number; cursor?: string },
): Promise<{ items: AuditItem[]; nextCursor: string | null }> {
  const rows = await selectAudit(db, conditions(f), page.cursor ?? null, page.limit + 1, timeZone);
  const { page: out, nextCursor } = pageOf(rows, page.limit, (r) => String(r.id));
  return {
    items: out.map((a) => ({
      id: a.id,
      at: a.at.toISOString(),
      actorName: a.actor_name,
      actorRole: a.actor_role,
      action: a.action,
      targetType: a.target_type,
      targetId: a.target_id,
      details: a.details,
      ip: a.ip,
      requestId: a.request_id,
    })),
    nextCursor,
  };
}

export function auditExport(db: Executor, timeZone: string, f: AuditFilter): { columns: ExportColumn<AuditRow>[]; source: ExportSource<AuditRow> } {
  const c = conditions(f);
  const columns: ExportColumn<AuditRow>[] = [
    { header: '时间', width: 20, format: 'yyyy-mm-dd hh:mm:ss', value: (a) => localTime(a.local_at) },
    { header: '编号', width: 10, value: (a) => a.id },
    { header: '操作人', width: 16, value: (a) => a.actor_name },
    { header: '角色', width: 14, value: (a) => a.actor_role },
    { header: '操作', width: 22, value: (a) => a.action },
    { header: '对象类型', width: 12, value: (a) => a.target_type },
    { header: '对象', width: 22, format: '@', value: (a) => a.target_id },
    { header: '详情', width: 60, value: (a) => JSON.stringify(a.details ?? {}).slice(0, MAX_CELL_CHARS) },
    { header: 'IP', width: 16, value: (a) => a.ip },
    { header: '请求号', width: 38, value: (a) => a.request_id },
  ];
  return {
    columns,
    source: {
      async count(cap) {
        const r = await sql<{ n: number }>`select count(*)::int as n from (select 1 from audit_log a ${whereAll(c)} limit ${cap}) x`.execute(db);
        return r.rows[0]!.n;
      },
      async page(cursor, limit) {
        const rows = await selectAudit(db, c, cursor, limit + 1, timeZone);
        const { page, nextCursor } = pageOf(rows, limit, (r) => String(r.id));
        return { rows: page, nextCursor };
      },
    },
  };
}
