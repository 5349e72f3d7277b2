import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { cardOp, expectError, expectLedgerVerified, getCard, issueCard, ok } from '../../test/support/cards-factory.js';
import { businessDay } from '../platform/index.js';
import { applyPaymentState, lockOrderByNo } from './orders.service.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => server?.close());
afterEach(async () => expectLedgerVerified(server));

type Role = 'admin' | 'operator' | 'finance' | 'station_staff' | 'risk' | 'cardholder';
const charge = (cardNo: string, body: Record<string, unknown>, opts: { key?: string; role?: Role } = {}) =>
  server.api('POST', `/api/v1/cards/${cardNo}/recharges`, { body, role: opts.role ?? 'station_staff', ...(opts.key ? { idempotencyKey: opts.key } : {}) });

async function clearing(channel: string): Promise<number> {
  const r = await sql<{ b: string | null }>`select (credits_posted - debits_posted)::text b from ledger_accounts where system_key = ${`channel_clearing:${channel}`}`.execute(server.db.db);
  return Number(r.rows[0]?.b ?? 0);
}
async function rechargeRows(cardNo: string) {
  return (
    await sql<{ receipt_no: string; amount: number; channel: string; reference: string | null }>`select r.receipt_no, r.amount, r.channel, r.reference
      from recharges r join cards c on c.id = r.card_id where c.card_no = ${cardNo} order by r.created_at, r.receipt_no`.execute(server.db.db)
  ).rows;
}

describe('recharge at the counter (柜台充值)', () => {
  it('takes cash into the card account through the cash clearing account, with a receipt', async () => {
    const c = await issueCard(server);
    const cashBefore = await clearing('cash');
    const r = ok(await charge(c.cardNo, { amount: 10_000, channel: 'cash' }), 201);
    expect(r).toMatchObject({ cardNo: c.cardNo, accountId: c.accounts[0].accountId, amount: 10_000, channel: 'cash', reference: null, balance: 10_000, accountBalance: 10_000 });
    expect(r.receiptNo).toMatch(/^R\d{16}$/);
    expect(r.receiptNo.slice(1, 9)).toBe(businessDay(new Date(), 'Asia/Shanghai').replaceAll('-', ''));
    expect(await clearing('cash')).toBe(cashBefore - 10_000);
    expect(await getCard(server, c.cardNo)).toMatchObject({ balance: 10_000, available: 10_000 });

    const second = ok(await charge(c.cardNo, { amount: 1, channel: 'cash' }), 201);
    expect(second.receiptNo).not.toBe(r.receiptNo);
    expect(second.balance).toBe(10_001);

    const st = ok(await server.api('GET', `/api/v1/cards/${c.cardNo}/statement?type=recharge`), 200);
    expect(st.items.map((l: { receiptNo: string; amount: number; channel: string }) => [l.receiptNo, l.amount, l.channel])).toEqual([
      [second.receiptNo, 1, 'cash'],
      [r.receiptNo, 10_000, 'cash'],
    ]);
    // The movement, its record and its event committed together.
    const events = await sql<{ n: number }>`select count(*)::int n from outbox_events where topic = 'recharge.completed' and payload->>'receiptNo' = ${r.receiptNo}`.execute(server.db.db);
    expect(events.rows[0]!.n).toBe(1);
    const audit = await sql<{ actor_role: string }>`select actor_role from audit_log where action = 'recharge.counter' and details->>'receiptNo' = ${r.receiptNo}`.execute(server.db.db);
    expect(audit.rows).toEqual([{ actor_role: 'station_staff' }]);
  });

  it('takes a bank transfer only with its reference, and credits each reference once', async () => {
    const c = await issueCard(server);
    const d = await issueCard(server);
    expectError(await charge(c.cardNo, { amount: 5000, channel: 'bank_transfer' }), 400, 'RECHARGE_REFERENCE_REQUIRED');
    expectError(await charge(c.cardNo, { amount: 5000, channel: 'bank_transfer', reference: '  ' }), 400, 'RECHARGE_REFERENCE_REQUIRED');
    const ref = `ICBC${randomUUID().slice(0, 8)}`;
    const before = await clearing('bank_transfer');
    const r = ok(await charge(c.cardNo, { amount: 5000, channel: 'bank_transfer', reference: ref }), 201);
    expect(r).toMatchObject({ channel: 'bank_transfer', reference: ref.toUpperCase(), balance: 5000 });
    expect(await clearing('bank_transfer')).toBe(before - 5000);
    // The same bank reference again — on this card or another, typed with other spaces or case — is refused.
    for (const [card, typed] of [
      [c.cardNo, ref],
      [d.cardNo, ref],
      [d.cardNo, ` ${ref.toLowerCase()} `],
      [d.cardNo, `${ref.slice(0, 4)} ${ref.slice(4)}`],
    ] as const) {
      expectError(await charge(card, { amount: 5000, channel: 'bank_transfer', reference: typed }, { key: randomUUID() }), 409, 'RECHARGE_REFERENCE_USED');
    }
    expect((await getCard(server, c.cardNo)).balance).toBe(5000);
    expect((await getCard(server, d.cardNo)).balance).toBe(0);
    expect(await clearing('bank_transfer')).toBe(before - 5000);
    // Two cashiers keying the same transfer at the same moment: exactly one credits it.
    const raced = `ABC${randomUUID().slice(0, 8)}`;
    const racing = await Promise.all(Array.from({ length: 6 }, () => charge(d.cardNo, { amount: 900, channel: 'bank_transfer', reference: raced }, { key: randomUUID() })));
    expect(racing.map((x) => x.status).sort()).toEqual([201, 409, 409, 409, 409, 409]);
    for (const x of racing.filter((y) => y.status === 409)) expect(x.body.error.code).toBe('RECHARGE_REFERENCE_USED');
    expect((await getCard(server, d.cardNo)).balance).toBe(900);
    // A cash receipt may carry any note, even the same text.
    ok(await charge(d.cardNo, { amount: 100, channel: 'cash', reference: ref }), 201);
    ok(await charge(d.cardNo, { amount: 100, channel: 'cash', reference: ref }), 201);
  });

  it('answers a retry with the same Idempotency-Key with the same receipt, moving the money once', async () => {
    const c = await issueCard(server);
    const key = randomUUID();
    const a = ok(await charge(c.cardNo, { amount: 3000, channel: 'cash' }, { key }), 201);
    const b = ok(await charge(c.cardNo, { amount: 3000, channel: 'cash' }, { key }), 201);
    expect(b).toEqual(a);
    expect((await getCard(server, c.cardNo)).balance).toBe(3000);
    expect(await rechargeRows(c.cardNo)).toHaveLength(1);
    expectError(await charge(c.cardNo, { amount: 3001, channel: 'cash' }, { key }), 409, 'IDEMPOTENCY_KEY_REUSED');
    const other = await issueCard(server);
    expectError(await charge(other.cardNo, { amount: 3000, channel: 'cash' }, { key }), 409, 'IDEMPOTENCY_KEY_REUSED');
    expectError(await charge(c.cardNo, { amount: 3000, channel: 'cash' }, { key: 'bad key with spaces' }), 400, 'IDEMPOTENCY_KEY_INVALID');
    // The bank reference is part of the request: a retry of a bank transfer returns its receipt, not REFERENCE_USED.
    const bankKey = randomUUID();
    const ref = `CMB${randomUUID().slice(0, 8)}`;
    const x = ok(await charge(c.cardNo, { amount: 700, channel: 'bank_transfer', reference: ref }, { key: bankKey }), 201);
    expect(ok(await charge(c.cardNo, { amount: 700, channel: 'bank_transfer', reference: ref }, { key: bankKey }), 201).receiptNo).toBe(x.receiptNo);
    expect((await getCard(server, c.cardNo)).balance).toBe(3700);
  });

  it('moves the money once when many connections retry the same key at the same moment', async () => {
    const c = await issueCard(server);
    const key = randomUUID();
    const answers = await Promise.all(Array.from({ length: 12 }, () => charge(c.cardNo, { amount: 2500, channel: 'cash' }, { key })));
    const bodies = answers.map((r) => ok(r, 201));
    expect(new Set(bodies.map((b) => b.receiptNo)).size).toBe(1);
    expect(new Set(bodies.map((b) => b.rechargeId)).size).toBe(1);
    expect((await getCard(server, c.cardNo)).balance).toBe(2500);
    expect(await rechargeRows(c.cardNo)).toHaveLength(1);
    const transfers = await sql<{ n: number }>`select count(*)::int n from ledger_transfers where code = 'recharge' and credit_account_id = ${c.accounts[0].accountId}`.execute(server.db.db);
    expect(transfers.rows[0]!.n).toBe(1);
  });

  it('adds up concurrent recharges with different keys exactly', async () => {
    const c = await issueCard(server);
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => charge(c.cardNo, { amount: 100 + i, channel: 'cash' }, { key: randomUUID() })));
    const receipts = answers.map((r) => ok(r, 201).receiptNo);
    expect(new Set(receipts).size).toBe(10);
    expect((await getCard(server, c.cardNo)).balance).toBe(1045);
  });

  it('refuses lost, replaced and closed cards; takes money on a frozen card', async () => {
    const lost = await issueCard(server);
    ok(await cardOp(server, lost.cardNo, 'report-loss'), 200);
    expectError(await charge(lost.cardNo, { amount: 100, channel: 'cash' }), 409, 'RECHARGE_NOT_ALLOWED');
    const replaced = await issueCard(server);
    ok(await cardOp(server, replaced.cardNo, 'replace'), 200);
    expectError(await charge(replaced.cardNo, { amount: 100, channel: 'cash' }), 409, 'RECHARGE_NOT_ALLOWED');
    const closed = await issueCard(server);
    ok(await cardOp(server, closed.cardNo, 'close'), 200);
    const key = randomUUID();
    expectError(await charge(closed.cardNo, { amount: 100, channel: 'cash' }, { key }), 409, 'RECHARGE_NOT_ALLOWED');
    // A refusal is not stored as the key's answer, and moved nothing.
    expectError(await charge(closed.cardNo, { amount: 100, channel: 'cash' }, { key }), 409, 'RECHARGE_NOT_ALLOWED');
    for (const card of [lost, replaced, closed]) expect(await rechargeRows(card.cardNo)).toEqual([]);

    const frozen = await issueCard(server);
    ok(await cardOp(server, frozen.cardNo, 'freeze'), 200);
    expect(ok(await charge(frozen.cardNo, { amount: 100, channel: 'cash' }), 201).balance).toBe(100);
    expectError(await charge('9000010000000000000', { amount: 100, channel: 'cash' }), 404, 'CARD_NOT_FOUND');
  });

  it('credits a chosen linked account, and refuses one that is not linked to the card', async () => {
    const c = await issueCard(server);
    const linked = ok(await server.api('POST', `/api/v1/cards/${c.cardNo}/accounts`, { body: {} }), 200);
    const extra = linked.accounts.find((a: { own: boolean }) => !a.own).accountId;
    const r = ok(await charge(c.cardNo, { amount: 800, channel: 'cash', accountId: extra }), 201);
    expect(r).toMatchObject({ accountId: extra, accountBalance: 800, balance: 800 });
    const view = await getCard(server, c.cardNo);
    expect(view.accounts.map((a: { accountId: number; balance: number }) => [a.accountId, a.balance])).toEqual([
      [c.accounts[0].accountId, 0],
      [extra, 800],
    ]);
    const stranger = await issueCard(server);
    expectError(await charge(c.cardNo, { amount: 800, channel: 'cash', accountId: stranger.accounts[0].accountId }), 409, 'RECHARGE_ACCOUNT_NOT_LINKED');
    expect((await getCard(server, stranger.cardNo)).balance).toBe(0);
  });

  it('validates the request and the caller', async () => {
    const c = await issueCard(server);
    for (const body of [{ amount: 0, channel: 'cash' }, { amount: -100, channel: 'cash' }, { amount: 1.5, channel: 'cash' }, { amount: 100, channel: 'wechat' }, { amount: 100_000_001, channel: 'cash' }, { channel: 'cash' }]) {
      expectError(await charge(c.cardNo, body), 400, 'VALIDATION_FAILED');
    }
    expectError(await charge('123', { amount: 100, channel: 'cash' }), 400, 'VALIDATION_FAILED');
    expectError(await charge(c.cardNo, { amount: 100, channel: 'cash' }, { role: 'risk' }), 403, 'FORBIDDEN');
    expectError(await charge(c.cardNo, { amount: 100, channel: 'cash' }, { role: 'cardholder' }), 403, 'FORBIDDEN');
    ok(await charge(c.cardNo, { amount: 100, channel: 'cash' }, { role: 'finance' }), 201);
    ok(await charge(c.cardNo, { amount: 100_000_000, channel: 'cash' }, { role: 'operator' }), 201);
    expect((await getCard(server, c.cardNo)).balance).toBe(100_000_100);
  });

  it('goes through a recharge order, created and credited at once, which the orders pages show', async () => {
    const c = await issueCard(server);
    const r = ok(await charge(c.cardNo, { amount: 4_200, channel: 'cash', reference: '收银台 3 号' }), 201);
    const o = await sql<{ order_no: string; status: string; origin: string; method: string; staff_id: number | null; note: string | null }>`select o.order_no, o.status, o.origin, o.method, o.staff_id, o.note
      from recharge_orders o join recharges r on r.order_id = o.id where r.receipt_no = ${r.receiptNo}`.execute(server.db.db);
    expect(o.rows).toHaveLength(1);
    expect(o.rows[0]).toMatchObject({ status: 'credited', origin: 'counter', method: 'counter', note: '收银台 3 号' });
    expect(o.rows[0]!.staff_id).not.toBeNull();
    const view = ok(await server.api('GET', `/api/v1/recharge-orders/${o.rows[0]!.order_no}`), 200);
    expect(view).toMatchObject({ cardNo: c.cardNo, amount: 4_200, channel: 'cash', status: 'credited', receiptNo: r.receiptNo });

    // A bank reference the cashier keys is the order's channel transaction: the same transfer matched to an order is refused at the counter.
    const ref = `SPDB${randomUUID().slice(0, 8)}`.toUpperCase();
    const b = ok(await charge(c.cardNo, { amount: 600, channel: 'bank_transfer', reference: ref }), 201);
    const bo = await sql<{ channel_txn_id: string; method: string }>`select o.channel_txn_id, o.method from recharge_orders o join recharges r on r.order_id = o.id where r.receipt_no = ${b.receiptNo}`.execute(server.db.db);
    expect(bo.rows).toEqual([{ channel_txn_id: ref, method: 'transfer' }]);
    const order = ok(await server.api('POST', '/api/v1/recharge-orders', { role: 'finance', body: { cardNo: c.cardNo, amount: 600, channel: 'bank_transfer' } }), 201);
    const matched = await server.deps.db.transaction().execute(async (trx) =>
      applyPaymentState(trx, server.deps, (await lockOrderByNo(trx, order.orderNo))!, { orderNo: order.orderNo, status: 'paid', amount: 600, channelTxnId: ref }, 'bank_match'),
    );
    expect(matched).toMatchObject({ outcome: 'rejected', code: 'PAYMENT_NOTIFY_REPLAYED' });
    expect((await getCard(server, c.cardNo)).balance).toBe(4_800);
  });
});
