import { Type } from 'typebox';
import type { App, Db, StaffPrincipal } from '../platform/index.js';
import { access, customerScopeOf, Id, inCustomerScope, maskCardNo, Nullable, parseTimeFilter, StaffGroups } from '../platform/index.js';
import { accountEntries, getAccount } from '../ledger/index.js';
import { cardsError, findCardByNo } from '../cards/index.js';
import { cardStatement } from './statements.service.js';

const bearer = [{ bearer: [] }];
const Period = {
  from: Type.Optional(Type.String({ format: 'date-time', description: 'inclusive, ISO 8601' })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'exclusive, ISO 8601' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })),
  cursor: Type.Optional(Type.String({ maxLength: 200 })),
};

/** One line of a card's statement (staff and cardholder statements alike). */
export const StatementLineSchema = Type.Object({
  type: Type.String(),
  id: Type.String(),
  at: Type.String(),
  amount: Type.Integer(),
  status: Type.String(),
  cardNo: Type.String(),
  stationId: Nullable(Type.Integer()),
  terminalId: Nullable(Type.String()),
  grade: Nullable(Type.String()),
  volumeMl: Nullable(Type.Integer()),
  unitPrice: Nullable(Type.Integer()),
  channel: Nullable(Type.String()),
  receiptNo: Nullable(Type.String()),
  approvalCode: Nullable(Type.String()),
  declineCode: Nullable(Type.String()),
  balanceAfter: Nullable(Type.Integer()),
});

const EntrySchema = Type.Object({
  transferId: Type.String(),
  kind: Type.String(),
  code: Type.String(),
  amount: Type.Integer(),
  direction: Type.String(),
  counterpartyAccountId: Type.Integer(),
  balanceAfter: Nullable(Type.Integer()),
  pending: Type.Boolean(),
  createdAt: Type.String(),
  metadata: Type.Unknown(),
});

/** Parsed before anything is looked up, so a bad time is a 400 whether or not the card exists. */
const period = (q: { from?: string; to?: string }) => ({ from: parseTimeFilter(q.from, 'querystring.from'), to: parseTimeFilter(q.to, 'querystring.to') });

/**
 * An enterprise administrator reads statements of its customer's cards (and of sub-cards of its
 * master cards) only; any other card is the same CARD_NOT_FOUND as a number that does not exist.
 */
async function assertCardInScope(db: Db, cardNo: string, staff: StaffPrincipal | undefined): Promise<void> {
  const scope = customerScopeOf(staff);
  if (scope === undefined) return;
  const card = await findCardByNo(db, cardNo);
  const master = card?.master_card_no ? await findCardByNo(db, card.master_card_no) : undefined;
  if (!card || !(inCustomerScope(scope, card.customer_id) || (master !== undefined && inCustomerScope(scope, master.customer_id)))) {
    throw cardsError('CARD_NOT_FOUND', { cardNo: maskCardNo(cardNo) });
  }
}

export function statementsRoutes(app: App, deps: { db: Db }): void {
  app.get(
    '/api/v1/cards/:cardNo/statement',
    {
      config: { access: access.roles(...StaffGroups.readers, 'enterprise_admin') },
      schema: {
        tags: ['statements'],
        summary: "A card's sales, recharges and refunds, newest first / 卡交易明细",
        security: bearer,
        params: Type.Object({ cardNo: Type.String({ pattern: '^[0-9]{19}$' }) }),
        querystring: Type.Object({
          ...Period,
          type: Type.Optional(Type.Union([Type.Literal('sale'), Type.Literal('recharge'), Type.Literal('refund'), Type.Literal('reversal')])),
          includeDeclined: Type.Optional(Type.Boolean()),
        }),
        response: { 200: Type.Object({ items: Type.Array(StatementLineSchema), nextCursor: Nullable(Type.String()) }) },
      },
    },
    async (req) => {
      const q = { ...req.query, ...period(req.query) };
      await assertCardInScope(deps.db, req.params.cardNo, req.staff);
      return cardStatement(deps.db, req.params.cardNo, q);
    },
  );

  app.get(
    '/api/v1/accounts/:accountId',
    {
      config: { access: access.roles(...StaffGroups.readers) },
      schema: {
        tags: ['statements'],
        summary: 'An account and its balances / 账户余额',
        security: bearer,
        params: Type.Object({ accountId: Id() }),
        response: {
          200: Type.Object({
            id: Type.Integer(),
            kind: Type.String(),
            currency: Type.String(),
            name: Type.String(),
            status: Type.String(),
            balance: Type.Integer(),
            available: Type.Integer(),
            debitsPending: Type.Integer(),
            debitsPosted: Type.Integer(),
            creditsPending: Type.Integer(),
            creditsPosted: Type.Integer(),
            arrears: Type.Integer(),
          }),
        },
      },
    },
    async (req) => getAccount(deps.db, req.params.accountId),
  );

  app.get(
    '/api/v1/accounts/:accountId/entries',
    {
      config: { access: access.roles(...StaffGroups.readers) },
      schema: {
        tags: ['statements'],
        summary: "An account's ledger entries, newest first / 账户分录",
        security: bearer,
        params: Type.Object({ accountId: Id() }),
        querystring: Type.Object(Period),
        response: { 200: Type.Object({ items: Type.Array(EntrySchema), nextCursor: Nullable(Type.String()) }) },
      },
    },
    async (req) => {
      const dates = period(req.query);
      await getAccount(deps.db, req.params.accountId);
      return accountEntries(deps.db, req.params.accountId, { ...req.query, ...dates });
    },
  );
}
