import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { publishRiskParams } from '../sales/sale-risk.testkit.js';

const RISK_OFF = Object.fromEntries(
  (['velocity_sales', 'velocity_declines', 'card_testing', 'period_amount', 'sale_amount', 'unusual_amount', 'impossible_travel'] as const).map((r) => [r, { enabled: false }]),
);
import { cardOp, expectError, expectLedgerVerified, getCard, issueCard, newStation, ok, sell, type TestTerminal } from '../../test/support/cards-factory.js';

/** A sale of `volumeMl` for `amount` fen, priced consistently. */
interface Fill {
  amount: number;
  volumeMl?: number;
  grade?: string;
}
const over = (f: Fill) => {
  const volumeMl = f.volumeMl ?? f.amount;
  return { volumeMl, unitPrice: Math.round((f.amount * 1000) / volumeMl), grade: f.grade ?? '92#' };
};

/**
 * Each limit: the limits to PUT, the fills that use part of it (all approved), the fill just
 * over it (declined with the code) and the fill that exactly reaches it, still approved (a fill
 * count is reached by the `before` fills themselves).
 */
const CASES: Array<{ name: string; limits: Record<string, unknown>; before: Fill[]; over: Fill; code: string; under?: Fill }> = [
  { name: 'per-sale amount', limits: { saleAmount: 1000 }, before: [], over: { amount: 1001 }, code: 'LIMIT_SALE_AMOUNT', under: { amount: 1000 } },
  { name: 'per-sale volume', limits: { saleVolumeMl: 2000 }, before: [], over: { amount: 1001, volumeMl: 2001 }, code: 'LIMIT_SALE_VOLUME', under: { amount: 1000, volumeMl: 2000 } },
  { name: 'day amount', limits: { dayAmount: 1500 }, before: [{ amount: 1000 }], over: { amount: 501 }, code: 'LIMIT_DAY_AMOUNT', under: { amount: 500 } },
  { name: 'day volume', limits: { dayVolumeMl: 3000 }, before: [{ amount: 1000, volumeMl: 2000 }], over: { amount: 501, volumeMl: 1001 }, code: 'LIMIT_DAY_VOLUME', under: { amount: 500, volumeMl: 1000 } },
  { name: 'day fills', limits: { dayFills: 3 }, before: [{ amount: 10 }, { amount: 10 }, { amount: 10 }], over: { amount: 10 }, code: 'LIMIT_DAY_FILLS' },
  { name: 'week amount', limits: { weekAmount: 2500 }, before: [{ amount: 2000 }], over: { amount: 501 }, code: 'LIMIT_WEEK_AMOUNT', under: { amount: 500 } },
  { name: 'week volume', limits: { weekVolumeMl: 5000 }, before: [{ amount: 2000, volumeMl: 4000 }], over: { amount: 501, volumeMl: 1001 }, code: 'LIMIT_WEEK_VOLUME', under: { amount: 500, volumeMl: 1000 } },
  { name: 'week fills', limits: { weekFills: 2 }, before: [{ amount: 10 }, { amount: 10 }], over: { amount: 10 }, code: 'LIMIT_WEEK_FILLS' },
  { name: 'month amount', limits: { monthAmount: 3000 }, before: [{ amount: 1000 }, { amount: 1500 }], over: { amount: 501 }, code: 'LIMIT_MONTH_AMOUNT', under: { amount: 500 } },
  { name: 'month volume', limits: { monthVolumeMl: 7000 }, before: [{ amount: 3000, volumeMl: 6000 }], over: { amount: 501, volumeMl: 1001 }, code: 'LIMIT_MONTH_VOLUME', under: { amount: 500, volumeMl: 1000 } },
  { name: 'month fills', limits: { monthFills: 4 }, before: [{ amount: 10 }, { amount: 10 }, { amount: 10 }, { amount: 10 }], over: { amount: 10 }, code: 'LIMIT_MONTH_FILLS' },
  { name: 'allowed grades', limits: { allowedGrades: ['92#', '95#'] }, before: [{ amount: 100, grade: '92#' }], over: { amount: 100, grade: '98#' }, code: 'GRADE_NOT_ALLOWED', under: { amount: 100, grade: '95#' } },
];

let server: TestServer;
let terminal: TestTerminal;
beforeAll(async () => {
  server = await startTestServer();
  ({ terminal } = await newStation(server));
  // This file tests the cards module's own hard limits and PIN lockout. The programme's risk rules that
  // count the same sales (velocity, card testing, period and single-sale amounts, unusual amount) are
  // switched off for this file's programme, as an operator could publish; docs/risk-sale-path.md.
  await publishRiskParams(server, RISK_OFF);
});
afterAll(async () => server?.close());
afterEach(async () => expectLedgerVerified(server));

const putLimits = (cardNo: string, limits: Record<string, unknown>, role: 'admin' | 'operator' | 'finance' | 'station_staff' = 'operator') =>
  server.api('PUT', `/api/v1/cards/${cardNo}/limits`, { role, body: limits });

async function fill(cardNo: string, f: Fill): Promise<{ status: string; declineCode?: string }> {
  return sell(server, terminal, cardNo, f.amount, over(f));
}

describe('card limits, in force at once on the same card', () => {
  it.each(CASES)('$name: approved up to the limit, declined just over it', async ({ limits, before, over: tooMuch, code, under }) => {
    const c = await issueCard(server, { funds: 100_000 });
    // Without limits the over-limit fill would be fine; the limit is set on the live card.
    const view = ok(await putLimits(c.cardNo, limits), 200);
    for (const [k, v] of Object.entries(limits)) expect(view.limits[k]).toEqual(v);
    for (const f of before) expect(await fill(c.cardNo, f)).toMatchObject({ status: 'approved' });
    expect(await fill(c.cardNo, tooMuch)).toMatchObject({ status: 'declined', declineCode: code });
    if (under) expect(await fill(c.cardNo, under)).toMatchObject({ status: 'approved' });
    // Lifted again, on the same card number: the same fill goes through.
    ok(await putLimits(c.cardNo, {}), 200);
    expect(await fill(c.cardNo, tooMuch)).toMatchObject({ status: 'approved' });
    const spent = [...before, ...(under ? [under] : []), tooMuch].reduce((s, f) => s + f.amount, 0);
    expect((await getCard(server, c.cardNo)).balance).toBe(100_000 - spent);
  });

  it('minimum time between fills: declined inside the interval, approved once it has passed', async () => {
    const c = await issueCard(server, { funds: 10_000 });
    ok(await putLimits(c.cardNo, { minFillIntervalSeconds: 600 }), 200);
    expect(await fill(c.cardNo, { amount: 100 })).toMatchObject({ status: 'approved' });
    expect(await fill(c.cardNo, { amount: 100 })).toMatchObject({ status: 'declined', declineCode: 'LIMIT_FILL_INTERVAL' });
    const lastSaleAgo = (seconds: number) => sql`update cards set last_sale_at = now() - make_interval(secs => ${seconds}) where card_no = ${c.cardNo}`.execute(server.db.db);
    await lastSaleAgo(590);
    expect(await fill(c.cardNo, { amount: 100 })).toMatchObject({ status: 'declined', declineCode: 'LIMIT_FILL_INTERVAL' });
    await lastSaleAgo(601);
    expect(await fill(c.cardNo, { amount: 100 })).toMatchObject({ status: 'approved' });
    // A declined fill does not restart the interval; an approved one does.
    expect(await fill(c.cardNo, { amount: 100 })).toMatchObject({ status: 'declined', declineCode: 'LIMIT_FILL_INTERVAL' });
  });

  it('does not count declined sales against the period limits', async () => {
    const c = await issueCard(server, { funds: 1000 });
    ok(await putLimits(c.cardNo, { dayFills: 2, dayAmount: 2000 }), 200);
    expect(await fill(c.cardNo, { amount: 5000 })).toMatchObject({ status: 'declined', declineCode: 'LIMIT_DAY_AMOUNT' });
    expect(await fill(c.cardNo, { amount: 1500 })).toMatchObject({ status: 'declined', declineCode: 'INSUFFICIENT_FUNDS' });
    expect((await sell(server, terminal, c.cardNo, 100, { pin: '000000' })).declineCode).toBe('PIN_WRONG');
    expect(await fill(c.cardNo, { amount: 600 })).toMatchObject({ status: 'approved' });
    expect(await fill(c.cardNo, { amount: 400 })).toMatchObject({ status: 'approved' });
  });

  it('replaces every limit with each PUT (absent = no limit), and shows them on the card', async () => {
    const c = await issueCard(server, { funds: 10_000 });
    ok(await putLimits(c.cardNo, { saleAmount: 100, allowedGrades: ['0#'] }), 200);
    const v = ok(await putLimits(c.cardNo, { dayFills: 5, allowedGrades: ['92#', '92#'] }), 200);
    expect(v.limits).toMatchObject({ saleAmount: null, dayFills: 5, allowedGrades: ['92#'] });
    expect((await getCard(server, c.cardNo)).limits).toEqual(v.limits);
    expect(await fill(c.cardNo, { amount: 500 })).toMatchObject({ status: 'approved' });
    // A zero limit blocks everything it covers.
    ok(await putLimits(c.cardNo, { dayFills: 0 }), 200);
    expect(await fill(c.cardNo, { amount: 1 })).toMatchObject({ status: 'declined', declineCode: 'LIMIT_DAY_FILLS' });
    ok(await putLimits(c.cardNo, { allowedGrades: [] }), 200);
    expect(await fill(c.cardNo, { amount: 1 })).toMatchObject({ status: 'declined', declineCode: 'GRADE_NOT_ALLOWED' });
    const audit = await sql<{ n: number }>`select count(*)::int n from audit_log where action = 'card.limits'`.execute(server.db.db);
    expect(audit.rows[0]!.n).toBeGreaterThanOrEqual(4);
  });

  it('null lifts a limit (it is never read as 0, which would block every sale); numbers sent as strings are refused', async () => {
    const c = await issueCard(server, { funds: 100_000 });
    ok(await putLimits(c.cardNo, { saleAmount: 5000, minFillIntervalSeconds: 60 }), 200);
    const lifted = ok(await putLimits(c.cardNo, { saleAmount: null, minFillIntervalSeconds: null }), 200);
    expect(lifted.limits).toMatchObject({ saleAmount: null, minFillIntervalSeconds: null });
    expect(await fill(c.cardNo, { amount: 9000 })).toMatchObject({ status: 'approved' });
    expectError(await putLimits(c.cardNo, { saleAmount: '5000' }), 400, 'VALIDATION_FAILED');
  });

  it('refuses bad limits, the wrong roles and dead cards', async () => {
    const c = await issueCard(server);
    for (const bad of [{ saleAmount: -1 }, { dayFills: 1.5 }, { allowedGrades: ['92 #'] }, { perSale: 1 }]) {
      expectError(await putLimits(c.cardNo, bad), 400, 'VALIDATION_FAILED');
    }
    expectError(await putLimits(c.cardNo, {}, 'finance'), 403, 'FORBIDDEN');
    expectError(await putLimits(c.cardNo, {}, 'station_staff'), 403, 'FORBIDDEN');
    // A lost card may still get tighter limits; a closed one not.
    ok(await cardOp(server, c.cardNo, 'report-loss'), 200);
    ok(await putLimits(c.cardNo, { saleAmount: 0 }), 200);
    const d = await issueCard(server);
    ok(await cardOp(server, d.cardNo, 'close'), 200);
    expectError(await putLimits(d.cardNo, {}), 409, 'CARD_OPERATION_NOT_ALLOWED');
    expectError(await putLimits('9000010000000000000', {}), 404, 'CARD_NOT_FOUND');
  });
});
