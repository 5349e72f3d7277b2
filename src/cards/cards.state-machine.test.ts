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
  recharge,
  type TestTerminal,
} from '../../test/support/cards-factory.js';
import { CARD_OPERATIONS, CARD_STATUSES, nextStatus, TRANSITIONS, type CardOperation, type CardStatus } from './card.state.js';

/**
 * The state machine, written out from the business rules independently of card.state.ts:
 * the status an operation leads to, or null where it must be refused. A card that was
 * reported lost while active returns to active when the loss is cancelled.
 */
const EXPECTED: Record<CardStatus, Record<CardOperation, CardStatus | null>> = {
  pending: { activate: 'active', 'report-loss': 'lost', 'cancel-loss': null, freeze: null, unfreeze: null, replace: null, close: 'closed' },
  active: { activate: null, 'report-loss': 'lost', 'cancel-loss': null, freeze: 'frozen', unfreeze: null, replace: 'replaced', close: 'closed' },
  frozen: { activate: null, 'report-loss': 'lost', 'cancel-loss': null, freeze: null, unfreeze: 'active', replace: null, close: null },
  lost: { activate: null, 'report-loss': null, 'cancel-loss': 'active', freeze: null, unfreeze: null, replace: 'replaced', close: 'closed' },
  replaced: { activate: null, 'report-loss': null, 'cancel-loss': null, freeze: null, unfreeze: null, replace: null, close: null },
  closed: { activate: null, 'report-loss': null, 'cancel-loss': null, freeze: null, unfreeze: null, replace: null, close: null },
};

const PAIRS = CARD_STATUSES.flatMap((s) => CARD_OPERATIONS.map((op) => [s, op] as const));

describe('the transition table', () => {
  it('is exactly the expected table (every state × operation pair)', () => {
    expect(PAIRS).toHaveLength(42);
    for (const [from, op] of PAIRS) {
      expect(nextStatus(from, op, from === 'lost' || from === 'frozen' ? 'active' : null), `${from} × ${op}`).toBe(EXPECTED[from][op]);
    }
    // No operation names a state outside the list.
    for (const row of Object.values(TRANSITIONS)) for (const s of Object.keys(row)) expect(CARD_STATUSES).toContain(s);
  });

  it('resumes the state a card had before it was frozen or reported lost', () => {
    expect(nextStatus('lost', 'cancel-loss', 'pending')).toBe('pending');
    expect(nextStatus('lost', 'cancel-loss', 'frozen')).toBe('frozen');
    expect(nextStatus('lost', 'cancel-loss', null)).toBe('active');
    expect(nextStatus('frozen', 'unfreeze', 'active')).toBe('active');
  });
});

describe('every state × operation through the API', () => {
  let server: TestServer;
  let terminal: TestTerminal;
  beforeAll(async () => {
    // Cards start pending (so the pending state is reachable) and a lost card may be replaced at once.
    server = await startTestServer({ FUELCARD_NEW_CARD_STATUS: 'pending', FUELCARD_LOSS_WAIT_HOURS: '0' });
    ({ terminal } = await newStation(server));
  });
  afterAll(async () => server?.close());
  afterEach(async () => expectLedgerVerified(server));

  /** A funded card driven into `state` through the API only. */
  async function cardIn(state: CardStatus): Promise<string> {
    const c = await issueCard(server, { activate: false });
    expect(c.status).toBe('pending');
    await recharge(server, c.cardNo, 500);
    const step = async (op: CardOperation, to: CardStatus) => expect(ok(await cardOp(server, c.cardNo, op), 200, op).card.status).toBe(to);
    if (state === 'pending') return c.cardNo;
    await step('activate', 'active');
    if (state === 'frozen') await step('freeze', 'frozen');
    if (state === 'lost') await step('report-loss', 'lost');
    if (state === 'replaced') await step('replace', 'replaced');
    if (state === 'closed') await step('close', 'closed');
    return c.cardNo;
  }

  const events = async (cardNo: string) =>
    (await sql<{ action: string; from_status: string | null; to_status: string }>`select e.action, e.from_status, e.to_status from card_events e
      join cards c on c.id = e.card_id where c.card_no = ${cardNo} order by e.id`.execute(server.db.db)).rows;

  it.each(PAIRS)('%s × %s', async (state, op) => {
    const cardNo = await cardIn(state);
    expect((await getCard(server, cardNo)).status).toBe(state);
    const before = await events(cardNo);
    const res = await cardOp(server, cardNo, op, { reason: `test ${op}` });
    const want = EXPECTED[state][op];
    if (want === null) {
      expectError(res, 409, 'CARD_OPERATION_NOT_ALLOWED');
      expect((await getCard(server, cardNo)).status).toBe(state);
      expect(await events(cardNo)).toEqual(before);
      return;
    }
    const body = ok(res, 200, `${state} × ${op}`);
    expect(body.card.status).toBe(want);
    expect((await getCard(server, cardNo)).status).toBe(want);
    // Every transition leaves a card event and an audit row.
    expect((await events(cardNo)).at(-1)).toEqual({ action: op, from_status: state, to_status: want });
    const audit = await sql<{ n: number }>`select count(*)::int n from audit_log where action = ${`card.${op}`} and details->>'from' = ${state}
      and details->>'reason' = ${`test ${op}`}`.execute(server.db.db);
    expect(audit.rows[0]!.n).toBeGreaterThan(0);
    if (op === 'replace') {
      expect(body.newCard.cardNo).not.toBe(cardNo);
      expect(body.cardNo).toBe(body.newCard.cardNo);
      expect(body.replacedCardNo).toBe(cardNo);
      expect(body.newCard.balance).toBe(500);
    }
    if (op === 'close') expect(body.refund).toMatchObject({ amount: 500, method: 'cash' });
  });

  it('a cancelled loss returns the card to pending or frozen when it was reported lost from there', async () => {
    const pending = await cardIn('pending');
    ok(await cardOp(server, pending, 'report-loss'), 200);
    expect(ok(await cardOp(server, pending, 'cancel-loss'), 200).status).toBe('pending');

    const frozen = await cardIn('frozen');
    ok(await cardOp(server, frozen, 'report-loss'), 200);
    expect(ok(await cardOp(server, frozen, 'cancel-loss'), 200).status).toBe('frozen');
    // Still under the freeze: the card cannot be used until someone unfreezes it.
    expectError(await cardOp(server, frozen, 'close'), 409, 'CARD_OPERATION_NOT_ALLOWED');
    expect(ok(await cardOp(server, frozen, 'unfreeze'), 200).status).toBe('active');
  });

  it('replacing a lost card keeps a freeze or pending activation it was under', async () => {
    const frozen = await cardIn('frozen');
    ok(await cardOp(server, frozen, 'report-loss'), 200);
    const r = ok(await cardOp(server, frozen, 'replace'), 200);
    // A freeze is a risk decision: reporting the card lost and replacing it must not lift it.
    expect(r.newCard.status).toBe('frozen');
    expect(ok(await cardOp(server, r.newCard.cardNo, 'unfreeze'), 200).status).toBe('active');

    const pending = await cardIn('pending');
    ok(await cardOp(server, pending, 'report-loss'), 200);
    expect(ok(await cardOp(server, pending, 'replace'), 200).newCard.status).toBe('pending');
  });

  it('issues cards pending: they take money but buy nothing until activated', async () => {
    const c = await issueCard(server, { activate: false, funds: 800 });
    expect(c.status).toBe('pending');
    await expectDeclined(server, terminal, c.cardNo, 100, 'CARD_NOT_ACTIVE');
    expect(ok(await cardOp(server, c.cardNo, 'activate'), 200).status).toBe('active');
    await expectApproved(server, terminal, c.cardNo, 100);
    expect((await getCard(server, c.cardNo)).balance).toBe(700);
  });

  it('answers an unknown card with CARD_NOT_FOUND and a malformed number with VALIDATION_FAILED', async () => {
    expectError(await cardOp(server, '9000010000000000000', 'freeze'), 404, 'CARD_NOT_FOUND');
    expectError(await cardOp(server, '12345', 'freeze'), 400, 'VALIDATION_FAILED');
    expectError(await server.api('POST', '/api/v1/cards/9000010000000000000/explode'), 404, 'ROUTE_NOT_FOUND');
  });

  it('lets only risk-capable roles freeze, and no reader change a card', async () => {
    const cardNo = await cardIn('active');
    expectError(await server.api('POST', `/api/v1/cards/${cardNo}/freeze`, { role: 'station_staff' }), 403, 'FORBIDDEN');
    expectError(await server.api('POST', `/api/v1/cards/${cardNo}/report-loss`, { role: 'finance' }), 403, 'FORBIDDEN');
    expect(ok(await server.api('POST', `/api/v1/cards/${cardNo}/freeze`, { role: 'risk' }), 200).status).toBe('frozen');
    expect(ok(await server.api('POST', `/api/v1/cards/${cardNo}/unfreeze`, { role: 'risk' }), 200).status).toBe('active');
  });
});
