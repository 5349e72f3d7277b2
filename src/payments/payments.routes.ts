import { Type } from 'typebox';
import type { App } from '../platform/index.js';
import { access, actorOf, checkIdempotencyKey, runIdempotent } from '../platform/index.js';
import { rechargeAtCounter } from './recharges.service.js';
import type { PaymentsDeps } from './orders.service.js';
import { ordersRoutes } from './orders.routes.js';
import { notifyRoutes } from './notify.routes.js';
import { topupRoutes } from './topup.routes.js';

const RechargeSchema = Type.Object({
  rechargeId: Type.String(),
  receiptNo: Type.String(),
  cardNo: Type.String(),
  accountId: Type.Integer(),
  amount: Type.Integer(),
  channel: Type.String(),
  reference: Type.Union([Type.String(), Type.Null()]),
  balance: Type.Integer(),
  accountBalance: Type.Integer(),
  createdAt: Type.String(),
});

/** Every payments route: counter recharge, recharge orders, channel notifications, portal top-up. */
export function paymentsRoutes(app: App, deps: PaymentsDeps): void {
  ordersRoutes(app, deps);
  notifyRoutes(app, deps);
  topupRoutes(app, deps);
  app.post(
    '/api/v1/cards/:cardNo/recharges',
    {
      config: { access: access.roles('admin', 'operator', 'station_staff', 'finance') },
      schema: {
        tags: ['payments'],
        summary: 'Recharge at the counter (cash or bank transfer) / 柜台充值',
        description: 'Idempotency-Key: a retry returns the first answer (same receipt number); the same key with a different body is 409.',
        security: [{ bearer: [] }],
        params: Type.Object({ cardNo: Type.String({ pattern: '^[0-9]{19}$' }) }),
        headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ maxLength: 128 })) }),
        body: Type.Object(
          {
            amount: Type.Integer({ minimum: 1, maximum: 100_000_000, description: 'fen' }),
            channel: Type.Union([Type.Literal('cash'), Type.Literal('bank_transfer')]),
            reference: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
            accountId: Type.Optional(Type.Integer({ minimum: 1 })),
          },
          { additionalProperties: false },
        ),
        response: { 201: RechargeSchema },
      },
    },
    async (req, reply) => {
      const key = checkIdempotencyKey(req.headers['idempotency-key']);
      const input = { cardNo: req.params.cardNo, ...req.body };
      const out = await runIdempotent(deps.db, `recharge:${req.staff!.id}`, key, input, async (trx) => ({
        status: 201,
        body: await rechargeAtCounter(trx, deps.config, actorOf(req), input),
      }));
      return reply.status(out.status as 201).send(out.body as never);
    },
  );
}
