import { sql } from 'kysely';
import { Type } from 'typebox';
import type { App, Role } from '../platform/index.js';
import { access, actorOf, FreeText, Id, Nullable, pageSize } from '../platform/index.js';
import { maySeeCardNumbers } from '../cards/index.js';
import { kickMessageDispatcher } from '../messaging/index.js';
import { requireVisibleCard } from '../portal/index.js';
import { auditUnmaskedView } from '../privacy/index.js';
import {
  alertFeed,
  CASE_OUTCOMES,
  CASE_STATUSES,
  caseEvents,
  caseItems,
  findCase,
  holderDecisions,
  listQueue,
  MAX_QUEUE_PAGE,
  RESOLUTIONS,
  summaryOf,
} from './cases.queries.js';
import { caseEvidence } from './cases.evidence.js';
import { addNote, appealCase, assignCase, MAX_SILENCE_DAYS, NOTE_MAX, resolveCase, unassignCase, type CaseDeps } from './cases.service.js';

const bearer = [{ bearer: [] }];
const tags = ['cases'];
const portalTags = ['portal'];

/** Who works cases: assign, note, resolve. */
const WORKERS: Role[] = ['admin', 'risk'];
/** Who reads them: also the service desk, which answers the holder's "why was my card stopped". */
const READERS: Role[] = ['admin', 'risk', 'operator'];

const Uuid = Type.String({ format: 'uuid' });
const CaseParams = Type.Object({ id: Id() });
const CardNoParams = Type.Object({ cardNo: Type.String({ pattern: '^[0-9]{19}$', description: '19-digit card number' }) });
const Json = Type.Record(Type.String(), Type.Unknown());

const SlaSchema = Type.Object({
  dueAt: Type.String(),
  remainingMs: Type.Integer({ description: 'negative once past due; for a closed case, what was left when it closed' }),
  breached: Type.Boolean(),
});
const CaseSummarySchema = Type.Object({
  id: Type.Integer(),
  cardId: Type.Integer(),
  cardNo: Type.String({ description: 'in full for roles that see card numbers (audited), else first 6 / last 4' }),
  cardStatus: Type.String(),
  status: Type.Enum(CASE_STATUSES),
  outcome: Type.Enum(CASE_OUTCOMES),
  priority: Type.Integer({ description: '1 (most urgent) to 3' }),
  items: Type.Integer(),
  amount: Type.Integer({ description: 'fen, sum of the items' }),
  sla: SlaSchema,
  assignee: Nullable(Type.Object({ staffId: Type.Integer(), username: Type.String(), assignedAt: Nullable(Type.String()) })),
  resolution: Nullable(Type.Enum(RESOLUTIONS)),
  resolvedBy: Nullable(Type.Integer()),
  resolvedAt: Nullable(Type.String()),
  createdAt: Type.String(),
});
const TransactionSchema = Type.Object({
  kind: Type.Enum(['sale', 'authorisation'] as const),
  id: Type.String(),
  amount: Type.Integer(),
  grade: Nullable(Type.String()),
  volumeMl: Nullable(Type.Integer()),
  stationId: Type.Integer(),
  stationName: Type.String(),
  terminalId: Type.String(),
  at: Type.String(),
  status: Type.String(),
  declineCode: Nullable(Type.String()),
});
const ItemSchema = Type.Object({
  id: Type.Integer(),
  decisionId: Type.String(),
  outcome: Type.String(),
  channel: Type.String(),
  amount: Type.Integer(),
  saleId: Nullable(Type.String()),
  authorisationId: Nullable(Type.String()),
  stationId: Nullable(Type.Integer()),
  createdAt: Type.String(),
  rules: Type.Array(
    Type.Object({
      rule: Type.String(),
      zh: Type.String(),
      en: Type.String(),
      outcome: Type.String(),
      enforced: Type.Boolean(),
      suppressedBy: Nullable(Type.String()),
      inputs: Json,
    }),
  ),
  sale: Nullable(TransactionSchema),
  authorisation: Nullable(TransactionSchema),
});
const EventSchema = Type.Object({ id: Type.Integer(), kind: Type.String(), staffId: Nullable(Type.Integer()), staffName: Nullable(Type.String()), body: Json, at: Type.String() });
const EvidenceSchema = Type.Object({
  from: Type.String(),
  to: Type.String(),
  truncated: Type.Boolean(),
  sales: Type.Array(
    Type.Object({
      id: Type.String(),
      at: Type.String(),
      amount: Type.Integer(),
      grade: Nullable(Type.String()),
      volumeMl: Nullable(Type.Integer()),
      stationId: Type.Integer(),
      terminalId: Type.String(),
      status: Type.String(),
      declineCode: Nullable(Type.String()),
      flow: Type.String(),
      inCase: Type.Boolean(),
    }),
  ),
  map: Type.Object({
    stations: Type.Array(Type.Object({ id: Type.Integer(), name: Type.String(), lat: Type.Number(), lng: Type.Number(), sales: Type.Integer() })),
    path: Type.Array(
      Type.Object({
        fromSaleId: Type.String(),
        toSaleId: Type.String(),
        fromStationId: Type.Integer(),
        toStationId: Type.Integer(),
        km: Type.Number(),
        minutes: Type.Number(),
        kmh: Nullable(Type.Number({ description: 'null when both sales have the same time' })),
      }),
    ),
  }),
});
const CaseDetailSchema = Type.Object({
  case: CaseSummarySchema,
  items: Type.Array(ItemSchema),
  timeline: Type.Array(EventSchema),
  evidence: EvidenceSchema,
});
const EffectsSchema = Type.Object({
  cardStatus: Type.Object({ from: Type.String(), to: Type.String() }),
  released: Type.Array(Type.String()),
  refused: Type.Array(Type.String()),
  silenced: Type.Array(Type.Object({ rule: Type.String(), silenceId: Type.Integer(), until: Type.String() })),
  reversed: Type.Array(Type.Object({ saleId: Type.String(), amount: Type.Integer(), reversalId: Type.String(), status: Type.String() })),
  holderMessageId: Nullable(Type.Integer()),
});
const HolderDecisionSchema = Type.Object({
  decisionId: Type.String(),
  outcome: Type.String({ description: 'step_up, delay, decline or freeze' }),
  at: Type.String(),
  stationName: Nullable(Type.String()),
  rules: Type.Array(Type.Object({ rule: Type.String(), zh: Type.String(), en: Type.String() })),
  caseId: Nullable(Type.Integer()),
  caseStatus: Nullable(Type.String()),
});

export function casesRoutes(app: App, deps: CaseDeps): void {
  const { db } = deps;
  const staffOf = (req: { staff?: { id: number; role: Role } }) => req.staff!;

  app.get(
    '/api/v1/cases',
    {
      config: { access: access.roles(...READERS) },
      schema: {
        tags,
        summary: 'The review queue, most urgent first / 人工审核队列',
        description: 'Ordered by priority (1 first), then SLA due time. No status: every case not closed. assignedTo: me, none or a staff id.',
        security: bearer,
        querystring: Type.Object(
          {
            status: Type.Optional(Type.Enum(CASE_STATUSES)),
            assignedTo: Type.Optional(Type.String({ pattern: '^(me|none|[1-9][0-9]{0,15})$' })),
            outcome: Type.Optional(Type.Enum(CASE_OUTCOMES)),
            cardId: Type.Optional(Id()),
            breached: Type.Optional(Type.Boolean()),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_QUEUE_PAGE, description: 'default 50' })),
            cursor: Type.Optional(Type.String({ maxLength: 200, description: 'nextCursor of the previous page' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(CaseSummarySchema), nextCursor: Nullable(Type.String()) }) },
      },
    },
    async (req) => {
      const q = req.query;
      const me = staffOf(req);
      const assignedTo = q.assignedTo === undefined ? undefined : q.assignedTo === 'me' ? me.id : q.assignedTo === 'none' ? ('none' as const) : Number(q.assignedTo);
      const now = new Date();
      const page = await listQueue(
        db,
        {
          ...(q.status ? { status: q.status } : {}),
          ...(assignedTo !== undefined ? { assignedTo } : {}),
          ...(q.outcome ? { outcome: q.outcome } : {}),
          ...(q.cardId !== undefined ? { cardId: q.cardId } : {}),
          ...(q.breached !== undefined ? { breached: q.breached } : {}),
          ...(q.cursor ? { cursor: q.cursor } : {}),
          limit: pageSize(q.limit, MAX_QUEUE_PAGE),
        },
        now,
      );
      const full = maySeeCardNumbers(me.role);
      if (full && page.rows.length > 0) {
        await auditUnmaskedView(db, actorOf(req), { targetType: 'risk_case', targetId: null, fields: ['cards.card_no'], route: 'GET /api/v1/cases', targets: page.rows.map((c) => Number(c.id)) });
      }
      return { items: page.rows.map((c) => summaryOf(c, now, full)), nextCursor: page.nextCursor };
    },
  );

  app.get(
    '/api/v1/cases/alerts',
    {
      config: { access: access.roles(...READERS) },
      schema: {
        tags,
        summary: 'Staff alert feed for the console badge / 风控提醒',
        description: 'Counts of open, unassigned, breached and my cases, and the newest staff alerts (new_case, sla_breached, appeal). Poll with after = lastEventId.',
        security: bearer,
        querystring: Type.Object(
          { after: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            counts: Type.Object({ open: Type.Integer(), unassigned: Type.Integer(), breached: Type.Integer(), mine: Type.Integer() }),
            items: Type.Array(
              Type.Object({ eventId: Type.Integer(), caseId: Type.Integer(), alert: Type.String(), at: Type.String(), outcome: Type.String(), priority: Type.Integer(), status: Type.String() }),
            ),
            lastEventId: Nullable(Type.Integer()),
          }),
        },
      },
    },
    async (req) => alertFeed(db, staffOf(req).id, req.query.after, pageSize(req.query.limit, 100, 20), new Date()),
  );

  app.get(
    '/api/v1/cases/:id',
    {
      config: { access: access.roles(...READERS) },
      schema: {
        tags,
        summary: 'A case with its items, timeline and evidence / 审核案件详情',
        description: `Items carry the decision's fired rules with their inputs and the sale or pump authorisation; evidence is the card's sales from 7 days before the case opened, with a map (stations and the legs between consecutive sales, km and km/h).`,
        security: bearer,
        params: CaseParams,
        response: { 200: CaseDetailSchema },
      },
    },
    async (req) => {
      const now = new Date();
      const c = await findCase(db, req.params.id);
      const full = maySeeCardNumbers(staffOf(req).role);
      if (full) {
        await auditUnmaskedView(db, actorOf(req), { targetType: 'risk_case', targetId: Number(c.id), fields: ['cards.card_no'], route: 'GET /api/v1/cases/:id' });
      }
      return {
        case: summaryOf(c, now, full),
        items: await caseItems(db, c.id),
        timeline: await caseEvents(db, c.id),
        evidence: await caseEvidence(db, c, now),
      };
    },
  );

  const detailAfter = async (id: number) => summaryOf(await findCase(db, id), new Date(), false);

  app.post(
    '/api/v1/cases/:id/assign',
    {
      config: { access: access.roles(...WORKERS) },
      schema: {
        tags,
        summary: 'Assign a case (default: to me) / 分派审核案件',
        description: 'Only active risk or admin staff can be assignees (400 CASES_ASSIGNEE_NOT_ELIGIBLE). A closed case: 409 CASES_ALREADY_RESOLVED.',
        security: bearer,
        params: CaseParams,
        body: Type.Optional(Type.Object({ staffId: Type.Optional(Id()) }, { additionalProperties: false })),
        response: { 200: CaseSummarySchema },
      },
    },
    async (req) => {
      const staffId = req.body?.staffId ?? staffOf(req).id;
      await db.transaction().execute((trx) => assignCase(trx, actorOf(req), req.params.id, staffId));
      return detailAfter(req.params.id);
    },
  );

  app.post(
    '/api/v1/cases/:id/unassign',
    {
      config: { access: access.roles(...WORKERS) },
      schema: { tags, summary: 'Put a case back in the queue / 取消分派', security: bearer, params: CaseParams, response: { 200: CaseSummarySchema } },
    },
    async (req) => {
      await db.transaction().execute((trx) => unassignCase(trx, actorOf(req), req.params.id));
      return detailAfter(req.params.id);
    },
  );

  app.post(
    '/api/v1/cases/:id/notes',
    {
      config: { access: access.roles(...WORKERS) },
      schema: {
        tags,
        summary: 'Add a note to a case / 添加审核备注',
        security: bearer,
        params: CaseParams,
        body: Type.Object({ text: FreeText({ minLength: 1, maxLength: NOTE_MAX }) }, { additionalProperties: false }),
        response: { 201: Type.Object({ caseId: Type.Integer() }) },
      },
    },
    async (req, reply) => {
      await db.transaction().execute((trx) => addNote(trx, actorOf(req), req.params.id, req.body.text));
      return reply.status(201).send({ caseId: req.params.id });
    },
  );

  app.post(
    '/api/v1/cases/:id/resolve',
    {
      config: { access: access.roles(...WORKERS) },
      schema: {
        tags,
        summary: 'Resolve and close a case / 审核结案',
        description:
          'released / false_positive: held pump authorisations released, the card unfrozen if the case froze it, the fired rules silenced for the card for silenceDays (default 1, 0 = none). ' +
          'confirmed_fraud: card frozen, held authorisations refused. card_blocked: card reported lost (can be replaced; an anonymous card not reportable is frozen). ' +
          'reversed: saleIds reversed (money back to the card), held authorisations refused. no_action: 409 CASES_REVIEW_PENDING while an authorisation is held. ' +
          'All in one transaction. Resolved already: 409 CASES_ALREADY_RESOLVED.',
        security: bearer,
        params: CaseParams,
        body: Type.Object(
          {
            resolution: Type.Enum(RESOLUTIONS),
            note: FreeText({ minLength: 1, maxLength: NOTE_MAX }),
            notifyHolder: Type.Optional(Type.Boolean()),
            silenceDays: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_SILENCE_DAYS })),
            saleIds: Type.Optional(Type.Array(Uuid, { minItems: 1, maxItems: 50 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ case: CaseSummarySchema, effects: EffectsSchema }) },
      },
    },
    async (req) => {
      const effects = await db.transaction().execute((trx) => resolveCase(trx, deps, actorOf(req), req.params.id, req.body));
      if (effects.holderMessageId !== null) kickMessageDispatcher();
      return { case: await detailAfter(req.params.id), effects };
    },
  );

  // ── The holder's side: own cards only (the portal's visibility rule), names not parameters ──────

  app.get(
    '/api/v1/portal/cards/:cardNo/risk-decisions',
    {
      config: { access: access.cardholder },
      schema: {
        tags: portalTags,
        summary: 'Why my card was stopped: automated risk decisions / 我的卡风控决定',
        description: 'Step-up, held, declined and frozen decisions of the last 180 days (at most 50), each with the rules’ names, the time and the station. Not the rules’ thresholds. Another holder’s card: 404 CARD_NOT_FOUND.',
        security: bearer,
        params: CardNoParams,
        response: { 200: Type.Object({ cardNo: Type.String(), cardStatus: Type.String(), openCaseId: Nullable(Type.Integer()), items: Type.Array(HolderDecisionSchema) }) },
      },
    },
    async (req) => {
      const card = await requireVisibleCard(db, req.cardholder!.customerId, req.params.cardNo);
      const items = await holderDecisions(db, card.id, new Date());
      const open = await sql<{ id: number }>`select id from risk_cases where card_id = ${card.id} and status <> 'closed'`.execute(db);
      return { cardNo: card.card_no, cardStatus: card.status, openCaseId: open.rows[0] ? Number(open.rows[0].id) : null, items };
    },
  );

  app.post(
    '/api/v1/portal/cards/:cardNo/appeals',
    {
      config: { access: access.cardholder },
      schema: {
        tags: portalTags,
        summary: 'Ask a person to review a risk decision / 申诉风控决定',
        description: `Added to the card's open review case, or opens one. 409 CASES_NOTHING_TO_APPEAL when the card has no risk decision; 429 CASES_APPEAL_LIMIT after 5 appeals on one case.`,
        security: bearer,
        params: CardNoParams,
        body: Type.Object({ text: FreeText({ minLength: 1, maxLength: 1000 }) }, { additionalProperties: false }),
        response: { 201: Type.Object({ caseId: Type.Integer(), opened: Type.Boolean(), cardNo: Type.String() }) },
      },
    },
    async (req, reply) => {
      const card = await requireVisibleCard(db, req.cardholder!.customerId, req.params.cardNo);
      const r = await db.transaction().execute((trx) => appealCase(trx, actorOf(req), card, req.body.text));
      return reply.status(201).send({ ...r, cardNo: card.card_no });
    },
  );
}
