import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { audit, type Actor, type Executor, type Trx } from '../platform/index.js';
import { riskError } from './risk.errors.js';
import { DEFAULT_PARAM_SET, paramsHash, validateParams, type ParamSet } from './risk.params.js';
import { RULE_IDS, type RuleId } from './risk.rules.js';
import type { DecisionRecord, RiskCard, RiskContext, RiskDecision } from './risk.types.js';

/**
 * The risk engine's data: parameter versions (draft → pending_approval → published → retired,
 * or rejected), the decisions it takes, per-card rule silences and flagged stations. Every change
 * is audited in the caller's transaction. Four eyes: the author of a version never approves it
 * (checked here, and by the table's check constraint).
 */

export type ParamScope = 'programme' | 'segment' | 'enterprise';
export type ParamStatus = 'draft' | 'pending_approval' | 'published' | 'retired' | 'rejected';

export interface ParamVersion {
  id: number;
  scope: ParamScope;
  scopeKey: string;
  version: number;
  params: unknown;
  hash: string;
  status: ParamStatus;
  note: string | null;
  createdBy: number;
  approvedBy: number | null;
  publishedAt: Date | null;
}

interface VersionRow {
  id: number;
  scope: ParamScope;
  scope_key: string;
  version: number;
  params: unknown;
  params_hash: string;
  status: ParamStatus;
  note: string | null;
  created_by: number;
  approved_by: number | null;
  published_at: Date | null;
}

const toVersion = (r: VersionRow): ParamVersion => ({
  id: r.id,
  scope: r.scope,
  scopeKey: r.scope_key,
  version: r.version,
  params: r.params,
  hash: r.params_hash,
  status: r.status,
  note: r.note,
  createdBy: r.created_by,
  approvedBy: r.approved_by,
  publishedAt: r.published_at,
});

function staffOf(actor: Actor): number {
  if (actor.staffId === null) throw riskError('RISK_PARAM_VERSION_STATE', { reason: 'staff_required' });
  return actor.staffId;
}

const SCOPE_KEY = /^[a-z0-9_]{1,40}$/;

/** A new draft for a scope, validated in full: an invalid version never reaches the table. */
export async function createParamDraft(trx: Trx, actor: Actor, input: { scope: ParamScope; scopeKey: string; params: unknown; note?: string }): Promise<ParamVersion> {
  const author = staffOf(actor);
  if (!SCOPE_KEY.test(input.scopeKey)) throw riskError('RISK_PARAMS_INVALID', { field: 'scopeKey' });
  const check = validateParams(input.params);
  if (!check.ok) throw riskError('RISK_PARAMS_INVALID', { errors: check.errors.slice(0, 20) });
  // Serialise version numbers per scope: two drafts at once would both take max + 1.
  await sql`select pg_advisory_xact_lock(hashtext('risk_params'), hashtext(${`${input.scope}:${input.scopeKey}`}))`.execute(trx);
  const r = await sql<VersionRow>`
    insert into risk_parameter_versions (scope, scope_key, version, params, params_hash, status, note, created_by)
    values (${input.scope}, ${input.scopeKey},
            (select coalesce(max(version), 0) + 1 from risk_parameter_versions where scope = ${input.scope} and scope_key = ${input.scopeKey}),
            ${JSON.stringify(check.params)}::jsonb, ${paramsHash(check.params)}, 'draft', ${input.note ?? null}, ${author})
    returning *`.execute(trx);
  const v = toVersion(r.rows[0]!);
  await audit(trx, actor, { action: 'risk.params.draft', targetType: 'risk_parameter_version', targetId: v.id, details: { scope: v.scope, scopeKey: v.scopeKey, version: v.version, hash: v.hash } });
  return v;
}

/** One version, for reading (the staff API, a backtest of it). */
export async function getParamVersion(db: Executor, id: number): Promise<ParamVersion> {
  const r = await sql<VersionRow>`select * from risk_parameter_versions where id = ${id}`.execute(db);
  if (!r.rows[0]) throw riskError('RISK_PARAM_VERSION_NOT_FOUND', { id });
  return toVersion(r.rows[0]);
}

/** Versions newest first, `limit + 1` rows so the caller knows whether another page follows. */
export async function listParamVersions(
  db: Executor,
  q: { scope?: ParamScope; scopeKey?: string; status?: ParamStatus; beforeId?: number; limit: number },
): Promise<ParamVersion[]> {
  const r = await sql<VersionRow>`select * from risk_parameter_versions
    where true
      ${q.scope ? sql`and scope = ${q.scope}` : sql``}
      ${q.scopeKey ? sql`and scope_key = ${q.scopeKey}` : sql``}
      ${q.status ? sql`and status = ${q.status}` : sql``}
      ${q.beforeId !== undefined ? sql`and id < ${q.beforeId}` : sql``}
    order by id desc limit ${q.limit + 1}`.execute(db);
  return r.rows.map(toVersion);
}

async function lockVersion(trx: Trx, id: number): Promise<ParamVersion> {
  const r = await sql<VersionRow>`select * from risk_parameter_versions where id = ${id} for update`.execute(trx);
  if (!r.rows[0]) throw riskError('RISK_PARAM_VERSION_NOT_FOUND', { id });
  return toVersion(r.rows[0]);
}

/** The author asks for approval; only the author may. */
export async function submitParamVersion(trx: Trx, actor: Actor, id: number): Promise<ParamVersion> {
  const who = staffOf(actor);
  const v = await lockVersion(trx, id);
  if (v.status !== 'draft' || v.createdBy !== who) throw riskError('RISK_PARAM_VERSION_STATE', { id, status: v.status });
  await sql`update risk_parameter_versions set status = 'pending_approval', submitted_at = now() where id = ${id}`.execute(trx);
  await audit(trx, actor, { action: 'risk.params.submit', targetType: 'risk_parameter_version', targetId: id, details: { hash: v.hash } });
  return { ...v, status: 'pending_approval' };
}

/**
 * A second person approves, which publishes the version and retires the scope's previous one.
 * Going back is publishing a copy of an older version (createParamDraft with its params).
 */
export async function approveParamVersion(trx: Trx, actor: Actor, id: number): Promise<ParamVersion> {
  const approver = staffOf(actor);
  const v = await lockVersion(trx, id);
  if (v.status !== 'pending_approval') throw riskError('RISK_PARAM_VERSION_STATE', { id, status: v.status });
  if (v.createdBy === approver) throw riskError('RISK_SELF_APPROVAL', { id });
  const prev = await sql<{ id: number }>`
    update risk_parameter_versions set status = 'retired', retired_at = now()
    where scope = ${v.scope} and scope_key = ${v.scopeKey} and status = 'published' returning id`.execute(trx);
  await sql`update risk_parameter_versions set status = 'published', approved_by = ${approver}, approved_at = now(), published_at = now()
    where id = ${id}`.execute(trx);
  await audit(trx, actor, {
    action: 'risk.params.publish',
    targetType: 'risk_parameter_version',
    targetId: id,
    details: { scope: v.scope, scopeKey: v.scopeKey, version: v.version, hash: v.hash, author: v.createdBy, retired: prev.rows.map((p) => p.id) },
  });
  return { ...v, status: 'published', approvedBy: approver };
}

export async function rejectParamVersion(trx: Trx, actor: Actor, id: number, reason: string): Promise<ParamVersion> {
  staffOf(actor);
  const v = await lockVersion(trx, id);
  if (v.status !== 'pending_approval' && v.status !== 'draft') throw riskError('RISK_PARAM_VERSION_STATE', { id, status: v.status });
  await sql`update risk_parameter_versions set status = 'rejected' where id = ${id}`.execute(trx);
  await audit(trx, actor, { action: 'risk.params.reject', targetType: 'risk_parameter_version', targetId: id, details: { reason } });
  return { ...v, status: 'rejected' };
}

/**
 * The parameters in force for a card: its enterprise's (a sub card's master), else its segment's
 * (the card kind), else the programme's, else the built-in default. One indexed query.
 */
export async function paramsForCard(db: Executor, card: Pick<RiskCard, 'kind' | 'masterCardId'>): Promise<ParamSet> {
  const r = await sql<{ id: number; params: unknown; params_hash: string }>`
    select id, params, params_hash from risk_parameter_versions
    where status = 'published' and (
      (scope = 'enterprise' and scope_key = ${card.masterCardId === null ? '' : String(card.masterCardId)})
      or (scope = 'segment' and scope_key = ${card.kind})
      or (scope = 'programme' and scope_key = 'default'))
    order by case scope when 'enterprise' then 0 when 'segment' then 1 else 2 end
    limit 1`.execute(db);
  const row = r.rows[0];
  if (!row) return DEFAULT_PARAM_SET;
  const check = validateParams(row.params);
  // A stored version was valid when published; a later code change that makes it invalid falls back
  // to the defaults rather than failing every sale.
  if (!check.ok) return DEFAULT_PARAM_SET;
  return { params: check.params, ref: { id: row.id, hash: row.params_hash } };
}

/** Records a decision with its context, in the sale's transaction. Returns the decision's id. */
export async function recordDecision(db: Executor, context: RiskContext, decision: RiskDecision, saleRef: string | null = null): Promise<string> {
  const id = randomUUID();
  await sql`
    insert into risk_decisions (id, card_id, station_id, terminal_id, sale_ref, outcome, hits, context, param_version_id, params_hash, engine_version)
    values (${id}, ${context.sale.cardId}, ${context.sale.stationId}, ${context.sale.terminalId}, ${saleRef}, ${decision.outcome},
            ${JSON.stringify({ hits: decision.hits, errors: decision.errors })}::jsonb, ${JSON.stringify(context)}::jsonb,
            ${decision.paramVersion.id}, ${decision.paramVersion.hash}, ${decision.engineVersion})`.execute(db);
  return id;
}

/** A stored decision, with the parameters it was taken with, ready for replay(). */
export async function loadDecisionRecord(db: Executor, id: string): Promise<DecisionRecord | null> {
  const r = await sql<{ outcome: RiskDecision['outcome']; hits: { hits: RiskDecision['hits']; errors: string[] }; context: RiskContext; param_version_id: number | null; params_hash: string; engine_version: number; params: unknown }>`
    select d.outcome, d.hits, d.context, d.param_version_id, d.params_hash, d.engine_version, v.params
    from risk_decisions d left join risk_parameter_versions v on v.id = d.param_version_id
    where d.id = ${id}`.execute(db);
  const row = r.rows[0];
  if (!row) return null;
  const params = row.param_version_id === null ? DEFAULT_PARAM_SET.params : row.params;
  const paramVersion = { id: row.param_version_id, hash: row.params_hash };
  return {
    params,
    paramVersion,
    context: row.context,
    decision: { outcome: row.outcome, hits: row.hits.hits, errors: row.hits.errors, paramVersion, engineVersion: row.engine_version },
  };
}

/** A reviewer silences one rule for one card until a time (after a false positive). */
export async function silenceRule(trx: Trx, actor: Actor, input: { cardId: number; rule: string; until: Date; reason: string; decisionId?: string }): Promise<number> {
  const by = staffOf(actor);
  if (!(RULE_IDS as string[]).includes(input.rule) || !(input.until.getTime() > Date.now())) throw riskError('RISK_SILENCE_INVALID', { rule: input.rule });
  const r = await sql<{ id: number }>`
    insert into risk_rule_silences (card_id, rule, until, reason, created_by, decision_id)
    values (${input.cardId}, ${input.rule as RuleId}, ${input.until}, ${input.reason}, ${by}, ${input.decisionId ?? null}) returning id`.execute(trx);
  const id = r.rows[0]!.id;
  await audit(trx, actor, { action: 'risk.silence', targetType: 'card', targetId: input.cardId, details: { silenceId: id, rule: input.rule, until: input.until.toISOString(), reason: input.reason } });
  return id;
}

export async function revokeSilence(trx: Trx, actor: Actor, silenceId: number): Promise<void> {
  staffOf(actor);
  await sql`update risk_rule_silences set revoked_at = now() where id = ${silenceId} and revoked_at is null`.execute(trx);
  await audit(trx, actor, { action: 'risk.silence.revoke', targetType: 'risk_rule_silence', targetId: silenceId });
}

/** Flags a station as compromised (idempotent: an open flag stays as it is). */
export async function flagStation(trx: Trx, actor: Actor, stationId: number, reason: string): Promise<void> {
  await sql`insert into risk_flagged_stations (station_id, reason, flagged_by) values (${stationId}, ${reason}, ${actor.staffId})
    on conflict (station_id) where cleared_at is null do nothing`.execute(trx);
  await audit(trx, actor, { action: 'risk.station.flag', targetType: 'station', targetId: stationId, details: { reason } });
}

export async function clearStationFlag(trx: Trx, actor: Actor, stationId: number): Promise<void> {
  await sql`update risk_flagged_stations set cleared_at = now(), cleared_by = ${actor.staffId} where station_id = ${stationId} and cleared_at is null`.execute(trx);
  await audit(trx, actor, { action: 'risk.station.clear', targetType: 'station', targetId: stationId });
}
