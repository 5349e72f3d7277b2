import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signTerminalRequest, startTestServer, type TestServer } from '../../test/support/server.js';
import { expectError, newStation, ok, uniq, type TestTerminal } from '../../test/support/cards-factory.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => server?.close());

const postCategory = (body: unknown, role: 'operator' | 'finance' = 'operator') => server.api('POST', '/api/v1/goods-categories', { role, body });
const postGoods = (body: Record<string, unknown>) => server.api('POST', '/api/v1/goods', { role: 'operator', body });
const patchGoods = (sku: string, body: unknown) => server.api('PATCH', `/api/v1/goods/${sku}`, { role: 'operator', body });
async function catalogue(terminal: TestTerminal, ifNoneMatch?: string) {
  const path = '/api/v1/pos/goods';
  const headers: Record<string, string> = signTerminalRequest(terminal, 'GET', path, '');
  delete headers['content-type'];
  if (ifNoneMatch) headers['if-none-match'] = ifNoneMatch;
  const res = await fetch(server.baseUrl + path, { headers });
  return { status: res.status, etag: res.headers.get('etag'), body: res.status === 200 ? ((await res.json()) as any) : await res.text() };
}

describe('store goods and categories', () => {
  it('adds categories and goods, lists and filters them, edits and deactivates, and audits every change', async () => {
    const drinks = ok(await postCategory({ code: 'DRINK', nameZh: '饮料', nameEn: 'Drinks' }), 201);
    expect(drinks).toEqual({ id: expect.any(Number), code: 'DRINK', nameZh: '饮料', nameEn: 'Drinks', goods: 0 });
    const car = ok(await postCategory({ code: 'CARCARE', nameZh: '汽车用品', nameEn: 'Car care' }), 201);
    expectError(await postCategory({ code: 'DRINK', nameZh: '重复', nameEn: 'Dup' }), 409, 'GOODS_CATEGORY_CODE_TAKEN');
    expectError(await postCategory({ code: 'X', nameZh: '无权', nameEn: 'No' }, 'finance'), 403, 'FORBIDDEN');

    const water = ok(await postGoods({ sku: 'DRK-0001', categoryId: drinks.id, nameZh: '饮用天然水 550ml', nameEn: 'Mineral water 550 ml', unitPrice: 200 }), 201);
    expect(water).toMatchObject({ sku: 'DRK-0001', categoryId: drinks.id, unitPrice: 200, active: true });
    ok(await postGoods({ sku: 'DRK-0002', categoryId: drinks.id, nameZh: '功能饮料 250ml', nameEn: 'Energy drink 250 ml', unitPrice: 600 }), 201);
    ok(await postGoods({ sku: 'CAR-0001', categoryId: car.id, nameZh: '防冻玻璃水 2L', nameEn: 'Screenwash 2 L', unitPrice: 2500 }), 201);
    expectError(await postGoods({ sku: 'DRK-0001', categoryId: drinks.id, nameZh: '重复', nameEn: 'Dup', unitPrice: 100 }), 409, 'GOODS_SKU_TAKEN');
    const noCategory = await postGoods({ sku: 'X-1', categoryId: 999_999, nameZh: '无分类', nameEn: 'No category', unitPrice: 100 });
    expectError(noCategory, 404, 'GOODS_CATEGORY_NOT_FOUND');
    expect(noCategory.body.error.details.field).toBe('body.categoryId');
    for (const [body, field] of [
      [{ sku: 'bad sku', categoryId: drinks.id, nameZh: 'a', nameEn: 'a', unitPrice: 1 }, 'body.sku'],
      [{ sku: 'OK-1', categoryId: drinks.id, nameZh: 'a', nameEn: 'a', unitPrice: 0 }, 'body.unitPrice'],
      [{ sku: 'OK-1', categoryId: drinks.id, nameZh: 'a', nameEn: 'a', unitPrice: 1.5 }, 'body.unitPrice'],
      [{ sku: 'OK-1', categoryId: drinks.id, nameZh: '', nameEn: 'a', unitPrice: 1 }, 'body.nameZh'],
      [{ sku: 'OK-1', categoryId: drinks.id, nameZh: 'a', unitPrice: 1 }, 'body.nameEn'],
    ] as const) {
      const r = await postGoods(body);
      expectError(r, 400, 'VALIDATION_FAILED');
      expect(r.body.error.details.field).toBe(field);
    }

    const cats = ok(await server.api('GET', '/api/v1/goods-categories', { role: 'station_staff' }), 200).items;
    expect(cats.map((c: any) => [c.code, c.goods])).toEqual([['CARCARE', 1], ['DRINK', 2]]);
    const inDrinks = ok(await server.api('GET', `/api/v1/goods?categoryId=${drinks.id}`, { role: 'finance' }), 200);
    expect(inDrinks.items.map((g: any) => g.sku)).toEqual(['DRK-0001', 'DRK-0002']);
    expect(ok(await server.api('GET', `/api/v1/goods?q=${encodeURIComponent('玻璃水')}`), 200).items.map((g: any) => g.sku)).toEqual(['CAR-0001']);
    // Pages by cursor.
    const page1 = ok(await server.api('GET', '/api/v1/goods?limit=2'), 200);
    expect(page1.items).toHaveLength(2);
    const page2 = ok(await server.api('GET', `/api/v1/goods?limit=2&cursor=${page1.nextCursor}`), 200);
    expect(page2).toMatchObject({ items: [{ sku: 'CAR-0001' }], nextCursor: null });
    expectError(await server.api('GET', '/api/v1/goods?cursor=garbage'), 400, 'VALIDATION_FAILED');

    const repriced = ok(await patchGoods('DRK-0001', { unitPrice: 250, nameEn: 'Mineral water 550ml' }), 200);
    expect(repriced).toMatchObject({ sku: 'DRK-0001', unitPrice: 250, nameEn: 'Mineral water 550ml', nameZh: water.nameZh });
    ok(await patchGoods('DRK-0002', { active: false, categoryId: car.id }), 200);
    expect(ok(await server.api('GET', '/api/v1/goods?active=false'), 200).items.map((g: any) => [g.sku, g.categoryId])).toEqual([['DRK-0002', car.id]]);
    expectError(await patchGoods('NOPE-1', { unitPrice: 1 }), 404, 'GOODS_NOT_FOUND');
    const badCat = await patchGoods('DRK-0001', { categoryId: 999_999 });
    expectError(badCat, 404, 'GOODS_CATEGORY_NOT_FOUND');
    expectError(await patchGoods('DRK-0001', {}), 400, 'VALIDATION_FAILED');
    expectError(await server.api('PATCH', '/api/v1/goods/DRK-0001', { role: 'station_staff', body: { unitPrice: 1 } }), 403, 'FORBIDDEN');

    const audit = await sql<{ action: string; target_id: string; details: any }>`select action, target_id, details from audit_log
      where target_type in ('goods', 'goods_category') order by id`.execute(server.db.db);
    expect(audit.rows.map((r) => r.action)).toEqual(['goods_category.create', 'goods_category.create', 'goods.create', 'goods.create', 'goods.create', 'goods.update', 'goods.update']);
    expect(audit.rows[5]).toMatchObject({ target_id: 'DRK-0001', details: { before: { unitPrice: 200, nameEn: 'Mineral water 550 ml' }, after: { unitPrice: 250, nameEn: 'Mineral water 550ml' } } });
  });

  it('gives the terminal the active catalogue with an ETag, 304 while unchanged, a new tag after a change', async () => {
    const { terminal } = await newStation(server);
    const cat = ok(await postCategory({ code: `SN${uniq().slice(-6)}`, nameZh: '零食', nameEn: 'Snacks' }), 201);
    const sku = `SNK-${uniq().slice(-8)}`;
    ok(await postGoods({ sku, categoryId: cat.id, nameZh: '夹心饼干 97g', nameEn: 'Sandwich cookies 97 g', unitPrice: 850 }), 201);

    const first = await catalogue(terminal);
    expect(first.status).toBe(200);
    expect(first.etag).toMatch(/^"[\w-]{27}"$/);
    expect(first.body.items).toContainEqual({ sku, categoryId: cat.id, nameZh: '夹心饼干 97g', nameEn: 'Sandwich cookies 97 g', unitPrice: 850 });
    expect(first.body.categories).toContainEqual({ id: cat.id, code: cat.code, nameZh: '零食', nameEn: 'Snacks' });
    // Only active goods, and only categories that have some.
    expect(first.body.items.every((g: any) => g.sku !== 'DRK-0002')).toBe(true);

    expect(await catalogue(terminal, first.etag!)).toMatchObject({ status: 304, etag: first.etag, body: '' });
    ok(await patchGoods(sku, { unitPrice: 900 }), 200);
    const changed = await catalogue(terminal, first.etag!);
    expect(changed.status).toBe(200);
    expect(changed.etag).not.toBe(first.etag);
    expect(changed.body.items.find((g: any) => g.sku === sku).unitPrice).toBe(900);
    ok(await patchGoods(sku, { active: false }), 200);
    const gone = await catalogue(terminal);
    expect(gone.body.items.find((g: any) => g.sku === sku)).toBeUndefined();
    expect(gone.body.categories.find((c: any) => c.id === cat.id)).toBeUndefined();

    const unsigned = await fetch(`${server.baseUrl}/api/v1/pos/goods`);
    expect(unsigned.status).toBe(401);
  });
});
