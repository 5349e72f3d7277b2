import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { evaluate, replay } from './risk.engine.js';
import { DEFAULT_PARAMS, mergeParams, paramSet, validateParams } from './risk.params.js';
import { RULE_IDS, type RiskParams } from './risk.rules.js';
import { BEIJING, HOUR, T0, baseContext, params, past, withSale } from './risk.test-support.js';
import { OUTCOMES, SEVERITY, type DecisionRecord, type RiskContext } from './risk.types.js';

/** Decline (sale_amount), step-up (flagged_station) and freeze (impossible_travel) at once. */
function threeRules(): RiskContext {
  return withSale(
    baseContext({
      station: { ...baseContext().station, flagged: { reason: 'skimmer', since: T0 - HOUR } },
      recent: [past({ at: T0 - HOUR, stationId: 20, ...BEIJING })],
    }),
    { amount: 250_000 },
  );
}

describe('decisions', () => {
  it('the most severe enforced outcome wins, and every fired rule is recorded', () => {
    const d = evaluate(params(), threeRules());
    expect(d.outcome).toBe('freeze');
    expect(d.hits.map((h) => [h.rule, h.outcome]).sort()).toEqual([
      ['flagged_station', 'step_up'],
      ['impossible_travel', 'freeze'],
      ['sale_amount', 'decline'],
      ['unusual_amount', 'step_up'],
    ]);
  });

  it('a shadow rule is recorded but not enforced', () => {
    const d = evaluate(params({ impossible_travel: { shadow: true } }), threeRules());
    expect(d.outcome).toBe('decline');
    expect(d.hits.find((h) => h.rule === 'impossible_travel')).toMatchObject({ enforced: false, suppressedBy: 'shadow' });
  });

  it('a rule silenced for the card is recorded as silenced, not enforced', () => {
    const d = evaluate(params(), { ...threeRules(), silenced: ['impossible_travel', 'sale_amount'] });
    expect(d.outcome).toBe('step_up');
    expect(d.hits.filter((h) => h.suppressedBy === 'silence').map((h) => h.rule).sort()).toEqual(['impossible_travel', 'sale_amount']);
  });

  it('a disabled rule does not run', () => {
    const d = evaluate(params({ impossible_travel: { enabled: false } }), threeRules());
    expect(d.hits.some((h) => h.rule === 'impossible_travel')).toBe(false);
  });

  it('the outcome of a rule is a parameter', () => {
    // sale_amount asks for delay here, unusual_amount for step_up: delay is the more severe.
    expect(evaluate(params({ sale_amount: { outcome: 'delay' } }), withSale(baseContext(), { amount: 250_000 })).outcome).toBe('delay');
    expect(evaluate(params({ sale_amount: { outcome: 'approve_flag' } }), withSale(baseContext(), { amount: 250_000 })).outcome).toBe('step_up');
  });

  it('a rule that throws is reported, flags the sale, and does not stop the others', () => {
    const broken = { ...withSale(baseContext(), { amount: 250_000 }), recent: null } as unknown as RiskContext;
    const d = evaluate(params(), broken);
    expect(d.errors.length).toBeGreaterThan(0);
    expect(d.hits.some((h) => h.rule === 'sale_amount')).toBe(true);
    expect(d.outcome).toBe('decline');
    const quiet = evaluate(params(), { ...baseContext(), recent: null } as unknown as RiskContext);
    expect(quiet.outcome).toBe('approve_flag');
  });

  it('names the parameter version it used', () => {
    const set = paramSet(DEFAULT_PARAMS, 42);
    expect(evaluate(set, baseContext()).paramVersion).toEqual({ id: 42, hash: set.ref.hash });
  });
});

describe('parameters', () => {
  it('the defaults validate', () => {
    expect(validateParams(DEFAULT_PARAMS).ok).toBe(true);
  });
  it('refuses a missing rule, an unknown field, a wrong type, an unknown outcome', () => {
    const { sale_amount: _omit, ...missing } = DEFAULT_PARAMS;
    expect(validateParams(missing).ok).toBe(false);
    expect(validateParams(mergeParams(DEFAULT_PARAMS, { sale_amount: { extra: 1 } })).ok).toBe(false);
    expect(validateParams(mergeParams(DEFAULT_PARAMS, { sale_amount: { maxAmount: '100' } })).ok).toBe(false);
    expect(validateParams(mergeParams(DEFAULT_PARAMS, { sale_amount: { outcome: 'block' } })).ok).toBe(false);
    expect(validateParams(mergeParams(DEFAULT_PARAMS, { velocity_sales: { windowMinutes: 100_000 } })).ok).toBe(false);
    expect(validateParams({ ...DEFAULT_PARAMS, no_such_rule: {} }).ok).toBe(false);
  });
  it('the hash does not depend on key order', () => {
    const reordered = Object.fromEntries(Object.entries(DEFAULT_PARAMS).reverse()) as RiskParams;
    expect(paramSet(reordered).ref.hash).toBe(paramSet(DEFAULT_PARAMS).ref.hash);
  });
});

function recordOf(set = params(), ctx = threeRules()): DecisionRecord {
  return { params: set.params, paramVersion: set.ref, context: ctx, decision: evaluate(set, ctx) };
}

describe('replay', () => {
  it('gives the same decision from the record, also after a JSON round trip (as stored)', () => {
    const record = recordOf();
    expect(replay(record).same).toBe(true);
    expect(replay(JSON.parse(JSON.stringify(record)) as DecisionRecord).same).toBe(true);
  });
  it('tells when the recorded decision is not what the engine decides', () => {
    const record = recordOf();
    expect(replay({ ...record, decision: { ...record.decision, outcome: 'approve' } }).same).toBe(false);
  });
  it('refuses parameters other than the ones the decision names', () => {
    const record = recordOf();
    const other = params({ sale_amount: { maxAmount: 1 } }).params;
    expect(() => replay({ ...record, params: other })).toThrow(expect.objectContaining({ code: 'RISK_DECISION_NOT_REPLAYABLE' }));
    expect(() => replay({ ...record, params: { junk: true } })).toThrow(expect.objectContaining({ code: 'RISK_DECISION_NOT_REPLAYABLE' }));
  });
});

// ── Properties ──────────────────────────────────────────────────────────────────────────────────
const int = (max = 10_000_000) => fc.integer({ min: -1_000, max });
const time = fc.integer({ min: T0 - 30 * 24 * HOUR, max: T0 + HOUR });
const coord = fc.record({ lat: fc.double({ min: -90, max: 90, noNaN: true }), lng: fc.double({ min: -180, max: 180, noNaN: true }) });
const grade = fc.option(fc.constantFrom('92#', '95#', '0#', 'E10'), { nil: null });
const usage = fc.record({ amount: int(), volumeMl: int(), fills: fc.nat(100) });
const pastSale = fc.record({
  at: time,
  stationId: fc.integer({ min: 1, max: 5 }),
  lat: fc.double({ min: -90, max: 90, noNaN: true }),
  lng: fc.double({ min: -180, max: 180, noNaN: true }),
  terminalId: fc.constantFrom('T00000001', 'T00000002', 'T00000003'),
  amount: int(),
  volumeMl: fc.option(int(), { nil: null }),
  grade,
  status: fc.constantFrom('approved' as const, 'declined' as const),
  declineCode: fc.option(fc.constantFrom('PIN_WRONG', 'PIN_TRIES_EXCEEDED', 'LIMIT_DAY_AMOUNT'), { nil: null }),
});
const contextArb: fc.Arbitrary<RiskContext> = fc.record({
  sale: fc.record({
    cardId: fc.nat(),
    amount: int(),
    volumeMl: fc.option(int(), { nil: null }),
    grade,
    stationId: fc.integer({ min: 1, max: 5 }),
    terminalId: fc.constantFrom('T00000001', 'T00000002'),
    at: time,
    localHour: fc.integer({ min: 0, max: 23 }),
    channel: fc.constantFrom('online' as const, 'preauth' as const, 'completion' as const, 'postpay' as const, 'offline' as const),
  }),
  station: fc.record({ id: fc.integer({ min: 1, max: 5 }), lat: coord.map((c) => c.lat), lng: coord.map((c) => c.lng), flagged: fc.option(fc.record({ reason: fc.string(), since: time }), { nil: null }) }),
  card: fc.record({ id: fc.nat(), kind: fc.constantFrom('personal' as const, 'anonymous' as const, 'master' as const, 'sub' as const), masterCardId: fc.option(fc.nat(), { nil: null }), customerId: fc.option(fc.nat(), { nil: null }), createdAt: time }),
  recent: fc.array(pastSale, { maxLength: 30 }),
  recentWindowMs: fc.constant(24 * HOUR),
  usage: fc.record({ day: usage, week: usage, month: usage }),
  stats: fc.record({ days: fc.constant(90), count: fc.nat(500), mean: fc.double({ min: 0, max: 1e7, noNaN: true }), sd: fc.double({ min: 0, max: 1e7, noNaN: true }), p95: fc.double({ min: 0, max: 1e7, noNaN: true }), hourCounts: fc.array(fc.nat(50), { minLength: 24, maxLength: 24 }) }),
  moneyMoves: fc.array(fc.record({ at: time, kind: fc.constantFrom('recharge' as const, 'refund' as const), amount: int() }), { maxLength: 10 }),
  vehicle: fc.option(fc.record({ plate: fc.option(fc.string(), { nil: null }), tankCapacityMl: fc.option(int(), { nil: null }), grades: fc.option(fc.array(fc.constantFrom('92#', '95#', '0#')), { nil: null }) }), { nil: null }),
  silenced: fc.subarray([...RULE_IDS]),
});
const paramsArb = fc.record(
  Object.fromEntries(RULE_IDS.map((id) => [id, fc.record({ enabled: fc.boolean(), shadow: fc.boolean(), outcome: fc.constantFrom(...OUTCOMES) })])) as Record<string, fc.Arbitrary<{ enabled: boolean; shadow: boolean; outcome: (typeof OUTCOMES)[number] }>>,
).map((over) => paramSet(mergeParams(DEFAULT_PARAMS, over) as RiskParams));

describe('properties', () => {
  it('evaluate never throws, and its outcome is the most severe enforced hit', () => {
    fc.assert(
      fc.property(paramsArb, contextArb, (set, ctx) => {
        const d = evaluate(set, ctx);
        expect(d.errors).toEqual([]);
        const expected = d.hits.filter((h) => h.enforced).reduce((o, h) => (SEVERITY[h.outcome] > SEVERITY[o] ? h.outcome : o), 'approve' as (typeof OUTCOMES)[number]);
        expect(d.outcome).toBe(expected);
        for (const h of d.hits) expect(h.enforced).toBe(!ctx.silenced.includes(h.rule) && !set.params[h.rule as keyof RiskParams].shadow);
      }),
      { numRuns: 500 },
    );
  });

  it('evaluate never throws even on a context that is not one', () => {
    fc.assert(
      fc.property(fc.anything(), (junk) => {
        const d = evaluate(params(), junk as RiskContext);
        expect(OUTCOMES).toContain(d.outcome);
      }),
      { numRuns: 300 },
    );
  });

  it('replay of a stored (JSON) record always gives the same decision', () => {
    fc.assert(
      fc.property(paramsArb, contextArb, (set, ctx) => {
        const stored = JSON.parse(JSON.stringify(recordOf(set, ctx))) as DecisionRecord;
        expect(replay(stored).same).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('more money never makes sale_amount and period_amount less severe', () => {
    fc.assert(
      fc.property(contextArb, fc.nat(1_000_000), (ctx, extra) => {
        const only = params(Object.fromEntries(RULE_IDS.filter((r) => r !== 'sale_amount' && r !== 'period_amount').map((r) => [r, { enabled: false }])));
        const a = evaluate(only, ctx).outcome;
        const b = evaluate(only, withSale(ctx, { amount: ctx.sale.amount + extra })).outcome;
        expect(SEVERITY[b]).toBeGreaterThanOrEqual(SEVERITY[a]);
      }),
    );
  });
});
