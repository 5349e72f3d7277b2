import { sql, type RawBuilder } from 'kysely';
import type { Actor, Db, Executor, Trx } from '../platform/index.js';
import { audit, checkIdempotencyKey, CURSOR_TIME_FORMAT, decodeCursor, encodeCursor, pgConstraint, pgErrorCode, PgCode, platformError, runIdempotent } from '../platform/index.js';
import { getStation } from './stations.service.js';
import { stationsError } from './stations.errors.js';
import { stockError } from './stock.errors.js';

/**
 * Stock (库存): tanks, what the gauge (ATG, 液位仪) last read, deliveries, and the book stock
 * between readings. The book stock of a tank is its last reading plus what was delivered into it
 * since, less the fuel of its grade the station sold since. Sales name a grade and a nozzle, not
 * a tank: when a station keeps one grade in several tanks (manifolded), its sales are split
 * evenly between them.
 */

export interface Tank {
  tank: number;
  grade: string;
  capacityMl: number;
  lowLevelMl: number;
}

export interface TankReading {
  readingId: number;
  volumeMl: number;
  waterMl: number;
  temperatureDc: number | null;
  readAt: string;
}

export interface TankStock extends Tank {
  lastReading: TankReading | null;
  deliveriesSinceMl: number;
  salesSinceMl: number;
  /** Null until the tank has a reading: nothing to count from. */
  bookStockMl: number | null;
  low: boolean;
}

export interface StationTankStock extends TankStock {
  stationId: number;
  stationCode: string;
  stationName: string;
}

export interface Delivery {
  deliveryId: number;
  stationId: number;
  tank: number;
  grade: string;
  volumeMl: number;
  deliveredAt: string;
  reference: string | null;
  createdBy: string;
  createdAt: string;
}

export const MAX_TANKS = 99;

/** Station staff belong to one station (when their account names it): they record stock there only. */
export function requireOwnStation(actor: Actor, stationId: number): void {
  if (actor.role === 'station_staff' && actor.stationId != null && actor.stationId !== stationId) {
    throw stockError('STATION_NOT_YOURS', { stationId });
  }
}

const num = (v: string | number | null): number => Number(v ?? 0);

export async function listTanks(db: Executor, stationId: number): Promise<Tank[]> {
  await getStation(db, stationId);
  const r = await sql<{ tank: number; grade: string; capacity_ml: string; low_level_ml: string }>`
    select tank, grade, capacity_ml, low_level_ml from station_tanks where station_id = ${stationId} order by tank`.execute(db);
  return r.rows.map((t) => ({ tank: t.tank, grade: t.grade, capacityMl: num(t.capacity_ml), lowLevelMl: num(t.low_level_ml) }));
}

/**
 * Replaces a station's tank list. A tank left out is removed only when it has no history
 * (readings, deliveries): the history must keep naming a tank that existed.
 */
export async function setTanks(db: Db, actor: Actor, stationId: number, items: readonly Tank[]): Promise<Tank[]> {
  const seen = new Set<number>();
  items.forEach((t, i) => {
    if (seen.has(t.tank)) throw stockError('TANK_DUPLICATE', { field: `body.items.${i}.tank`, tank: t.tank });
    seen.add(t.tank);
    if (t.lowLevelMl > t.capacityMl) throw stockError('TANK_LOW_LEVEL_INVALID', { field: `body.items.${i}.lowLevelMl`, capacityMl: t.capacityMl });
  });
  const wanted = [...items].sort((a, b) => a.tank - b.tank).map((t) => ({ tank: t.tank, grade: t.grade, capacityMl: t.capacityMl, lowLevelMl: t.lowLevelMl }));
  return db.transaction().execute(async (trx) => {
    // NO KEY UPDATE serialises two edits of one station's tanks without blocking its sales (KEY SHARE).
    const st = await sql`select id from stations where id = ${stationId} for no key update`.execute(trx);
    if (st.rows.length === 0) throw stationsError('STATION_NOT_FOUND', { stationId });
    if (wanted.length > 0) {
      const known = await sql<{ code: string }>`select code from fuel_grades where code = any(${[...new Set(wanted.map((t) => t.grade))]}::text[])`.execute(trx);
      const codes = new Set(known.rows.map((g) => g.code));
      const i = items.findIndex((t) => !codes.has(t.grade));
      if (i >= 0) throw stationsError('GRADE_UNKNOWN', { field: `body.items.${i}.grade`, grade: items[i]!.grade });
    }
    const before = await listTanks(trx, stationId);
    if (JSON.stringify(before) === JSON.stringify(wanted)) return before;
    const removed = before.filter((b) => !seen.has(b.tank)).map((b) => b.tank);
    if (removed.length > 0) {
      const used = await sql<{ tank: number }>`select tank from station_tanks t where station_id = ${stationId} and tank = any(${removed}::int[])
        and (exists (select 1 from tank_readings r where r.station_id = t.station_id and r.tank = t.tank)
          or exists (select 1 from fuel_deliveries d where d.station_id = t.station_id and d.tank = t.tank))`.execute(trx);
      if (used.rows.length > 0) throw stockError('TANK_IN_USE', { tank: used.rows[0]!.tank });
      try {
        await sql`delete from station_tanks where station_id = ${stationId} and tank = any(${removed}::int[])`.execute(trx);
      } catch (err) {
        // A reading or delivery into the tank committed between the check above and the delete.
        if (pgErrorCode(err) === PgCode.foreignKeyViolation) throw stockError('TANK_IN_USE', { tank: removed.length === 1 ? removed[0] : removed });
        throw err;
      }
    }
    if (wanted.length > 0) {
      await sql`insert into station_tanks (station_id, tank, grade, capacity_ml, low_level_ml)
        select ${stationId}, t, g, c, l from unnest(${wanted.map((t) => t.tank)}::int[], ${wanted.map((t) => t.grade)}::text[],
          ${wanted.map((t) => t.capacityMl)}::bigint[], ${wanted.map((t) => t.lowLevelMl)}::bigint[]) as v(t, g, c, l)
        on conflict (station_id, tank) do update set grade = excluded.grade, capacity_ml = excluded.capacity_ml, low_level_ml = excluded.low_level_ml`.execute(trx);
    }
    await audit(trx, actor, { action: 'station.tanks_set', targetType: 'station', targetId: stationId, details: { before, after: wanted } });
    return wanted;
  });
}

type StockRow = {
  station_id: string;
  station_code: string;
  station_name: string;
  tank: number;
  grade: string;
  capacity_ml: string;
  low_level_ml: string;
  reading_id: string | null;
  volume_ml: string | null;
  water_ml: string | null;
  temperature_dc: number | null;
  read_at: Date | null;
  deliveries_ml: string;
  sales_ml: string;
  book_ml: string | null;
  low: boolean;
};

/**
 * Tanks matching `where` (over station_tanks t and stations st), in (station, tank) order, at
 * most `scan` of them, each with its book stock: one statement whose per-tank lookups all run on
 * indexes (the last reading by tank_readings' unique key, deliveries by tank and time, sales by
 * station and time). `readingSince`: only a reading at or after it counts; a tank whose last
 * reading is older has no book stock (null), and its sales are never summed.
 */
function stockQuery(where: RawBuilder<unknown>, opts: { scan?: number; readingSince?: Date } = {}) {
  return sql<StockRow>`select t.station_id, st.code as station_code, st.name as station_name, t.tank, t.grade, t.capacity_ml, t.low_level_ml,
        r.id as reading_id, r.volume_ml, r.water_ml, r.temperature_dc, r.read_at,
        coalesce(d.ml, 0)::bigint as deliveries_ml, coalesce(round(s.ml::numeric / gt.n), 0)::bigint as sales_ml,
        (r.volume_ml + coalesce(d.ml, 0) - coalesce(round(s.ml::numeric / gt.n), 0))::bigint as book_ml,
        coalesce(r.volume_ml + coalesce(d.ml, 0) - coalesce(round(s.ml::numeric / gt.n), 0) < t.low_level_ml, false) as low
      from (select t.* from station_tanks t join stations st on st.id = t.station_id where ${where}
        order by t.station_id, t.tank ${opts.scan !== undefined ? sql`limit ${opts.scan}` : sql``}) t
      join stations st on st.id = t.station_id
      cross join lateral (select count(*) as n from station_tanks o where o.station_id = t.station_id and o.grade = t.grade) gt
      left join lateral (select x.id, x.volume_ml, x.water_ml, x.temperature_dc, x.read_at from tank_readings x
        where x.station_id = t.station_id and x.tank = t.tank
          ${opts.readingSince !== undefined ? sql`and x.read_at >= ${opts.readingSince}` : sql``}
        order by x.read_at desc limit 1) r on true
      left join lateral (select sum(f.volume_ml) as ml from fuel_deliveries f
        where f.station_id = t.station_id and f.tank = t.tank and f.delivered_at > r.read_at) d on true
      -- An offline sale happened at offline_at, uploaded later (created_at >= offline_at): the
      -- created_at bound lets the station's (station_id, created_at) index find the candidates.
      left join lateral (select sum(s.volume_ml) as ml from sales s
        where s.station_id = t.station_id and s.grade = t.grade and s.status = 'approved'
          and s.created_at > r.read_at and coalesce(s.offline_at, s.created_at) > r.read_at) s on true
    order by t.station_id, t.tank`;
}

const toStock = (r: StockRow): StationTankStock => ({
  stationId: Number(r.station_id),
  stationCode: r.station_code,
  stationName: r.station_name,
  tank: r.tank,
  grade: r.grade,
  capacityMl: num(r.capacity_ml),
  lowLevelMl: num(r.low_level_ml),
  lastReading:
    r.reading_id === null
      ? null
      : { readingId: Number(r.reading_id), volumeMl: num(r.volume_ml), waterMl: num(r.water_ml), temperatureDc: r.temperature_dc, readAt: r.read_at!.toISOString() },
  deliveriesSinceMl: r.reading_id === null ? 0 : num(r.deliveries_ml),
  salesSinceMl: r.reading_id === null ? 0 : num(r.sales_ml),
  bookStockMl: r.book_ml === null ? null : num(r.book_ml),
  low: r.low,
});

/** Book stock of one station's tanks. */
export async function stationStock(db: Executor, stationId: number): Promise<TankStock[]> {
  await getStation(db, stationId);
  const r = await stockQuery(sql`t.station_id = ${stationId}`).execute(db);
  return r.rows.map((row) => {
    const { stationId: _s, stationCode: _c, stationName: _n, ...tank } = toStock(row);
    return tank;
  });
}

/**
 * Book stock of the tanks of many stations at once, counted only from a reading taken at or after
 * `readingSince` (the finder's batch: its work per tank is bounded by that window).
 */
export async function recentStockOfStations(db: Executor, stationIds: readonly number[], readingSince: Date): Promise<StationTankStock[]> {
  if (stationIds.length === 0) return [];
  const r = await stockQuery(sql`t.station_id = any(${stationIds}::bigint[])`, { readingSince }).execute(db);
  return r.rows.map(toStock);
}

const STOCK_CURSOR = /^([1-9][0-9]{0,17})\.([1-9][0-9]?)$/;
/** Tanks whose book stock one lowOnly page works out at most, whatever it finds low among them. */
export const LOW_SCAN_TANKS = 200;

/**
 * Tanks across stations, (station, tank) order, keyset paged; lowOnly keeps the tanks below their
 * low level. A lowOnly page looks at no more than LOW_SCAN_TANKS tanks: it may hold fewer items
 * than asked (even none) and still have a nextCursor, which then points past the tanks looked at.
 */
export async function stockAcrossStations(
  db: Executor,
  q: { lowOnly: boolean; stationId?: number; cursor?: string; limit: number },
): Promise<{ items: StationTankStock[]; nextCursor: string | null }> {
  let after: { stationId: string; tank: number } | null = null;
  if (q.cursor !== undefined && q.cursor !== '') {
    const m = STOCK_CURSOR.exec(Buffer.from(q.cursor, 'base64url').toString('utf8'));
    if (!m) throw platformError('VALIDATION_FAILED', { field: 'cursor' });
    after = { stationId: m[1]!, tank: Number(m[2]) };
  }
  const where = sql`st.status = 'active'
    ${q.stationId !== undefined ? sql`and t.station_id = ${q.stationId}` : sql``}
    ${after ? sql`and (t.station_id, t.tank) > (${after.stationId}::bigint, ${after.tank}::int)` : sql``}`;
  const cursorOf = (t: { stationId: number | string; tank: number }) => Buffer.from(`${t.stationId}.${t.tank}`).toString('base64url');
  if (!q.lowOnly) {
    const r = await stockQuery(where, { scan: q.limit + 1 }).execute(db);
    const rows = r.rows.slice(0, q.limit).map(toStock);
    const last = rows[rows.length - 1];
    return { items: rows, nextCursor: r.rows.length > q.limit && last ? cursorOf(last) : null };
  }
  const scan = Math.max(LOW_SCAN_TANKS, q.limit + 1);
  const r = await stockQuery(where, { scan }).execute(db);
  const items: StationTankStock[] = [];
  for (const row of r.rows) {
    if (!row.low) continue;
    if (items.length === q.limit) return { items, nextCursor: cursorOf(items[items.length - 1]!) };
    items.push(toStock(row));
  }
  const lastScanned = r.rows[r.rows.length - 1];
  return { items, nextCursor: r.rows.length === scan && lastScanned ? cursorOf({ stationId: lastScanned.station_id, tank: lastScanned.tank }) : null };
}

// ── Deliveries (进油) ───────────────────────────────────────────────────────────────────────────

type DeliveryRow = { id: string; station_id: string; tank: number; grade: string; volume_ml: string; delivered_at: Date; reference: string | null; created_by: string; created_at: Date; cursor_at?: string };
const toDelivery = (r: DeliveryRow): Delivery => ({
  deliveryId: Number(r.id),
  stationId: Number(r.station_id),
  tank: r.tank,
  grade: r.grade,
  volumeMl: num(r.volume_ml),
  deliveredAt: r.delivered_at.toISOString(),
  reference: r.reference,
  createdBy: r.created_by,
  createdAt: r.created_at.toISOString(),
});

/** A delivery (卸油) into one tank. A delivery note number (提货单号) is recorded once per station. */
export async function recordDelivery(
  db: Db,
  actor: Actor,
  stationId: number,
  input: { tank: number; volumeMl: number; deliveredAt: Date; reference?: string },
  skewMs: number,
  idempotencyKey?: string,
): Promise<{ delivery: Delivery; replayed: boolean }> {
  requireOwnStation(actor, stationId);
  const key = checkIdempotencyKey(idempotencyKey);
  if (input.deliveredAt.getTime() > Date.now() + skewMs) throw stockError('DELIVERY_INVALID', { field: 'body.deliveredAt', reason: 'in the future' });
  // A delivery without a note number has nothing else to tell a retry from a second delivery:
  // the key makes the retry answer the first delivery instead of recording it twice.
  const request = { stationId, tank: input.tank, volumeMl: input.volumeMl, deliveredAt: input.deliveredAt.toISOString(), reference: input.reference };
  const out = await runIdempotent<Delivery>(db, `stock-delivery:${actor.staffId ?? actor.name}`, key, request, async (trx) => ({
    status: 201,
    body: await insertDelivery(trx, actor, stationId, input),
  }));
  return { delivery: out.body, replayed: out.replayed };
}

async function insertDelivery(trx: Trx, actor: Actor, stationId: number, input: { tank: number; volumeMl: number; deliveredAt: Date; reference?: string }): Promise<Delivery> {
  await getStation(trx, stationId);
  const t = await sql<{ grade: string; capacity_ml: string }>`select grade, capacity_ml from station_tanks where station_id = ${stationId} and tank = ${input.tank}`.execute(trx);
  const tank = t.rows[0];
  if (!tank) throw stockError('TANK_UNKNOWN', { field: 'body.tank', tank: input.tank });
  if (input.volumeMl > num(tank.capacity_ml)) throw stockError('DELIVERY_INVALID', { field: 'body.volumeMl', reason: 'more than the tank holds', capacityMl: num(tank.capacity_ml) });
  let row: DeliveryRow;
  try {
    const r = await sql<DeliveryRow>`insert into fuel_deliveries (station_id, tank, grade, volume_ml, delivered_at, reference, created_by)
      values (${stationId}, ${input.tank}, ${tank.grade}, ${input.volumeMl}, ${input.deliveredAt}, ${input.reference ?? null}, ${actor.name})
      returning *`.execute(trx);
    row = r.rows[0]!;
  } catch (err) {
    if (pgErrorCode(err) === PgCode.uniqueViolation && pgConstraint(err) === 'fuel_deliveries_reference') {
      throw stockError('DELIVERY_REFERENCE_TAKEN', { field: 'body.reference', reference: input.reference });
    }
    throw err;
  }
  const delivery = toDelivery(row);
  await audit(trx, actor, { action: 'stock.delivery', targetType: 'station', targetId: stationId, details: { ...delivery } });
  return delivery;
}

export async function listDeliveries(
  db: Executor,
  stationId: number,
  q: { tank?: number; cursor?: string; limit: number },
): Promise<{ items: Delivery[]; nextCursor: string | null }> {
  await getStation(db, stationId);
  const after = decodeCursor(q.cursor, 'bigint');
  const r = await sql<DeliveryRow & { cursor_at: string }>`select *, to_char(delivered_at at time zone 'UTC', ${CURSOR_TIME_FORMAT}) as cursor_at
    from fuel_deliveries where station_id = ${stationId}
    ${q.tank !== undefined ? sql`and tank = ${q.tank}` : sql``}
    ${after ? sql`and (delivered_at, id) < (${after.at}::timestamptz, ${after.id}::bigint)` : sql``}
    order by delivered_at desc, id desc limit ${q.limit + 1}`.execute(db);
  const rows = r.rows.slice(0, q.limit);
  const last = rows[rows.length - 1];
  return { items: rows.map(toDelivery), nextCursor: r.rows.length > q.limit && last ? encodeCursor(last.cursor_at, String(last.id)) : null };
}
