import { randomUUID } from 'node:crypto';
import { Type } from 'typebox';
import type { App } from '../platform/index.js';
import type { Executor, StaffPrincipal } from '../platform/index.js';
import { access, actorOf, checkIdempotencyKey, customerScopeOf, FreeText, Id, inCustomerScope, maskCardNo, runIdempotent, StaffGroups, type Role } from '../platform/index.js';
import { customersError } from '../customers/index.js';
import { auditUnmaskedView } from '../privacy/index.js';
import { CARD_OPERATIONS, type CardOperation } from './card.state.js';
import { allocateToSubCard, recallFromSubCard } from './cards.money.js';
import { findCardByNo, listCardsOfCustomer, listSubCards, type CardRow } from './cards.repository.js';
import { cardsError } from './cards.errors.js';
import { AllocationSchema, CardNoParams, CardViewSchema, LimitsSchema, Pin } from './cards.schemas.js';
import {
  changePin,
  getCard,
  issueCard,
  linkCardAccount,
  maySeeCardNumbers,
  operateCard,
  presentCard,
  reorderCardAccounts,
  resetPin,
  setLimits,
  type CardDeps,
} from './cards.service.js';

const bearer = [{ bearer: [] }];
const IdempotencyHeaders = Type.Object({ 'idempotency-key': Type.Optional(Type.String({ maxLength: 128 })) });

const OPERATION_ROLES: Record<CardOperation, Role[]> = {
  activate: StaffGroups.counter,
  'report-loss': StaffGroups.counter,
  'cancel-loss': StaffGroups.counter,
  freeze: ['admin', 'operator', 'risk'],
  unfreeze: ['admin', 'operator', 'risk'],
  replace: StaffGroups.serviceDesk,
  close: StaffGroups.serviceDesk,
};

const OPERATION_SUMMARY: Record<CardOperation, string> = {
  activate: 'Activate a pending card / 启用',
  'report-loss': 'Report the card lost / 挂失',
  'cancel-loss': 'Cancel a loss report / 解挂',
  freeze: 'Freeze the card / 冻结',
  unfreeze: 'Unfreeze the card / 解冻',
  replace: 'Replace the card: new number, same accounts, old card dead / 补卡',
  close: 'Close the card and refund its balance / 销户退款',
};

/**
 * An enterprise administrator (企业管理员) reads its own customer's cards: master cards and their
 * sub-cards. Other staff roles are not confined (their routes name them).
 */
const CARD_READERS: Role[] = [...StaffGroups.readers, 'enterprise_admin'];

/**
 * The card, if the caller may see it: for an enterprise administrator, only a card of its customer
 * or a sub-card of such a master card. Anything else is CARD_NOT_FOUND, exactly as a number that
 * does not exist, so guessing numbers tells nothing.
 */
async function cardForCaller(db: Executor, cardNo: string, staff: StaffPrincipal | undefined): Promise<CardRow> {
  const card = await findCardByNo(db, cardNo);
  const scope = customerScopeOf(staff);
  const visible =
    card !== undefined &&
    (inCustomerScope(scope, card.customer_id) ||
      (card.master_card_no !== null && card.master_card_no !== undefined && inCustomerScope(scope, (await findCardByNo(db, card.master_card_no))?.customer_id)));
  if (!visible) throw cardsError('CARD_NOT_FOUND', { cardNo: maskCardNo(cardNo) });
  return card;
}

export function cardsRoutes(app: App, deps: CardDeps): void {
  app.post(
    '/api/v1/cards',
    {
      config: { access: access.roles(...StaffGroups.counter) },
      schema: {
        tags: ['cards'],
        summary: 'Issue a card / 开卡',
        description:
          'kind: personal (记名, needs customerId), anonymous (不记名), master (主卡, needs customerId; owns the reserve 备用金), sub (副卡, needs masterCardNo; sharedBalance lets it also spend the reserve).',
        security: bearer,
        headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ maxLength: 128 })) }),
        body: Type.Object(
          {
            kind: Type.Union([Type.Literal('personal'), Type.Literal('anonymous'), Type.Literal('master'), Type.Literal('sub')]),
            customerId: Type.Optional(Id()),
            pin: Pin,
            masterCardNo: Type.Optional(Type.String({ pattern: '^[0-9]{19}$' })),
            sharedBalance: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
        response: { 201: CardViewSchema },
      },
    },
    async (req, reply) => {
      // With a key, a retry after a lost answer returns the card issued the first time, not a second card.
      const key = checkIdempotencyKey(req.headers['idempotency-key']);
      // The PIN stays out of the stored request fingerprint: a hash of six digits is no secret.
      const { pin: _pin, ...fingerprint } = req.body;
      const out = await runIdempotent(deps.db, `card-issue:${req.staff!.id}`, key, fingerprint, async (trx) => ({
        status: 201,
        body: await issueCard(deps, actorOf(req), req.body, trx),
      }));
      return reply.status(out.status as 201).send(out.body as never);
    },
  );

  app.get(
    '/api/v1/cards',
    {
      config: { access: access.roles(...CARD_READERS) },
      schema: {
        tags: ['cards'],
        summary: "A customer's cards / 客户名下的卡",
        description: 'An enterprise administrator may list only its own customer (any other: 404 CUSTOMER_NOT_FOUND).',
        security: bearer,
        querystring: Type.Object({ customerId: Id() }),
        response: { 200: Type.Object({ items: Type.Array(CardViewSchema) }) },
      },
    },
    async (req) => {
      if (!inCustomerScope(customerScopeOf(req.staff), req.query.customerId)) throw customersError('CUSTOMER_NOT_FOUND', { customerId: req.query.customerId });
      const cards = await listCardsOfCustomer(deps.db, req.query.customerId);
      // Listing by customer reveals card numbers the caller did not already type in.
      if (cards.length > 0 && maySeeCardNumbers(req.staff?.role)) {
        await auditUnmaskedView(deps.db, actorOf(req), { targetType: 'customer', targetId: req.query.customerId, fields: ['cards.card_no'], route: 'GET /api/v1/cards' });
      }
      return { items: await Promise.all(cards.map((c) => presentCard(deps.db, c, req.staff?.role))) };
    },
  );

  app.get(
    '/api/v1/cards/:cardNo',
    {
      config: { access: access.roles(...CARD_READERS) },
      schema: { tags: ['cards'], summary: 'Card, balances and limits / 卡详情与余额', security: bearer, params: CardNoParams, response: { 200: CardViewSchema } },
    },
    async (req) => {
      if (customerScopeOf(req.staff) !== undefined) await cardForCaller(deps.db, req.params.cardNo, req.staff);
      return getCard(deps, req.params.cardNo, req.staff?.role);
    },
  );

  app.get(
    '/api/v1/cards/:cardNo/sub-cards',
    {
      config: { access: access.roles(...CARD_READERS) },
      schema: {
        tags: ['cards'],
        summary: "A master card's sub cards and what each holds (allocations) / 副卡列表",
        security: bearer,
        params: CardNoParams,
        response: { 200: Type.Object({ items: Type.Array(CardViewSchema) }) },
      },
    },
    async (req) => {
      const master = await cardForCaller(deps.db, req.params.cardNo, req.staff);
      const subs = await listSubCards(deps.db, master.id);
      if (subs.length > 0 && maySeeCardNumbers(req.staff?.role)) {
        await auditUnmaskedView(deps.db, actorOf(req), { targetType: 'card', targetId: maskCardNo(master.card_no), fields: ['cards.card_no'], route: 'GET /api/v1/cards/:cardNo/sub-cards' });
      }
      return { items: await Promise.all(subs.map((c) => presentCard(deps.db, c, req.staff?.role))) };
    },
  );

  for (const op of CARD_OPERATIONS) {
    app.post(
      `/api/v1/cards/:cardNo/${op}`,
      {
        config: { access: access.roles(...OPERATION_ROLES[op]) },
        // The body is optional: a POST with no body at all is an operation without a reason.
        preValidation: async (req) => {
          if (req.body === undefined || req.body === null) (req as { body: unknown }).body = {};
        },
        schema: {
          tags: ['cards'],
          summary: OPERATION_SUMMARY[op],
          security: bearer,
          params: CardNoParams,
          headers: IdempotencyHeaders,
          body: Type.Object(
            {
              reason: Type.Optional(FreeText({ maxLength: 200 })),
              ...(op === 'close' ? { refundMethod: Type.Optional(Type.Union([Type.Literal('cash'), Type.Literal('original_channel')])) } : {}),
            },
            { additionalProperties: false },
          ),
          response: {
            200: Type.Object({
              ...CardViewSchema.properties,
              card: CardViewSchema,
              newCard: Type.Optional(CardViewSchema),
              replacedCardNo: Type.Optional(Type.String()),
              refund: Type.Optional(Type.Object({ amount: Type.Integer(), method: Type.String(), refundId: Type.Union([Type.String(), Type.Null()]) })),
            }),
          },
        },
      },
      async (req, reply) => {
        const key = checkIdempotencyKey(req.headers['idempotency-key']);
        const body = req.body as { reason?: string; refundMethod?: 'cash' | 'original_channel' };
        const out = await runIdempotent(deps.db, `card-op:${op}:${req.staff!.id}`, key, { cardNo: req.params.cardNo, ...body }, async (trx) => {
          const result = await operateCard(trx, deps, actorOf(req), req.params.cardNo, op, { ...body, operationId: key ?? randomUUID() });
          // The top level is the card the caller now holds: for replace, the new card.
          const primary = result.newCard ?? result.card;
          return {
            status: 200,
            body: { ...primary, card: result.card, ...(result.newCard ? { newCard: result.newCard, replacedCardNo: result.card.cardNo } : {}), ...(result.refund ? { refund: result.refund } : {}) },
          };
        });
        return reply.status(out.status as 200).send(out.body as never);
      },
    );
  }

  app.post(
    '/api/v1/cards/:cardNo/pin/change',
    {
      config: { access: access.roles(...StaffGroups.counter) },
      schema: {
        tags: ['cards'],
        summary: 'Change the PIN with the old one / 修改密码',
        security: bearer,
        params: CardNoParams,
        body: Type.Object({ oldPin: Type.String({ maxLength: 6 }), newPin: Pin }, { additionalProperties: false }),
        response: { 204: Type.Null() },
      },
    },
    async (req, reply) => {
      await changePin(deps, actorOf(req), req.params.cardNo, req.body.oldPin, req.body.newPin);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/api/v1/cards/:cardNo/pin/reset',
    {
      config: { access: access.roles(...StaffGroups.serviceDesk) },
      schema: {
        tags: ['cards'],
        summary: 'Reset the PIN after an ID check; clears a PIN lock / 重置密码',
        security: bearer,
        params: CardNoParams,
        body: Type.Object({ newPin: Pin }, { additionalProperties: false }),
        response: { 204: Type.Null() },
      },
    },
    async (req, reply) => {
      await resetPin(deps, actorOf(req), req.params.cardNo, req.body.newPin);
      return reply.status(204).send(null);
    },
  );

  app.put(
    '/api/v1/cards/:cardNo/limits',
    {
      config: { access: access.roles('admin', 'operator') },
      schema: {
        tags: ['cards'],
        summary: 'Set limits and allowed grades (replaces all; in force at once) / 设置限额与油品限制',
        security: bearer,
        params: CardNoParams,
        body: LimitsSchema,
        response: { 200: CardViewSchema },
      },
    },
    async (req) => setLimits(deps, actorOf(req), req.params.cardNo, req.body),
  );

  app.post(
    '/api/v1/cards/:cardNo/accounts',
    {
      config: { access: access.roles('admin', 'operator') },
      schema: {
        tags: ['cards'],
        summary: 'Link an account to the card, or open a new one (一卡多户) / 关联账户',
        security: bearer,
        params: CardNoParams,
        body: Type.Object({ accountId: Type.Optional(Id()), priority: Type.Optional(Type.Integer({ minimum: 1, maximum: 9 })) }, { additionalProperties: false }),
        response: { 200: CardViewSchema },
      },
    },
    async (req) => linkCardAccount(deps, actorOf(req), req.params.cardNo, req.body),
  );

  app.put(
    '/api/v1/cards/:cardNo/accounts',
    {
      config: { access: access.roles('admin', 'operator') },
      schema: {
        tags: ['cards'],
        summary: 'Set the spending order of linked accounts / 设置账户扣款顺序',
        security: bearer,
        params: CardNoParams,
        body: Type.Object({ order: Type.Array(Id(), { minItems: 1, maxItems: 9 }) }, { additionalProperties: false }),
        response: { 200: CardViewSchema },
      },
    },
    async (req) => reorderCardAccounts(deps, actorOf(req), req.params.cardNo, req.body.order),
  );

  for (const kind of ['allocations', 'recalls'] as const) {
    app.post(
      `/api/v1/cards/:cardNo/${kind}`,
      {
        config: { access: access.roles(...StaffGroups.serviceDesk) },
        schema: {
          tags: ['cards'],
          summary: kind === 'allocations' ? 'Allocate from the master reserve to a sub card / 分配' : 'Recall from a sub card to the master reserve (no amount: all) / 回收',
          security: bearer,
          params: CardNoParams,
          headers: IdempotencyHeaders,
          body: Type.Object(
            {
              subCardNo: Type.String({ pattern: '^[0-9]{19}$' }),
              amount: kind === 'allocations' ? Type.Integer({ minimum: 1, maximum: 1e12 }) : Type.Optional(Type.Integer({ minimum: 1, maximum: 1e12 })),
            },
            { additionalProperties: false },
          ),
          response: { 201: AllocationSchema },
        },
      },
      async (req, reply) => {
        const key = checkIdempotencyKey(req.headers['idempotency-key']);
        const input = { masterCardNo: req.params.cardNo, subCardNo: req.body.subCardNo, amount: req.body.amount };
        const out = await runIdempotent(deps.db, `card-${kind}:${req.staff!.id}`, key, input, async (trx) => ({
          status: 201,
          body: kind === 'allocations' ? await allocateToSubCard(trx, actorOf(req), { ...input, amount: input.amount! }) : await recallFromSubCard(trx, deps.config, actorOf(req), input),
        }));
        return reply.status(out.status as 201).send(out.body as never);
      },
    );
  }
}
