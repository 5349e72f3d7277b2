import { sql } from 'kysely';
import type { Actor, Db, Executor, TerminalPrincipal } from '../platform/index.js';
import { audit, businessDay, parseTimeFilter } from '../platform/index.js';
import { getStation } from './stations.service.js';
import { stationsError } from './stations.errors.js';
import { pricesChanged } from './price-check.js';

/**
 * Forecourt basics: fuel grades, each station's nozzles and unit prices (fen per litre).
 * A price is never edited: setting one adds a row, so the table is the history. The price in
 * force for a station and grade is the latest row whose effective_from has passed, the
 * station's own (override) before the national one.
 */

export interface Grade {
  code: string;
  nameZh: string;
  nameEn: string;
  kind: 'petrol' | 'diesel';
}

export interface Nozzle {
  nozzle: number;
  grade: string;
}

export interface Price {
  id: number;
  grade: string;
  unitPrice: number;
  effectiveFrom: string;
  /** Null: the national price; otherwise the station whose own price this is. */
  stationId: number | null;
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

/** A station has at most 99 nozzles (two-digit nozzle numbers on the pump display). */
export const MAX_NOZZLES = 99;

type PriceRow = { id: string | number; grade: string; unit_price: number; effective_from: Date; station_id: string | number | null };
const toPrice = (r: PriceRow): Price => ({ id: Number(r.id), grade: r.grade, unitPrice: r.unit_price, effectiveFrom: r.effective_from.toISOString(), stationId: r.station_id === null ? null : Number(r.station_id) });

export async function listGrades(db: Executor): Promise<Grade[]> {
  const r = await sql<{ code: string; name_zh: string; name_en: string; kind: Grade['kind'] }>`
    select code, name_zh, name_en, kind from fuel_grades order by sort_order, code`.execute(db);
  return r.rows.map((g) => ({ code: g.code, nameZh: g.name_zh, nameEn: g.name_en, kind: g.kind }));
}

/** Refuses grade codes that are not in the list, naming the field of the first unknown one. */
async function requireGrades(db: Executor, grades: ReadonlyArray<{ grade: string; field: string }>): Promise<void> {
  if (grades.length === 0) return;
  const r = await sql<{ code: string }>`select code from fuel_grades where code = any(${[...new Set(grades.map((g) => g.grade))]}::text[])`.execute(db);
  const known = new Set(r.rows.map((g) => g.code));
  const unknown = grades.find((g) => !known.has(g.grade));
  if (unknown) throw stationsError('GRADE_UNKNOWN', { field: unknown.field, grade: unknown.grade });
}

export async function getNozzles(db: Executor, stationId: number): Promise<Nozzle[]> {
  await getStation(db, stationId);
  const r = await sql<Nozzle>`select nozzle, grade from station_nozzles where station_id = ${stationId} order by nozzle`.execute(db);
  return r.rows;
}

/** Replaces a station's nozzle list as a whole (what the forecourt looks like now); audited when it changes. */
export async function setNozzles(db: Db, actor: Actor, stationId: number, items: readonly Nozzle[]): Promise<Nozzle[]> {
  const seen = new Set<number>();
  items.forEach((n, i) => {
    if (seen.has(n.nozzle)) throw stationsError('NOZZLE_DUPLICATE', { field: `body.items.${i}.nozzle`, nozzle: n.nozzle });
    seen.add(n.nozzle);
  });
  const wanted = [...items].sort((a, b) => a.nozzle - b.nozzle).map((n) => ({ nozzle: n.nozzle, grade: n.grade }));
  return db.transaction().execute(async (trx) => {
    // Locking the station serialises two edits of one forecourt. NO KEY UPDATE, not UPDATE: every
    // sale insert takes KEY SHARE on its station through the foreign key, and FOR UPDATE would
    // make the station's sales wait for this edit.
    const st = await sql<{ id: number }>`select id from stations where id = ${stationId} for no key update`.execute(trx);
    if (st.rows.length === 0) throw stationsError('STATION_NOT_FOUND', { stationId });
    await requireGrades(trx, items.map((n, i) => ({ grade: n.grade, field: `body.items.${i}.grade` })));
    const before = (await sql<Nozzle>`select nozzle, grade from station_nozzles where station_id = ${stationId} order by nozzle`.execute(trx)).rows;
    if (JSON.stringify(before) === JSON.stringify(wanted)) return before;
    await sql`delete from station_nozzles where station_id = ${stationId}`.execute(trx);
    if (wanted.length > 0) {
      await sql`insert into station_nozzles (station_id, nozzle, grade)
        select ${stationId}, n, g from unnest(${wanted.map((n) => n.nozzle)}::int[], ${wanted.map((n) => n.grade)}::text[]) as v(n, g)`.execute(trx);
    }
    await audit(trx, actor, { action: 'station.nozzles_set', targetType: 'station', targetId: stationId, details: { before, after: wanted } });
    return wanted;
  });
}

/**
 * Prices in force now. With a station: one per grade, that station's price (its own, or else
 * the national one). Without: every national price in force and every station's own.
 */
export async function pricesInForce(db: Executor, stationId?: number): Promise<Price[]> {
  if (stationId !== undefined) {
    await getStation(db, stationId);
    const r = await sql<PriceRow>`select p.* from (
        select distinct on (grade) id, grade, unit_price, effective_from, station_id from fuel_prices
        where effective_from <= now() and (station_id is null or station_id = ${stationId})
        order by grade, (station_id is null), effective_from desc, id desc) p
      join fuel_grades g on g.code = p.grade order by g.sort_order, g.code`.execute(db);
    return r.rows.map(toPrice);
  }
  const r = await sql<PriceRow>`select p.* from (
      select distinct on (grade, station_id) id, grade, unit_price, effective_from, station_id from fuel_prices
      where effective_from <= now()
      order by grade, station_id, effective_from desc, id desc) p
    join fuel_grades g on g.code = p.grade order by g.sort_order, g.code, p.station_id nulls first`.execute(db);
  return r.rows.map(toPrice);
}

/** The unit price in force for one station and grade at `at` (default: now), or null when none is set. */
export async function priceInForce(db: Executor, stationId: number, grade: string, at?: Date): Promise<number | null> {
  const r = await sql<{ unit_price: number }>`select unit_price from fuel_prices
    where grade = ${grade} and (station_id is null or station_id = ${stationId}) and effective_from <= coalesce(${at ?? null}::timestamptz, now())
    order by (station_id is null), effective_from desc, id desc limit 1`.execute(db);
  return r.rows[0]?.unit_price ?? null;
}

/** How far in the past an operator's effectiveFrom may be (a clock a little behind, a slow form): it then takes effect now, not in the past. */
const EFFECTIVE_FROM_SLACK = '1 minute';

/**
 * Set the price of a grade, national or for one station: in force at once, or from
 * `effectiveFrom` (a scheduled change, 调价, typically at 24:00), which may be at most a minute in
 * the past. `opts.effectiveFrom` is for data loaders only (seed-demo backdates its history). The old
 * price stays in the table as history.
 */
export async function setPrice(
  db: Db,
  actor: Actor,
  input: { grade: string; unitPrice: number; stationId?: number | null; effectiveFrom?: string },
  opts: { effectiveFrom?: Date } = {},
): Promise<Price> {
  const stationId = input.stationId ?? null;
  const requested = parseTimeFilter(input.effectiveFrom, 'body.effectiveFrom');
  const price = await db.transaction().execute(async (trx) => {
    await requireGrades(trx, [{ grade: input.grade, field: 'body.grade' }]);
    if (stationId !== null) await getStation(trx, stationId);
    if (requested) {
      const past = await sql<{ past: boolean }>`select ${requested}::timestamptz < now() - ${EFFECTIVE_FROM_SLACK}::interval as past`.execute(trx);
      if (past.rows[0]!.past) throw stationsError('PRICE_EFFECTIVE_IN_PAST', { field: 'body.effectiveFrom', effectiveFrom: requested.toISOString() });
    }
    const at = requested ?? opts.effectiveFrom ?? null;
    const r = await sql<PriceRow>`insert into fuel_prices (grade, station_id, unit_price, effective_from, created_by, created_by_id)
      values (${input.grade}, ${stationId}, ${input.unitPrice},
        ${requested ? sql`greatest(${requested}::timestamptz, now())` : sql`coalesce(${at}::timestamptz, now())`}, ${actor.name}, ${actor.staffId})
      returning id, grade, station_id, unit_price, effective_from, effective_from > now() as scheduled`.execute(trx);
    const row = r.rows[0]!;
    // The price this one replaces when it begins (the same scope's latest before it).
    const previous = await sql<{ unit_price: number }>`select unit_price from fuel_prices
      where grade = ${input.grade} and station_id is not distinct from ${stationId} and effective_from <= ${row.effective_from} and id <> ${row.id}
      order by effective_from desc, id desc limit 1`.execute(trx);
    await audit(trx, actor, {
      action: 'price.set',
      targetType: 'fuel_price',
      targetId: Number(row.id),
      details: {
        grade: input.grade,
        stationId,
        unitPrice: input.unitPrice,
        previousUnitPrice: previous.rows[0]?.unit_price ?? null,
        effectiveFrom: row.effective_from.toISOString(),
        scheduled: row.effective_from.getTime() > Date.now(),
      },
    });
    return toPrice(row);
  });
  pricesChanged();
  return price;
}

/** Cancel a scheduled price before it begins. The row goes (it was never in force); the audit log keeps what it was. */
export async function cancelPrice(db: Db, actor: Actor, id: number): Promise<Price> {
  const price = await db.transaction().execute(async (trx) => {
    const r = await sql<PriceRow & { in_force: boolean }>`select id, grade, station_id, unit_price, effective_from, effective_from <= now() as in_force
      from fuel_prices where id = ${id} for update`.execute(trx);
    const row = r.rows[0];
    if (!row) throw stationsError('PRICE_NOT_FOUND', { priceId: id });
    if (row.in_force) throw stationsError('PRICE_ALREADY_EFFECTIVE', { priceId: id, effectiveFrom: row.effective_from.toISOString() });
    await sql`delete from fuel_prices where id = ${id}`.execute(trx);
    const price = toPrice(row);
    await audit(trx, actor, { action: 'price.cancelled', targetType: 'fuel_price', targetId: id, details: { ...price } });
    return price;
  });
  pricesChanged();
  return price;
}

/**
 * The next scheduled price per grade: with a station, the next change of what that station sells
 * at (its own scheduled price, or a national one unless its own price will be in force then);
 * without, the next scheduled row per grade and scope.
 */
export async function nextPrices(db: Executor, stationId?: number): Promise<Price[]> {
  if (stationId !== undefined) {
    const r = await sql<PriceRow>`select p.* from (
        select distinct on (f.grade) f.id, f.grade, f.unit_price, f.effective_from, f.station_id from fuel_prices f
        where f.effective_from > now() and (f.station_id = ${stationId} or (f.station_id is null and not exists (
          select 1 from fuel_prices o where o.grade = f.grade and o.station_id = ${stationId} and o.effective_from <= f.effective_from)))
        order by f.grade, f.effective_from, (f.station_id is null), f.id desc) p
      join fuel_grades g on g.code = p.grade order by g.sort_order, g.code`.execute(db);
    return r.rows.map(toPrice);
  }
  const r = await sql<PriceRow>`select p.* from (
      select distinct on (grade, station_id) id, grade, unit_price, effective_from, station_id from fuel_prices
      where effective_from > now()
      order by grade, station_id, effective_from, id desc) p
    join fuel_grades g on g.code = p.grade order by g.sort_order, g.code, p.station_id nulls first`.execute(db);
  return r.rows.map(toPrice);
}

export interface PriceHistoryItem extends Price {
  status: 'scheduled' | 'in_force' | 'superseded';
  createdBy: string;
  createdAt: string;
}

/**
 * A grade's price rows, newest effectiveFrom first: the national ones, and with a station that
 * station's own as well (everything that could have applied there). `status` says whether a row
 * is still to come, in force now (for its scope) or replaced.
 */
export async function priceHistory(db: Executor, q: { grade: string; stationId?: number; limit: number }): Promise<PriceHistoryItem[]> {
  await requireGrades(db, [{ grade: q.grade, field: 'querystring.grade' }]);
  if (q.stationId !== undefined) await getStation(db, q.stationId);
  const r = await sql<PriceRow & { created_by: string; created_at: Date; scheduled: boolean; current_id: string | null }>`
    select p.id, p.grade, p.station_id, p.unit_price, p.effective_from, p.created_by, p.created_at, p.effective_from > now() as scheduled,
      (select c.id from fuel_prices c where c.grade = p.grade and c.station_id is not distinct from p.station_id and c.effective_from <= now()
        order by c.effective_from desc, c.id desc limit 1) as current_id
    from fuel_prices p
    where p.grade = ${q.grade} and (p.station_id is null or p.station_id = ${q.stationId ?? null})
    order by p.effective_from desc, p.id desc limit ${q.limit}`.execute(db);
  return r.rows.map((row) => ({
    ...toPrice(row),
    status: row.scheduled ? 'scheduled' : String(row.current_id) === String(row.id) ? 'in_force' : 'superseded',
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
  }));
}

/** What a terminal needs to sell: its station, the business day, and each nozzle's grade and price now. */
export async function forecourtFor(db: Executor, timeZone: string, terminal: TerminalPrincipal): Promise<Forecourt> {
  const st = await sql<{ id: number; name: string; now: Date }>`select id, name, now() as now from stations where id = ${terminal.stationId}`.execute(db);
  const station = st.rows[0];
  if (!station) throw stationsError('STATION_NOT_FOUND', { stationId: terminal.stationId });
  const r = await sql<{ nozzle: number; grade: string; name_zh: string; name_en: string; unit_price: number | null; next_unit_price: number | null; next_effective_from: Date | null }>`
    select n.nozzle, n.grade, g.name_zh, g.name_en, p.unit_price, x.unit_price as next_unit_price, x.effective_from as next_effective_from
    from station_nozzles n
    join fuel_grades g on g.code = n.grade
    left join lateral (select unit_price from fuel_prices p
      where p.grade = n.grade and (p.station_id is null or p.station_id = n.station_id) and p.effective_from <= now()
      order by (p.station_id is null), p.effective_from desc, p.id desc limit 1) p on true
    left join lateral (select f.unit_price, f.effective_from from fuel_prices f
      where f.grade = n.grade and f.effective_from > now() and (f.station_id = n.station_id or (f.station_id is null and not exists (
        select 1 from fuel_prices o where o.grade = n.grade and o.station_id = n.station_id and o.effective_from <= f.effective_from)))
      order by f.effective_from, (f.station_id is null), f.id desc limit 1) x on true
    where n.station_id = ${terminal.stationId}
    order by n.nozzle`.execute(db);
  return {
    terminalId: terminal.id,
    station: { id: station.id, name: station.name },
    businessDay: businessDay(station.now, timeZone),
    nozzles: r.rows.map((n) => ({ nozzle: n.nozzle, grade: n.grade, gradeName: n.name_zh, gradeNameEn: n.name_en,
      unitPrice: n.unit_price,
      nextUnitPrice: n.next_unit_price,
      nextEffectiveFrom: n.next_effective_from?.toISOString() ?? null,
    })),
  };
}
