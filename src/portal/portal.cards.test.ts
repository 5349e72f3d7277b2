import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { expectLedgerOk, newCard, newStation, PIN, recharge, saleBody, sell, type Terminal } from '../../test/support/fuel.js';
import { luhnCheckDigit } from '../cards/index.js';
import { asCardholder, customerWithPhone, signIn } from './portal.fixtures.js';

/**
 * Self-service on cards through the real server: ownership, and every operation through the
 * cards module, so the POS sees its effect exactly as after the same operation at the counter.
 */
let server: TestServer;
let terminal: Terminal;
let customerId: number;
let token: string;

beforeAll(async () => {
  server = await startTestServer();
  terminal = (await newStation(server)).terminal;
  const c = await customerWithPhone(server);
  customerId = c.id;
  token = await signIn(server, c.phone);
});
afterAll(async () => {
  if (server) await expectLedgerOk(server);
  await server?.close();
});

const expectError = (r: { status: number; body: any }, status: number, code: string) => expect({ status: r.status, code: r.body?.error?.code }).toEqual({ status, code });
const api = (method: string, path: string, body?: unknown, headers?: Record<string, string>) => asCardholder(server, token, method, path, body, headers);

describe('my cards', () => {
  it('lists the customer’s cards in full with balance, available and alert; nobody else’s', async () => {
    const own = await newCard(server, { customerId, funds: 12_345 });
    const other = await newCard(server, { funds: 500 });
    await newCard(server, { kind: 'anonymous' });
    const r = await api('GET', '/api/v1/portal/cards');
    expect(r.status).toBe(200);
    const item = r.body.items.find((c: { cardNo: string }) => c.cardNo === own);
    expect(item).toEqual({
      cardNo: own,
      kind: 'personal',
      status: 'active',
      balance: 12_345,
      available: 12_345,
      sharedBalance: false,
      usableFrom: null,
      lowBalanceAlert: null,
      createdAt: expect.any(String),
    });
    expect(r.body.items.some((c: { cardNo: string }) => c.cardNo === other)).toBe(false);
    for (const c of r.body.items) {
      const row = await sql<{ customer_id: number }>`select customer_id from cards where card_no = ${c.cardNo}`.execute(server.db.db);
      expect(row.rows[0]!.customer_id).toBe(customerId);
    }
  });

  it('a card that is not the customer’s is 404 CARD_NOT_FOUND everywhere, like one that does not exist', async () => {
    const others = await newCard(server, { funds: 1_000 });
    const anonymous = await newCard(server, { kind: 'anonymous' });
    const base = '900001' + '123456789';
    const missing = base + '123' + luhnCheckDigit(base + '123');
    for (const cardNo of [others, anonymous, missing]) {
      const answers = [
        await api('GET', `/api/v1/portal/cards/${cardNo}/statement`),
        await api('POST', `/api/v1/portal/cards/${cardNo}/pin`, { oldPin: PIN, newPin: '654321' }),
        await api('POST', `/api/v1/portal/cards/${cardNo}/report-loss`, {}),
        await api('PUT', `/api/v1/portal/cards/${cardNo}/alerts`, { lowBalance: 100 }),
      ];
      for (const r of answers) expectError(r, 404, 'CARD_NOT_FOUND');
    }
    // Nothing happened to the other customer's card.
    const card = await server.api('GET', `/api/v1/cards/${others}`);
    expect(card.body.status).toBe('active');
    const pins = await sql<{ n: number }>`select count(*)::int n from card_events e join cards c on c.id = e.card_id
      where c.card_no = ${others} and e.action <> 'issue'`.execute(server.db.db);
    expect(pins.rows[0]!.n).toBe(0);
    expectError(await api('GET', '/api/v1/portal/cards/123/statement'), 400, 'VALIDATION_FAILED');
  });
});

describe('fleet: master and sub cards', () => {
  it('the fleet owner sees and acts on every sub card of their master cards; a driver sees only their own sub card, with what it can spend', async () => {
    const owner = await customerWithPhone(server, undefined, '李车队');
    const driver = await customerWithPhone(server, undefined, '张司机');
    const ownerToken = await signIn(server, owner.phone);
    const driverToken = await signIn(server, driver.phone);
    const master = await newCard(server, { kind: 'master', customerId: owner.id, funds: 100_000 });
    // A driver's sub card (its own customer) sharing the reserve, and one left with the fleet owner.
    const driverSub = await newCard(server, { kind: 'sub', masterCardNo: master, customerId: driver.id, sharedBalance: true });
    const fleetSub = await newCard(server, { kind: 'sub', masterCardNo: master });
    const allocated = await server.api('POST', `/api/v1/cards/${master}/allocations`, { body: { subCardNo: driverSub, amount: 30_000 }, idempotencyKey: randomUUID() });
    expect(allocated.status).toBe(201);
    expect((await sell(server, terminal, saleBody(driverSub, 1_000))).body).toMatchObject({ status: 'approved', balance: 99_000 });

    const listOf = async (tok: string) => (await asCardholder(server, tok, 'GET', '/api/v1/portal/cards')).body.items as Array<Record<string, unknown>>;
    const ownerCards = await listOf(ownerToken);
    expect(ownerCards.map((c) => c.cardNo)).toEqual([master, driverSub, fleetSub]);
    // The reserve is counted once, on the master card; the sub card's balance is its own allocation,
    // its available what the POS lets it spend (allocation + shared reserve), as the cards module says.
    expect(ownerCards[0]).toMatchObject({ kind: 'master', balance: 70_000, available: 70_000, sharedBalance: false });
    expect(ownerCards[1]).toMatchObject({ kind: 'sub', balance: 29_000, available: 99_000, sharedBalance: true });
    expect(ownerCards[2]).toMatchObject({ kind: 'sub', balance: 0, available: 0, sharedBalance: false });
    expect((await server.api('GET', `/api/v1/cards/${driverSub}`)).body.available).toBe(99_000);

    const driverCards = await listOf(driverToken);
    expect(driverCards.map((c) => c.cardNo)).toEqual([driverSub]);
    expect(driverCards[0]).toMatchObject({ balance: 29_000, available: 99_000 });
    // The master card and the fleet's other sub card are not the driver's.
    for (const cardNo of [master, fleetSub]) {
      expectError(await asCardholder(server, driverToken, 'GET', `/api/v1/portal/cards/${cardNo}/statement`), 404, 'CARD_NOT_FOUND');
      expectError(await asCardholder(server, driverToken, 'POST', `/api/v1/portal/cards/${cardNo}/report-loss`, {}), 404, 'CARD_NOT_FOUND');
    }

    // The fleet owner sees the driver's statement and reports the driver's card lost.
    const statement = await asCardholder(server, ownerToken, 'GET', `/api/v1/portal/cards/${driverSub}/statement?type=sale`);
    expect(statement.body.items.map((l: { amount: number }) => l.amount)).toEqual([-1_000]);
    const lost = await asCardholder(server, ownerToken, 'POST', `/api/v1/portal/cards/${driverSub}/report-loss`, {});
    expect(lost.status).toBe(200);
    expect(lost.body).toMatchObject({ cardNo: driverSub, status: 'lost' });
    expect((await listOf(driverToken))[0]).toMatchObject({ status: 'lost' });
    expect((await sell(server, terminal, saleBody(driverSub, 1_000))).body).toMatchObject({ status: 'declined', declineCode: 'CARD_LOST' });
  });
});

describe('report loss', () => {
  it('is effective at once: the POS declines the card; audited as the cardholder; a retry with the key is the same answer', async () => {
    const cardNo = await newCard(server, { customerId, funds: 10_000 });
    expect((await sell(server, terminal, saleBody(cardNo, 1_000))).body.status).toBe('approved');
    const key = randomUUID();
    const r = await api('POST', `/api/v1/portal/cards/${cardNo}/report-loss`, {}, { 'idempotency-key': key });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ cardNo, status: 'lost', balance: 9_000, available: 9_000 });
    const replay = await api('POST', `/api/v1/portal/cards/${cardNo}/report-loss`, {}, { 'idempotency-key': key });
    expect(replay.status).toBe(200);
    expect(replay.body).toEqual(r.body);
    // Without the key a second report is a new request, refused by the state machine.
    expectError(await api('POST', `/api/v1/portal/cards/${cardNo}/report-loss`), 409, 'CARD_OPERATION_NOT_ALLOWED');

    const sale = await sell(server, terminal, saleBody(cardNo, 1_000));
    expect(sale.status).toBe(200);
    expect(sale.body).toMatchObject({ status: 'declined', declineCode: 'CARD_LOST' });
    expect((await server.api('GET', `/api/v1/cards/${cardNo}`)).body.balance).toBe(9_000);

    const audit = await sql<{ actor_name: string; actor_role: string; details: { from: string; to: string } }>`
      select actor_name, actor_role, details from audit_log where action = 'card.report-loss' and target_id = ${cardNo.slice(0, 6) + '*********' + cardNo.slice(-4)}`.execute(server.db.db);
    expect(audit.rows).toEqual([{ actor_name: `customer:${customerId}`, actor_role: 'cardholder', details: { from: 'active', to: 'lost' } }]);
    const events = await sql<{ topic: string }>`select topic from outbox_events o join cards c on o.aggregate_id = c.id::text where c.card_no = ${cardNo} and topic = 'card.report-loss'`.execute(server.db.db);
    expect(events.rows.length).toBe(1);
    // Staff see it too; the counter can cancel the loss as usual.
    expect((await server.api('POST', `/api/v1/cards/${cardNo}/cancel-loss`, { body: {} })).status).toBe(200);
  });
});

describe('PIN change', () => {
  it('wrong old PIN is the cards module’s error; the new PIN buys fuel, the old one no longer does', async () => {
    const cardNo = await newCard(server, { customerId, funds: 10_000 });
    expectError(await api('POST', `/api/v1/portal/cards/${cardNo}/pin`, { oldPin: '000000', newPin: '654321' }), 403, 'CARD_PIN_WRONG');
    expectError(await api('POST', `/api/v1/portal/cards/${cardNo}/pin`, { oldPin: PIN, newPin: '12' }), 400, 'VALIDATION_FAILED');
    const ok = await api('POST', `/api/v1/portal/cards/${cardNo}/pin`, { oldPin: PIN, newPin: '654321' });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ changed: true });
    const old = await sell(server, terminal, saleBody(cardNo, 1_000));
    expect(old.body).toMatchObject({ status: 'declined', declineCode: 'PIN_WRONG' });
    const fresh = await sell(server, terminal, saleBody(cardNo, 1_000, { pin: '654321' }));
    expect(fresh.body).toMatchObject({ status: 'approved', balance: 9_000 });
    const audit = await sql<{ actor_role: string }>`select actor_role from audit_log where action = 'card.pin_change' and actor_name = ${`customer:${customerId}`}`.execute(server.db.db);
    expect(audit.rows.length).toBeGreaterThan(0);
  });

  it('wrong old PINs count towards the PIN lock, as at the counter', async () => {
    const cardNo = await newCard(server, { customerId });
    for (let i = 1; i < server.config.pinMaxTries; i++) {
      expectError(await api('POST', `/api/v1/portal/cards/${cardNo}/pin`, { oldPin: '000000', newPin: '654321' }), 403, 'CARD_PIN_WRONG');
    }
    expectError(await api('POST', `/api/v1/portal/cards/${cardNo}/pin`, { oldPin: '000000', newPin: '654321' }), 423, 'CARD_PIN_LOCKED');
    expectError(await api('POST', `/api/v1/portal/cards/${cardNo}/pin`, { oldPin: PIN, newPin: '654321' }), 423, 'CARD_PIN_LOCKED');
  });
});

describe('statement', () => {
  it('pages newest first with the staff statement’s items; type and period filters', async () => {
    const cardNo = await newCard(server, { customerId });
    for (const amount of [1_000, 2_000, 3_000]) await recharge(server, cardNo, amount);
    for (const amount of [500, 700]) expect((await sell(server, terminal, saleBody(cardNo, amount))).body.status).toBe('approved');

    const seen: any[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = `/api/v1/portal/cards/${cardNo}/statement?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const r = await api('GET', q);
      expect(r.status).toBe(200);
      expect(r.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...r.body.items);
      cursor = r.body.nextCursor;
      pages++;
    } while (cursor !== null && pages < 10);
    expect(pages).toBe(3);
    expect(seen.map((l) => [l.type, l.amount])).toEqual([
      ['sale', -700],
      ['sale', -500],
      ['recharge', 3_000],
      ['recharge', 2_000],
      ['recharge', 1_000],
    ]);
    const staff = await server.api('GET', `/api/v1/cards/${cardNo}/statement?limit=50`);
    expect(seen).toEqual(staff.body.items);

    const sales = await api('GET', `/api/v1/portal/cards/${cardNo}/statement?type=sale`);
    expect(sales.body.items.map((l: { amount: number }) => l.amount)).toEqual([-700, -500]);
    const future = await api('GET', `/api/v1/portal/cards/${cardNo}/statement?from=${encodeURIComponent(new Date(Date.now() + 3_600_000).toISOString())}`);
    expect(future.body).toEqual({ items: [], nextCursor: null });
    expectError(await api('GET', `/api/v1/portal/cards/${cardNo}/statement?cursor=not-a-cursor`), 400, 'VALIDATION_FAILED');
    expectError(await api('GET', `/api/v1/portal/cards/${cardNo}/statement?limit=500`), 400, 'VALIDATION_FAILED');
  });
});

describe('alert setting', () => {
  it('is set, shown with the card and cleared; bad amounts are 400', async () => {
    const cardNo = await newCard(server, { customerId });
    const set = await api('PUT', `/api/v1/portal/cards/${cardNo}/alerts`, { lowBalance: 5_000 });
    expect(set.status).toBe(200);
    expect(set.body).toEqual({ lowBalance: 5_000 });
    const listed = (await api('GET', '/api/v1/portal/cards')).body.items.find((c: { cardNo: string }) => c.cardNo === cardNo);
    expect(listed.lowBalanceAlert).toBe(5_000);
    for (const lowBalance of [-1, 1.5, 'abc', 1e13]) {
      expectError(await api('PUT', `/api/v1/portal/cards/${cardNo}/alerts`, { lowBalance }), 400, 'VALIDATION_FAILED');
    }
    expectError(await api('PUT', `/api/v1/portal/cards/${cardNo}/alerts`, {}), 400, 'VALIDATION_FAILED');
    expect((await api('PUT', `/api/v1/portal/cards/${cardNo}/alerts`, { lowBalance: 0 })).body).toEqual({ lowBalance: null });
    expect((await api('PUT', `/api/v1/portal/cards/${cardNo}/alerts`, { lowBalance: 1 })).body).toEqual({ lowBalance: 1 });
    expect((await api('PUT', `/api/v1/portal/cards/${cardNo}/alerts`, { lowBalance: null })).body).toEqual({ lowBalance: null });
    const cleared = (await api('GET', '/api/v1/portal/cards')).body.items.find((c: { cardNo: string }) => c.cardNo === cardNo);
    expect(cleared.lowBalanceAlert).toBeNull();
  });
});

describe('statement time filters', () => {
  it('a time that names no instant (leap second, year 0, 30 February, garbage) is 400 naming the field, never 500', async () => {
    const cardNo = await newCard(server, { customerId });
    for (const [field, value] of [
      ['from', '2016-12-31T23:59:60Z'],
      ['to', '2016-12-31T23:59:60Z'],
      ['from', '0000-01-01T00:00:00Z'],
      ['to', '2025-02-30T00:00:00Z'],
      ['from', 'yesterday'],
    ] as const) {
      const r = await api('GET', `/api/v1/portal/cards/${cardNo}/statement?${field}=${encodeURIComponent(value)}`);
      expectError(r, 400, 'VALIDATION_FAILED');
      expect(JSON.stringify(r.body.error.details)).toContain(field);
    }
    const ok = await api('GET', `/api/v1/portal/cards/${cardNo}/statement?from=${encodeURIComponent('2016-12-31T23:59:59+08:00')}&to=${encodeURIComponent('9999-12-31T00:00:00Z')}`);
    expect(ok.status).toBe(200);
  });
});
