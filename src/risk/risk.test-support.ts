import { DEFAULT_PARAMS, paramSet, type ParamSet } from './risk.params.js';
import type { RiskParams, RuleId } from './risk.rules.js';
import type { PastSale, RiskContext } from './risk.types.js';

/** 2026-03-10 14:00 Beijing time. */
export const T0 = Date.UTC(2026, 2, 10, 6, 0, 0);
export const MIN = 60_000;
export const HOUR = 3_600_000;
/** Shanghai (the sale's station) and Beijing, about 1 070 km apart. */
export const SHANGHAI = { lat: 31.23, lng: 121.47 };
export const BEIJING = { lat: 39.9, lng: 116.4 };

/** A quiet card: a long, daytime, modest history and nothing recent. Tests change what they test. */
export function baseContext(over: Partial<RiskContext> = {}): RiskContext {
  const hourCounts = new Array<number>(24).fill(0);
  for (let h = 8; h < 20; h++) hourCounts[h] = 5;
  return {
    sale: { cardId: 1, amount: 30_000, volumeMl: 40_000, grade: '92#', stationId: 10, terminalId: 'T00000010', at: T0, localHour: 14, channel: 'online' },
    station: { id: 10, ...SHANGHAI, flagged: null },
    card: { id: 1, kind: 'personal', masterCardId: null, customerId: 7, createdAt: T0 - 400 * 24 * HOUR },
    recent: [],
    recentWindowMs: 24 * HOUR,
    usage: { day: { amount: 0, volumeMl: 0, fills: 0 }, week: { amount: 0, volumeMl: 0, fills: 0 }, month: { amount: 0, volumeMl: 0, fills: 0 } },
    stats: { days: 90, count: 60, mean: 25_000, sd: 5_000, p95: 35_000, hourCounts },
    moneyMoves: [],
    vehicle: null,
    silenced: [],
    ...over,
  };
}

export function past(over: Partial<PastSale> = {}): PastSale {
  return { at: T0 - HOUR, stationId: 10, ...SHANGHAI, terminalId: 'T00000010', amount: 30_000, volumeMl: 40_000, grade: '92#', status: 'approved', declineCode: null, ...over };
}

export function withSale(ctx: RiskContext, over: Partial<RiskContext['sale']>): RiskContext {
  return { ...ctx, sale: { ...ctx.sale, ...over } };
}

/** The default parameters with some rules' fields changed. */
export function params(patch: Partial<{ [K in RuleId]: Partial<RiskParams[K]> }> = {}): ParamSet {
  const p = Object.fromEntries(Object.entries(DEFAULT_PARAMS).map(([k, v]) => [k, { ...v, ...(patch[k as RuleId] ?? {}) }])) as RiskParams;
  return paramSet(p);
}
