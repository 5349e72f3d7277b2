import { Type } from 'typebox';
import type { App, Config, Db, FieldCipher } from '../platform/index.js';
import { access, actorOf, FreeText, Id, Nullable, StaffGroups } from '../platform/index.js';
import { createStation, getStation, listRegions, listStations, listTerminals, registerTerminal, setTerminalStatus, STATION_SERVICES, updateStation } from './stations.service.js';
import { MAX_OPENING_WINDOWS } from './opening-hours.js';
import { forgetTerminal } from './terminal-auth.js';
import { closeTerminalStream } from './price-stream.routes.js';
import { offlineRoutes } from './offline.routes.js';
import { forecourtRoutes } from './forecourt.routes.js';

const ServiceSchema = Type.Union(STATION_SERVICES.map((s) => Type.Literal(s)));
// The shape only; what the times mean (HH:MM, 24:00 as a close, day 1–7) is checked by
// openingHoursProblem, which names the field in 400 OPENING_HOURS_INVALID.
const OpeningHoursSchema = Type.Object(
  {
    always: Type.Boolean({ description: 'true: open 24 hours every day (weekly absent)' }),
    weekly: Type.Optional(
      Type.Array(
        Type.Object(
          {
            day: Type.Integer({ description: 'ISO weekday, 1 = Monday … 7 = Sunday' }),
            open: Type.String({ maxLength: 5, description: 'HH:MM local time (FUELCARD_TZ)' }),
            close: Type.String({ maxLength: 5, description: 'HH:MM, or 24:00; not after open = past midnight' }),
          },
          { additionalProperties: false },
        ),
        { maxItems: MAX_OPENING_WINDOWS },
      ),
    ),
  },
  { additionalProperties: false },
);
const Region = (description: string) => FreeText({ maxLength: 40, description });
const Phone = Type.String({ pattern: '^[0-9+() -]{3,30}$', description: 'the station’s public phone number' });
const ProfileFields = {
  name: FreeText({ minLength: 1, maxLength: 100 }),
  address: FreeText({ minLength: 1, maxLength: 300 }),
  lat: Type.Number({ minimum: -90, maximum: 90 }),
  lng: Type.Number({ minimum: -180, maximum: 180 }),
  province: Region('省 (the province’s price list applies)'),
  city: Region('市'),
  district: Region('区/县'),
  phone: Nullable(Phone),
  openingHours: OpeningHoursSchema,
  services: Type.Array(ServiceSchema, { maxItems: STATION_SERVICES.length * 2 }),
};
const StationSchema = Type.Object({
  id: Type.Integer(),
  code: Type.String(),
  name: Type.String(),
  address: Type.String(),
  lat: Type.Number(),
  lng: Type.Number(),
  province: Type.String(),
  city: Type.String(),
  district: Type.String(),
  phone: Nullable(Type.String()),
  openingHours: Type.Object({ always: Type.Boolean(), weekly: Type.Optional(Type.Array(Type.Object({ day: Type.Integer(), open: Type.String(), close: Type.String() }))) }),
  services: Type.Array(Type.String()),
  status: Type.String(),
  settlementAccountId: Type.Integer(),
  createdAt: Type.String(),
});
const TerminalSchema = Type.Object({
  terminalId: Type.String(),
  stationId: Type.Integer(),
  status: Type.String(),
  createdAt: Type.String(),
  lastSeenAt: Type.Union([Type.String(), Type.Null()]),
});
const IdParams = Type.Object({ id: Id() });
const bearer = [{ bearer: [] }];

export function stationsRoutes(app: App, deps: { db: Db; config: Config; cipher: FieldCipher }): void {
  app.post(
    '/api/v1/stations',
    {
      config: { access: access.roles('admin', 'operator') },
      schema: {
        tags: ['stations'],
        summary: 'Register a station / 新增油站',
        security: bearer,
        body: Type.Object(
          {
            code: Type.String({ pattern: '^[A-Za-z0-9_-]{2,20}$' }),
            name: ProfileFields.name,
            address: ProfileFields.address,
            lat: ProfileFields.lat,
            lng: ProfileFields.lng,
            province: Type.Optional(ProfileFields.province),
            city: Type.Optional(ProfileFields.city),
            district: Type.Optional(ProfileFields.district),
            phone: Type.Optional(ProfileFields.phone),
            openingHours: Type.Optional(ProfileFields.openingHours),
            services: Type.Optional(ProfileFields.services),
          },
          { additionalProperties: false },
        ),
        response: { 201: StationSchema },
      },
    },
    async (req, reply) => reply.status(201).send(await createStation(deps.db, actorOf(req), req.body as Parameters<typeof createStation>[2])),
  );

  app.patch(
    '/api/v1/stations/:id',
    {
      config: { access: access.roles('admin', 'operator') },
      schema: {
        tags: ['stations'],
        summary: 'Edit a station: region, address, coordinates, hours, services, status / 修改油站信息',
        description: 'Only the fields given change; audited as station.update with the changed fields before and after. A new province moves the station to that province’s price list at once.',
        security: bearer,
        params: IdParams,
        body: Type.Object(
          {
            name: Type.Optional(ProfileFields.name),
            address: Type.Optional(ProfileFields.address),
            lat: Type.Optional(ProfileFields.lat),
            lng: Type.Optional(ProfileFields.lng),
            province: Type.Optional(ProfileFields.province),
            city: Type.Optional(ProfileFields.city),
            district: Type.Optional(ProfileFields.district),
            phone: Type.Optional(ProfileFields.phone),
            openingHours: Type.Optional(ProfileFields.openingHours),
            services: Type.Optional(ProfileFields.services),
            status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('closed')])),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: StationSchema },
      },
    },
    async (req) => updateStation(deps.db, actorOf(req), req.params.id, req.body as Parameters<typeof updateStation>[3]),
  );

  app.get(
    '/api/v1/stations/regions',
    {
      config: { access: access.roles(...StaffGroups.readers) },
      schema: {
        tags: ['stations'],
        summary: 'Provinces and cities with stations / 油站所在省市',
        security: bearer,
        response: {
          200: Type.Object({
            items: Type.Array(
              Type.Object({ province: Type.String(), stations: Type.Integer(), cities: Type.Array(Type.Object({ city: Type.String(), stations: Type.Integer() })) }),
            ),
          }),
        },
      },
    },
    async () => ({ items: await listRegions(deps.db) }),
  );

  app.get(
    '/api/v1/stations',
    {
      config: { access: access.roles(...StaffGroups.readers) },
      schema: {
        tags: ['stations'],
        summary: 'List stations / 油站列表',
        security: bearer,
        querystring: Type.Object(
          {
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })),
            offset: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
            province: Type.Optional(FreeText({ minLength: 1, maxLength: 40 })),
            city: Type.Optional(FreeText({ minLength: 1, maxLength: 40 })),
            status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('closed')])),
            q: Type.Optional(FreeText({ minLength: 1, maxLength: 100, description: 'part of the code, name or address' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(StationSchema), total: Type.Integer() }) },
      },
    },
    async (req) => listStations(deps.db, { ...req.query, limit: req.query.limit ?? 50, offset: req.query.offset ?? 0 }),
  );

  app.get(
    '/api/v1/stations/:id',
    {
      config: { access: access.roles(...StaffGroups.readers) },
      schema: { tags: ['stations'], summary: 'One station / 油站详情', security: bearer, params: IdParams, response: { 200: StationSchema } },
    },
    async (req) => getStation(deps.db, req.params.id),
  );

  app.post(
    '/api/v1/stations/:id/terminals',
    {
      config: { access: access.roles('admin', 'operator') },
      schema: {
        tags: ['stations'],
        summary: 'Register a terminal; the secret is shown once / 注册终端（密钥仅显示一次）',
        security: bearer,
        params: IdParams,
        response: { 201: Type.Object({ ...TerminalSchema.properties, secret: Type.String() }) },
      },
    },
    async (req, reply) => reply.status(201).send(await registerTerminal(deps.db, deps.cipher, actorOf(req), req.params.id)),
  );

  app.get(
    '/api/v1/stations/:id/terminals',
    {
      config: { access: access.roles(...StaffGroups.readers) },
      schema: { tags: ['stations'], summary: "A station's terminals / 油站终端", security: bearer, params: IdParams, response: { 200: Type.Object({ items: Type.Array(TerminalSchema) }) } },
    },
    async (req) => ({ items: await listTerminals(deps.db, req.params.id) }),
  );

  for (const [action, status] of [['disable', 'disabled'], ['enable', 'active']] as const) {
    app.post(
      `/api/v1/terminals/:terminalId/${action}`,
      {
        config: { access: access.roles('admin', 'operator') },
        schema: {
          tags: ['stations'],
          summary: action === 'disable' ? 'Disable a terminal / 停用终端' : 'Enable a terminal / 启用终端',
          security: bearer,
          params: Type.Object({ terminalId: Type.String({ pattern: '^T[0-9]{8}$' }) }),
          response: { 204: Type.Null() },
        },
      },
      async (req, reply) => {
        await setTerminalStatus(deps.db, actorOf(req), req.params.terminalId, status);
        forgetTerminal(deps.db, req.params.terminalId);
        if (status === 'disabled') closeTerminalStream(deps.db, req.params.terminalId);
        return reply.status(204).send(null);
      },
    );
  }

  app.get(
    '/api/v1/pos/ping',
    {
      config: { access: access.terminal },
      schema: {
        tags: ['pos'],
        summary: 'Terminal signature and clock check / 终端连通性检查',
        security: [{ terminal: [] }],
        response: { 200: Type.Object({ terminalId: Type.String(), stationId: Type.Integer(), serverTime: Type.Integer() }) },
      },
    },
    async (req) => ({ terminalId: req.terminal!.id, stationId: req.terminal!.stationId, serverTime: Math.floor(Date.now() / 1000) }),
  );

  forecourtRoutes(app, deps);
  offlineRoutes(app, deps);
}
