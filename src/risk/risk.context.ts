import { sql } from 'kysely';
import { businessDay, monthStart, weekStart, type Executor } from '../platform/index.js';
import { MONEY_DAYS, RECENT_LIMIT, RECENT_WINDOW_MS, STATS_DAYS } from './risk.rules.js';
import type { AmountStats, MoneyMove, PastSale, PeriodUsage, RiskCard, RiskContext, RiskVehicle, SaleChannel } from './risk.types.js';

export interface RiskContextInput {
  cardId: number;
  amount: number;
  volumeMl: number | null;
  grade: string | null;
  stationId: number;
  terminalId: string;
  /** When the sale happened; the database's clock in the sale path, the terminal's for an offline upload. */
  at: Date;
  channel: SaleChannel;
  /** The operator's zone (config.timeZone): business days and the hour of day follow it. */
  timeZone: string;
  /** No vehicle table exists yet: the caller passes what it knows (null = none). */
  vehicle?: RiskVehicle | null;
  /**
   * 'counters' (the sale path): period usage from card_usage_daily, read under the card's lock so
   * two pumps see each other. 'sales' (backtest): usage summed from the sales before `at`, because
   * the counters only know today.
   */
  usageFrom?: 'counters' | 'sales';
  /**
   * Money the card's open pump authorisations hold (fen): counted as spent in the period usage, as
   * the cards module does, so parallel holds cannot together pass a period limit.
   */
  pendingAmount?: number;
  /** A sale already written (backtest, an offline upload recorded before its check) is not its own history. */
  excludeSaleId?: string;
}

const hourFormats = new Map<string, Intl.DateTimeFormat>();
/** The hour of day (0–23) of `at` in `timeZone`. */
export function localHour(at: Date, timeZone: string): number {
  let f = hourFormats.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', hourCycle: 'h23' });
    hourFormats.set(timeZone, f);
  }
  return Number(f.format(at)) % 24;
}

const NIL_UUID = '00000000-0000-0000-0000-000000000000';
const ms = (d: Date | string) => new Date(d).getTime();

/**
 * Everything the rules read about one sale, in five indexed queries, as of `input.at` (nothing
 * later is seen, so a backtest rebuilds the context each past sale had). In the sale path it runs
 * after the card is locked (cards' authoriseCardUse), in the sale's transaction.
 * Returns null when the card or the station does not exist: the cards module declines those.
 */
export async function loadRiskContext(db: Executor, input: RiskContextInput): Promise<RiskContext | null> {
  const at = input.at;
  const exclude = input.excludeSaleId ?? NIL_UUID;

  // 1. The card, the station, an open compromise flag on it, the card's silenced rules: one row.
  const head = await sql<{
    id: number;
    kind: RiskCard['kind'];
    master_card_id: number | null;
    customer_id: number | null;
    created_at: Date;
    lat: number;
    lng: number;
    flag_reason: string | null;
    flagged_at: Date | null;
    silenced: string[] | null;
  }>`
    select c.id, c.kind, c.master_card_id, c.customer_id, c.created_at, s.lat, s.lng,
           f.reason as flag_reason, f.flagged_at,
           (select array_agg(distinct rs.rule) from risk_rule_silences rs
             where rs.card_id = c.id and rs.created_at <= ${at} and rs.until > ${at}
               and (rs.revoked_at is null or rs.revoked_at > ${at})) as silenced
    from cards c
    join stations s on s.id = ${input.stationId}
    left join lateral (
      select reason, flagged_at from risk_flagged_stations
      where station_id = s.id and flagged_at <= ${at} and (cleared_at is null or cleared_at > ${at})
      order by flagged_at desc limit 1) f on true
    where c.id = ${input.cardId}`.execute(db);
  const h = head.rows[0];
  if (!h) return null;

  // 2. Recent sales, newest first, capped: velocity, travel, card testing, tank volume.
  const recentRows = await sql<{
    created_at: Date;
    station_id: number;
    lat: number;
    lng: number;
    terminal_id: string;
    amount: number;
    volume_ml: number | null;
    grade: string | null;
    status: 'approved' | 'declined';
    decline_code: string | null;
  }>`
    select s.created_at, s.station_id, st.lat, st.lng, s.terminal_id, s.amount, s.volume_ml, s.grade, s.status, s.decline_code
    from sales s join stations st on st.id = s.station_id
    where s.card_id = ${input.cardId} and s.created_at > ${new Date(at.getTime() - RECENT_WINDOW_MS)} and s.created_at <= ${at}
      and s.status in ('approved','declined') and s.id <> ${exclude}::uuid
    order by s.created_at desc limit ${RECENT_LIMIT}`.execute(db);
  const recent: PastSale[] = recentRows.rows.map((r) => ({
    at: ms(r.created_at),
    stationId: r.station_id,
    lat: r.lat,
    lng: r.lng,
    terminalId: r.terminal_id,
    amount: r.amount,
    volumeMl: r.volume_ml,
    grade: r.grade,
    status: r.status,
    declineCode: r.decline_code,
  }));

  // 3. The card's own amount history: approved sales over STATS_DAYS before this one.
  const statsRow = await sql<{ n: number; mean: number; sd: number; p95: number; hours: number[] | null }>`
    select count(*)::int as n, coalesce(avg(amount), 0)::float8 as mean, coalesce(stddev_pop(amount), 0)::float8 as sd,
           coalesce(percentile_cont(0.95) within group (order by amount), 0)::float8 as p95,
           array_agg(extract(hour from created_at at time zone ${input.timeZone})::int) as hours
    from sales
    where card_id = ${input.cardId} and status = 'approved'
      and created_at > ${new Date(at.getTime() - STATS_DAYS * 86_400_000)} and created_at < ${at} and id <> ${exclude}::uuid`.execute(db);
  const sr = statsRow.rows[0]!;
  const hourCounts = new Array<number>(24).fill(0);
  for (const hr of sr.hours ?? []) if (hr !== null && hr >= 0 && hr < 24) hourCounts[hr]!++;
  const stats: AmountStats = { days: STATS_DAYS, count: sr.n, mean: sr.mean, sd: sr.sd, p95: sr.p95, hourCounts };

  // 4. Period usage (day/week/month of the business calendar).
  const day = businessDay(at, input.timeZone);
  const from = [weekStart(day), monthStart(day)].sort()[0]!;
  const usageRows =
    (input.usageFrom ?? 'counters') === 'counters'
      ? await sql<{ day: string; amount: number; volume_ml: number; fills: number }>`
          select to_char(day, 'YYYY-MM-DD') as day, amount, volume_ml, fills from card_usage_daily
          where card_id = ${input.cardId} and day >= ${from}::date and day <= ${day}::date`.execute(db)
      : await sql<{ day: string; amount: number; volume_ml: number; fills: number }>`
          select to_char(business_day, 'YYYY-MM-DD') as day, sum(amount)::bigint as amount,
                 coalesce(sum(volume_ml), 0)::bigint as volume_ml, count(grade)::int as fills
          from sales
          where card_id = ${input.cardId} and status = 'approved' and created_at > ${new Date(at.getTime() - 32 * 86_400_000)}
            and created_at < ${at} and business_day >= ${from}::date and business_day <= ${day}::date and id <> ${exclude}::uuid
          group by business_day`.execute(db);
  const sum = (since: string): PeriodUsage =>
    usageRows.rows
      .filter((u) => u.day >= since)
      .reduce((acc, u) => ({ amount: acc.amount + Number(u.amount), volumeMl: acc.volumeMl + Number(u.volume_ml), fills: acc.fills + Number(u.fills) }), { amount: 0, volumeMl: 0, fills: 0 });
  const pending = input.pendingAmount ?? 0;
  const withPending = (u: PeriodUsage): PeriodUsage => ({ ...u, amount: u.amount + pending });
  const usage = { day: withPending(sum(day)), week: withPending(sum(weekStart(day))), month: withPending(sum(monthStart(day))) };

  // 5. Money onto the card (recharges) and back off it (refunds of recharges) over MONEY_DAYS.
  const since = new Date(at.getTime() - MONEY_DAYS * 86_400_000);
  const moneyRows = await sql<{ at: Date; kind: 'recharge' | 'refund'; amount: number }>`
    select created_at as at, 'recharge' as kind, amount from recharges
      where card_id = ${input.cardId} and created_at > ${since} and created_at <= ${at}
    union all
    select created_at as at, 'refund' as kind, amount from payment_refunds
      where card_id = ${input.cardId} and kind = 'recharge' and status <> 'failed' and created_at > ${since} and created_at <= ${at}
    order by at desc`.execute(db);
  const moneyMoves: MoneyMove[] = moneyRows.rows.map((r) => ({ at: ms(r.at), kind: r.kind, amount: r.amount }));

  return {
    sale: {
      cardId: input.cardId,
      amount: input.amount,
      volumeMl: input.volumeMl,
      grade: input.grade,
      stationId: input.stationId,
      terminalId: input.terminalId,
      at: at.getTime(),
      localHour: localHour(at, input.timeZone),
      channel: input.channel,
    },
    station: { id: input.stationId, lat: h.lat, lng: h.lng, flagged: h.flag_reason !== null && h.flagged_at ? { reason: h.flag_reason, since: ms(h.flagged_at) } : null },
    card: { id: h.id, kind: h.kind, masterCardId: h.master_card_id, customerId: h.customer_id, createdAt: ms(h.created_at) },
    recent,
    recentWindowMs: RECENT_WINDOW_MS,
    usage,
    stats,
    moneyMoves,
    vehicle: input.vehicle ?? null,
    silenced: h.silenced ?? [],
  };
}
