import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stableStringify } from '../platform/index.js';
import { startTestServer, terminalPost, type TestServer } from '../../test/support/server.js';
import {
  cardOp,
  expectDeclined,
  expectError,
  expectLedgerVerified,
  issueCard,
  newStation,
  ok,
  PIN,
  recharge,
  saleBody,
  SALE_PATH,
  type TestTerminal,
} from '../../test/support/cards-factory.js';
import { lockCardByNo } from './cards.repository.js';

let server: TestServer;
let terminal: TestTerminal;
beforeAll(async () => {
  server = await startTestServer();
  terminal = (await newStation(server)).terminal;
});
afterAll(async () => server?.close());

describe('a refusal is the answer for its Idempotency-Key', () => {
  it('an allocation refused for want of funds stays refused on retry, even after the reserve is topped up', async () => {
    const master = await issueCard(server, { kind: 'master' });
    const sub = await issueCard(server, { kind: 'sub', masterCardNo: master.cardNo });
    const allocate = (key: string) =>
      server.api('POST', `/api/v1/cards/${master.cardNo}/allocations`, { role: 'operator', idempotencyKey: key, body: { subCardNo: sub.cardNo, amount: 500 } });
    expectError(await allocate('alloc-1'), 409, 'LEDGER_INSUFFICIENT_FUNDS');
    await recharge(server, master.cardNo, 10_000);
    expectError(await allocate('alloc-1'), 409, 'LEDGER_INSUFFICIENT_FUNDS');
    const moved = ok(await allocate('alloc-2'), 201);
    expect(moved.subBalance).toBe(500);
    // The same key with another body is still a conflict, not a replay of the refusal.
    const other = await server.api('POST', `/api/v1/cards/${master.cardNo}/allocations`, {
      role: 'operator',
      idempotencyKey: 'alloc-1',
      body: { subCardNo: sub.cardNo, amount: 600 },
    });
    expectError(other, 409, 'IDEMPOTENCY_KEY_REUSED');
    await expectLedgerVerified(server);
  });

  it('keys belong to the member of staff: two cashiers may use the same key', async () => {
    const card = await issueCard(server);
    const body = { amount: 1_000, channel: 'cash' };
    const a = ok(await server.api('POST', `/api/v1/cards/${card.cardNo}/recharges`, { role: 'station_staff', idempotencyKey: 'till-0001', body }), 201);
    const b = ok(await server.api('POST', `/api/v1/cards/${card.cardNo}/recharges`, { role: 'operator', idempotencyKey: 'till-0001', body }), 201);
    expect(a.receiptNo).not.toBe(b.receiptNo);
    expect(b.balance).toBe(2_000);
    await expectLedgerVerified(server);
  });
});

describe('forecourt cashiers (station_staff) cannot move a card’s value or get round its PIN', () => {
  it('is refused replace, close, PIN reset, allocations and recalls', async () => {
    const card = await issueCard(server, { funds: 5_000 });
    const master = await issueCard(server, { kind: 'master' });
    const sub = await issueCard(server, { kind: 'sub', masterCardNo: master.cardNo });
    const as = { role: 'station_staff' as const };
    expectError(await server.api('POST', `/api/v1/cards/${card.cardNo}/replace`, as), 403, 'FORBIDDEN');
    expectError(await server.api('POST', `/api/v1/cards/${card.cardNo}/close`, as), 403, 'FORBIDDEN');
    expectError(await server.api('POST', `/api/v1/cards/${card.cardNo}/pin/reset`, { ...as, body: { newPin: '654321' } }), 403, 'FORBIDDEN');
    expectError(await server.api('POST', `/api/v1/cards/${master.cardNo}/allocations`, { ...as, body: { subCardNo: sub.cardNo, amount: 1 } }), 403, 'FORBIDDEN');
    expectError(await server.api('POST', `/api/v1/cards/${master.cardNo}/recalls`, { ...as, body: { subCardNo: sub.cardNo } }), 403, 'FORBIDDEN');
    // …but still does the counter's everyday work.
    ok(await server.api('POST', `/api/v1/cards/${card.cardNo}/report-loss`, as), 200);
    ok(await server.api('POST', `/api/v1/cards/${card.cardNo}/cancel-loss`, as), 200);
    ok(await server.api('POST', `/api/v1/cards/${card.cardNo}/pin/change`, { ...as, body: { oldPin: PIN, newPin: '654321' } }), 204);
  });
});

describe('the PIN stays secret', () => {
  it('a sale’s stored request hash cannot be tested against PINs without the server’s key', async () => {
    const card = await issueCard(server, { funds: 10_000 });
    const body = saleBody(card.cardNo, 1_000);
    ok(await terminalPost(server, terminal, SALE_PATH, body, { idempotencyKey: 'pin-hash-1' }), 200);
    const row = await sql<{ request_hash: string }>`select request_hash from idempotency_keys where key = 'pin-hash-1'`.execute(server.db.db);
    const plain = createHash('sha256').update(stableStringify(body)).digest('hex');
    expect(row.rows[0]!.request_hash).not.toBe(plain);
    await expectLedgerVerified(server);
  });

  it('a decline before the PIN was checked never shows the balance, whatever the PIN', async () => {
    const master = await issueCard(server, { kind: 'master', funds: 7_777 });
    const sub = await issueCard(server, { kind: 'sub', masterCardNo: master.cardNo, sharedBalance: true });
    ok(await cardOp(server, master.cardNo, 'freeze'), 200);
    const wrong = await expectDeclined(server, terminal, sub.cardNo, 1_000, 'MASTER_CARD_FROZEN', { pin: '000000' });
    expect(wrong.balance).toBeNull();
  });
});

describe('locking a card', () => {
  it('sees the accounts linked by the transaction it waited for', async () => {
    const card = await issueCard(server);
    const db = server.db.db;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let linked!: () => void;
    const linkedNow = new Promise<void>((r) => (linked = r));
    // Transaction A locks the card and links a second account, but waits before committing.
    const a = db.transaction().execute(async (trx) => {
      await lockCardByNo(trx, card.cardNo);
      const acct = await sql<{ id: number }>`insert into ledger_accounts (kind, name, flags) values ('customer', 'extra', 1) returning id`.execute(trx);
      await sql`insert into card_accounts (card_id, account_id, priority) select id, ${acct.rows[0]!.id}, 2 from cards where card_no = ${card.cardNo}`.execute(trx);
      linked();
      await gate;
    });
    await linkedNow;
    // Transaction B waits for the lock; once A commits it must see both accounts.
    const b = db.transaction().execute((trx) => lockCardByNo(trx, card.cardNo));
    await new Promise((r) => setTimeout(r, 150));
    release();
    await a;
    const seen = await b;
    expect(seen?.account_ids).toHaveLength(2);
  });
});

describe('the loss waiting period cannot be got round through the fleet', () => {
  it('refuses to recall money from a lost sub card, or from its replacement, until the wait has passed', async () => {
    const master = await issueCard(server, { kind: 'master', funds: 10_000 });
    const sub = await issueCard(server, { kind: 'sub', masterCardNo: master.cardNo });
    ok(await server.api('POST', `/api/v1/cards/${master.cardNo}/allocations`, { role: 'operator', body: { subCardNo: sub.cardNo, amount: 5_000 } }), 201);
    ok(await cardOp(server, sub.cardNo, 'report-loss'), 200);
    const recall = (subCardNo: string) => server.api('POST', `/api/v1/cards/${master.cardNo}/recalls`, { role: 'operator', body: { subCardNo } });
    expectError(await recall(sub.cardNo), 409, 'CARD_LOSS_WAIT');
    const replaced = ok(await cardOp(server, sub.cardNo, 'replace'), 200);
    expectError(await recall(replaced.newCard.cardNo), 409, 'CARD_LOSS_WAIT');
    await sql`update cards set usable_from = now() - interval '1 second' where card_no = ${replaced.newCard.cardNo}`.execute(server.db.db);
    expect(ok(await recall(replaced.newCard.cardNo), 201).amount).toBe(5_000);
    await expectLedgerVerified(server);
  });
});
