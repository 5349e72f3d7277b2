import { sql } from 'kysely';
import type { Executor } from '../platform/index.js';
import { stationsError } from '../stations/index.js';

export interface CountAmount {
  count: number;
  amount: number;
}

export interface SettlementLine {
  flow: string;
  grade: string | null;
  count: number;
  volumeMl: number;
  amount: number;
}

/**
 * A station's daily settlement statement (结算单): the sales of one business day in their state
 * now. `lines` are every sale that was approved (whether it still is, or was reversed or voided
 * since), by flow and grade, whole amounts (store goods included; `goods` says how much of it).
 *   gross            = Σ lines.amount
 *   owedToStation    = gross − reversed.amount − voided.amount − stationLiability.amount
 * which is the money the programme moved to the station's settlement account for the day's
 * sales and did not take back: station-liability sales (an offline sale on a card the terminal's
 * own hot list held) moved nothing. Forced sales are included (the programme carries the arrears).
 */
export interface SettlementStatement {
  stationId: number;
  stationCode: string;
  stationName: string;
  businessDay: string;
  lines: SettlementLine[];
  goods: CountAmount;
  gross: number;
  reversed: CountAmount;
  voided: CountAmount;
  stationLiability: CountAmount;
  forced: CountAmount;
  owedToStation: number;
  shifts: Array<{ shiftId: number; terminalId: string; shiftNo: number; closedAt: string | null; balanced: boolean | null }>;
  openAuthorisations: number;
  unpaidPumpSales: number;
  generatedAt: string;
}

interface Totals {
  count: number;
  gross: number;
  goods_count: number;
  goods_amount: number;
  reversed_count: number;
  reversed_amount: number;
  voided_count: number;
  voided_amount: number;
  liability_count: number;
  liability_amount: number;
  forced_count: number;
  forced_amount: number;
}

/** The day's totals per station (one row each), from the sales that were ever approved. */
const TOTALS = sql`count(*)::int as count, coalesce(sum(s.amount), 0)::bigint as gross,
  count(*) filter (where s.goods_amount > 0)::int as goods_count, coalesce(sum(s.goods_amount), 0)::bigint as goods_amount,
  count(*) filter (where s.status = 'reversed')::int as reversed_count, coalesce(sum(s.amount) filter (where s.status = 'reversed'), 0)::bigint as reversed_amount,
  count(*) filter (where s.status = 'voided')::int as voided_count, coalesce(sum(s.amount) filter (where s.status = 'voided'), 0)::bigint as voided_amount,
  count(*) filter (where s.status = 'approved' and s.liability = 'station')::int as liability_count,
  coalesce(sum(s.amount) filter (where s.status = 'approved' and s.liability = 'station'), 0)::bigint as liability_amount,
  count(*) filter (where s.status = 'approved' and s.forced)::int as forced_count,
  coalesce(sum(s.amount) filter (where s.status = 'approved' and s.forced), 0)::bigint as forced_amount`;

const SOLD = sql`s.status in ('approved','reversed','voided')`;

function summarise(t: Totals | undefined) {
  const z = t ?? { count: 0, gross: 0, goods_count: 0, goods_amount: 0, reversed_count: 0, reversed_amount: 0, voided_count: 0, voided_amount: 0, liability_count: 0, liability_amount: 0, forced_count: 0, forced_amount: 0 };
  return {
    count: z.count,
    gross: z.gross,
    goods: { count: z.goods_count, amount: z.goods_amount },
    reversed: { count: z.reversed_count, amount: z.reversed_amount },
    voided: { count: z.voided_count, amount: z.voided_amount },
    stationLiability: { count: z.liability_count, amount: z.liability_amount },
    forced: { count: z.forced_count, amount: z.forced_amount },
    owedToStation: z.gross - z.reversed_amount - z.voided_amount - z.liability_amount,
  };
}

export async function settlementStatement(db: Executor, stationId: number, day: string, timeZone: string): Promise<SettlementStatement> {
  const st = await sql<{ id: number; code: string; name: string }>`select id, code, name from stations where id = ${stationId}`.execute(db);
  const station = st.rows[0];
  if (!station) throw stationsError('STATION_NOT_FOUND', { stationId });
  const [lines, totals, shifts, open, now] = await Promise.all([
    sql<{ flow: string; grade: string | null; count: number; volume_ml: number; amount: number }>`
      select s.flow, s.grade, count(*)::int as count, coalesce(sum(s.volume_ml), 0)::bigint as volume_ml, sum(s.amount)::bigint as amount
        from sales s where s.station_id = ${stationId} and s.business_day = ${day}::date and ${SOLD}
        group by s.flow, s.grade order by s.flow, s.grade nulls last`.execute(db),
    sql<Totals>`select ${TOTALS} from sales s where s.station_id = ${stationId} and s.business_day = ${day}::date and ${SOLD}`.execute(db),
    // Shifts closed on the day, and shifts still open that already hold sales of the day.
    sql<{ id: number; terminal_id: string; shift_no: number; closed_at: Date | null; differences: unknown[] | null }>`
      select id, terminal_id, shift_no, closed_at, differences from terminal_shifts t
        where t.station_id = ${stationId} and (t.business_day = ${day}::date or (t.closed_at is null and exists (
          select 1 from sales s where s.shift_id = t.id and s.business_day = ${day}::date)))
        order by t.terminal_id, t.shift_no`.execute(db),
    sql<{ auths: number; unpaid: number }>`select
        (select count(*)::int from pump_authorisations where station_id = ${stationId} and status in ('held','review') and business_day = ${day}::date) as auths,
        (select count(*)::int from pump_sales where station_id = ${stationId} and status = 'unpaid'
           and (created_at at time zone ${timeZone})::date = ${day}::date) as unpaid`.execute(db),
    sql<{ now: Date }>`select clock_timestamp() as now`.execute(db),
  ]);
  const sum = summarise(totals.rows[0]);
  return {
    stationId: station.id,
    stationCode: station.code,
    stationName: station.name,
    businessDay: day,
    lines: lines.rows.map((l) => ({ flow: l.flow, grade: l.grade, count: l.count, volumeMl: l.volume_ml, amount: l.amount })),
    goods: sum.goods,
    gross: sum.gross,
    reversed: sum.reversed,
    voided: sum.voided,
    stationLiability: sum.stationLiability,
    forced: sum.forced,
    owedToStation: sum.owedToStation,
    shifts: shifts.rows.map((s) => ({
      shiftId: s.id,
      terminalId: s.terminal_id,
      shiftNo: s.shift_no,
      closedAt: s.closed_at?.toISOString() ?? null,
      balanced: s.closed_at === null || s.differences === null ? null : s.differences.length === 0,
    })),
    openAuthorisations: open.rows[0]!.auths,
    unpaidPumpSales: open.rows[0]!.unpaid,
    generatedAt: now.rows[0]!.now.toISOString(),
  };
}

export interface SettlementSummaryRow {
  stationId: number;
  stationCode: string;
  stationName: string;
  count: number;
  gross: number;
  goods: CountAmount;
  reversed: CountAmount;
  voided: CountAmount;
  stationLiability: CountAmount;
  forced: CountAmount;
  owedToStation: number;
  /** Shifts of the station closed that day out of balance. */
  unbalancedShifts: number;
}

/**
 * One summary row per station that sold anything on the day (stations without sales owe and
 * are owed nothing), in station id order, and the totals of all of them.
 */
export async function settlementSummary(
  db: Executor,
  day: string,
  page: { limit: number; afterStationId?: number },
): Promise<{ businessDay: string; items: SettlementSummaryRow[]; nextCursor: string | null; totals: Omit<SettlementSummaryRow, 'stationId' | 'stationCode' | 'stationName'> & { stations: number } }> {
  const after = page.afterStationId ?? 0;
  const [rows, all, unbalanced] = await Promise.all([
    sql<Totals & { station_id: number; code: string; name: string }>`
      select s.station_id, st.code, st.name, ${TOTALS}
        from sales s join stations st on st.id = s.station_id
        where s.business_day = ${day}::date and ${SOLD} and s.station_id > ${after}
        group by s.station_id, st.code, st.name order by s.station_id limit ${page.limit + 1}`.execute(db),
    sql<Totals & { stations: number; unbalanced: number }>`select count(distinct s.station_id)::int as stations, ${TOTALS}
        from sales s where s.business_day = ${day}::date and ${SOLD}`.execute(db),
    sql<{ station_id: number; n: number }>`select station_id, count(*)::int as n from terminal_shifts
        where business_day = ${day}::date and jsonb_array_length(coalesce(differences, '[]'::jsonb)) > 0 group by station_id`.execute(db),
  ]);
  const unbalancedBy = new Map(unbalanced.rows.map((u) => [u.station_id, u.n]));
  const pageRows = rows.rows.slice(0, page.limit);
  const last = pageRows[pageRows.length - 1];
  const totalsRow = all.rows[0];
  const { count, gross, goods, reversed, voided, stationLiability, forced, owedToStation } = summarise(totalsRow);
  return {
    businessDay: day,
    items: pageRows.map((r) => {
      const s = summarise(r);
      return {
        stationId: r.station_id,
        stationCode: r.code,
        stationName: r.name,
        count: s.count,
        gross: s.gross,
        goods: s.goods,
        reversed: s.reversed,
        voided: s.voided,
        stationLiability: s.stationLiability,
        forced: s.forced,
        owedToStation: s.owedToStation,
        unbalancedShifts: unbalancedBy.get(r.station_id) ?? 0,
      };
    }),
    nextCursor: rows.rows.length > page.limit && last ? String(last.station_id) : null,
    totals: {
      stations: totalsRow?.stations ?? 0,
      count,
      gross,
      goods,
      reversed,
      voided,
      stationLiability,
      forced,
      owedToStation,
      unbalancedShifts: [...unbalancedBy.values()].reduce((a, b) => a + b, 0),
    },
  };
}
