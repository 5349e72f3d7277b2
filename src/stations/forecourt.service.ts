import { sql } from 'kysely';
import type { Actor, Db, Executor, TerminalPrincipal } from '../platform/index.js';
import { audit, businessDay, pgErrorCode, PgCode } from '../platform/index.js';
import { getStation } from './stations.service.js';
import { stationsError } from './stations.errors.js';
import { scopeRank } from './prices.service.js';

export { pricesInForce, priceInForce, setPrice, cancelPrice, nextPrices, priceHistory, type Price, type PriceHistoryItem, type PriceScope, type PriceTarget } from './prices.service.js';

/**
 * The forecourt: fuel grades, each station's pumps (加油机) and nozzles (油枪), and what a terminal
 * needs to sell. Prices live in prices.service.ts.
 */

export type GradeKind = 'petrol' | 'diesel' | 'gas' | 'other';

export interface Grade {
  code: string;
  nameZh: string;
  nameEn: string;
  kind: GradeKind;
  /** A deactivated grade takes no new prices or nozzles; sales history keeps its code. */
  active: boolean;
}

export interface Nozzle {
  nozzle: number;
  grade: string;
  /** The pump the nozzle hangs on; null when the station's pumps are not recorded. */
  pump: number | null;
}

export interface Pump {
  pump: number;
  name: string;
  nozzles: Array<{ nozzle: number; grade: string }>;
}

export interface ForecourtNozzle extends Nozzle {
  gradeName: string;
  gradeNameEn: string;
  /** Null when no price is set for the grade: the nozzle cannot sell. */
  unitPrice: number | null;
  /** The next scheduled price for this nozzle's grade at this station, and when it begins; null when none. */
  nextUnitPrice: number | null;
  nextEffectiveFrom: string | null;
}

export interface Forecourt {
  terminalId: string;
  station: { id: number; name: string };
  businessDay: string;
  nozzles: ForecourtNozzle[];
}

/** A station has at most 99 nozzles (two-digit nozzle numbers on the pump display) and 99 pumps. */
export const MAX_NOZZLES = 99;
export const MAX_PUMPS = 99;

type GradeRow = { code: string; name_zh: string; name_en: string; kind: GradeKind; active: boolean };
const toGrade = (g: GradeRow): Grade => ({ code: g.code, nameZh: g.name_zh, nameEn: g.name_en, kind: g.kind, active: g.active });

export async function listGrades(db: Executor, opts: { activeOnly?: boolean } = {}): Promise<Grade[]> {
  const r = await sql<GradeRow>`select code, name_zh, name_en, kind, active from fuel_grades
    where ${opts.activeOnly ? sql`active` : sql`true`} order by sort_order, code`.execute(db);
  return r.rows.map(toGrade);
}

/** A grade the operator adds (LPG, CNG, E92 …): listed after the built-in ones, in the order added. */
export async function createGrade(db: Db, actor: Actor, input: { code: string; nameZh: string; nameEn: string; kind: GradeKind }): Promise<Grade> {
  return db.transaction().execute(async (trx) => {
    try {
      const r = await sql<GradeRow>`insert into fuel_grades (code, name_zh, name_en, kind, sort_order)
        values (${input.code}, ${input.nameZh}, ${input.nameEn}, ${input.kind}, (select coalesce(max(sort_order), 0) + 10 from fuel_grades))
        on conflict (code) do nothing returning code, name_zh, name_en, kind, active`.execute(trx);
      if (!r.rows[0]) throw stationsError('GRADE_CODE_TAKEN', { field: 'body.code', grade: input.code });
      await audit(trx, actor, { action: 'grade.create', targetType: 'fuel_grade', targetId: input.code, details: { ...input } });
      return toGrade(r.rows[0]);
    } catch (err) {
      if (pgErrorCode(err) === PgCode.uniqueViolation) throw stationsError('GRADE_CODE_TAKEN', { field: 'body.code', grade: input.code });
      throw err;
    }
  });
}

/** Rename a grade, or (de)activate it. A grade some nozzle still sells cannot be deactivated. */
export async function updateGrade(db: Db, actor: Actor, code: string, patch: { nameZh?: string; nameEn?: string; active?: boolean }): Promise<Grade> {
  return db.transaction().execute(async (trx) => {
    const cur = await sql<GradeRow>`select code, name_zh, name_en, kind, active from fuel_grades where code = ${code} for update`.execute(trx);
    const before = cur.rows[0];
    if (!before) throw stationsError('GRADE_NOT_FOUND', { grade: code });
    if (patch.active === false && before.active) {
      const used = await sql<{ n: number }>`select count(*)::int n from station_nozzles where grade = ${code}`.execute(trx);
      if (used.rows[0]!.n > 0) throw stationsError('GRADE_IN_USE', { field: 'body.active', grade: code, nozzles: used.rows[0]!.n });
    }
    const r = await sql<GradeRow>`update fuel_grades set name_zh = ${patch.nameZh ?? before.name_zh}, name_en = ${patch.nameEn ?? before.name_en},
      active = ${patch.active ?? before.active} where code = ${code} returning code, name_zh, name_en, kind, active`.execute(trx);
    const after = toGrade(r.rows[0]!);
    await audit(trx, actor, { action: 'grade.update', targetType: 'fuel_grade', targetId: code, details: { before: toGrade(before), after } });
    return after;
  });
}

/** Refuses grade codes that are not in the list or deactivated, naming the field of the first such one. */
async function requireActiveGrades(db: Executor, grades: ReadonlyArray<{ grade: string; field: string }>): Promise<void> {
  if (grades.length === 0) return;
  const r = await sql<{ code: string; active: boolean }>`select code, active from fuel_grades where code = any(${[...new Set(grades.map((g) => g.grade))]}::text[])`.execute(db);
  const known = new Map(r.rows.map((g) => [g.code, g.active]));
  const unknown = grades.find((g) => !known.has(g.grade));
  if (unknown) throw stationsError('GRADE_UNKNOWN', { field: unknown.field, grade: unknown.grade });
  const inactive = grades.find((g) => known.get(g.grade) === false);
  if (inactive) throw stationsError('GRADE_INACTIVE', { field: inactive.field, grade: inactive.grade });
}

const selectNozzles = (db: Executor, stationId: number) =>
  sql<Nozzle>`select nozzle, grade, pump from station_nozzles where station_id = ${stationId} order by nozzle`.execute(db);

export async function getNozzles(db: Executor, stationId: number): Promise<Nozzle[]> {
  await getStation(db, stationId);
  return (await selectNozzles(db, stationId)).rows;
}

/**
 * Locks the station row against a concurrent edit of its forecourt. NO KEY UPDATE, not UPDATE:
 * every sale insert takes KEY SHARE on its station through the foreign key, and FOR UPDATE would
 * make the station's sales wait for this edit.
 */
async function lockStation(trx: Executor, stationId: number): Promise<void> {
  const st = await sql<{ id: number }>`select id from stations where id = ${stationId} for no key update`.execute(trx);
  if (st.rows.length === 0) throw stationsError('STATION_NOT_FOUND', { stationId });
}

/** Replaces a station's nozzle list as a whole (what the forecourt looks like now); audited when it changes. */
export async function setNozzles(db: Db, actor: Actor, stationId: number, items: ReadonlyArray<{ nozzle: number; grade: string; pump?: number | null }>): Promise<Nozzle[]> {
  const seen = new Set<number>();
  items.forEach((n, i) => {
    if (seen.has(n.nozzle)) throw stationsError('NOZZLE_DUPLICATE', { field: `body.items.${i}.nozzle`, nozzle: n.nozzle });
    seen.add(n.nozzle);
  });
  const wanted: Nozzle[] = [...items].sort((a, b) => a.nozzle - b.nozzle).map((n) => ({ nozzle: n.nozzle, grade: n.grade, pump: n.pump ?? null }));
  return db.transaction().execute(async (trx) => {
    await lockStation(trx, stationId);
    const before = (await selectNozzles(trx, stationId)).rows;
    if (JSON.stringify(before) === JSON.stringify(wanted)) return before;
    await requireActiveGrades(trx, items.map((n, i) => ({ grade: n.grade, field: `body.items.${i}.grade` })));
    const pumps = new Set((await sql<{ pump: number }>`select pump from station_pumps where station_id = ${stationId}`.execute(trx)).rows.map((p) => p.pump));
    const strayPump = items.findIndex((n) => n.pump !== undefined && n.pump !== null && !pumps.has(n.pump));
    if (strayPump >= 0) throw stationsError('PUMP_UNKNOWN', { field: `body.items.${strayPump}.pump`, pump: items[strayPump]!.pump });
    await sql`delete from station_nozzles where station_id = ${stationId}`.execute(trx);
    if (wanted.length > 0) {
      await sql`insert into station_nozzles (station_id, nozzle, grade, pump)
        select ${stationId}, n, g, p from unnest(${wanted.map((n) => n.nozzle)}::int[], ${wanted.map((n) => n.grade)}::text[], ${wanted.map((n) => n.pump)}::int[]) as v(n, g, p)`.execute(trx);
    }
    await audit(trx, actor, { action: 'station.nozzles_set', targetType: 'station', targetId: stationId, details: { before, after: wanted } });
    return wanted;
  });
}

export interface PumpList {
  items: Pump[];
  /** Nozzles on no recorded pump. */
  unassigned: Array<{ nozzle: number; grade: string }>;
}

async function readPumps(db: Executor, stationId: number): Promise<PumpList> {
  const pumps = await sql<{ pump: number; name: string }>`select pump, name from station_pumps where station_id = ${stationId} order by pump`.execute(db);
  const nozzles = (await selectNozzles(db, stationId)).rows;
  return {
    items: pumps.rows.map((p) => ({ pump: p.pump, name: p.name, nozzles: nozzles.filter((n) => n.pump === p.pump).map((n) => ({ nozzle: n.nozzle, grade: n.grade })) })),
    unassigned: nozzles.filter((n) => n.pump === null).map((n) => ({ nozzle: n.nozzle, grade: n.grade })),
  };
}

export async function getPumps(db: Executor, stationId: number): Promise<PumpList> {
  await getStation(db, stationId);
  return readPumps(db, stationId);
}

/** Replaces a station's pump list. A pump that nozzles still hang on cannot go (move the nozzles first). */
export async function setPumps(db: Db, actor: Actor, stationId: number, items: ReadonlyArray<{ pump: number; name?: string }>): Promise<PumpList> {
  const seen = new Set<number>();
  items.forEach((p, i) => {
    if (seen.has(p.pump)) throw stationsError('PUMP_DUPLICATE', { field: `body.items.${i}.pump`, pump: p.pump });
    seen.add(p.pump);
  });
  const wanted = [...items].sort((a, b) => a.pump - b.pump).map((p) => ({ pump: p.pump, name: p.name ?? '' }));
  return db.transaction().execute(async (trx) => {
    await lockStation(trx, stationId);
    const before = (await sql<{ pump: number; name: string }>`select pump, name from station_pumps where station_id = ${stationId} order by pump`.execute(trx)).rows;
    if (JSON.stringify(before) === JSON.stringify(wanted)) return readPumps(trx, stationId);
    const inUse = await sql<{ pump: number }>`select distinct pump from station_nozzles where station_id = ${stationId} and pump is not null
      and pump <> all(${wanted.map((p) => p.pump)}::int[]) order by pump limit 1`.execute(trx);
    if (inUse.rows[0]) throw stationsError('PUMP_IN_USE', { field: 'body.items', pump: inUse.rows[0].pump });
    await sql`delete from station_pumps where station_id = ${stationId}`.execute(trx);
    if (wanted.length > 0) {
      await sql`insert into station_pumps (station_id, pump, name)
        select ${stationId}, p, n from unnest(${wanted.map((p) => p.pump)}::int[], ${wanted.map((p) => p.name)}::text[]) as v(p, n)`.execute(trx);
    }
    await audit(trx, actor, { action: 'station.pumps_set', targetType: 'station', targetId: stationId, details: { before, after: wanted } });
    return readPumps(trx, stationId);
  });
}

/** What a terminal needs to sell: its station, the business day, and each nozzle's pump, grade and price now and next. */
export async function forecourtFor(db: Executor, timeZone: string, terminal: TerminalPrincipal): Promise<Forecourt> {
  const st = await sql<{ id: number; name: string; now: Date }>`select id, name, now() as now from stations where id = ${terminal.stationId}`.execute(db);
  const station = st.rows[0];
  if (!station) throw stationsError('STATION_NOT_FOUND', { stationId: terminal.stationId });
  // Same rules as prices.service (pricesInForce / nextPrices for a station), per nozzle.
  const r = await sql<{
    nozzle: number;
    grade: string;
    pump: number | null;
    name_zh: string;
    name_en: string;
    unit_price: number | null;
    next_unit_price: number | null;
    next_effective_from: Date | null;
  }>`
    select n.nozzle, n.grade, n.pump, g.name_zh, g.name_en, p.unit_price, x.unit_price as next_unit_price, x.effective_from as next_effective_from
    from station_nozzles n
    join stations st on st.id = n.station_id
    join fuel_grades g on g.code = n.grade
    left join lateral (select f.unit_price from fuel_prices f
      where f.grade = n.grade and (f.station_id = st.id or f.province = st.province or (f.station_id is null and f.province is null))
        and f.effective_from <= now()
      order by ${scopeRank('f')}, f.effective_from desc, f.id desc limit 1) p on true
    left join lateral (select f.unit_price, f.effective_from from fuel_prices f
      where f.grade = n.grade and f.effective_from > now()
        and (f.station_id = st.id or f.province = st.province or (f.station_id is null and f.province is null))
        and not exists (select 1 from fuel_prices o where o.grade = f.grade and o.effective_from <= f.effective_from
          and ${scopeRank('o')} < ${scopeRank('f')}
          and (o.station_id = st.id or o.province = st.province or (o.station_id is null and o.province is null)))
      order by f.effective_from, ${scopeRank('f')}, f.id desc limit 1) x on true
    where n.station_id = ${terminal.stationId}
    order by n.nozzle`.execute(db);
  return {
    terminalId: terminal.id,
    station: { id: station.id, name: station.name },
    businessDay: businessDay(station.now, timeZone),
    nozzles: r.rows.map((n) => ({
      nozzle: n.nozzle,
      pump: n.pump,
      grade: n.grade,
      gradeName: n.name_zh,
      gradeNameEn: n.name_en,
      unitPrice: n.unit_price,
      nextUnitPrice: n.next_unit_price,
      nextEffectiveFrom: n.next_effective_from?.toISOString() ?? null,
    })),
  };
}
