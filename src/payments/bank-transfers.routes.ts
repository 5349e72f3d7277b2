import { Type } from 'typebox';
import type { FastifyRequest } from 'fastify';
import type { App, Role } from '../platform/index.js';
import { access, actorOf, checkIdempotencyKey, decodeCursor, FreeText, Id, maskCardNo, Nullable, pageSize, runIdempotent } from '../platform/index.js';
import { maySeeCardNumbers } from '../cards/index.js';
import { auditUnmaskedView } from '../privacy/index.js';
import type { PaymentsDeps } from './orders.service.js';
import {
  enterIncomingTransfer,
  getIncomingTransfer,
  listIncomingTransfers,
  matchIncomingTransfer,
  settleUnmatchedTransfer,
  type BankTransferIn,
} from './bank-transfers.service.js';

export const MAX_BANK_TRANSFER_PAGE = 200;
const MONEY = ['admin', 'finance'] as const;

const Status = Type.Union([Type.Literal('unmatched'), Type.Literal('matched'), Type.Literal('ignored'), Type.Literal('returned')]);
const Day = Type.String({ pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$', format: 'date' });

export const BankTransferSchema = Type.Object({
  id: Type.Integer(),
  bankTxnId: Type.String(),
  valueDate: Type.String(),
  amount: Type.Integer({ description: 'fen' }),
  payerName: Nullable(Type.String()),
  payerAccount: Nullable(Type.String({ description: 'masked' })),
  memo: Nullable(Type.String()),
  status: Status,
  orderNo: Nullable(Type.String()),
  cardNo: Nullable(Type.String()),
  statementId: Nullable(Type.Integer()),
  note: Nullable(Type.String()),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});

const bearer = [{ bearer: [] }];

/** Finance matches transfers by amount, date and payer: it sees card numbers masked, as the cards module shows them to it. */
export function presentTransfer(t: BankTransferIn, role: Role | undefined): BankTransferIn {
  return t.cardNo && !maySeeCardNumbers(role) ? { ...t, cardNo: maskCardNo(t.cardNo) } : t;
}

/**
 * Payer names (admin and finance) and full card numbers (admin) shown in clear are views of
 * unmasked personal data (docs/privacy.md): one audit row per answer, naming what was in clear.
 */
async function auditTransfersShown(deps: PaymentsDeps, req: FastifyRequest, shown: readonly BankTransferIn[], route: string, list: boolean): Promise<void> {
  const fullCards = maySeeCardNumbers(req.staff?.role);
  const inClear = shown.filter((t) => t.payerName !== null || (fullCards && t.cardNo !== null));
  if (inClear.length === 0) return;
  const fields = [
    ...(inClear.some((t) => t.payerName !== null) ? ['bank_transfers_in.payer_name'] : []),
    ...(fullCards && inClear.some((t) => t.cardNo !== null) ? ['cards.card_no'] : []),
  ];
  await auditUnmaskedView(deps.db, actorOf(req), {
    targetType: 'bank_transfer',
    targetId: inClear.length === 1 ? inClear[0]!.id : null,
    ...(list ? { targets: inClear.map((t) => t.id) } : {}),
    fields,
    route,
  });
}

const NoteBody = Type.Object({ note: FreeText({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false });

export function bankTransfersRoutes(app: App, deps: PaymentsDeps): void {
  const { db } = deps;

  app.get(
    '/api/v1/bank-transfers',
    {
      config: { access: access.roles(...MONEY) },
      schema: {
        tags: ['payments'],
        summary: 'Incoming bank transfers, newest first / 银行入账流水',
        description: '`from`/`to`: value dates (inclusive).',
        security: bearer,
        querystring: Type.Object(
          {
            status: Type.Optional(Status),
            from: Type.Optional(Day),
            to: Type.Optional(Day),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_BANK_TRANSFER_PAGE })),
            cursor: Type.Optional(Type.String({ maxLength: 200 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(BankTransferSchema), nextCursor: Nullable(Type.String()) }) },
      },
    },
    async (req) => {
      const q = req.query;
      const page = await listIncomingTransfers(db, {
        ...(q.status ? { status: q.status } : {}),
        ...(q.from ? { from: q.from } : {}),
        ...(q.to ? { to: q.to } : {}),
        limit: pageSize(q.limit, MAX_BANK_TRANSFER_PAGE),
        cursor: decodeCursor(q.cursor, 'bigint'),
      });
      const items = page.items.map((t) => presentTransfer(t, req.staff?.role));
      await auditTransfersShown(deps, req, items, 'GET /api/v1/bank-transfers', true);
      return { ...page, items };
    },
  );

  app.get(
    '/api/v1/bank-transfers/:id',
    {
      config: { access: access.roles(...MONEY) },
      schema: { tags: ['payments'], summary: 'One incoming transfer / 入账流水详情', security: bearer, params: Type.Object({ id: Id() }), response: { 200: BankTransferSchema } },
    },
    async (req) => {
      const t = presentTransfer(await getIncomingTransfer(db, req.params.id), req.staff?.role);
      await auditTransfersShown(deps, req, [t], 'GET /api/v1/bank-transfers/:id', false);
      return t;
    },
  );

  app.post(
    '/api/v1/bank-transfers',
    {
      config: { access: access.roles(...MONEY) },
      schema: {
        tags: ['payments'],
        summary: 'Enter an incoming transfer / 登记银行入账',
        description:
          'Matched at once when the memo holds the payer code of a bank transfer order for the same amount (the card is credited), ' +
          'or when an order was credited at the counter under this bank reference. A bank transaction id is entered once (409 BANK_TRANSFER_DUPLICATE).',
        security: bearer,
        headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ maxLength: 128 })) }),
        body: Type.Object(
          {
            bankTxnId: Type.String({ pattern: '^[0-9A-Za-z_ -]{1,64}$' }),
            valueDate: Day,
            amount: Type.Integer({ minimum: 1, maximum: 100_000_000_000, description: 'fen' }),
            payerName: Type.Optional(FreeText({ maxLength: 100 })),
            payerAccount: Type.Optional(Type.String({ pattern: '^[0-9A-Za-z -]{0,48}$' })),
            memo: Type.Optional(FreeText({ maxLength: 200 })),
          },
          { additionalProperties: false },
        ),
        response: { 201: BankTransferSchema },
      },
    },
    async (req, reply) => {
      const key = checkIdempotencyKey(req.headers['idempotency-key']);
      const out = await runIdempotent<BankTransferIn>(db, `bank-transfer-in:${req.staff!.id}`, key, req.body, async (trx) => ({
        status: 201,
        body: await enterIncomingTransfer(trx, deps, actorOf(req), req.body),
      }));
      // The payer name is the one the caller typed; a matched card's number is masked for finance.
      return reply.status(201).send(presentTransfer(out.body, req.staff?.role));
    },
  );

  app.post(
    '/api/v1/bank-transfers/:id/match',
    {
      config: { access: access.roles(...MONEY) },
      schema: {
        tags: ['payments'],
        summary: 'Match a transfer to a bank transfer order (credits the card) / 人工匹配入账',
        security: bearer,
        params: Type.Object({ id: Id() }),
        body: Type.Object({ orderNo: Type.String({ pattern: '^P[0-9]{19}$' }) }, { additionalProperties: false }),
        response: { 200: BankTransferSchema },
      },
    },
    async (req) =>
      presentTransfer(await db.transaction().execute((trx) => matchIncomingTransfer(trx, deps, actorOf(req), req.params.id, req.body.orderNo)), req.staff?.role),
  );

  for (const [action, to, summary] of [
    ['ignore', 'ignored', 'Not a payer’s money: set aside / 忽略入账'],
    ['return', 'returned', 'Sent back to the payer / 退回付款人'],
  ] as const) {
    app.post(
      `/api/v1/bank-transfers/:id/${action}`,
      {
        config: { access: access.roles(...MONEY) },
        schema: { tags: ['payments'], summary, security: bearer, params: Type.Object({ id: Id() }), body: NoteBody, response: { 200: BankTransferSchema } },
      },
      async (req) => presentTransfer(await db.transaction().execute((trx) => settleUnmatchedTransfer(trx, actorOf(req), req.params.id, to, req.body.note)), req.staff?.role),
    );
  }
}
