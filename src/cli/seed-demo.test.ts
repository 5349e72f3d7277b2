import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { loadConfig } from '../platform/index.js';
import { pricesInForce } from '../stations/index.js';
import { NATIONAL_PRICE } from './demo-data.js';
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

  it('gives every station nozzles and sets national prices, and sells from a nozzle of the sale’s grade at the price in force', async () => {
    expect(summary.nozzles).toBeGreaterThanOrEqual(4 * summary.stations);
    const perStation = await sql<{ code: string; n: number; grades: string[] }>`select s.code, count(n.nozzle)::int n, array_agg(distinct n.grade order by n.grade) grades
      from stations s left join station_nozzles n on n.station_id = s.id group by s.code`.execute(tdb.db);
    expect(perStation.rows).toHaveLength(summary.stations);
    for (const st of perStation.rows) {
      expect(st.n, st.code).toBeGreaterThanOrEqual(4);
      expect(st.n, st.code).toBeLessThanOrEqual(8);
      expect(st.grades, st.code).toEqual(['0#', '92#', '95#', '98#']);
    }
    const national = (await pricesInForce(tdb.db)).filter((p) => p.stationId === null);
    expect(Object.fromEntries(national.map((p) => [p.grade, p.unitPrice]))).toEqual(NATIONAL_PRICE);

    // Every approved sale: the nozzle sells the sale's grade, and the unit price is the one in force
    // when the fill started (a retry after a mistyped PIN is recorded 40 s later).
    const mismatched = await sql<{ id: string }>`select s.id from sales s
      left join station_nozzles n on n.station_id = s.station_id and n.nozzle = s.nozzle
      where s.status = 'approved' and (n.grade is distinct from s.grade or s.unit_price not in (
        select (select unit_price from fuel_prices p where p.grade = s.grade and (p.station_id is null or p.station_id = s.station_id)
                and p.effective_from <= t order by (p.station_id is null), p.effective_from desc, p.id desc limit 1)
        from unnest(array[s.created_at, s.created_at - interval '40 seconds']) t))`.execute(tdb.db);
    expect(mismatched.rows).toEqual([]);
    const priced = await sql<{ n: number }>`select count(distinct unit_price)::int n from sales where status = 'approved' and grade = '92#'`.execute(tdb.db);
    expect(priced.rows[0]!.n).toBeGreaterThanOrEqual(2); // before and after the adjustment
  });

  it('closes each demo terminal’s shift, balanced, so the first real shift holds only what happens next', async () => {
    const r = await sql<{ terminal_id: string; open: number; closed: number; unbalanced: number; in_open: number }>`
      select t.id as terminal_id,
             (select count(*)::int from terminal_shifts s where s.terminal_id = t.id and s.closed_at is null) as open,
             (select count(*)::int from terminal_shifts s where s.terminal_id = t.id and s.closed_at is not null) as closed,
             (select count(*)::int from terminal_shifts s where s.terminal_id = t.id and s.differences <> '[]'::jsonb) as unbalanced,
             (select count(*)::int from sales x join terminal_shifts s on s.id = x.shift_id where x.terminal_id = t.id and s.closed_at is null) as in_open
        from terminals t`.execute(tdb.db);
    expect(r.rows.length).toBe(summary.terminals.length);
    for (const t of r.rows) expect(t, t.terminal_id).toMatchObject({ open: 0, closed: 1, unbalanced: 0, in_open: 0 });
  });

  it('writes the audit log as the system, for what it changed', async () => {
    const a = await sql<{ action: string; actor_role: string }>`select distinct action, actor_role from audit_log`.execute(tdb.db);
    const actions = a.rows.map((x) => x.action);
    for (const expected of ['station.create', 'terminal.register', 'station.nozzles_set', 'price.set', 'staff.create', 'customer.create', 'card.issue', 'recharge.counter', 'card.allocate', 'demo.seed']) {
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
