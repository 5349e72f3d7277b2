import { sql } from 'kysely';
import type { Executor } from '../platform/index.js';
import { maskCardNo, platformError } from '../platform/index.js';
import { RULES, type RuleHit } from '../risk/index.js';
import { casesError } from './cases.errors.js';

export const CASE_STATUSES = ['open', 'in_review', 'closed'] as const;
export type CaseStatus = (typeof CASE_STATUSES)[number];
export const CASE_OUTCOMES = ['approve_flag', 'step_up', 'delay', 'decline', 'freeze'] as const;
export type CaseOutcomeName = (typeof CASE_OUTCOMES)[number];
export const RESOLUTIONS = ['released', 'false_positive', 'confirmed_fraud', 'card_blocked', 'reversed', 'no_action'] as const;
export type Resolution = (typeof RESOLUTIONS)[number];

export const MAX_QUEUE_PAGE = 200;

export interface CaseRow {
  id: number;
  card_id: number;
  card_no: string;
  card_status: string;
  status: CaseStatus;
  outcome: CaseOutcomeName;
  priority: number;
  items: number;
  amount: number;
  assigned_to: number | null;
  assignee_name: string | null;
  assigned_at: Date | null;
  due_at: Date;
  sla_breached_at: Date | null;
  resolution: Resolution | null;
  resolved_by: number | null;
  resolved_at: Date | null;
  created_at: Date;
}

const CASE_COLUMNS = sql`c.id, c.card_id, k.card_no, k.status as card_status, c.status, c.outcome, c.priority, c.items, c.amount,
  c.assigned_to, u.username as assignee_name, c.assigned_at, c.due_at, c.sla_breached_at, c.resolution, c.resolved_by, c.resolved_at, c.created_at`;
const CASE_FROM = sql`risk_cases c join cards k on k.id = c.card_id left join staff_users u on u.id = c.assigned_to`;

export interface SlaState {
  dueAt: string;
  /** Milliseconds left (negative once past due); for a closed case, what was left when it closed. */
  remainingMs: number;
  breached: boolean;
}

export function slaOf(c: Pick<CaseRow, 'due_at' | 'sla_breached_at' | 'resolved_at'>, now: Date): SlaState {
  const end = c.resolved_at ?? now;
  const remainingMs = c.due_at.getTime() - end.getTime();
  return { dueAt: c.due_at.toISOString(), remainingMs, breached: c.sla_breached_at !== null || remainingMs < 0 };
}

export interface CaseSummary {
  id: number;
  cardId: number;
  cardNo: string;
  cardStatus: string;
  status: CaseStatus;
  outcome: CaseOutcomeName;
  priority: number;
  items: number;
  amount: number;
  sla: SlaState;
  assignee: { staffId: number; username: string; assignedAt: string | null } | null;
  resolution: Resolution | null;
  resolvedBy: number | null;
  resolvedAt: string | null;
  createdAt: string;
}

export function summaryOf(c: CaseRow, now: Date, fullCardNo: boolean): CaseSummary {
  return {
    id: Number(c.id),
    cardId: Number(c.card_id),
    cardNo: fullCardNo ? c.card_no : maskCardNo(c.card_no),
    cardStatus: c.card_status,
    status: c.status,
    outcome: c.outcome,
    priority: c.priority,
    items: c.items,
    amount: Number(c.amount),
    sla: slaOf(c, now),
    assignee: c.assigned_to === null ? null : { staffId: Number(c.assigned_to), username: c.assignee_name ?? '', assignedAt: c.assigned_at?.toISOString() ?? null },
    resolution: c.resolution,
    resolvedBy: c.resolved_by === null ? null : Number(c.resolved_by),
    resolvedAt: c.resolved_at?.toISOString() ?? null,
    createdAt: c.created_at.toISOString(),
  };
}

export async function findCase(db: Executor, id: number): Promise<CaseRow> {
  const r = await sql<CaseRow>`select ${CASE_COLUMNS} from ${CASE_FROM} where c.id = ${id}`.execute(db);
  const row = r.rows[0];
  if (!row) throw casesError('CASES_NOT_FOUND', { caseId: id });
  return row;
}

// ── The queue ───────────────────────────────────────────────────────────────────────────────────

export interface QueueFilter {
  /** Absent: every case not closed. */
  status?: CaseStatus;
  /** 'me' is resolved by the route; 'none' = unassigned. */
  assignedTo?: number | 'none';
  outcome?: CaseOutcomeName;
  cardId?: number;
  breached?: boolean;
  limit: number;
  cursor?: string;
}

/** The queue's keyset: priority, then due time, then id. */
interface QueueCursor {
  priority: number;
  dueAt: string;
  id: number;
}

const CURSOR_RE = /^([1-3])\|(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)\|([1-9][0-9]{0,15})$/;

function decodeQueueCursor(cursor: string | undefined): QueueCursor | null {
  if (cursor === undefined || cursor === '') return null;
  const m = CURSOR_RE.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!m || Number.isNaN(Date.parse(m[2]!))) throw platformError('VALIDATION_FAILED', { field: 'cursor' });
  return { priority: Number(m[1]), dueAt: m[2]!, id: Number(m[3]) };
}

const encodeQueueCursor = (c: CaseRow) => Buffer.from(`${c.priority}|${c.due_at.toISOString()}|${c.id}`).toString('base64url');

export async function listQueue(db: Executor, f: QueueFilter, now: Date): Promise<{ rows: CaseRow[]; nextCursor: string | null }> {
  const conds = [f.status === undefined ? sql`c.status <> 'closed'` : sql`c.status = ${f.status}`];
  if (f.assignedTo === 'none') conds.push(sql`c.assigned_to is null`);
  else if (f.assignedTo !== undefined) conds.push(sql`c.assigned_to = ${f.assignedTo}`);
  if (f.outcome !== undefined) conds.push(sql`c.outcome = ${f.outcome}`);
  if (f.cardId !== undefined) conds.push(sql`c.card_id = ${f.cardId}`);
  // Breached: marked by the job, or past due already (the job runs every few seconds).
  const breached = sql`(c.sla_breached_at is not null or (c.status <> 'closed' and c.due_at <= ${now}) or c.resolved_at > c.due_at)`;
  if (f.breached === true) conds.push(breached);
  if (f.breached === false) conds.push(sql`not ${breached}`);
  const after = decodeQueueCursor(f.cursor);
  if (after) conds.push(sql`(c.priority, c.due_at, c.id) > (${after.priority}, ${after.dueAt}::timestamptz, ${after.id})`);
  const r = await sql<CaseRow>`select ${CASE_COLUMNS} from ${CASE_FROM} where ${sql.join(conds, sql` and `)}
    order by c.priority, c.due_at, c.id limit ${f.limit + 1}`.execute(db);
  const rows = r.rows.slice(0, f.limit);
  return { rows, nextCursor: r.rows.length > f.limit ? encodeQueueCursor(rows[rows.length - 1]!) : null };
}

// ── One case: items, timeline, evidence ───────────────────────────────────────────────────────────

export interface FiredRule {
  rule: string;
  zh: string;
  en: string;
  outcome: string;
  enforced: boolean;
  suppressedBy: 'shadow' | 'silence' | null;
  inputs: Record<string, unknown>;
}

const ruleNames = (rule: string): { zh: string; en: string } => {
  const r = (RULES as Record<string, { zh: string; en: string } | undefined>)[rule];
  return r ? { zh: r.zh, en: r.en } : { zh: rule, en: rule };
};

export function firedRules(hits: RuleHit[]): FiredRule[] {
  return hits.map((h) => ({ rule: h.rule, ...ruleNames(h.rule), outcome: h.outcome, enforced: h.enforced, suppressedBy: h.suppressedBy, inputs: h.inputs }));
}

export interface ItemTransaction {
  kind: 'sale' | 'authorisation';
  id: string;
  amount: number;
  grade: string | null;
  volumeMl: number | null;
  stationId: number;
  stationName: string;
  terminalId: string;
  at: string;
  status: string;
  declineCode: string | null;
}

export interface CaseItem {
  id: number;
  decisionId: string;
  outcome: string;
  channel: string;
  amount: number;
  saleId: string | null;
  authorisationId: string | null;
  stationId: number | null;
  createdAt: string;
  rules: FiredRule[];
  sale: ItemTransaction | null;
  authorisation: ItemTransaction | null;
}

export interface ItemRow {
  id: number;
  decision_id: string;
  outcome: string;
  channel: string;
  amount: number;
  sale_id: string | null;
  authorisation_id: string | null;
  station_id: number | null;
  created_at: Date;
}

export async function caseItemRows(db: Executor, caseId: number): Promise<ItemRow[]> {
  const r = await sql<ItemRow>`select id, decision_id, outcome, channel, amount, sale_id, authorisation_id, station_id, created_at
    from risk_case_items where case_id = ${caseId} order by id`.execute(db);
  return r.rows;
}

/** The rules each decision enforced (the ones that made it more than an approval). */
export async function decisionHits(db: Executor, decisionIds: string[]): Promise<Map<string, RuleHit[]>> {
  if (decisionIds.length === 0) return new Map();
  const r = await sql<{ id: string; hits: { hits: RuleHit[] } }>`select id, hits from risk_decisions where id = any(${decisionIds}::uuid[])`.execute(db);
  return new Map(r.rows.map((d) => [d.id, d.hits.hits ?? []]));
}

export async function caseItems(db: Executor, caseId: number): Promise<CaseItem[]> {
  const items = await caseItemRows(db, caseId);
  const hits = await decisionHits(db, items.map((i) => i.decision_id));
  const saleIds = items.map((i) => i.sale_id).filter((x): x is string => x !== null);
  const authIds = items.map((i) => i.authorisation_id).filter((x): x is string => x !== null);
  const sales = await sql<{ id: string; amount: number; grade: string | null; volume_ml: number | null; station_id: number; station_name: string; terminal_id: string; created_at: Date; status: string; decline_code: string | null }>`
    select s.id, s.amount, s.grade, s.volume_ml, s.station_id, st.name as station_name, s.terminal_id, s.created_at, s.status, s.decline_code
    from sales s join stations st on st.id = s.station_id where s.id = any(${saleIds}::uuid[])`.execute(db);
  const auths = await sql<{ id: string; amount: number; grade: string | null; station_id: number; station_name: string; terminal_id: string; created_at: Date; status: string }>`
    select a.id, a.requested_amount as amount, a.grade, a.station_id, st.name as station_name, a.terminal_id, a.created_at, a.status
    from pump_authorisations a join stations st on st.id = a.station_id where a.id = any(${authIds}::uuid[])`.execute(db);
  const saleOf = new Map(sales.rows.map((s) => [s.id, s]));
  const authOf = new Map(auths.rows.map((a) => [a.id, a]));
  return items.map((i) => {
    const s = i.sale_id ? saleOf.get(i.sale_id) : undefined;
    const a = i.authorisation_id ? authOf.get(i.authorisation_id) : undefined;
    return {
      id: Number(i.id),
      decisionId: i.decision_id,
      outcome: i.outcome,
      channel: i.channel,
      amount: Number(i.amount),
      saleId: i.sale_id,
      authorisationId: i.authorisation_id,
      stationId: i.station_id === null ? null : Number(i.station_id),
      createdAt: i.created_at.toISOString(),
      rules: firedRules(hits.get(i.decision_id) ?? []),
      sale: s
        ? {
            kind: 'sale',
            id: s.id,
            amount: Number(s.amount),
            grade: s.grade,
            volumeMl: s.volume_ml === null ? null : Number(s.volume_ml),
            stationId: Number(s.station_id),
            stationName: s.station_name,
            terminalId: s.terminal_id,
            at: s.created_at.toISOString(),
            status: s.status,
            declineCode: s.decline_code,
          }
        : null,
      authorisation: a
        ? {
            kind: 'authorisation',
            id: a.id,
            amount: Number(a.amount),
            grade: a.grade,
            volumeMl: null,
            stationId: Number(a.station_id),
            stationName: a.station_name,
            terminalId: a.terminal_id,
            at: a.created_at.toISOString(),
            status: a.status,
            declineCode: null,
          }
        : null,
    };
  });
}

export interface CaseEvent {
  id: number;
  kind: string;
  staffId: number | null;
  staffName: string | null;
  body: Record<string, unknown>;
  at: string;
}

export async function caseEvents(db: Executor, caseId: number): Promise<CaseEvent[]> {
  const r = await sql<{ id: number; kind: string; staff_id: number | null; username: string | null; body: Record<string, unknown>; created_at: Date }>`
    select e.id, e.kind, e.staff_id, u.username, e.body, e.created_at
    from risk_case_events e left join staff_users u on u.id = e.staff_id where e.case_id = ${caseId} order by e.id limit 1000`.execute(db);
  return r.rows.map((e) => ({ id: Number(e.id), kind: e.kind, staffId: e.staff_id === null ? null : Number(e.staff_id), staffName: e.username, body: e.body, at: e.created_at.toISOString() }));
}

// ── Staff alert feed ────────────────────────────────────────────────────────────────────────────

export interface AlertFeed {
  counts: { open: number; unassigned: number; breached: number; mine: number };
  items: Array<{ eventId: number; caseId: number; alert: string; at: string; outcome: string; priority: number; status: string }>;
  /** Pass as `after` next time to get only newer alerts. */
  lastEventId: number | null;
}

export async function alertFeed(db: Executor, staffId: number, after: number | undefined, limit: number, now: Date): Promise<AlertFeed> {
  const counts = await sql<{ open: number; unassigned: number; breached: number; mine: number }>`
    select count(*)::int as open,
      count(*) filter (where assigned_to is null)::int as unassigned,
      count(*) filter (where sla_breached_at is not null or due_at <= ${now})::int as breached,
      count(*) filter (where assigned_to = ${staffId})::int as mine
    from risk_cases where status <> 'closed'`.execute(db);
  const r = await sql<{ id: number; case_id: number; body: { alert?: string }; created_at: Date; outcome: string; priority: number; status: string }>`
    select e.id, e.case_id, e.body, e.created_at, c.outcome, c.priority, c.status
    from risk_case_events e join risk_cases c on c.id = e.case_id
    where e.kind = 'staff_alerted' and e.id > ${after ?? 0}
    order by e.id desc limit ${limit}`.execute(db);
  return {
    counts: counts.rows[0]!,
    items: r.rows.map((e) => ({ eventId: Number(e.id), caseId: Number(e.case_id), alert: e.body.alert ?? 'unknown', at: e.created_at.toISOString(), outcome: e.outcome, priority: e.priority, status: e.status })),
    lastEventId: r.rows[0] ? Number(r.rows[0].id) : (after ?? null),
  };
}

// ── The holder's view (PIPL Art. 24) ───────────────────────────────────────────────────────────────

/** How far back and how many decisions the holder sees. */
export const HOLDER_DECISION_DAYS = 180;
export const HOLDER_DECISION_MAX = 50;

export interface HolderDecision {
  decisionId: string;
  outcome: string;
  at: string;
  stationName: string | null;
  /** The rules that decided it, by name only: thresholds and inputs are what a fraudster would want. */
  rules: Array<{ rule: string; zh: string; en: string }>;
  /** The review case the decision is in, if any, and whether it is still open. */
  caseId: number | null;
  caseStatus: CaseStatus | null;
}

/** The automated decisions that stopped or held the card (step-up, delay, decline, freeze), newest first. */
export async function holderDecisions(db: Executor, cardId: number, now: Date): Promise<HolderDecision[]> {
  const r = await sql<{ id: string; outcome: string; created_at: Date; station_name: string | null; hits: { hits: RuleHit[] }; case_id: number | null; case_status: CaseStatus | null }>`
    select d.id, d.outcome, d.created_at, st.name as station_name, d.hits, i.case_id, c.status as case_status
    from risk_decisions d
    left join stations st on st.id = d.station_id
    left join risk_case_items i on i.decision_id = d.id
    left join risk_cases c on c.id = i.case_id
    where d.card_id = ${cardId} and d.outcome in ('step_up','delay','decline','freeze')
      and d.created_at > ${new Date(now.getTime() - HOLDER_DECISION_DAYS * 86_400_000)}
    order by d.created_at desc limit ${HOLDER_DECISION_MAX}`.execute(db);
  return r.rows.map((d) => ({
    decisionId: d.id,
    outcome: d.outcome,
    at: d.created_at.toISOString(),
    stationName: d.station_name,
    rules: (d.hits.hits ?? []).filter((h) => h.enforced && h.outcome !== 'approve').map((h) => ({ rule: h.rule, ...ruleNames(h.rule) })),
    caseId: d.case_id === null ? null : Number(d.case_id),
    caseStatus: d.case_status,
  }));
}
