import { Type } from 'typebox';
import type { App, Config, Db } from '../platform/index.js';
import { access, actorOf, FreeText, Id, ROLES } from '../platform/index.js';
import { createStaff, listStaff, login, logout } from './staff.service.js';
import { resetStaffPassword, updateStaff } from './staff.manage.js';

const StaffUserSchema = Type.Object({
  id: Type.Integer(),
  username: Type.String(),
  displayName: Type.String(),
  role: Type.String(),
  stationId: Type.Union([Type.Integer(), Type.Null()]),
  status: Type.String(),
  createdAt: Type.String(),
});

export function staffRoutes(app: App, deps: { db: Db; config: Config }): void {
  app.post(
    '/api/v1/auth/login',
    {
      config: { access: access.public },
      schema: {
        tags: ['auth'],
        summary: 'Staff login / 员工登录',
        body: Type.Object(
          { username: FreeText({ minLength: 1, maxLength: 64 }), password: Type.String({ minLength: 1, maxLength: 200 }) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            token: Type.String(),
            expiresAt: Type.String(),
            user: Type.Object({ id: Type.Integer(), username: Type.String(), role: Type.String(), stationId: Type.Union([Type.Integer(), Type.Null()]) }),
          }),
        },
      },
    },
    async (req) =>
      login(deps.db, {
        ...req.body,
        ip: req.ip,
        requestId: req.id,
        ttlMs: deps.config.sessionTtlMs,
        maxFailures: deps.config.loginMaxFailures,
        lockMs: deps.config.loginLockMs,
      }),
  );

  app.post(
    '/api/v1/auth/logout',
    {
      config: { access: access.roles(...ROLES) },
      schema: { tags: ['auth'], summary: 'End this session / 退出登录', security: [{ bearer: [] }], response: { 204: Type.Null() } },
    },
    async (req, reply) => {
      const token = req.headers.authorization?.slice(7).trim() ?? '';
      await logout(deps.db, actorOf(req), token);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/api/v1/auth/me',
    {
      config: { access: access.roles(...ROLES) },
      schema: { tags: ['auth'], summary: 'Who am I / 当前用户', security: [{ bearer: [] }] },
    },
    async (req) => req.staff,
  );

  app.get(
    '/api/v1/staff',
    {
      config: { access: access.roles('admin') },
      schema: { tags: ['staff'], summary: 'List staff users / 员工列表', security: [{ bearer: [] }], response: { 200: Type.Object({ items: Type.Array(StaffUserSchema) }) } },
    },
    async () => ({ items: await listStaff(deps.db) }),
  );

  app.post(
    '/api/v1/staff',
    {
      config: { access: access.roles('admin') },
      schema: {
        tags: ['staff'],
        summary: 'Create a staff user / 新增员工',
        security: [{ bearer: [] }],
        body: Type.Object(
          {
            username: Type.String({ pattern: '^[a-z0-9_.-]{3,32}$' }),
            password: Type.String({ minLength: 10, maxLength: 200 }),
            role: Type.Union(ROLES.map((r) => Type.Literal(r))),
            displayName: Type.Optional(FreeText({ minLength: 1, maxLength: 64 })),
            stationId: Type.Optional(Type.Union([Id(), Type.Null()])),
          },
          { additionalProperties: false },
        ),
        response: { 201: StaffUserSchema },
      },
    },
    async (req, reply) => reply.status(201).send(await createStaff(deps.db, actorOf(req), req.body)),
  );

  app.patch(
    '/api/v1/staff/:id',
    {
      config: { access: access.roles('admin') },
      schema: {
        tags: ['staff'],
        summary: 'Change a staff user: name, role, station, active or disabled / 修改员工（姓名、角色、油站、启用停用）',
        description:
          'Disabling ends the user’s sessions. You cannot disable yourself or change your own role (409 STAFF_SELF_CHANGE); ' +
          'the last active admin cannot be disabled or given another role (409 STAFF_LAST_ADMIN).',
        security: [{ bearer: [] }],
        params: Type.Object({ id: Id() }),
        body: Type.Object(
          {
            // Not blank, and no NUL.
            displayName: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$' })),
            role: Type.Optional(Type.Union(ROLES.map((r) => Type.Literal(r)))),
            stationId: Type.Optional(Type.Union([Id(), Type.Null()])),
            status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('disabled')])),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: StaffUserSchema },
      },
    },
    async (req) => updateStaff(deps.db, actorOf(req), req.params.id, req.body),
  );

  app.post(
    '/api/v1/staff/:id/password',
    {
      config: { access: access.roles('admin') },
      schema: {
        tags: ['staff'],
        summary: 'Set a staff user’s password; ends their sessions / 重置员工密码（该员工需重新登录）',
        security: [{ bearer: [] }],
        params: Type.Object({ id: Id() }),
        // Length is checked by the service, so a short password is STAFF_PASSWORD_WEAK.
        body: Type.Object({ password: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false }),
        response: { 204: Type.Null() },
      },
    },
    async (req, reply) => {
      await resetStaffPassword(deps.db, actorOf(req), req.params.id, req.body.password);
      return reply.status(204).send(null);
    },
  );
}
