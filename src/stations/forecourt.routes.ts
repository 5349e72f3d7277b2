import { Type } from 'typebox';
import type { App, Config, Db } from '../platform/index.js';
import { access, actorOf, GradeCode, Id, StaffGroups } from '../platform/index.js';
import { forecourtFor, getNozzles, listGrades, MAX_NOZZLES, pricesInForce, setNozzles, setPrice } from './forecourt.service.js';

const GradeSchema = Type.Object({
  code: Type.String(),
  nameZh: Type.String(),
  nameEn: Type.String(),
  kind: Type.Union([Type.Literal('petrol'), Type.Literal('diesel')]),
});
const PriceSchema = Type.Object({
  grade: Type.String(),
  unitPrice: Type.Integer({ description: 'fen per litre' }),
  effectiveFrom: Type.String(),
  stationId: Type.Union([Type.Integer(), Type.Null()], { description: 'null: the national price' }),
});
const NozzleSchema = Type.Object({ nozzle: Type.Integer({ minimum: 1, maximum: 99 }), grade: GradeCode() }, { additionalProperties: false });
const NozzleList = Type.Object({ items: Type.Array(NozzleSchema) });
const IdParams = Type.Object({ id: Id() });
const bearer = [{ bearer: [] }];

export function forecourtRoutes(app: App, deps: { db: Db; config: Config }): void {
  app.get(
    '/api/v1/grades',
    {
      config: { access: access.roles(...StaffGroups.readers) },
      schema: { tags: ['forecourt'], summary: 'Fuel grades / 油品', security: bearer, response: { 200: Type.Object({ items: Type.Array(GradeSchema) }) } },
    },
    async () => ({ items: await listGrades(deps.db) }),
  );

  app.get(
    '/api/v1/prices',
    {
      config: { access: access.roles(...StaffGroups.readers) },
      schema: {
        tags: ['forecourt'],
        summary: 'Prices in force now / 当前油价',
        description:
          'Without stationId: every national price in force (stationId null) and every station’s own price in force. ' +
          'With stationId: one price per grade for that station — its own if it has one, else the national one.',
        security: bearer,
        querystring: Type.Object({ stationId: Type.Optional(Id()) }),
        response: { 200: Type.Object({ items: Type.Array(PriceSchema) }) },
      },
    },
    async (req) => ({ items: await pricesInForce(deps.db, req.query.stationId) }),
  );

  app.post(
    '/api/v1/prices',
    {
      config: { access: access.roles('admin', 'operator') },
      schema: {
        tags: ['forecourt'],
        summary: 'Set a price, national or for one station, in force at once / 调价（立即生效）',
        description: 'The previous price is kept as history. A station’s own price takes precedence over the national one.',
        security: bearer,
        body: Type.Object(
          {
            grade: GradeCode(),
            unitPrice: Type.Integer({ minimum: 1, maximum: 99_999, description: 'fen per litre' }),
            stationId: Type.Optional(Type.Union([Id(), Type.Null()])),
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
        description: 'unitPrice is null for a nozzle whose grade has no price yet: it cannot sell.',
        security: [{ terminal: [] }],
        response: {
          200: Type.Object({
            terminalId: Type.String(),
            station: Type.Object({ id: Type.Integer(), name: Type.String() }),
            businessDay: Type.String(),
            nozzles: Type.Array(
              Type.Object({
                nozzle: Type.Integer(),
                grade: Type.String(),
                gradeName: Type.String(),
                gradeNameEn: Type.String(),
                unitPrice: Type.Union([Type.Integer(), Type.Null()]),
              }),
            ),
          }),
        },
      },
    },
    async (req) => forecourtFor(deps.db, deps.config.timeZone, req.terminal!),
  );
}
