import { Type } from 'typebox';
import type { Logger } from 'pino';
import type { App, Config, Db, FieldCipher } from '../platform/index.js';
import { access, actorOf, FreeText, GradeCode, Id, Nullable, parseTimeFilter, StaffGroups } from '../platform/index.js';
import { createPromotion, endPromotion, listPromotions } from './promotions.service.js';

const PromotionSchema = Type.Object({
  id: Type.Integer(),
  stationId: Nullable(Type.Integer({ description: 'null: a province’s or every station’s' })),
  province: Nullable(Type.String({ description: 'null: one station’s or every station’s' })),
  titleZh: Type.String(),
  titleEn: Type.String(),
  grade: Nullable(Type.String()),
  startsAt: Type.String(),
  endsAt: Type.String(),
  status: Type.Union([Type.Literal('scheduled'), Type.Literal('active'), Type.Literal('ended')]),
  endedAt: Nullable(Type.String({ description: 'when it was ended early' })),
  endedBy: Nullable(Type.String()),
  createdBy: Type.String(),
  createdAt: Type.String(),
});
const bearer = [{ bearer: [] }];

export function promotionRoutes(app: App, deps: { db: Db; config: Config; cipher: FieldCipher; logger: Logger }): void {
  app.get(
    '/api/v1/promotions',
    {
      config: { access: access.roles(...StaffGroups.readers) },
      schema: {
        tags: ['promotions'],
        summary: 'Promotions, newest first / 油站活动列表',
        description: 'active=true: running now (begun, not past endsAt, not ended early); active=false: the others.',
        security: bearer,
        querystring: Type.Object(
          {
            active: Type.Optional(Type.Boolean()),
            stationId: Type.Optional(Id()),
            cursor: Type.Optional(Type.String({ maxLength: 20 })),
            limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(PromotionSchema), nextCursor: Nullable(Type.String()) }) },
      },
    },
    async (req) => listPromotions(deps.db, req.query),
  );

  app.post(
    '/api/v1/promotions',
    {
      config: { access: access.roles('admin', 'operator') },
      schema: {
        tags: ['promotions'],
        summary: 'Create a promotion for a station, a province or every station / 新建油站活动',
        description: 'stationId and province are exclusive; neither: every station. Audited as promotion.create.',
        security: bearer,
        body: Type.Object(
          {
            stationId: Type.Optional(Id()),
            province: Type.Optional(FreeText({ minLength: 1, maxLength: 40 })),
            titleZh: FreeText({ minLength: 1, maxLength: 60 }),
            titleEn: FreeText({ minLength: 1, maxLength: 80 }),
            grade: Type.Optional(GradeCode()),
            startsAt: Type.String({ maxLength: 64, description: 'ISO 8601' }),
            endsAt: Type.String({ maxLength: 64, description: 'ISO 8601, after startsAt and in the future' }),
          },
          { additionalProperties: false },
        ),
        response: { 201: PromotionSchema },
      },
    },
    async (req, reply) => {
      const { startsAt, endsAt, ...rest } = req.body;
      const promotion = await createPromotion(deps.db, actorOf(req), {
        ...rest,
        startsAt: parseTimeFilter(startsAt, 'body.startsAt'),
        endsAt: parseTimeFilter(endsAt, 'body.endsAt'),
      });
      return reply.status(201).send(promotion);
    },
  );

  app.post(
    '/api/v1/promotions/:id/end',
    {
      config: { access: access.roles('admin', 'operator') },
      schema: {
        tags: ['promotions'],
        summary: 'End a promotion now / 结束油站活动',
        description: '409 PROMOTION_ALREADY_ENDED when it has ended (early or by its endsAt). Audited as promotion.end.',
        security: bearer,
        params: Type.Object({ id: Id() }),
        response: { 200: PromotionSchema },
      },
    },
    async (req) => endPromotion(deps.db, actorOf(req), req.params.id),
  );
}
