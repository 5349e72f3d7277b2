import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Db, FieldCipher, Trx } from '../platform/index.js';
import { enqueueMessage, kickMessageDispatcher } from '../messaging/index.js';
import { notifyHolder } from './cases.notify.js';

/** The case job runs this often by default. A delayed pump's SLA is 15 minutes: seconds matter. */
export const CASE_JOB_INTERVAL_MS = 10_000;
/** Cases (or items) handled per step per run: a backlog drains over several runs. */
const BATCH = 200;

export interface CaseJobDeps {
  cipher: FieldCipher;
  logger?: Logger;
  /**
   * The risk desk's phone (proposed FUELCARD_RISK_DESK_PHONE): one summary SMS per run that found
   * new cases, appeals or breaches. Without it, staff alerts go only to the console feed
   * (GET /api/v1/cases/alerts).
   */
  riskDeskPhone?: string | null;
}

export interface CaseJobRound {
  breached: number;
  newCases: number;
  appeals: number;
  holderNotices: number;
  deskMessageId: number | null;
}

async function staffAlert(trx: Trx, caseId: number, alert: 'new_case' | 'sla_breached' | 'appeal', extra: Record<string, unknown> = {}): Promise<void> {
  await sql`insert into risk_case_events (case_id, kind, body) values (${caseId}, 'staff_alerted', ${JSON.stringify({ alert, ...extra })}::jsonb)`.execute(trx);
}

/**
 * Runs `work` in its own short transaction with the case row locked, or skips the case when
 * someone else holds it (a sale extending it, a reviewer, another process): it is picked up on a
 * later run. The sale path's openRiskCase waits on this lock, so it is never held for more than
 * one case's alerts. `work` re-checks its condition under the lock and says whether it acted.
 */
async function underCaseLock(db: Db, caseId: number, work: (trx: Trx) => Promise<boolean>): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const r = await sql`select id from risk_cases where id = ${caseId} and status <> 'closed' for update skip locked`.execute(trx);
    return r.rows.length > 0 && work(trx);
  });
}

/**
 * One run of the case job:
 *  (a) open cases past due get sla_breached_at, an 'sla_breached' event and a staff alert;
 *  (b) open cases not yet announced get a 'new_case' staff alert, holders' appeals an 'appeal' one;
 *  (c) the holder hears, once per case, that the card was frozen, and once per sale held for
 *      review (its pump authorisation is in 'review') that it waits for a person.
 * Each alert is an event ('staff_alerted' / 'holder_notified'), written with the message it sends,
 * so an alert goes out once however often the job runs and in however many processes. Candidates
 * are read without locks; each is then handled in its own transaction under its case's lock
 * (taken SKIP LOCKED), re-checked there. `now` decides what is past due (tests pass a later time).
 */
export async function runCaseJobsOnce(db: Db, deps: CaseJobDeps, now: Date = new Date()): Promise<CaseJobRound> {
  const out: CaseJobRound = { breached: 0, newCases: 0, appeals: 0, holderNotices: 0, deskMessageId: null };

  const due = await sql<{ id: number }>`
    select id from risk_cases where status <> 'closed' and sla_breached_at is null and due_at <= ${now} order by due_at limit ${BATCH}`.execute(db);
  for (const c of due.rows) {
    const done = await underCaseLock(db, Number(c.id), async (trx) => {
      const r = await sql<{ due_at: Date }>`update risk_cases set sla_breached_at = ${now}
        where id = ${c.id} and sla_breached_at is null and due_at <= ${now} returning due_at`.execute(trx);
      if (!r.rows[0]) return false;
      await sql`insert into risk_case_events (case_id, kind, body) values (${c.id}, 'sla_breached', ${JSON.stringify({ dueAt: r.rows[0].due_at.toISOString() })}::jsonb)`.execute(trx);
      await staffAlert(trx, Number(c.id), 'sla_breached');
      return true;
    });
    if (done) out.breached++;
  }

  const notAnnounced = sql`not exists (select 1 from risk_case_events e where e.case_id = c.id and e.kind = 'staff_alerted' and e.body->>'alert' = 'new_case')`;
  const fresh = await sql<{ id: number }>`
    select c.id from risk_cases c where c.status <> 'closed' and ${notAnnounced} order by c.priority, c.due_at limit ${BATCH}`.execute(db);
  for (const c of fresh.rows) {
    const done = await underCaseLock(db, Number(c.id), async (trx) => {
      const still = await sql`select 1 from risk_cases c where c.id = ${c.id} and ${notAnnounced}`.execute(trx);
      if (still.rows.length === 0) return false;
      await staffAlert(trx, Number(c.id), 'new_case');
      return true;
    });
    if (done) out.newCases++;
  }

  const notAlerted = sql`not exists (select 1 from risk_case_events e where e.case_id = a.case_id and e.kind = 'staff_alerted'
    and e.body->>'alert' = 'appeal' and e.body->>'eventId' = a.id::text)`;
  const appeals = await sql<{ id: number; case_id: number }>`
    select a.id, a.case_id from risk_case_events a join risk_cases c on c.id = a.case_id
    where a.kind = 'appeal' and c.status <> 'closed' and ${notAlerted} order by a.id limit ${BATCH}`.execute(db);
  for (const a of appeals.rows) {
    const done = await underCaseLock(db, Number(a.case_id), async (trx) => {
      const still = await sql`select 1 from risk_case_events a where a.id = ${a.id} and ${notAlerted}`.execute(trx);
      if (still.rows.length === 0) return false;
      await staffAlert(trx, Number(a.case_id), 'appeal', { eventId: String(a.id) });
      return true;
    });
    if (done) out.appeals++;
  }

  // Held sales: one notice each, and only for a pump authorisation really held for review (an item
  // may name one that was declined, e.g. for funds, and never held). A freeze: one notice per case
  // (later items of a frozen card add nothing new), and only while the card is frozen: a freeze item
  // on a card the engine could not freeze (lost, closed) or that a reviewer has unfrozen since would
  // tell the holder something untrue.
  const owed = sql`i.outcome in ('freeze','delay')
    and ((i.outcome = 'freeze' and exists (select 1 from cards k where k.id = c.card_id and k.status = 'frozen'))
      or exists (select 1 from pump_authorisations p where p.id = i.authorisation_id and p.status = 'review'))
    and not exists (select 1 from risk_case_events e where e.case_id = i.case_id and e.kind = 'holder_notified'
      and ((i.outcome = 'delay' and e.body->>'itemId' = i.id::text) or (i.outcome = 'freeze' and e.body->>'reason' = 'frozen')))`;
  const notices = await sql<{ item_id: number; case_id: number }>`
    select i.id as item_id, i.case_id from risk_case_items i join risk_cases c on c.id = i.case_id
    where c.status <> 'closed' and ${owed} order by i.id limit ${BATCH}`.execute(db);
  for (const n of notices.rows) {
    const done = await underCaseLock(db, Number(n.case_id), async (trx) => {
      const r = await sql<{ card_id: number; outcome: 'freeze' | 'delay' }>`select c.card_id, i.outcome from risk_case_items i join risk_cases c on c.id = i.case_id
        where i.id = ${n.item_id} and ${owed}`.execute(trx);
      const item = r.rows[0];
      if (!item) return false;
      const reason = item.outcome === 'freeze' ? 'frozen' : 'held';
      const messageId = await notifyHolder(trx, deps, Number(item.card_id), reason);
      await sql`insert into risk_case_events (case_id, kind, body)
        values (${n.case_id}, 'holder_notified', ${JSON.stringify({ reason, itemId: String(n.item_id), messageId })}::jsonb)`.execute(trx);
      return true;
    });
    if (done) out.holderNotices++;
  }

  if (deps.riskDeskPhone && out.breached + out.newCases + out.appeals > 0) {
    const to = deps.riskDeskPhone;
    out.deskMessageId = await db.transaction().execute((trx) =>
      enqueueMessage(trx, deps.cipher, {
        to,
        template: 'cases.staff_alert',
        text:
          `【风控】新审核案件 ${out.newCases} 件，申诉 ${out.appeals} 件，超时 ${out.breached} 件，请登录控制台处理。` +
          ` / Risk desk: ${out.newCases} new cases, ${out.appeals} appeals, ${out.breached} past SLA. See the console.`,
      }),
    );
  }
  if (out.holderNotices > 0 || out.deskMessageId !== null) kickMessageDispatcher();
  return out;
}

/** Runs the case job every `everyMs`. Returns a stop function that waits for the run under way. */
export function startCaseJobs(deps: CaseJobDeps & { db: Db; logger: Logger }, opts: { everyMs?: number } = {}): () => Promise<void> {
  let stopped = false;
  let running: Promise<unknown> | null = null;
  const tick = () => {
    if (stopped || running) return;
    running = runCaseJobsOnce(deps.db, deps)
      .catch((err: unknown) => deps.logger.error({ err }, 'case job failed'))
      .finally(() => {
        running = null;
      });
  };
  const timer = setInterval(tick, opts.everyMs ?? CASE_JOB_INTERVAL_MS);
  tick();
  return async () => {
    stopped = true;
    clearInterval(timer);
    await running;
  };
}
