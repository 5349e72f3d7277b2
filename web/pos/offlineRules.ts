/**
 * What a terminal may approve while it cannot reach the platform (docs/offline.md, docs/web-pos.md):
 * the downloaded hot list, the floor limits, and the whitelist's own floors. Pure: the caller
 * passes everything in, so the rules are tested without a browser.
 */

/** What the terminal downloaded while online. */
export interface OfflineParams {
  floorSale: number;
  floorDay: number;
  hotlistVersion: number | null;
  /** Card numbers to refuse. */
  hotlist: string[];
  /** cardNo → its own floors (fen). */
  whitelist: Record<string, { floorSale: number; floorDay: number }>;
  whitelistVersion: number | null;
  /** When the floors were last downloaded (ISO). */
  fetchedAt: string;
}

/** Parameters older than this are not trusted: a card lost yesterday would still be approved. */
export const PARAMS_MAX_AGE_MS = 24 * 60 * 60 * 1000;

export type OfflineRefusal = 'NO_PARAMS' | 'PARAMS_STALE' | 'HOT_CARD' | 'OVER_FLOOR_SALE' | 'OVER_FLOOR_DAY';

export type OfflineDecision =
  | { ok: true; floorSale: number; floorDay: number; whitelisted: boolean; spentToday: number }
  | { ok: false; code: OfflineRefusal; floorSale?: number; floorDay?: number; spentToday?: number };

/**
 * Approve or refuse one offline sale. `spentToday` is what this terminal already approved offline
 * for the card on the same business day (the per-card floor is per terminal: it cannot know more).
 */
export function decideOffline(params: OfflineParams | null, sale: { cardNo: string; amount: number }, spentToday: number, nowMs: number): OfflineDecision {
  if (!params) return { ok: false, code: 'NO_PARAMS' };
  const age = nowMs - Date.parse(params.fetchedAt);
  if (!Number.isFinite(age) || age > PARAMS_MAX_AGE_MS) return { ok: false, code: 'PARAMS_STALE' };
  // The hot list wins over the whitelist: a whitelisted card that was reported lost is still lost.
  if (params.hotlist.includes(sale.cardNo)) return { ok: false, code: 'HOT_CARD' };
  const listed = params.whitelist[sale.cardNo];
  const floorSale = listed?.floorSale ?? params.floorSale;
  const floorDay = listed?.floorDay ?? params.floorDay;
  if (sale.amount > floorSale) return { ok: false, code: 'OVER_FLOOR_SALE', floorSale, floorDay, spentToday };
  if (spentToday + sale.amount > floorDay) return { ok: false, code: 'OVER_FLOOR_DAY', floorSale, floorDay, spentToday };
  return { ok: true, floorSale, floorDay, whitelisted: !!listed, spentToday };
}

/** GET /api/v1/pos/hotlist answers. */
export type HotlistAnswer = { version: number; full: true; cards: string[] } | { version: number; full: false; added: string[]; removed: string[] };

/** The list held after applying a full list or a delta (a delta may repeat a change: applying it twice is harmless). */
export function applyHotlist(held: string[], answer: HotlistAnswer): string[] {
  if (answer.full) return [...new Set(answer.cards)];
  const set = new Set(held);
  for (const c of answer.removed) set.delete(c);
  for (const c of answer.added) set.add(c);
  return [...set];
}

/** GET /api/v1/pos/whitelist answers. */
export interface WhitelistAnswer {
  version: number;
  full: boolean;
  items: Array<{ cardNo: string; floorSale: number; floorDay: number; listed: boolean }>;
}

export function applyWhitelist(held: OfflineParams['whitelist'], answer: WhitelistAnswer): OfflineParams['whitelist'] {
  const next: OfflineParams['whitelist'] = answer.full ? {} : { ...held };
  for (const it of answer.items) {
    if (it.listed) next[it.cardNo] = { floorSale: it.floorSale, floorDay: it.floorDay };
    else delete next[it.cardNo];
  }
  return next;
}

/** The business day (YYYY-MM-DD) of an instant in China Standard Time (no daylight saving). */
export function businessDayOf(iso: string | number): string {
  const ms = typeof iso === 'number' ? iso : Date.parse(iso);
  return new Date(ms + 8 * 3600 * 1000).toISOString().slice(0, 10);
}

/** A terminal's own six-digit approval code for an offline sale. */
export function offlineApprovalCode(random: () => number = Math.random): string {
  return String(Math.floor(random() * 1_000_000)).padStart(6, '0');
}
