import { Type } from 'typebox';
import type { Logger } from 'pino';
import type { FastifyRequest } from 'fastify';
import type { App, Config, Db, FieldCipher } from '../platform/index.js';
import { access, Nullable, pageSize, saleOutcomes, StaffGroups } from '../platform/index.js';
import { pinVerifyValue } from '../cards/index.js';
import { authorisePump, type AuthorisationAnswer } from './authorisations.service.js';
import { completeAuthorisation } from './authorisations.completion.js';
import { AUTHORISATION_STATUSES, getAuthorisation, heldAtStation, listAuthorisations } from './authorisations.read.js';
import { SaleAnswerSchema, StoreItemsSchema } from './sales.schemas.js';
import { salesError } from './sales.errors.js';
import type { SaleAnswer } from './sales.service.js';
import { runTerminalRequest, spendNonceOnError } from './terminal-tx.js';

const KeyHeader = Type.Object({ 'idempotency-key': Type.Optional(Type.String({ maxLength: 128, description: 'required' })) });
const Mode = Type.Union([Type.Literal('preauth'), Type.Literal('prepay')]);

const AnswerSchema = Type.Object({
  authorisationId: Nullable(Type.String({ description: 'null when declined (nothing is held)' })),
  status: Type.Union([Type.Literal('approved'), Type.Literal('declined'), Type.Literal('review')], {
    description: 'review: held for a risk reviewer, pump NOT released; poll GET …/authorisations/:id until held (release) or declined',
  }),
  approvalCode: Type.Optional(Type.String()),
  declineCode: Type.Optional(Type.String()),
  actionCode: Type.String({ description: 'ISO 8583:1993 action code (DE 39): 000, 002 = partial approval' }),
  message: Type.Optional(Type.String()),
  mode: Mode,
  nozzle: Type.Integer(),
  grade: Type.String(),
  requestedAmount: Type.Integer(),
  heldAmount: Type.Integer({ description: 'fen held; the pump preset must not exceed it' }),
  expiresAt: Nullable(Type.String()),
  balance: Nullable(Type.Integer()),
});

const HoldSchema = Type.Object({ transferId: Type.String(), accountId: Type.Integer(), amount: Type.Integer() });
const RecordSchema = Type.Object({
  authorisationId: Type.String(),
  stationId: Type.Integer(),
  terminalId: Type.String(),
  terminalRef: Type.String(),
  pump: Nullable(Type.Integer()),
  nozzle: Type.Integer(),
  grade: Nullable(Type.String()),
  cardNo: Type.String({ description: 'masked' }),
  mode: Mode,
  requestedAmount: Type.Integer(),
  heldAmount: Type.Integer(),
  holds: Type.Array(HoldSchema),
  status: Type.String({ description: 'held | review | completed | reversed | expired | forced | declined' }),
  approvalCode: Type.String(),
  expiresAt: Type.String(),
  saleId: Nullable(Type.String()),
  businessDay: Type.String(),
  shiftId: Nullable(Type.Integer()),
  createdAt: Type.String(),
  resolvedAt: Nullable(Type.String()),
});
const StatusQuery = Type.Union(AUTHORISATION_STATUSES.map((s) => Type.Literal(s)));

/** A station cashier sees their own station's; other readers any (or the one they ask for). */
function stationScope(req: FastifyRequest, asked: number | undefined): number | undefined {
  const staff = req.staff;
  if (staff?.role === 'station_staff' && staff.stationId !== null && staff.stationId !== undefined) return staff.stationId;
  return asked;
}

export function authorisationRoutes(app: App, deps: { db: Db; config: Config; cipher: FieldCipher; logger: Logger }): void {
  app.post(
    '/api/v1/pos/authorisations',
    {
      config: { access: access.terminal, spendNonceInTransaction: true },
      schema: {
        tags: ['pos'],
        summary: 'Pre-authorise or prepay a pump: hold money on the card, tied to the nozzle (signed) / 加油预授权、预付（冻结资金，锁定油枪）',
        description:
          'Idempotency-Key required; it is the authorisation\'s terminal reference (a reversal names it). preauth holds amount (default ' +
          'FUELCARD_PREAUTH_DEFAULT_FEN) or less (partial approval, actionCode 002); prepay holds exactly the preset or declines. ' +
          'Declines: card declines, INSUFFICIENT_FUNDS, CARD_IN_ARREARS, ALREADY_REVERSED, NOZZLE_BUSY, RISK_STEP_UP, RISK_DECLINED, RISK_FROZEN. ' +
          'status review (actionCode 923): held for a risk reviewer, the pump is not released (docs/risk-sale-path.md).',
        security: [{ terminal: [] }],
        headers: KeyHeader,
        body: Type.Object(
          {
            cardNo: Type.String({ minLength: 1, maxLength: 19, pattern: '^[0-9]+$' }),
            pin: Type.String({ minLength: 1, maxLength: 12 }),
            nozzle: Type.Integer({ minimum: 1, maximum: 99 }),
            mode: Mode,
            amount: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000_000, description: 'fen: prepay preset (required) or pre-auth request' })),
            riskConfirmation: Type.Optional(
              Type.Union([Type.Literal('pin'), Type.Literal('staff')], { description: 'after a RISK_STEP_UP answer: the PIN re-entered (pin) or the holder checked by the cashier (staff)' }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: AnswerSchema },
      },
      onError: spendNonceOnError(deps.db),
    },
    async (req) => {
      const terminal = req.terminal!;
      const key = req.headers['idempotency-key'];
      const out = await runTerminalRequest<AuthorisationAnswer>(
        deps.db,
        terminal,
        'pos-authorisation',
        key,
        { ...req.body, pin: pinVerifyValue(deps.config.pinKey, req.body.cardNo, req.body.pin) },
        { requireKey: true },
        async (trx) => {
          const decided = await authorisePump(trx, deps, terminal, req.body, key!);
          return { status: 200, body: decided.answer, last: decided.last };
        },
      );
      return out.body;
    },
  );

  app.post(
    '/api/v1/pos/authorisations/:authorisationId/completion',
    {
      config: { access: access.terminal, spendNonceInTransaction: true },
      schema: {
        tags: ['pos'],
        summary: 'Complete a pump authorisation with the fuel delivered: post it, release the rest (signed) / 预授权完成（按实际加油金额扣款，释放余额）',
        description:
          'Idempotency-Key required (the completion sale\'s terminal reference). amount is the fuel part, at most the amount held (409 COMPLETION_EXCEEDS_HOLD). ' +
          'After expiry the fuel is still posted, as a forced sale flagged completed_after_expiry. A declined completion (PRICE_MISMATCH, goods refused) keeps the hold.',
        security: [{ terminal: [] }],
        headers: KeyHeader,
        params: Type.Object({ authorisationId: Type.String({ format: 'uuid' }) }),
        body: Type.Object(
          {
            volumeMl: Type.Integer({ minimum: 1, maximum: 2_000_000 }),
            unitPrice: Type.Integer({ minimum: 1, maximum: 100_000, description: 'fen per litre' }),
            amount: Type.Integer({ minimum: 1, maximum: 100_000_000, description: 'fen: the fuel delivered' }),
            items: Type.Optional(StoreItemsSchema),
          },
          { additionalProperties: false },
        ),
        response: { 200: SaleAnswerSchema },
      },
      onError: spendNonceOnError(deps.db),
    },
    async (req) => {
      const terminal = req.terminal!;
      const key = req.headers['idempotency-key'];
      const out = await runTerminalRequest<SaleAnswer>(
        deps.db,
        terminal,
        'pos-completion',
        key,
        { ...req.body, authorisationId: req.params.authorisationId },
        { requireKey: true },
        async (trx) => {
          const decided = await completeAuthorisation(trx, deps, terminal, req.params.authorisationId, req.body, key!);
          return { status: 200, body: decided.answer, last: decided.last };
        },
      );
      if (!out.replayed) saleOutcomes.inc({ status: out.body.status, code: out.body.declineCode ?? 'APPROVED' });
      return out.body;
    },
  );

  app.get(
    '/api/v1/pos/authorisations/:authorisationId',
    {
      config: { access: access.terminal },
      schema: {
        tags: ['pos'],
        summary: 'One pump authorisation of this station: a terminal polls one in risk review until it is held or declined (signed) / 查询本站预授权（待审核轮询）',
        description:
          'status review: held for a risk reviewer, the pump must not start; held: released (the approvalCode is shown then); declined: refused, ' +
          'nothing held; expired: nobody decided in time. Another station’s authorisation is 404 AUTHORISATION_NOT_FOUND.',
        security: [{ terminal: [] }],
        params: Type.Object({ authorisationId: Type.String({ format: 'uuid' }) }),
        response: {
          200: Type.Object({
            authorisationId: Type.String(),
            status: Type.String({ description: 'held | review | completed | reversed | expired | forced | declined' }),
            nozzle: Type.Integer(),
            heldAmount: Type.Integer(),
            approvalCode: Nullable(Type.String({ description: 'null while in review or once refused' })),
            expiresAt: Type.String(),
          }),
        },
      },
    },
    async (req) => {
      const a = await getAuthorisation(deps.db, req.params.authorisationId);
      if (a.stationId !== req.terminal!.stationId) throw salesError('AUTHORISATION_NOT_FOUND', { authorisationId: req.params.authorisationId });
      // Never released (in review, refused, or expired / reversed while in review): no code that could start a pump.
      const released = a.releasedAt !== null;
      return { authorisationId: a.authorisationId, status: a.status, nozzle: a.nozzle, heldAmount: a.heldAmount, approvalCode: released ? a.approvalCode : null, expiresAt: a.expiresAt };
    },
  );

  app.get(
    '/api/v1/pos/authorisations',
    {
      config: { access: access.terminal },
      schema: {
        tags: ['pos'],
        summary: "The station's open pump authorisations (grey locks) (signed) / 本站未完成的预授权（灰锁）",
        security: [{ terminal: [] }],
        querystring: Type.Object({ status: Type.Optional(Type.Literal('held')) }, { additionalProperties: false }),
        response: {
          200: Type.Object({
            items: Type.Array(
              Type.Object({
                authorisationId: Type.String(),
                terminalId: Type.String(),
                nozzle: Type.Integer(),
                pump: Nullable(Type.Integer()),
                grade: Nullable(Type.String()),
                cardNo: Type.String({ description: 'masked' }),
                mode: Mode,
                heldAmount: Type.Integer(),
                approvalCode: Type.String(),
                createdAt: Type.String(),
                expiresAt: Type.String(),
              }),
            ),
          }),
        },
      },
    },
    async (req) => ({ items: await heldAtStation(deps.db, req.terminal!.stationId) }),
  );

  app.get(
    '/api/v1/authorisations',
    {
      config: { access: access.roles(...StaffGroups.readers) },
      schema: {
        tags: ['sales'],
        summary: 'Pump authorisations, newest first / 加油预授权列表',
        description: 'A station cashier (station_staff bound to a station) sees that station only.',
        security: [{ bearer: [] }],
        querystring: Type.Object(
          {
            stationId: Type.Optional(Type.Integer({ minimum: 1 })),
            status: Type.Optional(StatusQuery),
            cursor: Type.Optional(Type.String({ maxLength: 200 })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(RecordSchema), nextCursor: Nullable(Type.String()) }) },
      },
    },
    async (req) => {
      const q = req.query;
      const stationId = stationScope(req, q.stationId);
      return listAuthorisations(deps.db, { ...(stationId !== undefined ? { stationId } : {}), ...(q.status ? { status: q.status } : {}), ...(q.cursor ? { cursor: q.cursor } : {}), limit: pageSize(q.limit, 100) });
    },
  );

  app.get(
    '/api/v1/authorisations/:authorisationId',
    {
      config: { access: access.roles(...StaffGroups.readers) },
      schema: {
        tags: ['sales'],
        summary: 'One pump authorisation / 预授权详情',
        security: [{ bearer: [] }],
        params: Type.Object({ authorisationId: Type.String({ format: 'uuid' }) }),
        response: { 200: RecordSchema },
      },
    },
    async (req) => {
      const rec = await getAuthorisation(deps.db, req.params.authorisationId);
      const scope = stationScope(req, undefined);
      // Another station's is not shown to a station's cashier, nor confirmed to exist.
      if (scope !== undefined && rec.stationId !== scope) throw salesError('AUTHORISATION_NOT_FOUND', { authorisationId: req.params.authorisationId });
      return rec;
    },
  );
}
