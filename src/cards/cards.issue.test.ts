import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { expectError, getCard, issueCard, newCustomer, ok, PIN } from '../../test/support/cards-factory.js';
import { isValidCardNo } from './card.numbers.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ FUELCARD_CARD_PREFIX: '62148301' });
});
afterAll(async () => server?.close());

const issue = (body: Record<string, unknown>, role: 'admin' | 'operator' | 'station_staff' | 'finance' | 'risk' = 'admin') =>
  server.api('POST', '/api/v1/cards', { role, body: { pin: PIN, ...body } });

describe('issuing cards', () => {
  it('issues a registered personal card: active, 19-digit Luhn number with the issuer prefix, its own empty account', async () => {
    const customer = await newCustomer(server);
    const c = ok(await issue({ kind: 'personal', customerId: customer.id }), 201);
    expect(c).toMatchObject({ kind: 'personal', status: 'active', customerId: customer.id, masterCardNo: null, sharedBalance: false, balance: 0, available: 0, pinLocked: false });
    expect(c.cardNo).toMatch(/^62148301\d{11}$/);
    expect(isValidCardNo(c.cardNo)).toBe(true);
    expect(c.accounts).toEqual([{ accountId: expect.any(Number), priority: 1, kind: 'customer', own: true, balance: 0, available: 0 }]);
    expect(Object.values(c.limits).every((v) => v === null)).toBe(true);
    const listed = ok(await server.api('GET', `/api/v1/cards?customerId=${customer.id}`), 200);
    expect(listed.items.map((x: { cardNo: string }) => x.cardNo)).toEqual([c.cardNo]);
  });

  it('a retry with the same Idempotency-Key returns the card issued the first time; the key with another request is refused', async () => {
    const customerId = (await newCustomer(server)).id;
    const send = (body: Record<string, unknown>) =>
      server.api('POST', '/api/v1/cards', { role: 'station_staff', body: { pin: PIN, ...body }, headers: { 'idempotency-key': 'issue-retry-1' } });
    const first = ok(await send({ kind: 'personal', customerId }), 201);
    const again = ok(await send({ kind: 'personal', customerId }), 201);
    expect(again.cardNo).toBe(first.cardNo);
    const n = await sql<{ n: number }>`select count(*)::int n from cards where customer_id = ${customerId}`.execute(server.db.db);
    expect(n.rows[0]!.n).toBe(1);
    expectError(await send({ kind: 'master', customerId }), 409, 'IDEMPOTENCY_KEY_REUSED');
    // Keys are per member of staff: another user's identical key issues its own card.
    ok(await server.api('POST', '/api/v1/cards', { role: 'operator', body: { pin: PIN, kind: 'personal', customerId }, headers: { 'idempotency-key': 'issue-retry-1' } }), 201);
  });

  it('issues an anonymous card with no holder', async () => {
    const c = ok(await issue({ kind: 'anonymous' }), 201);
    expect(c).toMatchObject({ kind: 'anonymous', status: 'active', customerId: null });
  });

  it('issues a master card owning a reserve account, and sub cards with and without a share of it', async () => {
    const customer = await newCustomer(server);
    const master = ok(await issue({ kind: 'master', customerId: customer.id }), 201);
    expect(master).toMatchObject({ kind: 'master', customerId: customer.id, masterCardNo: null });
    expect(master.accounts).toEqual([expect.objectContaining({ kind: 'reserve', own: true, priority: 1 })]);
    const reserveId = master.accounts[0].accountId;

    const own = ok(await issue({ kind: 'sub', masterCardNo: master.cardNo }), 201);
    expect(own).toMatchObject({ kind: 'sub', masterCardNo: master.cardNo, sharedBalance: false, customerId: customer.id });
    expect(own.accounts).toEqual([expect.objectContaining({ kind: 'customer', own: true, priority: 1 })]);

    const shared = ok(await issue({ kind: 'sub', masterCardNo: master.cardNo, sharedBalance: true }), 201);
    expect(shared.sharedBalance).toBe(true);
    expect(shared.accounts.map((a: { priority: number; own: boolean; accountId: number }) => [a.priority, a.own, a.accountId === reserveId])).toEqual([
      [1, true, false],
      [2, false, true],
    ]);
    const subs = ok(await server.api('GET', `/api/v1/cards/${master.cardNo}/sub-cards`), 200);
    expect(subs.items.map((s: { cardNo: string }) => s.cardNo).sort()).toEqual([own.cardNo, shared.cardNo].sort());
  });

  it('refuses a registered or master card without a customer, and an unknown customer', async () => {
    expectError(await issue({ kind: 'personal' }), 400, 'CARD_CUSTOMER_REQUIRED');
    expectError(await issue({ kind: 'master' }), 400, 'CARD_CUSTOMER_REQUIRED');
    const r = await issue({ kind: 'personal', customerId: 987654 });
    expectError(r, 400, 'CARD_CUSTOMER_REQUIRED');
    expect(r.body.error.details.field).toBe('customerId');
  });

  it('refuses an anonymous card with a customer', async () => {
    const customer = await newCustomer(server);
    expectError(await issue({ kind: 'anonymous', customerId: customer.id }), 400, 'CARD_CUSTOMER_NOT_ALLOWED');
  });

  it('refuses a sub card without a master, or with anything but an open master card', async () => {
    expectError(await issue({ kind: 'sub' }), 400, 'CARD_MASTER_REQUIRED');
    const personal = await issueCard(server);
    expectError(await issue({ kind: 'sub', masterCardNo: personal.cardNo }), 409, 'CARD_MASTER_INVALID');
    expectError(await issue({ kind: 'sub', masterCardNo: '9000010000000000000' }), 409, 'CARD_MASTER_INVALID');
    const master = await issueCard(server, { kind: 'master' });
    const sub = await issueCard(server, { kind: 'sub', masterCardNo: master.cardNo });
    expectError(await issue({ kind: 'sub', masterCardNo: sub.cardNo }), 409, 'CARD_MASTER_INVALID');
    // A replaced master is dead; its replacement is the master now.
    const replaced = ok(await server.api('POST', `/api/v1/cards/${master.cardNo}/replace`), 200);
    expectError(await issue({ kind: 'sub', masterCardNo: master.cardNo }), 409, 'CARD_MASTER_INVALID');
    ok(await issue({ kind: 'sub', masterCardNo: replaced.newCard.cardNo }), 201);
    // A closed master too.
    const lone = await issueCard(server, { kind: 'master' });
    ok(await server.api('POST', `/api/v1/cards/${lone.cardNo}/close`), 200);
    expectError(await issue({ kind: 'sub', masterCardNo: lone.cardNo }), 409, 'CARD_MASTER_INVALID');
  });

  it('refuses a PIN that is not 6 digits, and unknown fields', async () => {
    for (const pin of ['12345', '1234567', 'abcdef', '']) expectError(await issue({ kind: 'anonymous', pin }), 400, 'VALIDATION_FAILED');
    expectError(await issue({ kind: 'anonymous', balance: 100 }), 400, 'VALIDATION_FAILED');
    expectError(await issue({ kind: 'gift' }), 400, 'VALIDATION_FAILED');
  });

  it('lets only counter roles issue', async () => {
    expectError(await issue({ kind: 'anonymous' }, 'finance'), 403, 'FORBIDDEN');
    expectError(await issue({ kind: 'anonymous' }, 'risk'), 403, 'FORBIDDEN');
    ok(await issue({ kind: 'anonymous' }, 'station_staff'), 201);
    ok(await issue({ kind: 'anonymous' }, 'operator'), 201);
  });

  it('never stores the PIN in clear, and the verify value differs between cards with the same PIN', async () => {
    const a = await issueCard(server, { kind: 'anonymous' });
    const b = await issueCard(server, { kind: 'anonymous' });
    const rows = (await sql<Record<string, unknown>>`select * from cards where card_no in (${a.cardNo}, ${b.cardNo})`.execute(server.db.db)).rows;
    for (const row of rows) expect(JSON.stringify(row)).not.toContain(PIN);
    expect(rows[0]!.pin_verify).not.toBe(rows[1]!.pin_verify);
    // Neither in the audit log nor the outbox.
    const logs = await sql<{ t: string }>`select coalesce((select string_agg(a::text, ' ') from audit_log a), '') || (select coalesce(string_agg(o::text, ' '), '') from outbox_events o) as t`.execute(server.db.db);
    expect(logs.rows[0]!.t).not.toContain(PIN);
    // The audit log names cards masked.
    const audit = await sql<{ t: string }>`select coalesce(string_agg(a::text, ' '), '') t from audit_log a`.execute(server.db.db);
    expect(audit.rows[0]!.t).not.toContain(a.cardNo);
    expect(audit.rows[0]!.t).toContain(`${a.cardNo.slice(0, 6)}*********${a.cardNo.slice(-4)}`);
  });

  it('shows full card numbers only to roles allowed to see them', async () => {
    const master = await issueCard(server, { kind: 'master' });
    const sub = await issueCard(server, { kind: 'sub', masterCardNo: master.cardNo });
    const masked = `${sub.cardNo.slice(0, 6)}*********${sub.cardNo.slice(-4)}`;
    for (const role of ['admin', 'operator', 'risk', 'station_staff'] as const) {
      const c = ok(await server.api('GET', `/api/v1/cards/${sub.cardNo}`, { role }), 200);
      expect(c.cardNo, role).toBe(sub.cardNo);
      expect(c.masterCardNo, role).toBe(master.cardNo);
    }
    const f = ok(await server.api('GET', `/api/v1/cards/${sub.cardNo}`, { role: 'finance' }), 200);
    expect(f.cardNo).toBe(masked);
    expect(f.masterCardNo).toBe(`${master.cardNo.slice(0, 6)}*********${master.cardNo.slice(-4)}`);
    expectError(await server.api('GET', `/api/v1/cards/${sub.cardNo}`, { role: 'cardholder' }), 403, 'FORBIDDEN');
    expectError(await server.api('GET', '/api/v1/cards/9000010000000000000'), 404, 'CARD_NOT_FOUND');
    expect((await getCard(server, sub.cardNo)).kind).toBe('sub');
  });
});
