import { sql } from 'kysely';
import type { Trx } from '../platform/index.js';

/**
 * Undo recordCardUse for a sale that was reversed or voided: its amount, volume and fill (if it
 * had fuel) no longer count against the card's day/week/month limits (a reversed fill must not
 * block the customer's next one). Takes the card's row lock first, as the sale path does, so a reversal
 * and a sale on the same card queue on the card and never deadlock on the usage row.
 * Never below zero: usage recorded before this code existed may be missing.
 */
export async function releaseCardUse(trx: Trx, cardId: number, use: { amount: number; volumeMl: number }, day: string): Promise<void> {
  await sql`select 1 from cards where id = ${cardId} for update`.execute(trx);
  // As recordCardUse counted it: store goods alone were no fill.
  const fills = use.volumeMl > 0 ? 1 : 0;
  await sql`update card_usage_daily set amount = greatest(0, amount - ${use.amount}),
      volume_ml = greatest(0, volume_ml - ${use.volumeMl}), fills = greatest(0, fills - ${fills})
    where card_id = ${cardId} and day = ${day}::date`.execute(trx);
}
