import { sql } from 'kysely';
import type { Config, Trx } from '../platform/index.js';
import { businessDay, monthStart, weekStart } from '../platform/index.js';
import type { CardDecline } from './card.declines.js';
import { hasPeriodLimits, limitDecline, type PeriodUsage } from './card.limits.js';
import { lockCardByNo, type CardRow } from './cards.repository.js';
import { checkPin } from './cards.service.js';
import { isValidCardNo } from './card.numbers.js';

export interface CardUse {
  cardNo: string;
  pin: string;
  grade: string;
  volumeMl: number;
  amount: number;
}

export type CardUseDecision =
  | { ok: true; card: CardRow; accountIds: number[]; businessDay: string }
  | {
      ok: false;
      declineCode: CardDecline | string;
      card: CardRow | null;
      businessDay: string;
      /** True only when the decline came after a correct PIN: only then may the answer show the balance. */
      pinVerified: boolean;
    };

const STATUS_DECLINE: Record<string, CardDecline> = {
  pending: 'CARD_NOT_ACTIVE',
  frozen: 'CARD_FROZEN',
  lost: 'CARD_LOST',
  replaced: 'CARD_REPLACED',
  closed: 'CARD_CLOSED',
};

async function periodUsage(trx: Trx, cardId: number, day: string): Promise<PeriodUsage> {
  const from = [weekStart(day), monthStart(day)].sort()[0]!;
  const r = await sql<{ day: string; amount: number; volume_ml: number; fills: number }>`
    select to_char(day, 'YYYY-MM-DD') as day, amount, volume_ml, fills from card_usage_daily
    where card_id = ${cardId} and day >= ${from}::date and day <= ${day}::date`.execute(trx);
  const sum = (since: string) =>
    r.rows
      .filter((u) => u.day >= since)
      .reduce((acc, u) => ({ amount: acc.amount + u.amount, volumeMl: acc.volumeMl + u.volume_ml, fills: acc.fills + u.fills }), { amount: 0, volumeMl: 0, fills: 0 });
  return { day: sum(day), week: sum(weekStart(day)), month: sum(monthStart(day)) };
}

/**
 * Everything the card itself decides about a sale, in order: the card exists and may buy,
 * the PIN, the grade, the limits. Locks the card for the rest of the caller's transaction,
 * so concurrent sales on one card see each other's usage. Money is the caller's next step.
 * A wrong PIN is counted in this transaction: the caller commits its decline.
 */
export async function authoriseCardUse(trx: Trx, config: Config, use: CardUse, now: Date): Promise<CardUseDecision> {
  const day = businessDay(now, config.timeZone);
  if (!isValidCardNo(use.cardNo)) return { ok: false, declineCode: 'CARD_UNKNOWN', card: null, businessDay: day, pinVerified: false };
  const card = await lockCardByNo(trx, use.cardNo);
  if (!card) return { ok: false, declineCode: 'CARD_UNKNOWN', card: null, businessDay: day, pinVerified: false };
  const statusDecline = STATUS_DECLINE[card.status];
  if (statusDecline) return { ok: false, declineCode: statusDecline, card, businessDay: day, pinVerified: false };
  if (card.usable_from !== null && card.usable_from > now) return { ok: false, declineCode: 'CARD_NOT_YET_USABLE', card, businessDay: day, pinVerified: false };
  if (card.kind === 'master') return { ok: false, declineCode: 'CARD_NOT_FOR_SALE', card, businessDay: day, pinVerified: false };
  // Freezing a fleet's master card (a risk or credit decision) suspends its sub cards too.
  if (card.kind === 'sub' && card.master_status === 'frozen') return { ok: false, declineCode: 'MASTER_CARD_FROZEN', card, businessDay: day, pinVerified: false };
  const pin = await checkPin(trx, config, card, use.pin, now);
  if (pin === 'locked') return { ok: false, declineCode: 'PIN_TRIES_EXCEEDED', card, businessDay: day, pinVerified: false };
  if (pin === 'wrong') return { ok: false, declineCode: 'PIN_WRONG', card, businessDay: day, pinVerified: false };
  if (card.allowed_grades !== null && !card.allowed_grades.includes(use.grade)) {
    return { ok: false, declineCode: 'GRADE_NOT_ALLOWED', card, businessDay: day, pinVerified: true };
  }
  const usage = hasPeriodLimits(card) ? await periodUsage(trx, card.id, day) : null;
  const limit = limitDecline(card, use, usage, now);
  if (limit) return { ok: false, declineCode: limit, card, businessDay: day, pinVerified: true };
  return { ok: true, card, accountIds: card.account_ids, businessDay: day };
}

/** Count an approved sale against the card's limits. */
export async function recordCardUse(trx: Trx, cardId: number, use: { amount: number; volumeMl: number }, day: string, now: Date): Promise<void> {
  await sql`with u as (
      insert into card_usage_daily (card_id, day, amount, volume_ml, fills) values (${cardId}, ${day}::date, ${use.amount}, ${use.volumeMl}, 1)
      on conflict (card_id, day) do update set amount = card_usage_daily.amount + excluded.amount,
        volume_ml = card_usage_daily.volume_ml + excluded.volume_ml, fills = card_usage_daily.fills + 1
      returning 1)
    update cards set last_sale_at = ${now} where id = ${cardId}`.execute(trx);
}
