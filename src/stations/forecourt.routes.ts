import { Type } from 'typebox';
import type { App, Config, Db } from '../platform/index.js';
import { access, actorOf, FreeText, GradeCode, Id, Nullable, StaffGroups } from '../platform/index.js';
import { cancelPrice, forecourtFor, getNozzles, MAX_NOZZLES, nextPrices, priceHistory, pricesInForce, setNozzles, setPrice, type PriceTarget } from './forecourt.service.js';
import { etagMatches, etagOf } from './etag.js';
import { stationsError } from './stations.errors.js';
import { gradeRoutes, pumpRoutes } from './network.routes.js';

const PriceSchema = Type.Object({
  id: Type.Integer({ description: 'the price row; DELETE /api/v1/prices/{id} cancels a scheduled one' }),
  grade: Type.String(),
  unitPrice: Type.Integer({ description: 'fen per litre' }),
  effectiveFrom: Type.String(),
  stationId: Nullable(Type.Integer({ description: 'the station whose own price this is' })),
  province: Nullable(Type.String({ description: 'the province whose price this is' })),
  scope: Type.Union([Type.Literal('national'), Type.Literal('province'), Type.Literal('station')]),
});
const NozzleSchema = Type.Object(
  { nozzle: Type.Integer({ minimum: 1, maximum: 99 }), grade: GradeCode(), pump: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 99, description: 'one of the station’s pumps' }))) },
  { additionalProperties: false },
);
const NozzleList = Type.Object({ items: Type.Array(Type.Object({ nozzle: Type.Integer(), grade: Type.String(), pump: Nullable(Type.Integer()) })) });
const IdParams = Type.Object({ id: Id() });
const bearer = [{ bearer: [] }];
const Province = FreeText({ minLength: 1, maxLength: 40 });

/** stationId or province from a query (the route refuses both). */
const targetOf = (q: { stationId?: number; province?: string }): PriceTarget => (q.stationId !== undefined ? q.stationId : q.province !== undefined ? { province: q.province } : undefined);

export function forecourtRoutes(app: App, deps: { db: Db; config: Config }): void {
  gradeRoutes(app, deps);
  pumpRoutes(app, deps);

  app.get(
    '/api/v1/prices',
    {
      config: { access: access.roles(...StaffGroups.readers) },
      schema: {
        tags: ['forecourt'],
        summary: 'Prices in force now / 当前油价',
        description:
          'Without a filter: every national, province and station price in force. ' +
          'With stationId: one price per grade for that station — its own, else its province’s, else the national one. ' +
          'With province: one per grade for that province’s stations without their own price. stationId and province are exclusive.',
        security: bearer,
        querystring: Type.Object({ stationId: Type.Optional(Id()), province: Type.Optional(Province) }, { additionalProperties: false }),
        response: { 200: Type.Object({ items: Type.Array(PriceSchema), next: Type.Array(PriceSchema, { description: 'the next scheduled price per grade (and scope), if any' }) }) },
      },
    },
    async (req) => {
      if (req.query.stationId !== undefined && req.query.province !== undefined) throw stationsError('PRICE_SCOPE_CONFLICT', { field: 'querystring.province' });
      const target = targetOf(req.query);
      const items = await pricesInForce(deps.db, target);
      return { items, next: await nextPrices(deps.db, target) };
    },
  );

  app.get(
    '/api/v1/prices/history',
    {
      config: { access: access.roles(...StaffGroups.readers) },
      schema: {
        tags: ['forecourt'],
        summary: 'Price history of a grade / 油价历史',
        description:
          'Newest effectiveFrom first: the national rows; with province that province’s too; with stationId its province’s and its own too. ' +
          'Each row says its scope. Cancelled scheduled prices are not listed (see the audit log).',
        security: bearer,
        querystring: Type.Object(
          { grade: GradeCode(), stationId: Type.Optional(Id()), province: Type.Optional(Province), limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            items: Type.Array(
              Type.Object({
                ...PriceSchema.properties,
                status: Type.Union([Type.Literal('scheduled'), Type.Literal('in_force'), Type.Literal('superseded')]),
                createdBy: Type.String(),
                createdAt: Type.String(),
              }),
            ),
          }),
        },
      },
    },
    async (req) => {
      if (req.query.stationId !== undefined && req.query.province !== undefined) throw stationsError('PRICE_SCOPE_CONFLICT', { field: 'querystring.province' });
      return { items: await priceHistory(deps.db, { grade: req.query.grade, target: targetOf(req.query), limit: req.query.limit }) };
    },
  );

  app.delete(
    '/api/v1/prices/:id',
    {
      config: { access: access.roles('admin', 'operator') },
      schema: {
        tags: ['forecourt'],
        summary: 'Cancel a scheduled price before it begins / 取消调价',
        description: '409 PRICE_ALREADY_EFFECTIVE once it is in force. Audited as price.cancelled.',
        security: bearer,
        params: IdParams,
        response: { 200: PriceSchema },
      },
    },
    async (req) => cancelPrice(deps.db, actorOf(req), req.params.id),
  );

  app.post(
    '/api/v1/prices',
    {
      config: { access: access.roles('admin', 'operator') },
      schema: {
        tags: ['forecourt'],
        summary: 'Set a price — national, for a province or for one station — at once or from a set time / 调价',
        description:
          'The previous price is kept as history. In force for a station: its own price, else its province’s, else the national one. ' +
          'stationId and province are exclusive (400 PRICE_SCOPE_CONFLICT). ' +
          'effectiveFrom (ISO 8601, at most a minute in the past) schedules the change; absent: in force at once.',
        security: bearer,
        body: Type.Object(
          {
            grade: GradeCode(),
            unitPrice: Type.Integer({ minimum: 1, maximum: 99_999, description: 'fen per litre' }),
            stationId: Type.Optional(Type.Union([Id(), Type.Null()])),
            province: Type.Optional(Nullable(Province)),
            effectiveFrom: Type.Optional(Type.String({ maxLength: 64, description: 'ISO 8601; absent: now' })),
          },
          { additionalProperties: false },
        ),
        response: { 201: PriceSchema },
      },
    },
    async (req, reply) => reply.status(201).send(await setPrice(deps.db, actorOf(req), req.body)),
  );

  app.get(
    '/api/v1/stations/:id/nozzles',
    {
      config: { access: access.roles(...StaffGroups.readers) },
      schema: { tags: ['forecourt'], summary: "A station's nozzles and their grades / 油站油枪", security: bearer, params: IdParams, response: { 200: NozzleList } },
    },
    async (req) => ({ items: await getNozzles(deps.db, req.params.id) }),
  );

  app.put(
    '/api/v1/stations/:id/nozzles',
    {
      config: { access: access.roles('admin', 'operator') },
      schema: {
        tags: ['forecourt'],
        summary: "Replace a station's nozzle list / 设置油站油枪",
        security: bearer,
        params: IdParams,
        body: Type.Object({ items: Type.Array(NozzleSchema, { maxItems: MAX_NOZZLES }) }, { additionalProperties: false }),
        response: { 200: NozzleList },
      },
    },
    async (req) => ({ items: await setNozzles(deps.db, actorOf(req), req.params.id, req.body.items) }),
  );

  app.get(
    '/api/v1/pos/forecourt',
    {
      config: { access: access.terminal },
      schema: {
        tags: ['pos'],
        summary: "The terminal's station, business day, nozzles and prices now (signed) / 终端获取油枪与油价",
        description:
          'unitPrice is null for a nozzle whose grade has no price yet: it cannot sell. nextUnitPrice/nextEffectiveFrom: the next scheduled change, or null. ' +
          'The answer carries an ETag; If-None-Match with it answers 304 while nothing changed (the request is still signed).',
        security: [{ terminal: [] }],
        response: {
          304: Type.Null({ description: 'Not modified: the If-None-Match tag is still current' }),
          200: Type.Object({
            terminalId: Type.String(),
            station: Type.Object({ id: Type.Integer(), name: Type.String() }),
            businessDay: Type.String(),
            nozzles: Type.Array(
              Type.Object({
                nozzle: Type.Integer(),
                pump: Nullable(Type.Integer()),
                grade: Type.String(),
                gradeName: Type.String(),
                gradeNameEn: Type.String(),
                unitPrice: Type.Union([Type.Integer(), Type.Null()]),
                nextUnitPrice: Type.Union([Type.Integer(), Type.Null()]),
                nextEffectiveFrom: Type.Union([Type.String(), Type.Null()]),
              }),
            ),
          }),
        },
      },
    },
    async (req, reply) => {
      const body = await forecourtFor(deps.db, deps.config.timeZone, req.terminal!);
      const etag = etagOf(body);
      void reply.header('etag', etag).header('cache-control', 'no-cache');
      if (etagMatches(req.headers['if-none-match'], etag)) return reply.code(304).send(null);
      return body;
    },
  );
}
