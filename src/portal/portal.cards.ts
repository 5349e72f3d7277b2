import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Actor, Executor } from '../platform/index.js';
import { audit, maskCardNo, runIdempotent } from '../platform/index.js';
import { cardsError, changePin, findCardByNo, operateCard, presentCard, type CardRow } from '../cards/index.js';
import { cardStatement, type StatementLine } from '../statements/index.js';
import type { PortalDeps } from './portal.auth.js';

type StatementQuery = Parameters<typeof cardStatement>[2];
/** A bound on one holder's list (a fleet's sub cards included). */
const MAX_CARDS = 1000;

export interface PortalCard {
  /** In full: the cardholder may see and use this card. */
  cardNo: string;
  kind: string;
  status: string;
  /** Posted balance of the card's own money; a sub card's excludes the master's reserve it may share. */
  balance: number;
  /** What the card can spend now (the cards module's total: a shared sub card includes the reserve). */
  available: number;
  /** Sub card that may also spend its master card's reserve. */
  sharedBalance: boolean;
  usableFrom: string | null;
  /** The signed-in phone's low-balance alert threshold on this card in fen, or null. */
  lowBalanceAlert: number | null;
  createdAt: string;
}

/**
 * The signed-in cardholder: the phone (its blind index) and every customer registered with it
 * (the phone is what the sign-in proved). Read at each request, so a changed phone changes access.
 */
interface Holder {
  phoneBidx: string;
  customerIds: number[];
}

async function holderOf(db: Executor, customerId: number): Promise<Holder> {
  const r = await sql<{ phone_bidx: string; id: number }>`select a.phone_bidx, b.id from customers a join customers b on b.phone_bidx = a.phone_bidx
    where a.id = ${customerId} order by b.id limit 100`.execute(db);
  // The session's customer still has the phone (the authenticator checked it), so there is a row.
  return { phoneBidx: r.rows[0]?.phone_bidx ?? '', customerIds: r.rows.map((c) => c.id) };
}

/**
 * The cards a holder may see and act on: those of their customers (a driver's own sub card
 * included) and every sub card of their customers' master cards (the fleet owner's drivers).
 */
const visibleTo = (customerIds: number[]) =>
  sql`(c.customer_id = any(${customerIds}::bigint[]) or exists (
    select 1 from cards m where m.id = c.master_card_id and m.customer_id = any(${customerIds}::bigint[])))`;

/** The card, if the cardholder may see it; otherwise 404 CARD_NOT_FOUND, exactly as for a card that does not exist. */
async function visibleCard(db: Executor, customerId: number, cardNo: string): Promise<{ card: CardRow; holder: Holder }> {
  const holder = await holderOf(db, customerId);
  const card = await findCardByNo(db, cardNo);
  if (card && holder.customerIds.length > 0) {
    const r = await sql<{ ok: boolean }>`select true as ok from cards c where c.id = ${card.id} and ${visibleTo(holder.customerIds)}`.execute(db);
    if (r.rows.length > 0) return { card, holder };
  }
  throw cardsError('CARD_NOT_FOUND', { cardNo: maskCardNo(cardNo) });
}

async function alertsOf(db: Executor, phoneBidx: string, cardIds: number[]): Promise<Map<number, number>> {
  if (cardIds.length === 0) return new Map();
  const r = await sql<{ card_id: number; low_balance: number }>`select card_id, low_balance from portal_card_alerts
    where phone_bidx = ${phoneBidx} and card_id = any(${cardIds}::bigint[])`.execute(db);
  return new Map(r.rows.map((a) => [a.card_id, a.low_balance]));
}

async function present(db: Executor, card: CardRow, alert: number | null): Promise<PortalCard> {
  // The cards module computes the balances as the counter sees them; its available is what the
  // POS lets the card spend, and what the low-balance alert compares with.
  const view = await presentCard(db, card, 'cardholder');
  // A shared sub card has its master's reserve linked too: spendable by the card, but the
  // fleet's money, not this card's balance (the reserve would be counted once per sub card).
  const own = card.kind === 'sub' ? view.accounts.filter((a) => a.own || a.kind !== 'reserve') : view.accounts;
  return {
    cardNo: card.card_no,
    kind: card.kind,
    status: card.status,
    balance: own.reduce((sum, a) => sum + a.balance, 0),
    available: view.available,
    sharedBalance: view.sharedBalance,
    usableFrom: view.usableFrom,
    lowBalanceAlert: alert,
    createdAt: view.createdAt,
  };
}

/** The cards the holder may see, in issue order, all statuses. */
export async function myCards(deps: PortalDeps, customerId: number): Promise<PortalCard[]> {
  const holder = await holderOf(deps.db, customerId);
  if (holder.customerIds.length === 0) return [];
  // visibleTo as two index reads (by customer, by master card) rather than one OR over the table.
  const numbers = await sql<{ card_no: string }>`select card_no from (
      select c.id, c.card_no from cards c where c.customer_id = any(${holder.customerIds}::bigint[])
      union
      select c.id, c.card_no from cards m join cards c on c.master_card_id = m.id where m.customer_id = any(${holder.customerIds}::bigint[])
    ) v order by id limit ${MAX_CARDS}`.execute(deps.db);
  const cards: CardRow[] = [];
  for (const { card_no } of numbers.rows) {
    const card = await findCardByNo(deps.db, card_no);
    if (card) cards.push(card);
  }
  const alerts = await alertsOf(deps.db, holder.phoneBidx, cards.map((c) => c.id));
  return Promise.all(cards.map((c) => present(deps.db, c, alerts.get(c.id) ?? null)));
}

export async function myStatement(deps: PortalDeps, customerId: number, cardNo: string, q: StatementQuery): Promise<{ items: StatementLine[]; nextCursor: string | null }> {
  await visibleCard(deps.db, customerId, cardNo);
  return cardStatement(deps.db, cardNo, q);
}

/** PIN change through the cards module: its PIN checks, try counting, lock and audit apply. */
export async function changeMyPin(deps: PortalDeps, actor: Actor, customerId: number, cardNo: string, oldPin: string, newPin: string): Promise<{ changed: true }> {
  await visibleCard(deps.db, customerId, cardNo);
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
    const { holder } = await visibleCard(trx, customerId, cardNo);
    await operateCard(trx, deps, actor, cardNo, 'report-loss', { operationId: idempotencyKey ?? randomUUID() });
    const card = (await findCardByNo(trx, cardNo))!;
    const alerts = await alertsOf(trx, holder.phoneBidx, [card.id]);
    return { status: 200, body: await present(trx, card, alerts.get(card.id) ?? null) };
  });
}

/**
 * The signed-in phone's own alert on a card: the message goes to this phone. On a sub card the
 * fleet owner and the driver each have their own.
 */
export async function setLowBalanceAlert(deps: PortalDeps, actor: Actor, customerId: number, cardNo: string, lowBalance: number | null): Promise<{ lowBalance: number | null }> {
  return deps.db.transaction().execute(async (trx) => {
    const { card, holder } = await visibleCard(trx, customerId, cardNo);
    if (lowBalance === null) {
      await sql`delete from portal_card_alerts where card_id = ${card.id} and phone_bidx = ${holder.phoneBidx}`.execute(trx);
    } else {
      // updated_at moves on every change: only sales after it are compared with the new threshold.
      await sql`insert into portal_card_alerts (card_id, phone_bidx, low_balance, updated_at) values (${card.id}, ${holder.phoneBidx}, ${lowBalance}, now())
        on conflict (card_id, phone_bidx) do update set low_balance = excluded.low_balance, updated_at = excluded.updated_at`.execute(trx);
    }
    await audit(trx, actor, { action: 'portal.low_balance_alert', targetType: 'card', targetId: maskCardNo(card.card_no), details: { lowBalance } });
    return { lowBalance };
  });
}
