import { describe, expect, it } from 'vitest';
import { CITIES, DEMO_STATIONS, mobile, NATIONAL_PRICE, nozzleLayout, residentId, residentIdCheck, Rng, unifiedSocialCreditCode } from './demo-data.js';
import { buildPlan } from './seed-plan.js';

describe('demo identity numbers', () => {
  it('computes the GB 11643 check character of the standard example', () => {
    expect(residentIdCheck('11010519491231002')).toBe('X');
  });

  it('makes resident IDs with the district, birth date, sex digit and a valid check', () => {
    const rng = new Rng(42);
    for (let i = 0; i < 200; i++) {
      const male = i % 2 === 0;
      const id = residentId(rng, '510107', { y: 1985, m: 3, d: 9 }, male);
      expect(id).toMatch(/^51010719850309\d{3}[\dX]$/);
      expect(Number(id[16]) % 2).toBe(male ? 1 : 0);
      expect(residentIdCheck(id.slice(0, 17))).toBe(id[17]);
    }
  });

  it('makes unified social credit codes whose check character verifies', () => {
    const chars = '0123456789ABCDEFGHJKLMNPQRTUWXY';
    const weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
    const rng = new Rng(7);
    for (let i = 0; i < 100; i++) {
      const code = unifiedSocialCreditCode(rng, '510116');
      expect(code).toMatch(/^91510116[0-9A-HJ-NPQRTUWXY]{10}$/);
      const sum = [...code.slice(0, 17)].reduce((s, c, j) => s + chars.indexOf(c) * weights[j]!, 0);
      expect(chars[(31 - (sum % 31)) % 31]).toBe(code[17]);
    }
  });

  it('makes mainland mobile numbers', () => {
    const rng = new Rng(1);
    for (let i = 0; i < 100; i++) expect(mobile(rng)).toMatch(/^1[3-9]\d{9}$/);
  });
});

describe('demo plan', () => {
  const nowMs = Date.UTC(2025, 5, 18, 4, 0, 0);
  const plan = buildPlan({ customers: 60, days: 21, nowMs, seed: 99 });

  it('is reproducible from its seed', () => {
    expect(buildPlan({ customers: 60, days: 21, nowMs, seed: 99 })).toEqual(plan);
  });

  it('keeps every sale inside the period and priced to the fen', () => {
    const sales = plan.cards.flatMap((c) => c.events).filter((e) => e.kind === 'sale');
    expect(sales.length).toBeGreaterThan(100);
    for (const s of sales) {
      expect(s.at.getTime()).toBeGreaterThanOrEqual(plan.startMs);
      expect(s.at.getTime()).toBeLessThanOrEqual(plan.endMs);
      expect(Math.abs(s.amount * 1000 - s.volumeMl * s.unitPrice)).toBeLessThan(1000);
      expect(s.unitPrice).toBeGreaterThan(600);
      expect(s.unitPrice).toBeLessThan(1000);
      expect(DEMO_STATIONS.some((st) => st.code === s.stationCode)).toBe(true);
    }
    expect(new Set(sales.map((s) => s.grade))).toEqual(new Set(['92#', '95#', '98#', '0#']));
  });

  it('gives every station four to eight nozzles over all four grades, and sells each sale from a nozzle of its grade', () => {
    for (const st of DEMO_STATIONS) {
      const layout = plan.nozzles[st.code]!;
      expect(layout).toEqual(nozzleLayout(st));
      expect(layout.length).toBeGreaterThanOrEqual(4);
      expect(layout.length).toBeLessThanOrEqual(8);
      expect(new Set(layout.map((n) => n.nozzle)).size).toBe(layout.length);
      expect(new Set(layout.map((n) => n.grade))).toEqual(new Set(['92#', '95#', '98#', '0#']));
    }
    const sales = [...plan.cards.flatMap((c) => c.events), ...plan.unknownCardSales].filter((e) => e.kind === 'sale');
    for (const s of sales) expect(plan.nozzles[s.stationCode]!.find((n) => n.nozzle === s.nozzle)?.grade).toBe(s.grade);
  });

  it('sells at the price in force: national before and after the adjustment, a station’s own where it has one', () => {
    const latest = (grade: string, station: string | null) => plan.prices.filter((p) => p.grade === grade && p.stationCode === station).at(-1)!;
    // In force now: the national prices the demo promises, and the logistics park's cheaper diesel.
    for (const [grade, price] of Object.entries(NATIONAL_PRICE)) expect(latest(grade, null).unitPrice).toBe(price);
    expect(latest('0#', 'CD003').unitPrice).toBeLessThan(NATIONAL_PRICE['0#']);
    for (const p of plan.prices) expect(p.effectiveFrom.getTime()).toBeLessThanOrEqual(plan.endMs);
    const sales = plan.cards.flatMap((c) => c.events).filter((e) => e.kind === 'sale');
    const rise = Math.max(...plan.prices.map((p) => p.effectiveFrom.getTime()));
    const seen = new Set<string>();
    for (const s of sales) {
      const after = s.at.getTime() >= rise;
      const own = plan.prices.filter((p) => p.grade === s.grade && p.stationCode === s.stationCode);
      const national = plan.prices.filter((p) => p.grade === s.grade && p.stationCode === null);
      const rows = own.length > 0 ? own : national;
      expect(s.unitPrice).toBe(rows[after ? 1 : 0]!.unitPrice);
      seen.add(`${after}`);
    }
    expect(seen).toEqual(new Set(['true', 'false']));
  });

  it('keeps each card’s events in time order and gives customers unique ID numbers and phones', () => {
    for (const c of plan.cards) {
      const times = c.events.map((e) => e.at.getTime());
      expect(times).toEqual([...times].sort((a, b) => a - b));
    }
    expect(new Set(plan.customers.map((c) => c.idNumber)).size).toBe(plan.customers.length);
    expect(new Set(plan.customers.map((c) => c.phone)).size).toBe(plan.customers.length);
  });

  it('has the card kinds the demo promises, with bank references on every bank transfer', () => {
    const kinds = plan.cards.map((c) => c.kind);
    expect(kinds.filter((k) => k === 'master')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'sub').length).toBeGreaterThanOrEqual(2);
    expect(kinds.filter((k) => k === 'anonymous').length).toBeGreaterThanOrEqual(2);
    const recharges = plan.cards.flatMap((c) => [c.opening, ...c.events]).filter((e) => e?.kind === 'recharge');
    for (const r of recharges) if (r?.kind === 'recharge' && r.channel === 'bank_transfer') expect(r.reference).toMatch(/^[A-Z]{2,4}\d{18}$/);
    expect(Object.keys(CITIES)).toHaveLength(5);
  });
});
