import { Type } from 'typebox';
import type { App, Config, Db, FieldCipher } from '../platform/index.js';
import { access, actorOf, FreeText, Id, ROLES, sha256Hex, StaffGroups } from '../platform/index.js';
import { createStaff, listStaff, loginWithTotp, logout, passwordLogin } from './staff.service.js';
import { resetStaffPassword, updateStaff } from './staff.manage.js';
import { adminTotpPolicy, mayManageRole } from './staff.policy.js';
import { staffError } from './staff.errors.js';
import { confirmTotp, enrolTotp, resetTotp, totpStatus } from './staff.totp.js';

const StaffUserSchema = Type.Object({
  id: Type.Integer(),
  username: Type.String(),
  displayName: Type.String(),
  role: Type.String(),
  stationId: Type.Union([Type.Integer(), Type.Null()]),
  customerId: Type.Union([Type.Integer(), Type.Null()]),
  status: Type.String(),
  createdAt: Type.String(),
});

const PrincipalSchema = Type.Object({
  id: Type.Integer(),
  username: Type.String(),
  role: Type.String(),
  stationId: Type.Union([Type.Integer(), Type.Null()]),
  customerId: Type.Union([Type.Integer(), Type.Null()]),
  sessionScope: Type.Union([Type.Literal('full'), Type.Literal('totp_enrolment')]),
});
const SessionSchema = Type.Object({
  token: Type.String(),
  expiresAt: Type.String(),
  user: PrincipalSchema,
  totpEnrolmentRequired: Type.Boolean({ description: 'the session may only enrol TOTP (every other route: 403 AUTH_TOTP_ENROLMENT_REQUIRED)' }),
});
const ChallengeSchema = Type.Object({
  totpRequired: Type.Literal(true),
  challenge: Type.String({ description: 'for POST /api/v1/auth/login/totp; single use, expires in 5 minutes' }),
  challengeExpiresAt: Type.String(),
});

const bearerToken = (authorization: string | undefined) => (authorization?.startsWith('Bearer ') ? authorization.slice(7).trim() : '');

export function staffRoutes(app: App, deps: { db: Db; config: Config; cipher: FieldCipher }): void {
  const adminTotp = adminTotpPolicy(deps.config);
  const limits = (req: { ip: string; id: string }) => ({
    ip: req.ip,
    requestId: req.id,
    ttlMs: deps.config.sessionTtlMs,
    maxFailures: deps.config.loginMaxFailures,
    lockMs: deps.config.loginLockMs,
  });

  // A session restricted to TOTP enrolment reaches only the routes that say they serve it. Added on
  // the root instance, after the platform's access check (which sets req.staff), so it applies to
  // every module's routes.
  app.addHook('preValidation', async (req) => {
    if (req.staff?.sessionScope !== 'totp_enrolment') return;
    const rule = req.routeOptions.config?.access;
    if (rule?.kind === 'staff' && rule.duringTotpEnrolment) return;
    throw staffError('AUTH_TOTP_ENROLMENT_REQUIRED');
  });

  app.post(
    '/api/v1/auth/login',
    {
      config: { access: access.public },
      schema: {
        tags: ['auth'],
        summary: 'Staff login / 员工登录',
        description:
          'With TOTP enabled the answer is a challenge ({totpRequired, challenge}) and no session: send it with a code to POST /api/v1/auth/login/totp. ' +
          'An administrator who must have TOTP and has none gets a session restricted to enrolling it (totpEnrolmentRequired). ' +
          'Wrong passwords and wrong codes count together towards the lockout (429 RATE_LIMITED).',
        body: Type.Object(
          { username: FreeText({ minLength: 1, maxLength: 64 }), password: Type.String({ minLength: 1, maxLength: 200 }) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Union([SessionSchema, ChallengeSchema]) },
      },
    },
    async (req) => passwordLogin(deps.db, { ...req.body, ...limits(req), adminTotp }),
  );

  app.post(
    '/api/v1/auth/login/totp',
    {
      config: { access: access.public, rateLimit: 'login' },
      schema: {
        tags: ['auth'],
        summary: 'Staff login, second step: the TOTP code (or a recovery code) / 员工登录第二步：动态口令',
        body: Type.Object(
          {
            challenge: Type.String({ minLength: 1, maxLength: 200 }),
            code: Type.String({ minLength: 6, maxLength: 16, description: '6 digits from the authenticator, or a recovery code xxxxx-xxxxx' }),
          },
          { additionalProperties: false },
        ),
        response: { 200: SessionSchema },
      },
    },
    async (req) => loginWithTotp(deps.db, deps.cipher, { ...req.body, ...limits(req) }),
  );

  app.get(
    '/api/v1/auth/totp',
    {
      config: { access: access.anyStaffDuringEnrolment() },
      schema: {
        tags: ['auth'],
        summary: 'My second factor: enabled, pending, recovery codes left / 我的动态口令状态',
        security: [{ bearer: [] }],
        response: {
          200: Type.Object({ enabled: Type.Boolean(), pending: Type.Boolean(), recoveryCodesLeft: Type.Integer(), required: Type.Boolean() }),
        },
      },
    },
    async (req) => ({ ...(await totpStatus(deps.db, req.staff!.id)), required: adminTotp === 'required' && (['admin', 'security_officer', 'auditor'] as string[]).includes(req.staff!.role) }),
  );

  app.post(
    '/api/v1/auth/totp/enrol',
    {
      config: { access: access.anyStaffDuringEnrolment() },
      // The body is optional: a first enrolment needs neither password nor code.
      preValidation: async (req) => {
        if (req.body === undefined || req.body === null) (req as { body: unknown }).body = {};
      },
      schema: {
        tags: ['auth'],
        summary: 'Start TOTP enrolment: a new secret and its otpauth:// URI, shown once / 绑定动态口令（生成密钥）',
        description:
          'Pending until confirmed with a code (POST /api/v1/auth/totp/confirm). Starting again while one is pending replaces it and needs the current password ' +
          '(403 AUTH_PASSWORD_REQUIRED). After a reset, enrolling needs the enrolment code handed over at the reset (403 AUTH_TOTP_ENROLMENT_CODE_INVALID). ' +
          'An enabled factor is only removed by a reset (409 AUTH_TOTP_ALREADY_ENABLED).',
        security: [{ bearer: [] }],
        body: Type.Object(
          {
            password: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
            enrolmentCode: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ secret: Type.String(), otpauthUri: Type.String() }) },
      },
    },
    async (req) =>
      enrolTotp(deps.db, deps.cipher, { ...actorOf(req), staffId: req.staff!.id }, { ...req.body, ip: req.ip, requestId: req.id, maxFailures: deps.config.loginMaxFailures, lockMs: deps.config.loginLockMs }),
  );

  app.post(
    '/api/v1/auth/totp/confirm',
    {
      config: { access: access.anyStaffDuringEnrolment(), rateLimit: 'login' },
      schema: {
        tags: ['auth'],
        summary: 'Confirm TOTP enrolment with a current code; returns the recovery codes once / 确认绑定动态口令',
        description: 'An enrolment-only session becomes a full one.',
        security: [{ bearer: [] }],
        body: Type.Object({ code: Type.String({ pattern: '^[0-9]{6}$' }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ recoveryCodes: Type.Array(Type.String()) }) },
      },
    },
    async (req) =>
      confirmTotp(deps.db, deps.cipher, { ...actorOf(req), staffId: req.staff!.id }, { code: req.body.code, sessionTokenHash: sha256Hex(bearerToken(req.headers.authorization)) }),
  );

  app.post(
    '/api/v1/staff/:id/totp/reset',
    {
      config: { access: access.roles(...StaffGroups.staffManagers) },
      schema: {
        tags: ['staff'],
        summary: "Remove a staff member's second factor (lost phone); ends their sessions / 重置员工动态口令",
        description:
          'Within the three-role split: an administrator’s factor by another administrator, a security officer’s or auditor’s by a security officer ' +
          '(403 STAFF_ROLE_SEPARATION). Answers a one-time enrolment code, shown once, to hand to the member in person: enrolling the new factor requires it.',
        security: [{ bearer: [] }],
        params: Type.Object({ id: Id() }),
        response: { 200: Type.Object({ enrolmentCode: Type.String({ description: 'one-time; give it to the member in person' }) }) },
      },
    },
    async (req) => resetTotp(deps.db, actorOf(req), req.params.id),
  );

  app.post(
    '/api/v1/auth/logout',
    {
      config: { access: access.anyStaffDuringEnrolment() },
      schema: { tags: ['auth'], summary: 'End this session / 退出登录', security: [{ bearer: [] }], response: { 204: Type.Null() } },
    },
    async (req, reply) => {
      const token = bearerToken(req.headers.authorization);
      await logout(deps.db, actorOf(req), token);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/api/v1/auth/me',
    {
      config: { access: access.anyStaffDuringEnrolment() },
      schema: { tags: ['auth'], summary: 'Who am I / 当前用户', security: [{ bearer: [] }], response: { 200: PrincipalSchema } },
    },
    async (req) => ({ customerId: null, sessionScope: 'full' as const, ...req.staff! }),
  );

  app.get(
    '/api/v1/staff',
    {
      config: { access: access.roles(...StaffGroups.staffManagers) },
      schema: {
        tags: ['staff'],
        summary: 'List staff users / 员工列表',
        description:
          'mayManage: whether the caller may change, disable, reset or grant this account under the three-role split; the console hides ' +
          'the actions it may not take (the server refuses them with 403 STAFF_ROLE_SEPARATION all the same).',
        security: [{ bearer: [] }],
        response: { 200: Type.Object({ items: Type.Array(Type.Intersect([StaffUserSchema, Type.Object({ mayManage: Type.Boolean() })])) }) },
      },
    },
    async (req) => {
      const actor = actorOf(req);
      return { items: (await listStaff(deps.db)).map((u) => ({ ...u, mayManage: mayManageRole(actor.role, u.role) })) };
    },
  );

  app.post(
    '/api/v1/staff',
    {
      config: { access: access.roles(...StaffGroups.staffManagers) },
      schema: {
        tags: ['staff'],
        summary: 'Create a staff user / 新增员工',
        description:
          'The administrator may not create a security officer or an auditor, the security officer may not create an administrator (403 STAFF_ROLE_SEPARATION). ' +
          'enterprise_admin and department_admin need customerId, the enterprise customer they act for (400 STAFF_CUSTOMER_REQUIRED).',
        security: [{ bearer: [] }],
        body: Type.Object(
          {
            username: Type.String({ pattern: '^[a-z0-9_.-]{3,32}$' }),
            password: Type.String({ minLength: 10, maxLength: 200 }),
            role: Type.Union(ROLES.map((r) => Type.Literal(r))),
            displayName: Type.Optional(FreeText({ minLength: 1, maxLength: 64 })),
            stationId: Type.Optional(Type.Union([Id(), Type.Null()])),
            customerId: Type.Optional(Type.Union([Id(), Type.Null()])),
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
      config: { access: access.roles(...StaffGroups.staffManagers) },
      schema: {
        tags: ['staff'],
        summary: 'Change a staff user: name, role, station, active or disabled / 修改员工（姓名、角色、油站、启用停用）',
        description:
          'Disabling ends the user’s sessions. You cannot disable yourself or change your own role (409 STAFF_SELF_CHANGE); ' +
          'the last active admin cannot be disabled or given another role (409 STAFF_LAST_ADMIN); the administrator may not touch a security officer or auditor ' +
          'account nor grant those roles, the security officer not an administrator account nor that role (403 STAFF_ROLE_SEPARATION). Becoming an administrator (admin, security_officer, auditor) ends the user’s sessions.',
        security: [{ bearer: [] }],
        params: Type.Object({ id: Id() }),
        body: Type.Object(
          {
            // Not blank, and no NUL.
            displayName: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$' })),
            role: Type.Optional(Type.Union(ROLES.map((r) => Type.Literal(r)))),
            stationId: Type.Optional(Type.Union([Id(), Type.Null()])),
            customerId: Type.Optional(Type.Union([Id(), Type.Null()])),
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
      config: { access: access.roles(...StaffGroups.staffManagers) },
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
