import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import {
  cardOp,
  expectApproved,
  expectDeclined,
  expectError,
  expectLedgerVerified,
  getCard,
  issueCard,
  newStation,
  ok,
  recharge,
  type TestTerminal,
} from '../../test/support/cards-factory.js';

let server: TestServer;
let terminal: TestTerminal;
beforeAll(async () => {
  server = await startTestServer();
  ({ terminal } = await newStation(server));
});
afterAll(async () => server?.close());
afterEach(async () => expectLedgerVerified(server));

const link = (cardNo: string, body: Record<string, unknown> = {}) => server.api('POST', `/api/v1/cards/${cardNo}/accounts`, { body });
const reorder = (cardNo: string, order: number[]) => server.api('PUT', `/api/v1/cards/${cardNo}/accounts`, { body: { order } });
const saleTransfers = async (saleId: string) => ok(await server.api('GET', `/api/v1/sales/${saleId}`), 200).transfers.map((t: { accountId: number; amount: number }) => [t.accountId, t.amount]);
const balances = async (cardNo: string) => (await getCard(server, cardNo)).accounts.map((a: { accountId: number; priority: number; balance: number }) => [a.accountId, a.priority, a.balance]);

describe('one card, several accounts (一卡多户)', () => {
  it('opens a second account, recharges into it, and spends the accounts in priority order', async () => {
    const c = await issueCard(server, { funds: 300 });
    const own = c.accounts[0].accountId;
    const v = ok(await link(c.cardNo), 200);
    const extra = v.accounts.find((a: { own: boolean }) => !a.own);
    expect(extra).toMatchObject({ priority: 2, kind: 'customer', balance: 0 });
    const r = await recharge(server, c.cardNo, 500, { accountId: extra.accountId });
    expect(r).toMatchObject({ accountId: extra.accountId, accountBalance: 500, balance: 800 });

    const sale = await expectApproved(server, terminal, c.cardNo, 600);
    expect(sale.balance).toBe(200);
    expect(await saleTransfers(sale.saleId)).toEqual([
      [own, 300],
      [extra.accountId, 300],
    ]);
    expect(await balances(c.cardNo)).toEqual([
      [own, 1, 0],
      [extra.accountId, 2, 200],
    ]);
  });

  it('reorders the accounts; the next sale follows the new order', async () => {
    const c = await issueCard(server, { funds: 1000 });
    const own = c.accounts[0].accountId;
    const extra = ok(await link(c.cardNo), 200).accounts[1].accountId;
    await recharge(server, c.cardNo, 1000, { accountId: extra });
    const v = ok(await reorder(c.cardNo, [extra, own]), 200);
    expect(v.accounts.map((a: { accountId: number; priority: number }) => [a.accountId, a.priority])).toEqual([
      [extra, 1],
      [own, 2],
    ]);
    const sale = await expectApproved(server, terminal, c.cardNo, 1200);
    expect(await saleTransfers(sale.saleId)).toEqual([
      [extra, 1000],
      [own, 200],
    ]);
    // New recharges still go to the first account by priority unless one is chosen.
    expect((await recharge(server, c.cardNo, 50)).accountId).toBe(extra);

    for (const bad of [[own], [own, extra, own], [own, 999_999]]) expectError(await reorder(c.cardNo, bad), 409, 'CARD_ACCOUNT_LINK_INVALID');
    ok(await cardOp(server, c.cardNo, 'close'), 200);
    expectError(await reorder(c.cardNo, [own, extra]), 409, 'CARD_OPERATION_NOT_ALLOWED');
  });

  it('links an existing account of the same holder, and refuses anyone else’s', async () => {
    const a = await issueCard(server, { funds: 100 });
    const b = await issueCard(server, { customerId: a.customerId, funds: 400 });
    const stranger = await issueCard(server, { funds: 100 });
    const bAccount = b.accounts[0].accountId;
    const v = ok(await link(a.cardNo, { accountId: bAccount, priority: 5 }), 200);
    expect(v.accounts.map((x: { accountId: number; priority: number; own: boolean }) => [x.priority, x.own])).toEqual([
      [1, true],
      [5, false],
    ]);
    expect(v.balance).toBe(500);
    expectError(await link(a.cardNo, { accountId: bAccount }), 409, 'CARD_ACCOUNT_LINK_INVALID');
    expectError(await link(a.cardNo, { priority: 5 }), 409, 'CARD_ACCOUNT_LINK_INVALID');
    expectError(await link(a.cardNo, { accountId: stranger.accounts[0].accountId }), 409, 'CARD_ACCOUNT_LINK_INVALID');
    const settlement = await sql<{ id: number }>`select id from ledger_accounts where kind = 'station_settlement' limit 1`.execute(server.db.db);
    expectError(await link(a.cardNo, { accountId: settlement.rows[0]!.id }), 409, 'CARD_ACCOUNT_LINK_INVALID');
    expectError(await link(a.cardNo, { accountId: 999_999 }), 404, 'LEDGER_ACCOUNT_NOT_FOUND');
    expectError(await link(a.cardNo, { priority: 10 }), 400, 'VALIDATION_FAILED');
    expectError(await server.api('POST', `/api/v1/cards/${a.cardNo}/accounts`, { role: 'station_staff', body: {} }), 403, 'FORBIDDEN');
    // Both cards spend the shared account.
    await expectApproved(server, terminal, a.cardNo, 450);
    expect((await getCard(server, b.cardNo)).balance).toBe(50);
  });
});

describe('master and sub cards', () => {
  const allocate = (master: string, sub: string, amount: number, key?: string) =>
    server.api('POST', `/api/v1/cards/${master}/allocations`, { body: { subCardNo: sub, amount }, ...(key ? { idempotencyKey: key } : {}) });
  const recall = (master: string, sub: string, amount?: number, key?: string) =>
    server.api('POST', `/api/v1/cards/${master}/recalls`, { body: { subCardNo: sub, ...(amount !== undefined ? { amount } : {}) }, ...(key ? { idempotencyKey: key } : {}) });

  it('a sub card with a shared balance spends its own account first, then the master reserve', async () => {
    const master = await issueCard(server, { kind: 'master', funds: 1000 });
    const reserve = master.accounts[0].accountId;
    const shared = await issueCard(server, { kind: 'sub', masterCardNo: master.cardNo, sharedBalance: true });
    ok(await allocate(master.cardNo, shared.cardNo, 300), 201);
    expect(await getCard(server, shared.cardNo)).toMatchObject({ balance: 1000, available: 1000 });
    const sale = await expectApproved(server, terminal, shared.cardNo, 500);
    expect(await saleTransfers(sale.saleId)).toEqual([
      [shared.accounts[0].accountId, 300],
      [reserve, 200],
    ]);
    expect((await getCard(server, master.cardNo)).balance).toBe(500);
    await expectDeclined(server, terminal, shared.cardNo, 501, 'INSUFFICIENT_FUNDS');

    // Without a share, the sub card has only what was allocated to it.
    const own = await issueCard(server, { kind: 'sub', masterCardNo: master.cardNo });
    ok(await allocate(master.cardNo, own.cardNo, 300), 201);
    await expectDeclined(server, terminal, own.cardNo, 301, 'INSUFFICIENT_FUNDS');
    await expectApproved(server, terminal, own.cardNo, 300);
    expect((await getCard(server, master.cardNo)).balance).toBe(200);
  });

  it('allocates from the reserve (分配) and recalls (回收) part or all of a sub card balance', async () => {
    const master = await issueCard(server, { kind: 'master', funds: 5000 });
    const sub = await issueCard(server, { kind: 'sub', masterCardNo: master.cardNo });
    const a = ok(await allocate(master.cardNo, sub.cardNo, 2000), 201);
    expect(a).toMatchObject({ amount: 2000, masterCardNo: master.cardNo, subCardNo: sub.cardNo, masterBalance: 3000, subBalance: 2000, transferId: expect.any(String) });
    const r = ok(await recall(master.cardNo, sub.cardNo, 500), 201);
    expect(r).toMatchObject({ amount: 500, masterBalance: 3500, subBalance: 1500 });
    await expectApproved(server, terminal, sub.cardNo, 200);
    const all = ok(await recall(master.cardNo, sub.cardNo), 201);
    expect(all).toMatchObject({ amount: 1300, masterBalance: 4800, subBalance: 0 });
    expect(await getCard(server, sub.cardNo)).toMatchObject({ balance: 0 });
    // The money of a lost sub card stays put during the loss waiting period (it may still be spent
    // offline), and can be recalled once the wait has passed.
    ok(await allocate(master.cardNo, sub.cardNo, 100), 201);
    ok(await cardOp(server, sub.cardNo, 'report-loss'), 200);
    expectError(await recall(master.cardNo, sub.cardNo), 409, 'CARD_LOSS_WAIT');
    await sql`update cards set lost_at = now() - interval '25 hours' where card_no = ${sub.cardNo}`.execute(server.db.db);
    expect(ok(await recall(master.cardNo, sub.cardNo), 201)).toMatchObject({ amount: 100, subBalance: 0 });
    // …but nothing more can be allocated to it.
    expectError(await allocate(master.cardNo, sub.cardNo, 100), 409, 'CARD_OPERATION_NOT_ALLOWED');
  });

  it('allocates once per Idempotency-Key, even when the retries race', async () => {
    const master = await issueCard(server, { kind: 'master', funds: 5000 });
    const sub = await issueCard(server, { kind: 'sub', masterCardNo: master.cardNo });
    const key = randomUUID();
    const first = ok(await allocate(master.cardNo, sub.cardNo, 700, key), 201);
    const again = ok(await allocate(master.cardNo, sub.cardNo, 700, key), 201);
    expect(again).toEqual(first);
    const racing = randomUUID();
    const answers = await Promise.all(Array.from({ length: 8 }, () => allocate(master.cardNo, sub.cardNo, 300, racing)));
    const bodies = answers.map((x) => ok(x, 201));
    expect(new Set(bodies.map((b) => b.transferId)).size).toBe(1);
    expect((await getCard(server, master.cardNo)).balance).toBe(4000);
    expect((await getCard(server, sub.cardNo)).balance).toBe(1000);
    const moves = await sql<{ n: number }>`select count(*)::int n from ledger_transfers where code = 'allocation' and debit_account_id = ${master.accounts[0].accountId}`.execute(server.db.db);
    expect(moves.rows[0]!.n).toBe(2);

    expectError(await allocate(master.cardNo, sub.cardNo, 701, key), 409, 'IDEMPOTENCY_KEY_REUSED');
    const rk = randomUUID();
    const r1 = ok(await recall(master.cardNo, sub.cardNo, 100, rk), 201);
    expect(ok(await recall(master.cardNo, sub.cardNo, 100, rk), 201).transferId).toBe(r1.transferId);
    expectError(await recall(master.cardNo, sub.cardNo, 200, rk), 409, 'IDEMPOTENCY_KEY_REUSED');
    expect((await getCard(server, sub.cardNo)).balance).toBe(900);
  });

  it('refuses an allocation beyond the reserve, and a recall beyond the sub card balance, moving nothing', async () => {
    const master = await issueCard(server, { kind: 'master', funds: 1000 });
    const sub = await issueCard(server, { kind: 'sub', masterCardNo: master.cardNo });
    expectError(await allocate(master.cardNo, sub.cardNo, 1001), 409, 'LEDGER_INSUFFICIENT_FUNDS');
    ok(await allocate(master.cardNo, sub.cardNo, 1000), 201);
    expectError(await recall(master.cardNo, sub.cardNo, 1001), 409, 'LEDGER_INSUFFICIENT_FUNDS');
    expect((await getCard(server, master.cardNo)).balance).toBe(0);
    expect((await getCard(server, sub.cardNo)).balance).toBe(1000);
    for (const amount of [0, -5]) expectError(await allocate(master.cardNo, sub.cardNo, amount), 400, 'VALIDATION_FAILED');
  });

  it('refuses cards that are not the master and its sub', async () => {
    const master = await issueCard(server, { kind: 'master', funds: 1000 });
    const other = await issueCard(server, { kind: 'master', funds: 1000 });
    const sub = await issueCard(server, { kind: 'sub', masterCardNo: master.cardNo });
    const otherSub = await issueCard(server, { kind: 'sub', masterCardNo: other.cardNo });
    const personal = await issueCard(server, { funds: 100 });
    expectError(await allocate(master.cardNo, personal.cardNo, 10), 409, 'CARD_NOT_SUB_OF_MASTER');
    expectError(await allocate(master.cardNo, otherSub.cardNo, 10), 409, 'CARD_NOT_SUB_OF_MASTER');
    expectError(await recall(master.cardNo, otherSub.cardNo, 10), 409, 'CARD_NOT_SUB_OF_MASTER');
    expectError(await allocate(personal.cardNo, sub.cardNo, 10), 409, 'CARD_NOT_MASTER');
    expectError(await allocate(sub.cardNo, sub.cardNo, 10), 409, 'CARD_NOT_MASTER');
    expectError(await allocate(master.cardNo, '9000010000000000000', 10), 404, 'CARD_NOT_FOUND');
    expectError(await server.api('POST', `/api/v1/cards/${master.cardNo}/allocations`, { role: 'finance', body: { subCardNo: sub.cardNo, amount: 10 } }), 403, 'FORBIDDEN');
    ok(await cardOp(server, master.cardNo, 'freeze'), 200);
    expectError(await allocate(master.cardNo, sub.cardNo, 10), 409, 'CARD_OPERATION_NOT_ALLOWED');
    expect((await getCard(server, master.cardNo)).balance).toBe(1000);
  });
});
