import { Type } from 'typebox';
import type { Logger } from 'pino';
import type { App, Config, Db, FieldCipher } from '../platform/index.js';
import { access, actorOf, FreeText, GradeCode, Id, Nullable, parseTimeFilter, StaffGroups } from '../platform/index.js';
import { listDeliveries, listTanks, MAX_TANKS, recordDelivery, setTanks, stationStock, stockAcrossStations } from './stock.service.js';
import { listReadings, MAX_READINGS, recordReadings } from './stock.readings.js';
import { listStockAlerts, resolveStockAlert } from './stock.alerts.js';

/** 200 000 L: larger than any forecourt tank (typically 20–60 m³), small enough to catch a unit mistake. */
const MAX_TANK_ML = 200_000_000;

const TankNo = Type.Integer({ minimum: 1, maximum: 99 });
const TankSchema = Type.Object(
  {
    tank: TankNo,
    grade: GradeCode(),
    capacityMl: Type.Integer({ minimum: 1, maximum: MAX_TANK_ML }),
    lowLevelMl: Type.Integer({ minimum: 0, maximum: MAX_TANK_ML, description: 'a reading (or book stock) below this is low stock' }),
  },
  { additionalProperties: false },
);
const ReadingSchema = Type.Object({ readingId: Type.Integer(), volumeMl: Type.Integer(), waterMl: Type.Integer(), temperatureDc: Nullable(Type.Integer()), readAt: Type.String() });
const TankStockSchema = Type.Object({
  tank: Type.Integer(),
  grade: Type.String(),
  capacityMl: Type.Integer(),
  lowLevelMl: Type.Integer(),
  lastReading: Nullable(ReadingSchema),
  deliveriesSinceMl: Type.Integer(),
  salesSinceMl: Type.Integer(),
  bookStockMl: Nullable(Type.Integer({ description: 'last reading + deliveries since − sales since; null before the first reading' })),
  low: Type.Boolean(),
});
const StationTankStockSchema = Type.Object({ stationId: Type.Integer(), stationCode: Type.String(), stationName: Type.String(), ...TankStockSchema.properties });
const AlertSchema = Type.Object({
  alertId: Type.Integer(),
  stationId: Type.Integer(),
  tank: Nullable(Type.Integer()),
  grade: Type.String(),
  kind: Type.Union([Type.Literal('low_stock'), Type.Literal('variance')]),
  status: Type.Union([Type.Literal('open'), Type.Literal('resolved')]),
  details: Type.Record(Type.String(), Type.Unknown()),
  createdAt: Type.String(),
  updatedAt: Type.String(),
  resolvedAt: Nullable(Type.String()),
  resolvedBy: Nullable(Type.String()),
  resolutionNote: Nullable(Type.String()),
});
const ReadingsBody = Type.Object(
  {
    readings: Type.Array(
      Type.Object(
        {
          tank: TankNo,
          volumeMl: Type.Integer({ minimum: 0, maximum: MAX_TANK_ML }),
          waterMl: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_TANK_ML })),
          temperatureDc: Type.Optional(Type.Integer({ minimum: -600, maximum: 900, description: 'tenths of a degree Celsius' })),
          readAt: Type.String({ maxLength: 64, description: 'ISO 8601, when the gauge read it' }),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: MAX_READINGS },
    ),
  },
  { additionalProperties: false },
);
const ReadingsAnswer = Type.Object({
  accepted: Type.Integer(),
  duplicates: Type.Integer({ description: 'readings already recorded (same tank and readAt): nothing recorded twice' }),
  alerts: Type.Array(Type.Object({ ...AlertSchema.properties, isNew: Type.Boolean({ description: 'false: an open alert of this kind was refreshed' }) })),
});
const DeliverySchema = Type.Object({
  deliveryId: Type.Integer(),
  stationId: Type.Integer(),
  tank: Type.Integer(),
  grade: Type.String(),
  volumeMl: Type.Integer(),
  deliveredAt: Type.String(),
  reference: Nullable(Type.String()),
  createdBy: Type.String(),
  createdAt: Type.String(),
});
const IdParams = Type.Object({ id: Id() });
const Cursor = Type.Optional(Type.String({ maxLength: 200 }));
const Limit = Type.Integer({ minimum: 1, maximum: 200, default: 50 });
const bearer = [{ bearer: [] }];
const stockWriters = access.roles('admin', 'operator', 'station_staff');

export function stockRoutes(app: App, deps: { db: Db; config: Config; cipher: FieldCipher; logger: Logger }): void {
  app.get(
    '/api/v1/stations/:id/tanks',
    {
      config: { access: access.roles(...StaffGroups.readers) },
      schema: { tags: ['stock'], summary: "A station's tanks / 油站油罐", security: bearer, params: IdParams, response: { 200: Type.Object({ items: Type.Array(TankSchema) }) } },
    },
    async (req) => ({ items: await listTanks(deps.db, req.params.id) }),
  );

  app.put(
    '/api/v1/stations/:id/tanks',
    {
      config: { access: access.roles('admin', 'operator') },
      schema: {
        tags: ['stock'],
        summary: "Replace a station's tank list / 设置油站油罐",
        description: 'A tank left out is removed, unless it has readings or deliveries (409 TANK_IN_USE). Audited as station.tanks_set.',
        security: bearer,
        params: IdParams,
        body: Type.Object({ items: Type.Array(TankSchema, { maxItems: MAX_TANKS }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ items: Type.Array(TankSchema) }) },
      },
    },
    async (req) => ({ items: await setTanks(deps.db, actorOf(req), req.params.id, req.body.items) }),
  );

  app.post(
    '/api/v1/pos/tank-readings',
    {
      config: { access: access.terminal },
      schema: {
        tags: ['pos'],
        summary: "Upload tank gauge readings of the terminal's station (signed) / 上传液位仪读数",
        description:
          'Idempotent by station, tank and readAt: a reading already recorded counts as a duplicate and raises nothing again. ' +
          'Each new reading may raise a low_stock alert (below the tank’s low level) and a variance alert (off from the book stock beyond tolerance).',
        security: [{ terminal: [] }],
        body: ReadingsBody,
        response: { 200: ReadingsAnswer },
      },
    },
    async (req) => recordReadings(deps.db, deps.config, actorOf(req), req.terminal!.stationId, req.body.readings),
  );

  app.post(
    '/api/v1/stations/:id/tank-readings',
    {
      config: { access: stockWriters },
      schema: {
        tags: ['stock'],
        summary: 'Record a manual dip (staff) / 录入人工量油',
        description: 'The same body and rules as the terminal upload; audited as stock.manual_dip.',
        security: bearer,
        params: IdParams,
        body: ReadingsBody,
        response: { 200: ReadingsAnswer },
      },
    },
    async (req) => recordReadings(deps.db, deps.config, actorOf(req), req.params.id, req.body.readings),
  );

  app.get(
    '/api/v1/stations/:id/tank-readings',
    {
      config: { access: access.roles(...StaffGroups.readers) },
      schema: {
        tags: ['stock'],
        summary: "A station's tank readings, newest first / 液位读数记录",
        security: bearer,
        params: IdParams,
        querystring: Type.Object({ tank: Type.Optional(TankNo), cursor: Cursor, limit: Limit }, { additionalProperties: false }),
        response: {
          200: Type.Object({
            items: Type.Array(Type.Object({ ...ReadingSchema.properties, tank: Type.Integer(), grade: Type.String(), receivedAt: Type.String() })),
            nextCursor: Nullable(Type.String()),
          }),
        },
      },
    },
    async (req) => listReadings(deps.db, req.params.id, req.query),
  );

  app.post(
    '/api/v1/stations/:id/deliveries',
    {
      config: { access: stockWriters },
      schema: {
        tags: ['stock'],
        summary: 'Record a fuel delivery into a tank / 登记进油',
        description:
          'reference is the delivery note (提货单) number: recorded once per station (409 DELIVERY_REFERENCE_TAKEN). ' +
          'Idempotency-Key (optional, recommended without a reference): a retry with the same key answers the first delivery (same 201 body) instead of recording it twice. Audited as stock.delivery.',
        security: bearer,
        params: IdParams,
        headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ maxLength: 128 })) }),
        body: Type.Object(
          {
            tank: TankNo,
            volumeMl: Type.Integer({ minimum: 1, maximum: MAX_TANK_ML }),
            deliveredAt: Type.String({ maxLength: 64, description: 'ISO 8601' }),
            reference: Type.Optional(FreeText({ minLength: 1, maxLength: 60 })),
          },
          { additionalProperties: false },
        ),
        response: { 201: DeliverySchema },
      },
    },
    async (req, reply) => {
      const deliveredAt = parseTimeFilter(req.body.deliveredAt, 'body.deliveredAt');
      const out = await recordDelivery(deps.db, actorOf(req), req.params.id, { ...req.body, deliveredAt }, deps.config.terminalClockSkewMs, req.headers['idempotency-key']);
      return reply.status(201).send(out.delivery);
    },
  );

  app.get(
    '/api/v1/stations/:id/deliveries',
    {
      config: { access: access.roles(...StaffGroups.readers) },
      schema: {
        tags: ['stock'],
        summary: "A station's fuel deliveries, newest first / 进油记录",
        security: bearer,
        params: IdParams,
        querystring: Type.Object({ tank: Type.Optional(TankNo), cursor: Cursor, limit: Limit }, { additionalProperties: false }),
        response: { 200: Type.Object({ items: Type.Array(DeliverySchema), nextCursor: Nullable(Type.String()) }) },
      },
    },
    async (req) => listDeliveries(deps.db, req.params.id, req.query),
  );

  app.get(
    '/api/v1/stations/:id/stock',
    {
      config: { access: access.roles(...StaffGroups.readers) },
      schema: {
        tags: ['stock'],
        summary: "Book stock of a station's tanks / 油站库存",
        description: 'bookStockMl = last reading + deliveries since − fuel of the grade sold since (approved sales; reversed and voided ones excluded).',
        security: bearer,
        params: IdParams,
        response: { 200: Type.Object({ items: Type.Array(TankStockSchema) }) },
      },
    },
    async (req) => ({ items: await stationStock(deps.db, req.params.id) }),
  );

  app.get(
    '/api/v1/stock',
    {
      config: { access: access.roles(...StaffGroups.readers) },
      schema: {
        tags: ['stock'],
        summary: 'Tanks across active stations / 全网库存',
        description: 'In station and tank order, keyset paged (nextCursor). lowOnly=true keeps tanks whose book stock is below their low level.',
        security: bearer,
        querystring: Type.Object(
          { lowOnly: Type.Boolean({ default: false }), stationId: Type.Optional(Id()), cursor: Cursor, limit: Limit },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(StationTankStockSchema), nextCursor: Nullable(Type.String()) }) },
      },
    },
    async (req) => stockAcrossStations(deps.db, req.query),
  );

  app.get(
    '/api/v1/stock-alerts',
    {
      config: { access: access.roles(...StaffGroups.readers) },
      schema: {
        tags: ['stock'],
        summary: 'Stock alerts, newest first / 库存告警',
        security: bearer,
        querystring: Type.Object(
          {
            status: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('resolved')])),
            stationId: Type.Optional(Id()),
            cursor: Cursor,
            limit: Limit,
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(AlertSchema), nextCursor: Nullable(Type.String()) }) },
      },
    },
    async (req) => listStockAlerts(deps.db, req.query),
  );

  app.post(
    '/api/v1/stock-alerts/:id/resolve',
    {
      config: { access: access.roles('admin', 'operator') },
      schema: {
        tags: ['stock'],
        summary: 'Resolve a stock alert with a note / 处理库存告警',
        description: 'The next occurrence of the condition opens a new alert. Audited as stock.alert_resolved.',
        security: bearer,
        params: IdParams,
        body: Type.Object({ note: FreeText({ minLength: 1, maxLength: 500 }) }, { additionalProperties: false }),
        response: { 200: AlertSchema },
      },
    },
    async (req) => resolveStockAlert(deps.db, actorOf(req), req.params.id, req.body.note),
  );
}
