import { sql } from 'kysely';
import type { Executor } from '../platform/index.js';
import { SEVERITY, type Outcome, type SaleChannel } from './risk.types.js';

/**
 * Opening review cases (人工审核) from the sale path. One open case per card: a second flagged or
 * delayed event of the same card becomes another item of the open case, so a reviewer sees the
 * card's whole story at once. Runs in the sale's transaction, after the card's row lock, so two
 * sales of one card cannot open two cases (the partial unique index backs that up).
 *
 * Working the case (queue, assignment, notes, evidence, outcomes, alerts) is src/cases, which
 * depends on this module, on sales and on cards; this module only opens and extends cases.
 */

export type CaseOutcome = Exclude<Outcome, 'approve'>;

export interface OpenCaseInput {
  cardId: number;
  decisionId: string;
  outcome: CaseOutcome;
  channel: SaleChannel;
  amount: number;
  saleId?: string | null;
  authorisationId?: string | null;
  stationId?: number | null;
  at: Date;
}

export interface OpenedCase {
  caseId: number;
  /** True when this call opened the case (alerts go out once per case, not once per item). */
  created: boolean;
}

/** How long a reviewer has, by outcome: a delayed pump waits for a person; a flag waits for a day. */
export const CASE_SLA_MS: Readonly<Record<CaseOutcome, number>> = {
  delay: 15 * 60_000,
  freeze: 4 * 3600_000,
  step_up: 24 * 3600_000,
  decline: 24 * 3600_000,
  approve_flag: 24 * 3600_000,
};

/** Queue priority by outcome: 1 (most urgent) to 3. */
export function casePriority(outcome: CaseOutcome): 1 | 2 | 3 {
  if (outcome === 'delay' || outcome === 'freeze') return 1;
  if (outcome === 'decline' || outcome === 'step_up') return 2;
  return 3;
}

function worse(a: CaseOutcome, b: CaseOutcome): CaseOutcome {
  return SEVERITY[a] >= SEVERITY[b] ? a : b;
}

/**
 * Open the card's case or add this decision to its open one. The caller holds the card's row
 * lock. Idempotent per decision: the same decision twice adds one item.
 */
export async function openRiskCase(db: Executor, input: OpenCaseInput): Promise<OpenedCase> {
  const due = new Date(input.at.getTime() + CASE_SLA_MS[input.outcome]);
  const open = await sql<{ id: number; outcome: CaseOutcome; due_at: Date }>`
    select id, outcome, due_at from risk_cases where card_id = ${input.cardId} and status <> 'closed' for update`.execute(db);
  let caseId: number;
  let created = false;
  const existing = open.rows[0];
  if (existing) {
    caseId = Number(existing.id);
  } else {
    const ins = await sql<{ id: number }>`
      insert into risk_cases (card_id, outcome, priority, due_at, created_at, updated_at)
      values (${input.cardId}, ${input.outcome}, ${casePriority(input.outcome)}, ${due}, ${input.at}, ${input.at})
      returning id`.execute(db);
    caseId = Number(ins.rows[0]!.id);
    created = true;
    await sql`insert into risk_case_events (case_id, kind, body, created_at)
      values (${caseId}, 'opened', ${JSON.stringify({ outcome: input.outcome, decisionId: input.decisionId })}::jsonb, ${input.at})`.execute(db);
  }
  const item = await sql<{ id: number }>`
    insert into risk_case_items (case_id, decision_id, outcome, channel, sale_id, authorisation_id, station_id, amount, created_at)
    values (${caseId}, ${input.decisionId}, ${input.outcome}, ${input.channel}, ${input.saleId ?? null}, ${input.authorisationId ?? null},
            ${input.stationId ?? null}, ${input.amount}, ${input.at})
    on conflict (decision_id) do nothing returning id`.execute(db);
  if (item.rows.length === 0) return { caseId, created };
  if (existing) {
    const outcome = worse(existing.outcome, input.outcome);
    await sql`update risk_cases set outcome = ${outcome}, priority = ${casePriority(outcome)},
        due_at = least(due_at, ${due}), items = items + 1, amount = amount + ${input.amount}, updated_at = ${input.at}
      where id = ${caseId}`.execute(db);
    await sql`insert into risk_case_events (case_id, kind, body, created_at)
      values (${caseId}, 'item_added', ${JSON.stringify({ outcome: input.outcome, decisionId: input.decisionId })}::jsonb, ${input.at})`.execute(db);
  } else {
    await sql`update risk_cases set items = 1, amount = ${input.amount} where id = ${caseId}`.execute(db);
  }
  return { caseId, created };
}
