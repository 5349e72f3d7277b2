import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { expectError, expectLedgerVerified, getCard, issueCard, ok } from '../../test/support/cards-factory.js';
import { isAppError, type Actor } from '../platform/index.js';
import { closeOpenOrder, creditChannelPayment, recordChannelWriteOff } from './orders.service.js';
import { bankOrder, depsOf, expectStatus, newBankTxnId, orderRow, payBankOrder, staffActor, systemBalance, today } from './refunds.fixtures.js';

// Review fixes (docs/payments.md): channel payments written off by reconciliation never credit a
// card afterwards; a credit the ledger refused once can be made later.
let server: TestServer;
let finance: Actor;
beforeAll(async () => {
  server = await startTestServer();
  finance = await staffActor(server);
});
afterAll(async () => server?.close());
afterEach(async () => expectLedgerVerified(server));

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (isAppError(err)) return err.code;
    throw err;
  }
  return 'no error';
}

const writeOff = (channel: 'wechat' | 'bank_transfer', channelTxnId: string, amount: number) =>
  server.db.db.transaction().execute((trx) => recordChannelWriteOff(trx, { channel, channelTxnId, amount, reconItemId: 1, note: '对账核销', staffId: finance.staffId }));

describe('channel payments written off in reconciliation', () => {
  it('are recorded once', async () => {
    const txn = `W${randomUUID().slice(0, 16)}`;
    await writeOff('wechat', txn, 100);
    expect(await codeOf(writeOff('wechat', txn, 100))).toBe('PAYMENT_WRITTEN_OFF');
    // The same id at another channel is another payment.
    await writeOff('bank_transfer', txn, 100);
  });

  it('a late notification, a query and the close job do not credit a written-off payment', async () => {
    const c = await issueCard(server);
    const o = expectStatus(
      await server.api('POST', '/api/v1/recharge-orders', { role: 'finance', body: { cardNo: c.cardNo, amount: 3_000, channel: 'wechat', method: 'native' }, idempotencyKey: randomUUID() }),
      201,
      'order',
    );
    const sandbox = server.deps.payments.sandboxes.wechat!;
    const paid = await sandbox.pay(o.orderNo, { notify: 'never' });
    await writeOff('wechat', paid.channelTxnId, 3_000);
    const clearing = await systemBalance(server, 'channel_clearing:wechat');

    const delivery = await sandbox.deliver(sandbox.buildPaymentNotification(o.orderNo));
    expect(delivery.status).toBeGreaterThanOrEqual(400);
    const n = await sql<{ outcome: string; reason: string }>`select outcome, reason from payment_notifications where order_no = ${o.orderNo} order by id desc limit 1`.execute(server.db.db);
    expect(n.rows[0]).toEqual({ outcome: 'rejected', reason: 'PAYMENT_WRITTEN_OFF' });
    expect((await orderRow(server, o.orderNo)).status).toBe('paying');

    expectError(await server.api('POST', `/api/v1/recharge-orders/${o.orderNo}/query`, { role: 'finance' }), 409, 'PAYMENT_WRITTEN_OFF');
    const closed = await closeOpenOrder(depsOf(server), o.orderNo, 'job', 'expired');
    expect(closed.status).toBe('closed');
    expect((await getCard(server, c.cardNo)).balance).toBe(0);
    expect(await systemBalance(server, 'channel_clearing:wechat')).toBe(clearing);
  });

  it('reconciliation cannot credit a written-off payment to a card', async () => {
    const c = await issueCard(server);
    const stray = server.deps.payments.sandboxes.wechat!.addStrayPayment({ amount: 700 });
    await writeOff('wechat', stray.channelTxnId, 700);
    const code = await codeOf(
      server.db.db.transaction().execute((trx) =>
        creditChannelPayment(trx, depsOf(server), finance, { channel: 'wechat', channelTxnId: stray.channelTxnId, amount: 700, paidAt: new Date(), cardNo: c.cardNo, note: 'x' }),
      ),
    );
    expect(code).toBe('PAYMENT_WRITTEN_OFF');
    expect((await getCard(server, c.cardNo)).balance).toBe(0);
  });

  it('a written-off bank transfer is not matched, automatically or by hand', async () => {
    const c = await issueCard(server);
    const o = await bankOrder(server, c.cardNo, 1_800);
    const bankTxnId = newBankTxnId();
    await writeOff('bank_transfer', bankTxnId, 1_800);
    const t = expectStatus(
      await server.api('POST', '/api/v1/bank-transfers', {
        role: 'finance',
        body: { bankTxnId, valueDate: today(), amount: 1_800, payerName: '张三', memo: `充值 ${o.payerCode}` },
        idempotencyKey: randomUUID(),
      }),
      201,
      'transfer',
    );
    expect(t.status).toBe('unmatched');
    expect(t.note).toContain('核销');
    expectError(await server.api('POST', `/api/v1/bank-transfers/${t.id}/match`, { role: 'finance', body: { orderNo: o.orderNo } }), 409, 'PAYMENT_WRITTEN_OFF');
    expect((await orderRow(server, o.orderNo)).status).toBe('paying');
    expect((await getCard(server, c.cardNo)).balance).toBe(0);
  });
});

describe('a credit the ledger refused once', () => {
  it('can be made by staff later: each attempt has its own transfer id', async () => {
    const c = await issueCard(server);
    const o = await bankOrder(server, c.cardNo, 2_200);
    const acc = await sql<{ account_id: number }>`select account_id from recharge_orders where order_no = ${o.orderNo}`.execute(server.db.db);
    const accountId = acc.rows[0]!.account_id;
    // The card is fine but its ledger account refuses credits for a while (closed at the ledger).
    await sql`update ledger_accounts set status = 'closed' where id = ${accountId}`.execute(server.db.db);
    try {
      await payBankOrder(server, o);
    } finally {
      await sql`update ledger_accounts set status = 'open' where id = ${accountId}`.execute(server.db.db);
    }
    expect((await orderRow(server, o.orderNo)).status).toBe('paid');
    // The ledger keeps that refusal for the first attempt's id for good.
    const refused = await sql<{ n: number }>`select count(*)::int n from ledger_transfer_failures`.execute(server.db.db);
    expect(refused.rows[0]!.n).toBeGreaterThan(0);

    const d = ok(await server.api('POST', `/api/v1/recharge-orders/${o.orderNo}/credit`, { role: 'finance' }), 200);
    expect(d.status).toBe('credited');
    expect((await getCard(server, c.cardNo)).balance).toBe(2_200);
    const events = await sql<{ details: Record<string, unknown> }>`select e.details from recharge_order_events e join recharge_orders o on o.id = e.order_id
      where o.order_no = ${o.orderNo} and e.details ? 'notCredited'`.execute(server.db.db);
    expect(events.rows.map((e) => e.details.notCredited)).toEqual(['LEDGER_ACCOUNT_CLOSED']);
  });
});
