import { Type } from 'typebox';
import type { FastifyRequest } from 'fastify';
import type { App, Role } from '../platform/index.js';
import { access, actorOf, checkIdempotencyKey, decodeCursor, FreeText, maskCardNo, maskName, Nullable, pageSize, parseTimeBound } from '../platform/index.js';
import { maySeeCardNumbers } from '../cards/index.js';
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
  type CardRefundView,
  type Refund,
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

/** Admin and finance pay refunds out, so they see the payee's name; the account is always masked here. */
const maySeePayee = (role: Role | undefined): boolean => role === 'admin' || role === 'finance';

/** Card numbers as the cards module shows them to the role; payee names only to those who pay out. */
export function presentRefundFor<R extends Refund>(r: R, role: Role | undefined): R {
  return {
    ...r,
    cardNo: maySeeCardNumbers(role) ? r.cardNo : maskCardNo(r.cardNo),
    payee: r.payee && !maySeePayee(role) ? { ...r.payee, name: maskName(r.payee.name) } : r.payee,
  };
}

export function presentCardRefundFor(cr: CardRefundView, role: Role | undefined): CardRefundView {
  return { ...cr, cardNo: maySeeCardNumbers(role) ? cr.cardNo : maskCardNo(cr.cardNo), parts: cr.parts.map((p) => presentRefundFor(p, role)) };
}

/** What one refund shows in clear to the role: register fields. */
function clearFields(r: Refund, role: Role | undefined, opts: { payout?: boolean } = {}): string[] {
  return [
    ...((r.payee && maySeePayee(role)) || opts.payout ? ['payment_refunds.payee'] : []),
    ...(maySeeCardNumbers(role) ? ['cards.card_no'] : []),
  ];
}

/**
 * Full card numbers and payee names shown in clear are views of unmasked personal data
 * (docs/privacy.md): one audit row per answer naming the fields and, for lists, the records shown.
 * Not when every number shown is the one the caller typed (a list filtered by card number).
 */
async function auditShown(
  deps: PaymentsDeps,
  req: FastifyRequest,
  view: { targetType: string; route: string; list: boolean; typedCardNo?: string | undefined },
  shown: readonly { id: string; fields: readonly string[] }[],
): Promise<void> {
  const inClear = shown.filter((s) => s.fields.length > 0);
  if (inClear.length === 0) return;
  const fields = [...new Set(inClear.flatMap((s) => s.fields))].sort();
  await auditUnmaskedView(deps.db, actorOf(req), {
    targetType: view.targetType,
    targetId: inClear.length === 1 ? inClear[0]!.id : null,
    ...(view.list ? { targets: inClear.map((s) => s.id) } : {}),
    fields,
    route: view.route,
  });
}

/** A typed card number shown back is not a view; other fields of the same refund still are. */
const shownRefund = (r: Refund, role: Role | undefined, typedCardNo?: string) => ({
  id: r.refundNo,
  fields: clearFields(r, role).filter((f) => !(f === 'cards.card_no' && typedCardNo !== undefined && r.cardNo === typedCardNo)),
});

function shownCardRefund(cr: CardRefundView, role: Role | undefined): { id: string; fields: string[] } {
  const fields = new Set<string>(maySeeCardNumbers(role) ? ['cards.card_no'] : []);
  for (const p of cr.parts) for (const f of clearFields(p, role)) fields.add(f);
  return { id: cr.id, fields: [...fields].sort() };
}

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
      return reply.status(201).send(presentRefundFor(refund, req.staff?.role));
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
      const role = req.staff?.role;
      const page = await listRefunds(db, {
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
      const route = 'GET /api/v1/refunds';
      await auditShown(deps, req, { targetType: 'refund', route, list: true }, page.items.map((r) => shownRefund(r, role, q.cardNo)));
      return { ...page, items: page.items.map((r) => presentRefundFor(r, role)) };
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
      const route = 'GET /api/v1/refunds/:refundNo';
      const payout = maySeePayee(role) ? revealPayee(deps.config, await getRefundRow(db, req.params.refundNo)) : undefined;
      // One row for the answer: the full payee account (payout), the payee name and the card number.
      await auditShown(deps, req, { targetType: 'refund', route, list: false }, [{ id: detail.refundNo, fields: clearFields(detail, role, { payout: !!payout }) }]);
      const shown = presentRefundFor(detail, role);
      return payout === undefined ? shown : { ...shown, payout };
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
    async (req) => presentRefundFor(await queryRefundNow(deps, req.params.refundNo, 'staff', actorOf(req)), req.staff?.role),
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
    async (req) => presentRefundFor(await confirmBankPayout(deps, actorOf(req), req.params.refundNo, req.body), req.staff?.role),
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
    async (req) => presentRefundFor(await failBankPayout(deps, actorOf(req), req.params.refundNo, req.body.reason), req.staff?.role),
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
    async (req) => {
      const role = req.staff?.role;
      const page = await listCardRefunds(db, { ...(req.query.status ? { status: req.query.status } : {}), limit: pageSize(req.query.limit, MAX_REFUND_PAGE), cursor: decodeCursor(req.query.cursor) });
      await auditShown(deps, req, { targetType: 'card_refund', route: 'GET /api/v1/card-refunds', list: true }, page.items.map((cr) => shownCardRefund(cr, role)));
      return { ...page, items: page.items.map((cr) => presentCardRefundFor(cr, role)) };
    },
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
    async (req) => {
      const role = req.staff?.role;
      const cr = await getCardRefund(db, req.params.id);
      await auditShown(deps, req, { targetType: 'card_refund', route: 'GET /api/v1/card-refunds/:id', list: false }, [shownCardRefund(cr, role)]);
      return presentCardRefundFor(cr, role);
    },
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
    async (req) => presentCardRefundFor(await startCardClosePayout(deps, actorOf(req), req.params.id.toLowerCase(), 'staff'), req.staff?.role),
  );
}
