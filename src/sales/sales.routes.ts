import { Type } from 'typebox';
import type { App, Config, Db } from '../platform/index.js';
import { access, checkIdempotencyKey, GradeCode, runIdempotent, saleOutcomes, StaffGroups } from '../platform/index.js';
import { spendTerminalNonce } from '../stations/index.js';
import { maySeeCardNumbers, pinVerifyValue } from '../cards/index.js';
import { checkSaleAmount, decideSale, getSale, type SaleAnswer } from './sales.service.js';

const SaleAnswerSchema = Type.Object({
  saleId: Type.String(),
  status: Type.Union([Type.Literal('approved'), Type.Literal('declined')]),
  approvalCode: Type.Optional(Type.String()),
  declineCode: Type.Optional(Type.String()),
  actionCode: Type.String({ description: 'ISO 8583:1993 action code (DE 39)' }),
  message: Type.Optional(Type.String()),
  amount: Type.Integer(),
  balance: Type.Union([Type.Integer(), Type.Null()]),
});

const SaleRecordSchema = Type.Object({
  saleId: Type.String(),
  cardNo: Type.String(),
  stationId: Type.Integer(),
  terminalId: Type.String(),
  nozzle: Type.Integer(),
  grade: Type.String(),
  volumeMl: Type.Integer(),
  unitPrice: Type.Integer(),
  amount: Type.Integer(),
  status: Type.String(),
  approvalCode: Type.Union([Type.String(), Type.Null()]),
  declineCode: Type.Union([Type.String(), Type.Null()]),
  transfers: Type.Array(Type.Object({ transferId: Type.String(), accountId: Type.Integer(), amount: Type.Integer() })),
  balanceAfter: Type.Union([Type.Integer(), Type.Null()]),
  businessDay: Type.String(),
  createdAt: Type.String(),
});

export function salesRoutes(app: App, deps: { db: Db; config: Config }): void {
  app.post(
    '/api/v1/pos/sales',
    {
      config: { access: access.terminal, spendNonceInTransaction: true },
      schema: {
        tags: ['pos'],
        summary: 'Authorise a fuel sale (signed by the terminal) / 加油交易授权',
        description:
          'A decline is a business answer (200, status "declined", declineCode). With Idempotency-Key a retry returns the first answer and debits once.',
        security: [{ terminal: [] }],
        headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ maxLength: 128 })) }),
        body: Type.Object(
          {
            cardNo: Type.String({ minLength: 1, maxLength: 19, pattern: '^[0-9]+$' }),
            pin: Type.String({ minLength: 1, maxLength: 12 }),
            grade: GradeCode(),
            volumeMl: Type.Integer({ minimum: 1, maximum: 2_000_000 }),
            unitPrice: Type.Integer({ minimum: 1, maximum: 100_000, description: 'fen per litre' }),
            amount: Type.Integer({ minimum: 1, maximum: 100_000_000, description: 'fen' }),
            nozzle: Type.Integer({ minimum: 1, maximum: 99 }),
          },
          { additionalProperties: false },
        ),
        response: { 200: SaleAnswerSchema },
      },
      // The nonce is spent inside the sale's transaction; when the request fails instead (a bad
      // body, a refusal, a crash of the use case), that transaction rolled back, so spend it here:
      // the same signed bytes must never be accepted later, when the cause has gone.
      onError: async (req) => {
        const nonce = req.terminal?.unspentNonce;
        if (nonce === undefined) return;
        await spendTerminalNonce(deps.db, req.terminal!.id, nonce).catch(() => {
          // Already spent (a replay, or the sale committed): nothing to do.
        });
      },
    },
    async (req) => {
      const terminal = req.terminal!;
      const key = req.headers['idempotency-key'];
      const out = await runIdempotent<SaleAnswer>(
        deps.db,
        `pos-sale:${terminal.id}`,
        key,
        // The stored request hash must not let anyone with the database test PINs offline:
        // the PIN enters it only through the keyed verify value.
        { ...req.body, pin: pinVerifyValue(deps.config.pinKey, req.body.cardNo, req.body.pin) },
        async (trx) => {
          checkSaleAmount(req.body);
          const decided = await decideSale(trx, deps, terminal, req.body);
          return { status: 200, body: decided.answer, last: decided.debit };
        },
        // The nonce is spent first, in the sale's own transaction (one commit per sale, not two),
        // so a replayed request is refused as a replay before anything else is looked at.
        {
          first: async (trx) => {
            await spendTerminalNonce(trx, terminal.id, terminal.unspentNonce!);
            checkIdempotencyKey(key);
          },
        },
      );
      if (!out.replayed) saleOutcomes.inc({ status: out.body.status, code: out.body.declineCode ?? 'APPROVED' });
      return out.body;
    },
  );

  app.get(
    '/api/v1/sales/:saleId',
    {
      config: { access: access.roles(...StaffGroups.readers) },
      schema: {
        tags: ['sales'],
        summary: 'One sale / 交易详情',
        security: [{ bearer: [] }],
        params: Type.Object({ saleId: Type.String({ format: 'uuid' }) }),
        response: { 200: SaleRecordSchema },
      },
    },
    async (req) => getSale(deps.db, req.params.saleId, { fullCardNo: maySeeCardNumbers(req.staff?.role) }),
  );
}
