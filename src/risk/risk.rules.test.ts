import { describe, expect, it } from 'vitest';
import { evaluate } from './risk.engine.js';
import { distanceKm, inHourWindow, type RuleId } from './risk.rules.js';
import { BEIJING, HOUR, MIN, T0, baseContext, params, past, withSale } from './risk.test-support.js';
import type { RiskContext, RuleHit } from './risk.types.js';

/** The hit of `rule` under the default parameters (or `set`), or undefined when it stayed silent. */
function hit(ctx: RiskContext, rule: RuleId, set = params()): RuleHit | undefined {
  return evaluate(set, ctx).hits.find((h) => h.rule === rule);
}

describe('the quiet card', () => {
  it('fires no rule and is approved', () => {
    expect(evaluate(params(), baseContext())).toMatchObject({ outcome: 'approve', hits: [], errors: [] });
  });
});

describe('sale_amount', () => {
  it('fires above the single-sale limit, with the amount and the limit', () => {
    expect(hit(withSale(baseContext(), { amount: 200_001 }), 'sale_amount')).toEqual({
      rule: 'sale_amount', outcome: 'decline', enforced: true, suppressedBy: null, inputs: { amount: 200_001, maxAmount: 200_000 },
    });
  });
  it('stays silent at the limit', () => {
    expect(hit(withSale(baseContext(), { amount: 200_000 }), 'sale_amount')).toBeUndefined();
  });
});

describe('period_amount', () => {
  const used = (day: number, week = day, month = week) => ({ day: { amount: day, volumeMl: 0, fills: 0 }, week: { amount: week, volumeMl: 0, fills: 0 }, month: { amount: month, volumeMl: 0, fills: 0 } });
  it('fires when today’s usage plus this sale passes the daily limit', () => {
    const ctx = withSale(baseContext({ usage: used(290_000) }), { amount: 20_000 });
    expect(hit(ctx, 'period_amount')?.inputs).toEqual({ period: 'day', used: 290_000, amount: 20_000, limit: 300_000 });
  });
  it('stays silent when it lands exactly on the limit', () => {
    expect(hit(withSale(baseContext({ usage: used(280_000) }), { amount: 20_000 }), 'period_amount')).toBeUndefined();
  });
  it('fires on the week and the month as well', () => {
    expect(hit(withSale(baseContext({ usage: used(0, 990_000) }), { amount: 20_000 }), 'period_amount')?.inputs.period).toBe('week');
    expect(hit(withSale(baseContext({ usage: used(0, 0, 2_990_000) }), { amount: 20_000 }), 'period_amount')?.inputs.period).toBe('month');
  });
  it('a null limit is no limit', () => {
    const set = params({ period_amount: { dayAmount: null, weekAmount: null, monthAmount: null } });
    expect(hit(withSale(baseContext({ usage: used(10_000_000) }), { amount: 20_000 }), 'period_amount', set)).toBeUndefined();
  });
});

describe('velocity_sales', () => {
  const approvedEvery10Min = (n: number) => Array.from({ length: n }, (_, i) => past({ at: T0 - (i + 1) * 10 * MIN }));
  it('fires on the sixth approved sale within the hour', () => {
    expect(hit(baseContext({ recent: approvedEvery10Min(5) }), 'velocity_sales')?.inputs).toEqual({ salesInWindow: 6, maxSales: 5, windowMinutes: 60 });
  });
  it('stays silent on the fifth, and when the oldest is outside the window', () => {
    expect(hit(baseContext({ recent: approvedEvery10Min(4) }), 'velocity_sales')).toBeUndefined();
    const recent = [...approvedEvery10Min(4), past({ at: T0 - 61 * MIN })];
    expect(hit(baseContext({ recent }), 'velocity_sales')).toBeUndefined();
  });
  it('does not count declines', () => {
    const recent = approvedEvery10Min(5).map((s) => ({ ...s, status: 'declined' as const, declineCode: 'LIMIT_DAY_AMOUNT' }));
    expect(hit(baseContext({ recent }), 'velocity_sales')).toBeUndefined();
  });
});

describe('velocity_declines', () => {
  const declined = (minutesAgo: number) => past({ at: T0 - minutesAgo * MIN, status: 'declined', declineCode: 'LIMIT_SALE_AMOUNT', amount: 900_000 });
  it('fires on three declines within ten minutes', () => {
    expect(hit(baseContext({ recent: [declined(1), declined(4), declined(9)] }), 'velocity_declines')?.inputs).toMatchObject({ declinesInWindow: 3 });
  });
  it('stays silent on two, or when one is older than the window', () => {
    expect(hit(baseContext({ recent: [declined(1), declined(4)] }), 'velocity_declines')).toBeUndefined();
    expect(hit(baseContext({ recent: [declined(1), declined(4), declined(11)] }), 'velocity_declines')).toBeUndefined();
  });
});

describe('impossible_travel', () => {
  const km = distanceKm(BEIJING.lat, BEIJING.lng, 31.23, 121.47);
  it('knows Beijing is about 1 070 km from Shanghai', () => {
    expect(km).toBeGreaterThan(1_000);
    expect(km).toBeLessThan(1_100);
  });
  it('fires (freeze) when the last sale was in Beijing two hours ago', () => {
    const h = hit(baseContext({ recent: [past({ at: T0 - 2 * HOUR, stationId: 20, ...BEIJING })] }), 'impossible_travel');
    expect(h).toMatchObject({ outcome: 'freeze', enforced: true, inputs: { fromStationId: 20, toStationId: 10, minutes: 120 } });
    expect(h!.inputs.kmh as number).toBeGreaterThan(500);
  });
  it('fires at zero elapsed time, with no speed to show', () => {
    expect(hit(baseContext({ recent: [past({ at: T0, stationId: 20, ...BEIJING })] }), 'impossible_travel')?.inputs.kmh).toBeNull();
  });
  it('stays silent when the trip was possible (Beijing eight hours ago: about 134 km/h)', () => {
    expect(hit(baseContext({ recent: [past({ at: T0 - 8 * HOUR, stationId: 20, ...BEIJING })] }), 'impossible_travel')).toBeUndefined();
  });
  it('stays silent for a near station, however soon (under minKm)', () => {
    expect(hit(baseContext({ recent: [past({ at: T0 - 5 * MIN, stationId: 21, lat: 31.4, lng: 121.47 })] }), 'impossible_travel')).toBeUndefined();
  });
  it('compares with the last sale only: a sale here since Beijing means the card is here', () => {
    const recent = [past({ at: T0 - 30 * MIN }), past({ at: T0 - 2 * HOUR, stationId: 20, ...BEIJING })];
    expect(hit(baseContext({ recent }), 'impossible_travel')).toBeUndefined();
  });
});

describe('card_testing', () => {
  const small = (minutesAgo: number, terminalId = 'T00000010') => past({ at: T0 - minutesAgo * MIN, amount: 100, volumeMl: 130, terminalId });
  const pinFail = (minutesAgo: number) => past({ at: T0 - minutesAgo * MIN, status: 'declined', declineCode: 'PIN_WRONG' });
  it('fires (freeze) on the third small sale within half an hour', () => {
    const h = hit(withSale(baseContext({ recent: [small(2), small(5)] }), { amount: 500 }), 'card_testing');
    expect(h).toMatchObject({ outcome: 'freeze', inputs: { smallSales: 3, pinFailures: 0 } });
  });
  it('stays silent when this sale is not small', () => {
    expect(hit(baseContext({ recent: [small(2), small(5)] }), 'card_testing')).toBeUndefined();
  });
  it('fires on three PIN failures in the window, silent on two', () => {
    expect(hit(baseContext({ recent: [pinFail(1), pinFail(3), pinFail(20)] }), 'card_testing')?.inputs.pinFailures).toBe(3);
    expect(hit(baseContext({ recent: [pinFail(1), pinFail(3), pinFail(31)] }), 'card_testing')).toBeUndefined();
  });
  it('counts across terminals, and can require several', () => {
    const set = params({ card_testing: { minTerminals: 2 } });
    const oneTerminal = withSale(baseContext({ recent: [small(2), small(5)] }), { amount: 500 });
    expect(hit(oneTerminal, 'card_testing', set)).toBeUndefined();
    const twoTerminals = withSale(baseContext({ recent: [small(2, 'T00000011'), small(5)] }), { amount: 500 });
    expect(hit(twoTerminals, 'card_testing', set)?.inputs.terminals).toBe(2);
  });
});

describe('unusual_amount', () => {
  it('steps up above 3 × the card’s p95', () => {
    expect(hit(withSale(baseContext(), { amount: 105_001 }), 'unusual_amount')).toMatchObject({ outcome: 'step_up', inputs: { p95Limit: 105_000, history: 60 } });
  });
  it('stays silent at 3 × p95, under the floor, or with too little history', () => {
    expect(hit(withSale(baseContext(), { amount: 105_000 }), 'unusual_amount')).toBeUndefined();
    const tiny = baseContext({ stats: { ...baseContext().stats, p95: 1_000, mean: 800 } });
    expect(hit(withSale(tiny, { amount: 50_000 }), 'unusual_amount')).toBeUndefined();
    const young = baseContext({ stats: { ...baseContext().stats, count: 4 } });
    expect(hit(withSale(young, { amount: 190_000 }), 'unusual_amount')).toBeUndefined();
  });
  it('with a z-score set, fires above mean + z·sd', () => {
    const set = params({ unusual_amount: { zScore: 3 } });
    expect(hit(withSale(baseContext(), { amount: 60_000 }), 'unusual_amount', set)?.inputs.zLimit).toBe(40_000);
    expect(hit(withSale(baseContext(), { amount: 60_000 }), 'unusual_amount')).toBeUndefined();
  });
});

describe('tank_capacity', () => {
  const truck = { plate: '沪A12345', tankCapacityMl: 50_000, grades: ['0#'] };
  it('fires on one fill beyond the tank plus tolerance', () => {
    expect(hit(withSale(baseContext({ vehicle: truck }), { volumeMl: 55_001, grade: '0#' }), 'tank_capacity')?.inputs).toMatchObject({ volumeMl: 55_001, tankCapacityMl: 50_000 });
    expect(hit(withSale(baseContext({ vehicle: truck }), { volumeMl: 55_000, grade: '0#' }), 'tank_capacity')).toBeUndefined();
  });
  it('fires on fills adding up beyond 1.2 tanks within six hours', () => {
    const recent = [past({ at: T0 - 2 * HOUR, volumeMl: 20_000 })];
    expect(hit(withSale(baseContext({ vehicle: truck, recent }), { volumeMl: 40_001 }), 'tank_capacity')?.inputs.windowVolumeMl).toBe(60_001);
    expect(hit(withSale(baseContext({ vehicle: truck, recent }), { volumeMl: 40_000 }), 'tank_capacity')).toBeUndefined();
    const earlier = [past({ at: T0 - 7 * HOUR, volumeMl: 20_000 })];
    expect(hit(withSale(baseContext({ vehicle: truck, recent: earlier }), { volumeMl: 40_001 }), 'tank_capacity')).toBeUndefined();
  });
  it('stays silent with no vehicle, or no volume (a pre-authorisation)', () => {
    expect(hit(withSale(baseContext(), { volumeMl: 500_000 }), 'tank_capacity')).toBeUndefined();
    expect(hit(withSale(baseContext({ vehicle: truck }), { volumeMl: null }), 'tank_capacity')).toBeUndefined();
  });
});

describe('grade_mismatch', () => {
  it('fires on petrol into a diesel truck', () => {
    expect(hit(baseContext({ vehicle: { plate: null, tankCapacityMl: null, grades: ['0#'] } }), 'grade_mismatch')?.inputs).toEqual({ grade: '92#', vehicleGrades: '0#' });
  });
  it('stays silent on a matching grade, an unknown vehicle, or goods alone', () => {
    expect(hit(baseContext({ vehicle: { plate: null, tankCapacityMl: null, grades: ['92#', '95#'] } }), 'grade_mismatch')).toBeUndefined();
    expect(hit(baseContext({ vehicle: { plate: null, tankCapacityMl: null, grades: null } }), 'grade_mismatch')).toBeUndefined();
    expect(hit(baseContext(), 'grade_mismatch')).toBeUndefined();
    expect(hit(withSale(baseContext({ vehicle: { plate: null, tankCapacityMl: null, grades: ['0#'] } }), { grade: null }), 'grade_mismatch')).toBeUndefined();
  });
});

describe('night_sale', () => {
  it('flags a 02:00 sale on a card that only ever bought by day', () => {
    expect(hit(withSale(baseContext(), { localHour: 2 }), 'night_sale')).toMatchObject({ outcome: 'approve_flag', inputs: { nightSales: 0, history: 60 } });
  });
  it('stays silent by day, for a card that buys at night, or with little history', () => {
    expect(hit(baseContext(), 'night_sale')).toBeUndefined();
    const hourCounts = baseContext().stats.hourCounts.map((n, h) => (h === 1 ? 3 : n));
    expect(hit(withSale(baseContext({ stats: { ...baseContext().stats, hourCounts, count: 63 } }), { localHour: 2 }), 'night_sale')).toBeUndefined();
    expect(hit(withSale(baseContext({ stats: { ...baseContext().stats, count: 9 } }), { localHour: 2 }), 'night_sale')).toBeUndefined();
  });
  it('takes a window across midnight', () => {
    expect(inHourWindow(23, 22, 6)).toBe(true);
    expect(inHourWindow(6, 22, 6)).toBe(false);
    expect(inHourWindow(3, 1, 4)).toBe(true);
    expect(hit(withSale(baseContext(), { localHour: 22 }), 'night_sale', params({ night_sale: { fromHour: 22, toHour: 6 } }))).toBeDefined();
    expect(hit(withSale(baseContext(), { localHour: 22 }), 'night_sale')).toBeUndefined();
  });
});

describe('cash_out', () => {
  const day = 24 * HOUR;
  const money = (daysAgo: number, kind: 'recharge' | 'refund', amount: number) => ({ at: T0 - daysAgo * day, kind, amount });
  it('flags a card whose top-ups keep being refunded', () => {
    const moneyMoves = [money(2, 'refund', 80_000), money(3, 'recharge', 100_000), money(9, 'refund', 80_000), money(10, 'recharge', 100_000)];
    expect(hit(baseContext({ moneyMoves }), 'cash_out')).toMatchObject({ outcome: 'approve_flag', inputs: { recharged: 200_000, refunded: 160_000, refunds: 2, refundShare: 0.8 } });
  });
  it('stays silent with one refund, refunds outside the window, or little money', () => {
    expect(hit(baseContext({ moneyMoves: [money(2, 'refund', 80_000), money(3, 'recharge', 200_000)] }), 'cash_out')).toBeUndefined();
    expect(hit(baseContext({ moneyMoves: [money(31, 'refund', 80_000), money(2, 'refund', 80_000), money(3, 'recharge', 200_000)] }), 'cash_out')).toBeUndefined();
    expect(hit(baseContext({ moneyMoves: [money(1, 'refund', 40_000), money(2, 'refund', 40_000), money(3, 'recharge', 90_000)] }), 'cash_out')).toBeUndefined();
  });
});

describe('flagged_station', () => {
  it('steps up at a station flagged as compromised', () => {
    const ctx = baseContext({ station: { ...baseContext().station, flagged: { reason: 'skimmer found on pump 3', since: T0 - day() } } });
    expect(hit(ctx, 'flagged_station')).toMatchObject({ outcome: 'step_up', inputs: { stationId: 10, reason: 'skimmer found on pump 3' } });
  });
  it('stays silent elsewhere', () => {
    expect(hit(baseContext(), 'flagged_station')).toBeUndefined();
  });
  function day() {
    return 24 * HOUR;
  }
});
