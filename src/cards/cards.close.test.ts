import { randomUUID } from 'node:crypto';
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

const HOUR_MS = 3_600_000;

async function systemBalance(server: TestServer, systemKey: string): Promise<number> {
  const r = await sql<{ b: string | null }>`select (credits_posted - debits_posted)::text b from ledger_accounts where system_key = ${systemKey}`.execute(server.db.db);
  return Number(r.rows[0]?.b ?? 0);
}

async function accountOf(server: TestServer, accountId: number): Promise<{ status: string; balance: number }> {
  return ok(await server.api('GET', `/api/v1/accounts/${accountId}`), 200, 'account');
}

async function refundsOf(server: TestServer, cardNo: string) {
  return (
    await sql<{ amount: number; method: string; status: string; account_id: number }>`select f.amount, f.method, f.status, f.account_id from card_refunds f
      join cards c on c.id = f.card_id where c.card_no = ${cardNo} order by f.account_id`.execute(server.db.db)
  ).rows;
}

// One server with the default policy (24 h loss wait, anonymous balances not refundable).
let server: TestServer;
let terminal: TestTerminal;
beforeAll(async () => {
  server = await startTestServer();
  ({ terminal } = await newStation(server));
});
afterAll(async () => server?.close());

describe('closing a card (销户)', () => {
  afterEach(async () => expectLedgerVerified(server));

  it('refunds the balance in cash, closes the account, and shows the refund on the statement', async () => {
    const c = await issueCard(server, { funds: 2000 });
    await expectApproved(server, terminal, c.cardNo, 766);
    const cashBefore = await systemBalance(server, 'channel_clearing:cash');
    const r = ok(await cardOp(server, c.cardNo, 'close', { refundMethod: 'cash', reason: '客户销户' }), 200);
    expect(r.refund).toEqual({ amount: 1234, method: 'cash', refundId: expect.any(String) });
    expect(r).toMatchObject({ status: 'closed', balance: 0, available: 0, closedAt: expect.any(String) });
    expect(await systemBalance(server, 'channel_clearing:cash')).toBe(cashBefore + 1234);
    expect(await accountOf(server, c.accounts[0].accountId)).toMatchObject({ status: 'closed', balance: 0 });
    expect(await refundsOf(server, c.cardNo)).toEqual([{ amount: 1234, method: 'cash', status: 'paid', account_id: c.accounts[0].accountId }]);
    const st = ok(await server.api('GET', `/api/v1/cards/${c.cardNo}/statement?type=refund`), 200);
    expect(st.items).toEqual([expect.objectContaining({ type: 'refund', id: r.refund.refundId, amount: -1234, channel: 'cash', status: 'paid' })]);
    // Dead: no sale, no recharge.
    await expectDeclined(server, terminal, c.cardNo, 1, 'CARD_CLOSED');
    expectError(await server.api('POST', `/api/v1/cards/${c.cardNo}/recharges`, { body: { amount: 100, channel: 'cash' } }), 409, 'RECHARGE_NOT_ALLOWED');
  });

  it('refunds through the original channel as a payable', async () => {
    const c = await issueCard(server, { funds: 900 });
    const payableBefore = await systemBalance(server, 'refunds_payable:card_close');
    const r = ok(await cardOp(server, c.cardNo, 'close', { refundMethod: 'original_channel' }), 200);
    expect(r.refund).toMatchObject({ amount: 900, method: 'original_channel' });
    expect(await systemBalance(server, 'refunds_payable:card_close')).toBe(payableBefore + 900);
    expect(await refundsOf(server, c.cardNo)).toEqual([expect.objectContaining({ amount: 900, method: 'original_channel', status: 'payable' })]);
  });

  it('closes an empty card without a refund', async () => {
    const c = await issueCard(server);
    const r = ok(await cardOp(server, c.cardNo, 'close'), 200);
    expect(r.refund).toMatchObject({ amount: 0, refundId: null });
    expect(await refundsOf(server, c.cardNo)).toEqual([]);
    expect((await accountOf(server, c.accounts[0].accountId)).status).toBe('closed');
  });

  it('refunds once when the close is retried with the same Idempotency-Key', async () => {
    const c = await issueCard(server, { funds: 700 });
    const key = randomUUID();
    const a = ok(await server.api('POST', `/api/v1/cards/${c.cardNo}/close`, { idempotencyKey: key, body: { refundMethod: 'cash' } }), 200);
    const b = ok(await server.api('POST', `/api/v1/cards/${c.cardNo}/close`, { idempotencyKey: key, body: { refundMethod: 'cash' } }), 200);
    expect(b.refund).toEqual(a.refund);
    expect(await refundsOf(server, c.cardNo)).toHaveLength(1);
    expectError(await server.api('POST', `/api/v1/cards/${c.cardNo}/close`, { idempotencyKey: key, body: { refundMethod: 'original_channel' } }), 409, 'IDEMPOTENCY_KEY_REUSED');
  });

  it('refunds and closes every account opened for the card, not only its own', async () => {
    const c = await issueCard(server, { funds: 1000 });
    const linked = ok(await server.api('POST', `/api/v1/cards/${c.cardNo}/accounts`, { body: {} }), 200);
    const extra = linked.accounts.find((a: { own: boolean }) => !a.own).accountId;
    await recharge(server, c.cardNo, 250, { accountId: extra });
    const r = ok(await cardOp(server, c.cardNo, 'close'), 200);
    expect(r.refund.amount).toBe(1250);
    expect(r.balance).toBe(0);
    expect((await refundsOf(server, c.cardNo)).map((f) => [f.account_id, f.amount])).toEqual([
      [c.accounts[0].accountId, 1000],
      [extra, 250],
    ]);
    for (const id of [c.accounts[0].accountId, extra]) expect(await accountOf(server, id)).toMatchObject({ status: 'closed', balance: 0 });
  });

  it('leaves alone an account that another open card of the holder still uses', async () => {
    const a = await issueCard(server, { funds: 300 });
    const b = await issueCard(server, { customerId: a.customerId, funds: 400 });
    const bAccount = b.accounts[0].accountId;
    ok(await server.api('POST', `/api/v1/cards/${a.cardNo}/accounts`, { body: { accountId: bAccount } }), 200);
    const r = ok(await cardOp(server, a.cardNo, 'close'), 200);
    expect(r.refund.amount).toBe(300);
    expect(await accountOf(server, bAccount)).toMatchObject({ status: 'open', balance: 400 });
    await expectApproved(server, terminal, b.cardNo, 400);
  });

  it('recalls a sub card balance to the master reserve instead of refunding it', async () => {
    const master = await issueCard(server, { kind: 'master', funds: 5000 });
    const sub = await issueCard(server, { kind: 'sub', masterCardNo: master.cardNo });
    ok(await server.api('POST', `/api/v1/cards/${master.cardNo}/allocations`, { body: { subCardNo: sub.cardNo, amount: 1200 } }), 201);
    await expectApproved(server, terminal, sub.cardNo, 200);
    const r = ok(await cardOp(server, sub.cardNo, 'close'), 200);
    expect(r.refund).toEqual({ amount: 1000, method: 'recalled_to_master', refundId: null });
    expect(await refundsOf(server, sub.cardNo)).toEqual([]);
    expect((await getCard(server, master.cardNo)).balance).toBe(4800);
    expect((await accountOf(server, sub.accounts[0].accountId)).status).toBe('closed');
  });

  it('refuses to close a master card while its sub cards are open, then refunds the reserve', async () => {
    const master = await issueCard(server, { kind: 'master', funds: 3000 });
    const own = await issueCard(server, { kind: 'sub', masterCardNo: master.cardNo });
    const shared = await issueCard(server, { kind: 'sub', masterCardNo: master.cardNo, sharedBalance: true });
    ok(await server.api('POST', `/api/v1/cards/${master.cardNo}/allocations`, { body: { subCardNo: own.cardNo, amount: 500 } }), 201);
    expectError(await cardOp(server, master.cardNo, 'close'), 409, 'CARD_HAS_ACTIVE_SUB_CARDS');
    ok(await cardOp(server, own.cardNo, 'close'), 200);
    // A sub card that only shares the reserve: closing it must not touch the reserve.
    const rs = ok(await cardOp(server, shared.cardNo, 'close'), 200);
    expect(rs.refund.amount).toBe(0);
    expect((await getCard(server, master.cardNo)).balance).toBe(3000);
    const r = ok(await cardOp(server, master.cardNo, 'close'), 200);
    expect(r.refund).toMatchObject({ amount: 3000, method: 'cash' });
    expect((await accountOf(server, master.accounts[0].accountId)).status).toBe('closed');
  });

  it('counts a lost sub card as still open', async () => {
    const master = await issueCard(server, { kind: 'master' });
    const sub = await issueCard(server, { kind: 'sub', masterCardNo: master.cardNo });
    ok(await cardOp(server, sub.cardNo, 'report-loss'), 200);
    expectError(await cardOp(server, master.cardNo, 'close'), 409, 'CARD_HAS_ACTIVE_SUB_CARDS');
  });
});

describe('anonymous cards (不记名)', () => {
  afterEach(async () => expectLedgerVerified(server));

  it('cannot be reported lost', async () => {
    const c = await issueCard(server, { kind: 'anonymous', funds: 500 });
    expectError(await cardOp(server, c.cardNo, 'report-loss'), 409, 'CARD_ANONYMOUS_NOT_REPORTABLE');
    expect((await getCard(server, c.cardNo)).status).toBe('active');
  });

  it('cannot be closed with a balance (not refundable) until the balance is spent', async () => {
    const c = await issueCard(server, { kind: 'anonymous', funds: 500 });
    expectError(await cardOp(server, c.cardNo, 'close'), 409, 'CARD_ANONYMOUS_NOT_REFUNDABLE');
    expect(await getCard(server, c.cardNo)).toMatchObject({ status: 'active', balance: 500 });
    await expectApproved(server, terminal, c.cardNo, 500);
    const r = ok(await cardOp(server, c.cardNo, 'close'), 200);
    expect(r).toMatchObject({ status: 'closed', refund: { amount: 0 } });
  });

  it('can be frozen, replaced when damaged, and closed empty like any card', async () => {
    const c = await issueCard(server, { kind: 'anonymous', funds: 300 });
    ok(await cardOp(server, c.cardNo, 'freeze'), 200);
    ok(await cardOp(server, c.cardNo, 'unfreeze'), 200);
    const r = ok(await cardOp(server, c.cardNo, 'replace'), 200);
    expect(r.newCard).toMatchObject({ kind: 'anonymous', customerId: null, balance: 300 });
  });
});

describe('the waiting period after a loss report (24 h, the default)', () => {
  afterEach(async () => expectLedgerVerified(server));

  it('refuses to refund a lost card before the wait is over; the holder can still cancel the report', async () => {
    const c = await issueCard(server, { funds: 2000 });
    const lost = ok(await cardOp(server, c.cardNo, 'report-loss'), 200);
    expect(lost.status).toBe('lost');
    const lostAt = Date.parse(lost.lostAt);
    expect(Math.abs(lostAt - Date.now())).toBeLessThan(60_000);

    const r = await cardOp(server, c.cardNo, 'close');
    expectError(r, 409, 'CARD_LOSS_WAIT');
    expect(Date.parse(r.body.error.details.availableAt)).toBe(lostAt + 24 * HOUR_MS);
    expect(await getCard(server, c.cardNo)).toMatchObject({ status: 'lost', balance: 2000, replacedByCardNo: null });
    // The lost card cannot buy fuel meanwhile, and the holder can still cancel the report.
    await expectDeclined(server, terminal, c.cardNo, 100, 'CARD_LOST');
    expect(ok(await cardOp(server, c.cardNo, 'cancel-loss'), 200)).toMatchObject({ status: 'active', lostAt: null });
    await expectApproved(server, terminal, c.cardNo, 100);
  });

  it('hands over a replacement at once, but it buys fuel and pays out only after the wait', async () => {
    const c = await issueCard(server, { funds: 2000 });
    const lost = ok(await cardOp(server, c.cardNo, 'report-loss'), 200);
    const lostAt = Date.parse(lost.lostAt);
    const r = ok(await cardOp(server, c.cardNo, 'replace'), 200);
    expect(r.card.status).toBe('replaced');
    expect(r.newCard).toMatchObject({ status: 'active', balance: 2000 });
    expect(Date.parse(r.newCard.usableFrom)).toBe(lostAt + 24 * HOUR_MS);
    const declined = await expectDeclined(server, terminal, r.newCard.cardNo, 100, 'CARD_NOT_YET_USABLE');
    expect(declined.balance).toBeNull();
    const close = await cardOp(server, r.newCard.cardNo, 'close');
    expectError(close, 409, 'CARD_LOSS_WAIT');
    expect(Date.parse(close.body.error.details.availableAt)).toBe(lostAt + 24 * HOUR_MS);
    // Money may still come in.
    await recharge(server, r.newCard.cardNo, 500);
    expect(await getCard(server, r.newCard.cardNo)).toMatchObject({ balance: 2500 });
    // Once the wait is over (here: moved back in the database), it spends and can be closed.
    await sql`update cards set usable_from = now() - interval '1 second' where card_no = ${r.newCard.cardNo}`.execute(server.db.db);
    expect((await getCard(server, r.newCard.cardNo)).usableFrom).toBeNull();
    await expectApproved(server, terminal, r.newCard.cardNo, 100);
    expect(ok(await cardOp(server, r.newCard.cardNo, 'close'), 200).refund.amount).toBe(2400);
  });

  it('replaces a damaged (active) card at once: no loss, no wait', async () => {
    const c = await issueCard(server, { funds: 500 });
    const r = ok(await cardOp(server, c.cardNo, 'replace'), 200);
    expect(r.newCard).toMatchObject({ status: 'active', balance: 500 });
  });
});

describe('anonymous cards when the operator allows refunds and loss reports', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({ FUELCARD_ANON_REFUNDABLE: 'true', FUELCARD_ANON_REPORTABLE_LOST: 'true', FUELCARD_LOSS_WAIT_HOURS: '0' });
  });
  afterAll(async () => srv?.close());
  afterEach(async () => expectLedgerVerified(srv));

  it('refunds the balance on close', async () => {
    const c = await issueCard(srv, { kind: 'anonymous', funds: 650 });
    const r = ok(await cardOp(srv, c.cardNo, 'close', { refundMethod: 'cash' }), 200);
    expect(r.refund).toMatchObject({ amount: 650, method: 'cash' });
    expect(await refundsOf(srv, c.cardNo)).toHaveLength(1);
  });

  it('may be reported lost and replaced', async () => {
    const c = await issueCard(srv, { kind: 'anonymous', funds: 100 });
    ok(await cardOp(srv, c.cardNo, 'report-loss'), 200);
    expect(ok(await cardOp(srv, c.cardNo, 'replace'), 200).newCard.balance).toBe(100);
  });
});
