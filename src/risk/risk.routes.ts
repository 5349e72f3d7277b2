import { sql } from 'kysely';
import { Type } from 'typebox';
import type { App, Config, Db, Role } from '../platform/index.js';
import {
  access,
  actorOf,
  CURSOR_TIME_FORMAT,
  decodeCursor,
  encodeCursor,
  FreeText,
  Id,
  Nullable,
  pageSize,
  parseTimeFilter,
  platformError,
} from '../platform/index.js';
import { backtest } from './risk.backtest.js';
import { replay } from './risk.engine.js';
import { riskError } from './risk.errors.js';
import { DEFAULT_PARAM_SET, DEFAULT_PARAMS, mergeParams, paramSet, validateParams } from './risk.params.js';
import { RULE_IDS, RULES, type RiskParams, type RuleId } from './risk.rules.js';
import {
  approveParamVersion,
  clearStationFlag,
  createParamDraft,
  flagStation,
  getParamVersion,
  listParamVersions,
  loadDecisionRecord,
  rejectParamVersion,
  revokeSilence,
  silenceRule,
  submitParamVersion,
  type ParamScope,
  type ParamStatus,
  type ParamVersion,
} from './risk.store.js';
import { OUTCOMES } from './risk.types.js';

export interface RiskRouteDeps {
  db: Db;
  config: Pick<Config, 'timeZone'>;
  logger?: unknown;
}

const bearer = [{ bearer: [] }];
const tags = ['risk'];

/** Who changes the engine's behaviour: parameters, silences, flags, backtests. */
const MANAGERS: Role[] = ['admin', 'risk'];
/**
 * Who may look. The service desk (operator) answers "why was my card declined"; finance reads the
 * limits in force. Station staff never: decisions hold other stations' data and the limits are
 * what a fraudster would want to know.
 */
const READERS: Role[] = ['admin', 'risk', 'operator', 'finance'];

/** A backtest replays every sale of the range, one context load each: bounded in time and rows. */
export const BACKTEST_MAX_DAYS = 31;
export const BACKTEST_MAX_SALES = 10_000;
const MAX_PAGE = 200;

const SCOPES = ['programme', 'segment', 'enterprise'] as const satisfies readonly ParamScope[];
const STATUSES = ['draft', 'pending_approval', 'published', 'retired', 'rejected'] as const satisfies readonly ParamStatus[];
const lit = <T extends string>(xs: readonly T[]) => Type.Union(xs.map((x) => Type.Literal(x)));

const Time = Type.String({ maxLength: 40, description: 'ISO 8601 time' });
const Uuid = Type.String({ pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' });
const Reason = FreeText({ minLength: 1, maxLength: 500 });
// Rule parameters are checked by the rules' own schemas (RISK_PARAMS_INVALID with the path), not by
// the route's: a generic VALIDATION_FAILED would not say which rule's field is wrong.
const ParamsBody = Type.Object({}, { additionalProperties: true, description: 'One object per rule id; see GET /api/v1/risk/rules' });

const VersionSchema = Type.Object({
  id: Type.Integer(),
  scope: Type.String(),
  scopeKey: Type.String(),
  version: Type.Integer(),
  params: Type.Unknown(),
  hash: Type.String(),
  status: Type.String(),
  note: Nullable(Type.String()),
  createdBy: Type.Integer(),
  approvedBy: Nullable(Type.Integer()),
  publishedAt: Nullable(Type.String()),
});

const RuleSchema = Type.Object({
  id: Type.String(),
  zh: Type.String(),
  en: Type.String(),
  schema: Type.Unknown(),
  defaults: Type.Unknown(),
});

const SilenceSchema = Type.Object({
  id: Type.Integer(),
  cardId: Type.Integer(),
  rule: Type.String(),
  until: Type.String(),
  reason: Type.String(),
  createdBy: Type.Integer(),
  decisionId: Nullable(Type.String()),
  createdAt: Type.String(),
  revokedAt: Nullable(Type.String()),
});

const FlagSchema = Type.Object({
  id: Type.Integer(),
  stationId: Type.Integer(),
  reason: Type.String(),
  flaggedBy: Nullable(Type.Integer()),
  flaggedAt: Type.String(),
  clearedBy: Nullable(Type.Integer()),
  clearedAt: Nullable(Type.String()),
});

const DecisionSummary = {
  id: Type.String(),
  cardId: Nullable(Type.Integer()),
  stationId: Nullable(Type.Integer()),
  terminalId: Nullable(Type.String()),
  saleRef: Nullable(Type.String()),
  outcome: Type.String(),
  hits: Type.Unknown(),
  paramVersionId: Nullable(Type.Integer()),
  paramsHash: Type.String(),
  engineVersion: Type.Integer(),
  createdAt: Type.String(),
};
const DecisionItemSchema = Type.Object(DecisionSummary);
const DecisionSchema = Type.Object({ ...DecisionSummary, context: Type.Unknown() });

const BacktestSchema = Type.Object({
  paramVersionId: Nullable(Type.Integer()),
  paramsHash: Type.String(),
  from: Type.String(),
  to: Type.String(),
  sales: Type.Integer(),
  truncated: Type.Boolean(),
  outcomes: Type.Record(Type.String(), Type.Integer()),
  stopped: Type.Integer(),
  stoppedAmount: Type.Integer(),
  rules: Type.Record(Type.String(), Type.Object({ hits: Type.Integer(), hitRate: Type.Number(), stoppedAmount: Type.Integer() })),
});

const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());
const versionOut = (v: ParamVersion) => ({ ...v, publishedAt: iso(v.publishedAt) });

/** The JSON-pointer path of a validator message ("/sale_amount/maxAmount must be …") as a field name. */
function fieldOf(message: string): string {
  const path = message.split(' ')[0] ?? '/';
  return `body.params${path === '/' ? '' : path.replace(/\//g, '.')}`;
}

function checkParams(params: unknown): RiskParams {
  const check = validateParams(params);
  if (!check.ok) throw riskError('RISK_PARAMS_INVALID', { field: fieldOf(check.errors[0] ?? '/'), errors: check.errors.slice(0, 20) });
  return check.params;
}

async function mustExist(db: Db, table: 'cards' | 'stations', id: number, field: string): Promise<void> {
  // The store would otherwise hit a foreign key and answer 500.
  const r = await sql<{ one: number }>`select 1 as one from ${sql.table(table)} where id = ${id}`.execute(db);
  if (!r.rows[0]) throw platformError('NOT_FOUND', { field });
}

export function riskRoutes(app: App, deps: RiskRouteDeps): void {
  const { db } = deps;

  app.get(
    '/api/v1/risk/rules',
    {
      config: { access: access.roles(...READERS) },
      schema: {
        tags,
        summary: 'The risk rule catalogue with parameter schemas and defaults / 风控规则目录',
        security: bearer,
        response: { 200: Type.Object({ items: Type.Array(RuleSchema) }) },
      },
    },
    async () => ({ items: RULE_IDS.map((id) => ({ id, zh: RULES[id].zh, en: RULES[id].en, schema: RULES[id].schema, defaults: RULES[id].defaults })) }),
  );

  app.get(
    '/api/v1/risk/parameter-versions',
    {
      config: { access: access.roles(...READERS) },
      schema: {
        tags,
        summary: 'Risk parameter versions, newest first / 风控参数版本列表',
        security: bearer,
        querystring: Type.Object(
          {
            scope: Type.Optional(lit(SCOPES)),
            scopeKey: Type.Optional(Type.String({ pattern: '^[a-z0-9_]{1,40}$' })),
            status: Type.Optional(lit(STATUSES)),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE, description: 'default 50' })),
            cursor: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,15}$', description: 'nextCursor of the previous page' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(VersionSchema), nextCursor: Nullable(Type.String()) }) },
      },
    },
    async (req) => {
      const q = req.query;
      const limit = pageSize(q.limit, MAX_PAGE);
      const found = await listParamVersions(db, { ...(q.scope ? { scope: q.scope } : {}), ...(q.scopeKey ? { scopeKey: q.scopeKey } : {}), ...(q.status ? { status: q.status } : {}), ...(q.cursor ? { beforeId: Number(q.cursor) } : {}), limit });
      const rows = found.slice(0, limit);
      return { items: rows.map(versionOut), nextCursor: found.length > limit ? String(rows[rows.length - 1]!.id) : null };
    },
  );

  app.get(
    '/api/v1/risk/parameter-versions/:id',
    {
      config: { access: access.roles(...READERS) },
      schema: {
        tags,
        summary: 'One risk parameter version / 风控参数版本详情',
        security: bearer,
        params: Type.Object({ id: Id() }),
        response: { 200: VersionSchema },
      },
    },
    async (req) => versionOut(await getParamVersion(db, req.params.id)),
  );

  app.post(
    '/api/v1/risk/parameter-versions',
    {
      config: { access: access.roles(...MANAGERS) },
      schema: {
        tags,
        summary: 'Draft a new risk parameter version / 新建风控参数草稿',
        description:
          'Either `params` (a complete set, one object per rule) or `patch` (fields to change over `baseVersionId`, or over the built-in defaults when absent). ' +
          'The result is validated against the rules’ schemas: RISK_PARAMS_INVALID names the first failing field (`details.field`) and lists all (`details.errors`).',
        security: bearer,
        body: Type.Object(
          {
            scope: lit(SCOPES),
            scopeKey: Type.String({ pattern: '^[a-z0-9_]{1,40}$', description: "'default' for the programme, a card kind for a segment, a master card id for an enterprise" }),
            params: Type.Optional(ParamsBody),
            patch: Type.Optional(ParamsBody),
            baseVersionId: Type.Optional(Id()),
            note: Type.Optional(FreeText({ maxLength: 500 })),
          },
          { additionalProperties: false },
        ),
        response: { 201: VersionSchema },
      },
    },
    async (req, reply) => {
      const b = req.body;
      if ((b.params === undefined) === (b.patch === undefined)) throw platformError('VALIDATION_FAILED', { field: 'body.params', reason: 'give exactly one of params and patch' });
      let params: unknown = b.params;
      if (b.patch !== undefined) {
        const base = b.baseVersionId === undefined ? DEFAULT_PARAMS : checkParams((await getParamVersion(db, b.baseVersionId)).params);
        for (const [k, v] of Object.entries(b.patch)) {
          if (!(RULE_IDS as string[]).includes(k) || v === null || typeof v !== 'object' || Array.isArray(v)) {
            throw riskError('RISK_PARAMS_INVALID', { field: `body.patch.${k}` });
          }
        }
        params = mergeParams(base, b.patch as Partial<Record<RuleId, Record<string, unknown>>>);
      }
      checkParams(params);
      const v = await db
        .transaction()
        .execute((trx) => createParamDraft(trx, actorOf(req), { scope: b.scope, scopeKey: b.scopeKey, params, ...(b.note !== undefined ? { note: b.note } : {}) }));
      return reply.status(201).send(versionOut(v));
    },
  );

  const transition = (path: string, summary: string, run: (id: number, req: Parameters<typeof actorOf>[0] & { body?: unknown }) => Promise<ParamVersion>, withReason = false) =>
    app.post(
      `/api/v1/risk/parameter-versions/:id/${path}`,
      {
        config: { access: access.roles(...MANAGERS) },
        schema: {
          tags,
          summary,
          security: bearer,
          params: Type.Object({ id: Id() }),
          ...(withReason ? { body: Type.Object({ reason: Reason }, { additionalProperties: false }) } : {}),
          response: { 200: VersionSchema },
        },
      },
      async (req) => versionOut(await run(req.params.id, req)),
    );

  transition('submit', 'Submit a draft for approval (author only) / 提交风控参数草稿待审批', (id, req) =>
    db.transaction().execute((trx) => submitParamVersion(trx, actorOf(req), id)),
  );
  transition('approve', 'Approve and publish a version (not its author: RISK_SELF_APPROVAL) / 审批并发布风控参数版本', (id, req) =>
    db.transaction().execute((trx) => approveParamVersion(trx, actorOf(req), id)),
  );
  transition(
    'reject',
    'Reject a draft or pending version / 驳回风控参数版本',
    (id, req) => db.transaction().execute((trx) => rejectParamVersion(trx, actorOf(req), id, (req.body as { reason: string }).reason)),
    true,
  );

  app.post(
    '/api/v1/risk/backtests',
    {
      config: { access: access.roles(...MANAGERS) },
      schema: {
        tags,
        summary: 'Backtest a parameter version over past sales / 风控参数回测',
        description: `Every rule evaluated as enforced. At most ${BACKTEST_MAX_DAYS} days and ${BACKTEST_MAX_SALES} sales (oldest first; \`truncated\` says it stopped). No versionId: the built-in defaults.`,
        security: bearer,
        body: Type.Object(
          {
            versionId: Type.Optional(Id()),
            from: Time,
            to: Time,
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: BACKTEST_MAX_SALES })),
          },
          { additionalProperties: false },
        ),
        response: { 200: BacktestSchema },
      },
    },
    async (req) => {
      const b = req.body;
      const from = parseTimeFilter(b.from, 'body.from');
      const to = parseTimeFilter(b.to, 'body.to');
      if (!(to.getTime() > from.getTime()) || to.getTime() - from.getTime() > BACKTEST_MAX_DAYS * 86_400_000) {
        throw platformError('VALIDATION_FAILED', { field: 'body.to', reason: `after from, at most ${BACKTEST_MAX_DAYS} days` });
      }
      let set = DEFAULT_PARAM_SET;
      if (b.versionId !== undefined) {
        const v = await getParamVersion(db, b.versionId);
        const check = validateParams(v.params);
        if (!check.ok) throw riskError('RISK_PARAMS_INVALID', { id: v.id, errors: check.errors.slice(0, 20) });
        set = paramSet(check.params, v.id);
      }
      const report = await backtest(db, set, { from, to, timeZone: deps.config.timeZone, limit: b.limit ?? BACKTEST_MAX_SALES });
      return { paramVersionId: set.ref.id, paramsHash: set.ref.hash, from: from.toISOString(), to: to.toISOString(), ...report };
    },
  );

  // ---- silences ----

  interface SilenceRow {
    id: number;
    card_id: number;
    rule: string;
    until: Date;
    reason: string;
    created_by: number;
    decision_id: string | null;
    created_at: Date;
    revoked_at: Date | null;
  }
  const silenceOut = (r: SilenceRow) => ({
    id: r.id,
    cardId: r.card_id,
    rule: r.rule,
    until: r.until.toISOString(),
    reason: r.reason,
    createdBy: r.created_by,
    decisionId: r.decision_id,
    createdAt: r.created_at.toISOString(),
    revokedAt: iso(r.revoked_at),
  });

  app.get(
    '/api/v1/risk/silences',
    {
      config: { access: access.roles(...READERS) },
      schema: {
        tags,
        summary: 'Rule silences, newest first / 规则静默列表',
        description: 'By default only those in force (not revoked, not expired); `all=true` for history.',
        security: bearer,
        querystring: Type.Object(
          {
            cardId: Type.Optional(Id()),
            all: Type.Optional(Type.Boolean()),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE })),
            cursor: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,15}$' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(SilenceSchema), nextCursor: Nullable(Type.String()) }) },
      },
    },
    async (req) => {
      const q = req.query;
      const limit = pageSize(q.limit, MAX_PAGE);
      const r = await sql<SilenceRow>`select * from risk_rule_silences where true
          ${q.cardId !== undefined ? sql`and card_id = ${q.cardId}` : sql``}
          ${q.all ? sql`` : sql`and revoked_at is null and until > now()`}
          ${q.cursor ? sql`and id < ${Number(q.cursor)}` : sql``}
        order by id desc limit ${limit + 1}`.execute(db);
      const rows = r.rows.slice(0, limit);
      return { items: rows.map(silenceOut), nextCursor: r.rows.length > limit ? String(rows[rows.length - 1]!.id) : null };
    },
  );

  app.post(
    '/api/v1/risk/silences',
    {
      config: { access: access.roles(...MANAGERS) },
      schema: {
        tags,
        summary: 'Silence one rule for one card until a time / 对卡片静默某条规则',
        security: bearer,
        body: Type.Object(
          { cardId: Id(), rule: lit(RULE_IDS), until: Time, reason: Reason, decisionId: Type.Optional(Uuid) },
          { additionalProperties: false },
        ),
        response: { 201: SilenceSchema },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const until = parseTimeFilter(b.until, 'body.until');
      await mustExist(db, 'cards', b.cardId, 'body.cardId');
      if (b.decisionId !== undefined) {
        const d = await sql<{ card_id: number | null }>`select card_id from risk_decisions where id = ${b.decisionId}`.execute(db);
        if (!d.rows[0] || d.rows[0].card_id !== b.cardId) throw platformError('NOT_FOUND', { field: 'body.decisionId' });
      }
      const id = await db.transaction().execute((trx) =>
        silenceRule(trx, actorOf(req), { cardId: b.cardId, rule: b.rule, until, reason: b.reason, ...(b.decisionId !== undefined ? { decisionId: b.decisionId } : {}) }),
      );
      const r = await sql<SilenceRow>`select * from risk_rule_silences where id = ${id}`.execute(db);
      return reply.status(201).send(silenceOut(r.rows[0]!));
    },
  );

  app.delete(
    '/api/v1/risk/silences/:id',
    {
      config: { access: access.roles(...MANAGERS) },
      schema: {
        tags,
        summary: 'Revoke a silence / 撤销规则静默',
        security: bearer,
        params: Type.Object({ id: Id() }),
        response: { 204: Type.Null() },
      },
    },
    async (req, reply) => {
      const r = await sql<{ revoked_at: Date | null }>`select revoked_at from risk_rule_silences where id = ${req.params.id}`.execute(db);
      if (!r.rows[0]) throw platformError('NOT_FOUND', { field: 'id' });
      // Revoking twice is a no-op, not a second audit row.
      if (r.rows[0].revoked_at === null) await db.transaction().execute((trx) => revokeSilence(trx, actorOf(req), req.params.id));
      return reply.status(204).send(null);
    },
  );

  // ---- flagged stations ----

  interface FlagRow {
    id: number;
    station_id: number;
    reason: string;
    flagged_by: number | null;
    flagged_at: Date;
    cleared_by: number | null;
    cleared_at: Date | null;
  }
  const flagOut = (r: FlagRow) => ({
    id: r.id,
    stationId: r.station_id,
    reason: r.reason,
    flaggedBy: r.flagged_by,
    flaggedAt: r.flagged_at.toISOString(),
    clearedBy: r.cleared_by,
    clearedAt: iso(r.cleared_at),
  });

  app.get(
    '/api/v1/risk/flagged-stations',
    {
      config: { access: access.roles(...READERS) },
      schema: {
        tags,
        summary: 'Stations flagged as compromised / 风险油站列表',
        description: 'By default the open flags; `all=true` includes cleared ones.',
        security: bearer,
        querystring: Type.Object(
          {
            stationId: Type.Optional(Id()),
            all: Type.Optional(Type.Boolean()),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE })),
            cursor: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,15}$' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(FlagSchema), nextCursor: Nullable(Type.String()) }) },
      },
    },
    async (req) => {
      const q = req.query;
      const limit = pageSize(q.limit, MAX_PAGE);
      const r = await sql<FlagRow>`select * from risk_flagged_stations where true
          ${q.stationId !== undefined ? sql`and station_id = ${q.stationId}` : sql``}
          ${q.all ? sql`` : sql`and cleared_at is null`}
          ${q.cursor ? sql`and id < ${Number(q.cursor)}` : sql``}
        order by id desc limit ${limit + 1}`.execute(db);
      const rows = r.rows.slice(0, limit);
      return { items: rows.map(flagOut), nextCursor: r.rows.length > limit ? String(rows[rows.length - 1]!.id) : null };
    },
  );

  app.post(
    '/api/v1/risk/flagged-stations',
    {
      config: { access: access.roles(...MANAGERS) },
      schema: {
        tags,
        summary: 'Flag a station as compromised / 标记风险油站',
        description: 'Idempotent: a station already flagged keeps its open flag (and its first reason).',
        security: bearer,
        body: Type.Object({ stationId: Id(), reason: Reason }, { additionalProperties: false }),
        response: { 201: FlagSchema },
      },
    },
    async (req, reply) => {
      const b = req.body;
      await mustExist(db, 'stations', b.stationId, 'body.stationId');
      await db.transaction().execute((trx) => flagStation(trx, actorOf(req), b.stationId, b.reason));
      const r = await sql<FlagRow>`select * from risk_flagged_stations where station_id = ${b.stationId} and cleared_at is null`.execute(db);
      return reply.status(201).send(flagOut(r.rows[0]!));
    },
  );

  app.delete(
    '/api/v1/risk/flagged-stations/:stationId',
    {
      config: { access: access.roles(...MANAGERS) },
      schema: {
        tags,
        summary: 'Clear a station’s flag / 解除风险油站标记',
        security: bearer,
        params: Type.Object({ stationId: Id() }),
        response: { 204: Type.Null() },
      },
    },
    async (req, reply) => {
      const r = await sql<{ id: number }>`select id from risk_flagged_stations where station_id = ${req.params.stationId} and cleared_at is null`.execute(db);
      if (!r.rows[0]) throw platformError('NOT_FOUND', { field: 'stationId' });
      await db.transaction().execute((trx) => clearStationFlag(trx, actorOf(req), req.params.stationId));
      return reply.status(204).send(null);
    },
  );

  // ---- decisions ----

  interface DecisionRow {
    id: string;
    card_id: number | null;
    station_id: number | null;
    terminal_id: string | null;
    sale_ref: string | null;
    outcome: string;
    hits: unknown;
    context?: unknown;
    param_version_id: number | null;
    params_hash: string;
    engine_version: number;
    created_at: Date;
    cursor_at: string;
  }
  const decisionOut = (r: DecisionRow) => ({
    id: r.id,
    cardId: r.card_id,
    stationId: r.station_id,
    terminalId: r.terminal_id,
    saleRef: r.sale_ref,
    outcome: r.outcome,
    hits: r.hits,
    paramVersionId: r.param_version_id,
    paramsHash: r.params_hash,
    engineVersion: r.engine_version,
    createdAt: r.created_at.toISOString(),
  });

  app.get(
    '/api/v1/risk/decisions',
    {
      config: { access: access.roles(...READERS) },
      schema: {
        tags,
        summary: 'Risk decisions, newest first / 风控决策列表',
        security: bearer,
        querystring: Type.Object(
          {
            cardId: Type.Optional(Id()),
            outcome: Type.Optional(lit(OUTCOMES)),
            from: Type.Optional(Time),
            to: Type.Optional(Time),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE, description: 'default 50' })),
            cursor: Type.Optional(Type.String({ maxLength: 200 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(DecisionItemSchema), nextCursor: Nullable(Type.String()) }) },
      },
    },
    async (req) => {
      const q = req.query;
      const from = parseTimeFilter(q.from, 'querystring.from');
      const to = parseTimeFilter(q.to, 'querystring.to');
      const cursor = decodeCursor(q.cursor, 'uuid');
      const limit = pageSize(q.limit, MAX_PAGE);
      const r = await sql<DecisionRow>`
        select id, card_id, station_id, terminal_id, sale_ref, outcome, hits, param_version_id, params_hash, engine_version, created_at,
               to_char(created_at at time zone 'UTC', ${CURSOR_TIME_FORMAT}) as cursor_at
        from risk_decisions where true
          ${q.cardId !== undefined ? sql`and card_id = ${q.cardId}` : sql``}
          ${q.outcome ? sql`and outcome = ${q.outcome}` : sql``}
          ${from ? sql`and created_at >= ${from}` : sql``}
          ${to ? sql`and created_at < ${to}` : sql``}
          ${cursor ? sql`and (created_at, id) < (${cursor.at}::timestamptz, ${cursor.id}::uuid)` : sql``}
        order by created_at desc, id desc limit ${limit + 1}`.execute(db);
      const rows = r.rows.slice(0, limit);
      const last = rows[rows.length - 1];
      return { items: rows.map(decisionOut), nextCursor: r.rows.length > limit && last ? encodeCursor(last.cursor_at, last.id) : null };
    },
  );

  app.get(
    '/api/v1/risk/decisions/:id',
    {
      config: { access: access.roles(...READERS) },
      schema: {
        tags,
        summary: 'One risk decision with what the engine saw / 风控决策详情',
        security: bearer,
        params: Type.Object({ id: Uuid }),
        response: { 200: DecisionSchema },
      },
    },
    async (req) => {
      const r = await sql<DecisionRow>`select *, '' as cursor_at from risk_decisions where id = ${req.params.id}`.execute(db);
      if (!r.rows[0]) throw platformError('NOT_FOUND', { field: 'id' });
      return { ...decisionOut(r.rows[0]), context: r.rows[0].context };
    },
  );

  app.post(
    '/api/v1/risk/decisions/:id/replay',
    {
      config: { access: access.roles(...READERS) },
      schema: {
        tags,
        summary: 'Replay a decision from its record: same result or not / 重放风控决策并比对',
        description: 'Reads only. RISK_DECISION_NOT_REPLAYABLE when its parameters no longer validate or do not hash to what it names.',
        security: bearer,
        params: Type.Object({ id: Uuid }),
        response: {
          200: Type.Object({ same: Type.Boolean(), recorded: Type.Object({ outcome: Type.String(), hits: Type.Unknown() }), replayed: Type.Object({ outcome: Type.String(), hits: Type.Unknown(), errors: Type.Unknown() }) }),
        },
      },
    },
    async (req) => {
      const record = await loadDecisionRecord(db, req.params.id);
      if (!record) throw platformError('NOT_FOUND', { field: 'id' });
      const result = replay(record);
      return {
        same: result.same,
        recorded: { outcome: record.decision.outcome, hits: record.decision.hits },
        replayed: { outcome: result.decision.outcome, hits: result.decision.hits, errors: result.decision.errors },
      };
    },
  );
}
