import { sql, type RawBuilder } from 'kysely';
import type { Executor } from '../platform/index.js';
import { encodeCursor, parseTimeBound, platformError, type TimeBound } from '../platform/index.js';

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

/** The period filters as the query string gives them. */
export interface Period {
  from?: string;
  to?: string;
}

/**
 * The period as instants: a time no database can hold (year 0, a leap second) is a 400 naming
 * its parameter, and a reversed period is a mistake in the query, not an empty report.
 */
export function parsePeriod(p: Period): { from?: TimeBound; to?: TimeBound } {
  const from = parseTimeBound(p.from, 'querystring.from');
  const to = parseTimeBound(p.to, 'querystring.to');
  // Same fixed-width UTC form on both sides, so text order is time order.
  if (from !== undefined && to !== undefined && to.utc < from.utc) {
    throw platformError('VALIDATION_FAILED', { field: 'to', reason: 'to must not be before from' });
  }
  return { ...(from ? { from } : {}), ...(to ? { to } : {}) };
}

/** Conditions on `column` for a checked period, to the microsecond. */
export function periodConds(column: RawBuilder<unknown>, p: Period): Cond[] {
  const { from, to } = parsePeriod(p);
  const out: Cond[] = [];
  if (from !== undefined) out.push(sql`${column} >= ${from.utc}::timestamptz`);
  if (to !== undefined) out.push(sql`${column} < ${to.utc}::timestamptz`);
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

/** "2026-11-28" plus n days. */
export function addDays(day: string, n: number): string {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d + n)).toISOString().slice(0, 10);
}

/** The wall-clock time of `column` in the operator's zone ("2026-11-28T08:30:15.123"), for exports. */
export function localTimeSql(column: RawBuilder<unknown>, timeZone: string): RawBuilder<string> {
  return sql<string>`to_char(${column} at time zone ${timeZone}, 'YYYY-MM-DD"T"HH24:MI:SS.MS')`;
}
