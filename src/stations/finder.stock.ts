import type { Executor } from '../platform/index.js';
import { recentStockOfStations } from './stock.service.js';

/**
 * The finder's "in stock" flag per station and grade, cheap and bounded: it is public, so one
 * unauthenticated request must not make the database sum weeks of sales.
 * - Only a reading of the last FINDER_STOCK_WINDOW_MS counts: a tank whose gauge has been silent
 *   longer is "unknown" (null), and no sales older than the window are ever summed for the finder.
 * - Each station's answer is kept FINDER_STOCK_TTL_MS in memory (at most FINDER_STOCK_CACHE_MAX
 *   stations), so a burst of searches around one place reads its tanks once a minute.
 * The staff stock screens do not go through here: they count from the last reading, however old.
 */

export const FINDER_STOCK_WINDOW_MS = 7 * 24 * 3600_000;
export const FINDER_STOCK_TTL_MS = 60_000;
const FINDER_STOCK_CACHE_MAX = 50_000;

/** grade → true (a tank above its low level), false (gauged tanks, none above it); absent: unknown. */
export type StationStockFlags = ReadonlyMap<string, boolean>;

const cache = new Map<number, { at: number; flags: StationStockFlags }>();

/** Forgets every cached answer (tests; an operator would simply wait a minute). */
export function forgetFinderStock(): void {
  cache.clear();
}

export async function inStockFlags(db: Executor, stationIds: readonly number[], now = Date.now()): Promise<Map<number, StationStockFlags>> {
  const out = new Map<number, StationStockFlags>();
  const missing: number[] = [];
  for (const id of stationIds) {
    const hit = cache.get(id);
    if (hit && now - hit.at < FINDER_STOCK_TTL_MS) out.set(id, hit.flags);
    else missing.push(id);
  }
  if (missing.length === 0) return out;
  const tanks = await recentStockOfStations(db, missing, new Date(now - FINDER_STOCK_WINDOW_MS));
  const fresh = new Map<number, Map<string, boolean>>(missing.map((id) => [id, new Map()]));
  for (const t of tanks) {
    if (t.bookStockMl === null) continue;
    const flags = fresh.get(t.stationId)!;
    flags.set(t.grade, flags.get(t.grade) === true || t.bookStockMl > t.lowLevelMl);
  }
  for (const [id, flags] of fresh) {
    out.set(id, flags);
    // Re-inserted so the Map's order is oldest first, and the oldest go when it is full.
    cache.delete(id);
    cache.set(id, { at: now, flags });
  }
  for (const id of cache.keys()) {
    if (cache.size <= FINDER_STOCK_CACHE_MAX) break;
    cache.delete(id);
  }
  return out;
}
