import { sql } from 'kysely';
import type { TestServer } from '../../test/support/server.js';
import type { Actor } from '../platform/index.js';
import { approveParamVersion, createParamDraft, DEFAULT_PARAMS, silenceRule, submitParamVersion, type ParamScope, type RuleId, type RiskParams } from '../risk/index.js';

/** A staff member as an actor (the risk store needs a staff id: drafts, approvals, silences). */
export async function staffActor(server: TestServer, username: string): Promise<Actor> {
  const r = await sql<{ id: number; role: string }>`select id, role from staff_users where username = ${username}`.execute(server.db.db);
  const row = r.rows[0]!;
  return { staffId: Number(row.id), name: username, role: row.role as Actor['role'], ip: null, requestId: null };
}

/**
 * Publish risk parameters the way operators do: a draft by one staff member, submitted, approved by
 * another (four eyes). `patch` changes fields over the built-in defaults.
 */
export async function publishRiskParams(
  server: TestServer,
  patch: Partial<{ [K in RuleId]: Partial<RiskParams[K]> }>,
  scope: { scope: ParamScope; scopeKey: string } = { scope: 'programme', scopeKey: 'default' },
): Promise<number> {
  const author = await staffActor(server, 't_risk');
  const approver = await staffActor(server, 'admin');
  const params = Object.fromEntries(Object.entries(DEFAULT_PARAMS).map(([k, v]) => [k, { ...v, ...(patch[k as RuleId] ?? {}) }]));
  return server.db.db.transaction().execute(async (trx) => {
    const draft = await createParamDraft(trx, author, { ...scope, params, note: 'test' });
    await submitParamVersion(trx, author, draft.id);
    await approveParamVersion(trx, approver, draft.id);
    return draft.id;
  });
}

/** The rules that count a card's own repeated sales: tests about money concurrency, not fraud, silence them. */
export const REPEAT_RULES: RuleId[] = ['velocity_sales', 'velocity_declines', 'card_testing'];

/** Silence rules for one card as a reviewer would (risk_rule_silences), for an hour. */
export async function silenceRisk(server: TestServer, cardNo: string, rules: RuleId[] = REPEAT_RULES, reason = 'test of money, not of risk'): Promise<void> {
  const actor = await staffActor(server, 't_risk');
  const card = (await sql<{ id: number }>`select id from cards where card_no = ${cardNo}`.execute(server.db.db)).rows[0]!;
  await server.db.db.transaction().execute(async (trx) => {
    for (const rule of rules) await silenceRule(trx, actor, { cardId: Number(card.id), rule, until: new Date(Date.now() + 3_600_000), reason });
  });
}
