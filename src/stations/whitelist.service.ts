import { sql } from 'kysely';
import type { Actor, Db, Executor } from '../platform/index.js';
import { audit, CURSOR_TIME_FORMAT, decodeCursor, encodeCursor, maskCardNo } from '../platform/index.js';
import { requireCard } from '../cards/index.js';
import { whitelistError } from './whitelist.errors.js';

/**
 * The operator's offline whitelist (白名单): cards a terminal may approve offline up to their own
 * floors instead of the configured ones. Versioned exactly like the hot list (migration 016): a
 * version is the xmin of a fresh snapshot, and a row records the transaction that last changed it.
 */

/** The most cards the list may hold: every terminal downloads all of them. */
export const MAX_WHITELIST_CARDS = 20_000;

export interface WhitelistItem {
  cardNo: string;
  floorSale: number;
  floorDay: number;
  /** false in a delta: the card left the list. */
  listed: boolean;
}

export interface WhitelistDownload {
  version: number;
  full: boolean;
  items: WhitelistItem[];
}

export interface WhitelistEntry {
  cardNo: string;
  cardStatus: string;
  floorSale: number;
  floorDay: number;
  updatedBy: string;
  updatedAt: string;
}

type Row = { card_no: string; floor_sale: number; floor_day: number; listed: boolean };

/** See hotlistVersion: every transaction below this id has finished, so its changes are visible. */
export async function whitelistVersion(db: Executor): Promise<number> {
  const r = await sql<{ v: string }>`select pg_snapshot_xmin(pg_current_snapshot())::text v`.execute(db);
  return Number(r.rows[0]!.v);
}

/**
 * A delta this short is answered as a delta even when the list is shorter still: a version held
 * back by a long transaction repeats a few changes, and that should not flip a small list to full.
 */
export const DELTA_ALWAYS_UP_TO = 100;

/**
 * The full list, or what changed since `since` (rows may be newer than the version: applying them
 * twice is harmless). Removed cards stay as rows forever, so a delta from long ago could outgrow
 * the list itself: past DELTA_ALWAYS_UP_TO items, when it would, the full list is the shorter answer
 * (so an answer never exceeds max(MAX_WHITELIST_CARDS, DELTA_ALWAYS_UP_TO) items).
 */
export async function whitelistDownload(db: Executor, since?: number): Promise<WhitelistDownload> {
  const version = await whitelistVersion(db);
  const floor = Number((await sql<{ floor: string }>`select floor::text from offline_whitelist_floor`.execute(db)).rows[0]!.floor);
  const item = (r: Row): WhitelistItem => ({ cardNo: r.card_no, floorSale: r.floor_sale, floorDay: r.floor_day, listed: r.listed });
  const full = async () => {
    const r = await sql<Row>`select card_no, floor_sale, floor_day, listed from offline_whitelist where listed order by card_no`.execute(db);
    return { version, full: true, items: r.rows.map(item) };
  };
  if (since === undefined || since < floor || since > version) return full();
  const sizes = (
    await sql<{ delta: number; listed: number }>`select count(*) filter (where changed_xid >= ${since})::int as delta,
      count(*) filter (where listed)::int as listed from offline_whitelist`.execute(db)
  ).rows[0]!;
  if (sizes.delta > Math.max(sizes.listed, DELTA_ALWAYS_UP_TO)) return full();
  const r = await sql<Row>`select card_no, floor_sale, floor_day, listed from offline_whitelist
    where changed_xid >= ${since} order by card_no`.execute(db);
  return { version, full: false, items: r.rows.map(item) };
}

/** How many downloads of each list are kept per terminal at least, whatever their age. */
export const KEPT_LIST_DOWNLOADS = 50;
/** And every one younger than this: an offline sale up to OFFLINE_MAX_AGE (7 days) old is judged by them. */
export const KEPT_LIST_DOWNLOAD_DAYS = 8;

/**
 * Records that a terminal was answered a version of the hot list or whitelist, so an offline sale
 * is judged by what the terminal held, not only by what it says it held. Only a version above the
 * terminal's newest record is stored: an equal or lower one adds nothing (the sale is judged by the
 * highest version downloaded before it), and so a terminal cannot push its own history out by
 * downloading again and again. Rows go only when they are both beyond the newest
 * KEPT_LIST_DOWNLOADS and older than KEPT_LIST_DOWNLOAD_DAYS.
 */
export async function recordListDownload(db: Executor, terminalId: string, kind: 'hotlist' | 'whitelist', version: number): Promise<void> {
  await sql`with added as (
      insert into terminal_list_downloads (terminal_id, kind, version)
      select ${terminalId}, ${kind}, ${version}
      where ${version} > coalesce((select max(version) from terminal_list_downloads where terminal_id = ${terminalId} and kind = ${kind}), -1)
      returning id)
    delete from terminal_list_downloads where terminal_id = ${terminalId} and kind = ${kind}
      and downloaded_at < now() - make_interval(days => ${KEPT_LIST_DOWNLOAD_DAYS})
      and id <= (select id from terminal_list_downloads where terminal_id = ${terminalId} and kind = ${kind}
                 order by id desc offset ${KEPT_LIST_DOWNLOADS - 1} limit 1)`.execute(db);
}

type EntryRow = Row & { status: string; updated_by: string; updated_at: Date; card_id: number; cursor_at: string };

const toEntry = (r: EntryRow): WhitelistEntry => ({
  cardNo: r.card_no,
  cardStatus: r.status,
  floorSale: r.floor_sale,
  floorDay: r.floor_day,
  updatedBy: r.updated_by,
  updatedAt: r.updated_at.toISOString(),
});

/** Staff: the listed cards, most recently changed first. */
export async function listWhitelist(db: Executor, q: { cardNo?: string; cursor?: string; limit: number }): Promise<{ items: WhitelistEntry[]; nextCursor: string | null }> {
  const after = decodeCursor(q.cursor, 'bigint');
  const r = await sql<EntryRow>`select w.card_id, w.card_no, w.floor_sale, w.floor_day, w.listed, w.updated_by, w.updated_at, c.status,
      to_char(w.updated_at at time zone 'UTC', ${CURSOR_TIME_FORMAT}) as cursor_at
    from offline_whitelist w join cards c on c.id = w.card_id
    where w.listed
    ${q.cardNo !== undefined ? sql`and w.card_no = ${q.cardNo}` : sql``}
    ${after ? sql`and (w.updated_at, w.card_id) < (${after.at}::timestamptz, ${after.id}::bigint)` : sql``}
    order by w.updated_at desc, w.card_id desc limit ${q.limit + 1}`.execute(db);
  const rows = r.rows.slice(0, q.limit);
  const last = rows[rows.length - 1];
  return { items: rows.map(toEntry), nextCursor: r.rows.length > q.limit && last ? encodeCursor(last.cursor_at, String(last.card_id)) : null };
}

// Staff edits of the list are rare: one at a time keeps the size cap exact.
const lockWhitelist = (trx: Executor) => sql`select pg_advisory_xact_lock(7501, 1)`.execute(trx);

/** Put a card on the list, or change its floors. */
export async function setWhitelistEntry(db: Db, actor: Actor, cardNo: string, floors: { floorSale: number; floorDay: number }): Promise<WhitelistEntry> {
  if (floors.floorDay < floors.floorSale) throw whitelistError('WHITELIST_FLOOR_INVALID', { field: 'floorDay', floorSale: floors.floorSale, floorDay: floors.floorDay });
  return db.transaction().execute(async (trx) => {
    await lockWhitelist(trx);
    const card = await requireCard(trx, cardNo);
    // A master card never buys fuel; a closed or replaced card never will again.
    if (card.kind === 'master' || card.status === 'closed' || card.status === 'replaced') {
      throw whitelistError('WHITELIST_CARD_NOT_ELIGIBLE', { cardNo: maskCardNo(cardNo), kind: card.kind, status: card.status });
    }
    const before = (await sql<Row>`select card_no, floor_sale, floor_day, listed from offline_whitelist where card_id = ${card.id}`.execute(trx)).rows[0];
    if (!before?.listed) {
      const n = (await sql<{ n: number }>`select count(*)::int n from offline_whitelist where listed`.execute(trx)).rows[0]!.n;
      if (n >= MAX_WHITELIST_CARDS) throw whitelistError('WHITELIST_FULL', { max: MAX_WHITELIST_CARDS });
    }
    const unchanged = before?.listed && before.floor_sale === floors.floorSale && before.floor_day === floors.floorDay;
    if (!unchanged) {
      await sql`insert into offline_whitelist (card_id, card_no, floor_sale, floor_day, listed, changed_xid, updated_by, updated_at)
        values (${card.id}, ${card.card_no}, ${floors.floorSale}, ${floors.floorDay}, true, pg_current_xact_id()::text::bigint, ${actor.name}, now())
        on conflict (card_id) do update set floor_sale = excluded.floor_sale, floor_day = excluded.floor_day, listed = true,
          changed_xid = excluded.changed_xid, updated_by = excluded.updated_by, updated_at = excluded.updated_at`.execute(trx);
      await audit(trx, actor, {
        action: before?.listed ? 'whitelist.change' : 'whitelist.add',
        targetType: 'card',
        targetId: card.id,
        details: {
          cardNo: maskCardNo(card.card_no),
          before: before?.listed ? { floorSale: before.floor_sale, floorDay: before.floor_day } : null,
          after: floors,
        },
      });
    }
    return entryOf(trx, card.id);
  });
}

/** Take a card off the list (kept as a removed row, so terminals learn of it by delta). */
export async function removeWhitelistEntry(db: Db, actor: Actor, cardNo: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await lockWhitelist(trx);
    const r = await sql<Row & { card_id: number }>`update offline_whitelist set listed = false, changed_xid = pg_current_xact_id()::text::bigint,
        updated_by = ${actor.name}, updated_at = now()
      where card_no = ${cardNo} and listed returning card_id, card_no, floor_sale, floor_day, listed`.execute(trx);
    const row = r.rows[0];
    if (!row) throw whitelistError('WHITELIST_ENTRY_NOT_FOUND', { cardNo: maskCardNo(cardNo) });
    await audit(trx, actor, {
      action: 'whitelist.remove',
      targetType: 'card',
      targetId: row.card_id,
      details: { cardNo: maskCardNo(row.card_no), before: { floorSale: row.floor_sale, floorDay: row.floor_day } },
    });
  });
}

async function entryOf(db: Executor, cardId: number): Promise<WhitelistEntry> {
  const r = await sql<EntryRow>`select w.card_id, w.card_no, w.floor_sale, w.floor_day, w.listed, w.updated_by, w.updated_at, c.status, '' as cursor_at
    from offline_whitelist w join cards c on c.id = w.card_id where w.card_id = ${cardId}`.execute(db);
  return toEntry(r.rows[0]!);
}
