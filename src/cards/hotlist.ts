import { sql } from 'kysely';
import type { Executor } from '../platform/index.js';

export type Hotlist = { version: number; full: true; cards: string[] } | { version: number; full: false; added: string[]; removed: string[] };

/**
 * The hot-list version: the xmin of a fresh snapshot. Every transaction with a smaller id has
 * finished, so every hotlist change it made is visible now; anything still in flight has a larger
 * id and will show up in a delta from this version. (A sequence would not do: numbers are taken
 * at write time and can commit out of order.)
 */
export async function hotlistVersion(db: Executor): Promise<number> {
  const r = await sql<{ v: string }>`select pg_snapshot_xmin(pg_current_snapshot())::text v`.execute(db);
  return Number(r.rows[0]!.v);
}

/**
 * The full list, or what changed since `since`. The version is read before the rows, so the rows
 * may include changes newer than it: a later delta repeats them, and applying a card's current
 * state twice is harmless.
 */
export async function hotlist(db: Executor, since?: number): Promise<Hotlist> {
  const version = await hotlistVersion(db);
  const floor = Number((await sql<{ floor: string }>`select floor::text from hotlist_floor`.execute(db)).rows[0]!.floor);
  // Older than the floor, or newer than now (a restored or different database): start over.
  if (since === undefined || since < floor || since > version) {
    const r = await sql<{ card_no: string }>`select card_no from hotlist where listed order by card_no`.execute(db);
    return { version, full: true, cards: r.rows.map((x) => x.card_no) };
  }
  const r = await sql<{ card_no: string; listed: boolean }>`select card_no, listed from hotlist
    where changed_xid >= ${since} order by card_no`.execute(db);
  return {
    version,
    full: false,
    added: r.rows.filter((x) => x.listed).map((x) => x.card_no),
    removed: r.rows.filter((x) => !x.listed).map((x) => x.card_no),
  };
}
