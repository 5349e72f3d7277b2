import { Type } from 'typebox';
import type { Logger } from 'pino';
import type { App, Config, Db, FieldCipher } from '../platform/index.js';
import { access, GradeCode, Nullable } from '../platform/index.js';
import { STATION_SERVICES } from './stations.service.js';
import { ALONG_MAX_CORRIDOR_KM, ALONG_MAX_POINTS, FINDER_MAX_LIMIT, FINDER_MAX_RADIUS_KM, findAlong, findNearest } from './finder.service.js';

const Service = Type.Union(STATION_SERVICES.map((s) => Type.Literal(s)));
const Lat = Type.Number({ minimum: -90, maximum: 90 });
const Lng = Type.Number({ minimum: -180, maximum: 180 });
const Limit = Type.Integer({ minimum: 1, maximum: FINDER_MAX_LIMIT, default: 20 });

const StationItem = Type.Object({
  stationId: Type.Integer(),
  code: Type.String(),
  name: Type.String(),
  address: Type.String(),
  province: Type.String(),
  city: Type.String(),
  district: Type.String(),
  lat: Type.Number(),
  lng: Type.Number(),
  phone: Nullable(Type.String()),
  distanceM: Type.Integer({ description: 'metres: from the point (nearest), or from the route (along)' }),
  alongM: Type.Optional(Type.Integer({ description: 'along a route: metres from its start to the spot nearest the station' })),
  openNow: Type.Boolean(),
  openingHours: Type.Unknown({ description: '{always: true} or {always: false, weekly: [{day 1..7, open "HH:MM", close "HH:MM"}]}' }),
  services: Type.Array(Type.String()),
  grades: Type.Array(
    Type.Object({
      grade: Type.String(),
      nameZh: Type.String(),
      nameEn: Type.String(),
      unitPrice: Nullable(Type.Integer({ description: 'fen per litre, in force now' })),
      inStock: Nullable(Type.Boolean({ description: 'null: unknown (no tank of the grade gauged in the last 7 days); cached up to 60 s' })),
    }),
  ),
  promotions: Type.Array(Type.Object({ id: Type.Integer(), titleZh: Type.String(), titleEn: Type.String(), grade: Nullable(Type.String()), endsAt: Type.String() })),
});
const Answer = Type.Object({ items: Type.Array(StationItem) });

export function finderRoutes(app: App, deps: { db: Db; config: Config; cipher: FieldCipher; logger: Logger }): void {
  app.get(
    '/api/v1/finder/stations',
    {
      config: { access: access.public },
      schema: {
        tags: ['finder'],
        summary: 'Stations near a point (public) / 附近油站',
        description:
          'Active stations within radiusKm (default 10, at most 100) of lat/lng, nearest first, with distance, open now, grades with today’s price and stock, services and running promotions. ' +
          'grade: stations selling it and not known to be out of it; service: stations offering it; openNow=true: open now only.',
        querystring: Type.Object(
          {
            lat: Lat,
            lng: Lng,
            radiusKm: Type.Number({ exclusiveMinimum: 0, maximum: FINDER_MAX_RADIUS_KM, default: 10 }),
            grade: Type.Optional(GradeCode()),
            service: Type.Optional(Service),
            openNow: Type.Optional(Type.Boolean()),
            limit: Limit,
          },
          { additionalProperties: false },
        ),
        response: { 200: Answer },
      },
    },
    async (req) => ({ items: await findNearest(deps.db, deps.config.timeZone, req.query) }),
  );

  app.post(
    '/api/v1/finder/along',
    {
      config: { access: access.public },
      schema: {
        tags: ['finder'],
        summary: 'Stations along a route (public) / 沿途油站',
        description:
          'Active stations within corridorKm (default 2, at most 5) of the path (2–200 points, at most 3 000 km), in the order the route reaches them; ' +
          'distanceM is the distance from the route, alongM how far along it.',
        body: Type.Object(
          {
            path: Type.Array(Type.Object({ lat: Lat, lng: Lng }, { additionalProperties: false }), { minItems: 2, maxItems: ALONG_MAX_POINTS }),
            corridorKm: Type.Number({ exclusiveMinimum: 0, maximum: ALONG_MAX_CORRIDOR_KM, default: 2 }),
            grade: Type.Optional(GradeCode()),
            service: Type.Optional(Service),
            openNow: Type.Optional(Type.Boolean()),
            limit: Limit,
          },
          { additionalProperties: false },
        ),
        response: { 200: Answer },
      },
    },
    async (req) => ({ items: await findAlong(deps.db, deps.config.timeZone, req.body) }),
  );
}
