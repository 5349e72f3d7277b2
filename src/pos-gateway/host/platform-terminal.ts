/**
 * DE 41 → the platform terminal the sales use cases act for. The ISO host authenticates a terminal
 * by its MAC key; the sales path then needs the same principal an HTTP terminal has (terminal id
 * and station), so an ISO sale and an HTTP sale are indistinguishable downstream. The database
 * directory reads it with the terminal's record (TerminalRecord.platform); this is for the others.
 */
import { sql } from 'kysely';
import type { Executor, TerminalPrincipal } from '../../platform/index.js';

export async function platformTerminalOf(db: Executor, isoTerminalId: string): Promise<TerminalPrincipal | null> {
  const r = await sql<{ id: string; station_id: string }>`select t.id, t.station_id::text
    from pos_terminals p join terminals t on t.id = p.terminal_id where p.iso_terminal_id = ${isoTerminalId}`.execute(db);
  const row = r.rows[0];
  return row ? { id: row.id, stationId: Number(row.station_id) } : null;
}
