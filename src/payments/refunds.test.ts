import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { cardOp, expectApproved, expectLedgerVerified, getCard, issueCard, newStation, type TestTerminal } from '../../test/support/cards-factory.js';
import { isAppError, type Actor } from '../platform/index.js';
import {
  applyRefundState,
  confirmBankPayout,
  failBankPayout,
  getCardRefund,
  listRefundsOfOrder,
  lockRefundByNo,
  payOutCardCloseRefunds,
  requestRechargeRefund,
  startCardClosePayout,
} from './refunds.service.js';
import { runRefundJobs } from './refunds.jobs.js';
import { bankOrder, cashOrder, depsOf, expectStatus, orderRow, payBankOrder, staffActor, systemBalance } from './refunds.fixtures.js';

let server: TestServer;
let finance: Actor;
let terminal: TestTerminal;
beforeAll(async () => {
  server = await startTestServer();
  finance = await staffActor(server);
  terminal = (await newStation(server)).terminal;
});
afterAll(async () => server?.close());
afterEach(async () => expectLedgerVerified(server));

const PAYEE = { name: '张三', account: '6222 0202 0011 2233 445', bank: '工商银行' };

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (isAppError(err)) return err.code;
    throw err;
  }
  return 'no error';
}

const refund = (orderNo: string, over: { amount?: number; payee?: typeof PAYEE; reason?: string } = {}, key?: string) =>
  requestRechargeRefund(depsOf(server), finance, { orderNo, reason: over.reason ?? '客户申请退款', ...over }, 'staff', key);

async function balanceOf(cardNo: string): Promise<number> {
  return (await getCard(server, cardNo)).balance;
}

/** A credited bank transfer order of `amount` on the card. */
async function paidBankOrder(cardNo: string, amount: number): Promise<any> {
  const o = await bankOrder(server, cardNo, amount);
  await payBankOrder(server, o);
  return o;
}

describe('recharge refunds (充值退款)', () => {
  it('refunds part of a cash order, then the rest: the order ends refunded and the money leaves through the clearing account', async () => {
    const c = await issueCard(server);
    const o = await cashOrder(server, c.cardNo, 10_000);
    expect(o.status).toBe('credited');
    const cashBefore = await systemBalance(server, 'channel_clearing:cash');
    const payableBefore = await systemBalance(server, 'refunds_payable:recharge');

    const first = await refund(o.orderNo, { amount: 3_000 });
    expect(first).toMatchObject({ kind: 'recharge', orderNo: o.orderNo, cardNo: c.cardNo, channel: 'cash', amount: 3_000, status: 'succeeded' });
    expect(first.refundNo).toMatch(/^F[0-9]{19}$/);
    expect(await balanceOf(c.cardNo)).toBe(7_000);
    expect(await orderRow(server, o.orderNo)).toEqual({ status: 'credited', refunded_amount: 3_000 });

    const rest = await refund(o.orderNo);
    expect(rest).toMatchObject({ amount: 7_000, status: 'succeeded' });
    expect(await balanceOf(c.cardNo)).toBe(0);
    expect(await orderRow(server, o.orderNo)).toEqual({ status: 'refunded', refunded_amount: 10_000 });
    expect(await systemBalance(server, 'channel_clearing:cash')).toBe(cashBefore + 10_000);
    expect(await systemBalance(server, 'refunds_payable:recharge')).toBe(payableBefore);

    const listed = await listRefundsOfOrder(server.db.db, (await sql<{ id: string }>`select id from recharge_orders where order_no = ${o.orderNo}`.execute(server.db.db)).rows[0]!.id);
    expect(listed.map((r) => [r.refundNo, r.amount, r.status])).toEqual([
      [first.refundNo, 3_000, 'succeeded'],
      [rest.refundNo, 7_000, 'succeeded'],
    ]);
    const events = await sql<{ from_status: string | null; to_status: string; source: string }>`select e.from_status, e.to_status, e.source
      from payment_refund_events e join payment_refunds r on r.id = e.refund_id where r.refund_no = ${first.refundNo} order by e.id`.execute(server.db.db);
    expect(events.rows).toEqual([
      { from_status: null, to_status: 'requested', source: 'staff' },
      { from_status: 'requested', to_status: 'succeeded', source: 'staff' },
    ]);
    const audits = await sql<{ action: string }>`select action from audit_log where target_id = ${o.orderNo} and action like 'payment.refund%'`.execute(server.db.db);
    expect(audits.rows.length).toBe(2);
  });

  it('refuses a refund above what is refundable, of an order not credited, and of a fully refunded order; nothing moves', async () => {
    const c = await issueCard(server);
    const o = await cashOrder(server, c.cardNo, 5_000);
    expect(await codeOf(refund(o.orderNo, { amount: 5_001 }))).toBe('PAYMENT_REFUND_EXCEEDS');
    const waiting = await bankOrder(server, c.cardNo, 2_000);
    expect(await codeOf(refund(waiting.orderNo, { payee: PAYEE }))).toBe('PAYMENT_REFUND_NOT_ALLOWED');
    expect(await codeOf(refund('P2099010100000000001'))).toBe('PAYMENT_ORDER_NOT_FOUND');
    expect(await balanceOf(c.cardNo)).toBe(5_000);
    await refund(o.orderNo);
    expect(await codeOf(refund(o.orderNo, { amount: 1 }))).toBe('PAYMENT_REFUND_NOT_ALLOWED');
    const rows = await sql<{ n: number }>`select count(*)::int n from payment_refunds r join recharge_orders o on o.id = r.order_id where o.order_no = ${o.orderNo}`.execute(server.db.db);
    expect(rows.rows[0]!.n).toBe(1);
  });

  it('refuses to refund money the card has spent (PAYMENT_REFUND_BALANCE), and refunds what it still holds', async () => {
    const c = await issueCard(server);
    const o = await cashOrder(server, c.cardNo, 5_000);
    await expectApproved(server, terminal, c.cardNo, 4_000);
    expect(await codeOf(refund(o.orderNo, { amount: 2_000 }))).toBe('PAYMENT_REFUND_BALANCE');
    expect(await codeOf(refund(o.orderNo))).toBe('PAYMENT_REFUND_BALANCE');
    expect(await balanceOf(c.cardNo)).toBe(1_000);
    expect(await refund(o.orderNo, { amount: 1_000 })).toMatchObject({ status: 'succeeded' });
    expect(await balanceOf(c.cardNo)).toBe(0);
  });

  it('a bank transfer order needs the payee, and its refund waits as processing with the money held in refunds payable', async () => {
    const c = await issueCard(server);
    const o = await paidBankOrder(c.cardNo, 8_000);
    expect(await balanceOf(c.cardNo)).toBe(8_000);
    expect(await codeOf(refund(o.orderNo))).toBe('PAYMENT_PAYEE_REQUIRED');
    const payableBefore = await systemBalance(server, 'refunds_payable:recharge');
    const r = await refund(o.orderNo, { amount: 3_000, payee: PAYEE });
    expect(r).toMatchObject({ status: 'processing', channel: 'bank_transfer', payee: { name: '张三', account: '6222****3445', bank: '工商银行' } });
    expect(await balanceOf(c.cardNo)).toBe(5_000);
    expect(await systemBalance(server, 'refunds_payable:recharge')).toBe(payableBefore + 3_000);
    // The refund in flight counts against what is refundable.
    expect(await codeOf(refund(o.orderNo, { amount: 5_001, payee: PAYEE }))).toBe('PAYMENT_REFUND_EXCEEDS');
    // The payee account is stored encrypted, never in clear.
    const stored = await sql<{ payee: string }>`select payee::text from payment_refunds where refund_no = ${r.refundNo}`.execute(server.db.db);
    expect(stored.rows[0]!.payee).not.toContain('2233445');
  });

  it('finance confirms a bank payout: the money leaves refunds payable for the clearing account; a bank reference serves once', async () => {
    const c = await issueCard(server);
    const o = await paidBankOrder(c.cardNo, 6_000);
    const clearingBefore = await systemBalance(server, 'channel_clearing:bank_transfer');
    const r = await refund(o.orderNo, { amount: 2_500, payee: PAYEE });
    const done = await confirmBankPayout(depsOf(server), finance, r.refundNo, { bankReference: 'PAYOUT-0001' });
    expect(done).toMatchObject({ status: 'succeeded', channelRefundId: 'PAYOUT-0001' });
    expect(done.completedAt).not.toBeNull();
    expect(await systemBalance(server, 'channel_clearing:bank_transfer')).toBe(clearingBefore + 2_500);
    expect(await orderRow(server, o.orderNo)).toEqual({ status: 'credited', refunded_amount: 2_500 });
    expect(await codeOf(confirmBankPayout(depsOf(server), finance, r.refundNo, { bankReference: 'PAYOUT-0002' }))).toBe('PAYMENT_REFUND_STATE');
    expect(await codeOf(failBankPayout(depsOf(server), finance, r.refundNo, 'bounced'))).toBe('PAYMENT_REFUND_STATE');
    const second = await refund(o.orderNo, { amount: 1_000, payee: PAYEE });
    expect(await codeOf(confirmBankPayout(depsOf(server), finance, second.refundNo, { bankReference: 'payout-0001 ' }))).toBe('BANK_TRANSFER_DUPLICATE');
    // A cash refund is not a payout finance confirms.
    const cash = await cashOrder(server, c.cardNo, 100);
    const cr = await refund(cash.orderNo);
    expect(await codeOf(confirmBankPayout(depsOf(server), finance, cr.refundNo, { bankReference: 'X1' }))).toBe('PAYMENT_REFUND_STATE');
  });

  it('a failed refund gives the money back to the card, and the order may be refunded again', async () => {
    const c = await issueCard(server);
    const o = await paidBankOrder(c.cardNo, 8_000);
    const payableBefore = await systemBalance(server, 'refunds_payable:recharge');
    const r = await refund(o.orderNo, { payee: PAYEE });
    expect(await balanceOf(c.cardNo)).toBe(0);
    const failed = await failBankPayout(depsOf(server), finance, r.refundNo, '收款账户已销户 / account closed');
    expect(failed).toMatchObject({ status: 'failed', failureReason: '收款账户已销户 / account closed' });
    expect(await balanceOf(c.cardNo)).toBe(8_000);
    expect(await systemBalance(server, 'refunds_payable:recharge')).toBe(payableBefore);
    expect(await orderRow(server, o.orderNo)).toEqual({ status: 'credited', refunded_amount: 0 });
    expect(await refund(o.orderNo, { payee: { ...PAYEE, account: '6217000010002000300' } })).toMatchObject({ status: 'processing', amount: 8_000 });
  });

  it('the same Idempotency-Key twice at once makes one refund', async () => {
    const c = await issueCard(server);
    const o = await cashOrder(server, c.cardNo, 4_000);
    const key = randomUUID();
    const [a, b] = await Promise.all([refund(o.orderNo, { amount: 1_500 }, key), refund(o.orderNo, { amount: 1_500 }, key)]);
    expect(a.refundNo).toBe(b.refundNo);
    const again = await refund(o.orderNo, { amount: 1_500 }, key);
    expect(again.refundNo).toBe(a.refundNo);
    expect(await balanceOf(c.cardNo)).toBe(2_500);
    const n = await sql<{ n: number }>`select count(*)::int n from payment_refunds r join recharge_orders o on o.id = r.order_id where o.order_no = ${o.orderNo}`.execute(server.db.db);
    expect(n.rows[0]!.n).toBe(1);
    // The same key with another body is a conflict, not a second refund.
    expect(await codeOf(refund(o.orderNo, { amount: 1_000 }, key))).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it('two different requests racing for the last refundable amount: one is refused', async () => {
    const c = await issueCard(server);
    const o = await paidBankOrder(c.cardNo, 5_000);
    const results = await Promise.allSettled([refund(o.orderNo, { amount: 3_000, payee: PAYEE }), refund(o.orderNo, { amount: 3_000, payee: PAYEE })]);
    const fulfilled = results.filter((r) => r.status === 'fulfilled');
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(fulfilled).toHaveLength(1);
    expect(rejected.map((r) => (isAppError(r.reason) ? r.reason.code : String(r.reason)))).toEqual(['PAYMENT_REFUND_EXCEEDS']);
    expect(await balanceOf(c.cardNo)).toBe(2_000);
  });

  it('a refund notification applied twice moves money once; a wrong amount or a contradicting late answer changes nothing', async () => {
    const c = await issueCard(server);
    const o = await paidBankOrder(c.cardNo, 9_000);
    const r = await refund(o.orderNo, { amount: 4_000, payee: PAYEE });
    const deps = depsOf(server);
    const apply = (state: Parameters<typeof applyRefundState>[3]) =>
      server.db.db.transaction().execute(async (trx) => {
        const row = (await lockRefundByNo(trx, r.refundNo))!;
        return (await applyRefundState(trx, deps, row, state, 'notification')).outcome;
      });
    expect(await apply({ refundNo: r.refundNo, status: 'succeeded', amount: 3_999 })).toBe('rejected');
    const clearing = await systemBalance(server, 'channel_clearing:bank_transfer');
    expect(await apply({ refundNo: r.refundNo, status: 'succeeded', amount: 4_000, channelRefundId: 'BK-REF-9' })).toBe('applied');
    expect(await systemBalance(server, 'channel_clearing:bank_transfer')).toBe(clearing + 4_000);
    expect(await apply({ refundNo: r.refundNo, status: 'succeeded', amount: 4_000, channelRefundId: 'BK-REF-9' })).toBe('duplicate');
    expect(await apply({ refundNo: r.refundNo, status: 'processing' })).toBe('duplicate');
    expect(await apply({ refundNo: r.refundNo, status: 'failed' })).toBe('rejected');
    expect(await systemBalance(server, 'channel_clearing:bank_transfer')).toBe(clearing + 4_000);
    expect(await balanceOf(c.cardNo)).toBe(5_000);
    expect(await orderRow(server, o.orderNo)).toEqual({ status: 'credited', refunded_amount: 4_000 });
    const events = await sql<{ n: number }>`select count(*)::int n from payment_refund_events e join payment_refunds r on r.id = e.refund_id where r.refund_no = ${r.refundNo}`.execute(server.db.db);
    expect(events.rows[0]!.n).toBe(3);
  });

  it('a card closed while its refund was on the way: a failure sends the money to the card-close payout instead', async () => {
    const c = await issueCard(server);
    const o = await paidBankOrder(c.cardNo, 3_000);
    await cashOrder(server, c.cardNo, 1_000);
    const r = await refund(o.orderNo, { payee: PAYEE });
    expectStatus(await cardOp(server, c.cardNo, 'close', { refundMethod: 'original_channel' }), 200, 'close');
    await failBankPayout(depsOf(server), finance, r.refundNo, 'bounced');
    const payable = await sql<{ amount: number; status: string }>`select cr.amount, cr.status from card_refunds cr join cards c on c.id = cr.card_id
      where c.card_no = ${c.cardNo} order by cr.amount`.execute(server.db.db);
    expect(payable.rows).toEqual([
      { amount: 1_000, status: 'payable' },
      { amount: 3_000, status: 'payable' },
    ]);
  });
});

describe('card-close payouts (销户退资)', () => {
  async function closedCard(setup: (cardNo: string) => Promise<void>): Promise<{ cardNo: string; cardRefundId: string }> {
    const c = await issueCard(server);
    await setup(c.cardNo);
    const closed = expectStatus(await cardOp(server, c.cardNo, 'close', { refundMethod: 'original_channel' }), 200, 'close');
    return { cardNo: c.cardNo, cardRefundId: closed.refund.refundId };
  }

  it('splits the balance across the orders, newest first, and pays the rest by bank transfer; paid once every part succeeded', async () => {
    let older: any;
    let newer: any;
    const { cardRefundId } = await closedCard(async (cardNo) => {
      older = await paidBankOrder(cardNo, 3_000);
      newer = await paidBankOrder(cardNo, 2_000);
      await cashOrder(server, cardNo, 4_000);
    });
    const closePayable = await systemBalance(server, 'refunds_payable:card_close');
    const clearing = await systemBalance(server, 'channel_clearing:bank_transfer');
    expect(await payOutCardCloseRefunds(depsOf(server))).toBeGreaterThanOrEqual(1);
    expect(await payOutCardCloseRefunds(depsOf(server))).toBe(0);
    const view = await getCardRefund(server.db.db, cardRefundId);
    expect(view).toMatchObject({ amount: 9_000, status: 'payable', paidOut: 0, inFlight: 9_000, remaining: 0 });
    expect(view.parts.map((p) => [p.kind, p.channel, p.originalOrderNo, p.amount, p.status, p.orderNo])).toEqual([
      ['card_close', 'bank_transfer', newer.orderNo, 2_000, 'processing', null],
      ['card_close', 'bank_transfer', older.orderNo, 3_000, 'processing', null],
      ['card_close', 'bank_transfer', null, 4_000, 'processing', null],
    ]);
    // Nothing moved on request: the close already moved the balance to refunds payable.
    expect(await systemBalance(server, 'refunds_payable:card_close')).toBe(closePayable);

    const [p1, p2, rest] = view.parts as [any, any, any];
    await confirmBankPayout(depsOf(server), finance, p1.refundNo, { bankReference: `CC-${p1.refundNo}`, payee: PAYEE });
    await confirmBankPayout(depsOf(server), finance, p2.refundNo, { bankReference: `CC-${p2.refundNo}`, payee: PAYEE });
    expect(await codeOf(confirmBankPayout(depsOf(server), finance, rest.refundNo, { bankReference: `CC-${rest.refundNo}` }))).toBe('PAYMENT_PAYEE_REQUIRED');
    expect((await getCardRefund(server.db.db, cardRefundId)).status).toBe('payable');
    await confirmBankPayout(depsOf(server), finance, rest.refundNo, { bankReference: `CC-${rest.refundNo}`, payee: PAYEE });
    expect(await getCardRefund(server.db.db, cardRefundId)).toMatchObject({ status: 'paid', paidOut: 9_000, inFlight: 0, remaining: 0 });
    expect(await systemBalance(server, 'refunds_payable:card_close')).toBe(closePayable - 9_000);
    expect(await systemBalance(server, 'channel_clearing:bank_transfer')).toBe(clearing + 9_000);
    expect(await orderRow(server, newer.orderNo)).toEqual({ status: 'refunded', refunded_amount: 2_000 });
    expect(await orderRow(server, older.orderNo)).toEqual({ status: 'refunded', refunded_amount: 3_000 });
    expect(await codeOf(startCardClosePayout(depsOf(server), finance, cardRefundId, 'staff'))).toBe('PAYMENT_REFUND_STATE');
  });

  it('a failed part stays payable; a new payout pays what is left, not through the order that failed', async () => {
    let order: any;
    const { cardRefundId } = await closedCard(async (cardNo) => {
      order = await paidBankOrder(cardNo, 5_000);
    });
    await runRefundJobs(depsOf(server));
    const first = await getCardRefund(server.db.db, cardRefundId);
    expect(first.parts.map((p) => [p.originalOrderNo, p.amount])).toEqual([[order.orderNo, 5_000]]);
    const closePayable = await systemBalance(server, 'refunds_payable:card_close');
    await failBankPayout(depsOf(server), finance, first.parts[0]!.refundNo, '原账户已注销 / account gone');
    expect(await systemBalance(server, 'refunds_payable:card_close')).toBe(closePayable);
    expect(await getCardRefund(server.db.db, cardRefundId)).toMatchObject({ status: 'payable', remaining: 5_000, inFlight: 0 });
    // The job starts only payouts never started: a failed one waits for finance.
    expect(await payOutCardCloseRefunds(depsOf(server))).toBe(0);
    const second = await startCardClosePayout(depsOf(server), finance, cardRefundId, 'staff');
    expect(second.parts.map((p) => [p.status, p.originalOrderNo, p.amount])).toEqual([
      ['failed', order.orderNo, 5_000],
      ['processing', null, 5_000],
    ]);
    expect(await codeOf(startCardClosePayout(depsOf(server), finance, cardRefundId, 'staff'))).toBe('PAYMENT_REFUND_STATE');
    await confirmBankPayout(depsOf(server), finance, second.parts[1]!.refundNo, { bankReference: `CC2-${cardRefundId.slice(0, 8)}`, payee: PAYEE });
    expect(await getCardRefund(server.db.db, cardRefundId)).toMatchObject({ status: 'paid', paidOut: 5_000 });
    expect(await systemBalance(server, 'refunds_payable:card_close')).toBe(closePayable - 5_000);
  });
});
