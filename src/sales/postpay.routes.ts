import { Type } from 'typebox';
import type { Logger } from 'pino';
import type { App, Config, Db, FieldCipher } from '../platform/index.js';
import { access, actorOf, Nullable, pageSize, StaffGroups } from '../platform/index.js';
import { listPumpSales, PUMP_SALE_STATUSES, recordPumpSale, settlePumpSale, unpaidAtStation, type PumpSale } from './postpay.service.js';
import { runTerminalRequest, spendNonceOnError } from './terminal-tx.js';

const PumpSaleSchema = Type.Object({
  pumpSaleId: Type.String(),
  stationId: Type.Integer(),
  terminalId: Type.String(),
  nozzle: Type.Integer(),
  pump: Nullable(Type.Integer()),
  grade: Type.String(),
  volumeMl: Type.Integer(),
  unitPrice: Type.Integer(),
  amount: Type.Integer(),
  status: Type.String({ description: 'unpaid | paid | paid_other | abandoned' }),
  saleId: Nullable(Type.String({ description: 'the card sale that paid it' })),
  resolvedBy: Nullable(Type.String()),
  createdAt: Type.String(),
  resolvedAt: Nullable(Type.String()),
});
const StatusQuery = Type.Union(PUMP_SALE_STATUSES.map((s) => Type.Literal(s)));

export function postpayRoutes(app: App, deps: { db: Db; config: Config; cipher: FieldCipher; logger: Logger }): void {
  app.post(
    '/api/v1/pos/pump-sales',
    {
      config: { access: access.terminal, spendNonceInTransaction: true },
      schema: {
        tags: ['pos'],
        summary: "Record a pump's unpaid fill (indoor post-pay) (signed) / 记录油机挂单（先加后付）",
        description: 'Idempotency-Key required (the pump sale\'s terminal reference). The grade is the nozzle\'s. Paid at the counter by POST /api/v1/pos/sales with pumpSaleId.',
        security: [{ terminal: [] }],
        headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ maxLength: 128, description: 'required' })) }),
        body: Type.Object(
          {
            nozzle: Type.Integer({ minimum: 1, maximum: 99 }),
            volumeMl: Type.Integer({ minimum: 1, maximum: 2_000_000 }),
            unitPrice: Type.Integer({ minimum: 1, maximum: 100_000, description: 'fen per litre' }),
            amount: Type.Integer({ minimum: 1, maximum: 100_000_000, description: 'fen' }),
          },
          { additionalProperties: false },
        ),
        response: { 201: PumpSaleSchema },
      },
      onError: spendNonceOnError(deps.db),
    },
    async (req, reply) => {
      const terminal = req.terminal!;
      const key = req.headers['idempotency-key'];
      const out = await runTerminalRequest<PumpSale>(deps.db, terminal, 'pos-pump-sale', key, req.body, { requireKey: true }, async (trx) => ({
        status: 201,
        body: await recordPumpSale(trx, terminal, req.body, key!),
      }));
      return reply.code(201).send(out.body);
    },
  );

  app.get(
    '/api/v1/pos/pump-sales',
    {
      config: { access: access.terminal },
      schema: {
        tags: ['pos'],
        summary: "The station's unpaid pump sales (signed) / 本站未结油机挂单",
        security: [{ terminal: [] }],
        querystring: Type.Object({ status: Type.Optional(Type.Literal('unpaid')) }, { additionalProperties: false }),
        response: { 200: Type.Object({ items: Type.Array(PumpSaleSchema) }) },
      },
    },
    async (req) => ({ items: await unpaidAtStation(deps.db, req.terminal!.stationId) }),
  );

  app.post(
    '/api/v1/pos/pump-sales/:pumpSaleId/settle',
    {
      config: { access: access.terminal, spendNonceInTransaction: true },
      schema: {
        tags: ['pos'],
        summary: 'Settle a pump sale without the card: cash, another tender, or a drive-off (signed) / 挂单以现金等结清或作逃单处理',
        description: 'Idempotency-Key optional (a retry with it answers the first result). Audited.',
        security: [{ terminal: [] }],
        headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ maxLength: 128 })) }),
        params: Type.Object({ pumpSaleId: Type.String({ format: 'uuid' }) }),
        body: Type.Object(
          {
            tender: Type.Union([Type.Literal('cash'), Type.Literal('other'), Type.Literal('abandoned')]),
            cashier: Type.Optional(Type.String({ minLength: 1, maxLength: 40 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: PumpSaleSchema },
      },
      onError: spendNonceOnError(deps.db),
    },
    async (req) => {
      const terminal = req.terminal!;
      const key = req.headers['idempotency-key'];
      const actor = actorOf(req);
      const out = await runTerminalRequest<PumpSale>(
        deps.db,
        terminal,
        'pos-pump-sale-settle',
        key,
        { ...req.body, pumpSaleId: req.params.pumpSaleId },
        { requireKey: false },
        async (trx) => ({ status: 200, body: await settlePumpSale(trx, actor, terminal, req.params.pumpSaleId, req.body) }),
      );
      return out.body;
    },
  );

  app.get(
    '/api/v1/pump-sales',
    {
      config: { access: access.roles(...StaffGroups.readers) },
      schema: {
        tags: ['sales'],
        summary: 'Pump sales (post-pay records), newest first / 油机挂单列表',
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
        response: { 200: Type.Object({ items: Type.Array(PumpSaleSchema), nextCursor: Nullable(Type.String()) }) },
      },
    },
    async (req) => {
      const q = req.query;
      const staff = req.staff;
      const stationId = staff?.role === 'station_staff' && staff.stationId ? staff.stationId : q.stationId;
      return listPumpSales(deps.db, { ...(stationId !== undefined ? { stationId } : {}), ...(q.status ? { status: q.status } : {}), ...(q.cursor ? { cursor: q.cursor } : {}), limit: pageSize(q.limit, 100) });
    },
  );
}
