import type { Logger } from 'pino';
import { Type } from 'typebox';
import type { App, Config, Db, FieldCipher } from '../platform/index.js';
import { access, actorOf, FreeText, Id, StaffGroups } from '../platform/index.js';
import { createGoods, createGoodsCategory, listGoods, listGoodsCategories, posCatalogue, updateGoods } from './goods.service.js';
import { etagMatches, etagOf } from './etag.js';

const bearer = [{ bearer: [] }];
const Sku = Type.String({ pattern: '^[A-Za-z0-9_-]{1,32}$' });
const GoodsFields = {
  nameZh: FreeText({ minLength: 1, maxLength: 60 }),
  nameEn: FreeText({ minLength: 1, maxLength: 80 }),
  unitPrice: Type.Integer({ minimum: 1, maximum: 10_000_000, description: 'fen per unit' }),
};
const CategorySchema = Type.Object({ id: Type.Integer(), code: Type.String(), nameZh: Type.String(), nameEn: Type.String(), goods: Type.Integer() });
const GoodsSchema = Type.Object({
  id: Type.Integer(),
  sku: Type.String(),
  categoryId: Type.Integer(),
  nameZh: Type.String(),
  nameEn: Type.String(),
  unitPrice: Type.Integer(),
  active: Type.Boolean(),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});

/** Store goods and their categories (staff), and the terminal's catalogue download. */
export function goodsRoutes(app: App, deps: { db: Db; config: Config; cipher: FieldCipher; logger: Logger }): void {
  app.get(
    '/api/v1/goods-categories',
    {
      config: { access: access.roles(...StaffGroups.readers) },
      schema: { tags: ['goods'], summary: 'Goods categories / 商品分类', security: bearer, response: { 200: Type.Object({ items: Type.Array(CategorySchema) }) } },
    },
    async () => ({ items: await listGoodsCategories(deps.db) }),
  );

  app.post(
    '/api/v1/goods-categories',
    {
      config: { access: access.roles('admin', 'operator') },
      schema: {
        tags: ['goods'],
        summary: 'Add a goods category / 新增商品分类',
        security: bearer,
        body: Type.Object(
          { code: Type.String({ pattern: '^[A-Za-z0-9_-]{1,20}$' }), nameZh: FreeText({ minLength: 1, maxLength: 40 }), nameEn: FreeText({ minLength: 1, maxLength: 60 }) },
          { additionalProperties: false },
        ),
        response: { 201: CategorySchema },
      },
    },
    async (req, reply) => reply.status(201).send(await createGoodsCategory(deps.db, actorOf(req), req.body)),
  );

  app.get(
    '/api/v1/goods',
    {
      config: { access: access.roles(...StaffGroups.readers) },
      schema: {
        tags: ['goods'],
        summary: 'Store goods / 便利店商品',
        security: bearer,
        querystring: Type.Object(
          {
            categoryId: Type.Optional(Id()),
            q: Type.Optional(FreeText({ minLength: 1, maxLength: 60, description: 'part of the SKU or a name' })),
            active: Type.Optional(Type.Boolean()),
            cursor: Type.Optional(Type.String({ maxLength: 40 })),
            limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(GoodsSchema), nextCursor: Type.Union([Type.String(), Type.Null()]) }) },
      },
    },
    async (req) => listGoods(deps.db, req.query),
  );

  app.post(
    '/api/v1/goods',
    {
      config: { access: access.roles('admin', 'operator') },
      schema: {
        tags: ['goods'],
        summary: 'Add a product / 新增商品',
        description: '409 GOODS_SKU_TAKEN when the SKU exists; 404 GOODS_CATEGORY_NOT_FOUND (field body.categoryId). Audited as goods.create.',
        security: bearer,
        body: Type.Object({ sku: Sku, categoryId: Id(), ...GoodsFields }, { additionalProperties: false }),
        response: { 201: GoodsSchema },
      },
    },
    async (req, reply) => reply.status(201).send(await createGoods(deps.db, actorOf(req), req.body)),
  );

  app.patch(
    '/api/v1/goods/:sku',
    {
      config: { access: access.roles('admin', 'operator') },
      schema: {
        tags: ['goods'],
        summary: 'Edit a product: names, price, category, active / 修改商品（含调价、下架）',
        description: 'Audited as goods.update with the changed fields before and after. A product is never deleted: deactivate it (sales keep its SKU).',
        security: bearer,
        params: Type.Object({ sku: Sku }),
        body: Type.Object(
          {
            nameZh: Type.Optional(GoodsFields.nameZh),
            nameEn: Type.Optional(GoodsFields.nameEn),
            unitPrice: Type.Optional(GoodsFields.unitPrice),
            active: Type.Optional(Type.Boolean()),
            categoryId: Type.Optional(Id()),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: GoodsSchema },
      },
    },
    async (req) => updateGoods(deps.db, actorOf(req), req.params.sku, req.body),
  );

  app.get(
    '/api/v1/pos/goods',
    {
      config: { access: access.terminal },
      schema: {
        tags: ['pos'],
        summary: 'The store catalogue for the terminal (signed) / 终端下载商品目录',
        description:
          'Active goods (up to 5,000) and their categories. ETag: send it back as If-None-Match; 304 while the catalogue is unchanged. ' +
          'The sale path prices goods from the catalogue, not from the terminal’s copy.',
        security: [{ terminal: [] }],
        response: {
          304: Type.Null({ description: 'Not modified' }),
          200: Type.Object({
            categories: Type.Array(Type.Object({ id: Type.Integer(), code: Type.String(), nameZh: Type.String(), nameEn: Type.String() })),
            items: Type.Array(Type.Object({ sku: Type.String(), categoryId: Type.Integer(), nameZh: Type.String(), nameEn: Type.String(), unitPrice: Type.Integer() })),
          }),
        },
      },
    },
    async (req, reply) => {
      const body = await posCatalogue(deps.db);
      const etag = etagOf(body);
      void reply.header('etag', etag).header('cache-control', 'no-cache');
      if (etagMatches(req.headers['if-none-match'], etag)) return reply.code(304).send(null);
      return body;
    },
  );
}
