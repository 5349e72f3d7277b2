import { sql } from 'kysely';
import type { Config, Trx } from '../platform/index.js';
import { businessDay, parseIsoTime } from '../platform/index.js';
import type { CardRow } from '../cards/index.js';

/** What the terminal was given: the versions of each list it downloaded, oldest first. */
interface ListDownload {
  kind: 'hotlist' | 'whitelist';
  version: number;
  at: number;
}

/** The latest version of a list the terminal was answered before `at` (null: none recorded). */
function downloadedBefore(downloads: ListDownload[], kind: ListDownload['kind'], at: number): number | null {
  let best: number | null = null;
  for (const d of downloads) if (d.kind === kind && d.at < at && (best === null || d.version > best)) best = d.version;
  return best;
}

/** A posted sale's place in the card's offline total for its day at this terminal. */
export interface DaySpend {
  cardId: number;
  day: string;
  at: number;
  amount: number;
  /** Posted earlier in this batch (a tie in time then counts: the terminal approved it first). */
  inBatch: boolean;
}

/**
 * What the terminal held when it approved each sale: the hot list at the larger of the version it
 * claims and the last one it downloaded before the sale, and the floors of the whitelist it last
 * downloaded before the sale (else the configured ones). Also the card's offline spending already
 * posted at this terminal on the days of the batch. A few statements for the whole batch.
 */
export async function listsHeld(
  trx: Trx,
  config: Config,
  terminalId: string,
  sales: ReadonlyArray<{ cardNo: string; occurredAt: string }>,
  cards: Map<string, CardRow>,
  claimed: number | null,
  current: number,
): Promise<{ hotAt: (cardId: number, at: number) => boolean; floorsAt: (cardId: number, at: number) => { sale: number; day: number }; spent: DaySpend[] }> {
  const downloads: ListDownload[] = (
    await sql<{ kind: 'hotlist' | 'whitelist'; version: string; downloaded_at: Date }>`select kind, version::text, downloaded_at
      from terminal_list_downloads where terminal_id = ${terminalId} order by id`.execute(trx)
  ).rows.map((r) => ({ kind: r.kind, version: Number(r.version), at: r.downloaded_at.getTime() }));
  // A version above the current one was never given by this server (a restored database): judge
  // by the list as it is now rather than by a list nobody can reconstruct.
  const hotVersion = (at: number) => {
    const got = downloadedBefore(downloads, 'hotlist', at);
    const v = claimed === null ? got : got === null ? claimed : Math.max(claimed, got);
    return v === null ? null : Math.min(v, current);
  };
  const whiteVersion = (at: number) => {
    const got = downloadedBefore(downloads, 'whitelist', at);
    return got === null ? null : Math.min(got, current);
  };

  const hotPairs = new Map<string, [number, number]>();
  const whitePairs = new Map<string, [number, number]>();
  const days = new Set<string>();
  for (const s of sales) {
    const card = cards.get(s.cardNo);
    const at = parseIsoTime(s.occurredAt)?.at;
    if (!card || !at) continue;
    days.add(businessDay(at, config.timeZone));
    const hv = hotVersion(at.getTime());
    if (hv !== null) hotPairs.set(`${card.id}:${hv}`, [card.id, hv]);
    const wv = whiteVersion(at.getTime());
    if (wv !== null) whitePairs.set(`${card.id}:${wv}`, [card.id, wv]);
  }
  const unzip = (m: Map<string, [number, number]>) => [[...m.values()].map((p) => p[0]), [...m.values()].map((p) => p[1])] as const;

  const hot = new Set<string>();
  if (hotPairs.size > 0) {
    const [ids, versions] = unzip(hotPairs);
    const r = await sql<{ c: string; v: string }>`select c::text, v::text from unnest(${ids}::bigint[], ${versions}::bigint[]) as u(c, v)
      where hotlist_listed_at(c, v)`.execute(trx);
    for (const row of r.rows) hot.add(`${row.c}:${row.v}`);
  }
  const white = new Map<string, { sale: number; day: number }>();
  if (whitePairs.size > 0) {
    const [ids, versions] = unzip(whitePairs);
    // The entry at version V: its last change by a transaction older than V (as hotlist_listed_at).
    const r = await sql<{ c: string; v: string; floor_sale: string; floor_day: string }>`select u.c::text, u.v::text, h.floor_sale::text, h.floor_day::text
      from unnest(${ids}::bigint[], ${versions}::bigint[]) as u(c, v)
      cross join lateral (select listed, floor_sale, floor_day from offline_whitelist_history w
                           where w.card_id = u.c and w.changed_xid < u.v order by w.changed_xid desc limit 1) h
      where h.listed`.execute(trx);
    for (const row of r.rows) white.set(`${row.c}:${row.v}`, { sale: Number(row.floor_sale), day: Number(row.floor_day) });
  }
  const cardIds = [...new Set([...cards.values()].map((c) => c.id))];
  const spent: DaySpend[] =
    cardIds.length === 0
      ? []
      : (
          await sql<{ card_id: string; day: string; offline_at: Date; amount: string }>`select card_id::text, to_char(business_day, 'YYYY-MM-DD') as day,
              offline_at, amount::text from sales
            where terminal_id = ${terminalId} and flow = 'offline' and status = 'approved' and offline_at is not null
              and card_id = any(${cardIds}::bigint[]) and business_day = any(${[...days]}::date[])`.execute(trx)
        ).rows.map((r) => ({ cardId: Number(r.card_id), day: r.day, at: r.offline_at.getTime(), amount: Number(r.amount), inBatch: false }));

  const configured = { sale: config.offlineFloorSale, day: config.offlineFloorDay };
  return {
    hotAt: (cardId, at) => {
      const v = hotVersion(at);
      return v !== null && hot.has(`${cardId}:${v}`);
    },
    floorsAt: (cardId, at) => {
      const v = whiteVersion(at);
      return (v !== null && white.get(`${cardId}:${v}`)) || configured;
    },
    spent,
  };
}
