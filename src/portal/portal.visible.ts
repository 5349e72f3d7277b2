import { sql, type RawBuilder } from 'kysely';
import type { Executor } from '../platform/index.js';
import { maskCardNo } from '../platform/index.js';
import { cardsError, findCardByNo, type CardRow } from '../cards/index.js';

/**
 * The portal's visibility rule, for other modules' cardholder routes (payments' top-ups): a
 * signed-in cardholder sees the cards of every customer registered with the signed-in phone, and
 * every sub card of those customers' master cards. Same rule as portal.cards.ts.
 */
export async function cardholderCustomerIds(db: Executor, customerId: number): Promise<number[]> {
  const r = await sql<{ id: number }>`select b.id from customers a join customers b on b.phone_bidx = a.phone_bidx
    where a.id = ${customerId} order by b.id limit 100`.execute(db);
  return r.rows.map((c) => c.id);
}

/** SQL condition on a `cards` row aliased `c`: the card is visible to these customers. */
export const cardVisibleTo = (customerIds: number[]): RawBuilder<unknown> =>
  sql`(c.customer_id = any(${customerIds}::bigint[]) or exists (
    select 1 from cards m where m.id = c.master_card_id and m.customer_id = any(${customerIds}::bigint[])))`;

/** The card, if the signed-in cardholder may see it; otherwise 404 CARD_NOT_FOUND, exactly as for a card that does not exist. */
export async function requireVisibleCard(db: Executor, customerId: number, cardNo: string): Promise<CardRow> {
  const ids = await cardholderCustomerIds(db, customerId);
  const card = await findCardByNo(db, cardNo);
  if (card && ids.length > 0) {
    const r = await sql`select 1 from cards c where c.id = ${card.id} and ${cardVisibleTo(ids)}`.execute(db);
    if (r.rows.length > 0) return card;
  }
  throw cardsError('CARD_NOT_FOUND', { cardNo: maskCardNo(cardNo) });
}
