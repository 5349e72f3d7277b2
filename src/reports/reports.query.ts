import { sql, type RawBuilder } from 'kysely';
import type { Executor } from '../platform/index.js';
import { encodeCursor, platformError } from '../platform/index.js';

/** One condition of a WHERE clause. */
export type Cond = RawBuilder<unknown>;

/**
 * Only the filters actually given go into the SQL text. Every query runs as a named prepared
 * statement; a catch-all text (`$1 is null or col = $1`) would get one generic plan that cannot
 * use the index a given filter needs.
 */
export function whereAll(conds: readonly Cond[]): RawBuilder<unknown> {
  return conds.length === 0 ? sql`` : sql`where ${sql.join(conds, sql` and `)}`;
}

export interface Period {
  from?: string;
  to?: string;
}

/** A reversed period is a mistake in the query, not an empty report. */
export function checkPeriod(p: Period): void {
  if (p.from !== undefined && p.to !== undefined && Date.parse(p.to) < Date.parse(p.from)) {
    throw platformError('VALIDATION_FAILED', { field: 'to', reason: 'to must not be before from' });
  }
}

export function periodConds(column: RawBuilder<unknown>, p: Period): Cond[] {
  const out: Cond[] = [];
  if (p.from !== undefined) out.push(sql`${column} >= ${p.from}::timestamptz`);
  if (p.to !== undefined) out.push(sql`${column} < ${p.to}::timestamptz`);
  return out;
}

/**
 * The card with this number and every card it replaced (补卡 keeps the holder and the accounts):
 * searching by the card in the customer's hand finds the history of the ones before it.
 * Empty when no card has this number.
 */
export async function cardLineageIds(db: Executor, cardNo: string): Promise<number[]> {
  const r = await sql<{ id: number }>`
    with recursive lineage(id) as (
      select id from cards where card_no = ${cardNo}
      union all
      select c.replaces from cards c join lineage l on c.id = l.id where c.replaces is not null
    )
    select id from lineage`.execute(db);
  return r.rows.map((x) => x.id);
}

/** A page of `limit` rows out of a query that asked for `limit + 1`, and the cursor after it. */
export function pageOf<R extends { cursor_at: string }>(rows: R[], limit: number, idOf: (r: R) => string): { page: R[]; nextCursor: string | null } {
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return { page, nextCursor: rows.length > limit && last ? encodeCursor(last.cursor_at, idOf(last)) : null };
}

const CURSOR_AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;

/**
 * platform/paging's cursors carry a uuid; audit rows have bigint ids. Same encoding
 * ("<time>|<id>", base64url, made by encodeCursor), only the id differs.
 */
export function decodeNumericCursor(cursor: string | undefined): { at: string; id: string } | null {
  if (cursor === undefined || cursor === '') return null;
  const [at, id, extra] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (!at || !id || extra !== undefined || !CURSOR_AT.test(at) || !/^[1-9][0-9]{0,17}$/.test(id)) {
    throw platformError('VALIDATION_FAILED', { field: 'cursor' });
  }
  return { at, id };
}

/** "2026-11-28" plus n days. */
export function addDays(day: string, n: number): string {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d + n)).toISOString().slice(0, 10);
}

/** The wall-clock time of `column` in the operator's zone ("2026-11-28T08:30:15.123"), for exports. */
export function localTimeSql(column: RawBuilder<unknown>, timeZone: string): RawBuilder<string> {
  return sql<string>`to_char(${column} at time zone ${timeZone}, 'YYYY-MM-DD"T"HH24:MI:SS.MS')`;
}
