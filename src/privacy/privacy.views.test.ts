import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectApproved, expectLedgerVerified, issueCard, newStation, ok } from '../../test/support/cards-factory.js';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import type { Role } from '../platform/index.js';
import { maskCardNo } from '../platform/index.js';

/**
 * Views of full card numbers in recharge orders and the sales and recharge reports: each answer
 * that shows one in clear writes one privacy.view_unmasked row; masked answers, and answers that
 * only repeat the number the caller typed, write none. Through the real server.
 */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => server?.close());

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

describe('recharge orders', () => {
  const DETAIL = 'GET /api/v1/recharge-orders/:orderNo';
  const LIST = 'GET /api/v1/recharge-orders';

  it('detail: one row for a role that sees the full number, none for a masked view', async () => {
    const card = await issueCard(server);
    const order = ok(await server.api('POST', '/api/v1/recharge-orders', { role: 'finance', body: { cardNo: card.cardNo, amount: 5_000, channel: 'bank_transfer' }, idempotencyKey: randomUUID() }), 201);
    expect(order.cardNo).toBe(maskCardNo(card.cardNo));

    const masked = await added(DETAIL, async () => expect((await get(`/api/v1/recharge-orders/${order.orderNo}`, 'finance')).cardNo).toBe(maskCardNo(card.cardNo)));
    expect(masked).toEqual([]);

    const seen = await added(DETAIL, async () => expect((await get(`/api/v1/recharge-orders/${order.orderNo}`, 'operator')).cardNo).toBe(card.cardNo));
    expect(seen).toEqual([{ actor_role: 'operator', target_type: 'recharge_order', target_id: order.orderNo, details: { fields: ['cards.card_no'], route: DETAIL } }]);
  });

  it('list: one row naming every order shown in clear; a list filtered by the typed card number writes none', async () => {
    const card = await issueCard(server);
    const orders: string[] = [];
    for (const amount of [1_000, 2_000]) {
      const o = ok(await server.api('POST', '/api/v1/recharge-orders', { role: 'admin', body: { cardNo: card.cardNo, amount, channel: 'bank_transfer' }, idempotencyKey: randomUUID() }), 201);
      expect(o.cardNo).toBe(card.cardNo); // the creator typed it: not a view
      orders.push(o.orderNo);
    }
    const [first, second] = orders as [string, string];
    expect(await viewsOf('POST /api/v1/recharge-orders')).toEqual([]);

    expect(await added(LIST, () => get(`/api/v1/recharge-orders?orderNo=${first}`, 'finance'))).toEqual([]);
    const one = await added(LIST, () => get(`/api/v1/recharge-orders?orderNo=${first}`, 'risk'));
    expect(one).toEqual([{ actor_role: 'risk', target_type: 'recharge_order', target_id: first, details: { fields: ['cards.card_no'], route: LIST, targets: [first] } }]);

    const since = new Date(Date.now() - 60_000).toISOString();
    const many = await added(LIST, async () => {
      const page = await get(`/api/v1/recharge-orders?from=${encodeURIComponent(since)}&channel=bank_transfer&limit=200`, 'station_staff');
      expect(page.items.map((o: { orderNo: string }) => o.orderNo)).toEqual(expect.arrayContaining(orders));
    });
    expect(many).toHaveLength(1);
    expect(many[0]).toMatchObject({ actor_role: 'station_staff', target_type: 'recharge_order', target_id: null });
    expect(many[0]!.details.targets).toEqual(expect.arrayContaining([first, second]));

    expect(await added(LIST, () => get(`/api/v1/recharge-orders?cardNo=${card.cardNo}`, 'admin'))).toEqual([]);
  });

  it('an order acted on by its number answers with the full number: audited for the route', async () => {
    const card = await issueCard(server);
    const o = ok(await server.api('POST', '/api/v1/recharge-orders', { role: 'finance', body: { cardNo: card.cardNo, amount: 3_000, channel: 'bank_transfer' }, idempotencyKey: randomUUID() }), 201);
    const route = 'POST /api/v1/recharge-orders/:orderNo/close';
    const rows = await added(route, async () => {
      const closed = ok(await server.api('POST', `/api/v1/recharge-orders/${o.orderNo}/close`, { role: 'operator' }), 200);
      expect(closed).toMatchObject({ status: 'closed', cardNo: card.cardNo });
    });
    expect(rows).toEqual([{ actor_role: 'operator', target_type: 'recharge_order', target_id: o.orderNo, details: { fields: ['cards.card_no'], route } }]);
    await expectLedgerVerified(server);
  });
});

describe('sales and recharge reports', () => {
  it('sales: full numbers audited with the sales shown; masked for finance; an export audited with its filters', async () => {
    const card = await issueCard(server, { funds: 10_000 });
    const { stationId, terminal } = await newStation(server);
    const a = await expectApproved(server, terminal, card.cardNo, 1_000);
    const b = await expectApproved(server, terminal, card.cardNo, 2_000);
    const url = `/api/v1/sales?stationId=${stationId}`;
    const LIST = 'GET /api/v1/sales';

    const masked = await added(LIST, async () => {
      const page = await get(url, 'finance');
      expect(page.items.map((s: { cardNo: string }) => s.cardNo)).toEqual([maskCardNo(card.cardNo), maskCardNo(card.cardNo)]);
    });
    expect(masked).toEqual([]);

    const seen = await added(LIST, async () => {
      const page = await get(url, 'station_staff');
      expect(page.items.map((s: { cardNo: string }) => s.cardNo)).toEqual([card.cardNo, card.cardNo]);
    });
    expect(seen).toEqual([{ actor_role: 'station_staff', target_type: 'sale', target_id: null, details: { fields: ['cards.card_no'], route: LIST, targets: [b.saleId, a.saleId] } }]);

    const single = await added(LIST, () => get(`${url}&limit=1`, 'admin'));
    expect(single).toEqual([{ actor_role: 'admin', target_type: 'sale', target_id: b.saleId, details: { fields: ['cards.card_no'], route: LIST, targets: [b.saleId] } }]);

    expect(await added(LIST, () => get(`${url}&cardNo=${card.cardNo}`, 'admin'))).toEqual([]);

    const EXPORT = 'GET /api/v1/sales/export';
    expect(await added(EXPORT, async () => expect((await server.api('GET', `/api/v1/sales/export?stationId=${stationId}`, { role: 'finance' })).status).toBe(200))).toEqual([]);
    const exported = await added(EXPORT, async () => expect((await server.api('GET', `/api/v1/sales/export?stationId=${stationId}`, { role: 'risk' })).status).toBe(200));
    expect(exported).toEqual([{ actor_role: 'risk', target_type: 'report', target_id: 'sales', details: { fields: ['cards.card_no'], route: EXPORT, filters: { stationId }, rows: 2 } }]);
    await expectLedgerVerified(server);
  });

  it('recharges: full numbers audited, masked views and the typed card not', async () => {
    const since = new Date(Date.now() - 1_000).toISOString();
    const card = await issueCard(server, { funds: 4_000 });
    const LIST = 'GET /api/v1/recharges';
    const url = `/api/v1/recharges?from=${encodeURIComponent(since)}&limit=200`;

    expect(await added(LIST, () => get(url, 'finance'))).toEqual([]);
    let shown: string[] = [];
    const seen = await added(LIST, async () => {
      const page = await get(url, 'operator');
      const mine = page.items.filter((r: { cardNo: string }) => r.cardNo === card.cardNo);
      expect(mine).toHaveLength(1);
      shown = page.items.map((r: { rechargeId: string }) => r.rechargeId);
    });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ actor_role: 'operator', target_type: 'recharge', details: { fields: ['cards.card_no'], route: LIST, targets: shown } });

    expect(await added(LIST, () => get(`/api/v1/recharges?cardNo=${card.cardNo}`, 'risk'))).toEqual([]);

    const EXPORT = 'GET /api/v1/recharges/export';
    const exported = await added(EXPORT, async () => expect((await server.api('GET', `/api/v1/recharges/export?cardNo=${card.cardNo}`, { role: 'admin' })).status).toBe(200));
    expect(exported).toEqual([{ actor_role: 'admin', target_type: 'report', target_id: 'recharges', details: { fields: ['cards.card_no'], route: EXPORT, filters: { cardNo: maskCardNo(card.cardNo) }, rows: 1 } }]);
    await expectLedgerVerified(server);
  });
});
