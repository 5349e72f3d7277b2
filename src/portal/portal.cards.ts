import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Actor, Executor } from '../platform/index.js';
import { audit, maskCardNo, runIdempotent } from '../platform/index.js';
import { cardsError, findCardByNo, presentCard, type CardRow } from '../cards/index.js';
import { cardStatement, type StatementLine } from '../statements/index.js';
import { changePin, listCardsOfCustomer, operateCard } from './portal.bridge.js';
import type { PortalDeps } from './portal.auth.js';

type StatementQuery = Parameters<typeof cardStatement>[2];

export interface PortalCard {
  /** In full: it is the cardholder's own card. */
  cardNo: string;
  kind: string;
  status: string;
  balance: number;
  available: number;
  usableFrom: string | null;
  /** Low-balance alert threshold in fen, or null when none is set. */
  lowBalanceAlert: number | null;
  createdAt: string;
}

/**
 * The signed-in cardholder's customers: every customer registered with the same phone (the
 * phone is what the sign-in proved). Read at each request, so a changed phone changes access.
 */
async function holderCustomerIds(db: Executor, customerId: number): Promise<number[]> {
  const r = await sql<{ id: number }>`select b.id from customers a join customers b on b.phone_bidx = a.phone_bidx
    where a.id = ${customerId} order by b.id limit 100`.execute(db);
  return r.rows.map((c) => c.id);
}

/** The card, if it belongs to the cardholder; otherwise 404 CARD_NOT_FOUND, exactly as for a card that does not exist. */
export async function ownedCard(db: Executor, customerId: number, cardNo: string): Promise<CardRow> {
  const card = await findCardByNo(db, cardNo);
  if (card && card.customer_id !== null && (await holderCustomerIds(db, customerId)).includes(card.customer_id)) return card;
  throw cardsError('CARD_NOT_FOUND', { cardNo: maskCardNo(cardNo) });
}

async function alertsOf(db: Executor, cardIds: number[]): Promise<Map<number, number>> {
  if (cardIds.length === 0) return new Map();
  const r = await sql<{ card_id: number; low_balance: number }>`select card_id, low_balance from portal_card_alerts where card_id = any(${cardIds}::bigint[])`.execute(db);
  return new Map(r.rows.map((a) => [a.card_id, a.low_balance]));
}

async function present(db: Executor, card: CardRow, alert: number | null): Promise<PortalCard> {
  // The cards module computes balances the same way the counter sees them.
  const view = await presentCard(db, card, 'cardholder');
  return {
    cardNo: card.card_no,
    kind: card.kind,
    status: card.status,
    balance: view.balance,
    available: view.available,
    usableFrom: view.usableFrom,
    lowBalanceAlert: alert,
    createdAt: view.createdAt,
  };
}

export async function myCards(deps: PortalDeps, customerId: number): Promise<PortalCard[]> {
  const cards: CardRow[] = [];
  for (const id of await holderCustomerIds(deps.db, customerId)) cards.push(...(await listCardsOfCustomer(deps.db, id)));
  cards.sort((a, b) => a.id - b.id);
  const alerts = await alertsOf(deps.db, cards.map((c) => c.id));
  return Promise.all(cards.map((c) => present(deps.db, c, alerts.get(c.id) ?? null)));
}

export async function myStatement(deps: PortalDeps, customerId: number, cardNo: string, q: StatementQuery): Promise<{ items: StatementLine[]; nextCursor: string | null }> {
  await ownedCard(deps.db, customerId, cardNo);
  return cardStatement(deps.db, cardNo, q);
}

/** PIN change through the cards module: its PIN checks, try counting, lock and audit apply. */
export async function changeMyPin(deps: PortalDeps, actor: Actor, customerId: number, cardNo: string, oldPin: string, newPin: string): Promise<{ changed: true }> {
  await ownedCard(deps.db, customerId, cardNo);
  await changePin(deps, actor, cardNo, oldPin, newPin);
  return { changed: true };
}

/**
 * 挂失 through the cards module's state machine, as at the counter: the card is lost from this
 * commit (the POS declines it), with its card event, audit row and outbox event.
 */
export async function reportMyCardLost(
  deps: PortalDeps,
  actor: Actor,
  customerId: number,
  cardNo: string,
  idempotencyKey: string | undefined,
): Promise<{ status: number; body: PortalCard }> {
  return runIdempotent(deps.db, `portal-card-op:report-loss:${customerId}`, idempotencyKey, { cardNo }, async (trx) => {
    await ownedCard(trx, customerId, cardNo);
    await operateCard(trx, deps, actor, cardNo, 'report-loss', { operationId: idempotencyKey ?? randomUUID() });
    const card = (await findCardByNo(trx, cardNo))!;
    const alerts = await alertsOf(trx, [card.id]);
    return { status: 200, body: await present(trx, card, alerts.get(card.id) ?? null) };
  });
}

export async function setLowBalanceAlert(deps: PortalDeps, actor: Actor, customerId: number, cardNo: string, lowBalance: number | null): Promise<{ lowBalance: number | null }> {
  return deps.db.transaction().execute(async (trx) => {
    const card = await ownedCard(trx, customerId, cardNo);
    if (lowBalance === null) {
      await sql`delete from portal_card_alerts where card_id = ${card.id}`.execute(trx);
    } else {
      // updated_at moves on every change: only sales after it are compared with the new threshold.
      await sql`insert into portal_card_alerts (card_id, low_balance, updated_at) values (${card.id}, ${lowBalance}, now())
        on conflict (card_id) do update set low_balance = excluded.low_balance, updated_at = excluded.updated_at`.execute(trx);
    }
    await audit(trx, actor, { action: 'portal.low_balance_alert', targetType: 'card', targetId: maskCardNo(card.card_no), details: { lowBalance } });
    return { lowBalance };
  });
}
