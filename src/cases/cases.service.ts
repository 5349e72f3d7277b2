import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Actor, Config, Db, Executor, FieldCipher, Trx } from '../platform/index.js';
import { audit, maskCardNo } from '../platform/index.js';
import { operateCard, requireLockedCard, type CardRow } from '../cards/index.js';
import { silenceRule, type RuleHit } from '../risk/index.js';
import { lockTerminalRef, openShiftFor, reverseByRef } from '../sales/index.js';
import { casesError } from './cases.errors.js';
import { notifyHolder } from './cases.notify.js';
import { caseItemRows, decisionHits, findCase, type CaseOutcomeName, type Resolution } from './cases.queries.js';
import { refuseReview, releaseReview } from './cases.sales-review.js';

export interface CaseDeps {
  db: Db;
  config: Config;
  cipher: FieldCipher;
  logger?: Logger;
}

/** Who may be assigned a case: the people who may also resolve it. */
export const ASSIGNEE_ROLES = ['risk', 'admin'] as const;
export const NOTE_MAX = 2000;
export const DEFAULT_SILENCE_DAYS = 1;
export const MAX_SILENCE_DAYS = 90;
/** An appeal opens a case with a day to answer: the holder waits for a person (PIPL Art. 24). */
export const APPEAL_SLA_MS = 24 * 3_600_000;
export const MAX_APPEALS_PER_CASE = 5;

async function event(db: Executor, caseId: number, kind: string, staffId: number | null, body: Record<string, unknown> = {}): Promise<void> {
  await sql`insert into risk_case_events (case_id, kind, staff_id, body) values (${caseId}, ${kind}, ${staffId}, ${JSON.stringify(body)}::jsonb)`.execute(db);
}

/** The case row locked, after its card's row: the sale path's order (card, then case), so the two cannot deadlock. */
async function lockCase(trx: Trx, caseId: number): Promise<{ card: CardRow; status: string; assignedTo: number | null }> {
  const head = await findCase(trx, caseId);
  const card = await requireLockedCard(trx, head.card_no);
  const r = await sql<{ status: string; assigned_to: number | null }>`select status, assigned_to from risk_cases where id = ${caseId} for update`.execute(trx);
  const row = r.rows[0]!;
  return { card, status: row.status, assignedTo: row.assigned_to === null ? null : Number(row.assigned_to) };
}

async function lockOpenCase(trx: Trx, caseId: number) {
  const c = await lockCase(trx, caseId);
  if (c.status === 'closed') throw casesError('CASES_ALREADY_RESOLVED', { caseId });
  return c;
}

export async function assignCase(trx: Trx, actor: Actor, caseId: number, staffId: number): Promise<void> {
  const c = await lockOpenCase(trx, caseId);
  const s = await sql<{ role: string; status: string }>`select role, status from staff_users where id = ${staffId}`.execute(trx);
  const staff = s.rows[0];
  if (!staff || staff.status !== 'active' || !(ASSIGNEE_ROLES as readonly string[]).includes(staff.role)) {
    throw casesError('CASES_ASSIGNEE_NOT_ELIGIBLE', { field: 'body.staffId', staffId });
  }
  await sql`update risk_cases set assigned_to = ${staffId}, assigned_at = now(), status = 'in_review', updated_at = now() where id = ${caseId}`.execute(trx);
  await event(trx, caseId, 'assigned', actor.staffId, { to: staffId, from: c.assignedTo });
  await audit(trx, actor, { action: 'cases.assign', targetType: 'risk_case', targetId: caseId, details: { to: staffId, from: c.assignedTo } });
}

export async function unassignCase(trx: Trx, actor: Actor, caseId: number): Promise<void> {
  const c = await lockOpenCase(trx, caseId);
  if (c.assignedTo === null) throw casesError('CASES_NOT_ASSIGNED', { caseId });
  await sql`update risk_cases set assigned_to = null, assigned_at = null, status = 'open', updated_at = now() where id = ${caseId}`.execute(trx);
  await event(trx, caseId, 'unassigned', actor.staffId, { from: c.assignedTo });
  await audit(trx, actor, { action: 'cases.unassign', targetType: 'risk_case', targetId: caseId, details: { from: c.assignedTo } });
}

/** Notes are allowed on closed cases too: what was learnt afterwards belongs to the case. */
export async function addNote(trx: Trx, actor: Actor, caseId: number, text: string): Promise<void> {
  await findCase(trx, caseId);
  await event(trx, caseId, 'note', actor.staffId, { text });
  await audit(trx, actor, { action: 'cases.note', targetType: 'risk_case', targetId: caseId, details: { length: text.length } });
}

// ── Resolution ──────────────────────────────────────────────────────────────────────────────────

export interface ResolveInput {
  resolution: Resolution;
  note: string;
  notifyHolder?: boolean;
  /** released / false_positive: how long the rules that fired stay silent for this card (default 1). */
  silenceDays?: number;
  /** reversed: the sales to reverse (the case card's approved sales). */
  saleIds?: string[];
}

export interface ResolveEffects {
  cardStatus: { from: string; to: string };
  released: string[];
  refused: string[];
  silenced: Array<{ rule: string; silenceId: number; until: string }>;
  reversed: Array<{ saleId: string; amount: number; reversalId: string; status: string }>;
  holderMessageId: number | null;
}

interface ReversibleSale {
  id: string;
  terminal_id: string;
  station_id: number;
  terminal_ref: string;
  authorisation_id: string | null;
}

/** The sales a `reversed` resolution names: this card's, named by a terminal reference (the reversal's key). */
async function reversibleSales(db: Executor, cardId: number, ids: string[]): Promise<ReversibleSale[]> {
  const saleIds = [...new Set(ids)];
  if (saleIds.length === 0) throw casesError('CASES_SALE_NOT_REVERSIBLE', { field: 'body.saleIds', reason: 'name at least one sale' });
  const found = await sql<{ id: string; card_id: number | null; terminal_id: string; station_id: number; terminal_ref: string | null; authorisation_id: string | null }>`
    select id, card_id, terminal_id, station_id, terminal_ref, authorisation_id from sales where id = any(${saleIds}::uuid[]) order by created_at, id`.execute(db);
  for (const id of saleIds) {
    const s = found.rows.find((r) => r.id === id);
    if (!s || Number(s.card_id) !== cardId || s.terminal_ref === null) throw casesError('CASES_SALE_NOT_REVERSIBLE', { field: 'body.saleIds', saleId: id });
  }
  return found.rows.map((s) => ({ id: s.id, terminal_id: s.terminal_id, station_id: Number(s.station_id), terminal_ref: s.terminal_ref!, authorisation_id: s.authorisation_id }));
}

/**
 * The locks a resolution needs, taken in the sale path's order so that a terminal's own reversal,
 * a pump completion or the expiry job running at the same time waits instead of deadlocking:
 * terminal references (sorted) → the terminals' open shifts (sorted) → the sales → the pump
 * authorisations (by id) → then, in lockOpenCase, the card → the case. A terminal reversal takes
 * reference → shift → sale → authorisation → card; a completion and the expiry job authorisation →
 * card; the sale path card → case. See docs/risk-cases.md "Lock order".
 */
async function lockInSalePathOrder(trx: Trx, sales: ReversibleSale[], items: Array<{ authorisation_id: string | null }>): Promise<void> {
  const refs = [...new Map(sales.map((s) => [`${s.terminal_id}\n${s.terminal_ref}`, s])).entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [, s] of refs) await lockTerminalRef(trx, s.terminal_id, s.terminal_ref);
  const terminals = [...new Map(sales.map((s) => [s.terminal_id, s])).values()].sort((a, b) => (a.terminal_id < b.terminal_id ? -1 : a.terminal_id > b.terminal_id ? 1 : 0));
  for (const t of terminals) await openShiftFor(trx, { id: t.terminal_id, stationId: t.station_id });
  if (sales.length > 0) await sql`select id from sales where id = any(${sales.map((s) => s.id)}::uuid[]) order by id for update`.execute(trx);
  const authIds = [...new Set([...sales.map((s) => s.authorisation_id), ...items.map((i) => i.authorisation_id)].filter((x): x is string => x !== null))];
  if (authIds.length > 0) await sql`select id from pump_authorisations where id = any(${authIds}::uuid[]) order by id for update`.execute(trx);
}

/**
 * Whether the freeze in force on the card is the risk engine's, for one of this case's decisions:
 * the engine freezes through operateCard as the actor 'risk-decision:<decision id>' (src/sales/sale-risk.ts),
 * which writes the card event and the audit row in the sale's transaction (one now()). The latest
 * freeze event of the card must be that one: a staff freeze before or after it is not lifted.
 */
async function frozenByThisCase(db: Executor, card: CardRow, decisionIds: string[]): Promise<boolean> {
  if (card.status !== 'frozen' || decisionIds.length === 0) return false;
  const r = await sql<{ ours: boolean }>`
    with last_freeze as (select created_at from card_events where card_id = ${card.id} and action = 'freeze' order by id desc limit 1)
    select exists (select 1 from last_freeze f join audit_log a on a.at = f.created_at
      where a.action = 'card.freeze' and a.target_type = 'card' and a.target_id = ${maskCardNo(card.card_no)}
        and a.request_id = any(${decisionIds.map((d) => `risk-decision:${d}`)}::text[])) as ours`.execute(db);
  return r.rows[0]!.ours;
}

const RELEASING: ReadonlySet<Resolution> = new Set(['released', 'false_positive']);

/** The rules that made each decision more than an approval, newest decision last (a silence names it). */
function enforcedRules(items: Array<{ decision_id: string }>, hits: Map<string, RuleHit[]>): Map<string, string> {
  const byRule = new Map<string, string>();
  for (const i of items) for (const h of hits.get(i.decision_id) ?? []) if (h.enforced && h.outcome !== 'approve') byRule.set(h.rule, i.decision_id);
  return byRule;
}

/**
 * Close a case with a resolution, and do what it means, in one transaction (the caller's):
 *  - released / false_positive: held pump authorisations released, the card unfrozen when the case
 *    froze it, the rules that fired silenced for this card for `silenceDays` so the holder can retry;
 *  - confirmed_fraud: the card frozen (if not already), held authorisations refused;
 *  - card_blocked: the card reported lost (挂失) so it can never be used and can be replaced;
 *    an anonymous card that the programme does not let be reported lost is frozen instead;
 *  - reversed: the listed sales reversed through the sales module's reversal (money back to the
 *    card, once per sale), held authorisations refused;
 *  - no_action: nothing; refused while an authorisation is held for review (someone must decide).
 */
export async function resolveCase(trx: Trx, deps: CaseDeps, actor: Actor, caseId: number, input: ResolveInput): Promise<ResolveEffects> {
  const head = await findCase(trx, caseId);
  if (head.status === 'closed') throw casesError('CASES_ALREADY_RESOLVED', { caseId });
  // What the resolution will touch, read before any lock (a sale's terminal, reference and card never change).
  const toReverse = input.resolution === 'reversed' ? await reversibleSales(trx, Number(head.card_id), input.saleIds ?? []) : [];
  await lockInSalePathOrder(trx, toReverse, await caseItemRows(trx, caseId));
  const c = await lockOpenCase(trx, caseId);
  // Re-read under the card's lock: no item can be added from here on (the sale path adds them under it).
  const items = await caseItemRows(trx, caseId);
  const authIds = items.map((i) => i.authorisation_id).filter((x): x is string => x !== null);
  // A review past its expiry is the expiry job's (it voids the holds): releasing it would start a
  // pump long after the customer left, so it is neither released nor waited for.
  const held = authIds.length === 0 ? [] : (await sql<{ id: string }>`select id from pump_authorisations
      where id = any(${authIds}::uuid[]) and status = 'review' and expires_at > clock_timestamp() order by created_at`.execute(trx)).rows.map((r) => r.id);
  const effects: ResolveEffects = { cardStatus: { from: c.card.status, to: c.card.status }, released: [], refused: [], silenced: [], reversed: [], holderMessageId: null };
  const cardOp = async (op: 'freeze' | 'unfreeze' | 'report-loss') => {
    const r = await operateCard(trx, deps, actor, c.card.card_no, op, { reason: `risk case ${caseId}: ${input.resolution}`, operationId: randomUUID() });
    effects.cardStatus.to = r.card.status;
  };
  const refuseHeld = async () => {
    for (const id of held) {
      await refuseReview(trx, deps, actor, id, `risk case ${caseId}: ${input.resolution}`);
      effects.refused.push(id);
    }
  };

  if (RELEASING.has(input.resolution)) {
    for (const id of held) {
      await releaseReview(trx, deps, actor, id);
      effects.released.push(id);
    }
    if (await frozenByThisCase(trx, c.card, items.map((i) => i.decision_id))) await cardOp('unfreeze');
    const days = input.silenceDays ?? DEFAULT_SILENCE_DAYS;
    if (days > 0) {
      const until = new Date(Date.now() + days * 86_400_000);
      const rules = enforcedRules(items, await decisionHits(trx, items.map((i) => i.decision_id)));
      for (const [rule, decisionId] of rules) {
        const silenceId = await silenceRule(trx, actor, { cardId: c.card.id, rule, until, reason: `risk case ${caseId}: ${input.resolution}`, decisionId });
        effects.silenced.push({ rule, silenceId, until: until.toISOString() });
      }
    }
  } else if (input.resolution === 'confirmed_fraud') {
    if (c.card.status === 'active') await cardOp('freeze');
    await refuseHeld();
  } else if (input.resolution === 'card_blocked') {
    if (c.card.status === 'pending' || c.card.status === 'active' || c.card.status === 'frozen') {
      if (c.card.kind === 'anonymous' && !deps.config.anonymousCardsReportableLost) {
        if (c.card.status !== 'frozen') await cardOp('freeze');
      } else {
        await cardOp('report-loss');
      }
    }
    await refuseHeld();
  } else if (input.resolution === 'reversed') {
    for (const s of toReverse) {
      // The sales module's own reversal, as the sale's terminal would send it: keyed by the
      // terminal's reference, so it happens once however often it is asked (a terminal's own
      // reversal of the same sale included), and lands in the terminal's open shift.
      const r = await reverseByRef(trx, { id: s.terminal_id, stationId: s.station_id }, { originalRef: s.terminal_ref, reason: 'other' });
      effects.reversed.push({ saleId: s.id, amount: r.amount, reversalId: r.reversalId, status: r.status });
    }
    await refuseHeld();
  } else if (held.length > 0) {
    throw casesError('CASES_REVIEW_PENDING', { caseId, authorisations: held });
  }

  await sql`update risk_cases set status = 'closed', resolution = ${input.resolution}, resolved_by = ${actor.staffId}, resolved_at = now(), updated_at = now()
    where id = ${caseId}`.execute(trx);
  if (input.notifyHolder) {
    effects.holderMessageId = await notifyHolder(trx, deps, c.card.id, { resolution: input.resolution });
    await event(trx, caseId, 'holder_notified', actor.staffId, { reason: 'resolution', messageId: effects.holderMessageId });
  }
  const details = {
    resolution: input.resolution,
    card: maskCardNo(c.card.card_no),
    cardStatus: effects.cardStatus,
    released: effects.released,
    refused: effects.refused,
    silenced: effects.silenced.map((s) => s.rule),
    reversed: effects.reversed.map((r) => ({ saleId: r.saleId, amount: r.amount })),
    notifyHolder: input.notifyHolder === true,
  };
  await event(trx, caseId, 'resolved', actor.staffId, { ...details, note: input.note });
  await audit(trx, actor, { action: 'cases.resolve', targetType: 'risk_case', targetId: caseId, details });
  return effects;
}

// ── The holder's side (PIPL Art. 24) ───────────────────────────────────────────────────────────────


/**
 * An appeal: added to the card's open case, or a new case when none is open. A card with no risk
 * decision that stopped or flagged it has nothing to appeal.
 */
export async function appealCase(trx: Trx, actor: Actor, card: CardRow, text: string): Promise<{ caseId: number; opened: boolean }> {
  await requireLockedCard(trx, card.card_no);
  const open = await sql<{ id: number }>`select id from risk_cases where card_id = ${card.id} and status <> 'closed' for update`.execute(trx);
  let caseId = open.rows[0] ? Number(open.rows[0].id) : null;
  let opened = false;
  if (caseId === null) {
    // What is appealed: the card's last case (the worst of its items), else its last stopping decision.
    const last = await sql<{ outcome: CaseOutcomeName }>`select outcome from (
        (select outcome, 0 as pref, created_at from risk_cases where card_id = ${card.id} order by created_at desc limit 1)
        union all
        (select outcome, 1 as pref, created_at from risk_decisions where card_id = ${card.id}
           and outcome in ('approve_flag','step_up','delay','decline','freeze') order by created_at desc limit 1)) x
      order by pref limit 1`.execute(trx);
    const outcome = last.rows[0]?.outcome;
    if (!outcome) throw casesError('CASES_NOTHING_TO_APPEAL');
    // A frozen card waits on this answer to be usable again: it goes to the top of the queue.
    const priority = card.status === 'frozen' ? 1 : 2;
    const ins = await sql<{ id: number }>`insert into risk_cases (card_id, outcome, priority, due_at)
      values (${card.id}, ${outcome}, ${priority}, now() + ${APPEAL_SLA_MS} * interval '1 millisecond') returning id`.execute(trx);
    caseId = Number(ins.rows[0]!.id);
    opened = true;
    await event(trx, caseId, 'opened', null, { appeal: true, outcome });
  } else {
    const n = await sql<{ n: number }>`select count(*)::int as n from risk_case_events where case_id = ${caseId} and kind = 'appeal'`.execute(trx);
    if (n.rows[0]!.n >= MAX_APPEALS_PER_CASE) throw casesError('CASES_APPEAL_LIMIT', { max: MAX_APPEALS_PER_CASE });
  }
  await event(trx, caseId, 'appeal', null, { text, by: actor.name });
  await sql`update risk_cases set updated_at = now() where id = ${caseId}`.execute(trx);
  await audit(trx, actor, { action: 'cases.appeal', targetType: 'risk_case', targetId: caseId, details: { card: maskCardNo(card.card_no), opened } });
  return { caseId, opened };
}
