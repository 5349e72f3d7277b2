import { sql } from 'kysely';
import type { Db, Executor } from '../platform/index.js';
import { platformError } from '../platform/index.js';
import { stationsError } from './stations.errors.js';
import { isOpenAt, type OpeningHours } from './opening-hours.js';
import { inStockFlags } from './finder.stock.js';
import { activePromotionsFor, type FinderPromotion } from './promotions.service.js';
import { boxesAround, corridorBoxes, EARTH_RADIUS_M, pathLengthM, pathPieces, placeOnPieces, type Box, type Point } from './finder.geo.js';

/**
 * The station finder (寻站), public: stations near a point or along a route, with what a driver
 * decides by — distance, open now, grades with today's price and whether they are in stock,
 * services, promotions running now. Built for 30 000 stations: the search reads a box of the
 * (lat, lng) index, and everything shown per station comes from one batched statement per kind
 * (grades, prices, stock, promotions) for the whole page, never a statement per station.
 */

export interface FinderGrade {
  grade: string;
  nameZh: string;
  nameEn: string;
  /** Today's price in force at the station (its own, else its province's, else the national one); null: none set. */
  unitPrice: number | null;
  /** true: a tank of the grade has book stock above its low level; false: none has; null: unknown (no tank gauged in the last 7 days). */
  inStock: boolean | null;
}

export interface FinderStation {
  stationId: number;
  code: string;
  name: string;
  address: string;
  province: string;
  city: string;
  district: string;
  lat: number;
  lng: number;
  phone: string | null;
  distanceM: number;
  /** Along a route: metres from the route's start to the point nearest the station. */
  alongM?: number;
  openNow: boolean;
  openingHours: OpeningHours;
  services: string[];
  grades: FinderGrade[];
  promotions: FinderPromotion[];
}

export interface FinderFilters {
  grade?: string;
  service?: string;
  openNow?: boolean;
}

export const FINDER_MAX_LIMIT = 50;
export const FINDER_MAX_RADIUS_KM = 100;
export const ALONG_MAX_POINTS = 200;
export const ALONG_MAX_CORRIDOR_KM = 5;
/** A route longer than this is refused: the corridor would cover half a country. */
export const ALONG_MAX_PATH_KM = 3000;
/** Stations looked at after the filters that need the station's data (open now, grade in stock) before giving up on filling the page. */
const MAX_SCANNED = 1000;
/** Corridor candidates read at most (a 3 000 km route through the densest region stays well below). */
const MAX_CORRIDOR_CANDIDATES = 20_000;

type StationRow = {
  id: string;
  code: string;
  name: string;
  address: string;
  province: string;
  city: string;
  district: string;
  lat: number;
  lng: number;
  phone: string | null;
  opening_hours: OpeningHours;
  services: string[];
  d: number;
};

const boxArrays = (boxes: readonly Box[]) => ({
  latMin: boxes.map((b) => b.latMin),
  latMax: boxes.map((b) => b.latMax),
  lngMin: boxes.map((b) => b.lngMin),
  lngMax: boxes.map((b) => b.lngMax),
});

/** Stations in any of the boxes, active, with the service and offering the grade (a nozzle or a tank of it). */
function inBoxes(boxes: readonly Box[], f: FinderFilters) {
  const b = boxArrays(boxes);
  return sql`from unnest(${b.latMin}::float8[], ${b.latMax}::float8[], ${b.lngMin}::float8[], ${b.lngMax}::float8[]) as b(lat1, lat2, lng1, lng2)
    join stations s on s.status = 'active' and s.lat between b.lat1 and b.lat2 and s.lng between b.lng1 and b.lng2
    where true
    ${f.service !== undefined ? sql`and s.services @> array[${f.service}]::text[]` : sql``}
    ${f.grade !== undefined ? sql`and (exists (select 1 from station_nozzles n where n.station_id = s.id and n.grade = ${f.grade})
      or exists (select 1 from station_tanks k where k.station_id = s.id and k.grade = ${f.grade}))` : sql``}`;
}

async function requireGrade(db: Executor, grade: string | undefined, field: string): Promise<void> {
  if (grade === undefined) return;
  const r = await sql`select 1 from fuel_grades where code = ${grade}`.execute(db);
  if (r.rows.length === 0) throw stationsError('GRADE_UNKNOWN', { field, grade });
}

/** Grades, prices, stock and promotions of a page of stations: four statements, run side by side. */
async function describe(db: Db, rows: readonly StationRow[], now: Date, timeZone: string): Promise<FinderStation[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => Number(r.id));
  const provinces = [...new Set(rows.map((r) => r.province).filter((p) => p !== ''))];
  const [grades, prices, stock, promotions] = await Promise.all([
    sql<{ station_id: string; grade: string; name_zh: string; name_en: string }>`
      select o.station_id, g.code as grade, g.name_zh, g.name_en from (
        select station_id, grade from station_nozzles where station_id = any(${ids}::bigint[])
        union select station_id, grade from station_tanks where station_id = any(${ids}::bigint[])) o
      join fuel_grades g on g.code = o.grade
      order by o.station_id, g.sort_order, g.code`.execute(db),
    // Every price row in force that could apply to these stations, newest per scope: the station's
    // own, its province's, the national one. Precedence is applied below, in that order.
    // One branch per scope, so each reads its own index rather than the whole table.
    sql<{ grade: string; station_id: string | null; province: string | null; unit_price: number }>`
      select distinct on (grade, coalesce(station_id, 0), coalesce(province, '')) grade, station_id, province, unit_price from (
        select grade, station_id, province, unit_price, effective_from, id from fuel_prices
          where station_id = any(${ids}::bigint[]) and effective_from <= now()
        union all
        select grade, station_id, province, unit_price, effective_from, id from fuel_prices
          where province = any(${provinces}::text[]) and effective_from <= now()
        union all
        select grade, station_id, province, unit_price, effective_from, id from fuel_prices
          where station_id is null and province is null and effective_from <= now()) p
      order by grade, coalesce(station_id, 0), coalesce(province, ''), effective_from desc, id desc`.execute(db),
    inStockFlags(db, ids),
    activePromotionsFor(db, rows.map((r) => ({ id: Number(r.id), province: r.province }))),
  ]);
  const price = new Map<string, number>();
  for (const p of prices.rows) price.set(p.station_id !== null ? `s${p.station_id}|${p.grade}` : p.province !== null ? `p${p.province}|${p.grade}` : `n|${p.grade}`, p.unit_price);
  const provinceOf = new Map(rows.map((r) => [Number(r.id), r.province]));
  const gradesOf = new Map<number, FinderGrade[]>();
  for (const g of grades.rows) {
    const id = Number(g.station_id);
    const province = provinceOf.get(id) ?? '';
    const list = gradesOf.get(id) ?? [];
    list.push({
      grade: g.grade,
      nameZh: g.name_zh,
      nameEn: g.name_en,
      unitPrice: price.get(`s${id}|${g.grade}`) ?? (province !== '' ? price.get(`p${province}|${g.grade}`) : undefined) ?? price.get(`n|${g.grade}`) ?? null,
      inStock: stock.get(id)?.get(g.grade) ?? null,
    });
    gradesOf.set(id, list);
  }
  return rows.map((r) => {
    const id = Number(r.id);
    return {
      stationId: id,
      code: r.code,
      name: r.name,
      address: r.address,
      province: r.province,
      city: r.city,
      district: r.district,
      lat: r.lat,
      lng: r.lng,
      phone: r.phone,
      distanceM: Math.round(r.d),
      openNow: isOpenAt(r.opening_hours, now, timeZone),
      openingHours: r.opening_hours,
      services: r.services,
      grades: gradesOf.get(id) ?? [],
      promotions: promotions.get(id) ?? [],
    };
  });
}

/** The filters that need a station's data: open now, and the grade not known to be out of stock. */
function keeps(s: FinderStation, f: FinderFilters): boolean {
  if (f.openNow && !s.openNow) return false;
  if (f.grade !== undefined && s.grades.find((g) => g.grade === f.grade)?.inStock === false) return false;
  return true;
}

/**
 * Reads candidates in the order wanted, a batch at a time, describes and filters each batch,
 * until the page is full, the candidates run out, or MAX_SCANNED were looked at.
 */
async function fill(
  db: Db,
  f: FinderFilters,
  limit: number,
  timeZone: string,
  next: (offset: number, count: number) => Promise<StationRow[]>,
  decorate: (s: FinderStation) => FinderStation = (s) => s,
): Promise<FinderStation[]> {
  const now = new Date();
  const filtered = f.openNow === true || f.grade !== undefined;
  const batch = filtered ? Math.max(2 * limit, 40) : limit;
  const out: FinderStation[] = [];
  for (let offset = 0; out.length < limit && offset < MAX_SCANNED; offset += batch) {
    const rows = await next(offset, batch);
    for (const s of await describe(db, rows, now, timeZone)) {
      if (out.length < limit && keeps(s, f)) out.push(decorate(s));
    }
    if (rows.length < batch) break;
  }
  return out;
}

const STATION_COLUMNS = sql`s.id, s.code, s.name, s.address, s.province, s.city, s.district, s.lat, s.lng, s.phone, s.opening_hours, s.services`;

/** Reads the stations of a slice of the candidates (already in the order wanted) by id. */
function stationsOf(db: Db, candidates: ReadonlyArray<{ id: string; distanceM: number }>) {
  return async (offset: number, count: number): Promise<StationRow[]> => {
    const slice = candidates.slice(offset, offset + count);
    if (slice.length === 0) return [];
    const rows = await sql<StationRow>`select ${STATION_COLUMNS}, 0::float8 as d from stations s where s.id = any(${slice.map((c) => c.id)}::bigint[])`.execute(db);
    const byId = new Map(rows.rows.map((row) => [String(row.id), row]));
    return slice.flatMap((c) => {
      const row = byId.get(String(c.id));
      return row ? [{ ...row, d: c.distanceM }] : [];
    });
  };
}

/** Active stations within radiusKm of a point, nearest first (great-circle distance). */
export async function findNearest(
  db: Db,
  timeZone: string,
  q: FinderFilters & { lat: number; lng: number; radiusKm: number; limit: number },
): Promise<FinderStation[]> {
  await requireGrade(db, q.grade, 'querystring.grade');
  const radiusM = q.radiusKm * 1000;
  const filtered = q.openNow === true || q.grade !== undefined;
  // The candidates, nearest first, read once: a filtered search then describes them a batch at
  // a time rather than running the box search again with a growing offset.
  const r = await sql<{ id: string; d: number }>`select * from (
      select s.id, 2 * ${EARTH_RADIUS_M}::float8 * asin(least(1, sqrt(power(sin(radians(s.lat - ${q.lat}::float8) / 2), 2)
          + cos(radians(${q.lat}::float8)) * cos(radians(s.lat)) * power(sin(radians(s.lng - ${q.lng}::float8) / 2), 2)))) as d
      ${inBoxes(boxesAround([q], radiusM), q)}) c
    where c.d <= ${radiusM}::float8
    order by c.d, c.id limit ${filtered ? MAX_SCANNED : q.limit}`.execute(db);
  const next = stationsOf(db, r.rows.map((c) => ({ id: c.id, distanceM: c.d })));
  return fill(db, q, q.limit, timeZone, next);
}

/**
 * Active stations within corridorKm of a route, in the order the route reaches them;
 * distanceM is the distance from the route.
 */
export async function findAlong(
  db: Db,
  timeZone: string,
  q: FinderFilters & { path: Point[]; corridorKm: number; limit: number },
): Promise<FinderStation[]> {
  await requireGrade(db, q.grade, 'body.grade');
  const lengthM = pathLengthM(q.path);
  if (lengthM > ALONG_MAX_PATH_KM * 1000) {
    throw platformError('VALIDATION_FAILED', { field: 'body.path', reason: `longer than ${ALONG_MAX_PATH_KM} km`, lengthKm: Math.round(lengthM / 1000) });
  }
  const corridorM = q.corridorKm * 1000;
  // Pieces of at least 10 km, and no more than ~400 boxes for the longest route.
  const boxes = corridorBoxes(q.path, corridorM, Math.max(10_000, lengthM / 400));
  const r = await sql<{ id: string; lat: number; lng: number }>`select distinct s.id, s.lat, s.lng ${inBoxes(boxes, q)} limit ${MAX_CORRIDOR_CANDIDATES}`.execute(db);
  const pieces = pathPieces(q.path);
  const placed = r.rows
    .map((c) => ({ id: c.id, ...placeOnPieces(c, pieces) }))
    .filter((c) => c.distanceM <= corridorM)
    .sort((a, b) => a.alongM - b.alongM || a.distanceM - b.distanceM || Number(a.id) - Number(b.id));
  const place = new Map(placed.map((c) => [Number(c.id), c]));
  const next = stationsOf(db, placed);
  return fill(db, q, q.limit, timeZone, next, (s) => ({ ...s, alongM: Math.round(place.get(s.stationId)?.alongM ?? 0) }));
}
