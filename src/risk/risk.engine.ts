import type { Static, TSchema } from 'typebox';
import { canonicalJson, paramSet, validateParams, type ParamSet } from './risk.params.js';
import { RULE_IDS, RULES } from './risk.rules.js';
import { SEVERITY, type DecisionRecord, type Outcome, type RiskContext, type RiskDecision, type RuleHit } from './risk.types.js';
import { riskError } from './risk.errors.js';

/** Bumped when a rule's logic changes, so a replay can tell "other code" from "other answer". */
export const ENGINE_VERSION = 1;

type AnyRule = { evaluate: (p: Static<TSchema>, ctx: RiskContext) => Record<string, unknown> | null };

/**
 * The decision for one sale: every enabled rule runs (pure, synchronous, no I/O), every rule that
 * fires is recorded with its inputs, and the most severe enforced outcome wins. A shadow rule or
 * one silenced for this card is recorded but not enforced. A rule that throws is recorded as an
 * error and makes the sale at least flagged: the engine itself never throws.
 */
export function evaluate(set: ParamSet, ctx: RiskContext): RiskDecision {
  const hits: RuleHit[] = [];
  const errors: string[] = [];
  let outcome: Outcome = 'approve';
  let silenced: readonly unknown[] = [];
  try {
    if (Array.isArray(ctx.silenced)) silenced = ctx.silenced;
  } catch {
    /* a hostile context object: no silences */
  }
  for (const id of RULE_IDS) {
    const p = set.params[id];
    if (!p.enabled) continue;
    let fired: Record<string, unknown> | null;
    try {
      fired = (RULES[id] as unknown as AnyRule).evaluate(p, ctx);
    } catch {
      errors.push(id);
      continue;
    }
    if (!fired) continue;
    const suppressedBy = p.shadow ? 'shadow' : silenced.includes(id) ? 'silence' : null;
    const enforced = suppressedBy === null;
    hits.push({ rule: id, outcome: p.outcome, enforced, suppressedBy, inputs: fired as RuleHit['inputs'] });
    if (enforced && SEVERITY[p.outcome] > SEVERITY[outcome]) outcome = p.outcome;
  }
  if (errors.length > 0 && SEVERITY[outcome] < SEVERITY.approve_flag) outcome = 'approve_flag';
  return { outcome, hits, errors, paramVersion: set.ref, engineVersion: ENGINE_VERSION };
}

export interface ReplayResult {
  decision: RiskDecision;
  /** The replay reached the very same decision (outcome, hits and their inputs, errors). */
  same: boolean;
}

/**
 * Evaluates a recorded decision again from what it recorded (the parameters and the context) and
 * says whether the answer is the same. The parameters must hash to what the decision names, so a
 * record cannot be replayed against parameters other than the ones it was taken with.
 */
export function replay(record: DecisionRecord): ReplayResult {
  const check = validateParams(record.params);
  if (!check.ok) throw riskError('RISK_DECISION_NOT_REPLAYABLE', { errors: check.errors.slice(0, 10) });
  const set = paramSet(check.params, record.paramVersion.id);
  if (set.ref.hash !== record.paramVersion.hash) throw riskError('RISK_DECISION_NOT_REPLAYABLE', { reason: 'params_hash_mismatch' });
  const decision = evaluate(set, record.context);
  return { decision, same: canonicalJson(decision) === canonicalJson(record.decision) };
}
