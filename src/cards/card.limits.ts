import type { CardRow } from './cards.repository.js';

/** Per-card limits; null means no limit. Amounts in fen, volumes in millilitres. */
export interface CardLimits {
  saleAmount: number | null;
  saleVolumeMl: number | null;
  dayAmount: number | null;
  dayVolumeMl: number | null;
  dayFills: number | null;
  weekAmount: number | null;
  weekVolumeMl: number | null;
  weekFills: number | null;
  monthAmount: number | null;
  monthVolumeMl: number | null;
  monthFills: number | null;
  minFillIntervalSeconds: number | null;
  /** Fuel grade codes this card may buy; null = every grade. */
  allowedGrades: string[] | null;
}

/** Fuel only (a fleet restriction, cards.fuel_only): store goods are declined GOODS_NOT_ALLOWED. Read with the card's `c.*`. */
export function isFuelOnly(card: CardRow): boolean {
  return card.fuel_only === true;
}

export const LIMIT_COLUMNS = {
  saleAmount: 'limit_sale_amount',
  saleVolumeMl: 'limit_sale_volume',
  dayAmount: 'limit_day_amount',
  dayVolumeMl: 'limit_day_volume',
  dayFills: 'limit_day_fills',
  weekAmount: 'limit_week_amount',
  weekVolumeMl: 'limit_week_volume',
  weekFills: 'limit_week_fills',
  monthAmount: 'limit_month_amount',
  monthVolumeMl: 'limit_month_volume',
  monthFills: 'limit_month_fills',
  minFillIntervalSeconds: 'min_fill_interval_s',
} as const satisfies Record<Exclude<keyof CardLimits, 'allowedGrades'>, keyof CardRow>;

export function limitsOf(card: CardRow): CardLimits {
  const out = { allowedGrades: card.allowed_grades } as CardLimits;
  for (const [k, col] of Object.entries(LIMIT_COLUMNS)) {
    (out as unknown as Record<string, number | null>)[k] = card[col] as number | null;
  }
  return out;
}

export function noLimits(): CardLimits {
  const out = { allowedGrades: null } as CardLimits;
  for (const k of Object.keys(LIMIT_COLUMNS)) (out as unknown as Record<string, null>)[k] = null;
  return out;
}

export function hasPeriodLimits(card: CardRow): boolean {
  return [
    card.limit_day_amount,
    card.limit_day_volume,
    card.limit_day_fills,
    card.limit_week_amount,
    card.limit_week_volume,
    card.limit_week_fills,
    card.limit_month_amount,
    card.limit_month_volume,
    card.limit_month_fills,
  ].some((v) => v !== null);
}

export interface Usage {
  amount: number;
  volumeMl: number;
  fills: number;
}

export interface PeriodUsage {
  day: Usage;
  week: Usage;
  month: Usage;
}

/**
 * Decline codes for limits, in the order they are checked. `fills` is 1 for a sale with fuel and 0
 * for store goods alone, which neither count as a fill nor wait for the fill interval.
 */
export function limitDecline(card: CardRow, sale: { amount: number; volumeMl: number; fills?: number }, used: PeriodUsage | null, now: Date): string | null {
  const fill = sale.fills ?? 1;
  if (card.limit_sale_amount !== null && sale.amount > card.limit_sale_amount) return 'LIMIT_SALE_AMOUNT';
  if (card.limit_sale_volume !== null && sale.volumeMl > card.limit_sale_volume) return 'LIMIT_SALE_VOLUME';
  if (fill > 0 && card.min_fill_interval_s !== null && card.last_sale_at !== null && now.getTime() - card.last_sale_at.getTime() < card.min_fill_interval_s * 1000) {
    return 'LIMIT_FILL_INTERVAL';
  }
  if (!used) return null;
  const periods = [
    ['DAY', used.day, card.limit_day_amount, card.limit_day_volume, card.limit_day_fills],
    ['WEEK', used.week, card.limit_week_amount, card.limit_week_volume, card.limit_week_fills],
    ['MONTH', used.month, card.limit_month_amount, card.limit_month_volume, card.limit_month_fills],
  ] as const;
  for (const [name, u, amount, volume, fills] of periods) {
    if (amount !== null && u.amount + sale.amount > amount) return `LIMIT_${name}_AMOUNT`;
    if (volume !== null && u.volumeMl + sale.volumeMl > volume) return `LIMIT_${name}_VOLUME`;
    if (fills !== null && u.fills + fill > fills) return `LIMIT_${name}_FILLS`;
  }
  return null;
}

/**
 * The most the amount limits still allow on one sale (null: no amount limit). A pre-authorisation
 * holds no more than this, so a fleet card with a per-sale cap is approved for the cap (partially)
 * rather than declined for asking the terminal's default.
 */
export function amountAllowance(card: CardRow, used: PeriodUsage | null): number | null {
  const caps: number[] = [];
  if (card.limit_sale_amount !== null) caps.push(card.limit_sale_amount);
  if (used) {
    if (card.limit_day_amount !== null) caps.push(card.limit_day_amount - used.day.amount);
    if (card.limit_week_amount !== null) caps.push(card.limit_week_amount - used.week.amount);
    if (card.limit_month_amount !== null) caps.push(card.limit_month_amount - used.month.amount);
  }
  return caps.length === 0 ? null : Math.max(0, Math.min(...caps));
}

type AmountLimits = Pick<CardRow, 'limit_sale_amount' | 'limit_day_amount' | 'limit_week_amount' | 'limit_month_amount'>;

export function hasPeriodAmountLimits(card: AmountLimits): boolean {
  return card.limit_day_amount !== null || card.limit_week_amount !== null || card.limit_month_amount !== null;
}

/**
 * Recorded usage plus money the card's open pump authorisations still hold, counted as spent in
 * every period: otherwise parallel holds on several nozzles, each within a day limit, would
 * together spend past it once completed.
 */
export function withPending(used: PeriodUsage, pendingAmount: number): PeriodUsage {
  if (pendingAmount === 0) return used;
  const add = (u: Usage): Usage => ({ ...u, amount: u.amount + pendingAmount });
  return { day: add(used.day), week: add(used.week), month: add(used.month) };
}

/** The amount limits alone (per sale, then day, week, month), in limitDecline's order and codes. */
export function amountLimitDecline(card: AmountLimits, amount: number, used: PeriodUsage | null): string | null {
  if (card.limit_sale_amount !== null && amount > card.limit_sale_amount) return 'LIMIT_SALE_AMOUNT';
  if (!used) return null;
  if (card.limit_day_amount !== null && used.day.amount + amount > card.limit_day_amount) return 'LIMIT_DAY_AMOUNT';
  if (card.limit_week_amount !== null && used.week.amount + amount > card.limit_week_amount) return 'LIMIT_WEEK_AMOUNT';
  if (card.limit_month_amount !== null && used.month.amount + amount > card.limit_month_amount) return 'LIMIT_MONTH_AMOUNT';
  return null;
}
