import { randomUUID } from 'node:crypto';
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
  sell,
  type TestTerminal,
} from '../../test/support/cards-factory.js';

describe('replacing a card (补卡)', () => {
  let server: TestServer;
  let terminal: TestTerminal;
  beforeAll(async () => {
    server = await startTestServer({ FUELCARD_LOSS_WAIT_HOURS: '0' });
    ({ terminal } = await newStation(server));
  });
  afterAll(async () => server?.close());
  afterEach(async () => expectLedgerVerified(server));

  it('gives a new number with the same accounts, balance, limits and PIN; the old number is dead', async () => {
    const c = await issueCard(server, { funds: 3000 });
    ok(await server.api('POST', `/api/v1/cards/${c.cardNo}/pin/change`, { body: { oldPin: '123456', newPin: '654321' } }), 204);
    const limits = { saleAmount: 1000, allowedGrades: ['92#', '95#'] };
    ok(await server.api('PUT', `/api/v1/cards/${c.cardNo}/limits`, { body: limits }), 200);
    await expectApproved(server, terminal, c.cardNo, 400, { pin: '654321' });
    ok(await cardOp(server, c.cardNo, 'report-loss', { reason: '钱包丢失' }), 200);

    const r = ok(await cardOp(server, c.cardNo, 'replace'), 200);
    const fresh = r.newCard;
    expect(fresh.cardNo).not.toBe(c.cardNo);
    expect(fresh.cardNo).toMatch(/^\d{19}$/);
    expect(r.card).toMatchObject({ cardNo: c.cardNo, status: 'replaced', replacedByCardNo: fresh.cardNo });
    expect(fresh).toMatchObject({ status: 'active', kind: 'personal', customerId: c.customerId, balance: 2600, replacesCardNo: c.cardNo, accounts: c.accounts.map((a: object) => ({ ...a, balance: 2600, available: 2600 })) });
    expect(fresh.limits).toEqual({ ...c.limits, ...limits });

    // The PIN carried over; the limits are in force on the new card.
    await expectDeclined(server, terminal, fresh.cardNo, 100, 'PIN_WRONG', { pin: '123456' });
    await expectApproved(server, terminal, fresh.cardNo, 1000, { pin: '654321' });
    await expectDeclined(server, terminal, fresh.cardNo, 1001, 'LIMIT_SALE_AMOUNT', { pin: '654321' });
    await expectDeclined(server, terminal, fresh.cardNo, 100, 'GRADE_NOT_ALLOWED', { pin: '654321', grade: '0#' });
    // The old card: every sale declined CARD_REPLACED, no recharge, no operation.
    await expectDeclined(server, terminal, c.cardNo, 100, 'CARD_REPLACED', { pin: '654321' });
    expectError(await server.api('POST', `/api/v1/cards/${c.cardNo}/recharges`, { body: { amount: 100, channel: 'cash' } }), 409, 'RECHARGE_NOT_ALLOWED');
    expectError(await server.api('PUT', `/api/v1/cards/${c.cardNo}/limits`, { body: {} }), 409, 'CARD_OPERATION_NOT_ALLOWED');
    expect((await getCard(server, fresh.cardNo)).balance).toBe(1600);
    // The statement of the new card carries the old card's history (same accounts, same holder).
    const st = ok(await server.api('GET', `/api/v1/cards/${fresh.cardNo}/statement`), 200);
    expect(st.items.map((l: { type: string; amount: number }) => [l.type, l.amount])).toEqual([
      ['sale', -1000],
      ['sale', -400],
      ['recharge', 3000],
    ]);
  });

  it('keeps counting the day, week and month totals and the fill interval of the old card', async () => {
    const c = await issueCard(server, { funds: 5000 });
    ok(await server.api('PUT', `/api/v1/cards/${c.cardNo}/limits`, { body: { dayFills: 2, dayAmount: 1500 } }), 200);
    await expectApproved(server, terminal, c.cardNo, 1000);
    const r = ok(await cardOp(server, c.cardNo, 'replace'), 200);
    // 1000 already spent today on the old card: 600 more would exceed 1500.
    await expectDeclined(server, terminal, r.newCard.cardNo, 600, 'LIMIT_DAY_AMOUNT');
    await expectApproved(server, terminal, r.newCard.cardNo, 400);
    await expectDeclined(server, terminal, r.newCard.cardNo, 1, 'LIMIT_DAY_FILLS');

    const d = await issueCard(server, { funds: 5000 });
    ok(await server.api('PUT', `/api/v1/cards/${d.cardNo}/limits`, { body: { minFillIntervalSeconds: 3600 } }), 200);
    await expectApproved(server, terminal, d.cardNo, 100);
    const rd = ok(await cardOp(server, d.cardNo, 'replace'), 200);
    await expectDeclined(server, terminal, rd.newCard.cardNo, 100, 'LIMIT_FILL_INTERVAL');
  });

  it('replaces a sub card under the same master, and re-points the sub cards when the master is replaced', async () => {
    const master = await issueCard(server, { kind: 'master', funds: 10_000 });
    const own = await issueCard(server, { kind: 'sub', masterCardNo: master.cardNo });
    const shared = await issueCard(server, { kind: 'sub', masterCardNo: master.cardNo, sharedBalance: true });
    ok(await server.api('POST', `/api/v1/cards/${master.cardNo}/allocations`, { body: { subCardNo: own.cardNo, amount: 1000 } }), 201);

    const rm = ok(await cardOp(server, master.cardNo, 'replace'), 200);
    const newMaster = rm.newCard.cardNo;
    expect(rm.newCard).toMatchObject({ kind: 'master', balance: 9000, accounts: master.accounts.map((a: object) => ({ ...a, balance: 9000, available: 9000 })) });
    for (const sub of [own, shared]) expect((await getCard(server, sub.cardNo)).masterCardNo).toBe(newMaster);
    const subs = ok(await server.api('GET', `/api/v1/cards/${newMaster}/sub-cards`), 200);
    expect(subs.items.map((s: { cardNo: string }) => s.cardNo).sort()).toEqual([own.cardNo, shared.cardNo].sort());

    // Allocation and recall work from the new master only.
    ok(await server.api('POST', `/api/v1/cards/${newMaster}/allocations`, { body: { subCardNo: own.cardNo, amount: 500 } }), 201);
    expectError(await server.api('POST', `/api/v1/cards/${master.cardNo}/allocations`, { body: { subCardNo: own.cardNo, amount: 500 } }), 409, 'CARD_NOT_SUB_OF_MASTER');
    // The shared sub card still spends the (same) reserve.
    const sale = await expectApproved(server, terminal, shared.cardNo, 2000);
    expect(sale.balance).toBe(6500);
    expect((await getCard(server, newMaster)).balance).toBe(6500);

    // A replaced sub card stays under its master with its own account.
    const rs = ok(await cardOp(server, own.cardNo, 'replace'), 200);
    expect(rs.newCard).toMatchObject({ kind: 'sub', masterCardNo: newMaster, balance: 1500 });
    ok(await server.api('POST', `/api/v1/cards/${newMaster}/recalls`, { body: { subCardNo: rs.newCard.cardNo } }), 201);
    expect((await getCard(server, newMaster)).balance).toBe(8000);
    expectError(await server.api('POST', `/api/v1/cards/${newMaster}/recalls`, { body: { subCardNo: own.cardNo, amount: 1 } }), 409, 'CARD_OPERATION_NOT_ALLOWED');
  });

  it('replaces once for one Idempotency-Key', async () => {
    const c = await issueCard(server, { funds: 100 });
    const key = randomUUID();
    const a = ok(await server.api('POST', `/api/v1/cards/${c.cardNo}/replace`, { idempotencyKey: key }), 200);
    const b = ok(await server.api('POST', `/api/v1/cards/${c.cardNo}/replace`, { idempotencyKey: key }), 200);
    expect(b.newCard.cardNo).toBe(a.newCard.cardNo);
    // Without the key, a second replace is refused: the card is already replaced.
    expectError(await cardOp(server, c.cardNo, 'replace'), 409, 'CARD_OPERATION_NOT_ALLOWED');
    const again = ok(await cardOp(server, a.newCard.cardNo, 'replace'), 200);
    expect(again.newCard.replacesCardNo).toBe(a.newCard.cardNo);
    expect(again.newCard.balance).toBe(100);
  });

  it('declines sales by the card state: pending, frozen, lost, replaced, closed; a master card cannot buy fuel', async () => {
    const frozen = await issueCard(server, { funds: 500 });
    ok(await cardOp(server, frozen.cardNo, 'freeze'), 200);
    const lost = await issueCard(server, { funds: 500 });
    ok(await cardOp(server, lost.cardNo, 'report-loss'), 200);
    const closed = await issueCard(server, { funds: 500 });
    ok(await cardOp(server, closed.cardNo, 'close'), 200);
    const master = await issueCard(server, { kind: 'master', funds: 500 });
    await expectDeclined(server, terminal, frozen.cardNo, 100, 'CARD_FROZEN');
    await expectDeclined(server, terminal, lost.cardNo, 100, 'CARD_LOST');
    await expectDeclined(server, terminal, closed.cardNo, 100, 'CARD_CLOSED');
    await expectDeclined(server, terminal, master.cardNo, 100, 'CARD_NOT_FOR_SALE');
    const unknown = await sell(server, terminal, '9000010000000000000', 100);
    expect(unknown.declineCode).toBe('CARD_UNKNOWN');
    for (const c of [frozen, lost, master]) expect((await getCard(server, c.cardNo)).balance).toBe(500);
    await recharge(server, frozen.cardNo, 1);
  });
});
