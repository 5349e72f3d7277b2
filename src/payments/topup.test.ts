import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { expectError, expectLedgerVerified, getCard, issueCard, ok } from '../../test/support/cards-factory.js';
import { asCardholder, customerWithPhone, signIn } from '../portal/portal.fixtures.js';
import { applyPaymentState, lockOrderByNo } from './orders.service.js';

const ORDER_MAX = 50_000;

let server: TestServer;
let token: string;
let cardNo: string;
beforeAll(async () => {
  server = await startTestServer({ FUELCARD_TOPUP_ORDER_MAX_FEN: String(ORDER_MAX) });
  const holder = await customerWithPhone(server);
  cardNo = (await issueCard(server, { customerId: holder.id })).cardNo;
  token = await signIn(server, holder.phone);
});
afterAll(async () => server?.close());
afterEach(async () => expectLedgerVerified(server));

const topup = (card: string, body: Record<string, unknown>, key?: string, as = token) =>
  asCardholder(server, as, 'POST', `/api/v1/portal/cards/${card}/topups`, body, key ? { 'idempotency-key': key } : undefined);

describe('portal top-up (会员自助充值)', () => {
  it('offers the channels a cardholder can pay with, the limits and preset amounts', async () => {
    const o = ok(await asCardholder(server, token, 'GET', '/api/v1/portal/topup-options'), 200);
    expect(o.channels.map((c: { channel: string }) => c.channel)).toEqual(['wechat', 'alipay', 'unionpay', 'bank_transfer']);
    expect(o.channels.find((c: { channel: string }) => c.channel === 'wechat')).toEqual({ channel: 'wechat', methods: ['native'], sandbox: true, name: { zh: '微信支付', en: 'WeChat Pay' } });
    expect(o.channels.find((c: { channel: string }) => c.channel === 'bank_transfer').sandbox).toBe(false);
    expect(o).toMatchObject({ orderMax: ORDER_MAX, dayMax: server.config.topupDayMax, presets: [5000, 10000, 20000, 50000] });
    expectError(await server.api('GET', '/api/v1/portal/topup-options'), 401, 'UNAUTHENTICATED');
  });

  it('tops up by bank transfer: the order, its payer code, my list, my order; credited when the transfer is matched', async () => {
    const key = randomUUID();
    const o = ok(await topup(cardNo, { amount: 20_000, channel: 'bank_transfer' }, key), 201);
    expect(o).toMatchObject({ cardNo, amount: 20_000, channel: 'bank_transfer', method: 'transfer', origin: 'portal', status: 'paying' });
    expect(o.payload.transfer.payerCode).toBe(o.payerCode);
    // A retry with the same key is the same order.
    expect(ok(await topup(cardNo, { amount: 20_000, channel: 'bank_transfer' }, key), 201).orderNo).toBe(o.orderNo);
    const row = await sql<{ customer_id: number | null; staff_id: number | null }>`select customer_id, staff_id from recharge_orders where order_no = ${o.orderNo}`.execute(server.db.db);
    expect(row.rows[0]!.customer_id).not.toBeNull();
    expect(row.rows[0]!.staff_id).toBeNull();

    const mine = ok(await asCardholder(server, token, 'GET', `/api/v1/portal/topups?cardNo=${cardNo}`), 200);
    expect(mine.items.map((x: { orderNo: string }) => x.orderNo)).toContain(o.orderNo);
    expect(ok(await asCardholder(server, token, 'GET', `/api/v1/portal/topups/${o.orderNo}`), 200).status).toBe('paying');

    await server.deps.db.transaction().execute(async (trx) =>
      applyPaymentState(trx, server.deps, (await lockOrderByNo(trx, o.orderNo))!, { orderNo: o.orderNo, status: 'paid', amount: 20_000, channelTxnId: `B${randomUUID().slice(0, 10)}` }, 'bank_match'),
    );
    const after = ok(await asCardholder(server, token, 'GET', `/api/v1/portal/topups/${o.orderNo}`), 200);
    expect(after.status).toBe('credited');
    expect((await getCard(server, cardNo)).balance).toBe(20_000);
  });

  it('keeps other cardholders out, applies the limits, and refuses what the portal does not offer', async () => {
    const other = await customerWithPhone(server);
    const otherToken = await signIn(server, other.phone);
    const o = ok(await topup(cardNo, { amount: 1_000, channel: 'bank_transfer' }), 201);
    expectError(await topup(cardNo, { amount: 1_000, channel: 'bank_transfer' }, undefined, otherToken), 404, 'CARD_NOT_FOUND');
    expectError(await asCardholder(server, otherToken, 'GET', `/api/v1/portal/topups/${o.orderNo}`), 404, 'PAYMENT_ORDER_NOT_FOUND');
    expectError(await asCardholder(server, otherToken, 'GET', `/api/v1/portal/topups?cardNo=${cardNo}`), 404, 'CARD_NOT_FOUND');
    expect(ok(await asCardholder(server, otherToken, 'GET', '/api/v1/portal/topups'), 200).items).toEqual([]);
    // A card of nobody's, and one that does not exist, look the same.
    const anon = await issueCard(server, { kind: 'anonymous' });
    expectError(await topup(anon.cardNo, { amount: 1_000, channel: 'bank_transfer' }), 404, 'CARD_NOT_FOUND');

    expectError(await topup(cardNo, { amount: ORDER_MAX + 1, channel: 'bank_transfer' }), 422, 'PAYMENT_ORDER_LIMIT');
    expectError(await topup(cardNo, { amount: 1_000, channel: 'wechat', method: 'jsapi' }), 422, 'PAYMENT_METHOD_NOT_SUPPORTED');
    expectError(await topup(cardNo, { amount: 1_000, channel: 'cash' }), 400, 'VALIDATION_FAILED');
    expectError(await topup(cardNo, { amount: 0, channel: 'bank_transfer' }), 400, 'VALIDATION_FAILED');
    // Staff tokens are not cardholder sessions.
    expectError(await server.api('POST', `/api/v1/portal/cards/${cardNo}/topups`, { body: { amount: 1_000, channel: 'bank_transfer' } }), 401, 'UNAUTHENTICATED');
  });

  it('pages my top-ups newest first', async () => {
    const made: string[] = [];
    for (let i = 0; i < 3; i++) made.push(ok(await topup(cardNo, { amount: 100 + i, channel: 'bank_transfer' }), 201).orderNo);
    const p1 = ok(await asCardholder(server, token, 'GET', `/api/v1/portal/topups?cardNo=${cardNo}&limit=2`), 200);
    expect(p1.items.map((x: { orderNo: string }) => x.orderNo)).toEqual([made[2], made[1]]);
    const p2 = ok(await asCardholder(server, token, 'GET', `/api/v1/portal/topups?cardNo=${cardNo}&limit=2&cursor=${p1.nextCursor}`), 200);
    expect(p2.items[0].orderNo).toBe(made[0]);
  });

  it('tops up by WeChat Pay (sandbox): a QR code to scan; the payer’s poll finds a payment whose notification never arrived', async () => {
    const o = ok(await topup(cardNo, { amount: 3_000, channel: 'wechat' }), 201);
    expect(o).toMatchObject({ channel: 'wechat', method: 'native', status: 'paying', origin: 'portal' });
    expect(o.payload.qrText).toBeTruthy();
    expect(o.payload.sandboxUrl).toContain('/sandbox/wechat/');
    const before = (await getCard(server, cardNo)).balance;
    await server.deps.payments.sandboxes.wechat!.pay(o.orderNo, { notify: 'never' });
    // Within its first seconds the poll only reads…
    expect(ok(await asCardholder(server, token, 'GET', `/api/v1/portal/topups/${o.orderNo}`), 200).status).toBe('paying');
    // …an order older than 5 s is asked about at the channel.
    await sql`update recharge_orders set created_at = created_at - interval '10 seconds' where order_no = ${o.orderNo}`.execute(server.db.db);
    const after = ok(await asCardholder(server, token, 'GET', `/api/v1/portal/topups/${o.orderNo}`), 200);
    expect(after.status).toBe('credited');
    expect((await getCard(server, cardNo)).balance).toBe(before + 3_000);
  });

  it('tops up by Alipay page pay and UnionPay: a page or form for the payer, returning to the portal', async () => {
    const ali = ok(await topup(cardNo, { amount: 1_000, channel: 'alipay', method: 'page' }), 201);
    expect(ali.payload.payUrl ?? ali.payload.form).toBeTruthy();
    const up = ok(await topup(cardNo, { amount: 1_000, channel: 'unionpay' }), 201);
    expect(up).toMatchObject({ method: 'online', status: 'paying' });
    expect(up.payload.form ?? up.payload.payUrl).toBeTruthy();
    if (up.payload.form) expect(JSON.stringify(up.payload.form.fields)).toContain(`/portal/topups/${up.orderNo}`);
  });
});
