import { createHash } from 'node:crypto';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { Type, type TSchema } from 'typebox';
import { RULE_IDS, RULES, type RiskParams, type RuleId } from './risk.rules.js';
import type { ParamVersionRef } from './risk.types.js';

/**
 * A version of the rule parameters: one object per rule, each validated against its rule's schema.
 * Versions live in risk_parameter_versions; the built-in default below is what the engine uses for
 * a scope with no published version, so the engine always has a complete, valid set.
 */
export const RiskParamsSchema = Type.Object(
  Object.fromEntries(RULE_IDS.map((id) => [id, RULES[id].schema as TSchema])) as Record<RuleId, TSchema>,
  { additionalProperties: false },
);

export const DEFAULT_PARAMS: RiskParams = Object.freeze(
  Object.fromEntries(RULE_IDS.map((id) => [id, Object.freeze({ ...RULES[id].defaults })])),
) as RiskParams;

// The same validator options as the HTTP bodies: exact types, no coercion, no defaults filled in
// (a stored version is complete, or it is refused).
const ajv = new Ajv({ allErrors: true, coerceTypes: false, useDefaults: false, removeAdditional: false, strict: false });
let compiled: ValidateFunction | undefined;

export type ParamsCheck = { ok: true; params: RiskParams } | { ok: false; errors: string[] };

export function validateParams(input: unknown): ParamsCheck {
  compiled ??= ajv.compile(RiskParamsSchema);
  if (compiled(input)) return { ok: true, params: input as RiskParams };
  return { ok: false, errors: (compiled.errors ?? []).map((e: ErrorObject) => `${e.instancePath || '/'} ${e.message ?? 'invalid'}`) };
}

/**
 * A version drafted as a change to another: rules not named keep their base values, a named rule's
 * fields override one by one. The result must still validate.
 */
export function mergeParams(base: RiskParams, patch: Partial<Record<RuleId, Record<string, unknown>>>): unknown {
  const out: Record<string, unknown> = {};
  for (const id of RULE_IDS) out[id] = { ...base[id], ...(patch[id] ?? {}) };
  for (const k of Object.keys(patch)) if (!(k in out)) out[k] = patch[k as RuleId];
  return out;
}

/** JSON with object keys sorted at every level: the same parameters always hash the same. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const o = value as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
    .join(',')}}`;
}

export function paramsHash(params: unknown): string {
  return createHash('sha256').update(canonicalJson(params)).digest('hex');
}

/** Parameters ready for the engine: validated once, hashed once, named by their version. */
export interface ParamSet {
  readonly params: RiskParams;
  readonly ref: ParamVersionRef;
}

export function paramSet(params: RiskParams, id: number | null = null): ParamSet {
  return { params, ref: { id, hash: paramsHash(params) } };
}

export const DEFAULT_PARAM_SET: ParamSet = paramSet(DEFAULT_PARAMS);
