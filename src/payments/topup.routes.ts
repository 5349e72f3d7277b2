import { Type } from 'typebox';
import type { App } from '../platform/index.js';
import { access, actorOf, checkIdempotencyKey, Nullable, pageSize } from '../platform/index.js';
import { CHANNELS, METHODS } from './channel.js';
import type { PaymentsDeps } from './orders.service.js';
import { CARD_NO_PATTERN, ORDER_NO_PATTERN, RechargeOrderSchema } from './orders.routes.js';
import { createTopup, getMyTopup, listMyTopups, topupOptions } from './topup.service.js';

const MAX_TOPUP_PAGE = 100;

/** The cardholder's top-up (会员自助充值): options, create, my orders, my order (the payer's poll). */
export function topupRoutes(app: App, deps: PaymentsDeps): void {
  app.get(
    '/api/v1/portal/topup-options',
    {
      config: { access: access.cardholder },
      schema: {
        tags: ['portal'],
        summary: 'How a cardholder may top up: channels, limits, preset amounts / 充值选项',
        security: [{ bearer: [] }],
        response: {
          200: Type.Object({
            channels: Type.Array(
              Type.Object({
                channel: Type.Enum(CHANNELS),
                methods: Type.Array(Type.Enum(METHODS)),
                sandbox: Type.Boolean({ description: 'the channel runs against the local sandbox provider (development)' }),
                name: Type.Object({ zh: Type.String(), en: Type.String() }),
              }),
            ),
            orderMax: Type.Integer({ description: 'fen' }),
            dayMax: Type.Integer({ description: 'fen' }),
            presets: Type.Array(Type.Integer()),
          }),
        },
      },
    },
    async () => topupOptions(deps),
  );

  app.post(
    '/api/v1/portal/cards/:cardNo/topups',
    {
      config: { access: access.cardholder },
      schema: {
        tags: ['portal'],
        summary: 'Top up a card / 在线充值',
        description: 'Creates a recharge order and asks the channel for what the payer needs (QR text, page, form, or transfer instructions). Idempotency-Key: a retry returns the same order.',
        security: [{ bearer: [] }],
        params: Type.Object({ cardNo: Type.String({ pattern: CARD_NO_PATTERN }) }),
        headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ maxLength: 128 })) }),
        body: Type.Object(
          {
            amount: Type.Integer({ minimum: 1, maximum: 100_000_000, description: 'fen' }),
            channel: Type.Union([Type.Literal('wechat'), Type.Literal('alipay'), Type.Literal('unionpay'), Type.Literal('bank_transfer')]),
            method: Type.Optional(Type.Enum(METHODS)),
          },
          { additionalProperties: false },
        ),
        response: { 201: RechargeOrderSchema },
      },
    },
    async (req, reply) => {
      const key = checkIdempotencyKey(req.headers['idempotency-key']);
      const order = await createTopup(
        deps,
        actorOf(req),
        req.cardholder!.customerId,
        { cardNo: req.params.cardNo, amount: req.body.amount, channel: req.body.channel, ...(req.body.method ? { method: req.body.method } : {}), clientIp: req.ip },
        key,
      );
      return reply.status(201).send(order);
    },
  );

  app.get(
    '/api/v1/portal/topups',
    {
      config: { access: access.cardholder },
      schema: {
        tags: ['portal'],
        summary: 'My top-ups (recharge orders of my cards), newest first / 我的充值',
        security: [{ bearer: [] }],
        querystring: Type.Object(
          {
            cardNo: Type.Optional(Type.String({ pattern: CARD_NO_PATTERN })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_TOPUP_PAGE, description: 'default 20' })),
            cursor: Type.Optional(Type.String({ maxLength: 200 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(RechargeOrderSchema), nextCursor: Nullable(Type.String()) }) },
      },
    },
    async (req) =>
      listMyTopups(deps, req.cardholder!.customerId, {
        ...(req.query.cardNo ? { cardNo: req.query.cardNo } : {}),
        ...(req.query.cursor ? { cursor: req.query.cursor } : {}),
        limit: pageSize(req.query.limit, MAX_TOPUP_PAGE, 20),
      }),
  );

  app.get(
    '/api/v1/portal/topups/:orderNo',
    {
      config: { access: access.cardholder },
      schema: {
        tags: ['portal'],
        summary: 'One of my top-ups; polled by the payment page / 充值结果',
        description: 'An open online order older than 5 s is first asked about at the channel (at most every 5 s), so a payment whose notification never arrived still shows.',
        security: [{ bearer: [] }],
        params: Type.Object({ orderNo: Type.String({ pattern: ORDER_NO_PATTERN }) }),
        response: { 200: RechargeOrderSchema },
      },
    },
    async (req) => getMyTopup(deps, req.cardholder!.customerId, req.params.orderNo),
  );
}
