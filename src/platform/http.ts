import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { Ajv, type Options as AjvOptions } from 'ajv';
import addFormatsModule from 'ajv-formats';
import pg from 'pg';
import type { Logger } from 'pino';
import { Type } from 'typebox';
import { AppError, platformError } from './errors.js';
import { httpDuration, registry } from './metrics.js';
import type { Access, CardholderPrincipal, StaffPrincipal, TerminalPrincipal } from './rbac.js';
import type { Actor } from './audit.js';
import { accountOf, DEFAULT_RATE_LIMITS, rateLimitClassOf, RateLimiter, type RateLimitClass, type RateLimitSettings, type TakeResult } from './rate-limit.js';
import { applySecurityHeaders } from './security-headers.js';

export { DEFAULT_RATE_LIMITS, rateLimitsFromEnv, RATE_LIMIT_CLASSES, type RateLimitClass, type RateLimitSettings } from './rate-limit.js';

declare module 'fastify' {
  interface FastifyRequest {
    rawBody?: string;
    staff?: StaffPrincipal;
    terminal?: TerminalPrincipal;
    cardholder?: CardholderPrincipal;
  }
  interface FastifyContextConfig {
    access?: Access;
    /** Terminal routes only: the handler spends the nonce in its own transaction (see TerminalPrincipal). */
    spendNonceInTransaction?: boolean;
    /** Token-bucket class (rate-limit.ts); routes listed in RATE_LIMITED_ROUTES get theirs without saying. */
    rateLimit?: RateLimitClass;
  }
}

export type App = FastifyInstance<
  import('node:http').Server,
  import('node:http').IncomingMessage,
  import('node:http').ServerResponse,
  Logger,
  TypeBoxTypeProvider
>;

// ajv-formats is CommonJS: its default export arrives wrapped under ESM interop.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as unknown as (ajv: Ajv) => Ajv;

/** Looks up a bearer token; implemented by the staff module. */
export interface StaffAuthenticator {
  authenticate(token: string): Promise<StaffPrincipal | null>;
}

/** Checks a terminal's signed request; implemented by the stations module. */
export interface TerminalAuthenticator {
  authenticate(request: FastifyRequest): Promise<TerminalPrincipal>;
}

/** Looks up a cardholder's bearer token; implemented by the portal module. */
export interface CardholderAuthenticator {
  authenticate(token: string): Promise<CardholderPrincipal | null>;
}

export interface RouteInfo {
  method: string;
  url: string;
  access: Access | undefined;
}

export interface HttpOptions {
  logger: Logger;
  staffAuth: StaffAuthenticator;
  terminalAuth: TerminalAuthenticator;
  cardholderAuth: CardholderAuthenticator;
  bodyLimitBytes?: number;
  /** Proxies whose X-Forwarded-For gives the client's address (request.ip); see config.trustProxy. */
  trustProxy?: string | null;
  /** Token buckets for login, PIN, notification and sandbox routes (rateLimitsFromEnv); defaults when absent. */
  rateLimits?: RateLimitSettings;
  /** The rate limiter's clock (tests move it instead of waiting). */
  now?: () => number;
}

/*
 * Schema pieces every module's routes share. A value the schema lets through reaches SQL, and
 * PostgreSQL refuses some that JSON and ajv accept (a bigint past 2^63, NUL in text): those
 * would be 500s, so the schemas refuse them first.
 */

type IntegerOptions = NonNullable<Parameters<typeof Type.Integer>[0]>;
type StringOptions = NonNullable<Parameters<typeof Type.String>[0]>;

/**
 * A row id (bigint identity) in a path, query or body. Bounded by the largest integer JSON and
 * JS read exactly, which is also far inside bigint: 99999999999999999999 is a 400, not a 22003.
 */
/** A value or null ("no limit", "not set"). */
export const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

export const Id = (options: IntegerOptions = {}) => Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, ...options });

/** Text without NUL, the one character PostgreSQL text (and jsonb) cannot hold. */
export const NUL_FREE_PATTERN = '^[^\\u0000]*$';
export const FreeText = (options: StringOptions = {}) => Type.String({ pattern: NUL_FREE_PATTERN, ...options });

/** A fuel grade code as terminals send it and the grade list holds it: `92#`, `0#`, `E92`. */
export const GRADE_PATTERN = '^[\\p{L}\\p{N}#+_-]{1,16}$';
export const GradeCode = (options: StringOptions = {}) => Type.String({ pattern: GRADE_PATTERN, ...options });

/**
 * PostgreSQL data exceptions (SQLSTATE class 22) that mean "this input value cannot be stored
 * or compared": out of range (22003), a time it cannot read or place (22007, 22008, 22009),
 * NUL in text or jsonb (22021, 22P05), text too long for its column (22001), text that is not
 * a number, uuid… (22P02). Others of the class (division by zero…) stay server errors.
 */
const INPUT_SQLSTATES = new Set(['22001', '22003', '22007', '22008', '22009', '22021', '22P02', '22P05']);

export function actorOf(request: FastifyRequest): Actor {
  if (request.staff) {
    return {
      staffId: request.staff.id,
      name: request.staff.username,
      role: request.staff.role,
      ip: request.ip,
      requestId: request.id,
      stationId: request.staff.stationId,
    };
  }
  if (request.terminal) {
    return { staffId: null, name: request.terminal.id, role: 'terminal', ip: request.ip, requestId: request.id, stationId: request.terminal.stationId };
  }
  if (request.cardholder) {
    return { staffId: null, name: `customer:${request.cardholder.customerId}`, role: 'cardholder', ip: request.ip, requestId: request.id };
  }
  return { staffId: null, name: 'anonymous', role: 'system', ip: request.ip, requestId: request.id };
}

export function sendError(reply: FastifyReply, err: AppError): FastifyReply {
  return reply.status(err.status).send({
    error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) },
  });
}

/**
 * Builds the Fastify app: request ids, JSON parsing that keeps the raw body (terminals
 * sign it), the error shape of DESIGN.md, access control that refuses any route which
 * does not name who may call it, latency metrics and the OpenAPI document.
 */
export async function createHttp(opts: HttpOptions): Promise<{ app: App; routes: RouteInfo[] }> {
  const app = Fastify({
    loggerInstance: opts.logger,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(given) ? given : randomUUID();
    },
    bodyLimit: opts.bodyLimitBytes ?? 1024 * 1024,
    return503OnClosing: true,
    ...(opts.trustProxy ? { trustProxy: opts.trustProxy } : {}),
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as App;

  // Path, query and header values arrive as strings and are coerced to their schema types. A JSON
  // body already carries its types, and coercing it would turn a `null` (e.g. "no limit") into 0
  // or "745" into 745: bodies are validated exactly as sent.
  const ajvBase: AjvOptions = { removeAdditional: false, useDefaults: true, addUsedSchema: false, allErrors: false };
  const coercing = addFormats(new Ajv({ ...ajvBase, coerceTypes: 'array' }));
  const exact = addFormats(new Ajv({ ...ajvBase, coerceTypes: false }));
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? exact : coercing).compile(schema));

  const routes: RouteInfo[] = [];
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (route.config?.rateLimit === undefined) {
      const cls = methods.map((m) => rateLimitClassOf(m, route.url)).find((c) => c !== undefined);
      if (cls) route.config = { ...route.config, rateLimit: cls };
    }
    for (const method of methods) {
      if (method === 'HEAD') continue;
      routes.push({ method, url: route.url, access: route.config?.access });
    }
  });

  // JSON only: the raw body a terminal signs is kept by the JSON parser, so no other media
  // type may reach a route (Fastify's default text/plain parser would bypass the body hash).
  app.removeContentTypeParser('text/plain');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    request.rawBody = text;
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(platformError('MALFORMED_JSON'), undefined);
    }
  });

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  // By address before the body is even read and before authentication, itself the expensive step
  // (a password hash): a flood costs neither. By account after authentication (below), so that
  // callers who may not act on a card cannot spend its bucket and lock its holder out.
  const limiter = new RateLimiter(opts.rateLimits ?? DEFAULT_RATE_LIMITS, opts.now);
  const refuse = (cls: RateLimitClass, by: 'address' | 'account', r: TakeResult) => {
    if (!r.ok) throw platformError('RATE_LIMITED', { limit: cls, by, retryAfterSeconds: r.retryAfterSeconds });
  };
  app.addHook('onRequest', async (request) => {
    const cls = request.routeOptions.config?.rateLimit;
    if (cls) refuse(cls, 'address', limiter.byAddress(cls, request.ip));
  });

  app.addHook('preValidation', async (request) => {
    const rule = request.routeOptions.config?.access;
    if (!rule) {
      // Not-found handler and framework routes have no config; real routes always do.
      if (request.routeOptions.url === undefined) return;
      // The interactive API page (swagger-ui's own routes) is public documentation.
      if (request.routeOptions.url.startsWith('/docs')) return;
      throw platformError('FORBIDDEN', { reason: 'route has no access rule' });
    }
    if (rule.kind === 'public') return;
    if (rule.kind === 'terminal') {
      request.terminal = await opts.terminalAuth.authenticate(request);
      return;
    }
    const header = request.headers.authorization;
    const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
    if (!token) throw platformError('UNAUTHENTICATED');
    if (rule.kind === 'cardholder') {
      const cardholder = await opts.cardholderAuth.authenticate(token);
      if (!cardholder) throw platformError('UNAUTHENTICATED');
      request.cardholder = cardholder;
      return;
    }
    const staff = await opts.staffAuth.authenticate(token);
    if (!staff) throw platformError('UNAUTHENTICATED');
    request.staff = staff;
    if (!rule.roles.includes(staff.role)) throw platformError('FORBIDDEN', { role: staff.role });
  });

  app.addHook('preValidation', async (request) => {
    const cls = request.routeOptions.config?.rateLimit;
    if (cls) refuse(cls, 'account', limiter.byAccount(cls, accountOf(cls, request)));
  });

  // Graceful shutdown: requests in flight when close() begins run to the end, but their
  // keep-alive connections would then stay open (keepAliveTimeout is 72 s) and close() would
  // wait for them past the shutdown timeout. Answer them with Connection: close instead.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (request, reply, payload) => {
    if (closing) reply.header('connection', 'close');
    applySecurityHeaders(request, reply);
    return payload;
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    httpDuration.observe(
      { method: request.method, route, status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  app.setErrorHandler((err: unknown, request, reply) => {
    if (err instanceof AppError) {
      if (err.status >= 500) request.log.error({ err }, 'request failed');
      const retryAfter = err.details?.retryAfterSeconds;
      if (err.status === 429 && typeof retryAfter === 'number' && Number.isFinite(retryAfter)) reply.header('retry-after', String(Math.max(1, Math.ceil(retryAfter))));
      return sendError(reply, err);
    }
    const e = err as { validation?: unknown; validationContext?: string; statusCode?: number; code?: string; message?: string };
    if (e.validation) {
      const first = Array.isArray(e.validation) ? (e.validation[0] as { instancePath?: string; params?: { missingProperty?: string; additionalProperty?: string }; message?: string }) : undefined;
      const field = [e.validationContext, first?.instancePath?.replace(/^\//, '').replace(/\//g, '.'), first?.params?.missingProperty ?? first?.params?.additionalProperty]
        .filter((p) => p !== undefined && p !== '')
        .join('.');
      return sendError(reply, platformError('VALIDATION_FAILED', { field, reason: first?.message ?? e.message }));
    }
    if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return sendError(reply, platformError('PAYLOAD_TOO_LARGE'));
    if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return sendError(reply, platformError('UNSUPPORTED_MEDIA_TYPE'));
    if (e.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || e.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH') {
      return sendError(reply, platformError('VALIDATION_FAILED', { field: 'body' }));
    }
    if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
      return sendError(reply, platformError('VALIDATION_FAILED', { reason: e.message }));
    }
    if (err instanceof pg.DatabaseError && err.code !== undefined && INPUT_SQLSTATES.has(err.code)) {
      // The caller sent a value the route's schema should have refused: still the caller's
      // mistake (400), but worth a warning, since the schema is too loose.
      request.log.warn({ err, sqlState: err.code, route: request.routeOptions.url }, 'database refused a request value');
      return sendError(reply, platformError('VALIDATION_FAILED', { reason: 'a value is malformed or out of range' }));
    }
    request.log.error({ err }, 'unhandled error');
    return sendError(reply, platformError('INTERNAL'));
  });

  app.setNotFoundHandler((request, reply) => sendError(reply, platformError('ROUTE_NOT_FOUND', { method: request.method, url: request.url.split('?')[0] })));

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Fuel card platform API (加油卡系统)',
        version: '1',
        description:
          'Amounts in fen, volumes in millilitres, unit prices in fen per litre. Money-moving POSTs take an Idempotency-Key header. Errors: {"error":{"code","message"}} — see docs/errors.md.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          terminal: { type: 'apiKey', in: 'header', name: 'X-Signature', description: 'HMAC-SHA256 request signature; see docs/terminals.md' },
        },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' } });

  app.get('/api/v1/openapi.json', { config: { access: { kind: 'public' } }, schema: { hide: true } }, async () => app.swagger());
  app.get('/healthz', { config: { access: { kind: 'public' } }, schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/metrics', { config: { access: { kind: 'public' } }, schema: { hide: true } }, async (_req, reply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });

  return { app, routes };
}
