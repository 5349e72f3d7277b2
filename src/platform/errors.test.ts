import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AppError, defineErrors, isAppError, platformError, type ErrorTable } from './errors.js';
import { ledgerError } from '../ledger/index.js';
import { staffError } from '../staff/index.js';
import { customersError } from '../customers/index.js';
import { CARD_DECLINES, cardsError, vehiclesError } from '../cards/index.js';
import { keysError } from './keys/index.js';
import { casesError } from '../cases/index.js';
import { promotionsError, stationsError, stockError, whitelistError } from '../stations/index.js';
import { paymentsError } from '../payments/index.js';
import { reconError } from '../reconciliation/index.js';
import { privacyError } from '../privacy/index.js';
import { riskError } from '../risk/index.js';
import { OFFLINE_REJECTS, offlineError, reversalsError, SALE_DECLINES, salesError } from '../sales/index.js';

const FACTORIES: ReadonlyArray<{ module: string; table: ErrorTable }> = [
  platformError,
  keysError,
  ledgerError,
  staffError,
  customersError,
  cardsError,
  vehiclesError,
  stationsError,
  paymentsError,
  reconError,
  privacyError,
  riskError,
  casesError,
  salesError,
  reversalsError,
  offlineError,
  whitelistError,
  stockError,
  promotionsError,
];
const DECLINES: Record<string, { iso: string; zh: string; en: string }> = { ...CARD_DECLINES, ...SALE_DECLINES, ...OFFLINE_REJECTS };

describe('error catalogue', () => {
  const all = FACTORIES.flatMap((f) => Object.entries(f.table).map(([code, spec]) => ({ module: f.module, code, spec })));

  it('every code is UPPER_SNAKE with a real HTTP status, an ISO 8583 action code and both languages', () => {
    expect(all.length).toBeGreaterThan(30);
    for (const { code, spec } of all) {
      expect(code, code).toMatch(/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/);
      expect([400, 401, 403, 404, 405, 409, 410, 413, 415, 422, 423, 429, 500, 502, 503], code).toContain(spec.status);
      expect(spec.iso, code).toMatch(/^\d{3}$/);
      expect(spec.iso, `${code}: an error is never an approval`).not.toBe('000');
      expect(spec.zh.trim().length, code).toBeGreaterThan(0);
      expect(spec.en.trim().length, code).toBeGreaterThan(0);
      expect(spec.zh, `${code}: zh text is Chinese`).toMatch(/[\u4e00-\u9fff]/);
    }
  });

  it('codes are unique across modules and never collide with decline codes', () => {
    const codes = all.map((e) => e.code);
    expect(codes.length).toBe(new Set(codes).size);
    for (const d of Object.keys(DECLINES)) expect(codes, d).not.toContain(d);
  });

  it('module codes carry their module prefix (platform codes excepted)', () => {
    // The nouns a module's codes may start with: a code says whose refusal it is.
    const prefixes: Record<string, string[]> = {
      ledger: ['LEDGER_'],
      staff: ['STAFF_', 'AUTH_'],
      cards: ['CARD'],
      customers: ['CUSTOMER'],
      sales: ['SALE_', 'GOODS_', 'PUMP_SALE_', 'NOZZLE_', 'AUTHORISATION_', 'COMPLETION_'],
      reversals: ['SALE_', 'VOID_', 'REVERSAL_', 'SHIFT_', 'SETTLEMENT_'],
      offline: ['OFFLINE_'],
      whitelist: ['WHITELIST_'],
      stock: ['TANK_', 'DELIVERY_', 'STOCK_', 'STATION_'],
      promotions: ['PROMOTION_'],
      payments: ['RECHARGE_', 'PAYMENT_', 'BANK_TRANSFER_'],
      reconciliation: ['RECON_'],
      privacy: ['PRIVACY_'],
      risk: ['RISK_'],
      cases: ['CASES_'],
      vehicles: ['VEHICLE_'],
      keys: ['KEY_'],
    };
    for (const { module, code } of all) {
      const allowed = prefixes[module];
      if (module === 'platform' || !allowed) continue;
      expect(allowed.some((p) => code.startsWith(p)), `${module}: ${code}`).toBe(true);
    }
  });

  it('every decline has an ISO action code and both languages', () => {
    for (const [code, d] of Object.entries(DECLINES)) {
      expect(code).toMatch(/^[A-Z][A-Z0-9_]+$/);
      expect(d.iso, code).toMatch(/^\d{3}$/);
      expect(d.iso, code).not.toBe('000');
      expect(d.zh.length * d.en.length, code).toBeGreaterThan(0);
    }
  });

  it('docs/errors.md lists every code and every decline with its status', () => {
    const doc = fs.readFileSync(path.resolve(import.meta.dirname, '../../docs/errors.md'), 'utf8');
    for (const { code, spec } of all) expect(doc, code).toMatch(new RegExp(`\\|\\s*\`${code}\`\\s*\\|\\s*${spec.status}\\s*\\|\\s*${spec.iso}\\s*\\|`));
    for (const code of Object.keys(DECLINES)) expect(doc, code).toContain(`\`${code}\``);
  });
});

describe('defineErrors', () => {
  const demo = defineErrors('demo', { DEMO_BROKEN: { status: 409, iso: '902', zh: '坏了', en: 'Broken' } });

  it('builds AppErrors with code, status, details and a bilingual default message', () => {
    const err = demo('DEMO_BROKEN', { field: 'x' });
    expect(err).toBeInstanceOf(AppError);
    expect(err).toBeInstanceOf(Error);
    expect(isAppError(err)).toBe(true);
    expect(isAppError(new Error('x'))).toBe(false);
    expect(err.code).toBe('DEMO_BROKEN');
    expect(err.status).toBe(409);
    expect(err.details).toEqual({ field: 'x' });
    expect(err.message).toBe('坏了 / Broken');
    expect(demo('DEMO_BROKEN', undefined, 'more specific').message).toBe('more specific');
    expect(demo.module).toBe('demo');
    expect(Object.keys(demo.table)).toEqual(['DEMO_BROKEN']);
  });

  it('refuses a code outside its table', () => {
    expect(() => (demo as unknown as (c: string) => AppError)('DEMO_UNKNOWN')).toThrow();
  });
});
