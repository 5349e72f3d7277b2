import { sql } from 'kysely';
import type { Actor, Db, Executor } from '../platform/index.js';
import { audit, pgErrorCode, PgCode, platformError } from '../platform/index.js';
import { stationsError } from './stations.errors.js';

/**
 * Store goods (便利店商品) in categories: one catalogue for the whole network, priced by the
 * platform (a sale's goods are priced from here, never by the terminal: goods-price.ts).
 * A product is never deleted — sales name it by SKU — only deactivated.
 */

export interface GoodsCategory {
  id: number;
  code: string;
  nameZh: string;
  nameEn: string;
  /** Goods in the category (active or not). */
  goods: number;
}

export interface Goods {
  id: number;
  sku: string;
  categoryId: number;
  nameZh: string;
  nameEn: string;
  /** Fen per unit. */
  unitPrice: number;
  active: boolean;
  createdAt: string;
  updatedAt: string;
}

/** The terminal's catalogue download stops here: a convenience store, not a warehouse. */
export const MAX_CATALOGUE_ITEMS = 5000;

type GoodsRow = { id: number; sku: string; category_id: number; name_zh: string; name_en: string; unit_price: number; active: boolean; created_at: Date; updated_at: Date };
const toGoods = (r: GoodsRow): Goods => ({
  id: r.id,
  sku: r.sku,
  categoryId: r.category_id,
  nameZh: r.name_zh,
  nameEn: r.name_en,
  unitPrice: r.unit_price,
  active: r.active,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

export async function listGoodsCategories(db: Executor): Promise<GoodsCategory[]> {
  const r = await sql<{ id: number; code: string; name_zh: string; name_en: string; goods: number }>`
    select c.id, c.code, c.name_zh, c.name_en, (select count(*)::int from goods g where g.category_id = c.id) as goods
    from goods_categories c order by c.code limit 500`.execute(db);
  return r.rows.map((c) => ({ id: c.id, code: c.code, nameZh: c.name_zh, nameEn: c.name_en, goods: c.goods }));
}

export async function createGoodsCategory(db: Db, actor: Actor, input: { code: string; nameZh: string; nameEn: string }): Promise<GoodsCategory> {
  return db.transaction().execute(async (trx) => {
    const r = await sql<{ id: number }>`insert into goods_categories (code, name_zh, name_en) values (${input.code}, ${input.nameZh}, ${input.nameEn})
      on conflict (code) do nothing returning id`.execute(trx);
    if (!r.rows[0]) throw stationsError('GOODS_CATEGORY_CODE_TAKEN', { field: 'body.code', code: input.code });
    await audit(trx, actor, { action: 'goods_category.create', targetType: 'goods_category', targetId: r.rows[0].id, details: { ...input } });
    return { id: r.rows[0].id, ...input, goods: 0 };
  });
}

async function requireCategory(db: Executor, id: number, field: string): Promise<void> {
  const r = await sql`select 1 from goods_categories where id = ${id}`.execute(db);
  if (r.rows.length === 0) throw stationsError('GOODS_CATEGORY_NOT_FOUND', { field, categoryId: id });
}

/** A cursor is the last listed goods id, opaque to the caller. */
const encodeGoodsCursor = (id: number) => Buffer.from(`g${id}`).toString('base64url');
function decodeGoodsCursor(cursor: string | undefined): number | null {
  if (cursor === undefined || cursor === '') return null;
  const m = /^g([1-9][0-9]{0,17})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!m) throw platformError('VALIDATION_FAILED', { field: 'querystring.cursor' });
  return Number(m[1]);
}

export async function listGoods(
  db: Executor,
  q: { categoryId?: number; q?: string; active?: boolean; cursor?: string; limit: number },
): Promise<{ items: Goods[]; nextCursor: string | null }> {
  const after = decodeGoodsCursor(q.cursor);
  const like = q.q !== undefined && q.q !== '' ? `%${q.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%` : null;
  const r = await sql<GoodsRow>`select * from goods
    where (${q.categoryId ?? null}::bigint is null or category_id = ${q.categoryId ?? null})
      and (${q.active ?? null}::boolean is null or active = ${q.active ?? null})
      and (${like}::text is null or sku ilike ${like} or name_zh ilike ${like} or name_en ilike ${like})
      and (${after}::bigint is null or id > ${after})
    order by id limit ${q.limit + 1}`.execute(db);
  const rows = r.rows.slice(0, q.limit);
  return { items: rows.map(toGoods), nextCursor: r.rows.length > q.limit ? encodeGoodsCursor(rows.at(-1)!.id) : null };
}

export async function createGoods(db: Db, actor: Actor, input: { sku: string; categoryId: number; nameZh: string; nameEn: string; unitPrice: number }): Promise<Goods> {
  return db.transaction().execute(async (trx) => {
    await requireCategory(trx, input.categoryId, 'body.categoryId');
    try {
      const r = await sql<GoodsRow>`insert into goods (sku, category_id, name_zh, name_en, unit_price)
        values (${input.sku}, ${input.categoryId}, ${input.nameZh}, ${input.nameEn}, ${input.unitPrice})
        on conflict (sku) do nothing returning *`.execute(trx);
      if (!r.rows[0]) throw stationsError('GOODS_SKU_TAKEN', { field: 'body.sku', sku: input.sku });
      const goods = toGoods(r.rows[0]);
      await audit(trx, actor, { action: 'goods.create', targetType: 'goods', targetId: input.sku, details: { ...input } });
      return goods;
    } catch (err) {
      if (pgErrorCode(err) === PgCode.uniqueViolation) throw stationsError('GOODS_SKU_TAKEN', { field: 'body.sku', sku: input.sku });
      throw err;
    }
  });
}

/** Edits a product; audited with what changed (a price change says the old and the new price). */
export async function updateGoods(
  db: Db,
  actor: Actor,
  sku: string,
  patch: { nameZh?: string; nameEn?: string; unitPrice?: number; active?: boolean; categoryId?: number },
): Promise<Goods> {
  return db.transaction().execute(async (trx) => {
    const cur = await sql<GoodsRow>`select * from goods where sku = ${sku} for update`.execute(trx);
    if (!cur.rows[0]) throw stationsError('GOODS_NOT_FOUND', { sku });
    const before = toGoods(cur.rows[0]);
    if (patch.categoryId !== undefined && patch.categoryId !== before.categoryId) await requireCategory(trx, patch.categoryId, 'body.categoryId');
    const next = {
      nameZh: patch.nameZh ?? before.nameZh,
      nameEn: patch.nameEn ?? before.nameEn,
      unitPrice: patch.unitPrice ?? before.unitPrice,
      active: patch.active ?? before.active,
      categoryId: patch.categoryId ?? before.categoryId,
    };
    const changed = (Object.keys(next) as Array<keyof typeof next>).filter((k) => next[k] !== before[k]);
    if (changed.length === 0) return before;
    const r = await sql<GoodsRow>`update goods set name_zh = ${next.nameZh}, name_en = ${next.nameEn}, unit_price = ${next.unitPrice},
      active = ${next.active}, category_id = ${next.categoryId}, updated_at = now() where sku = ${sku} returning *`.execute(trx);
    await audit(trx, actor, {
      action: 'goods.update',
      targetType: 'goods',
      targetId: sku,
      details: { before: Object.fromEntries(changed.map((k) => [k, before[k]])), after: Object.fromEntries(changed.map((k) => [k, next[k]])) },
    });
    return toGoods(r.rows[0]!);
  });
}

export interface PosCatalogue {
  categories: Array<{ id: number; code: string; nameZh: string; nameEn: string }>;
  items: Array<{ sku: string; categoryId: number; nameZh: string; nameEn: string; unitPrice: number }>;
}

/** What a terminal sells in the store: the active goods and the categories that have some. */
export async function posCatalogue(db: Executor): Promise<PosCatalogue> {
  const items = await sql<{ sku: string; category_id: number; name_zh: string; name_en: string; unit_price: number }>`
    select sku, category_id, name_zh, name_en, unit_price from goods where active order by category_id, name_zh, sku limit ${MAX_CATALOGUE_ITEMS}`.execute(db);
  const used = [...new Set(items.rows.map((g) => g.category_id))];
  const cats = await sql<{ id: number; code: string; name_zh: string; name_en: string }>`
    select id, code, name_zh, name_en from goods_categories where id = any(${used}::bigint[]) order by code`.execute(db);
  return {
    categories: cats.rows.map((c) => ({ id: c.id, code: c.code, nameZh: c.name_zh, nameEn: c.name_en })),
    items: items.rows.map((g) => ({ sku: g.sku, categoryId: g.category_id, nameZh: g.name_zh, nameEn: g.name_en, unitPrice: g.unit_price })),
  };
}
