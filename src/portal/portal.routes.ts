import { Type } from 'typebox';
import type { FastifyReply } from 'fastify';
import type { App } from '../platform/index.js';
import { access, actorOf, AppError, checkIdempotencyKey, Nullable, parseTimeFilter } from '../platform/index.js';
import { login, logout, portalCustomer, requestCode, setPasswordWithCode, type PortalDeps } from './portal.auth.js';
import { StatementLineSchema } from '../statements/index.js';
import { changeMyPin, myCards, myStatement, reportMyCardLost, setLowBalanceAlert } from './portal.cards.js';

const cardholder = [{ bearer: [] }];
const tags = ['portal'];

const Phone = Type.String({ minLength: 1, maxLength: 20, description: 'mainland mobile number, e.g. 13800138000 (+86 and spaces allowed)' });
const CardNoParams = Type.Object({ cardNo: Type.String({ pattern: '^[0-9]{19}$', description: '19-digit card number' }) });
// A random token (randomToken(24): 32 base64url characters) from POST /auth/code.
const Challenge = Type.String({ pattern: '^[A-Za-z0-9_-]{16,64}$', description: 'the challenge of the code request that sent this code' });
const IdempotencyHeaders = Type.Object({ 'idempotency-key': Type.Optional(Type.String({ maxLength: 128 })) });

const CustomerSchema = Type.Object({
  customerId: Type.Integer(),
  name: Type.String({ description: 'masked: 张*' }),
  phone: Type.String({ description: 'masked: 138****8000' }),
});
const SignInSchema = Type.Object({ token: Type.String(), expiresAt: Type.String(), customer: CustomerSchema });

const PortalCardSchema = Type.Object({
  cardNo: Type.String({ description: 'in full: a card the cardholder may see' }),
  kind: Type.String(),
  status: Type.String(),
  balance: Type.Integer({ description: 'posted balance of the card’s own accounts, fen (a sub card’s: without the master’s reserve)' }),
  available: Type.Integer({ description: 'what the card can spend now, fen (a shared sub card: the master’s reserve included)' }),
  sharedBalance: Type.Boolean({ description: 'a sub card that may also spend its master card’s reserve' }),
  usableFrom: Nullable(Type.String()),
  lowBalanceAlert: Nullable(Type.Integer({ description: 'the signed-in phone’s alert threshold, fen' })),
  createdAt: Type.String(),
});


/** 429s carry Retry-After as well as details.retryAfterSeconds. */
async function withRetryAfter<T>(reply: FastifyReply, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    const seconds = err instanceof AppError ? err.details?.retryAfterSeconds : undefined;
    if (typeof seconds === 'number') reply.header('retry-after', String(seconds));
    throw err;
  }
}

const bearerToken = (header: string | undefined) => (header?.startsWith('Bearer ') ? header.slice(7).trim() : '');

export function portalRoutes(app: App, deps: PortalDeps): void {
  app.post(
    '/api/v1/portal/auth/code',
    {
      config: { access: access.public },
      schema: {
        tags,
        summary: 'Send a sign-in code to a phone / 发送验证码',
        description:
          'The same answer whether or not the phone belongs to a customer; only a known phone gets a code. Per phone and client address one request per 60 s and 5 per 24 h; per phone 25 per 24 h (429 PORTAL_CODE_TOO_SOON). Send the challenge back with the code.',
        body: Type.Object({ phone: Phone }, { additionalProperties: false }),
        response: {
          202: Type.Object({
            sent: Type.Boolean(),
            expiresInSeconds: Type.Integer(),
            challenge: Type.String({ description: 'binds the code to this request: send it with the code to POST /auth/password' }),
          }),
        },
      },
    },
    async (req, reply) => {
      const out = await withRetryAfter(reply, () => requestCode(deps, { phone: req.body.phone, ip: req.ip }));
      return reply.status(202).send(out);
    },
  );

  app.post(
    '/api/v1/portal/auth/password',
    {
      config: { access: access.public },
      schema: {
        tags,
        summary: 'Set or reset the password with a code, and sign in / 设置密码并登录',
        description:
          'The code of the request named by challenge (without it: the newest code requested from the same client address). Wrong, expired, used or over-tried codes are 400 PORTAL_CODE_INVALID (5 tries per code). Ends the phone’s other sessions.',
        body: Type.Object(
          {
            phone: Phone,
            code: Type.String({ maxLength: 12, description: '6 digits' }),
            password: Type.String({ maxLength: 128, description: 'at least 8 characters' }),
            challenge: Type.Optional(Challenge),
          },
          { additionalProperties: false },
        ),
        response: { 200: SignInSchema },
      },
    },
    async (req) => setPasswordWithCode(deps, { ...req.body, ip: req.ip, requestId: req.id }),
  );

  app.post(
    '/api/v1/portal/auth/login',
    {
      config: { access: access.public },
      schema: {
        tags,
        summary: 'Sign in with phone and password / 持卡人登录',
        description:
          'Wrong, unknown or no password yet: 401 PORTAL_INVALID_CREDENTIALS. Too many wrong passwords for the phone from this client address, or from all together: 429 PORTAL_LOGIN_LOCKED (a code sign-in still works).',
        body: Type.Object({ phone: Phone, password: Type.String({ maxLength: 128 }) }, { additionalProperties: false }),
        response: { 200: SignInSchema },
      },
    },
    async (req, reply) => withRetryAfter(reply, () => login(deps, { ...req.body, ip: req.ip, requestId: req.id })),
  );

  app.post(
    '/api/v1/portal/auth/logout',
    {
      config: { access: access.cardholder },
      schema: { tags, summary: 'Sign out / 退出登录', security: cardholder, response: { 204: Type.Null() } },
    },
    async (req, reply) => {
      await logout(deps.db, bearerToken(req.headers.authorization));
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/api/v1/portal/me',
    {
      config: { access: access.cardholder },
      schema: { tags, summary: 'The signed-in cardholder / 当前持卡人', security: cardholder, response: { 200: CustomerSchema } },
    },
    async (req) => portalCustomer(deps, deps.db, req.cardholder!.customerId),
  );

  app.get(
    '/api/v1/portal/cards',
    {
      config: { access: access.cardholder },
      schema: {
        tags,
        summary: 'My cards with balances / 我的卡',
        description: 'The cards of every customer registered with the signed-in phone, and the sub cards of their master cards.',
        security: cardholder,
        response: { 200: Type.Object({ items: Type.Array(PortalCardSchema) }) },
      },
    },
    async (req) => ({ items: await myCards(deps, req.cardholder!.customerId) }),
  );

  app.get(
    '/api/v1/portal/cards/:cardNo/statement',
    {
      config: { access: access.cardholder },
      schema: {
        tags,
        summary: 'My card’s sales, recharges and refunds, newest first / 交易明细',
        security: cardholder,
        params: CardNoParams,
        querystring: Type.Object({
          from: Type.Optional(Type.String({ format: 'date-time', description: 'inclusive, ISO 8601' })),
          to: Type.Optional(Type.String({ format: 'date-time', description: 'exclusive, ISO 8601' })),
          type: Type.Optional(Type.Union([Type.Literal('sale'), Type.Literal('recharge'), Type.Literal('refund'), Type.Literal('reversal')])),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })),
          cursor: Type.Optional(Type.String({ maxLength: 200 })),
        }),
        response: { 200: Type.Object({ items: Type.Array(StatementLineSchema), nextCursor: Nullable(Type.String()) }) },
      },
    },
    async (req) =>
      myStatement(deps, req.cardholder!.customerId, req.params.cardNo, {
        ...req.query,
        from: parseTimeFilter(req.query.from, 'querystring.from'),
        to: parseTimeFilter(req.query.to, 'querystring.to'),
      }),
  );

  app.post(
    '/api/v1/portal/cards/:cardNo/pin',
    {
      config: { access: access.cardholder },
      schema: {
        tags,
        summary: 'Change my card’s PIN / 修改卡密码',
        description: 'Wrong old PIN: 403 CARD_PIN_WRONG (counted; the PIN locks after FUELCARD_PIN_MAX_TRIES: 423 CARD_PIN_LOCKED).',
        security: cardholder,
        params: CardNoParams,
        body: Type.Object(
          { oldPin: Type.String({ maxLength: 6 }), newPin: Type.String({ pattern: '^[0-9]{6}$', description: '6 digits' }) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ changed: Type.Boolean() }) },
      },
    },
    async (req) => changeMyPin(deps, actorOf(req), req.cardholder!.customerId, req.params.cardNo, req.body.oldPin, req.body.newPin),
  );

  app.post(
    '/api/v1/portal/cards/:cardNo/report-loss',
    {
      config: { access: access.cardholder },
      // A POST with no body at all is the same as {}.
      preValidation: async (req) => {
        if (req.body === undefined || req.body === null) (req as { body: unknown }).body = {};
      },
      schema: {
        tags,
        summary: 'Report my card lost; effective at once / 挂失',
        security: cardholder,
        params: CardNoParams,
        headers: IdempotencyHeaders,
        body: Type.Object({}, { additionalProperties: false }),
        response: { 200: PortalCardSchema },
      },
    },
    async (req, reply) => {
      const key = checkIdempotencyKey(req.headers['idempotency-key']);
      const out = await reportMyCardLost(deps, actorOf(req), req.cardholder!.customerId, req.params.cardNo, key);
      return reply.status(out.status as 200).send(out.body);
    },
  );

  app.put(
    '/api/v1/portal/cards/:cardNo/alerts',
    {
      config: { access: access.cardholder },
      schema: {
        tags,
        summary: 'Set or clear my low-balance alert / 余额提醒',
        description:
          'The signed-in phone’s own alert on the card: a message to this phone when an approved sale takes the card’s available total from at least lowBalance to below it. null (or 0) clears it.',
        security: cardholder,
        params: CardNoParams,
        body: Type.Object({ lowBalance: Nullable(Type.Integer({ minimum: 0, maximum: 1e12, description: 'fen; null or 0: no alert' })) }, { additionalProperties: false }),
        response: { 200: Type.Object({ lowBalance: Nullable(Type.Integer()) }) },
      },
    },
    // Bodies are not coerced, so 0 arrives as 0: it means "off" like null, because a threshold of
    // 0 could never fire (no available total is below 0) and storing it would look like an alert.
    // Accepted rather than refused, so a client that sends 0 for "none" is not turned away.
    async (req) => setLowBalanceAlert(deps, actorOf(req), req.cardholder!.customerId, req.params.cardNo, req.body.lowBalance || null),
  );
}
