import { Type } from 'typebox';
import type { App, Config, Db, FieldCipher } from '../platform/index.js';
import { access, actorOf, FreeText, Id, StaffGroups } from '../platform/index.js';
import { createStation, getStation, listStations, listTerminals, registerTerminal, setTerminalStatus } from './stations.service.js';
import { forgetTerminal } from './terminal-auth.js';
import { offlineRoutes } from './offline.routes.js';
import { forecourtRoutes } from './forecourt.routes.js';

const StationSchema = Type.Object({
  id: Type.Integer(),
  code: Type.String(),
  name: Type.String(),
  address: Type.String(),
  lat: Type.Number(),
  lng: Type.Number(),
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
            name: FreeText({ minLength: 1, maxLength: 100 }),
            address: FreeText({ minLength: 1, maxLength: 300 }),
            lat: Type.Number({ minimum: -90, maximum: 90 }),
            lng: Type.Number({ minimum: -180, maximum: 180 }),
          },
          { additionalProperties: false },
        ),
        response: { 201: StationSchema },
      },
    },
    async (req, reply) => reply.status(201).send(await createStation(deps.db, actorOf(req), req.body)),
  );

  app.get(
    '/api/v1/stations',
    {
      config: { access: access.roles(...StaffGroups.readers) },
      schema: {
        tags: ['stations'],
        summary: 'List stations / 油站列表',
        security: bearer,
        querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })), offset: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })) }),
        response: { 200: Type.Object({ items: Type.Array(StationSchema), total: Type.Integer() }) },
      },
    },
    async (req) => listStations(deps.db, { limit: req.query.limit ?? 50, offset: req.query.offset ?? 0 }),
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
