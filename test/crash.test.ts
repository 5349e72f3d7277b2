import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyLedger } from '../src/ledger/index.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { killChild, startChildServer, type ChildServer } from './support/child-server.js';
import { balanceOf, metricValue, newCard, newStation, saleBody, sell, type Terminal } from './support/fuel.js';

/**
 * Crash safety of the real server process: a SIGKILL in the middle of a sale load loses
 * no approved sale and leaves no half-done one; retries after the restart debit at most
 * once; SIGTERM lets in-flight requests finish and exits 0.
 */
const ADMIN_PASSWORD = 'crash-test-admin-pw';
const KEYS = {
  FUELCARD_DATA_KEYS: `k1:${randomBytes(32).toString('base64')}`,
  FUELCARD_BLIND_INDEX_KEY: randomBytes(32).toString('base64'),
  FUELCARD_PIN_KEY: randomBytes(32).toString('base64'),
  FUELCARD_MESSAGE_SENDER: 'dev',
  // Real keys make administrator TOTP required; this file is about crashes, not sign-in.
  FUELCARD_ADMIN_TOTP: 'optional',
};

let db: TestDatabase;
const children: ChildServer[] = [];

beforeAll(async () => {
  db = await createTestDatabase(4);
});
afterAll(async () => {
  for (const c of children) await killChild(c);
  await db?.close();
});

async function start(env: Record<string, string> = {}): Promise<ChildServer> {
  const server = await startChildServer({ databaseUrl: db.url, adminPassword: ADMIN_PASSWORD, env: { ...KEYS, ...env } });
  children.push(server);
  server.token = await server.login('admin', ADMIN_PASSWORD);
  return server;
}

/**
 * Many sales on a few cards in seconds is what the risk engine's repeat rules stop (velocity, card
 * testing). This file is about crashes: those rules are silenced for its cards, as a reviewer would.
 */
async function silenceRepeatRules(cardNo: string): Promise<void> {
  await sql`insert into risk_rule_silences (card_id, rule, until, reason, created_by)
    select c.id, r.rule, now() + interval '1 hour', 'crash test: load, not fraud', (select id from staff_users where username = 'admin')
    from cards c, unnest(array['velocity_sales', 'velocity_declines', 'card_testing', 'period_amount']) as r(rule)
    where c.card_no = ${cardNo}`.execute(db.db);
}

interface Attempt {
  key: string;
  cardNo: string;
  body: ReturnType<typeof saleBody>;
  answer?: { status: number; body: any };
}

describe('SIGKILL under load', () => {
  it('loses no approved sale, retries debit once, balances and ledger agree', async () => {
    let s = await start();
    const { terminal } = await newStation(s);
    const FUNDS = 500_000;
    const cards: string[] = [];
    for (let i = 0; i < 8; i++) cards.push(await newCard(s, { funds: FUNDS }));
    // One card that runs dry during the load, so declines are in the mix too.
    const small = await newCard(s, { funds: 20_000 });
    cards.push(small);
    for (const c of cards) await silenceRepeatRules(c);

    const attempts: Attempt[] = [];
    let stop = false;
    let approvedAnswers = 0;
    const client = async (c: number, term: Terminal) => {
      for (let i = 0; !stop; i++) {
        const cardNo = i % 3 === 0 ? small : cards[(c + i) % cards.length]!;
        const amount = 100 + ((c * 7919 + i * 104_729) % 2_000);
        const a: Attempt = { key: `crash-${c}-${i}`, cardNo, body: saleBody(cardNo, amount) };
        attempts.push(a);
        try {
          const r = await sell(s, term, a.body, { idempotencyKey: a.key });
          a.answer = { status: r.status, body: r.body };
          if (r.body?.status === 'approved') approvedAnswers++;
        } catch {
          return; // the connection died with the server: this attempt stays unanswered
        }
      }
    };
    const load = Promise.all(Array.from({ length: 24 }, (_, c) => client(c, terminal)));
    // Let the load run until a good number of sales are through, then kill mid-flight.
    const t0 = Date.now();
    while (approvedAnswers < 200 && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 20));
    s.proc.kill('SIGKILL');
    stop = true;
    expect(await s.exited).toBe('SIGKILL');
    await load;

    const answered = attempts.filter((a) => a.answer);
    const unanswered = attempts.filter((a) => !a.answer);
    expect(answered.every((a) => a.answer!.status === 200)).toBe(true);
    const approved = answered.filter((a) => a.answer!.body.status === 'approved');
    expect(approved.length).toBeGreaterThanOrEqual(50);
    expect(answered.some((a) => a.answer!.body.declineCode === 'INSUFFICIENT_FUNDS')).toBe(true);
    expect(unanswered.length).toBeGreaterThan(0); // the kill really hit requests in flight

    // Restart on the same database.
    s = await start();

    // 1. Every sale answered "approved" is in the sales table with its ledger transfers.
    const rows = await sql<{ id: string; status: string; amount: number; transfers: Array<{ transferId: string; accountId: number; amount: number }> }>`
      select id, status, amount, transfers from sales`.execute(db.db);
    const saleById = new Map(rows.rows.map((r) => [r.id, r]));
    const transferIds = rows.rows.flatMap((r) => r.transfers.map((t) => t.transferId));
    const transfers = await sql<{ id: string; amount: number; code: string }>`
      select id::text, amount, code from ledger_transfers where id = any(${transferIds}::uuid[])`.execute(db.db);
    const transferById = new Map(transfers.rows.map((t) => [t.id, t]));
    for (const a of approved) {
      const row = saleById.get(a.answer!.body.saleId);
      expect(row, `approved sale ${a.key} is missing`).toBeDefined();
      expect(row!.status).toBe('approved');
      expect(row!.amount).toBe(a.body.amount);
      expect(row!.transfers.reduce((sum, t) => sum + t.amount, 0)).toBe(a.body.amount);
      for (const t of row!.transfers) expect(transferById.get(t.transferId), `transfer of ${a.key}`).toMatchObject({ amount: t.amount, code: 'sale' });
    }
    // Declined sales moved nothing; no approved sale lacks its transfers.
    for (const r of rows.rows) {
      if (r.status === 'declined') expect(r.transfers).toEqual([]);
      else expect(r.transfers.reduce((sum, t) => sum + t.amount, 0)).toBe(r.amount);
    }

    // 2. Retrying the unanswered requests with their keys debits at most once each.
    // Each retry twice at once, as an impatient terminal would.
    await Promise.all(
      unanswered.map(async (a) => {
        const [r1, r2] = await Promise.all([sell(s, terminal, a.body, { idempotencyKey: a.key }), sell(s, terminal, a.body, { idempotencyKey: a.key })]);
        expect(r1.status, JSON.stringify(r1.body)).toBe(200);
        expect(r2.body).toEqual(r1.body);
        a.answer = { status: r1.status, body: r1.body };
      }),
    );
    // Another retry answers exactly as before, also for requests answered before the crash.
    await Promise.all(
      [...unanswered, ...answered.filter((_, i) => i % 10 === 0)].map(async (a) => {
        const r = await sell(s, terminal, a.body, { idempotencyKey: a.key });
        expect(r.body, a.key).toEqual(a.answer!.body);
      }),
    );
    const all = attempts;
    const saleIds = all.map((a) => a.answer!.body.saleId as string);
    expect(new Set(saleIds).size).toBe(all.length);
    const count = await sql<{ n: number }>`select count(*)::int n from sales`.execute(db.db);
    // Every sale row belongs to exactly one attempt: no orphan from a request that died half-way.
    expect(count.rows[0]!.n).toBe(all.length);

    // 3. Balances equal funding minus approved sales.
    const spent = new Map<string, number>();
    for (const a of all) if (a.answer!.body.status === 'approved') spent.set(a.cardNo, (spent.get(a.cardNo) ?? 0) + a.body.amount);
    for (const cardNo of cards) {
      const funded = cardNo === small ? 20_000 : FUNDS;
      expect(await balanceOf(s, cardNo), cardNo).toBe(funded - (spent.get(cardNo) ?? 0));
    }

    // 4. The ledger verifies, directly and through the admin API.
    const report = await verifyLedger(db.db);
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    const api = await s.api('GET', '/api/v1/ledger/verify');
    expect(api.body.ok).toBe(true);

    // The restarted process reports its DB pool on /metrics.
    const metrics = (await s.api('GET', '/metrics', { role: null })).body as string;
    expect(metricValue(metrics, 'fuelcard_db_pool_connections', { state: 'total' })).toBeGreaterThanOrEqual(1);

    s.proc.kill('SIGTERM');
    expect(await s.exited).toBe(0);
  });
});

describe('SIGTERM', () => {
  it('lets in-flight requests finish, refuses new ones, and exits 0', async () => {
    const s = await start({ LOG_LEVEL: 'info' });
    const { terminal } = await newStation(s);
    const cardNo = await newCard(s, { funds: 100_000 });
    await silenceRepeatRules(cardNo);
    const before = await balanceOf(s, cardNo);
    expect((await s.api('GET', '/api/v1/auth/me', { headers: { 'x-request-id': 'log-check-1' } })).status).toBe(200);

    // Hold the card's row lock from outside, so the sales below are provably inside the server
    // (authenticated, in their transactions, waiting) when the signal arrives.
    const lock = await db.pool.connect();
    await lock.query('begin');
    await lock.query('select id from cards where card_no = $1 for update', [cardNo]);
    let released = false;
    try {
      // Fewer than the pool's 16 connections: each sale holds one while it waits on the lock.
      const N = 12;
      const inflight = Array.from({ length: N }, (_, i) =>
        sell(s, terminal, saleBody(cardNo, 1_000), { idempotencyKey: `term-${i}` }).then(
          (r) => ({ ok: true as const, status: r.status, body: r.body }),
          (err: unknown) => ({ ok: false as const, err }),
        ),
      );
      // Wait until the requests are in the server: each sale's transaction waits on the card lock.
      const t0 = Date.now();
      for (;;) {
        const n = await db.pool.query<{ n: number }>(
          "select count(*)::int n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
        );
        if (n.rows[0]!.n >= N) break;
        if (Date.now() - t0 > 10_000) throw new Error(`only ${n.rows[0]!.n} requests reached the server`);
        await new Promise((r) => setTimeout(r, 20));
      }
      s.proc.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 300));
      expect(s.proc.exitCode).toBeNull(); // still finishing its work
      // A new connection is refused (or answered 503) while it drains.
      const late = await fetch(`${s.baseUrl}/healthz`).then(
        (r) => r.status,
        () => 'refused',
      );
      expect([503, 'refused']).toContain(late);

      await lock.query('commit');
      released = true;
      const results = await Promise.all(inflight);
      const failed = results.filter((r) => !r.ok || r.status !== 200);
      expect(failed, JSON.stringify(failed.slice(0, 3))).toEqual([]);
      expect(results.every((r) => r.ok && r.body.status === 'approved')).toBe(true);
      expect(await s.exited, s.output()).toBe(0);
      expect(s.output()).not.toMatch(/shutdown (timed out|failed)/);

      // JSON logs carry request ids; secrets never reach them.
      const lines = s.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, any>);
      expect(lines.some((l) => l.reqId === 'log-check-1' && l.req?.url === '/api/v1/auth/me')).toBe(true);
      expect(lines.some((l) => l.msg === 'stopped cleanly')).toBe(true);
      for (const secret of [ADMIN_PASSWORD, terminal.secret, s.token!]) expect(s.output()).not.toContain(secret);

      // Everything answered was committed.
      const row = await db.pool.query<{ balance: number }>(
        `select sum(a.credits_posted - a.debits_posted)::bigint as balance from cards c join card_accounts ca on ca.card_id = c.id
           join ledger_accounts a on a.id = ca.account_id where c.card_no = $1`,
        [cardNo],
      );
      expect(Number(row.rows[0]!.balance)).toBe(before - N * 1_000);
      const report = await verifyLedger(db.db);
      expect(report.ok).toBe(true);
    } finally {
      if (!released) await lock.query('rollback').catch(() => {});
      lock.release();
    }
  });
});
