/** Shapes of /api/v1/risk/* (src/risk/risk.routes.ts) and /api/v1/cases (src/cases) as the console reads them. */

export const OUTCOMES = ['approve', 'approve_flag', 'step_up', 'delay', 'decline', 'freeze'] as const;
export const SCOPES = ['programme', 'segment', 'enterprise'] as const;
export const SEGMENTS = ['personal', 'anonymous', 'sub'] as const;
export const VERSION_STATUSES = ['draft', 'pending_approval', 'published', 'retired', 'rejected'] as const;

export type RuleParams = Record<string, unknown> & { enabled: boolean; shadow: boolean; outcome: string };
export type ParamsSet = Record<string, RuleParams>;

/** A JSON schema as TypeBox emits it for a rule's parameters (only what the form needs). */
export interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  anyOf?: JsonSchema[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
}

export interface RuleDef {
  id: string;
  zh: string;
  en: string;
  schema: JsonSchema;
  defaults: RuleParams;
}

export interface ParamVersion {
  id: number;
  scope: string;
  scopeKey: string;
  version: number;
  params: ParamsSet;
  hash: string;
  status: string;
  note: string | null;
  createdBy: number;
  approvedBy: number | null;
  publishedAt: string | null;
}

export interface RuleBacktest {
  hits: number;
  hitRate: number;
  stoppedAmount: number;
}

export interface BacktestReport {
  paramVersionId: number | null;
  paramsHash: string;
  from: string;
  to: string;
  sales: number;
  truncated: boolean;
  outcomes: Record<string, number>;
  stopped: number;
  stoppedAmount: number;
  rules: Record<string, RuleBacktest>;
}

export interface Silence {
  id: number;
  cardId: number;
  rule: string;
  until: string;
  reason: string;
  createdBy: number;
  decisionId: string | null;
  createdAt: string;
  revokedAt: string | null;
}

export interface StationFlag {
  id: number;
  stationId: number;
  reason: string;
  flaggedBy: number | null;
  flaggedAt: string;
  clearedBy: number | null;
  clearedAt: string | null;
}

export type InputValue = number | string | boolean | null;

export interface RuleHit {
  rule: string;
  outcome: string;
  enforced: boolean;
  suppressedBy: 'shadow' | 'silence' | null;
  inputs: Record<string, InputValue>;
}

export interface Decision {
  id: string;
  cardId: number | null;
  stationId: number | null;
  terminalId: string | null;
  saleRef: string | null;
  outcome: string;
  /** Stored as {hits, errors}. */
  hits: { hits: RuleHit[]; errors: string[] } | null;
  paramVersionId: number | null;
  paramsHash: string;
  engineVersion: number;
  createdAt: string;
  context?: {
    sale?: { amount?: number; volumeMl?: number | null; grade?: string | null; stationId?: number; terminalId?: string; at?: number; channel?: string; localHour?: number };
    card?: { id?: number; kind?: string };
  };
}

export interface ReplayResult {
  same: boolean;
  recorded: { outcome: string; hits: RuleHit[] };
  replayed: { outcome: string; hits: RuleHit[]; errors: string[] };
}
