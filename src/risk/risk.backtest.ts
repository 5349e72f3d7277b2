import { sql } from 'kysely';
import type { Executor } from '../platform/index.js';
import { loadRiskContext } from './risk.context.js';
import { evaluate } from './risk.engine.js';
import type { ParamSet } from './risk.params.js';
import { OUTCOMES, SEVERITY, type Outcome, type RiskVehicle } from './risk.types.js';

export interface BacktestOptions {
  from: Date;
  to: Date;
  timeZone: string;
  /** At most this many sales (oldest first); the report says when it stopped early. */
  limit?: number;
  vehicleOf?: (cardId: number) => RiskVehicle | null;
}

export interface RuleBacktest {
  /** Sales on which the rule fired (enforced, shadow or silenced alike: a backtest asks "would it"). */
  hits: number;
  hitRate: number;
  /** Amount of the approved sales it fired on with an outcome that stops the sale (delay or worse). */
  stoppedAmount: number;
}

export interface BacktestReport {
  sales: number;
  truncated: boolean;
  outcomes: Record<Outcome, number>;
  /** Sales whose decision was delay, decline or freeze. */
  stopped: number;
  /** The money of the approved sales the candidate parameters would have stopped (fen). */
  stoppedAmount: number;
  rules: Record<string, RuleBacktest>;
}

/** Outcomes that keep the money from moving now (step-up may still pass with the PIN re-entered). */
const STOPS = SEVERITY.delay;

/**
 * Replays candidate parameters over past sales: each sale's context is rebuilt as of its own time
 * (its usage summed from the sales before it, not today's counters) and evaluated as if every rule
 * were enforced, shadow flags ignored, so a shadow rule is measured as it would act live.
 * Reads only: safe to run against a replica.
 */
export async function backtest(db: Executor, set: ParamSet, opts: BacktestOptions): Promise<BacktestReport> {
  const limit = opts.limit ?? 100_000;
  const enforced: ParamSet = {
    ref: set.ref,
    params: Object.fromEntries(Object.entries(set.params).map(([k, v]) => [k, { ...v, shadow: false }])) as ParamSet['params'],
  };
  const rows = await sql<{ id: string; card_id: number; station_id: number; terminal_id: string; amount: number; volume_ml: number | null; grade: string | null; status: string; flow: string; created_at: Date }>`
    select id, card_id, station_id, terminal_id, amount, volume_ml, grade, status, flow, created_at from sales
    where card_id is not null and status in ('approved','declined','reversed') and created_at >= ${opts.from} and created_at < ${opts.to}
    order by created_at, id limit ${limit + 1}`.execute(db);
  const sales = rows.rows.slice(0, limit);
  const report: BacktestReport = {
    sales: 0,
    truncated: rows.rows.length > limit,
    outcomes: Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>,
    stopped: 0,
    stoppedAmount: 0,
    rules: Object.fromEntries(Object.keys(set.params).map((k) => [k, { hits: 0, hitRate: 0, stoppedAmount: 0 }])),
  };
  for (const s of sales) {
    const ctx = await loadRiskContext(db, {
      cardId: s.card_id,
      amount: s.amount,
      volumeMl: s.volume_ml,
      grade: s.grade,
      stationId: s.station_id,
      terminalId: s.terminal_id,
      at: s.created_at,
      channel: s.flow === 'offline' ? 'offline' : s.flow === 'completion' ? 'completion' : s.flow === 'postpay' ? 'postpay' : 'online',
      timeZone: opts.timeZone,
      vehicle: opts.vehicleOf?.(s.card_id) ?? null,
      usageFrom: 'sales',
      excludeSaleId: s.id,
    });
    if (!ctx) continue;
    const d = evaluate(enforced, ctx);
    report.sales++;
    report.outcomes[d.outcome]++;
    const moneyMoved = s.status !== 'declined';
    if (SEVERITY[d.outcome] >= STOPS) {
      report.stopped++;
      if (moneyMoved) report.stoppedAmount += s.amount;
    }
    for (const h of d.hits) {
      const r = report.rules[h.rule]!;
      r.hits++;
      if (moneyMoved && SEVERITY[h.outcome] >= STOPS) r.stoppedAmount += s.amount;
    }
  }
  for (const r of Object.values(report.rules)) r.hitRate = report.sales === 0 ? 0 : r.hits / report.sales;
  return report;
}
