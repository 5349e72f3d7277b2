import { sql, type RawBuilder } from 'kysely';
import { businessDay, monthStart, weekStart, type Executor } from '../platform/index.js';
import { PROFILE_IN_FLIGHT_MARGIN_MS, PROFILE_MAX_LAG_MS, profileStatsSql, storeRiskProfileNoWait, toAmountStats } from './risk.profile.js';
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
  /** Overrides the card's bound vehicle (docs/vehicles.md); a backtest reads today's binding. */
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
/** Epoch milliseconds, truncated as the driver truncates a timestamptz into a Date. */
const epochMs = (col: RawBuilder<unknown>) => sql`(extract(epoch from date_trunc('milliseconds', ${col})) * 1000)::int8`;

type RecentTuple = [number, number, number, number, string, number, number | null, string | null, 'approved' | 'declined', string | null];

interface ContextRow {
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
  recent: RecentTuple[];
  usage: Array<[string, number, number, number]>;
  money: Array<[number, 'recharge' | 'refund', number]>;
  /** The profile used (null: the statistics below were computed from sales). */
  profile_as_of: Date | null;
  n: number;
  mean: number;
  sd: number;
  p95: number;
  /** Each sale's local hour when the statistics were aggregated; else the profile's stored bins. */
  sale_hours: number[] | null;
  stored_hour_counts: number[] | null;
  vehicle_plate: string | null;
  vehicle_tank_ml: number | null;
  vehicle_grades: string[] | null;
}

/**
 * Everything the rules read about one sale, as of `input.at` (nothing later is seen, so a backtest
 * rebuilds the context each past sale had), in one statement. In the sale path it runs after the
 * card is locked (cards' authoriseCardUse), in the sale's transaction.
 *
 * The 90-day amount statistics come from the card's risk profile (risk.profile.ts) when one was
 * computed within the 24 h before `at` in this time zone; otherwise from the card's sales, and in
 * the sale path a profile is then stored (storeRiskProfileNoWait: skipped rather than waited for). A backtest (`usageFrom:
 * 'sales'`) always computes them from sales as of each sale's own time.
 * Returns null when the card or the station does not exist: the cards module declines those.
 */
export async function loadRiskContext(db: Executor, input: RiskContextInput): Promise<RiskContext | null> {
  const at = input.at;
  const exclude = input.excludeSaleId ?? NIL_UUID;
  const saleTime = sql`${at}::timestamptz`;
  const fromSales = input.usageFrom === 'sales';
  const day = businessDay(at, input.timeZone);
  const from = [weekStart(day), monthStart(day)].sort()[0]!;
  const since = new Date(at.getTime() - MONEY_DAYS * 86_400_000);

  // Period usage (day/week/month of the business calendar): the counters the caller's card lock
  // guards in the sale path, the sales before `at` for a backtest (the counters only know today).
  const usage = fromSales
    ? sql`(select coalesce(json_agg(json_build_array(to_char(u.business_day, 'YYYY-MM-DD'), u.amount, u.volume_ml, u.fills)), '[]')
           from (select business_day, sum(amount)::bigint as amount, coalesce(sum(volume_ml), 0)::bigint as volume_ml, count(grade)::int as fills
                 from sales
                 where card_id = c.id and status = 'approved' and created_at > ${new Date(at.getTime() - 32 * 86_400_000)}
                   and created_at < ${at} and business_day >= ${from}::date and business_day <= ${day}::date and id <> ${exclude}::uuid
                 group by business_day) u)`
    : sql`(select coalesce(json_agg(json_build_array(to_char(u.day, 'YYYY-MM-DD'), u.amount, u.volume_ml, u.fills)), '[]')
           from card_usage_daily u where u.card_id = c.id and u.day >= ${from}::date and u.day <= ${day}::date)`;

  // A profile is used only if it is no older than the recent window and not computed after the
  // sale (an offline upload's `at` is the terminal's, possibly hours ago), and does not hold the
  // excluded sale. A backtest never uses one: it rebuilds each past sale's statistics from sales.
  // When the card has not sold since the profile and none of its sales has left the window, the
  // stored statistics are the answer (`same`, the common case: the job refreshes after each sale);
  // otherwise they are recomputed from the profile's sales still in the window plus those since.
  const profile = fromSales
    ? sql`(select null::bigint as card_id, null::timestamptz as as_of, null::timestamptz[] as sale_times, null::bigint[] as amounts,
                  null::text as time_zone, null::int as sales, null::float8 as mean, null::float8 as sd, null::float8 as p95, null::int[] as hour_counts)`
    : sql`(select p.card_id, p.as_of, p.sale_times, p.amounts, p.time_zone, p.sales, p.mean, p.sd, p.p95, p.hour_counts from card_risk_profile p
           where p.card_id = c.id and p.days = ${STATS_DAYS}
             and p.as_of <= ${saleTime} and p.as_of > ${saleTime} - ${sql.lit(`${PROFILE_MAX_LAG_MS} milliseconds`)}::interval
             ${input.excludeSaleId === undefined ? sql`` : sql`and not exists (select 1 from sales x where x.id = ${exclude}::uuid and x.created_at < p.as_of)`})`;

  const r = await sql<ContextRow>`
    select c.id, c.kind, c.master_card_id, c.customer_id, c.created_at, s.lat, s.lng,
           f.reason as flag_reason, f.flagged_at,
           (select array_agg(distinct rs.rule) from risk_rule_silences rs
             where rs.card_id = c.id and rs.created_at <= ${at} and rs.until > ${at}
               and (rs.revoked_at is null or rs.revoked_at > ${at})) as silenced,
           (select coalesce(json_agg(json_build_array(${epochMs(sql`r.created_at`)}, r.station_id, r.lat, r.lng, r.terminal_id, r.amount,
                                                      r.volume_ml, r.grade, r.status, r.decline_code) order by r.created_at desc), '[]')
            from (select x.created_at, x.station_id, st.lat, st.lng, x.terminal_id, x.amount, x.volume_ml, x.grade, x.status, x.decline_code
                  from sales x join stations st on st.id = x.station_id
                  where x.card_id = c.id and x.created_at > ${new Date(at.getTime() - RECENT_WINDOW_MS)} and x.created_at <= ${at}
                    and x.status in ('approved','declined') and x.id <> ${exclude}::uuid
                  order by x.created_at desc limit ${RECENT_LIMIT}) r) as recent,
           ${usage} as usage,
           (select coalesce(json_agg(json_build_array(${epochMs(sql`m.at`)}, m.kind, m.amount) order by m.at desc), '[]')
            from (select created_at as at, 'recharge' as kind, amount from recharges
                    where card_id = c.id and created_at > ${since} and created_at <= ${at}
                  union all
                  select created_at as at, 'refund' as kind, amount from payment_refunds
                    where card_id = c.id and kind = 'recharge' and status <> 'failed' and created_at > ${since} and created_at <= ${at}) m) as money,
           p.as_of as profile_as_of, coalesce(st.n, p.sales) as n, coalesce(st.mean, p.mean) as mean, coalesce(st.sd, p.sd) as sd,
           coalesce(st.p95, p.p95) as p95, st.hours as sale_hours, p.hour_counts as stored_hour_counts,
           v.plate as vehicle_plate, v.tank_capacity_ml as vehicle_tank_ml, v.grades as vehicle_grades
    from cards c
    join stations s on s.id = ${input.stationId}
    left join lateral (
      select reason, flagged_at from risk_flagged_stations
      where station_id = s.id and flagged_at <= ${at} and (cleared_at is null or cleared_at > ${at})
      order by flagged_at desc limit 1) f on true
    left join vehicles v on v.id = c.vehicle_id and v.status = 'active'
    left join lateral ${profile} p on true
    left join lateral (
      select p.card_id is not null and p.time_zone = ${input.timeZone}
             and coalesce(p.sale_times[1] > ${saleTime} - ${sql.lit(`${STATS_DAYS * 86_400} seconds`)}::interval, true)
             and not exists (select 1 from sales y where y.card_id = c.id and y.status = 'approved' and y.created_at >= p.as_of and y.created_at < ${saleTime}) as as_stored
    ) same on true
    left join lateral (select * from (${profileStatsSql('p', sql`c.id`, saleTime, input.timeZone, exclude)}) changed where not same.as_stored) st on true
    where c.id = ${input.cardId}`.execute(db);
  const h = r.rows[0];
  if (!h) return null;

  const recent: PastSale[] = h.recent.map(([t, stationId, lat, lng, terminalId, amount, volumeMl, grade, status, declineCode]) => ({
    at: Number(t),
    stationId: Number(stationId),
    lat,
    lng,
    terminalId,
    amount: Number(amount),
    volumeMl: volumeMl === null ? null : Number(volumeMl),
    grade,
    status,
    declineCode,
  }));
  const stats: AmountStats =
    h.sale_hours === null
      ? { days: STATS_DAYS, count: h.n, mean: h.mean, sd: h.sd, p95: h.p95, hourCounts: (h.stored_hour_counts ?? []).map(Number) }
      : toAmountStats({ n: h.n, mean: h.mean, sd: h.sd, p95: h.p95, hours: h.sale_hours });
  // The sale path's first look at a card without a usable profile stores one, so the next sale
  // reads one row and the day's sales since (once per card; the job keeps it fresh). As of the
  // in-flight margin before the sale, as the job does: a sale of this card begun before ours and
  // still to commit is then "since" for the next load. The store never waits (the job may be
  // writing this card) and a failure undoes only the store: this context is computed already.
  if (!fromSales && h.profile_as_of === null) await storeRiskProfileNoWait(db, input.cardId, new Date(at.getTime() - PROFILE_IN_FLIGHT_MARGIN_MS), input.timeZone);

  const sum = (since: string): PeriodUsage =>
    h.usage
      .filter(([d]) => d >= since)
      .reduce((acc, [, amount, volumeMl, fills]) => ({ amount: acc.amount + Number(amount), volumeMl: acc.volumeMl + Number(volumeMl), fills: acc.fills + Number(fills) }), { amount: 0, volumeMl: 0, fills: 0 });
  const pending = input.pendingAmount ?? 0;
  const withPending = (u: PeriodUsage): PeriodUsage => ({ ...u, amount: u.amount + pending });
  const moneyMoves: MoneyMove[] = h.money.map(([t, kind, amount]) => ({ at: Number(t), kind, amount: Number(amount) }));

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
    usage: { day: withPending(sum(day)), week: withPending(sum(weekStart(day))), month: withPending(sum(monthStart(day))) },
    stats,
    moneyMoves,
    vehicle:
      input.vehicle !== undefined
        ? input.vehicle
        : h.vehicle_plate === null
          ? null
          : { plate: h.vehicle_plate, tankCapacityMl: Number(h.vehicle_tank_ml), grades: h.vehicle_grades ?? [] },
    silenced: h.silenced ?? [],
  };
}
