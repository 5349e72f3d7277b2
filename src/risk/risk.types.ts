/**
 * What the risk engine sees and what it answers. Everything here is plain JSON (numbers, strings,
 * arrays): a context is stored with its decision and replayed later, so no Date objects, no Maps.
 * Times are epoch milliseconds; amounts are fen; volumes are millilitres.
 */

/** Outcomes from the least to the most severe; the most severe enforced hit decides. */
export const OUTCOMES = ['approve', 'approve_flag', 'step_up', 'delay', 'decline', 'freeze'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export const SEVERITY: Readonly<Record<Outcome, number>> = { approve: 0, approve_flag: 1, step_up: 2, delay: 3, decline: 4, freeze: 5 };

export function moreSevere(a: Outcome, b: Outcome): Outcome {
  return SEVERITY[b] > SEVERITY[a] ? b : a;
}

/** How the sale reached the engine: the rules read it (e.g. an offline upload is after the fact). */
export type SaleChannel = 'online' | 'preauth' | 'completion' | 'postpay' | 'offline';

export interface RiskSale {
  cardId: number;
  /** Whole amount, fuel and goods (fen). For a pre-authorisation: the amount asked. */
  amount: number;
  /** Fuel volume (ml); null when unknown (a pre-authorisation, goods alone). */
  volumeMl: number | null;
  grade: string | null;
  stationId: number;
  terminalId: string;
  /** When the sale happened (for an offline upload: at the terminal). */
  at: number;
  /** The hour of `at` in the operator's time zone (0–23), computed by the loader. */
  localHour: number;
  channel: SaleChannel;
}

export interface RiskStation {
  id: number;
  lat: number;
  lng: number;
  /** An open compromise flag on the station. */
  flagged: { reason: string; since: number } | null;
}

/** One of the card's earlier sales (approved or declined), newest first in the context. */
export interface PastSale {
  at: number;
  stationId: number;
  lat: number;
  lng: number;
  terminalId: string;
  amount: number;
  volumeMl: number | null;
  grade: string | null;
  status: 'approved' | 'declined';
  declineCode: string | null;
}

/** Money onto or off the card's accounts outside sales: the cash-out rule reads these. */
export interface MoneyMove {
  at: number;
  kind: 'recharge' | 'refund';
  amount: number;
}

export interface PeriodUsage {
  amount: number;
  volumeMl: number;
  fills: number;
}

/** The card's own amount history over the loader's stats window (approved sales before this one). */
export interface AmountStats {
  days: number;
  count: number;
  mean: number;
  sd: number;
  p95: number;
  /** Sales per local hour of day (24 entries): the night-time rule picks its own hours from it. */
  hourCounts: number[];
}

/**
 * A fleet vehicle bound to the card. No table holds vehicles yet: the loader leaves this null and
 * the rules that need it stay silent; the wiring wave (or the fleet module) fills it.
 */
export interface RiskVehicle {
  plate: string | null;
  tankCapacityMl: number | null;
  /** Grades the vehicle takes (fuel_grades codes); null = unknown. */
  grades: string[] | null;
}

export interface RiskCard {
  id: number;
  kind: 'personal' | 'anonymous' | 'master' | 'sub';
  masterCardId: number | null;
  customerId: number | null;
  createdAt: number;
}

export interface RiskContext {
  sale: RiskSale;
  station: RiskStation;
  card: RiskCard;
  /** Sales in the loader's recent window (newest first, capped), not counting this one. */
  recent: PastSale[];
  /** How far back `recent` reaches (ms before sale.at): a rule's window beyond it sees less. */
  recentWindowMs: number;
  usage: { day: PeriodUsage; week: PeriodUsage; month: PeriodUsage };
  stats: AmountStats;
  moneyMoves: MoneyMove[];
  vehicle: RiskVehicle | null;
  /** Rules a reviewer silenced for this card, still in force at sale.at. */
  silenced: string[];
}

export type InputValue = number | string | boolean | null;

/** A rule that fired: what it asks for and the inputs it decided on. */
export interface RuleHit {
  rule: string;
  outcome: Outcome;
  /** False when the rule is in shadow mode, silenced for this card, or errored. */
  enforced: boolean;
  suppressedBy: 'shadow' | 'silence' | null;
  inputs: Record<string, InputValue>;
}

export interface ParamVersionRef {
  /** The risk_parameter_versions row; null for the built-in default. */
  id: number | null;
  hash: string;
}

export interface RiskDecision {
  outcome: Outcome;
  hits: RuleHit[];
  /** Rules that threw: recorded, never enforced beyond a flag (the hard limits stay in the cards module). */
  errors: string[];
  paramVersion: ParamVersionRef;
  engineVersion: number;
}

/** All that replay needs: the parameters, the context, and what was decided then. */
export interface DecisionRecord {
  params: unknown;
  paramVersion: ParamVersionRef;
  context: RiskContext;
  decision: RiskDecision;
}
