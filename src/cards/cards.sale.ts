import { sql } from 'kysely';
import type { Config, Trx } from '../platform/index.js';
import { businessDay, monthStart, weekStart } from '../platform/index.js';
import type { CardDecline } from './card.declines.js';
import { amountAllowance, amountLimitDecline, hasPeriodAmountLimits, hasPeriodLimits, isFuelOnly, limitDecline, withPending, type PeriodUsage } from './card.limits.js';
import { lockCardByNo, type CardRow } from './cards.repository.js';
import { checkPin } from './cards.service.js';
import { isValidCardNo } from './card.numbers.js';
import type { PinEntry } from './card.pin.js';

export interface CardUse {
  cardNo: string;
  pin: PinEntry;
  /** The fuel part's grade; null for store goods alone. */
  grade: string | null;
  /** The fuel part's volume (0 for store goods alone, or for a hold whose volume is not known yet). */
  volumeMl: number;
  /** The whole amount: fuel and goods (amount limits apply to it). */
  amount: number;
  /** Store goods on the sale (refused on a fuel-only card). */
  goods?: boolean;
  /**
   * A pre-authorisation may hold less than asked: the amount limits then cap the amount instead of
   * declining, down to this minimum (fen). The decision's `amount` is what the limits allow.
   */
  reduceAmountTo?: number;
  /**
   * Money the card's open pump authorisations hold (fen), counted as spent for the day/week/month
   * amount limits. Asked after the card is locked, so a concurrent authorisation on the same card
   * is seen; the holds are the sales module's, hence a question rather than a query here.
   */
  pendingAmount?: (cardId: number) => Promise<number>;
}

export type CardUseDecision =
  | { ok: true; card: CardRow; accountIds: number[]; businessDay: string; at: Date; amount: number }
  | {
      ok: false;
      /** The time of the sale: the database's clock (time is the database's), or the caller's `at`. */
      at: Date;
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
export async function authoriseCardUse(trx: Trx, config: Config, use: CardUse, at?: Date): Promise<CardUseDecision> {
  const card = isValidCardNo(use.cardNo) ? await lockCardByNo(trx, use.cardNo) : undefined;
  // Time is the database's: the clock read with the locked card (data loaders may pass `at`).
  const now = at ?? card?.read_at ?? (await databaseNow(trx));
  const day = businessDay(now, config.timeZone);
  const decline = (declineCode: string, pinVerified = false): CardUseDecision => ({ ok: false, declineCode, card: card ?? null, businessDay: day, pinVerified, at: now });
  if (!card) return decline('CARD_UNKNOWN');
  const statusDecline = STATUS_DECLINE[card.status];
  if (statusDecline) return decline(statusDecline);
  if (card.usable_from !== null && card.usable_from > now) return decline('CARD_NOT_YET_USABLE');
  if (card.kind === 'master') return decline('CARD_NOT_FOR_SALE');
  // Freezing a fleet's master card (a risk or credit decision) suspends its sub cards too.
  if (card.kind === 'sub' && card.master_status === 'frozen') return decline('MASTER_CARD_FROZEN');
  const pin = await checkPin(trx, config, card, use.pin, now);
  if (pin === 'locked') return decline('PIN_TRIES_EXCEEDED');
  if (pin === 'wrong') return decline('PIN_WRONG');
  if (use.grade !== null && card.allowed_grades !== null && !card.allowed_grades.includes(use.grade)) return decline('GRADE_NOT_ALLOWED', true);
  if (use.goods && isFuelOnly(card)) return decline('GOODS_NOT_ALLOWED', true);
  let usage = hasPeriodLimits(card) ? await periodUsage(trx, card.id, day) : null;
  if (usage && use.pendingAmount && hasPeriodAmountLimits(card)) usage = withPending(usage, await use.pendingAmount(card.id));
  const fills = use.grade === null ? 0 : 1;
  let amount = use.amount;
  if (use.reduceAmountTo !== undefined) {
    const allowance = amountAllowance(card, usage);
    if (allowance !== null && allowance < amount && allowance >= use.reduceAmountTo) amount = allowance;
  }
  const limit = limitDecline(card, { amount, volumeMl: use.volumeMl, fills }, usage, now);
  if (limit) return decline(limit, true);
  return { ok: true, card, accountIds: card.account_ids, businessDay: day, at: now, amount };
}

async function databaseNow(trx: Trx): Promise<Date> {
  const r = await sql<{ now: Date }>`select clock_timestamp() as now`.execute(trx);
  return r.rows[0]!.now;
}

/**
 * New spending added to an already authorised use (store goods at a pump completion): it must fit
 * the amount limits before the use is counted.
 */
export interface AmountLimitCheck {
  /** The new part of `use.amount` (fen); nothing is checked when it is 0. */
  newAmount: number;
  /** What the card's other open authorisations hold (fen), counted as spent. */
  pendingAmount: number;
}

/**
 * Count an approved sale against the card's limits. A sale without fuel (store goods alone,
 * volumeMl 0) counts its amount but no fill. With `check`, the whole amount must first fit the
 * amount limits (per sale, day, week, month): otherwise nothing is counted and the decline code
 * is returned. The caller holds the card's row lock.
 */
export async function recordCardUse(
  trx: Trx,
  cardId: number,
  use: { amount: number; volumeMl: number },
  day: string,
  now: Date,
  check?: AmountLimitCheck,
): Promise<string | null> {
  if (check && check.newAmount > 0) {
    const r = await sql<{ limit_sale_amount: number | null; limit_day_amount: number | null; limit_week_amount: number | null; limit_month_amount: number | null }>`
      select limit_sale_amount, limit_day_amount, limit_week_amount, limit_month_amount from cards where id = ${cardId}`.execute(trx);
    const limits = r.rows[0]!;
    const usage = hasPeriodAmountLimits(limits) ? withPending(await periodUsage(trx, cardId, day), check.pendingAmount) : null;
    const decline = amountLimitDecline(limits, use.amount, usage);
    if (decline) return decline;
  }
  const fills = use.volumeMl > 0 ? 1 : 0;
  await sql`with u as (
      insert into card_usage_daily (card_id, day, amount, volume_ml, fills) values (${cardId}, ${day}::date, ${use.amount}, ${use.volumeMl}, ${fills})
      on conflict (card_id, day) do update set amount = card_usage_daily.amount + excluded.amount,
        volume_ml = card_usage_daily.volume_ml + excluded.volume_ml, fills = card_usage_daily.fills + excluded.fills
      returning 1)
    update cards set last_sale_at = case when ${fills} > 0 then ${now}::timestamptz else last_sale_at end where id = ${cardId}`.execute(trx);
  return null;
}
