import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Config, Db, Trx } from '../platform/index.js';
import { systemActor, type Actor } from '../platform/index.js';
import { operateCard, type CardDeps } from '../cards/index.js';
import {
  DEFAULT_PARAM_SET,
  ENGINE_VERSION,
  evaluate,
  loadRiskContext,
  localHour,
  openRiskCase,
  paramsForCard,
  recordDecision,
  type Outcome,
  type RiskContext,
  type RiskContextInput,
  type RiskDecision,
  type SaleChannel,
} from '../risk/index.js';

/**
 * The risk gate of every authorisation (issue 7 §1–§2, docs/risk-sale-path.md). It runs after the
 * card's row lock and the cards module's own checks, in the sale's transaction: the context, the
 * parameters, the engine, the decision row, the review case and (for a freeze) the card frozen,
 * then it tells the caller what to answer. The engine is advice on top of the hard limits: when it
 * is slow or broken the sale goes on under the hard limits alone, and the fact is recorded.
 */

/** How long the context load may take (ms) before the gate gives up on it: the default of FUELCARD_RISK_CONTEXT_TIMEOUT_MS. */
export const RISK_CONTEXT_TIMEOUT_MS = 200;

export interface RiskGateOptions {
  /** False: the gate is skipped entirely (no decision row): the bench's "without engine" and an emergency switch (proposed env RISK_ENGINE_ENABLED). */
  enabled: boolean;
  /** Overrides the configured budget (config.riskContextTimeoutMs) for this process: tests and bench. */
  contextTimeoutMs?: number;
  /** The loader; tests replace it to force a slow or failing load through the real budget guard. */
  loadContext: (trx: Trx, input: RiskContextInput) => Promise<RiskContext | null>;
}

const DEFAULT_OPTIONS: RiskGateOptions = { enabled: true, loadContext: loadRiskContext };
let options: RiskGateOptions = { ...DEFAULT_OPTIONS };

/** Change the gate's options for this process (tests, bench); returns the function that restores them. */
export function configureRiskGate(over: Partial<RiskGateOptions>): () => void {
  const before = options;
  options = { ...options, ...over };
  return () => {
    options = before;
  };
}

/**
 * A step-up the terminal says it did for this attempt: 'pin' — the terminal asked the holder for
 * the PIN again and this request carries it (it verified, or the cards module would have declined);
 * 'staff' — the cashier of the terminal's open shift checked the holder's ID.
 */
export type RiskConfirmation = 'pin' | 'staff';

export const RISK_DECLINE_CODES = ['RISK_STEP_UP', 'RISK_REVIEW', 'RISK_DECLINED', 'RISK_FROZEN'] as const;
export type RiskDeclineCode = (typeof RISK_DECLINE_CODES)[number];

export interface RiskGateInput {
  card: { id: number; card_no: string };
  channel: SaleChannel;
  amount: number;
  volumeMl: number | null;
  grade: string | null;
  stationId: number;
  terminalId: string;
  at: Date;
  /** What the card's open pump authorisations hold (fen): counted as spent by the period rules. */
  pendingAmount: number;
  saleId?: string | null;
  authorisationId?: string | null;
  confirmation?: RiskConfirmation;
  /** The terminal's open shift (a 'staff' confirmation needs one). */
  shiftId?: number | null;
  /** A sale already written is not its own history (offline upload). */
  excludeSaleId?: string;
  /**
   * False: the channel cannot hold a pump for a reviewer nor carry a step-up answer (ISO 8583): a
   * `delay` is a plain RISK_REVIEW decline that holds nothing. Default true.
   */
  reviewable?: boolean;
}

export interface RiskVerdict {
  /** What the engine decided (approve_flag when it could not decide). */
  outcome: Outcome;
  decisionId: string | null;
  /**
   * What the caller does: 'approve' (go on, maybe flagged), 'decline' with `declineCode`, or
   * 'review' (a pump authorisation held for a reviewer). After-the-fact channels (completion,
   * offline) always get 'approve'.
   */
  action: 'approve' | 'decline' | 'review';
  declineCode?: RiskDeclineCode;
  /** The card was frozen by this decision. */
  frozen: boolean;
  /** Why the engine could not decide (budget guard), if it could not. */
  degraded?: string;
}

/**
 * What a sale records of the verdict it was taken under (sales.risk_decision_id, risk_outcome): the
 * decision, or the outcome alone when the engine could not decide; nothing when it was not asked.
 */
export function saleRiskOf(risk: RiskVerdict): { decisionId: string | null; outcome: Outcome } | null {
  return risk.decisionId || risk.degraded ? { decisionId: risk.decisionId, outcome: risk.outcome } : null;
}

export interface RiskGateDeps {
  /** Only the freeze's card operation takes it; the sale's transaction is used when absent. */
  db?: Db;
  config: Config;
  logger?: Pick<Logger, 'warn' | 'error'>;
}

const PASS: RiskVerdict = { outcome: 'approve', decisionId: null, action: 'approve', frozen: false };
const AFTER_THE_FACT: ReadonlySet<SaleChannel> = new Set(['completion', 'offline']);

/** The actor of an automated freeze: the engine, named by its decision (PIPL Art. 24). */
function engineActor(decisionId: string): Actor {
  return { ...systemActor, name: 'risk-engine', requestId: `risk-decision:${decisionId}` };
}

/** How long a RISK_STEP_UP answer stays open for the terminal's retry with a confirmation. */
export const STEP_UP_CHALLENGE_MS = 10 * 60_000;

/**
 * A confirmation is only an answer to a challenge: a RISK_STEP_UP decline of this card at this
 * terminal in the last STEP_UP_CHALLENGE_MS that no satisfied step-up has answered since. Without
 * one the field is ignored, so a terminal that always sends it is stepped up like any other. Runs
 * under the card's lock, so two retries cannot both answer one challenge.
 */
async function openChallenge(trx: Trx, input: RiskGateInput): Promise<boolean> {
  const r = await sql<{ id: string }>`select d.id from risk_decisions d
    where d.card_id = ${input.card.id} and d.terminal_id = ${input.terminalId} and d.outcome = 'step_up' and d.step_up is null
      and d.created_at > clock_timestamp() - ${STEP_UP_CHALLENGE_MS} * interval '1 millisecond'
      and coalesce(d.context->'sale'->>'channel', '') not in ('completion', 'offline')
      and not exists (select 1 from risk_decisions a where a.card_id = d.card_id and a.terminal_id = d.terminal_id
        and a.step_up is not null and a.created_at >= d.created_at)
    limit 1`.execute(trx);
  return r.rows.length > 0;
}

async function stepUpSatisfied(trx: Trx, input: RiskGateInput): Promise<boolean> {
  if (input.reviewable === false) return false;
  const confirmed = input.confirmation === 'pin' || (input.confirmation === 'staff' && (input.shiftId ?? 0) > 0);
  return confirmed && openChallenge(trx, input);
}

/** What an outcome makes the caller do, channel by channel (the table in docs/risk-sale-path.md). */
export function actionFor(outcome: Outcome, channel: SaleChannel, stepUp: boolean, reviewable = true): Pick<RiskVerdict, 'action' | 'declineCode'> {
  if (AFTER_THE_FACT.has(channel)) return { action: 'approve' };
  switch (outcome) {
    case 'approve':
    case 'approve_flag':
      return { action: 'approve' };
    case 'step_up':
      return stepUp ? { action: 'approve' } : { action: 'decline', declineCode: 'RISK_STEP_UP' };
    case 'delay':
      return channel === 'preauth' && reviewable ? { action: 'review' } : { action: 'decline', declineCode: 'RISK_REVIEW' };
    case 'decline':
      return { action: 'decline', declineCode: 'RISK_DECLINED' };
    case 'freeze':
      return { action: 'decline', declineCode: 'RISK_FROZEN' };
  }
}

const SETTING = /^[0-9a-z]+$/;

/**
 * Context and parameters under the budget: a savepoint with its own statement_timeout, so a slow
 * or failing load rolls back to the savepoint and leaves the sale's transaction usable.
 */
async function loadUnderBudget(trx: Trx, config: Config, input: RiskGateInput): Promise<{ ctx: RiskContext; set: typeof DEFAULT_PARAM_SET } | { error: string }> {
  const timeout = Math.max(1, Math.floor(options.contextTimeoutMs ?? config.riskContextTimeoutMs));
  await sql.raw('savepoint risk_context').execute(trx);
  try {
    const prev = (await sql<{ prev: string }>`select current_setting('statement_timeout') as prev, set_config('statement_timeout', ${String(timeout)}, true)`.execute(trx)).rows[0]!.prev;
    const ctx = await options.loadContext(trx, {
      cardId: input.card.id,
      amount: input.amount,
      volumeMl: input.volumeMl,
      grade: input.grade,
      stationId: input.stationId,
      terminalId: input.terminalId,
      at: input.at,
      channel: input.channel,
      timeZone: config.timeZone,
      pendingAmount: input.pendingAmount,
      ...(input.excludeSaleId ? { excludeSaleId: input.excludeSaleId } : {}),
    });
    if (!ctx) throw new Error('risk context: card or station not found');
    const set = await paramsForCard(trx, ctx.card);
    // Released, the savepoint keeps its SET LOCAL: put the transaction's own timeout back.
    await sql.raw(`release savepoint risk_context; set local statement_timeout = '${SETTING.test(prev) ? prev : '0'}'`).execute(trx);
    return { ctx, set };
  } catch (err) {
    // Rolling back to the savepoint also undoes its SET LOCAL.
    await sql.raw('rollback to savepoint risk_context; release savepoint risk_context').execute(trx);
    const code = (err as { code?: string }).code;
    return { error: code === '57014' ? 'context_timeout' : `context_error:${code ?? (err instanceof Error ? err.message.slice(0, 120) : 'unknown')}` };
  }
}

/** The context recorded with a decision the engine could not take: the sale alone, no history. */
function bareContext(input: RiskGateInput, config: Config): RiskContext {
  const empty = { amount: 0, volumeMl: 0, fills: 0 };
  return {
    sale: {
      cardId: input.card.id,
      amount: input.amount,
      volumeMl: input.volumeMl,
      grade: input.grade,
      stationId: input.stationId,
      terminalId: input.terminalId,
      at: input.at.getTime(),
      localHour: localHour(input.at, config.timeZone),
      channel: input.channel,
    },
    station: { id: input.stationId, lat: 0, lng: 0, flagged: null },
    card: { id: input.card.id, kind: 'personal', masterCardId: null, customerId: null, createdAt: 0 },
    recent: [],
    recentWindowMs: 0,
    usage: { day: empty, week: empty, month: empty },
    stats: { days: 0, count: 0, mean: 0, sd: 0, p95: 0, hourCounts: new Array<number>(24).fill(0) },
    moneyMoves: [],
    vehicle: null,
    silenced: [],
  };
}

/**
 * The gate. Call it after authoriseCardUse returned ok (the card is locked), before the accounts.
 * Never throws for the engine's sake: a failure anywhere in it approves on the hard limits.
 */
export async function assessRisk(trx: Trx, deps: RiskGateDeps, input: RiskGateInput): Promise<RiskVerdict> {
  if (!options.enabled) return PASS;
  const loaded = await loadUnderBudget(trx, deps.config, input);
  let ctx: RiskContext;
  let decision: RiskDecision;
  let note: string | null = null;
  if ('error' in loaded) {
    // The engine could not look: the cards module's hard limits already passed, so the sale goes on,
    // flagged, and the decision row says why (the reviewer sees a sale nobody checked).
    note = loaded.error;
    ctx = bareContext(input, deps.config);
    decision = { outcome: 'approve_flag', hits: [], errors: [loaded.error], paramVersion: DEFAULT_PARAM_SET.ref, engineVersion: ENGINE_VERSION };
    deps.logger?.warn({ cardId: input.card.id, channel: input.channel, reason: note }, 'risk gate degraded: approved on hard limits');
  } else {
    ctx = loaded.ctx;
    decision = evaluate(loaded.set, ctx);
  }

  const stepUp = decision.outcome === 'step_up' && !AFTER_THE_FACT.has(input.channel) && input.confirmation !== undefined && (await stepUpSatisfied(trx, input));
  const act = actionFor(decision.outcome, input.channel, stepUp, input.reviewable !== false);
  const freeze = decision.outcome === 'freeze';

  // Writing the decision, the case and the freeze: if any of it fails, the sale must not.
  await sql.raw('savepoint risk_record').execute(trx);
  try {
    const decisionId = await recordDecision(trx, ctx, decision, input.saleId ?? input.authorisationId ?? null);
    if (note !== null || stepUp || input.authorisationId) {
      await sql`update risk_decisions set note = ${note}, step_up = ${stepUp ? input.confirmation! : null}, authorisation_id = ${input.authorisationId ?? null}
        where id = ${decisionId}`.execute(trx);
    }
    if (decision.outcome !== 'approve') {
      await openRiskCase(trx, {
        cardId: input.card.id,
        decisionId,
        outcome: decision.outcome,
        channel: input.channel,
        amount: input.amount,
        saleId: input.saleId ?? null,
        authorisationId: act.action === 'decline' ? null : (input.authorisationId ?? null),
        stationId: input.stationId,
        at: input.at,
      });
    }
    let frozen = false;
    if (freeze) frozen = await freezeCard(trx, deps, input.card.card_no, decisionId, decision);
    await sql.raw('release savepoint risk_record').execute(trx);
    return { outcome: decision.outcome, decisionId, ...act, frozen, ...(note ? { degraded: note } : {}) };
  } catch (err) {
    await sql.raw('rollback to savepoint risk_record; release savepoint risk_record').execute(trx);
    deps.logger?.error({ err, cardId: input.card.id, channel: input.channel }, 'risk decision could not be recorded: approved on hard limits');
    return { outcome: 'approve_flag', decisionId: null, action: 'approve', frozen: false, degraded: 'record_failed' };
  }
}

/**
 * Freeze through the cards module's own operation (status, card event, audit, outbox), as the
 * engine: the audit row names the decision, the explanation is the decision's hits. A card the
 * operation refuses (already frozen, lost…) is left as it is.
 */
async function freezeCard(trx: Trx, deps: RiskGateDeps, cardNo: string, decisionId: string, decision: RiskDecision): Promise<boolean> {
  const card = (await sql<{ status: string }>`select status from cards where card_no = ${cardNo}`.execute(trx)).rows[0];
  if (card?.status !== 'active') return false;
  const rules = decision.hits.filter((h) => h.enforced && h.outcome === 'freeze').map((h) => h.rule);
  // A freeze neither reads nor writes encrypted fields: the cipher is not needed.
  const cardDeps = { db: deps.db ?? trx, config: deps.config } as CardDeps;
  await operateCard(trx, cardDeps, engineActor(decisionId), cardNo, 'freeze', {
    reason: `风控自动冻结 / automated risk freeze: decision ${decisionId} (${rules.join(', ')})`,
    operationId: `risk-freeze:${decisionId}`,
  });
  return true;
}

/**
 * The authorisation a decision was taken for was not created after all (the funds or arrears check
 * after the gate declined it): the decision and its case item must not point at it. The case item
 * keeps the engine's outcome (what it decided); with no authorisation, nothing is held for review.
 */
export async function forgetAuthorisation(trx: Trx, decisionId: string | null, authorisationId: string): Promise<void> {
  if (!decisionId) return;
  await sql`update risk_decisions set authorisation_id = null where id = ${decisionId} and authorisation_id = ${authorisationId}`.execute(trx);
  await sql`update risk_case_items set authorisation_id = null where decision_id = ${decisionId} and authorisation_id = ${authorisationId}`.execute(trx);
}
