import { Type } from 'typebox';
import type { App } from '../platform/index.js';
import { access, actorOf, checkIdempotencyKey, decodeCursor, FreeText, Nullable, pageSize, parseTimeBound } from '../platform/index.js';
import { auditUnmaskedView } from '../privacy/index.js';
import { CHANNELS } from './channel.js';
import type { PaymentsDeps } from './orders.service.js';
import {
  confirmBankPayout,
  failBankPayout,
  getCardRefund,
  getRefundDetail,
  getRefundRow,
  listCardRefunds,
  listRefunds,
  queryRefundNow,
  requestRechargeRefund,
  revealPayee,
  startCardClosePayout,
} from './refunds.service.js';

export const MAX_REFUND_PAGE = 200;

const READERS = ['admin', 'operator', 'finance', 'risk'] as const;
const MONEY = ['admin', 'finance'] as const;

const RefundNo = Type.String({ pattern: '^F[0-9]{19}$' });
const OrderNo = Type.String({ pattern: '^P[0-9]{19}$' });
const Uuid = Type.String({ pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' });
const Status = Type.Union([Type.Literal('requested'), Type.Literal('processing'), Type.Literal('succeeded'), Type.Literal('failed')]);
const Kind = Type.Union([Type.Literal('recharge'), Type.Literal('card_close')]);
const Channel = Type.Union(CHANNELS.map((c) => Type.Literal(c)));

const PayeeBody = Type.Object(
  {
    name: FreeText({ minLength: 1, maxLength: 60 }),
    account: Type.String({ pattern: '^[0-9A-Za-z -]{6,48}$', description: 'bank account number (stored encrypted, shown masked)' }),
    bank: Type.Optional(FreeText({ maxLength: 80 })),
  },
  { additionalProperties: false },
);
const PayeeView = Type.Object({ name: Type.String(), account: Type.String(), bank: Nullable(Type.String()) });

export const RefundSchema = Type.Object({
  refundNo: Type.String(),
  kind: Kind,
  orderNo: Nullable(Type.String()),
  cardNo: Type.String(),
  channel: Type.String(),
  amount: Type.Integer({ description: 'fen' }),
  status: Status,
  channelRefundId: Nullable(Type.String()),
  reason: Nullable(Type.String()),
  failureReason: Nullable(Type.String()),
  payee: Nullable(PayeeView),
  originalOrderNo: Nullable(Type.String({ description: 'card-close part: the order whose channel pays it back' })),
  cardRefundId: Nullable(Type.String()),
  createdAt: Type.String(),
  completedAt: Nullable(Type.String()),
});
const EventSchema = Type.Object({
  fromStatus: Nullable(Type.String()),
  toStatus: Type.String(),
  source: Type.String(),
  staff: Nullable(Type.String()),
  details: Type.Record(Type.String(), Type.Unknown()),
  createdAt: Type.String(),
});
const CardRefundSchema = Type.Object({
  id: Type.String(),
  cardNo: Type.String(),
  accountId: Type.Integer(),
  amount: Type.Integer(),
  method: Type.String(),
  status: Type.String(),
  paidOut: Type.Integer(),
  inFlight: Type.Integer(),
  remaining: Type.Integer(),
  parts: Type.Array(RefundSchema),
  createdAt: Type.String(),
});

const bearer = [{ bearer: [] }];

export function refundsRoutes(app: App, deps: PaymentsDeps): void {
  const { db } = deps;

  app.post(
    '/api/v1/recharge-orders/:orderNo/refunds',
    {
      config: { access: access.roles(...MONEY) },
      schema: {
        tags: ['payments'],
        summary: 'Refund a recharge order to its channel / 充值退款（原路退回）',
        description:
          'Whole (no amount) or part. The card must still hold the amount; it is held in refunds payable until the channel confirms. ' +
          'Bank transfer orders need the payee. Idempotency-Key: a retry finds the same refund.',
        security: bearer,
        params: Type.Object({ orderNo: OrderNo }),
        headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ maxLength: 128 })) }),
        body: Type.Object(
          {
            amount: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000_000, description: 'fen; default: all that is refundable' })),
            reason: FreeText({ minLength: 1, maxLength: 200 }),
            payee: Type.Optional(PayeeBody),
          },
          { additionalProperties: false },
        ),
        response: { 201: RefundSchema },
      },
    },
    async (req, reply) => {
      const key = checkIdempotencyKey(req.headers['idempotency-key']);
      const refund = await requestRechargeRefund(deps, actorOf(req), { orderNo: req.params.orderNo, ...req.body }, 'staff', key);
      return reply.status(201).send(refund);
    },
  );

  app.get(
    '/api/v1/refunds',
    {
      config: { access: access.roles(...READERS) },
      schema: {
        tags: ['payments'],
        summary: 'Refunds, newest first / 退款列表',
        security: bearer,
        querystring: Type.Object(
          {
            status: Type.Optional(Status),
            channel: Type.Optional(Channel),
            kind: Type.Optional(Kind),
            orderNo: Type.Optional(OrderNo),
            cardNo: Type.Optional(Type.String({ pattern: '^[0-9]{19}$' })),
            from: Type.Optional(Type.String({ maxLength: 40, description: 'created at or after (ISO 8601)' })),
            to: Type.Optional(Type.String({ maxLength: 40, description: 'created before (ISO 8601)' })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_REFUND_PAGE })),
            cursor: Type.Optional(Type.String({ maxLength: 200 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(RefundSchema), nextCursor: Nullable(Type.String()) }) },
      },
    },
    async (req) => {
      const q = req.query;
      return listRefunds(db, {
        ...(q.status ? { status: q.status } : {}),
        ...(q.channel ? { channel: q.channel } : {}),
        ...(q.kind ? { kind: q.kind } : {}),
        ...(q.orderNo ? { orderNo: q.orderNo } : {}),
        ...(q.cardNo ? { cardNo: q.cardNo } : {}),
        ...(q.from ? { from: parseTimeBound(q.from, 'querystring.from').utc } : {}),
        ...(q.to ? { to: parseTimeBound(q.to, 'querystring.to').utc } : {}),
        limit: pageSize(q.limit, MAX_REFUND_PAGE),
        cursor: decodeCursor(q.cursor),
      });
    },
  );

  app.get(
    '/api/v1/refunds/:refundNo',
    {
      config: { access: access.roles(...READERS) },
      schema: {
        tags: ['payments'],
        summary: 'One refund with its trail / 退款详情',
        description: 'payout: the full payee account, for finance making a bank payout (admin and finance only).',
        security: bearer,
        params: Type.Object({ refundNo: RefundNo }),
        response: { 200: Type.Object({ ...RefundSchema.properties, events: Type.Array(EventSchema), payout: Type.Optional(Nullable(PayeeView)) }) },
      },
    },
    async (req) => {
      const detail = await getRefundDetail(db, req.params.refundNo);
      const role = req.staff?.role;
      if (role !== 'admin' && role !== 'finance') return detail;
      const payout = revealPayee(deps.config, await getRefundRow(db, req.params.refundNo));
      if (payout) {
        await auditUnmaskedView(db, actorOf(req), { targetType: 'refund', targetId: req.params.refundNo, fields: ['payment_refunds.payee'], route: 'GET /api/v1/refunds/:refundNo' });
      }
      return { ...detail, payout };
    },
  );

  app.post(
    '/api/v1/refunds/:refundNo/query',
    {
      config: { access: access.roles(...MONEY) },
      schema: {
        tags: ['payments'],
        summary: 'Ask the channel where a refund stands / 查询退款',
        description: 'A refund the channel was never reached for is sent again (same refund number). Bank and cash payouts wait for finance.',
        security: bearer,
        params: Type.Object({ refundNo: RefundNo }),
        response: { 200: RefundSchema },
      },
    },
    async (req) => queryRefundNow(deps, req.params.refundNo, 'staff', actorOf(req)),
  );

  app.post(
    '/api/v1/refunds/:refundNo/confirm',
    {
      config: { access: access.roles(...MONEY) },
      schema: {
        tags: ['payments'],
        summary: 'Confirm a bank payout was paid / 确认银行退款已付',
        description: 'payee is required when the refund has none yet (card-close payouts).',
        security: bearer,
        params: Type.Object({ refundNo: RefundNo }),
        body: Type.Object(
          { bankReference: Type.String({ pattern: '^[0-9A-Za-z_ -]{1,64}$' }), payee: Type.Optional(PayeeBody) },
          { additionalProperties: false },
        ),
        response: { 200: RefundSchema },
      },
    },
    async (req) => confirmBankPayout(deps, actorOf(req), req.params.refundNo, req.body),
  );

  app.post(
    '/api/v1/refunds/:refundNo/fail',
    {
      config: { access: access.roles(...MONEY) },
      schema: {
        tags: ['payments'],
        summary: 'A bank payout bounced / 银行退款失败',
        description: 'A recharge refund’s money goes back to the card; a card-close part stays payable (start a new payout).',
        security: bearer,
        params: Type.Object({ refundNo: RefundNo }),
        body: Type.Object({ reason: FreeText({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false }),
        response: { 200: RefundSchema },
      },
    },
    async (req) => failBankPayout(deps, actorOf(req), req.params.refundNo, req.body.reason),
  );

  app.get(
    '/api/v1/card-refunds',
    {
      config: { access: access.roles(...MONEY) },
      schema: {
        tags: ['payments'],
        summary: 'Closed cards’ balances to pay back through the original channel / 销户退资',
        security: bearer,
        querystring: Type.Object(
          {
            status: Type.Optional(Type.Union([Type.Literal('payable'), Type.Literal('paid')])),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_REFUND_PAGE })),
            cursor: Type.Optional(Type.String({ maxLength: 200 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(CardRefundSchema), nextCursor: Nullable(Type.String()) }) },
      },
    },
    async (req) =>
      listCardRefunds(db, { ...(req.query.status ? { status: req.query.status } : {}), limit: pageSize(req.query.limit, MAX_REFUND_PAGE), cursor: decodeCursor(req.query.cursor) }),
  );

  app.get(
    '/api/v1/card-refunds/:id',
    {
      config: { access: access.roles(...MONEY) },
      schema: {
        tags: ['payments'],
        summary: 'One card-close refund with its payout parts / 销户退资详情',
        security: bearer,
        params: Type.Object({ id: Uuid }),
        response: { 200: CardRefundSchema },
      },
    },
    async (req) => getCardRefund(db, req.params.id),
  );

  app.post(
    '/api/v1/card-refunds/:id/payout',
    {
      config: { access: access.roles(...MONEY) },
      schema: {
        tags: ['payments'],
        summary: 'Start paying a closed card’s balance back now / 发起销户退资',
        description: 'What the payout job does: split across the account’s orders (newest first), the rest by bank transfer. After a failed part, pays what is left.',
        security: bearer,
        params: Type.Object({ id: Uuid }),
        response: { 200: CardRefundSchema },
      },
    },
    async (req) => startCardClosePayout(deps, actorOf(req), req.params.id.toLowerCase(), 'staff'),
  );
}
