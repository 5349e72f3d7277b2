import { Type } from 'typebox';
import type { FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { App, Config, Db, FieldCipher } from '../platform/index.js';
import { access, actorOf, checkIdempotencyKey, FreeText, Id, Nullable, pageSize, runIdempotent, StaffGroups } from '../platform/index.js';
import { spendTerminalNonce } from '../stations/index.js';
import { listReversals, REVERSAL_REASONS, reverseByRef, voidSale, type ReversalAnswer, type VoidAnswer } from './reversals.service.js';
import { scopedStationId } from './reversals.station-scope.js';

export const MAX_REVERSAL_PAGE = 200;

/** A terminal reference as the sale path records it: an Idempotency-Key, or `offline:<seq>`. */
export const TerminalRef = Type.String({ pattern: '^[A-Za-z0-9_\\-:.]{1,128}$', description: 'the original’s Idempotency-Key, or offline:<seq>' });
const TerminalId = Type.String({ pattern: '^T[0-9]{8}$' });

const ReversalAnswerSchema = Type.Object({
  reversalId: Type.String(),
  originalRef: Type.String(),
  target: Type.Union([Type.Literal('sale'), Type.Literal('authorisation'), Type.Literal('none')]),
  saleId: Type.Optional(Type.String()),
  authorisationId: Type.Optional(Type.String()),
  amount: Type.Integer({ description: 'fen given back (sale) or released (authorisation holds)' }),
  status: Type.Union([Type.Literal('reversed'), Type.Literal('recorded')]),
  actionCode: Type.String({ description: 'ISO 8583 action code: 400 reversal accepted' }),
  createdAt: Type.String(),
});

const VoidAnswerSchema = Type.Object({
  saleId: Type.String(),
  status: Type.Literal('voided'),
  amount: Type.Integer(),
  reversalId: Type.String(),
});

const ReversalItemSchema = Type.Object({
  reversalId: Type.String(),
  kind: Type.Union([Type.Literal('reversal'), Type.Literal('void')]),
  terminalId: Type.String(),
  stationId: Nullable(Type.Integer()),
  originalRef: Type.String(),
  reason: Type.String(),
  target: Type.String(),
  saleId: Nullable(Type.String()),
  authorisationId: Nullable(Type.String()),
  amount: Type.Integer(),
  outcome: Type.Union([Type.Literal('reversed'), Type.Literal('voided'), Type.Literal('recorded')]),
  cashier: Nullable(Type.String()),
  note: Nullable(Type.String()),
  shiftId: Nullable(Type.Integer()),
  createdAt: Type.String(),
});

/**
 * The nonce of a terminal request is spent in its transaction; when the request fails that
 * transaction rolled back, so it is spent here: the same signed bytes are never accepted later.
 */
export function spendNonceOnError(db: Db) {
  return async (req: FastifyRequest) => {
    const nonce = req.terminal?.unspentNonce;
    if (nonce === undefined) return;
    await spendTerminalNonce(db, req.terminal!.id, nonce).catch(() => {
      // Already spent (a replay, or the request committed).
    });
  };
}

export function reversalRoutes(app: App, deps: { db: Db; config: Config; cipher: FieldCipher; logger: Logger }): void {
  const { db } = deps;

  app.post(
    '/api/v1/pos/reversals',
    {
      config: { access: access.terminal, spendNonceInTransaction: true },
      schema: {
        tags: ['pos'],
        summary: 'Reverse a sale or a pump authorisation by its terminal reference / 冲正',
        description:
          'Names the original by the Idempotency-Key it was sent with (or offline:<seq>). Always accepted (actionCode 400): an approved sale gives its money back, an open authorisation releases its holds, an unknown original is remembered so that it is declined (ALREADY_REVERSED) if it arrives later. A repeat answers as the first did. Idempotency-Key optional.',
        security: [{ terminal: [] }],
        headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ maxLength: 128 })) }),
        body: Type.Object(
          { originalRef: TerminalRef, reason: Type.Enum(REVERSAL_REASONS) },
          { additionalProperties: false },
        ),
        response: { 200: ReversalAnswerSchema },
      },
      onError: spendNonceOnError(db),
    },
    async (req) => {
      const terminal = req.terminal!;
      const key = req.headers['idempotency-key'];
      const out = await runIdempotent<ReversalAnswer>(db, `pos-reversal:${terminal.id}`, key, req.body, async (trx) => ({ status: 200, body: await reverseByRef(trx, terminal, req.body) }), {
        first: async (trx) => {
          await spendTerminalNonce(trx, terminal.id, terminal.unspentNonce!);
          checkIdempotencyKey(key);
        },
      });
      return out.body;
    },
  );

  app.post(
    '/api/v1/pos/sales/:saleId/void',
    {
      config: { access: access.terminal, spendNonceInTransaction: true },
      schema: {
        tags: ['pos'],
        summary: 'Void a sale of the open shift (cashier) / 撤销交易',
        description: 'Only a sale of this terminal, approved, in its currently open shift. The money goes back as with a reversal. Idempotency-Key optional.',
        security: [{ terminal: [] }],
        headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ maxLength: 128 })) }),
        params: Type.Object({ saleId: Type.String({ format: 'uuid' }) }),
        body: Type.Object(
          {
            cashier: Type.Optional(FreeText({ minLength: 1, maxLength: 40 })),
            reason: Type.Optional(FreeText({ minLength: 1, maxLength: 200 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: VoidAnswerSchema },
      },
      onError: spendNonceOnError(db),
    },
    async (req) => {
      const terminal = req.terminal!;
      const key = req.headers['idempotency-key'];
      const actor = actorOf(req);
      const out = await runIdempotent<VoidAnswer>(
        db,
        `pos-void:${terminal.id}`,
        key,
        { saleId: req.params.saleId, ...req.body },
        async (trx) => ({ status: 200, body: await voidSale(trx, terminal, actor, req.params.saleId, req.body) }),
        {
          first: async (trx) => {
            await spendTerminalNonce(trx, terminal.id, terminal.unspentNonce!);
            checkIdempotencyKey(key);
          },
        },
      );
      return out.body;
    },
  );

  app.get(
    '/api/v1/reversals',
    {
      config: { access: access.roles(...StaffGroups.readers) },
      schema: {
        tags: ['sales'],
        summary: 'Reversals and voids, newest first / 冲正与撤销记录',
        description: 'Station staff bound to a station see only that station’s.',
        security: [{ bearer: [] }],
        querystring: Type.Object(
          {
            stationId: Type.Optional(Id()),
            terminalId: Type.Optional(TerminalId),
            kind: Type.Optional(Type.Union([Type.Literal('reversal'), Type.Literal('void')])),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_REVERSAL_PAGE, description: 'default 50' })),
            cursor: Type.Optional(Type.String({ maxLength: 200 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(ReversalItemSchema), nextCursor: Nullable(Type.String()) }) },
      },
    },
    async (req) => {
      const q = req.query;
      const stationId = scopedStationId(req.staff, q.stationId);
      return listReversals(db, {
        ...(stationId !== undefined ? { stationId } : {}),
        ...(q.terminalId ? { terminalId: q.terminalId } : {}),
        ...(q.kind ? { kind: q.kind } : {}),
        limit: pageSize(q.limit, MAX_REVERSAL_PAGE),
        ...(q.cursor ? { cursor: q.cursor } : {}),
      });
    },
  );
}
