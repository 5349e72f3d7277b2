import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { cardOp, expectError, expectLedgerVerified, getCard, issueCard, ok } from '../../test/support/cards-factory.js';
import { systemActor } from '../platform/index.js';
import { ORDER_STATUSES, ORDER_TRANSITIONS, canTransition } from './orders.state.js';
import { applyPaymentState, creditChannelPayment, lockOrderByNo, markOrderRefunded, type PaymentsDeps } from './orders.service.js';
import { closeExpiredOrders } from './payments.jobs.js';
import type { PaymentState } from './channel.js';

// Small limits, so the tests reach them with small amounts.
const ORDER_MAX = 50_000;
const DAY_MAX = 80_000;
const ANON_CAP = 100_000;

let server: TestServer;
let deps: PaymentsDeps;
beforeAll(async () => {
  server = await startTestServer({
    FUELCARD_TOPUP_ORDER_MAX_FEN: String(ORDER_MAX),
    FUELCARD_TOPUP_DAY_MAX_FEN: String(DAY_MAX),
    FUELCARD_ANONYMOUS_BALANCE_CAP_FEN: String(ANON_CAP),
  });
  deps = server.deps;
});
afterAll(async () => server?.close());
afterEach(async () => expectLedgerVerified(server));

type Role = 'admin' | 'operator' | 'finance' | 'station_staff' | 'risk' | 'cardholder';
const createOrder = (body: Record<string, unknown>, opts: { key?: string; role?: Role } = {}) =>
  server.api('POST', '/api/v1/recharge-orders', { body, role: opts.role ?? 'station_staff', ...(opts.key ? { idempotencyKey: opts.key } : {}) });
const getOrder = async (orderNo: string, role: Role = 'admin') => ok(await server.api('GET', `/api/v1/recharge-orders/${orderNo}`, { role }), 200, 'get order');

async function clearing(channel: string): Promise<number> {
  const r = await sql<{ b: string | null }>`select (credits_posted - debits_posted)::text b from ledger_accounts where system_key = ${`channel_clearing:${channel}`}`.execute(server.db.db);
  return Number(r.rows[0]?.b ?? 0);
}

/** Apply a channel's view of a payment the way the notification, query and bank-match paths do: lock, apply, commit. */
function apply(orderNo: string, state: Omit<PaymentState, 'orderNo'>, source: 'bank_match' | 'notification' | 'query' = 'bank_match') {
  return deps.db.transaction().execute(async (trx) => {
    const order = await lockOrderByNo(trx, orderNo);
    if (!order) throw new Error(`no order ${orderNo}`);
    return applyPaymentState(trx, deps, order, { orderNo, ...state }, source);
  });
}

async function bankOrder(cardNo: string, amount: number, role: Role = 'station_staff') {
  return ok(await createOrder({ cardNo, amount, channel: 'bank_transfer' }, { role }), 201, 'bank transfer order');
}

describe('order state machine (orders.state.ts)', () => {
  it('allows exactly the documented transitions', () => {
    const allowed = ORDER_STATUSES.flatMap((from) => ORDER_STATUSES.filter((to) => canTransition(from, to)).map((to) => `${from}→${to}`));
    expect(allowed.sort()).toEqual(
      [
        'created→paying',
        'created→paid',
        'created→closed',
        'created→failed',
        'paying→paid',
        'paying→closed',
        'paying→failed',
        'paid→credited',
        'paid→refunded',
        'credited→refunded',
        'closed→paid',
        'failed→paid',
      ].sort(),
    );
    // Nothing leaves 'refunded'; nothing goes back to 'created' or 'paying' from a decision.
    expect(ORDER_TRANSITIONS.refunded).toEqual([]);
    for (const from of ORDER_STATUSES) expect(canTransition(from, 'created')).toBe(false);
  });
});

describe('cash orders at the counter', () => {
  it('credits at once, with a receipt, the order trail and the cash clearing account', async () => {
    const c = await issueCard(server);
    const before = await clearing('cash');
    const o = ok(await createOrder({ cardNo: c.cardNo, amount: 12_345, channel: 'cash' }), 201);
    expect(o).toMatchObject({ cardNo: c.cardNo, amount: 12_345, channel: 'cash', method: 'counter', origin: 'counter', status: 'credited', paidAmount: 12_345, refundedAmount: 0 });
    expect(o.orderNo).toMatch(/^P\d{19}$/);
    expect(o.receiptNo).toMatch(/^R\d{16}$/);
    expect(await clearing('cash')).toBe(before - 12_345);
    expect((await getCard(server, c.cardNo)).balance).toBe(12_345);
    const d = await getOrder(o.orderNo);
    expect(d.events.map((e: { fromStatus: string | null; toStatus: string; source: string; staff: string }) => [e.fromStatus, e.toStatus, e.source, e.staff])).toEqual([
      [null, 'created', 'counter', 't_station_staff'],
      ['created', 'paid', 'counter', 't_station_staff'],
      ['paid', 'credited', 'counter', 't_station_staff'],
    ]);
    expect(d.notifications).toEqual([]);
    expect(d.refunds).toEqual([]);
    // The receipt points at its order; the event went out with it.
    const rc = await sql<{ order_no: string; channel: string }>`select o.order_no, r.channel from recharges r join recharge_orders o on o.id = r.order_id where r.receipt_no = ${o.receiptNo}`.execute(server.db.db);
    expect(rc.rows).toEqual([{ order_no: o.orderNo, channel: 'cash' }]);
    const ev = await sql<{ n: number }>`select count(*)::int n from outbox_events where topic = 'recharge.completed' and payload->>'orderNo' = ${o.orderNo}`.execute(server.db.db);
    expect(ev.rows[0]!.n).toBe(1);
  });

  it('answers a retry with the same Idempotency-Key with the same order, moving the money once', async () => {
    const c = await issueCard(server);
    const key = randomUUID();
    const answers = await Promise.all(Array.from({ length: 6 }, () => createOrder({ cardNo: c.cardNo, amount: 700, channel: 'cash' }, { key })));
    const bodies = answers.map((a) => ok(a, 201));
    expect(new Set(bodies.map((b) => b.orderNo)).size).toBe(1);
    expect((await getCard(server, c.cardNo)).balance).toBe(700);
    expectError(await createOrder({ cardNo: c.cardNo, amount: 701, channel: 'cash' }, { key }), 409, 'IDEMPOTENCY_KEY_REUSED');
  });

  it('is not held to the online top-up limits (the cashier has the money in hand)', async () => {
    const c = await issueCard(server);
    ok(await createOrder({ cardNo: c.cardNo, amount: ORDER_MAX + 1, channel: 'cash' }), 201);
    ok(await createOrder({ cardNo: c.cardNo, amount: DAY_MAX, channel: 'cash' }), 201);
    expect((await getCard(server, c.cardNo)).balance).toBe(ORDER_MAX + 1 + DAY_MAX);
  });
});

describe('bank transfer orders', () => {
  it('gives the payer the account and a payer code, and waits for the transfer', async () => {
    const c = await issueCard(server);
    const o = await bankOrder(c.cardNo, 30_000);
    const bank = deps.payments.credentials.bank;
    expect(o).toMatchObject({ channel: 'bank_transfer', method: 'transfer', status: 'paying', paidAt: null, receiptNo: null, channelTxnId: null });
    expect(o.payerCode).toMatch(/^FC[0-9A-HJKMNP-TV-Z]{8}$/);
    expect(o.payload).toEqual({ transfer: { bankName: bank.bankName, accountName: bank.accountName, accountNo: bank.accountNo, payerCode: o.payerCode } });
    // Waits days, not minutes (FUELCARD_BANK_TRANSFER_ORDER_TTL_DAYS, default 3).
    const wait = Date.parse(o.expiresAt) - Date.parse(o.createdAt);
    expect(Math.abs(wait - server.config.bankTransferOrderTtlMs)).toBeLessThan(60_000);
    expect((await getCard(server, c.cardNo)).balance).toBe(0);
  });

  it('is credited once when its transfer is matched, with the bank reference on the receipt', async () => {
    const c = await issueCard(server);
    const o = await bankOrder(c.cardNo, 20_000);
    const before = await clearing('bank_transfer');
    const txn = `B${randomUUID().slice(0, 12)}`;
    const paidAt = new Date(Date.now() - 3_600_000);
    const r = await apply(o.orderNo, { status: 'paid', amount: 20_000, channelTxnId: txn, paidAt });
    expect(r.outcome).toBe('applied');
    expect(r.order.status).toBe('credited');
    const d = await getOrder(o.orderNo);
    expect(d).toMatchObject({ status: 'credited', channelTxnId: txn, paidAmount: 20_000, paidAt: paidAt.toISOString() });
    expect(d.events.map((e: { toStatus: string; source: string }) => `${e.toStatus}:${e.source}`)).toEqual(['created:counter', 'paying:counter', 'paid:bank_match', 'credited:bank_match']);
    expect(await clearing('bank_transfer')).toBe(before - 20_000);
    const rc = await sql<{ reference: string }>`select reference from recharges where receipt_no = ${d.receiptNo}`.execute(server.db.db);
    expect(rc.rows).toEqual([{ reference: txn }]);

    // The same transfer again: nothing moves.
    expect((await apply(o.orderNo, { status: 'paid', amount: 20_000, channelTxnId: txn })).outcome).toBe('duplicate');
    // Another payment for the same order: not credited here, recorded for reconciliation (DUPLICATE) once.
    const second = `B${randomUUID().slice(0, 12)}`;
    for (let i = 0; i < 2; i++) {
      const dup = await apply(o.orderNo, { status: 'paid', amount: 20_000, channelTxnId: second });
      expect(dup).toMatchObject({ outcome: 'duplicate', details: { doublePayment: true, channelTxnId: second } });
    }
    const trail = (await getOrder(o.orderNo)).events.filter((e: { details: Record<string, unknown> }) => e.details.doublePaymentTxnId === second);
    expect(trail).toHaveLength(1);
    // A closed/failed view after the money came in changes nothing (an Alipay trade closes after a full refund).
    expect((await apply(o.orderNo, { status: 'closed' })).outcome).toBe('duplicate');
    expect((await getCard(server, c.cardNo)).balance).toBe(20_000);
    expect(await clearing('bank_transfer')).toBe(before - 20_000);
  });

  it('refuses a payment for another amount and changes nothing', async () => {
    const c = await issueCard(server);
    const o = await bankOrder(c.cardNo, 5_000);
    for (const amount of [4_999, 5_001, undefined]) {
      const r = await apply(o.orderNo, { status: 'paid', channelTxnId: `B${randomUUID().slice(0, 8)}`, ...(amount === undefined ? {} : { amount }) });
      expect(r).toMatchObject({ outcome: 'rejected', code: 'PAYMENT_NOTIFY_AMOUNT_MISMATCH' });
    }
    const d = await getOrder(o.orderNo);
    expect(d.status).toBe('paying');
    expect(d.events).toHaveLength(2);
    expect((await getCard(server, c.cardNo)).balance).toBe(0);
  });

  it('refuses a channel transaction already credited to another order', async () => {
    const c = await issueCard(server);
    const a = await bankOrder(c.cardNo, 1_000);
    const b = await bankOrder(c.cardNo, 1_000);
    const txn = `B${randomUUID().slice(0, 12)}`;
    expect((await apply(a.orderNo, { status: 'paid', amount: 1_000, channelTxnId: txn })).outcome).toBe('applied');
    expect(await apply(b.orderNo, { status: 'paid', amount: 1_000, channelTxnId: txn })).toMatchObject({ outcome: 'rejected', code: 'PAYMENT_NOTIFY_REPLAYED' });
    expect((await getOrder(b.orderNo)).status).toBe('paying');
    expect((await getCard(server, c.cardNo)).balance).toBe(1_000);
  });

  it('credits once when the same payment is applied from many transactions at the same moment', async () => {
    const c = await issueCard(server);
    const o = await bankOrder(c.cardNo, 4_321);
    const before = await clearing('bank_transfer');
    const txn = `B${randomUUID().slice(0, 12)}`;
    const results = await Promise.all(Array.from({ length: 8 }, () => apply(o.orderNo, { status: 'paid', amount: 4_321, channelTxnId: txn }, 'notification')));
    expect(results.map((r) => r.outcome).sort()).toEqual(['applied', 'duplicate', 'duplicate', 'duplicate', 'duplicate', 'duplicate', 'duplicate', 'duplicate']);
    expect((await getCard(server, c.cardNo)).balance).toBe(4_321);
    expect(await clearing('bank_transfer')).toBe(before - 4_321);
    const n = await sql<{ n: number }>`select count(*)::int n from recharges r join recharge_orders o on o.id = r.order_id where o.order_no = ${o.orderNo}`.execute(server.db.db);
    expect(n.rows[0]!.n).toBe(1);
    const t = await sql<{ n: number }>`select count(*)::int n from ledger_transfers where code = 'recharge' and credit_account_id = ${c.accounts[0].accountId}`.execute(server.db.db);
    expect(t.rows[0]!.n).toBe(1);
  });

  it('leaves a payment the card cannot take as paid, for staff to credit once the card can', async () => {
    const c = await issueCard(server);
    const o = await bankOrder(c.cardNo, 2_500);
    ok(await cardOp(server, c.cardNo, 'report-loss'), 200);
    const r = await apply(o.orderNo, { status: 'paid', amount: 2_500, channelTxnId: `B${randomUUID().slice(0, 12)}` });
    expect(r.outcome).toBe('applied');
    let d = await getOrder(o.orderNo);
    expect(d).toMatchObject({ status: 'paid', receiptNo: null });
    expect(d.note).toContain('lost');
    expect((await getCard(server, c.cardNo)).balance).toBe(0);
    expectError(await server.api('POST', `/api/v1/recharge-orders/${o.orderNo}/credit`, { role: 'finance' }), 409, 'RECHARGE_NOT_ALLOWED');
    expectError(await server.api('POST', `/api/v1/recharge-orders/${o.orderNo}/credit`, { role: 'operator' }), 403, 'FORBIDDEN');
    ok(await cardOp(server, c.cardNo, 'cancel-loss'), 200);
    d = ok(await server.api('POST', `/api/v1/recharge-orders/${o.orderNo}/credit`, { role: 'finance' }), 200);
    expect(d).toMatchObject({ status: 'credited' });
    expect(d.receiptNo).toMatch(/^R\d{16}$/);
    expect((await getCard(server, c.cardNo)).balance).toBe(2_500);
    expectError(await server.api('POST', `/api/v1/recharge-orders/${o.orderNo}/credit`, { role: 'finance' }), 409, 'PAYMENT_ORDER_STATE');
    const audit = await sql<{ actor_role: string }>`select actor_role from audit_log where action = 'recharge.order.credit' and details->>'orderNo' = ${o.orderNo}`.execute(server.db.db);
    expect(audit.rows).toEqual([{ actor_role: 'finance' }]);
  });
});

describe('limits at creation', () => {
  it('refuses an order above the per-order limit', async () => {
    const c = await issueCard(server);
    expectError(await createOrder({ cardNo: c.cardNo, amount: ORDER_MAX + 1, channel: 'bank_transfer' }), 422, 'PAYMENT_ORDER_LIMIT');
    ok(await createOrder({ cardNo: c.cardNo, amount: ORDER_MAX, channel: 'bank_transfer' }), 201);
  });

  it('counts the card’s open and paid orders of the day, not the closed ones', async () => {
    const c = await issueCard(server);
    const a = await bankOrder(c.cardNo, 40_000);
    await bankOrder(c.cardNo, 30_000);
    expectError(await createOrder({ cardNo: c.cardNo, amount: DAY_MAX - 70_000 + 1, channel: 'bank_transfer' }), 422, 'PAYMENT_DAY_LIMIT');
    ok(await server.api('POST', `/api/v1/recharge-orders/${a.orderNo}/close`, { role: 'operator' }), 200);
    ok(await createOrder({ cardNo: c.cardNo, amount: 50_000, channel: 'bank_transfer' }), 201);
    expectError(await createOrder({ cardNo: c.cardNo, amount: 1, channel: 'bank_transfer' }), 422, 'PAYMENT_DAY_LIMIT');
    // Another card has its own day.
    const other = await issueCard(server);
    ok(await createOrder({ cardNo: other.cardNo, amount: 50_000, channel: 'bank_transfer' }), 201);
  });

  it('keeps an anonymous card’s balance and open orders under the cap', async () => {
    const c = await issueCard(server, { kind: 'anonymous', funds: 60_000 });
    // The opening balance came yesterday: today's top-ups start at zero.
    await sql`update recharge_orders o set created_at = o.created_at - interval '1 day' from cards c where c.id = o.card_id and c.card_no = ${c.cardNo}`.execute(server.db.db);
    const a = await bankOrder(c.cardNo, 30_000);
    expectError(await createOrder({ cardNo: c.cardNo, amount: ANON_CAP - 90_000 + 1, channel: 'bank_transfer' }), 422, 'PAYMENT_BALANCE_CAP');
    ok(await createOrder({ cardNo: c.cardNo, amount: ANON_CAP - 90_000, channel: 'bank_transfer' }), 201);
    expect((await apply(a.orderNo, { status: 'paid', amount: 30_000, channelTxnId: `B${randomUUID().slice(0, 12)}` })).outcome).toBe('applied');
    expectError(await createOrder({ cardNo: c.cardNo, amount: 1, channel: 'bank_transfer' }), 422, 'PAYMENT_BALANCE_CAP');
    // A personal card has no cap.
    const p = await issueCard(server, { funds: ANON_CAP });
    await sql`update recharge_orders o set created_at = o.created_at - interval '1 day' from cards c where c.id = o.card_id and c.card_no = ${p.cardNo}`.execute(server.db.db);
    ok(await createOrder({ cardNo: p.cardNo, amount: 10_000, channel: 'bank_transfer' }), 201);
  });

  it('refuses cards that cannot take money, methods the channel lacks, and bad input', async () => {
    const lost = await issueCard(server);
    ok(await cardOp(server, lost.cardNo, 'report-loss'), 200);
    expectError(await createOrder({ cardNo: lost.cardNo, amount: 100, channel: 'bank_transfer' }), 409, 'RECHARGE_NOT_ALLOWED');
    expectError(await createOrder({ cardNo: '9000010000000000000', amount: 100, channel: 'cash' }), 404, 'CARD_NOT_FOUND');
    const c = await issueCard(server);
    expectError(await createOrder({ cardNo: c.cardNo, amount: 100, channel: 'bank_transfer', method: 'native' }), 422, 'PAYMENT_METHOD_NOT_SUPPORTED');
    expectError(await createOrder({ cardNo: c.cardNo, amount: 100, channel: 'wechat', method: 'jsapi' }), 422, 'PAYMENT_METHOD_NOT_SUPPORTED');
    const stranger = await issueCard(server);
    expectError(await createOrder({ cardNo: c.cardNo, amount: 100, channel: 'cash', accountId: stranger.accounts[0].accountId }), 409, 'RECHARGE_ACCOUNT_NOT_LINKED');
    for (const body of [
      { cardNo: c.cardNo, amount: 0, channel: 'cash' },
      { cardNo: c.cardNo, amount: 1.5, channel: 'cash' },
      { cardNo: c.cardNo, amount: 100, channel: 'paypal' },
      { cardNo: '123', amount: 100, channel: 'cash' },
      { cardNo: c.cardNo, amount: 100, channel: 'cash', extra: 1 },
      { cardNo: c.cardNo, amount: 100, channel: 'cash', origin: 'portal' },
    ]) {
      expectError(await createOrder(body), 400, 'VALIDATION_FAILED');
    }
    expectError(await createOrder({ cardNo: c.cardNo, amount: 100, channel: 'cash' }, { role: 'risk' }), 403, 'FORBIDDEN');
    expectError(await createOrder({ cardNo: c.cardNo, amount: 100, channel: 'cash' }, { role: 'cardholder' }), 403, 'FORBIDDEN');
    expect((await getCard(server, c.cardNo)).balance).toBe(0);
  });
});

describe('closing orders', () => {
  it('closes expired bank transfer orders from the job, and still credits a transfer that arrives afterwards', async () => {
    const c = await issueCard(server);
    const expired = await bankOrder(c.cardNo, 3_000);
    const fresh = await bankOrder(c.cardNo, 3_000);
    await sql`update recharge_orders set expires_at = now() - interval '1 minute' where order_no = ${expired.orderNo}`.execute(server.db.db);
    const run = await closeExpiredOrders(deps, 500);
    expect(run.closed).toBeGreaterThanOrEqual(1);
    expect(run.failed).toBe(0);
    const d = await getOrder(expired.orderNo);
    expect(d).toMatchObject({ status: 'closed', closeReason: 'expired' });
    expect(d.events.at(-1)).toMatchObject({ fromStatus: 'paying', toStatus: 'closed', source: 'job', staff: null });
    expect((await getOrder(fresh.orderNo)).status).toBe('paying');
    // A second run finds nothing more to do for it.
    await closeExpiredOrders(deps, 500);
    expect((await getOrder(expired.orderNo)).events).toHaveLength(d.events.length);

    // The payer's transfer arrives after we closed: it is their money, still credited.
    const r = await apply(expired.orderNo, { status: 'paid', amount: 3_000, channelTxnId: `B${randomUUID().slice(0, 12)}` });
    expect(r.outcome).toBe('applied');
    const after = await getOrder(expired.orderNo);
    expect(after.status).toBe('credited');
    expect(after.events.find((e: { toStatus: string }) => e.toStatus === 'paid').details.afterClose).toBe(true);
    expect((await getCard(server, c.cardNo)).balance).toBe(3_000);
  });

  it('lets staff close an unpaid order once, and not a credited one', async () => {
    const c = await issueCard(server);
    const o = await bankOrder(c.cardNo, 1_200);
    expectError(await server.api('POST', `/api/v1/recharge-orders/${o.orderNo}/close`, { role: 'station_staff' }), 403, 'FORBIDDEN');
    const closed = ok(await server.api('POST', `/api/v1/recharge-orders/${o.orderNo}/close`, { role: 'operator' }), 200);
    expect(closed).toMatchObject({ status: 'closed', closeReason: 'staff' });
    expectError(await server.api('POST', `/api/v1/recharge-orders/${o.orderNo}/close`, { role: 'operator' }), 409, 'PAYMENT_ORDER_STATE');
    const cash = ok(await createOrder({ cardNo: c.cardNo, amount: 100, channel: 'cash' }), 201);
    expectError(await server.api('POST', `/api/v1/recharge-orders/${cash.orderNo}/close`, { role: 'finance' }), 409, 'PAYMENT_ORDER_STATE');
    // Cash and bank orders have no provider to ask: a query returns the order as it is.
    expect(ok(await server.api('POST', `/api/v1/recharge-orders/${cash.orderNo}/query`, { role: 'finance' }), 200).status).toBe('credited');
    expectError(await server.api('POST', '/api/v1/recharge-orders/P2026010100000000000/close', { role: 'admin' }), 404, 'PAYMENT_ORDER_NOT_FOUND');
    const audit = await sql<{ actor_role: string }>`select actor_role from audit_log where action = 'recharge.order.close' and target_id = ${o.orderNo}`.execute(server.db.db);
    expect(audit.rows).toEqual([{ actor_role: 'operator' }]);
  });
});

describe('reading orders', () => {
  it('lists newest first with filters and cursor paging; shows card numbers as the role may see them', async () => {
    const c = await issueCard(server);
    const made: string[] = [];
    for (let i = 0; i < 5; i++) made.push(ok(await createOrder({ cardNo: c.cardNo, amount: 100 + i, channel: 'cash' }), 201).orderNo);
    const bank = await bankOrder(c.cardNo, 999);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const qs: string = `cardNo=${c.cardNo}&channel=cash&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page: { items: Array<{ orderNo: string; cardNo: string }>; nextCursor: string | null } = ok(await server.api('GET', `/api/v1/recharge-orders?${qs}`, { role: 'risk' }), 200);
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((o) => o.orderNo));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...made].reverse());
    const paying = ok(await server.api('GET', `/api/v1/recharge-orders?cardNo=${c.cardNo}&status=paying`), 200);
    expect(paying.items.map((o: { orderNo: string }) => o.orderNo)).toEqual([bank.orderNo]);
    const one = ok(await server.api('GET', `/api/v1/recharge-orders?orderNo=${bank.orderNo}`, { role: 'station_staff' }), 200);
    expect(one.items).toHaveLength(1);
    expect(one.items[0].cardNo).toBe(c.cardNo);
    // Finance sees masked card numbers, as on the card pages.
    const fin = await getOrder(bank.orderNo, 'finance');
    expect(fin.cardNo).not.toBe(c.cardNo);
    expect(fin.cardNo.slice(-4)).toBe(c.cardNo.slice(-4));
    const future = new Date(Date.now() + 86_400_000).toISOString();
    expect(ok(await server.api('GET', `/api/v1/recharge-orders?cardNo=${c.cardNo}&from=${future}`), 200).items).toEqual([]);
    expectError(await server.api('GET', '/api/v1/recharge-orders?from=2026-02-30T00:00:00Z'), 400, 'VALIDATION_FAILED');
    expectError(await server.api('GET', '/api/v1/recharge-orders?cursor=bogus'), 400, 'VALIDATION_FAILED');
    expectError(await server.api('GET', '/api/v1/recharge-orders?limit=201'), 400, 'VALIDATION_FAILED');
    expectError(await server.api('GET', '/api/v1/recharge-orders', { role: 'cardholder' }), 403, 'FORBIDDEN');
    expectError(await server.api('GET', '/api/v1/recharge-orders/P123'), 400, 'VALIDATION_FAILED');
    expectError(await server.api('GET', '/api/v1/recharge-orders/P2026010100000000000'), 404, 'PAYMENT_ORDER_NOT_FOUND');
  });
});

describe('for the refunds and reconciliation modules', () => {
  it('creditChannelPayment: money the channel holds for no order becomes a credited order for the chosen card', async () => {
    const c = await issueCard(server);
    const txn = `42000${Date.now()}`;
    const actor = { ...systemActor, name: 'recon-test' };
    const before = await clearing('wechat');
    const order = await deps.db.transaction().execute((trx) =>
      creditChannelPayment(trx, deps, actor, { channel: 'wechat', channelTxnId: txn, amount: 8_800, paidAt: new Date(Date.now() - 86_400_000), cardNo: c.cardNo, note: '对账长款入账' }),
    );
    expect(order).toMatchObject({ status: 'credited', channel: 'wechat', channel_txn_id: txn, amount: 8_800, note: '对账长款入账' });
    expect(await clearing('wechat')).toBe(before - 8_800);
    expect((await getCard(server, c.cardNo)).balance).toBe(8_800);
    const d = await getOrder(order.order_no);
    expect(new Set(d.events.map((e: { source: string }) => e.source))).toEqual(new Set(['reconciliation']));
    await expect(
      deps.db.transaction().execute((trx) =>
        creditChannelPayment(trx, deps, actor, { channel: 'wechat', channelTxnId: txn, amount: 8_800, paidAt: new Date(), cardNo: c.cardNo, note: 'again' }),
      ),
    ).rejects.toMatchObject({ code: 'RECHARGE_REFERENCE_USED' });
    expect((await getCard(server, c.cardNo)).balance).toBe(8_800);
  });

  it('markOrderRefunded: counts refunds; the order is refunded once all of it went back', async () => {
    const c = await issueCard(server);
    const o = ok(await createOrder({ cardNo: c.cardNo, amount: 1_000, channel: 'cash' }), 201);
    const id = (await sql<{ id: string }>`select id from recharge_orders where order_no = ${o.orderNo}`.execute(server.db.db)).rows[0]!.id;
    await deps.db.transaction().execute((trx) => markOrderRefunded(trx, id, 400, 'refund', null));
    expect(await getOrder(o.orderNo)).toMatchObject({ status: 'credited', refundedAmount: 400 });
    await expect(deps.db.transaction().execute((trx) => markOrderRefunded(trx, id, 601, 'refund', null))).rejects.toMatchObject({ code: 'PAYMENT_REFUND_EXCEEDS' });
    await deps.db.transaction().execute((trx) => markOrderRefunded(trx, id, 600, 'refund', null));
    const d = await getOrder(o.orderNo);
    expect(d).toMatchObject({ status: 'refunded', refundedAmount: 1_000 });
    expect(d.events.at(-1)).toMatchObject({ fromStatus: 'credited', toStatus: 'refunded', source: 'refund' });
  });
});

describe('a provider that cannot be reached', () => {
  let down: TestServer;
  beforeAll(async () => {
    // A real merchant configuration whose API base nobody listens on: the real adapter, a real network failure.
    const { generateKeyPairSync } = await import('node:crypto');
    const pem = (k: { export: (o: { type: 'pkcs8' | 'spki'; format: 'pem' }) => string | Buffer }, type: 'pkcs8' | 'spki') => String(k.export({ type, format: 'pem' }));
    const merchant = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const platform = generateKeyPairSync('rsa', { modulusLength: 2048 });
    down = await startTestServer({
      FUELCARD_WECHAT_MCHID: '1900000109',
      FUELCARD_WECHAT_APPID: 'wx0000000000000000',
      FUELCARD_WECHAT_SERIAL_NO: '5157F09EFDC096DE15EBE81A47057A7232F1B8E1',
      FUELCARD_WECHAT_PRIVATE_KEY: pem(merchant.privateKey, 'pkcs8'),
      FUELCARD_WECHAT_APIV3_KEY: 'a'.repeat(32),
      FUELCARD_WECHAT_PUBLIC_KEY_ID: 'PUB_KEY_ID_0000000000000000000000000000',
      FUELCARD_WECHAT_PUBLIC_KEY: pem(platform.publicKey, 'spki'),
      FUELCARD_WECHAT_API_BASE: 'http://127.0.0.1:9',
    });
  });
  afterAll(async () => down?.close());

  it('fails the order with 502 PAYMENT_CHANNEL_UNAVAILABLE; a retry with the same key answers the same; nothing moves', async () => {
    expect(down.deps.payments.sandboxes.wechat).toBeUndefined();
    const c = await issueCard(down);
    const key = randomUUID();
    const body = { cardNo: c.cardNo, amount: 1_000, channel: 'wechat', method: 'native' };
    expectError(await down.api('POST', '/api/v1/recharge-orders', { role: 'operator', body, idempotencyKey: key }), 502, 'PAYMENT_CHANNEL_UNAVAILABLE');
    expectError(await down.api('POST', '/api/v1/recharge-orders', { role: 'operator', body, idempotencyKey: key }), 502, 'PAYMENT_CHANNEL_UNAVAILABLE');
    const list = ok(await down.api('GET', `/api/v1/recharge-orders?cardNo=${c.cardNo}`), 200);
    expect(list.items).toHaveLength(1);
    expect(list.items[0]).toMatchObject({ status: 'failed', closeReason: 'PAYMENT_CHANNEL_UNAVAILABLE', paidAt: null });
    // The close job leaves a failed order alone.
    expect((await closeExpiredOrders(down.deps, 500)).failed).toBe(0);
    expect((await getCard(down, c.cardNo)).balance).toBe(0);
    await expectLedgerVerified(down);
  });
});
