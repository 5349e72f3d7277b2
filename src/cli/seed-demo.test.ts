import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { loadConfig } from '../platform/index.js';
import { login } from '../staff/index.js';
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js';
import { DEMO_LOGINS, DemoDataExistsError, seedDemo, type SeedSummary } from './seed-demo.js';

describe('seed-demo', () => {
  let tdb: TestDatabase;
  let summary: SeedSummary;
  const config = loadConfig({ ...process.env, LOG_LEVEL: 'silent' });

  beforeAll(async () => {
    tdb = await createTestDatabase(8);
    summary = await seedDemo(tdb.db, config, { quiet: true, customers: 12, days: 10, seed: 20240601 });
  });
  afterAll(async () => {
    await tdb.close();
  });

  it('loads every kind of data it promises and leaves the ledger verified', async () => {
    expect(summary.ledger.ok).toBe(true);
    expect(summary.stations).toBeGreaterThanOrEqual(10);
    expect(summary.terminals).toHaveLength(summary.stations);
    expect(summary.cards.personal).toBeGreaterThanOrEqual(12);
    expect(summary.cards.anonymous).toBeGreaterThan(0);
    expect(summary.cards.master).toBe(1);
    expect(summary.cards.sub).toBeGreaterThan(0);
    expect(summary.allocations.count).toBeGreaterThan(0);
    expect(summary.sales.approved).toBeGreaterThan(20);
    // A master card at the pump and a card number nobody issued are always in the plan.
    expect(summary.sales.declinesByCode.CARD_NOT_FOR_SALE).toBe(1);
    expect(summary.sales.declinesByCode.CARD_UNKNOWN).toBeGreaterThan(0);

    const r = await sql<{ channel: string; n: number }>`select channel, count(*)::int n from recharges group by channel`.execute(tdb.db);
    expect(r.rows.map((x) => x.channel).sort()).toEqual(['bank_transfer', 'cash']);
    const spread = await sql<{ days: number }>`select count(distinct business_day)::int days from sales`.execute(tdb.db);
    expect(spread.rows[0]!.days).toBeGreaterThanOrEqual(7);
  });

  it('writes the audit log as the system, for what it changed', async () => {
    const a = await sql<{ action: string; actor_role: string }>`select distinct action, actor_role from audit_log`.execute(tdb.db);
    const actions = a.rows.map((x) => x.action);
    for (const expected of ['station.create', 'terminal.register', 'staff.create', 'customer.create', 'card.issue', 'recharge.counter', 'card.allocate', 'demo.seed']) {
      expect(actions).toContain(expected);
    }
    expect(new Set(a.rows.map((x) => x.actor_role))).toEqual(new Set(['system']));
  });

  it('creates demo staff who can log in with the printed passwords', async () => {
    for (const d of DEMO_LOGINS) {
      expect(d.password.length).toBeGreaterThanOrEqual(10);
      const s = await login(tdb.db, { username: d.username, password: d.password, ip: null, requestId: null, ttlMs: 60_000 });
      expect(s.user.role).toBe(d.role);
    }
  });

  it('refuses to seed a second time and changes nothing', async () => {
    const before = await sql<{ n: number }>`select count(*)::int n from ledger_transfers`.execute(tdb.db);
    await expect(seedDemo(tdb.db, config, { quiet: true, customers: 3, days: 2 })).rejects.toBeInstanceOf(DemoDataExistsError);
    const after = await sql<{ n: number }>`select count(*)::int n from ledger_transfers`.execute(tdb.db);
    expect(after.rows[0]!.n).toBe(before.rows[0]!.n);
  });
});
