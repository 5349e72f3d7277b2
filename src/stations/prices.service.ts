import { sql, type RawBuilder } from 'kysely';
import type { Actor, Db, Executor } from '../platform/index.js';
import { audit, parseTimeFilter } from '../platform/index.js';
import { getStation } from './stations.service.js';
import { stationsError } from './stations.errors.js';
import { pricesChanged } from './price-check.js';

/**
 * Price lists (油价). A price row is national (no station, no province), a province's (fuel prices
 * are set per province in China) or one station's own. A row is never edited: setting a price adds
 * one, so the table is the history. The price in force for a station and grade is the latest row
 * that has begun of the most specific scope that has one: the station's own, else its province's,
 * else the national one. A scope, once it has a price in force, keeps precedence: a later national
 * change does not undo a province's or a station's own price.
 */

export type PriceScope = 'national' | 'province' | 'station';

export interface Price {
  id: number;
  grade: string;
  unitPrice: number;
  effectiveFrom: string;
  /** The station whose own price this is; null for a national or province price. */
  stationId: number | null;
  /** The province whose price this is; null for a national or station price. */
  province: string | null;
  scope: PriceScope;
}

/** Which prices to look at: every scope (undefined), what one station sells at (a number), or what a province's stations without their own price sell at. */
export type PriceTarget = number | { province: string } | undefined;

type PriceRow = { id: string | number; grade: string; unit_price: number; effective_from: Date; station_id: string | number | null; province: string | null };

export const toPrice = (r: PriceRow): Price => ({
  id: Number(r.id),
  grade: r.grade,
  unitPrice: r.unit_price,
  effectiveFrom: r.effective_from.toISOString(),
  stationId: r.station_id === null ? null : Number(r.station_id),
  province: r.province,
  scope: r.station_id !== null ? 'station' : r.province !== null ? 'province' : 'national',
});

/** 0 for a station's own row, 1 for a province's, 2 for a national one: lower wins. */
export const scopeRank = (alias: string): RawBuilder<number> =>
  sql<number>`(case when ${sql.ref(`${alias}.station_id`)} is not null then 0 when ${sql.ref(`${alias}.province`)} is not null then 1 else 2 end)`;

/**
 * Whether the row `alias` can apply to the target: for a station its own, its province's and the
 * national ones; for a province that province's and the national ones. `st` is the alias of a
 * one-row `(id, province)` relation describing the station, when the target is a station.
 */
function appliesTo(alias: string, target: number | { province: string }): RawBuilder<boolean> {
  const a = (c: string) => sql.ref(`${alias}.${c}`);
  if (typeof target === 'number') {
    return sql<boolean>`(${a('station_id')} = st.id or ${a('province')} = st.province or (${a('station_id')} is null and ${a('province')} is null))`;
  }
  return sql<boolean>`(${a('province')} = ${target.province} or (${a('station_id')} is null and ${a('province')} is null))`;
}

/** The one-row relation `st` for a station target (its id and province); a dummy row for a province target. */
function stationRelation(target: number | { province: string }): RawBuilder<unknown> {
  return typeof target === 'number'
    ? sql`(select id, province from stations where id = ${target}) st`
    : sql`(select null::bigint as id, null::text as province) st`;
}

async function requireTarget(db: Executor, target: PriceTarget): Promise<void> {
  if (typeof target === 'number') await getStation(db, target);
}

/**
 * Prices in force now. For a station or a province: one per grade, the one that applies there.
 * Without a target: every national, province and station price in force, per grade and scope.
 */
export async function pricesInForce(db: Executor, target?: PriceTarget): Promise<Price[]> {
  await requireTarget(db, target);
  if (target !== undefined) {
    const r = await sql<PriceRow>`select p.* from (
        select distinct on (f.grade) f.id, f.grade, f.unit_price, f.effective_from, f.station_id, f.province
        from fuel_prices f, ${stationRelation(target)}
        where f.effective_from <= now() and ${appliesTo('f', target)}
        order by f.grade, ${scopeRank('f')}, f.effective_from desc, f.id desc) p
      join fuel_grades g on g.code = p.grade order by g.sort_order, g.code`.execute(db);
    return r.rows.map(toPrice);
  }
  const r = await sql<PriceRow>`select p.* from (
      select distinct on (grade, station_id, province) id, grade, unit_price, effective_from, station_id, province from fuel_prices
      where effective_from <= now()
      order by grade, station_id, province, effective_from desc, id desc) p
    join fuel_grades g on g.code = p.grade order by g.sort_order, g.code, ${scopeRank('p')} desc, p.province nulls first, p.station_id nulls first`.execute(db);
  return r.rows.map(toPrice);
}

/** The unit price in force for one station and grade at `at` (default: now), or null when none is set. */
export async function priceInForce(db: Executor, stationId: number, grade: string, at?: Date): Promise<number | null> {
  const r = await sql<{ unit_price: number }>`select f.unit_price from fuel_prices f, ${stationRelation(stationId)}
    where f.grade = ${grade} and ${appliesTo('f', stationId)} and f.effective_from <= coalesce(${at ?? null}::timestamptz, now())
    order by ${scopeRank('f')}, f.effective_from desc, f.id desc limit 1`.execute(db);
  return r.rows[0]?.unit_price ?? null;
}

/**
 * The next scheduled price per grade. For a station or province: the next change of what is sold
 * there — a scheduled row counts only when no more specific scope will have a price in force at its
 * time. Without a target: the next scheduled row per grade and scope.
 */
export async function nextPrices(db: Executor, target?: PriceTarget): Promise<Price[]> {
  if (target !== undefined) {
    const r = await sql<PriceRow>`select p.* from (
        select distinct on (f.grade) f.id, f.grade, f.unit_price, f.effective_from, f.station_id, f.province
        from fuel_prices f, ${stationRelation(target)}
        where f.effective_from > now() and ${appliesTo('f', target)}
          and not exists (select 1 from fuel_prices o where o.grade = f.grade and o.effective_from <= f.effective_from
            and ${scopeRank('o')} < ${scopeRank('f')} and ${appliesTo('o', target)})
        order by f.grade, f.effective_from, ${scopeRank('f')}, f.id desc) p
      join fuel_grades g on g.code = p.grade order by g.sort_order, g.code`.execute(db);
    return r.rows.map(toPrice);
  }
  const r = await sql<PriceRow>`select p.* from (
      select distinct on (grade, station_id, province) id, grade, unit_price, effective_from, station_id, province from fuel_prices
      where effective_from > now()
      order by grade, station_id, province, effective_from, id desc) p
    join fuel_grades g on g.code = p.grade order by g.sort_order, g.code, ${scopeRank('p')} desc, p.province nulls first, p.station_id nulls first`.execute(db);
  return r.rows.map(toPrice);
}

/** How far in the past an operator's effectiveFrom may be (a clock a little behind, a slow form): it then takes effect now, not in the past. */
const EFFECTIVE_FROM_SLACK = '1 minute';

/**
 * Set the price of a grade — national, for a province or for one station — at once, or from
 * `effectiveFrom` (a scheduled change, 调价, typically at 24:00), which may be at most a minute in
 * the past. `opts.effectiveFrom` is for data loaders only (seed-demo backdates its history).
 */
export async function setPrice(
  db: Db,
  actor: Actor,
  input: { grade: string; unitPrice: number; stationId?: number | null; province?: string | null; effectiveFrom?: string },
  opts: { effectiveFrom?: Date } = {},
): Promise<Price> {
  const stationId = input.stationId ?? null;
  const province = input.province ?? null;
  if (stationId !== null && province !== null) throw stationsError('PRICE_SCOPE_CONFLICT', { field: 'body.province' });
  const requested = parseTimeFilter(input.effectiveFrom, 'body.effectiveFrom');
  const price = await db.transaction().execute(async (trx) => {
    const g = await sql<{ active: boolean }>`select active from fuel_grades where code = ${input.grade}`.execute(trx);
    if (!g.rows[0]) throw stationsError('GRADE_UNKNOWN', { field: 'body.grade', grade: input.grade });
    if (!g.rows[0].active) throw stationsError('GRADE_INACTIVE', { field: 'body.grade', grade: input.grade });
    if (stationId !== null) await getStation(trx, stationId);
    if (requested) {
      const past = await sql<{ past: boolean }>`select ${requested}::timestamptz < now() - ${EFFECTIVE_FROM_SLACK}::interval as past`.execute(trx);
      if (past.rows[0]!.past) throw stationsError('PRICE_EFFECTIVE_IN_PAST', { field: 'body.effectiveFrom', effectiveFrom: requested.toISOString() });
    }
    const at = requested ?? opts.effectiveFrom ?? null;
    const r = await sql<PriceRow>`insert into fuel_prices (grade, station_id, province, unit_price, effective_from, created_by, created_by_id)
      values (${input.grade}, ${stationId}, ${province}, ${input.unitPrice},
        ${requested ? sql`greatest(${requested}::timestamptz, now())` : sql`coalesce(${at}::timestamptz, now())`}, ${actor.name}, ${actor.staffId})
      returning id, grade, station_id, province, unit_price, effective_from`.execute(trx);
    const row = r.rows[0]!;
    // The price this one replaces when it begins (the same scope's latest before it).
    const previous = await sql<{ unit_price: number }>`select unit_price from fuel_prices
      where grade = ${input.grade} and station_id is not distinct from ${stationId} and province is not distinct from ${province}
        and effective_from <= ${row.effective_from} and id <> ${row.id}
      order by effective_from desc, id desc limit 1`.execute(trx);
    await audit(trx, actor, {
      action: 'price.set',
      targetType: 'fuel_price',
      targetId: Number(row.id),
      details: {
        grade: input.grade,
        stationId,
        province,
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
    const r = await sql<PriceRow & { in_force: boolean }>`select id, grade, station_id, province, unit_price, effective_from, effective_from <= now() as in_force
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

export interface PriceHistoryItem extends Price {
  status: 'scheduled' | 'in_force' | 'superseded';
  createdBy: string;
  createdAt: string;
}

/**
 * A grade's price rows, newest effectiveFrom first, of every scope that could apply to the target:
 * without one the national rows; with a province that province's too; with a station its
 * province's and its own too. `status` says whether a row is still to come, in force now for its
 * scope, or replaced.
 */
export async function priceHistory(db: Executor, q: { grade: string; target?: PriceTarget; limit: number }): Promise<PriceHistoryItem[]> {
  const g = await sql`select 1 from fuel_grades where code = ${q.grade}`.execute(db);
  if (g.rows.length === 0) throw stationsError('GRADE_UNKNOWN', { field: 'querystring.grade', grade: q.grade });
  await requireTarget(db, q.target);
  const target = q.target ?? { province: '' };
  const r = await sql<PriceRow & { created_by: string; created_at: Date; scheduled: boolean; current_id: string | null }>`
    select p.id, p.grade, p.station_id, p.province, p.unit_price, p.effective_from, p.created_by, p.created_at, p.effective_from > now() as scheduled,
      (select c.id from fuel_prices c where c.grade = p.grade and c.station_id is not distinct from p.station_id
          and c.province is not distinct from p.province and c.effective_from <= now()
        order by c.effective_from desc, c.id desc limit 1) as current_id
    from fuel_prices p, ${stationRelation(target)}
    where p.grade = ${q.grade} and ${appliesTo('p', target)}
    order by p.effective_from desc, p.id desc limit ${q.limit}`.execute(db);
  return r.rows.map((row) => ({
    ...toPrice(row),
    status: row.scheduled ? 'scheduled' : String(row.current_id) === String(row.id) ? 'in_force' : 'superseded',
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
  }));
}

/** When the next scheduled price anywhere takes effect (the push channel re-reads the forecourt then), or null. */
export async function nextEffectiveTime(db: Executor): Promise<Date | null> {
  const r = await sql<{ at: Date | null }>`select min(effective_from) as at from fuel_prices where effective_from > now()`.execute(db);
  return r.rows[0]?.at ?? null;
}
