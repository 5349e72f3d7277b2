import { Type } from 'typebox';
import type { App, Config, Db } from '../platform/index.js';
import { access, actorOf, saleOutcomes, StaffGroups } from '../platform/index.js';
import { auditUnmaskedView } from '../privacy/index.js';
import { maySeeCardNumbers, pinVerifyValue } from '../cards/index.js';
import { decideSale, getSale, type SaleAnswer } from './sales.service.js';
import { SaleAnswerSchema, SaleBodySchema, SaleRecordSchema } from './sales.schemas.js';
import { runTerminalRequest, spendNonceOnError } from './terminal-tx.js';

export function salesRoutes(app: App, deps: { db: Db; config: Config }): void {
  app.post(
    '/api/v1/pos/sales',
    {
      config: { access: access.terminal, spendNonceInTransaction: true },
      schema: {
        tags: ['pos'],
        summary: 'Authorise a sale: fuel, store goods, or a pump sale paid at the counter (signed by the terminal) / 交易授权（油品、便利店商品、先加后付）',
        description:
          'A decline is a business answer (200, status "declined", declineCode). With Idempotency-Key a retry returns the first answer and debits once; ' +
          'the key is also the sale\'s terminal reference, which a reversal names (a reversal recorded first makes the late original ALREADY_REVERSED). ' +
          'grade, volumeMl, unitPrice and nozzle come together or not at all; items adds store goods; pumpSaleId pays an unpaid pump sale instead of the fuel fields.',
        security: [{ terminal: [] }],
        headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ maxLength: 128 })) }),
        body: SaleBodySchema,
        response: { 200: SaleAnswerSchema },
      },
      // The nonce is spent inside the sale's transaction; when the request fails instead (a bad
      // body, a refusal, a crash of the use case), that transaction rolled back, so spend it here.
      onError: spendNonceOnError(deps.db),
    },
    async (req) => {
      const terminal = req.terminal!;
      const key = req.headers['idempotency-key'];
      const out = await runTerminalRequest<SaleAnswer>(
        deps.db,
        terminal,
        'pos-sale',
        key,
        // The stored request hash must not let anyone with the database test PINs offline:
        // the PIN enters it only through the keyed verify value.
        { ...req.body, pin: pinVerifyValue(deps.config.pinKey, req.body.cardNo, req.body.pin) },
        { requireKey: false },
        async (trx) => {
          const decided = await decideSale(trx, deps, terminal, req.body, undefined, { terminalRef: key });
          return { status: 200, body: decided.answer, last: decided.debit };
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
    async (req) => {
      const full = maySeeCardNumbers(req.staff?.role);
      const sale = await getSale(deps.db, req.params.saleId, { fullCardNo: full });
      // The sale keeps only the mask; the full number comes from the card, a view of unmasked data.
      if (full && !sale.cardNo.includes('*')) {
        await auditUnmaskedView(deps.db, actorOf(req), { targetType: 'sale', targetId: req.params.saleId, fields: ['cards.card_no'], route: 'GET /api/v1/sales/:saleId' });
      }
      return sale;
    },
  );
}
