import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cardOp, expectLedgerVerified, issueCard, ok } from '../../test/support/cards-factory.js';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { formatBankStatement } from '../payments/channels/offline/bank-statement.js';
import type { Role } from '../platform/index.js';
import { maskCardNo } from '../platform/index.js';

/**
 * Views of payer names, payee names and full card numbers in incoming bank transfers, refunds,
 * card-close payouts, reconciliation items and the offline whitelist: each answer that shows one in
 * clear writes one privacy.view_unmasked row naming the fields (and, for lists, the records);
 * masked answers, and answers that only repeat the number the caller typed, write none.
 * Through the real server; each test owns its value dates.
 */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => server?.close());
afterEach(async () => expectLedgerVerified(server));

type Row = { actor_role: string; target_type: string; target_id: string | null; details: Record<string, unknown> };

async function viewsOf(route: string): Promise<Row[]> {
  const r = await sql<Row>`select actor_role, target_type, target_id, details from audit_log
    where action = 'privacy.view_unmasked' and details->>'route' = ${route} order by id`.execute(server.db.db);
  return r.rows;
}

/** Rows the call adds for the route. */
async function added(route: string, call: () => Promise<unknown>): Promise<Row[]> {
  const before = (await viewsOf(route)).length;
  await call();
  return (await viewsOf(route)).slice(before);
}

const get = async (url: string, role: Role) => ok(await server.api('GET', url, { role }), 200, `GET ${url}`);
const bankOrder = async (cardNo: string, amount: number) =>
  ok(await server.api('POST', '/api/v1/recharge-orders', { role: 'finance', body: { cardNo, amount, channel: 'bank_transfer' }, idempotencyKey: randomUUID() }), 201, 'bank order');
let txnSeq = 0;
const txn = () => `BV${Date.now()}${++txnSeq}`;
const enter = async (body: Record<string, unknown>) => ok(await server.api('POST', '/api/v1/bank-transfers', { role: 'finance', body: { bankTxnId: txn(), ...body } }), 201, 'transfer in');
const PAYEE = { name: '张三丰', account: '6222020200112233445', bank: '工商银行' };

describe('incoming bank transfers', () => {
  const LIST = 'GET /api/v1/bank-transfers';
  const DETAIL = 'GET /api/v1/bank-transfers/:id';

  it('payer names audited for admin and finance; the card number masked for finance, in clear and audited for admin', async () => {
    const D = '2026-01-05';
    const card = await issueCard(server);
    const o = await bankOrder(card.cardNo, 4_200);
    const matched = await enter({ valueDate: D, amount: 4_200, payerName: '王小五', memo: `充值 ${o.payerCode}` });
    expect(matched).toMatchObject({ status: 'matched', cardNo: maskCardNo(card.cardNo), payerName: '王小五' });
    const anonymous = await enter({ valueDate: D, amount: 999, memo: '货款' });
    expect(anonymous).toMatchObject({ status: 'unmatched', cardNo: null, payerName: null });
    const url = `/api/v1/bank-transfers?from=${D}&to=${D}`;

    const byFinance = await added(LIST, async () => {
      const page = await get(url, 'finance');
      expect(page.items.map((t: { id: number; cardNo: string | null }) => [t.id, t.cardNo])).toEqual([
        [anonymous.id, null],
        [matched.id, maskCardNo(card.cardNo)],
      ]);
    });
    // The transfer with neither a payer name nor a card shows nothing in clear: not named.
    expect(byFinance).toEqual([
      { actor_role: 'finance', target_type: 'bank_transfer', target_id: String(matched.id), details: { fields: ['bank_transfers_in.payer_name'], route: LIST, targets: [matched.id] } },
    ]);

    const byAdmin = await added(LIST, async () => expect((await get(url, 'admin')).items[1].cardNo).toBe(card.cardNo));
    expect(byAdmin).toEqual([
      {
        actor_role: 'admin',
        target_type: 'bank_transfer',
        target_id: String(matched.id),
        details: { fields: ['bank_transfers_in.payer_name', 'cards.card_no'], route: LIST, targets: [matched.id] },
      },
    ]);

    const detail = await added(DETAIL, async () => expect((await get(`/api/v1/bank-transfers/${matched.id}`, 'finance')).cardNo).toBe(maskCardNo(card.cardNo)));
    expect(detail).toEqual([{ actor_role: 'finance', target_type: 'bank_transfer', target_id: String(matched.id), details: { fields: ['bank_transfers_in.payer_name'], route: DETAIL } }]);
    expect(await added(DETAIL, () => get(`/api/v1/bank-transfers/${anonymous.id}`, 'admin'))).toEqual([]);

    // Matching by hand answers with the card masked for finance.
    const o2 = await bankOrder(card.cardNo, 999);
    const m = ok(await server.api('POST', `/api/v1/bank-transfers/${anonymous.id}/match`, { role: 'finance', body: { orderNo: o2.orderNo } }), 200);
    expect(m).toMatchObject({ status: 'matched', cardNo: maskCardNo(card.cardNo) });
  });
});

describe('refunds', () => {
  const LIST = 'GET /api/v1/refunds';
  const DETAIL = 'GET /api/v1/refunds/:refundNo';

  it('card numbers masked for finance, payee names masked for operator and risk; each view in clear audited once', async () => {
    const card = await issueCard(server);
    const o = await bankOrder(card.cardNo, 3_000);
    await enter({ valueDate: '2026-01-06', amount: 3_000, payerName: '张三丰', memo: `充值 ${o.payerCode}` });
    const r = ok(
      await server.api('POST', `/api/v1/recharge-orders/${o.orderNo}/refunds`, { role: 'finance', body: { amount: 1_000, reason: '多充', payee: PAYEE }, idempotencyKey: randomUUID() }),
      201,
    );
    expect(r).toMatchObject({ cardNo: maskCardNo(card.cardNo), payee: { name: '张三丰', account: '6222****3445' } });
    const url = `/api/v1/refunds?orderNo=${o.orderNo}`;

    const byFinance = await added(LIST, async () => {
      const [item] = (await get(url, 'finance')).items;
      expect(item).toMatchObject({ refundNo: r.refundNo, cardNo: maskCardNo(card.cardNo), payee: { name: '张三丰', account: '6222****3445' } });
    });
    expect(byFinance).toEqual([{ actor_role: 'finance', target_type: 'refund', target_id: r.refundNo, details: { fields: ['payment_refunds.payee'], route: LIST, targets: [r.refundNo] } }]);

    const byOperator = await added(LIST, async () => {
      const [item] = (await get(url, 'operator')).items;
      expect(item).toMatchObject({ cardNo: card.cardNo, payee: { name: '张**', account: '6222****3445' } });
    });
    expect(byOperator).toEqual([{ actor_role: 'operator', target_type: 'refund', target_id: r.refundNo, details: { fields: ['cards.card_no'], route: LIST, targets: [r.refundNo] } }]);

    const byAdmin = await added(LIST, () => get(url, 'admin'));
    expect(byAdmin).toEqual([
      { actor_role: 'admin', target_type: 'refund', target_id: r.refundNo, details: { fields: ['cards.card_no', 'payment_refunds.payee'], route: LIST, targets: [r.refundNo] } },
    ]);
    // The typed card number is not a view; risk sees no payee name, so nothing else is in clear.
    expect(await added(LIST, () => get(`/api/v1/refunds?cardNo=${card.cardNo}`, 'risk'))).toEqual([]);

    const detailFinance = await added(DETAIL, async () => {
      const d = await get(`/api/v1/refunds/${r.refundNo}`, 'finance');
      expect(d).toMatchObject({ cardNo: maskCardNo(card.cardNo), payout: { name: '张三丰', account: PAYEE.account } });
    });
    expect(detailFinance).toEqual([{ actor_role: 'finance', target_type: 'refund', target_id: r.refundNo, details: { fields: ['payment_refunds.payee'], route: DETAIL } }]);

    const detailRisk = await added(DETAIL, async () => {
      const d = await get(`/api/v1/refunds/${r.refundNo}`, 'risk');
      expect(d).toMatchObject({ cardNo: card.cardNo, payee: { name: '张**' } });
      expect(d.payout).toBeUndefined();
    });
    expect(detailRisk).toEqual([{ actor_role: 'risk', target_type: 'refund', target_id: r.refundNo, details: { fields: ['cards.card_no'], route: DETAIL } }]);

    const detailAdmin = await added(DETAIL, () => get(`/api/v1/refunds/${r.refundNo}`, 'admin'));
    expect(detailAdmin).toEqual([{ actor_role: 'admin', target_type: 'refund', target_id: r.refundNo, details: { fields: ['cards.card_no', 'payment_refunds.payee'], route: DETAIL } }]);
  });

  it('a refund with no payee, read by finance, shows nothing in clear: no row', async () => {
    const card = await issueCard(server);
    const o = ok(await server.api('POST', '/api/v1/recharge-orders', { role: 'finance', body: { cardNo: card.cardNo, amount: 2_000, channel: 'cash' }, idempotencyKey: randomUUID() }), 201);
    const r = ok(await server.api('POST', `/api/v1/recharge-orders/${o.orderNo}/refunds`, { role: 'finance', body: { amount: 500, reason: '多充' }, idempotencyKey: randomUUID() }), 201);
    expect(await added(LIST, () => get(`/api/v1/refunds?orderNo=${o.orderNo}`, 'finance'))).toEqual([]);
    expect(await added(DETAIL, async () => expect((await get(`/api/v1/refunds/${r.refundNo}`, 'finance')).cardNo).toBe(maskCardNo(card.cardNo)))).toEqual([]);
  });

  it('card-close payouts: the card number masked for finance, in clear and audited for admin', async () => {
    const card = await issueCard(server);
    const o = await bankOrder(card.cardNo, 2_000);
    await enter({ valueDate: '2026-01-07', amount: 2_000, payerName: '李四', memo: `充值 ${o.payerCode}` });
    const closed = ok(await cardOp(server, card.cardNo, 'close', { refundMethod: 'original_channel' }), 200);
    const id: string = closed.refund.refundId;
    const DETAIL_CR = 'GET /api/v1/card-refunds/:id';
    const LIST_CR = 'GET /api/v1/card-refunds';

    expect(await added(DETAIL_CR, async () => expect((await get(`/api/v1/card-refunds/${id}`, 'finance')).cardNo).toBe(maskCardNo(card.cardNo)))).toEqual([]);
    const seen = await added(DETAIL_CR, async () => expect((await get(`/api/v1/card-refunds/${id}`, 'admin')).cardNo).toBe(card.cardNo));
    expect(seen).toEqual([{ actor_role: 'admin', target_type: 'card_refund', target_id: id, details: { fields: ['cards.card_no'], route: DETAIL_CR } }]);

    const page = await get('/api/v1/card-refunds?status=payable&limit=200', 'finance');
    expect(page.items.find((x: { id: string }) => x.id === id).cardNo).toBe(maskCardNo(card.cardNo));
    const listed = await added(LIST_CR, () => get('/api/v1/card-refunds?status=payable&limit=200', 'admin'));
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ actor_role: 'admin', target_type: 'card_refund', details: { fields: ['cards.card_no'], route: LIST_CR } });
    expect(listed[0]!.details.targets).toContain(id);

    // Once a part has a payee, finance's view shows its name in clear: audited.
    const started = ok(await server.api('POST', `/api/v1/card-refunds/${id}/payout`, { role: 'finance' }), 200);
    expect(started.cardNo).toBe(maskCardNo(card.cardNo));
    const part = started.parts[0];
    ok(await server.api('POST', `/api/v1/refunds/${part.refundNo}/confirm`, { role: 'finance', body: { bankReference: `CC${part.refundNo}`, payee: PAYEE } }), 200);
    const withPayee = await added(DETAIL_CR, () => get(`/api/v1/card-refunds/${id}`, 'finance'));
    expect(withPayee).toEqual([{ actor_role: 'finance', target_type: 'card_refund', target_id: id, details: { fields: ['payment_refunds.payee'], route: DETAIL_CR } }]);
  });
});

describe('reconciliation item', () => {
  it('the order’s card number masked for finance; in clear and audited for operator', async () => {
    const D = '2026-01-08';
    const card = await issueCard(server);
    const o = await bankOrder(card.cardNo, 5_000);
    const bankTxnId = txn();
    await enter({ bankTxnId, valueDate: D, amount: 5_000, memo: `充值 ${o.payerCode}` });
    const file = formatBankStatement([{ date: D, bankTxnId, income: 4_000, memo: o.payerCode }], {});
    ok(
      await server.api('POST', '/api/v1/reconciliation/statements', {
        role: 'finance',
        body: { channel: 'bank_transfer', billDate: D, fileName: `银行对账单-${D}.csv`, contentBase64: file.toString('base64') },
      }),
      201,
    );
    const [item] = (await get(`/api/v1/reconciliation/items?channel=bank_transfer&billDate=${D}`, 'risk')).items;
    const ROUTE = 'GET /api/v1/reconciliation/items/:id';

    expect(await added(ROUTE, async () => expect((await get(`/api/v1/reconciliation/items/${item.id}`, 'finance')).order.cardNo).toBe(maskCardNo(card.cardNo)))).toEqual([]);
    const seen = await added(ROUTE, async () => expect((await get(`/api/v1/reconciliation/items/${item.id}`, 'operator')).order).toMatchObject({ orderNo: o.orderNo, cardNo: card.cardNo }));
    expect(seen).toEqual([{ actor_role: 'operator', target_type: 'reconciliation_item', target_id: String(item.id), details: { fields: ['cards.card_no'], route: ROUTE } }]);
  });
});

describe('offline whitelist', () => {
  it('a staff list of full numbers is audited with the masked numbers; a list filtered by the typed number is not', async () => {
    const a = await issueCard(server);
    const b = await issueCard(server);
    for (const c of [a, b]) ok(await server.api('PUT', `/api/v1/offline/whitelist/${c.cardNo}`, { role: 'operator', body: { floorSale: 10_000, floorDay: 20_000 } }), 200);
    const ROUTE = 'GET /api/v1/offline/whitelist';

    const seen = await added(ROUTE, async () => {
      const page = await get('/api/v1/offline/whitelist?limit=200', 'risk');
      expect(page.items.map((e: { cardNo: string }) => e.cardNo)).toEqual(expect.arrayContaining([a.cardNo, b.cardNo]));
    });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ actor_role: 'risk', target_type: 'offline_whitelist', target_id: null, details: { fields: ['offline_whitelist.card_no'], route: ROUTE } });
    expect(seen[0]!.details.targets).toEqual(expect.arrayContaining([maskCardNo(a.cardNo), maskCardNo(b.cardNo)]));
    expect(JSON.stringify(seen[0])).not.toContain(a.cardNo);

    expect(await added(ROUTE, () => get(`/api/v1/offline/whitelist?cardNo=${a.cardNo}`, 'admin'))).toEqual([]);
  });
});
