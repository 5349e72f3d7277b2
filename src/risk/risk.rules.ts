import { Type, type Static, type TSchema } from 'typebox';
import { OUTCOMES, type InputValue, type Outcome, type PastSale, type RiskContext } from './risk.types.js';

/**
 * The rules, as code: each is a pure function of its parameters and the context, returning null
 * (silent) or the inputs it fired on. What a fired rule does (its outcome), whether it is on, and
 * whether it only runs in shadow are parameters too, so an operator changes them without a deploy.
 * Windows are capped by what the loader reads (RECENT_WINDOW_MS, STATS_DAYS, MONEY_DAYS).
 */

/** How far back the loader reads the card's sales, its money moves, and its amount statistics. */
export const RECENT_WINDOW_MS = 24 * 3_600_000;
export const RECENT_LIMIT = 200;
export const STATS_DAYS = 90;
export const MONEY_DAYS = 90;

const OutcomeSchema = Type.Union([
  Type.Literal('approve'),
  Type.Literal('approve_flag'),
  Type.Literal('step_up'),
  Type.Literal('delay'),
  Type.Literal('decline'),
  Type.Literal('freeze'),
]);
// The schema's literals and OUTCOMES must not drift apart.
const _outcomesCovered: readonly Outcome[] = OUTCOMES satisfies readonly Static<typeof OutcomeSchema>[];
void _outcomesCovered;
const Fen = (max = 100_000_000) => Type.Integer({ minimum: 0, maximum: max });
const Count = Type.Integer({ minimum: 1, maximum: 1000 });
const WindowMinutes = Type.Integer({ minimum: 1, maximum: RECENT_WINDOW_MS / 60_000 });

function common<P extends Record<string, TSchema>>(props: P) {
  return Type.Object({ enabled: Type.Boolean(), shadow: Type.Boolean(), outcome: OutcomeSchema, ...props }, { additionalProperties: false });
}

type Fired = Record<string, InputValue> | null;

interface RuleDef<S extends TSchema> {
  readonly schema: S;
  readonly defaults: Static<S>;
  readonly zh: string;
  readonly en: string;
  readonly evaluate: (p: Static<S>, ctx: RiskContext) => Fired;
}

function rule<S extends TSchema>(def: RuleDef<S>): RuleDef<S> {
  return def;
}

const within = (ctx: RiskContext, minutes: number) => {
  const since = ctx.sale.at - minutes * 60_000;
  return ctx.recent.filter((s) => s.at > since && s.at <= ctx.sale.at);
};
const isPinFailure = (s: PastSale) => s.status === 'declined' && (s.declineCode === 'PIN_WRONG' || s.declineCode === 'PIN_TRIES_EXCEEDED');
const r2 = (x: number) => Math.round(x * 100) / 100;

/** Great-circle distance in km (haversine; stations are points, the earth a sphere is close enough). */
export function distanceKm(lat1: number, lng1: number, lat2: number, lng2: number): number {
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad;
  const dLng = (lng2 - lng1) * rad;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLng / 2) ** 2;
  return 2 * 6371.0088 * Math.asin(Math.min(1, Math.sqrt(a)));
}

/** Is `hour` in [from, to), a window that may wrap past midnight (23 → 5)? */
export function inHourWindow(hour: number, from: number, to: number): boolean {
  return from <= to ? hour >= from && hour < to : hour >= from || hour < to;
}

export const RULES = {
  sale_amount: rule({
    zh: '单笔金额超限',
    en: 'Single-sale amount over the limit',
    schema: common({ maxAmount: Fen() }),
    defaults: { enabled: true, shadow: false, outcome: 'decline', maxAmount: 200_000 },
    evaluate: (p, ctx) => (ctx.sale.amount > p.maxAmount ? { amount: ctx.sale.amount, maxAmount: p.maxAmount } : null),
  }),

  period_amount: rule({
    zh: '日/周/月累计金额超限',
    en: 'Daily, weekly or monthly amount over the limit',
    schema: common({ dayAmount: Type.Union([Fen(), Type.Null()]), weekAmount: Type.Union([Fen(), Type.Null()]), monthAmount: Type.Union([Fen(), Type.Null()]) }),
    defaults: { enabled: true, shadow: false, outcome: 'decline', dayAmount: 300_000, weekAmount: 1_000_000, monthAmount: 3_000_000 },
    evaluate: (p, ctx) => {
      const a = ctx.sale.amount;
      const periods = [
        ['day', ctx.usage.day.amount, p.dayAmount],
        ['week', ctx.usage.week.amount, p.weekAmount],
        ['month', ctx.usage.month.amount, p.monthAmount],
      ] as const;
      for (const [period, used, limit] of periods) {
        if (limit !== null && used + a > limit) return { period, used, amount: a, limit };
      }
      return null;
    },
  }),

  velocity_sales: rule({
    zh: '短时间内交易次数过多',
    en: 'Too many sales in a short time',
    schema: common({ maxSales: Count, windowMinutes: WindowMinutes }),
    defaults: { enabled: true, shadow: false, outcome: 'delay', maxSales: 5, windowMinutes: 60 },
    evaluate: (p, ctx) => {
      const n = within(ctx, p.windowMinutes).filter((s) => s.status === 'approved').length;
      // This sale would be the (n+1)th: more than maxSales in the window fires.
      return n + 1 > p.maxSales ? { salesInWindow: n + 1, maxSales: p.maxSales, windowMinutes: p.windowMinutes } : null;
    },
  }),

  velocity_declines: rule({
    zh: '短时间内多次被拒',
    en: 'Repeated declines in a short time',
    schema: common({ maxDeclines: Count, windowMinutes: WindowMinutes }),
    defaults: { enabled: true, shadow: false, outcome: 'decline', maxDeclines: 3, windowMinutes: 10 },
    evaluate: (p, ctx) => {
      const n = within(ctx, p.windowMinutes).filter((s) => s.status === 'declined').length;
      return n >= p.maxDeclines ? { declinesInWindow: n, maxDeclines: p.maxDeclines, windowMinutes: p.windowMinutes } : null;
    },
  }),

  impossible_travel: rule({
    zh: '不可能的行程（疑似复制卡）',
    en: 'Impossible travel between two stations (cloned card suspected)',
    schema: common({ minKm: Type.Number({ minimum: 0, maximum: 5000 }), maxKmh: Type.Number({ minimum: 1, maximum: 2000 }) }),
    defaults: { enabled: true, shadow: false, outcome: 'freeze', minKm: 50, maxKmh: 150 },
    evaluate: (p, ctx) => {
      const prev = ctx.recent.find((s) => s.at <= ctx.sale.at && s.stationId !== ctx.sale.stationId);
      // Only the last sale counts: a sale since then at this station already "moved" the card here.
      if (!prev || ctx.recent.find((s) => s.at <= ctx.sale.at) !== prev) return null;
      const km = distanceKm(prev.lat, prev.lng, ctx.station.lat, ctx.station.lng);
      const hours = Math.max(ctx.sale.at - prev.at, 0) / 3_600_000;
      const kmh = hours > 0 ? km / hours : Number.POSITIVE_INFINITY;
      if (!(km > p.minKm && kmh > p.maxKmh)) return null;
      return { fromStationId: prev.stationId, toStationId: ctx.sale.stationId, km: r2(km), minutes: r2(hours * 60), kmh: Number.isFinite(kmh) ? r2(kmh) : null, maxKmh: p.maxKmh };
    },
  }),

  card_testing: rule({
    zh: '疑似试卡（多笔小额或多次密码错误）',
    en: 'Card testing suspected (many small sales or PIN failures)',
    schema: common({
      smallAmount: Fen(1_000_000),
      maxSmallSales: Count,
      maxPinFailures: Count,
      minTerminals: Type.Integer({ minimum: 1, maximum: 100 }),
      windowMinutes: WindowMinutes,
    }),
    defaults: { enabled: true, shadow: false, outcome: 'freeze', smallAmount: 1_000, maxSmallSales: 3, maxPinFailures: 3, minTerminals: 1, windowMinutes: 30 },
    evaluate: (p, ctx) => {
      const w = within(ctx, p.windowMinutes);
      const small = w.filter((s) => s.amount < p.smallAmount);
      const smallNow = ctx.sale.amount < p.smallAmount ? 1 : 0;
      const pin = w.filter(isPinFailure);
      const terminals = new Set([...small, ...pin].map((s) => s.terminalId));
      if (smallNow) terminals.add(ctx.sale.terminalId);
      const smallCount = small.length + smallNow;
      const fired = (smallCount >= p.maxSmallSales || pin.length >= p.maxPinFailures) && terminals.size >= p.minTerminals;
      return fired ? { smallSales: smallCount, pinFailures: pin.length, terminals: terminals.size, windowMinutes: p.windowMinutes } : null;
    },
  }),

  unusual_amount: rule({
    zh: '金额远超该卡的历史水平',
    en: 'Amount far above the card’s own history',
    schema: common({
      minHistory: Count,
      floorAmount: Fen(),
      p95Factor: Type.Number({ minimum: 1, maximum: 100 }),
      zScore: Type.Union([Type.Number({ minimum: 1, maximum: 50 }), Type.Null()]),
    }),
    defaults: { enabled: true, shadow: false, outcome: 'step_up', minHistory: 5, floorAmount: 50_000, p95Factor: 3, zScore: null },
    evaluate: (p, ctx) => {
      const s = ctx.stats;
      const a = ctx.sale.amount;
      if (s.count < p.minHistory || a <= p.floorAmount) return null;
      const p95Limit = p.p95Factor * s.p95;
      const zLimit = p.zScore === null ? null : s.mean + p.zScore * s.sd;
      if (a > p95Limit || (zLimit !== null && a > zLimit)) return { amount: a, p95: r2(s.p95), p95Limit: r2(p95Limit), mean: r2(s.mean), sd: r2(s.sd), zLimit: zLimit === null ? null : r2(zLimit), history: s.count };
      return null;
    },
  }),

  tank_capacity: rule({
    zh: '加油量超过车辆油箱容量',
    en: 'Volume beyond the vehicle’s tank capacity',
    schema: common({ tolerance: Type.Number({ minimum: 0, maximum: 2 }), windowHours: Type.Integer({ minimum: 1, maximum: 24 }), cumulativeFactor: Type.Number({ minimum: 1, maximum: 10 }) }),
    defaults: { enabled: true, shadow: false, outcome: 'decline', tolerance: 0.1, windowHours: 6, cumulativeFactor: 1.2 },
    evaluate: (p, ctx) => {
      const cap = ctx.vehicle?.tankCapacityMl ?? null;
      const v = ctx.sale.volumeMl;
      if (cap === null || cap <= 0 || v === null) return null;
      if (v > cap * (1 + p.tolerance)) return { volumeMl: v, tankCapacityMl: cap, windowVolumeMl: null };
      const before = within(ctx, p.windowHours * 60).reduce((sum, s) => sum + (s.status === 'approved' ? (s.volumeMl ?? 0) : 0), 0);
      return before + v > cap * p.cumulativeFactor ? { volumeMl: v, tankCapacityMl: cap, windowVolumeMl: before + v } : null;
    },
  }),

  grade_mismatch: rule({
    zh: '油品与车辆不符',
    en: 'Grade does not match the vehicle',
    schema: common({}),
    defaults: { enabled: true, shadow: false, outcome: 'decline' },
    evaluate: (_p, ctx) => {
      const grades = ctx.vehicle?.grades ?? null;
      const g = ctx.sale.grade;
      return grades !== null && g !== null && !grades.includes(g) ? { grade: g, vehicleGrades: grades.join(',') } : null;
    },
  }),

  night_sale: rule({
    zh: '从不夜间消费的卡在夜间交易',
    en: 'Night-time sale on a card that never buys at night',
    schema: common({ fromHour: Type.Integer({ minimum: 0, maximum: 23 }), toHour: Type.Integer({ minimum: 0, maximum: 23 }), minHistory: Count, maxNightShare: Type.Number({ minimum: 0, maximum: 1 }) }),
    defaults: { enabled: true, shadow: false, outcome: 'approve_flag', fromHour: 23, toHour: 5, minHistory: 10, maxNightShare: 0 },
    evaluate: (p, ctx) => {
      if (!inHourWindow(ctx.sale.localHour, p.fromHour, p.toHour)) return null;
      const s = ctx.stats;
      if (s.count < p.minHistory) return null;
      let night = 0;
      for (let h = 0; h < 24; h++) if (inHourWindow(h, p.fromHour, p.toHour)) night += s.hourCounts[h] ?? 0;
      const share = night / s.count;
      return share <= p.maxNightShare ? { localHour: ctx.sale.localHour, nightSales: night, history: s.count, nightShare: r2(share) } : null;
    },
  }),

  cash_out: rule({
    zh: '充值后退款的套现模式',
    en: 'Top-up then refund (cash-out) pattern',
    schema: common({ windowDays: Type.Integer({ minimum: 1, maximum: MONEY_DAYS }), minRecharged: Fen(), minRefunds: Count, minRefundShare: Type.Number({ minimum: 0, maximum: 1 }) }),
    defaults: { enabled: true, shadow: false, outcome: 'approve_flag', windowDays: 30, minRecharged: 100_000, minRefunds: 2, minRefundShare: 0.5 },
    evaluate: (p, ctx) => {
      const since = ctx.sale.at - p.windowDays * 86_400_000;
      let recharged = 0;
      let refunded = 0;
      let refunds = 0;
      for (const m of ctx.moneyMoves) {
        if (m.at <= since || m.at > ctx.sale.at) continue;
        if (m.kind === 'recharge') recharged += m.amount;
        else {
          refunded += m.amount;
          refunds++;
        }
      }
      if (recharged < p.minRecharged || refunds < p.minRefunds) return null;
      const share = refunded / recharged;
      return share >= p.minRefundShare ? { recharged, refunded, refunds, refundShare: r2(share), windowDays: p.windowDays } : null;
    },
  }),

  flagged_station: rule({
    zh: '交易发生在被标记为可疑（盗录）的油站',
    en: 'Sale at a station flagged as compromised (skimming)',
    schema: common({}),
    defaults: { enabled: true, shadow: false, outcome: 'step_up' },
    evaluate: (_p, ctx) => (ctx.station.flagged ? { stationId: ctx.station.id, reason: ctx.station.flagged.reason, since: ctx.station.flagged.since } : null),
  }),
} as const;

export type RuleId = keyof typeof RULES;
export const RULE_IDS = Object.keys(RULES) as RuleId[];
export type RuleParams<K extends RuleId> = Static<(typeof RULES)[K]['schema']>;
export type RiskParams = { [K in RuleId]: RuleParams<K> };
export type { Outcome };
