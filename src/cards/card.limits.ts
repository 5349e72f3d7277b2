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

/** Decline codes for limits, in the order they are checked. */
export function limitDecline(card: CardRow, sale: { amount: number; volumeMl: number }, used: PeriodUsage | null, now: Date): string | null {
  if (card.limit_sale_amount !== null && sale.amount > card.limit_sale_amount) return 'LIMIT_SALE_AMOUNT';
  if (card.limit_sale_volume !== null && sale.volumeMl > card.limit_sale_volume) return 'LIMIT_SALE_VOLUME';
  if (card.min_fill_interval_s !== null && card.last_sale_at !== null && now.getTime() - card.last_sale_at.getTime() < card.min_fill_interval_s * 1000) {
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
    if (fills !== null && u.fills + 1 > fills) return `LIMIT_${name}_FILLS`;
  }
  return null;
}
