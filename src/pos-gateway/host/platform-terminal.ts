/**
 * DE 41 → the platform terminal the sales use cases act for. The ISO host authenticates a terminal
 * by its MAC key; the sales path then needs the same principal an HTTP terminal has (terminal id
 * and station), so an ISO sale and an HTTP sale are indistinguishable downstream.
 */
import { sql } from 'kysely';
import type { Executor, TerminalPrincipal } from '../../platform/index.js';

/** A terminal's station does not change; DE 41 is re-bound only by a key ceremony. Cached briefly per database. */
const CACHE_MS = 10_000;
const caches = new WeakMap<object, Map<string, { at: number; principal: TerminalPrincipal }>>();

export async function platformTerminalOf(db: Executor, isoTerminalId: string, opts: { fresh?: boolean } = {}): Promise<TerminalPrincipal | null> {
  let cache = caches.get(db);
  if (!cache) caches.set(db, (cache = new Map()));
  const hit = cache.get(isoTerminalId);
  if (hit && !opts.fresh && Date.now() - hit.at < CACHE_MS) return hit.principal;
  const r = await sql<{ id: string; station_id: string }>`select t.id, t.station_id::text
    from pos_terminals p join terminals t on t.id = p.terminal_id where p.iso_terminal_id = ${isoTerminalId}`.execute(db);
  const row = r.rows[0];
  if (!row) return null;
  const principal: TerminalPrincipal = { id: row.id, stationId: Number(row.station_id) };
  if (cache.size > 10_000) cache.clear();
  cache.set(isoTerminalId, { at: Date.now(), principal });
  return principal;
}
