import { sql } from 'kysely';
import type { Executor } from '../platform/index.js';

/**
 * Price enforcement at sale time (same precedence as prices.service: station > province > national).
 * A sale's unit price must be one the station's grade was sold
 * at during the grace window before the sale (the price in force now, or one in force when a
 * fill still running could have started). A grade with no price in that window is not enforced:
 * stations without price data keep selling at the terminal's price.
 *
 * The rows a station's check needs (its own, its province's and the national ones from a little before the
 * window, scheduled ones included) are cached per station, so a sale costs no query while the
 * entry is fresh; any price change in this process drops every entry, another process's change
 * shows within CACHE_MS (and the grace window accepts the old price meanwhile).
 */

interface PriceRow {
  id: number;
  /** 0: the station's own, 1: its province's, 2: national (lower wins). */
  rank: number;
  stationId: number | null;
  unitPrice: number;
  effectiveMs: number;
}
interface Entry {
  byGrade: Map<string, PriceRow[]>;
  loadedAtMs: number;
  generation: number;
}

const CACHE_MS = 30_000;
let generation = 0;
const caches = new WeakMap<object, Map<number, Entry>>();

/** Called after a price change commits: every cached station is read again at its next sale. */
export function pricesChanged(): void {
  generation++;
}

/**
 * The rows that can apply to one station (its own, its province's and the national ones) from the
 * last one in force at `horizon` on, sorted newest first.
 */
async function loadRows(db: Executor, stationId: number, horizon: Date): Promise<Map<string, PriceRow[]>> {
  // One query, one branch per scope so each uses its index (fuel_prices_station / fuel_prices_province /
  // fuel_prices_in_force): per grade, the scope's row in force at the horizon and every later one.
  const r = await sql<{ id: string; grade: string; station_id: string | null; province: string | null; unit_price: number; effective_from: Date }>`
    with st as (select id, province from stations where id = ${stationId})
    select p.id, p.grade, p.station_id, p.province, p.unit_price, p.effective_from from fuel_prices p, st
    where p.station_id = st.id
      and p.effective_from >= coalesce((select max(q.effective_from) from fuel_prices q
        where q.station_id = st.id and q.grade = p.grade and q.effective_from <= ${horizon}), '-infinity'::timestamptz)
    union all
    select p.id, p.grade, p.station_id, p.province, p.unit_price, p.effective_from from fuel_prices p, st
    where p.province = st.province and p.station_id is null
      and p.effective_from >= coalesce((select max(q.effective_from) from fuel_prices q
        where q.province = st.province and q.grade = p.grade and q.effective_from <= ${horizon}), '-infinity'::timestamptz)
    union all
    select p.id, p.grade, p.station_id, p.province, p.unit_price, p.effective_from from fuel_prices p
    where p.station_id is null and p.province is null
      and p.effective_from >= coalesce((select max(q.effective_from) from fuel_prices q
        where q.station_id is null and q.province is null and q.grade = p.grade and q.effective_from <= ${horizon}), '-infinity'::timestamptz)
    order by grade, effective_from desc, id desc`.execute(db);
  const byGrade = new Map<string, PriceRow[]>();
  for (const row of r.rows) {
    const list = byGrade.get(row.grade) ?? [];
    const rank = row.station_id !== null ? 0 : row.province !== null ? 1 : 2;
    list.push({ id: Number(row.id), rank, stationId: row.station_id === null ? null : Number(row.station_id), unitPrice: row.unit_price, effectiveMs: row.effective_from.getTime() });
    byGrade.set(row.grade, list);
  }
  return byGrade;
}

/** The station's price at `t` (its own, else its province's, else the national one), from rows sorted newest first. */
function inForce(rows: readonly PriceRow[], t: number): number | null {
  for (const rank of [0, 1, 2]) {
    const hit = rows.find((r) => r.rank === rank && r.effectiveMs <= t);
    if (hit) return hit.unitPrice;
  }
  return null;
}

export type PriceVerdict = { ok: true } | { ok: false; expected: number };

/** Every price in force at some moment of [t − grace, t]; null when some moment had none (not enforced). */
export function pricesInWindow(rows: readonly PriceRow[], t: number, graceMs: number): number[] | null {
  const from = t - graceMs;
  const seen = [inForce(rows, t), inForce(rows, from), ...rows.filter((r) => r.effectiveMs > from && r.effectiveMs <= t).map((r) => inForce(rows, r.effectiveMs))];
  if (seen.some((p) => p === null)) return null;
  return [...new Set(seen as number[])];
}

/**
 * Whether a sale at `unitPrice` agrees with the station's price for the grade. `db` keys the cache;
 * a miss is read through `trx` (the sale's transaction: a second pool connection could deadlock the
 * pool under load). With `at` (data loaders selling in the past) the rows are read, not cached.
 */
export async function checkSalePrice(
  db: object,
  trx: Executor,
  input: { stationId: number; grade: string; unitPrice: number; graceMs: number; at?: Date },
): Promise<PriceVerdict> {
  let byGrade: Map<string, PriceRow[]>;
  const t = input.at?.getTime() ?? Date.now();
  if (input.at) {
    byGrade = await loadRows(trx, input.stationId, new Date(t - input.graceMs));
  } else {
    let cache = caches.get(db);
    if (!cache) {
      cache = new Map();
      caches.set(db, cache);
    }
    let entry = cache.get(input.stationId);
    if (!entry || entry.generation !== generation || t - entry.loadedAtMs >= CACHE_MS) {
      const gen = generation;
      // The horizon reaches back so that the entry answers for the grace window until it expires.
      byGrade = await loadRows(trx, input.stationId, new Date(t - input.graceMs - CACHE_MS));
      entry = { byGrade, loadedAtMs: t, generation: gen };
      cache.set(input.stationId, entry);
    }
    byGrade = entry.byGrade;
  }
  const rows = byGrade.get(input.grade);
  if (!rows) return { ok: true };
  const allowed = pricesInWindow(rows, t, input.graceMs);
  if (allowed === null || allowed.includes(input.unitPrice)) return { ok: true };
  return { ok: false, expected: inForce(rows, t)! };
}
