import { sql } from 'kysely';
import type { Executor } from '../platform/index.js';
import { businessDay } from '../platform/index.js';
import { addDays } from './reports.query.js';

/** Business days in the chart, today included. */
export const DASHBOARD_DAYS = 7;

export interface Dashboard {
  businessDay: string;
  sales: { count: number; amount: number; volumeMl: number };
  declines: { count: number; byCode: Array<{ code: string; count: number }> };
  recharges: { count: number; amount: number };
  activeCards: number;
  cardsIssuedToday: number;
  days: Array<{ businessDay: string; salesAmount: number; salesCount: number; rechargeAmount: number }>;
}

/**
 * Today's figures, where today is the operator's business day by the database's clock (the clock
 * sales are stamped with), and the last DASHBOARD_DAYS days for a chart. Sales count by their
 * recorded business day; recharges and cards, which record none, by their time in the same zone.
 * Sales are selected by time all the same: a sale's business day is its time in that zone, and
 * the (created_at, id) index serves this too — one index less on the table every sale writes.
 */
export async function todayDashboard(db: Executor, timeZone: string): Promise<Dashboard> {
  const now = (await sql<{ now: Date }>`select now() as now`.execute(db)).rows[0]!.now;
  const today = businessDay(now, timeZone);
  const first = addDays(today, -(DASHBOARD_DAYS - 1));
  const tomorrow = addDays(today, 1);
  const startOf = (day: string) => sql`(${day}::date)::timestamp at time zone ${timeZone}`;

  const [sales, recharges, cards] = await Promise.all([
    sql<{ day: string; status: string; decline_code: string | null; n: number; amount: number; volume_ml: number }>`
      select to_char(business_day, 'YYYY-MM-DD') as day, status, decline_code, count(*)::int as n,
             sum(amount)::bigint as amount, coalesce(sum(volume_ml), 0)::bigint as volume_ml
        from sales
        where created_at >= ${startOf(first)} and created_at < ${startOf(tomorrow)}
        group by business_day, status, decline_code`.execute(db),
    sql<{ day: string; n: number; amount: number }>`
      select to_char((created_at at time zone ${timeZone})::date, 'YYYY-MM-DD') as day, count(*)::int as n, sum(amount)::bigint as amount
        from recharges
        where created_at >= ${startOf(first)} and created_at < ${startOf(tomorrow)}
        group by 1`.execute(db),
    sql<{ active: number; issued: number }>`
      select (select count(*)::int from cards where status = 'active') as active,
             (select count(*)::int from cards where created_at >= ${startOf(today)} and created_at < ${startOf(tomorrow)}) as issued`.execute(db),
  ]);

  const days = new Map<string, Dashboard['days'][number]>();
  for (let i = 0; i < DASHBOARD_DAYS; i++) {
    const d = addDays(first, i);
    days.set(d, { businessDay: d, salesAmount: 0, salesCount: 0, rechargeAmount: 0 });
  }
  const todaySales = { count: 0, amount: 0, volumeMl: 0 };
  const declines = new Map<string, number>();
  for (const s of sales.rows) {
    if (s.status === 'approved') {
      const day = days.get(s.day);
      if (day) {
        day.salesAmount += s.amount;
        day.salesCount += s.n;
      }
      if (s.day === today) {
        todaySales.count += s.n;
        todaySales.amount += s.amount;
        todaySales.volumeMl += s.volume_ml;
      }
    } else if (s.day === today && s.decline_code !== null) {
      declines.set(s.decline_code, (declines.get(s.decline_code) ?? 0) + s.n);
    }
  }
  const todayRecharges = { count: 0, amount: 0 };
  for (const r of recharges.rows) {
    const day = days.get(r.day);
    if (day) day.rechargeAmount += r.amount;
    if (r.day === today) {
      todayRecharges.count += r.n;
      todayRecharges.amount += r.amount;
    }
  }
  const byCode = [...declines].map(([code, count]) => ({ code, count })).sort((a, b) => b.count - a.count || (a.code < b.code ? -1 : 1));
  return {
    businessDay: today,
    sales: todaySales,
    declines: { count: byCode.reduce((n, d) => n + d.count, 0), byCode },
    recharges: todayRecharges,
    activeCards: cards.rows[0]!.active,
    cardsIssuedToday: cards.rows[0]!.issued,
    days: [...days.values()],
  };
}
