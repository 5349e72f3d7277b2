import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import {
  cardOp,
  expectApproved,
  expectDeclined,
  expectError,
  expectLedgerVerified,
  getCard,
  issueCard,
  newStation,
  ok,
  sell,
  type TestTerminal,
} from '../../test/support/cards-factory.js';
import { publishRiskParams } from '../sales/sale-risk.testkit.js';

/**
 * This file tests the cards module's PIN lockout. The risk engine's card-testing rule counts the same
 * PIN failures (and velocity the repeated tries); both are switched off for this file's programme,
 * as an operator could publish (docs/risk-sale-path.md).
 */
const RISK_OFF = Object.fromEntries((['velocity_sales', 'velocity_declines', 'card_testing'] as const).map((r) => [r, { enabled: false }]));
import { startOfNextBusinessDay } from '../platform/index.js';

const change = (server: TestServer, cardNo: string, oldPin: string, newPin: string) =>
  server.api('POST', `/api/v1/cards/${cardNo}/pin/change`, { body: { oldPin, newPin } });
const reset = (server: TestServer, cardNo: string, newPin: string) => server.api('POST', `/api/v1/cards/${cardNo}/pin/reset`, { body: { newPin } });

async function lockRow(server: TestServer, cardNo: string): Promise<{ failures: number; infinite: boolean; until: Date | null }> {
  const r = await sql<{ pin_failures: number; inf: boolean | null; until: Date | null }>`select pin_failures, pin_locked_until = 'infinity'::timestamptz as inf,
      case when pin_locked_until = 'infinity'::timestamptz then null else pin_locked_until end as until from cards where card_no = ${cardNo}`.execute(server.db.db);
  const row = r.rows[0]!;
  return { failures: row.pin_failures, infinite: row.inf === true, until: row.until };
}

describe('PIN with the default policy (3 tries, locked until the next business day)', () => {
  let server: TestServer;
  let terminal: TestTerminal;
  beforeAll(async () => {
    server = await startTestServer();
    await publishRiskParams(server, RISK_OFF);
    ({ terminal } = await newStation(server));
  });
  afterAll(async () => server?.close());
  afterEach(async () => expectLedgerVerified(server));

  it('changes the PIN with the old one; the new PIN is in force at the pump at once', async () => {
    const c = await issueCard(server, { funds: 1000 });
    expectError(await change(server, c.cardNo, '000000', '246810'), 403, 'CARD_PIN_WRONG');
    ok(await change(server, c.cardNo, '123456', '246810'), 204);
    await expectDeclined(server, terminal, c.cardNo, 100, 'PIN_WRONG', { pin: '123456' });
    await expectApproved(server, terminal, c.cardNo, 100, { pin: '246810' });
    for (const newPin of ['12345', '1234567', '12345a']) expectError(await change(server, c.cardNo, '246810', newPin), 400, 'VALIDATION_FAILED');
    const events = await sql<{ action: string }>`select e.action from card_events e join cards c on c.id = e.card_id where c.card_no = ${c.cardNo} order by e.id`.execute(server.db.db);
    expect(events.rows.map((e) => e.action)).toContain('pin-change');
  });

  it('a correct PIN clears the count of wrong tries', async () => {
    const c = await issueCard(server, { funds: 1000 });
    await expectDeclined(server, terminal, c.cardNo, 100, 'PIN_WRONG', { pin: '111111' });
    await expectDeclined(server, terminal, c.cardNo, 100, 'PIN_WRONG', { pin: '222222' });
    expect((await lockRow(server, c.cardNo)).failures).toBe(2);
    await expectApproved(server, terminal, c.cardNo, 100);
    expect((await lockRow(server, c.cardNo)).failures).toBe(0);
    await expectDeclined(server, terminal, c.cardNo, 100, 'PIN_WRONG', { pin: '111111' });
    await expectDeclined(server, terminal, c.cardNo, 100, 'PIN_WRONG', { pin: '111111' });
    await expectApproved(server, terminal, c.cardNo, 100);
  });

  it('locks after the third wrong try until the next business day, refusing even the right PIN, moving no money', async () => {
    const c = await issueCard(server, { funds: 1000 });
    await expectDeclined(server, terminal, c.cardNo, 100, 'PIN_WRONG', { pin: '000001' });
    await expectDeclined(server, terminal, c.cardNo, 100, 'PIN_WRONG', { pin: '000002' });
    const before = Date.now();
    await expectDeclined(server, terminal, c.cardNo, 100, 'PIN_TRIES_EXCEEDED', { pin: '000003' });
    await expectDeclined(server, terminal, c.cardNo, 100, 'PIN_TRIES_EXCEEDED');
    expectError(await change(server, c.cardNo, '123456', '654321'), 423, 'CARD_PIN_LOCKED');
    const card = await getCard(server, c.cardNo);
    expect(card).toMatchObject({ pinLocked: true, balance: 1000 });
    const row = await lockRow(server, c.cardNo);
    expect(row.infinite).toBe(false);
    expect(row.until!.getTime()).toBe(startOfNextBusinessDay(new Date(before), 'Asia/Shanghai').getTime());
    // Midnight in Beijing.
    expect(new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Shanghai', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(row.until!)).toBe('00:00');
    const events = await sql<{ action: string }>`select e.action from card_events e join cards c on c.id = e.card_id where c.card_no = ${c.cardNo} order by e.id`.execute(server.db.db);
    expect(events.rows.map((e) => e.action)).toContain('pin-locked');
  });

  it('unlocks by itself the next day, with the count of tries started afresh', async () => {
    const c = await issueCard(server, { funds: 1000 });
    for (const pin of ['000001', '000002', '000003']) expect((await sell(server, terminal, c.cardNo, 100, { pin })).status).toBe('declined');
    expect((await getCard(server, c.cardNo)).pinLocked).toBe(true);
    // The next business day arrives (the lock's end moves into the past).
    await sql`update cards set pin_locked_until = now() - interval '1 second' where card_no = ${c.cardNo}`.execute(server.db.db);
    expect((await getCard(server, c.cardNo)).pinLocked).toBe(false);
    await expectDeclined(server, terminal, c.cardNo, 100, 'PIN_WRONG', { pin: '000004' });
    await expectDeclined(server, terminal, c.cardNo, 100, 'PIN_WRONG', { pin: '000005' });
    await expectApproved(server, terminal, c.cardNo, 100);
  });

  it('counts wrong tries at the counter and at the pump together', async () => {
    const c = await issueCard(server, { funds: 1000 });
    await expectDeclined(server, terminal, c.cardNo, 100, 'PIN_WRONG', { pin: '999999' });
    expectError(await change(server, c.cardNo, '999998', '135790'), 403, 'CARD_PIN_WRONG');
    expectError(await change(server, c.cardNo, '999997', '135790'), 423, 'CARD_PIN_LOCKED');
    await expectDeclined(server, terminal, c.cardNo, 100, 'PIN_TRIES_EXCEEDED');
  });

  it('a staff reset sets a new PIN and clears the lock', async () => {
    const c = await issueCard(server, { funds: 1000 });
    for (const pin of ['000001', '000002', '000003']) await sell(server, terminal, c.cardNo, 100, { pin });
    expect((await getCard(server, c.cardNo)).pinLocked).toBe(true);
    ok(await reset(server, c.cardNo, '102938'), 204);
    expect((await getCard(server, c.cardNo)).pinLocked).toBe(false);
    expect(await lockRow(server, c.cardNo)).toEqual({ failures: 0, infinite: false, until: null });
    await expectDeclined(server, terminal, c.cardNo, 100, 'PIN_WRONG');
    await expectApproved(server, terminal, c.cardNo, 100, { pin: '102938' });
    expectError(await reset(server, c.cardNo, '12345'), 400, 'VALIDATION_FAILED');
    expectError(await server.api('POST', `/api/v1/cards/${c.cardNo}/pin/reset`, { role: 'finance', body: { newPin: '102938' } }), 403, 'FORBIDDEN');
  });

  it('refuses PIN changes on cards that cannot be used', async () => {
    const lost = await issueCard(server);
    ok(await cardOp(server, lost.cardNo, 'report-loss'), 200);
    expectError(await change(server, lost.cardNo, '123456', '654321'), 409, 'CARD_OPERATION_NOT_ALLOWED');
    expectError(await reset(server, lost.cardNo, '654321'), 409, 'CARD_OPERATION_NOT_ALLOWED');
    const closed = await issueCard(server);
    ok(await cardOp(server, closed.cardNo, 'close'), 200);
    expectError(await reset(server, closed.cardNo, '654321'), 409, 'CARD_OPERATION_NOT_ALLOWED');
    expectError(await reset(server, '9000010000000000000', '654321'), 404, 'CARD_NOT_FOUND');
  });
});

describe('PIN locked until reset, after 5 tries (FUELCARD_PIN_LOCK=reset, FUELCARD_PIN_MAX_TRIES=5)', () => {
  let server: TestServer;
  let terminal: TestTerminal;
  beforeAll(async () => {
    server = await startTestServer({ FUELCARD_PIN_LOCK: 'reset', FUELCARD_PIN_MAX_TRIES: '5' });
    await publishRiskParams(server, RISK_OFF);
    ({ terminal } = await newStation(server));
  });
  afterAll(async () => server?.close());
  afterEach(async () => expectLedgerVerified(server));

  it('locks on the fifth wrong try and stays locked, whatever the day, until staff reset it', async () => {
    const c = await issueCard(server, { funds: 1000 });
    for (let i = 1; i <= 4; i++) await expectDeclined(server, terminal, c.cardNo, 100, 'PIN_WRONG', { pin: `00000${i}` });
    expect((await getCard(server, c.cardNo)).pinLocked).toBe(false);
    await expectDeclined(server, terminal, c.cardNo, 100, 'PIN_TRIES_EXCEEDED', { pin: '000005' });
    expect(await lockRow(server, c.cardNo)).toMatchObject({ failures: 5, infinite: true });
    expect((await getCard(server, c.cardNo)).pinLocked).toBe(true);
    await expectDeclined(server, terminal, c.cardNo, 100, 'PIN_TRIES_EXCEEDED');
    expectError(await change(server, c.cardNo, '123456', '654321'), 423, 'CARD_PIN_LOCKED');
    ok(await reset(server, c.cardNo, '654321'), 204);
    await expectApproved(server, terminal, c.cardNo, 100, { pin: '654321' });
    expect((await getCard(server, c.cardNo)).balance).toBe(900);
  });
});
