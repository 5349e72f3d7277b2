import { Type } from 'typebox';
import type { FastifyRequest } from 'fastify';
import type { App, Role } from '../platform/index.js';
import { access, actorOf, checkIdempotencyKey, maskCardNo, Nullable, pageSize, parseTimeBound } from '../platform/index.js';
import { maySeeCardNumbers } from '../cards/index.js';
import { auditUnmaskedView } from '../privacy/index.js';
import { CHANNELS, METHODS } from './channel.js';
import { ORDER_STATUSES } from './orders.state.js';
import {
  closeOpenOrder,
  createOrder,
  creditPaidOrderByStaff,
  presentOrder,
  queryOrder,
  requireOrderView,
  type PaymentsDeps,
  type RechargeOrder,
} from './orders.service.js';
import { listOrderViews, orderEvents, orderNotifications, type OrderView } from './orders.repository.js';
import { listRefundsOfOrder } from './refunds.service.js';
import { paymentsError } from './payments.errors.js';

export const ORDER_NO_PATTERN = '^P[0-9]{19}$';
export const CARD_NO_PATTERN = '^[0-9]{19}$';
export const MAX_ORDER_PAGE = 200;

const READERS: Role[] = ['admin', 'operator', 'finance', 'risk', 'station_staff'];
const CREATORS: Role[] = ['admin', 'operator', 'station_staff', 'finance'];
const OPERATORS: Role[] = ['admin', 'operator', 'finance'];
const MONEY: Role[] = ['admin', 'finance'];

const Payload = Type.Object(
  {
    qrText: Type.Optional(Type.String()),
    payUrl: Type.Optional(Type.String()),
    form: Type.Optional(Type.Object({ action: Type.String(), fields: Type.Record(Type.String(), Type.String()) })),
    jsapi: Type.Optional(Type.Record(Type.String(), Type.String())),
    transfer: Type.Optional(Type.Object({ bankName: Type.String(), accountName: Type.String(), accountNo: Type.String(), payerCode: Type.String() })),
    sandboxUrl: Type.Optional(Type.String()),
  },
  { description: 'What the payer needs: a QR code text, a page to open, a form to post, JSAPI parameters or transfer instructions' },
);

export const RechargeOrderSchema = Type.Object({
  orderNo: Type.String(),
  cardNo: Type.String(),
  accountId: Type.Integer(),
  amount: Type.Integer({ description: 'fen' }),
  channel: Type.Enum(CHANNELS),
  method: Type.Enum(METHODS),
  origin: Type.Union([Type.Literal('portal'), Type.Literal('counter'), Type.Literal('api')]),
  status: Type.Enum(ORDER_STATUSES),
  payload: Payload,
  payerCode: Nullable(Type.String()),
  channelTxnId: Nullable(Type.String()),
  channelOrderNo: Nullable(Type.String({ description: 'the provider’s order number when it is not ours (a payment found only on the statement and credited by reconciliation)' })),
  paidAmount: Nullable(Type.Integer()),
  paidAt: Nullable(Type.String()),
  receiptNo: Nullable(Type.String()),
  refundedAmount: Type.Integer(),
  expiresAt: Type.String(),
  closeReason: Nullable(Type.String()),
  note: Nullable(Type.String()),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});

const OrderDetailSchema = Type.Object({
  ...RechargeOrderSchema.properties,
  events: Type.Array(
    Type.Object({
      fromStatus: Nullable(Type.String()),
      toStatus: Type.String(),
      source: Type.String(),
      staff: Nullable(Type.String()),
      details: Type.Record(Type.String(), Type.Unknown()),
      createdAt: Type.String(),
    }),
  ),
  notifications: Type.Array(
    Type.Object({
      id: Type.Integer(),
      kind: Nullable(Type.String()),
      outcome: Type.String(),
      reason: Nullable(Type.String()),
      notifyId: Nullable(Type.String()),
      receivedAt: Type.String(),
      verified: Type.Boolean({ description: 'false: a refused notification that names this order (forged, wrong amount, another merchant…), kept for the record — not the order’s' }),
    }),
  ),
  refunds: Type.Array(Type.Unknown(), { description: 'Refunds of this order (see GET /api/v1/refunds/{refundNo})' }),
});

const OrderNoParams = Type.Object({ orderNo: Type.String({ pattern: ORDER_NO_PATTERN }) });
const IdemHeaders = Type.Object({ 'idempotency-key': Type.Optional(Type.String({ maxLength: 128 })) });

/** Staff see card numbers as the cards module shows them to their role. */
export function presentForStaff(view: OrderView, role: Role | undefined): RechargeOrder {
  const o = presentOrder(view);
  return maySeeCardNumbers(role) ? o : { ...o, cardNo: maskCardNo(o.cardNo) };
}

/**
 * A full card number shown is a view of unmasked personal data (docs/privacy.md): audited, one row
 * per answer. Not when the caller typed the number itself (creating an order, a list filtered by
 * card), as for GET /api/v1/cards/:cardNo.
 */
async function auditOrdersShown(
  deps: PaymentsDeps,
  req: FastifyRequest,
  orders: readonly RechargeOrder[],
  route: string,
  opts: { list?: boolean; typedCardNo?: string } = {},
): Promise<void> {
  if (!maySeeCardNumbers(req.staff?.role)) return;
  const shown = orders.filter((o) => o.cardNo !== opts.typedCardNo);
  if (shown.length === 0) return;
  await auditUnmaskedView(deps.db, actorOf(req), {
    targetType: 'recharge_order',
    targetId: shown.length === 1 ? shown[0]!.orderNo : null,
    ...(opts.list ? { targets: shown.map((o) => o.orderNo) } : {}),
    fields: ['cards.card_no'],
    route,
  });
}

export function ordersRoutes(app: App, deps: PaymentsDeps): void {
  /** The order as it is now, for the staff member who acted on it by its order number. */
  const shownOrder = async (req: FastifyRequest, orderNo: string, route: string): Promise<RechargeOrder> => {
    const order = presentForStaff(await requireOrderView(deps.db, orderNo), req.staff!.role);
    await auditOrdersShown(deps, req, [order], route);
    return order;
  };

  app.post(
    '/api/v1/recharge-orders',
    {
      config: { access: access.roles(...CREATORS) },
      schema: {
        tags: ['payments'],
        summary: 'Create a recharge order / 创建充值订单',
        description:
          'Cash is credited at once. Bank transfer: the answer carries the account and the payer code to write on the transfer. Online channels: the answer carries what the payer needs (QR text, page, form). Top-up limits apply except to cash. Idempotency-Key: a retry returns the same order.',
        security: [{ bearer: [] }],
        headers: IdemHeaders,
        body: Type.Object(
          {
            cardNo: Type.String({ pattern: CARD_NO_PATTERN }),
            amount: Type.Integer({ minimum: 1, maximum: 100_000_000, description: 'fen' }),
            channel: Type.Enum(CHANNELS),
            method: Type.Optional(Type.Enum(METHODS)),
            accountId: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER })),
            origin: Type.Optional(Type.Union([Type.Literal('counter'), Type.Literal('api')])),
            payer: Type.Optional(Type.Object({ openId: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,128}$' })) }, { additionalProperties: false })),
          },
          { additionalProperties: false },
        ),
        response: { 201: RechargeOrderSchema },
      },
    },
    async (req, reply) => {
      const key = checkIdempotencyKey(req.headers['idempotency-key']);
      const b = req.body;
      const order = await createOrder(
        deps,
        actorOf(req),
        {
          cardNo: b.cardNo,
          amount: b.amount,
          channel: b.channel,
          origin: b.origin ?? 'counter',
          ...(b.method ? { method: b.method } : {}),
          ...(b.accountId !== undefined ? { accountId: b.accountId } : {}),
          payer: { ...(b.payer?.openId ? { openId: b.payer.openId } : {}), clientIp: req.ip },
        },
        { scope: `recharge-order:${req.staff!.id}`, key, request: b },
      );
      const view = await requireOrderView(deps.db, order.orderNo);
      return reply.status(201).send(presentForStaff(view, req.staff!.role));
    },
  );

  app.get(
    '/api/v1/recharge-orders',
    {
      config: { access: access.roles(...READERS) },
      schema: {
        tags: ['payments'],
        summary: 'Recharge orders, newest first / 充值订单列表',
        description: '`from`/`to` bound the creation time (ISO 8601, `to` exclusive).',
        security: [{ bearer: [] }],
        querystring: Type.Object(
          {
            status: Type.Optional(Type.Enum(ORDER_STATUSES)),
            channel: Type.Optional(Type.Enum(CHANNELS)),
            cardNo: Type.Optional(Type.String({ pattern: CARD_NO_PATTERN })),
            orderNo: Type.Optional(Type.String({ pattern: ORDER_NO_PATTERN })),
            from: Type.Optional(Type.String({ maxLength: 40 })),
            to: Type.Optional(Type.String({ maxLength: 40 })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_ORDER_PAGE, description: 'default 50' })),
            cursor: Type.Optional(Type.String({ maxLength: 200 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(RechargeOrderSchema), nextCursor: Nullable(Type.String()) }) },
      },
    },
    async (req) => {
      const q = req.query;
      const from = parseTimeBound(q.from, 'querystring.from');
      const to = parseTimeBound(q.to, 'querystring.to');
      const page = await listOrderViews(deps.db, {
        ...(q.status ? { status: q.status } : {}),
        ...(q.channel ? { channel: q.channel } : {}),
        ...(q.cardNo ? { cardNo: q.cardNo } : {}),
        ...(q.orderNo ? { orderNo: q.orderNo } : {}),
        ...(from ? { from: from.utc } : {}),
        ...(to ? { to: to.utc } : {}),
        ...(q.cursor ? { cursor: q.cursor } : {}),
        limit: pageSize(q.limit, MAX_ORDER_PAGE),
      });
      const items = page.items.map((v) => presentForStaff(v, req.staff!.role));
      await auditOrdersShown(deps, req, items, 'GET /api/v1/recharge-orders', { list: true, ...(q.cardNo ? { typedCardNo: q.cardNo } : {}) });
      return { items, nextCursor: page.nextCursor };
    },
  );

  app.get(
    '/api/v1/recharge-orders/:orderNo',
    {
      config: { access: access.roles(...READERS) },
      schema: {
        tags: ['payments'],
        summary: 'A recharge order with its events, notifications and refunds / 充值订单详情',
        security: [{ bearer: [] }],
        params: OrderNoParams,
        response: { 200: OrderDetailSchema },
      },
    },
    async (req) => {
      const view = await requireOrderView(deps.db, req.params.orderNo);
      const order = presentForStaff(view, req.staff!.role);
      await auditOrdersShown(deps, req, [order], 'GET /api/v1/recharge-orders/:orderNo');
      return {
        ...order,
        events: await orderEvents(deps.db, view.id),
        notifications: await orderNotifications(deps.db, view.order_no),
        refunds: await listRefundsOfOrder(deps.db, view.id),
      };
    },
  );

  app.post(
    '/api/v1/recharge-orders/:orderNo/query',
    {
      config: { access: access.roles(...OPERATORS) },
      schema: {
        tags: ['payments'],
        summary: 'Ask the channel about the order now and apply its answer / 查询支付结果',
        description: 'A payment the channel has (its notification lost) is credited. Cash and bank transfer orders have nobody to ask: the order is returned as it is.',
        security: [{ bearer: [] }],
        params: OrderNoParams,
        response: { 200: RechargeOrderSchema },
      },
    },
    async (req) => {
      const r = await queryOrder(deps, req.params.orderNo, 'staff', actorOf(req));
      if (r.outcome === 'rejected' && r.code) throw paymentsError(r.code, { orderNo: req.params.orderNo, ...(r.details ?? {}) });
      return shownOrder(req, req.params.orderNo, 'POST /api/v1/recharge-orders/:orderNo/query');
    },
  );

  app.post(
    '/api/v1/recharge-orders/:orderNo/close',
    {
      config: { access: access.roles(...OPERATORS) },
      schema: {
        tags: ['payments'],
        summary: 'Close an unpaid order / 关闭订单',
        description: 'Asks the channel first: a payment found is credited instead of closing (the answer shows the order credited). Then closes it at the provider so it can no longer be paid.',
        security: [{ bearer: [] }],
        params: OrderNoParams,
        response: { 200: RechargeOrderSchema },
      },
    },
    async (req) => {
      const view = await requireOrderView(deps.db, req.params.orderNo);
      if (view.status !== 'created' && view.status !== 'paying') throw paymentsError('PAYMENT_ORDER_STATE', { orderNo: view.order_no, status: view.status });
      await closeOpenOrder(deps, view.order_no, 'staff', 'staff', actorOf(req));
      return shownOrder(req, view.order_no, 'POST /api/v1/recharge-orders/:orderNo/close');
    },
  );

  app.post(
    '/api/v1/recharge-orders/:orderNo/credit',
    {
      config: { access: access.roles(...MONEY) },
      schema: {
        tags: ['payments'],
        summary: 'Credit a paid order the card could not take before / 人工入账',
        description: 'For an order left `paid` (the card was lost or closed when the money arrived) once the card can take money again.',
        security: [{ bearer: [] }],
        params: OrderNoParams,
        response: { 200: RechargeOrderSchema },
      },
    },
    async (req) => {
      await creditPaidOrderByStaff(deps, actorOf(req), req.params.orderNo);
      return shownOrder(req, req.params.orderNo, 'POST /api/v1/recharge-orders/:orderNo/credit');
    },
  );
}
