import { sql } from 'kysely';
import type { Executor } from '../platform/index.js';

/** A store line as a sale records it (sales.items). */
export interface StoreLine {
  sku: string;
  nameZh: string;
  nameEn: string;
  quantity: number;
  unitPrice: number;
  amount: number;
}

export type StorePricing =
  | { ok: true; lines: StoreLine[]; total: number }
  | { ok: false; code: 'GOODS_UNKNOWN' | 'GOODS_INACTIVE'; sku: string };

/** At most this many lines on one sale (a receipt, not a warehouse). */
export const MAX_STORE_LINES = 50;

/**
 * Prices store goods from the catalogue: the platform's price, never the terminal's. Lines keep the
 * request's order; the same SKU twice stays two lines.
 */
export async function priceStoreItems(db: Executor, items: ReadonlyArray<{ sku: string; quantity: number }>): Promise<StorePricing> {
  if (items.length === 0) return { ok: true, lines: [], total: 0 };
  const skus = [...new Set(items.map((i) => i.sku))];
  const r = await sql<{ sku: string; name_zh: string; name_en: string; unit_price: number; active: boolean }>`
    select sku, name_zh, name_en, unit_price, active from goods where sku = any(${skus}::text[])`.execute(db);
  const bySku = new Map(r.rows.map((g) => [g.sku, g]));
  const lines: StoreLine[] = [];
  let total = 0;
  for (const item of items) {
    const g = bySku.get(item.sku);
    if (!g) return { ok: false, code: 'GOODS_UNKNOWN', sku: item.sku };
    if (!g.active) return { ok: false, code: 'GOODS_INACTIVE', sku: item.sku };
    const amount = g.unit_price * item.quantity;
    lines.push({ sku: g.sku, nameZh: g.name_zh, nameEn: g.name_en, quantity: item.quantity, unitPrice: g.unit_price, amount });
    total += amount;
  }
  return { ok: true, lines, total };
}
